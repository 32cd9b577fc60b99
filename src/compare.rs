//! Rule tiers versus k-means clusters: contingency table, agreement, adjusted Rand index,
//! normalised mutual information, side-by-side profiles, the customers where the two disagree
//! most. Pure: frames in, frames out.

use anyhow::Result;
use polars::prelude::*;
use rayon::prelude::*;

use crate::columns as c;
use crate::stats::{mean_and_median, Floats};
use crate::tiers::clusters::ClusterOutput;
use crate::tiers::metrics::{adjusted_rand_index, contingency, normalized_mutual_info};
use crate::tiers::params::GradingParams;
use crate::tiers::rules::{cols as tc, Rows, TierRows};

/// How many disagreeing customers are listed.
pub const DISAGREEMENTS: usize = 100;

/// The comparison tables.
pub struct Comparison {
    /// comparison.parquet: metric, value, meaning.
    pub metrics: DataFrame,
    /// crosstab.parquet: tier x cluster, customers and revenue.
    pub crosstab: DataFrame,
    /// Customers per tier (rows, best first) and cluster (columns), for the heat map.
    pub counts: Vec<Vec<u64>>,
    /// disagreements.parquet
    pub disagreements: DataFrame,
    /// group_profiles.parquet: every tier and every cluster side by side.
    pub profiles: DataFrame,
    /// (metric, value) for the report.
    pub summary: Vec<(String, f64)>,
}

/// Tier index (0 = best) of every customer.
pub fn tier_indices(tiers: &TierRows) -> Vec<usize> {
    tiers.tiers().iter().map(|t| *t as usize).collect()
}

/// Compares the final rule tiers with the clusters (both in customer-table row order).
pub fn compare(
    customers: &DataFrame,
    tiers: &TierRows,
    g: &GradingParams,
    cl: &ClusterOutput,
) -> Result<Comparison> {
    let t = tier_indices(tiers);
    let k = cl.k;
    let nt = g.tier_names.len();
    let n = t.len();
    let ari = adjusted_rand_index(&t, &cl.labels);
    let nmi = normalized_mutual_info(&t, &cl.labels);
    let mut counts = contingency(&t, &cl.labels);
    counts.resize(nt, vec![0; k]);
    for row in &mut counts {
        row.resize(k, 0);
    }
    let monetary = Floats::of(customers, c::MONETARY)?;
    let mut revenue = vec![vec![0.0; k]; nt];
    for i in 0..n {
        revenue[t[i]][cl.labels[i]] += monetary.get(i).unwrap_or(0.0);
    }
    let agreement = (k == nt)
        .then(|| (0..n).filter(|i| t[*i] == cl.labels[*i]).count() as f64 / n.max(1) as f64);

    let mut summary = vec![
        ("customers".to_string(), n as f64),
        ("tiers".to_string(), nt as f64),
        ("clusters".to_string(), k as f64),
        ("adjusted_rand_index".to_string(), ari),
        ("normalized_mutual_info".to_string(), nmi),
    ];
    let mut meaning = vec![
        "customers compared",
        "rule tiers",
        "k-means clusters",
        "agreement of the two partitions beyond chance: 1 identical, about 0 random",
        "shared information of the two partitions, 0..1 (arithmetic normalisation)",
    ];
    if let Some(a) = agreement {
        summary.push(("agreement_rate".to_string(), a));
        meaning.push("share of customers whose cluster maps to their own tier (cluster i <-> tier i by value)");
    }
    let metrics = DataFrame::new(
        summary.len(),
        vec![
            Column::new(
                "metric".into(),
                summary.iter().map(|s| s.0.clone()).collect::<Vec<_>>(),
            ),
            Column::new(
                "value".into(),
                summary.iter().map(|s| s.1).collect::<Vec<_>>(),
            ),
            Column::new("meaning".into(), meaning),
        ],
    )?;

    let mut rows: Vec<(usize, usize)> = Vec::new();
    for a in 0..nt {
        for b in 0..k {
            rows.push((a, b));
        }
    }
    let tier_sizes: Vec<u64> = counts.iter().map(|r| r.iter().sum()).collect();
    let crosstab = DataFrame::new(
        rows.len(),
        vec![
            Column::new(
                tc::TIER.into(),
                rows.iter()
                    .map(|r| g.tier_names[r.0].clone())
                    .collect::<Vec<_>>(),
            ),
            Column::new(
                "cluster".into(),
                rows.iter().map(|r| r.1 as i32 + 1).collect::<Vec<_>>(),
            ),
            Column::new(
                "cluster_tier".into(),
                rows.iter()
                    .map(|r| cl.tier_of_cluster.as_ref().map(|x| x[r.1].clone()))
                    .collect::<Vec<_>>(),
            ),
            Column::new(
                "customers".into(),
                rows.iter()
                    .map(|r| counts[r.0][r.1] as i64)
                    .collect::<Vec<_>>(),
            ),
            Column::new(
                "share_of_tier".into(),
                rows.iter()
                    .map(|r| counts[r.0][r.1] as f64 / tier_sizes[r.0].max(1) as f64)
                    .collect::<Vec<_>>(),
            ),
            Column::new(
                "revenue".into(),
                rows.iter().map(|r| revenue[r.0][r.1]).collect::<Vec<_>>(),
            ),
        ],
    )?;

    let disagreements = disagreements(customers, tiers, &t, cl, nt)?;
    let profiles = group_profiles(customers, g, &t, cl)?;
    Ok(Comparison {
        metrics,
        crosstab,
        counts,
        disagreements,
        profiles,
        summary,
    })
}

