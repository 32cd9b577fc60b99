//! The weighted 0..100 score: each component's percentile rank in points, weighted and
//! summed. Scoring only: cutting the score into tiers is `base`'s job.

use anyhow::Result;
use polars::prelude::*;
use rayon::prelude::*;

use crate::stats::{percentile_ranks, Floats};
use crate::tiers::params::GradingParams;

/// One score component's points per customer, and the tiers-table column that shows them.
pub(super) struct ComponentPoints {
    pub column: String,
    pub points: Vec<f64>,
}

/// Every customer's score, and the components it was added up from.
pub(super) struct WeightedScore {
    pub score: Vec<f64>,
    pub components: Vec<ComponentPoints>,
}

/// The score of every customer of `customers`, rounded to two decimals.
pub(super) fn weighted_score(customers: &DataFrame, p: &GradingParams) -> Result<WeightedScore> {
    let n = customers.height();
    let mut components = Vec::new();
    let mut score = vec![0.0; n];
    // Components are ranked in parallel, then added in their order (the same sums as one
    // by one).
    let points: Vec<Vec<f64>> = p
        .components
        .par_iter()
        .map(|comp| {
            let values = Floats::of(customers, &comp.column)?;
            let ranks = percentile_ranks(&values, comp.higher_is_better);
            Ok(ranks.iter().map(|x| x * 100.0).collect())
        })
        .collect::<Result<_>>()?;
    for (comp, pts) in p.components.iter().zip(points) {
        for i in 0..n {
            score[i] += comp.weight * pts[i];
        }
        components.push(ComponentPoints {
            column: format!("comp_{}", comp.name),
            points: pts,
        });
    }
    // Rounded before tiering so the reason text and the cut always agree.
    let score: Vec<f64> = score.iter().map(|s| (s * 100.0).round() / 100.0).collect();
    Ok(WeightedScore { score, components })
}
