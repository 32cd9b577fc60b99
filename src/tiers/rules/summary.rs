//! Summaries of a grading: customers, value and means per tier and per segment. Counting
//! only, with the statistics of `crate::stats`; no tier or segment is decided here.

use anyhow::{Context, Result};
use polars::prelude::*;

use super::cols;
use crate::stats::{group_columns, Floats};
use crate::tiers::params::GradingParams;

/// A value summed per tier, and each tier's share of its total.
pub struct Total {
    pub sum: Vec<f64>,
    pub share: Vec<f64>,
}

/// Per tier (best first): customers, value and means after the risk overlay, and what the
/// overlay moved. Typed, so that callers never read `tier_summary.parquet` back by name.
pub struct TierSummary {
    pub names: Vec<String>,
    pub customers: Vec<u64>,
    pub customer_share: Vec<f64>,
    pub revenue: Total,
    /// Present when the customer table has a profit column.
    pub profit: Option<Total>,
    /// Means over the tier's customers with a value (`None` for none).
    pub mean_recency_days: Vec<Option<f64>>,
    pub mean_frequency: Vec<Option<f64>>,
    pub mean_monetary: Vec<Option<f64>>,
    pub mean_score: Vec<Option<f64>>,
    pub customers_before_risk: Vec<u64>,
    /// Customers the risk overlay moved down into the tier.
    pub downgraded_into: Vec<u64>,
}

impl TierSummary {
    /// `tier_summary.parquet`.
    pub fn frame(&self) -> Result<DataFrame> {
        let k = self.names.len();
        let counts = |v: &[u64]| v.iter().map(|n| *n as i64).collect::<Vec<_>>();
        let mut columns = vec![
            Column::new(cols::TIER.into(), self.names.clone()),
            Column::new(cols::TIER_RANK.into(), (1..=k as i32).collect::<Vec<_>>()),
            Column::new("customers".into(), counts(&self.customers)),
            Column::new("customer_share".into(), self.customer_share.clone()),
            Column::new("revenue".into(), self.revenue.sum.clone()),
            Column::new("revenue_share".into(), self.revenue.share.clone()),
        ];
        if let Some(profit) = &self.profit {
            columns.push(Column::new("profit".into(), profit.sum.clone()));
            columns.push(Column::new("profit_share".into(), profit.share.clone()));
        }
        columns.extend([
            Column::new("mean_recency_days".into(), self.mean_recency_days.clone()),
            Column::new("mean_frequency".into(), self.mean_frequency.clone()),
            Column::new("mean_monetary".into(), self.mean_monetary.clone()),
            Column::new("mean_score".into(), self.mean_score.clone()),
            Column::new(
                "customers_before_risk".into(),
                counts(&self.customers_before_risk),
            ),
            Column::new("downgraded_into".into(), counts(&self.downgraded_into)),
        ]);
        Ok(DataFrame::new(k, columns)?)
    }
}

/// The summary of the final tiers `tier`, with the base tiers `base` they came from.
pub(super) fn tier_summary(
    p: &GradingParams,
    tier: &[u16],
    base: &[u16],
    score: &[f64],
    features: [&Floats; 3],
    profit: Option<&Floats>,
) -> Result<TierSummary> {
    let k = p.tier_names.len();
    let [recency, frequency, monetary] = features;
    let score = Floats::new(score.iter().map(|s| Some(*s)));
    let mut totals = vec![("revenue", monetary)];
    if let Some(profit) = profit {
        totals.push(("profit", profit));
    }
    let group = Grouped(group_columns(
        tier,
        k,
        &totals,
        &[
            ("mean_recency_days", recency),
            ("mean_frequency", frequency),
            ("mean_monetary", monetary),
            ("mean_score", &score),
        ],
    ));
    let total = |name: &str| -> Result<Total> {
        Ok(Total {
            sum: group.floats(name)?,
            share: group.floats(&format!("{name}_share"))?,
        })
    };
    Ok(TierSummary {
        names: p.tier_names.clone(),
        customers: group.counts("customers")?,
        customer_share: group.floats("customer_share")?,
        revenue: total("revenue")?,
        profit: profit.map(|_| total("profit")).transpose()?,
        mean_recency_days: group.means("mean_recency_days")?,
        mean_frequency: group.means("mean_frequency")?,
        mean_monetary: group.means("mean_monetary")?,
        mean_score: group.means("mean_score")?,
        customers_before_risk: (0..k)
            .map(|t| base.iter().filter(|b| **b as usize == t).count() as u64)
            .collect(),
        downgraded_into: (0..k)
            .map(|t| {
                (0..tier.len())
                    .filter(|i| tier[*i] as usize == t && base[*i] as usize != t)
                    .count() as u64
            })
            .collect(),
    })
}

/// The columns of [`group_columns`], read back typed once, here, by the names it gives them.
struct Grouped(Vec<Column>);

impl Grouped {
    fn column(&self, name: &str) -> Result<&Column> {
        self.0
            .iter()
            .find(|c| c.name() == name)
            .with_context(|| format!("group summary has no column {name}"))
    }

    fn counts(&self, name: &str) -> Result<Vec<u64>> {
        Ok(self
            .column(name)?
            .i64()?
            .into_no_null_iter()
            .map(|n| n as u64)
            .collect())
    }

    fn floats(&self, name: &str) -> Result<Vec<f64>> {
        Ok(self.column(name)?.f64()?.into_no_null_iter().collect())
    }

    fn means(&self, name: &str) -> Result<Vec<Option<f64>>> {
        Ok(self.column(name)?.f64()?.iter().collect())
    }
}

/// `names`: the segment names; `segments`: each customer's index into them.
pub(super) fn segment_summary(
    names: &[String],
    group: &[u16],
    features: [&Floats; 3],
) -> Result<DataFrame> {
    let [recency, frequency, monetary] = features;
    let mut columns = vec![Column::new(cols::SEGMENT.into(), names.to_vec())];
    columns.extend(group_columns(
        group,
        names.len(),
        &[("revenue", monetary)],
        &[
            ("mean_recency_days", recency),
            ("mean_frequency", frequency),
            ("mean_monetary", monetary),
        ],
    ));
    Ok(DataFrame::new(names.len(), columns)?)
}

#[cfg(test)]
mod tests {
    use super::super::assign_rule_tiers;
    use super::super::fixtures::{params, tied_customers};

    /// The typed summary and its table say the same: ten customers in the default A/B/C
    /// tiers, shares of them and of revenue summing to one.
    #[test]
    fn tier_summary_table_is_its_typed_values() {
        let g = assign_rule_tiers(&tied_customers(), &params("")).unwrap();
        let s = &g.per_tier;
        assert_eq!(s.names, ["A", "B", "C"]);
        assert_eq!(s.customers.iter().sum::<u64>(), 10);
        assert!((s.revenue.share.iter().sum::<f64>() - 1.0).abs() < 1e-12);
        assert!(s.profit.is_none(), "no profit column");
        let t = &g.tier_summary;
        let f64s = |name: &str| -> Vec<f64> {
            t.column(name)
                .unwrap()
                .f64()
                .unwrap()
                .into_no_null_iter()
                .collect()
        };
        assert_eq!(f64s("customer_share"), s.customer_share);
        assert_eq!(f64s("revenue_share"), s.revenue.share);
        let customers: Vec<i64> = t
            .column("customers")
            .unwrap()
            .i64()
            .unwrap()
            .into_no_null_iter()
            .collect();
        assert_eq!(
            customers,
            s.customers.iter().map(|n| *n as i64).collect::<Vec<_>>()
        );
    }
}
