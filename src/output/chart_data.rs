//! The numbers behind the charts, gathered from the run's results. Counting only: the
//! drawing is in `charts`.

use anyhow::Result;

use super::charts::{ChartData, CustomerPoint, KPoint, Migration, SegmentShare};
use super::RunResults;
use crate::columns as c;
use crate::compare::tier_indices;
use crate::stats::Floats;

/// The numbers behind the charts.
pub fn chart_data(run: &RunResults, max_points: usize) -> Result<ChartData> {
    let customers = run.customers;
    let tiers = &run.grading.rows;
    let per_tier = &run.grading.per_tier;
    let g = &run.plan.pipeline.grading;
    let cl = run.clusters;
    let counts = run.comparison.map(|c| &c.counts);
    let t = tier_indices(tiers);
    let recency = Floats::of(customers, c::RECENCY_DAYS)?;
    let monetary = Floats::of(customers, c::MONETARY)?;
    let bins = g.bins as usize;
    let [r, f, _] = tiers.rfm_scores();
    let mut sum = vec![vec![0.0; bins]; bins];
    let mut cnt = vec![vec![0u64; bins]; bins];
    for i in 0..t.len() {
        let (a, b) = (r[i] as usize - 1, f[i] as usize - 1);
        sum[a][b] += monetary.get(i).unwrap_or(0.0);
        cnt[a][b] += 1;
    }
    let mean = (0..bins)
        .map(|a| {
            (0..bins)
                .map(|b| (cnt[a][b] > 0).then(|| sum[a][b] / cnt[a][b] as f64))
                .collect()
        })
        .collect();
    // An even stride keeps the sample deterministic and spread over the whole table.
    let stride = t.len().div_ceil(max_points.max(1)).max(1);
    let points = (0..t.len())
        .step_by(stride)
        .map(|i| CustomerPoint {
            recency_days: recency.get(i).unwrap_or(0.0),
            monetary: monetary.get(i).unwrap_or(0.0),
            tier: t[i],
            cluster: cl.map(|c| c.labels[i]),
        })
        .collect();
    let mut data = ChartData {
        tier_names: g.tier_names.clone(),
        tier_customer_share: per_tier.customer_share.clone(),
        tier_revenue_share: per_tier.revenue.share.clone(),
        tier_profit_share: per_tier.profit.as_ref().map(|p| p.share.clone()),
        revenue: monetary.iter().map(|v| v.unwrap_or(0.0)).collect(),
        bins,
        rfm_mean_monetary: mean,
        rfm_customers: cnt,
        points,
        cluster_names: cl.map(|c| c.names.clone()).unwrap_or_default(),
        k_selection: cl
            .map(|c| {
                c.scores
                    .iter()
                    .map(|s| KPoint {
                        k: s.k,
                        inertia: s.inertia,
                        silhouette: s.silhouette,
                        chosen: s.chosen,
                    })
                    .collect()
            })
            .unwrap_or_default(),
        crosstab: counts.cloned().unwrap_or_default(),
        migration: None,
        sizes_over_time: Vec::new(),
        segments: segment_shares(&run.grading.segment_summary)?,
    };
    if let Some(h) = run.history {
        data.sizes_over_time = h
            .sizes
            .iter()
            .map(|s| (s.as_of.to_string(), s.counts.clone()))
            .collect();
        data.migration = h.last_matrix.clone().map(|m| {
            let n = h.sizes.len();
            Migration {
                from: m.from,
                to: m.to,
                counts: m.counts,
                dates: format!("{} -> {}", h.sizes[n - 2].as_of, h.sizes[n - 1].as_of),
            }
        });
    }
    Ok(data)
}

/// The segments with customers, from segment_summary, in its order.
fn segment_shares(summary: &polars::prelude::DataFrame) -> Result<Vec<SegmentShare>> {
    let names = summary.column(c::SEGMENT)?.str()?;
    let customers = Floats::of(summary, c::CUSTOMERS)?;
    let share = Floats::of(summary, c::CUSTOMER_SHARE)?;
    let revenue = Floats::of(summary, c::REVENUE_SHARE)?;
    Ok((0..summary.height())
        .filter(|i| customers.get(*i).unwrap_or(0.0) > 0.0)
        .map(|i| SegmentShare {
            name: names.get(i).unwrap_or("").to_string(),
            customer_share: share.get(i).unwrap_or(0.0),
            revenue_share: revenue.get(i).unwrap_or(0.0),
        })
        .collect())
}
