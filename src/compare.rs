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
use crate::tiers::rules::{Rows, TierRows};

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
    /// The rows of comparison.parquet, for the report and run.json.
    pub summary: Vec<Metric>,
}

/// One figure of the comparison: a row of comparison.parquet.
#[derive(Debug, Clone)]
pub struct Metric {
    pub name: &'static str,
    pub value: f64,
    /// What the figure says, for a reader of comparison.parquet.
    pub meaning: &'static str,
}

/// run.json has always listed the comparison as `[name, value]` pairs (readers index them);
/// the meanings are in comparison.parquet.
impl serde::Serialize for Metric {
    fn serialize<S: serde::Serializer>(&self, s: S) -> std::result::Result<S::Ok, S::Error> {
        (self.name, self.value).serialize(s)
    }
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
    let nt = g.tier_names.len();
    let mut counts = contingency(&t, &cl.labels);
    counts.resize(nt, vec![0; cl.k]);
    for row in &mut counts {
        row.resize(cl.k, 0);
    }
    let summary = agreement(&t, cl, nt);
    Ok(Comparison {
        metrics: metrics_frame(&summary)?,
        crosstab: crosstab(customers, g, &t, cl, &counts)?,
        counts,
        disagreements: disagreements(customers, tiers, &t, cl, nt)?,
        profiles: group_profiles(customers, g, &t, cl)?,
        summary,
    })
}

/// How far the two partitions agree: their sizes, the adjusted Rand index, the mutual
/// information and, with as many clusters as tiers, the share of customers in their own tier.
fn agreement(t: &[usize], cl: &ClusterOutput, nt: usize) -> Vec<Metric> {
    let (n, k) = (t.len(), cl.k);
    let metric = |name, value, meaning| Metric {
        name,
        value,
        meaning,
    };
    let mut summary = vec![
        metric("customers", n as f64, "customers compared"),
        metric("tiers", nt as f64, "rule tiers"),
        metric("clusters", k as f64, "k-means clusters"),
        metric(
            "adjusted_rand_index",
            adjusted_rand_index(t, &cl.labels),
            "agreement of the two partitions beyond chance: 1 identical, about 0 random",
        ),
        metric(
            "normalized_mutual_info",
            normalized_mutual_info(t, &cl.labels),
            "shared information of the two partitions, 0..1 (arithmetic normalisation)",
        ),
    ];
    if k == nt {
        let same = (0..n).filter(|i| t[*i] == cl.labels[*i]).count();
        summary.push(metric(
            "agreement_rate",
            same as f64 / n.max(1) as f64,
            "share of customers whose cluster maps to their own tier (cluster i <-> tier i by value)",
        ));
    }
    summary
}

/// comparison.parquet.
fn metrics_frame(summary: &[Metric]) -> Result<DataFrame> {
    Ok(DataFrame::new(
        summary.len(),
        vec![
            Column::new(
                c::METRIC.into(),
                summary.iter().map(|m| m.name).collect::<Vec<_>>(),
            ),
            Column::new(
                c::VALUE.into(),
                summary.iter().map(|m| m.value).collect::<Vec<_>>(),
            ),
            Column::new(
                c::MEANING.into(),
                summary.iter().map(|m| m.meaning).collect::<Vec<_>>(),
            ),
        ],
    )?)
}