/// Position of a group on 0 (best) .. 1 (worst), so tiers and clusters compare when their
/// counts differ.
fn position(i: usize, groups: usize) -> f64 {
    if groups > 1 {
        i as f64 / (groups - 1) as f64
    } else {
        0.0
    }
}

fn disagreements(
    customers: &DataFrame,
    tiers: &TierRows,
    t: &[usize],
    cl: &ClusterOutput,
    nt: usize,
) -> Result<DataFrame> {
    let n = t.len();
    let monetary = Floats::of(customers, c::MONETARY)?;
    let gap: Vec<f64> = (0..n)
        .map(|i| position(t[i], nt) - position(cl.labels[i], cl.k))
        .collect();
    let mut order: Vec<usize> = (0..n).filter(|i| gap[*i].abs() > 1e-9).collect();
    // Largest gap first; among equal gaps, the most revenue first (the costliest mistakes).
    let cmp = |a: &usize, b: &usize| {
        gap[*b]
            .abs()
            .total_cmp(&gap[*a].abs())
            .then(
                monetary
                    .get(*b)
                    .unwrap_or(0.0)
                    .total_cmp(&monetary.get(*a).unwrap_or(0.0)),
            )
            .then(a.cmp(b))
    };
    // Only the first few are kept: select them, then sort those.
    if order.len() > DISAGREEMENTS {
        order.select_nth_unstable_by(DISAGREEMENTS, cmp);
        order.truncate(DISAGREEMENTS);
    }
    order.sort_unstable_by(cmp);
    let idx = IdxCa::from_vec("idx".into(), order.iter().map(|i| *i as IdxSize).collect());
    let mut keep: Vec<&str> = vec![
        c::CUSTOMER_ID,
        c::RECENCY_DAYS,
        c::FREQUENCY,
        c::MONETARY,
        c::PROFIT,
        c::ON_TIME_RATE,
        c::OVERDUE_AMOUNT,
    ];
    keep.retain(|k| customers.schema().get(k).is_some());
    let mut out = customers.select(keep)?.take(&idx)?;
    // Only the selected rows' text is read: the whole columns would be a string per customer.
    let picked = tiers
        .frame(Rows::Picked(&order))?
        .select([tc::TIER, tc::SCORE, tc::REASON])?;
    out.with_column(picked.column(tc::TIER)?.clone())?;
    out.with_column(Column::new(
        "cluster".into(),
        order
            .iter()
            .map(|i| cl.labels[*i] as i32 + 1)
            .collect::<Vec<_>>(),
    ))?;
    out.with_column(Column::new(
        "cluster_tier".into(),
        order
            .iter()
            .map(|i| {
                cl.tier_of_cluster
                    .as_ref()
                    .map(|x| x[cl.labels[*i]].clone())
            })
            .collect::<Vec<_>>(),
    ))?;
    out.with_column(Column::new(
        "gap".into(),
        order.iter().map(|i| gap[*i]).collect::<Vec<_>>(),
    ))?;
    out.with_column(Column::new(
        "direction".into(),
        order
            .iter()
            .map(|i| {
                if gap[*i] > 0.0 {
                    "rules rank lower than the data"
                } else {
                    "rules rank higher than the data"
                }
            })
            .collect::<Vec<_>>(),
    ))?;
    out.with_column(picked.column(tc::SCORE)?.clone())?;
    out.with_column(picked.column(tc::REASON)?.clone())?;
    Ok(out)
}