/// crosstab.parquet: every (tier, cluster) with its customers, their share of the tier and
/// their revenue.
fn crosstab(
    customers: &DataFrame,
    g: &GradingParams,
    t: &[usize],
    cl: &ClusterOutput,
    counts: &[Vec<u64>],
) -> Result<DataFrame> {
    let (nt, k) = (g.tier_names.len(), cl.k);
    let monetary = Floats::of(customers, c::MONETARY)?;
    let mut revenue = vec![vec![0.0; k]; nt];
    for (i, (tier, cluster)) in t.iter().zip(&cl.labels).enumerate() {
        revenue[*tier][*cluster] += monetary.get(i).unwrap_or(0.0);
    }
    // (tier, cluster), tier by tier.
    let cells: Vec<(usize, usize)> = (0..nt)
        .flat_map(|tier| (0..k).map(move |cluster| (tier, cluster)))
        .collect();
    let tier_sizes: Vec<u64> = counts.iter().map(|r| r.iter().sum()).collect();
    Ok(DataFrame::new(
        cells.len(),
        vec![
            Column::new(
                c::TIER.into(),
                cells
                    .iter()
                    .map(|&(tier, _)| g.tier_names[tier].clone())
                    .collect::<Vec<_>>(),
            ),
            Column::new(
                c::CLUSTER.into(),
                cells
                    .iter()
                    .map(|&(_, cluster)| cluster as i32 + 1)
                    .collect::<Vec<_>>(),
            ),
            Column::new(
                c::CLUSTER_TIER.into(),
                cells
                    .iter()
                    .map(|&(_, cluster)| cl.tier_of_cluster.as_ref().map(|x| x[cluster].clone()))
                    .collect::<Vec<_>>(),
            ),
            Column::new(
                c::CUSTOMERS.into(),
                cells
                    .iter()
                    .map(|&(tier, cluster)| counts[tier][cluster] as i64)
                    .collect::<Vec<_>>(),
            ),
            Column::new(
                c::SHARE_OF_TIER.into(),
                cells
                    .iter()
                    .map(|&(tier, cluster)| {
                        counts[tier][cluster] as f64 / tier_sizes[tier].max(1) as f64
                    })
                    .collect::<Vec<_>>(),
            ),
            Column::new(
                c::REVENUE.into(),
                cells
                    .iter()
                    .map(|&(tier, cluster)| revenue[tier][cluster])
                    .collect::<Vec<_>>(),
            ),
        ],
    )?)
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

/// disagreements.parquet: the customers whose tier and cluster lie furthest apart, with
/// their figures, both groups and the tier's reason.
fn disagreements(
    customers: &DataFrame,
    tiers: &TierRows,
    t: &[usize],
    cl: &ClusterOutput,
    nt: usize,
) -> Result<DataFrame> {
    let monetary = Floats::of(customers, c::MONETARY)?;
    let gap: Vec<f64> = (0..t.len())
        .map(|i| position(t[i], nt) - position(cl.labels[i], cl.k))
        .collect();
    let order = most_apart(&gap, &monetary);
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
        .select([c::TIER, c::SCORE, c::REASON])?;
    out.with_column(picked.column(c::TIER)?.clone())?;
    out.with_column(Column::new(
        c::CLUSTER.into(),
        order
            .iter()
            .map(|i| cl.labels[*i] as i32 + 1)
            .collect::<Vec<_>>(),
    ))?;
    out.with_column(Column::new(
        c::CLUSTER_TIER.into(),
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
        c::GAP.into(),
        order.iter().map(|i| gap[*i]).collect::<Vec<_>>(),
    ))?;
    out.with_column(Column::new(
        c::DIRECTION.into(),
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
    out.with_column(picked.column(c::SCORE)?.clone())?;
    out.with_column(picked.column(c::REASON)?.clone())?;
    Ok(out)
}

/// The rows of the [`DISAGREEMENTS`] customers with a gap: the largest gap first; among equal
/// gaps, the most revenue first (the costliest mistakes).
fn most_apart(gap: &[f64], monetary: &Floats) -> Vec<usize> {
    let mut order: Vec<usize> = (0..gap.len()).filter(|i| gap[*i].abs() > 1e-9).collect();
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
    order
}

/// A tier or a cluster, and the rows of its customers.
struct Group {
    /// "tier" or "cluster".
    kind: &'static str,
    name: String,
    rows: Vec<usize>,
}

/// group_profiles.parquet: every tier, then every cluster, with its customers and the mean
/// and median of each feature.
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
    let members =
        |of: &[usize], i: usize| -> Vec<usize> { (0..t.len()).filter(|r| of[*r] == i).collect() };
    let groups: Vec<Group> = (0..g.tier_names.len())
        .map(|i| Group {
            kind: "tier",
            name: g.tier_names[i].clone(),
            rows: members(t, i),
        })
        .chain((0..cl.k).map(|i| Group {
            kind: "cluster",
            name: cl.names[i].clone(),
            rows: members(&cl.labels, i),
        }))
        .collect();
    // Every (group, feature) summary sorts its values for the median: done in parallel.
    // `stats::group_columns` would add each mean's values in row order, these add them
    // sorted: the figures would move in the last bits.
    let stats: Vec<Vec<(Option<f64>, Option<f64>)>> = groups
        .par_iter()
        .map(|group| {
            values
                .par_iter()
                .map(|v| mean_and_median(group.rows.iter().filter_map(|r| v.get(*r))))
                .collect()
        })
        .collect();
    let mut means: Vec<Vec<Option<f64>>> = vec![Vec::new(); features.len()];
    let mut medians: Vec<Vec<Option<f64>>> = vec![Vec::new(); features.len()];
    for stat in stats {
        for (j, (mean, median)) in stat.into_iter().enumerate() {
            means[j].push(mean);
            medians[j].push(median);
        }
    }
    let size: Vec<i64> = groups.iter().map(|g| g.rows.len() as i64).collect();
    let share: Vec<f64> = size.iter().map(|s| *s as f64 / n).collect();
    let mut columns = vec![
        Column::new(
            c::GROUP.into(),
            groups.iter().map(|g| g.kind).collect::<Vec<_>>(),
        ),
        Column::new(
            c::NAME.into(),
            groups.iter().map(|g| g.name.as_str()).collect::<Vec<_>>(),
        ),
        Column::new(c::CUSTOMERS.into(), size),
        Column::new(c::CUSTOMER_SHARE.into(), share),
    ];
    for ((f, mean), median) in features.iter().zip(means).zip(medians) {
        columns.push(Column::new(format!("mean_{f}").into(), mean));
        columns.push(Column::new(format!("median_{f}").into(), median));
    }
    Ok(DataFrame::new(groups.len(), columns)?)
}