fn group_profiles(
    customers: &DataFrame,
    g: &GradingParams,
    t: &[usize],
    cl: &ClusterOutput,
) -> Result<DataFrame> {
    let mut features = vec![c::RECENCY_DAYS, c::FREQUENCY, c::MONETARY];
    if customers.schema().get(c::PROFIT).is_some() {
        features.push(c::PROFIT);
    }
    let values: Vec<Floats> = features
        .iter()
        .map(|f| Floats::of(customers, f))
        .collect::<Result<_>>()?;
    let n = t.len().max(1) as f64;
    let mut kind = Vec::new();
    let mut name = Vec::new();
    let mut size = Vec::new();
    let mut means: Vec<Vec<Option<f64>>> = vec![Vec::new(); features.len()];
    let mut medians: Vec<Vec<Option<f64>>> = vec![Vec::new(); features.len()];
    let groups: Vec<(&str, String, Vec<usize>)> = (0..g.tier_names.len())
        .map(|i| {
            (
                "tier",
                g.tier_names[i].clone(),
                (0..t.len()).filter(|r| t[*r] == i).collect(),
            )
        })
        .chain((0..cl.k).map(|i| {
            (
                "cluster",
                cl.names[i].clone(),
                (0..t.len()).filter(|r| cl.labels[*r] == i).collect(),
            )
        }))
        .collect();
    // Every (group, feature) summary sorts its values for the median: done in parallel.
    let stats: Vec<Vec<(Option<f64>, Option<f64>)>> = groups
        .par_iter()
        .map(|(_, _, rows)| {
            values
                .par_iter()
                .map(|v| mean_and_median(rows.iter().filter_map(|r| v.get(*r))))
                .collect()
        })
        .collect();
    for ((k, nm, rows), stat) in groups.iter().zip(stats) {
        kind.push(*k);
        name.push(nm.clone());
        size.push(rows.len() as i64);
        for (j, (m, med)) in stat.into_iter().enumerate() {
            means[j].push(m);
            medians[j].push(med);
        }
    }
    let mut columns = vec![
        Column::new("group".into(), kind),
        Column::new("name".into(), name),
        Column::new("customers".into(), size.clone()),
        Column::new(
            "customer_share".into(),
            size.iter().map(|s| *s as f64 / n).collect::<Vec<_>>(),
        ),
    ];
    for (j, f) in features.iter().enumerate() {
        columns.push(Column::new(format!("mean_{f}").into(), means[j].clone()));
        columns.push(Column::new(
            format!("median_{f}").into(),
            medians[j].clone(),
        ));
    }
    Ok(DataFrame::new(groups.len(), columns)?)
}
