//! Summaries of a grading: customers, value and means per tier and per segment. Counting
//! only, with the statistics of `crate::stats`; no tier or segment is decided here.

use crate::columns as c;
use anyhow::{Context, Result};
use polars::prelude::*;

use super::attributes::NO_PIN;
use super::Moves;
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
    /// With `[[tiers.pin]]`: customers whose tier a pin set or capped.
    pub pinned: Option<Vec<u64>>,
}

impl TierSummary {
    /// `tier_summary.parquet`.
    pub fn frame(&self) -> Result<DataFrame> {
        let k = self.names.len();
        let counts = |v: &[u64]| v.iter().map(|n| *n as i64).collect::<Vec<_>>();
        let mut columns = vec![
            Column::new(c::TIER.into(), self.names.clone()),
            Column::new(c::TIER_RANK.into(), (1..=k as i32).collect::<Vec<_>>()),
            Column::new(c::CUSTOMERS.into(), counts(&self.customers)),
            Column::new(c::CUSTOMER_SHARE.into(), self.customer_share.clone()),
            Column::new(c::REVENUE.into(), self.revenue.sum.clone()),
            Column::new(c::REVENUE_SHARE.into(), self.revenue.share.clone()),
        ];
        if let Some(profit) = &self.profit {
            columns.push(Column::new(c::PROFIT.into(), profit.sum.clone()));
            columns.push(Column::new(c::PROFIT_SHARE.into(), profit.share.clone()));
        }
        columns.extend([
            Column::new(c::MEAN_RECENCY_DAYS.into(), self.mean_recency_days.clone()),
            Column::new(c::MEAN_FREQUENCY.into(), self.mean_frequency.clone()),
            Column::new(c::MEAN_MONETARY.into(), self.mean_monetary.clone()),
            Column::new(c::MEAN_SCORE.into(), self.mean_score.clone()),
            Column::new(
                c::CUSTOMERS_BEFORE_RISK.into(),
                counts(&self.customers_before_risk),
            ),
            Column::new(c::DOWNGRADED_INTO.into(), counts(&self.downgraded_into)),
        ]);
        if let Some(pinned) = &self.pinned {
            columns.push(Column::new(c::PINNED.into(), counts(pinned)));
        }
        Ok(DataFrame::new(k, columns)?)
    }
}

/// The summary of the final tiers `tier`, with the base tiers `base` they came from.
pub(super) fn tier_summary(
    p: &GradingParams,
    tier: &[u16],
    moves: &Moves,
    score: &[f64],
    features: [&Floats; 3],
    profit: Option<&Floats>,
) -> Result<TierSummary> {
    let k = p.tier_names.len();
    let (base, after_risk) = (moves.base, moves.after_risk);
    let [recency, frequency, monetary] = features;
    let score = Floats::new(score.iter().map(|s| Some(*s)));
    let mut totals = vec![(c::REVENUE, monetary)];
    if let Some(profit) = profit {
        totals.push((c::PROFIT, profit));
    }
    let group = Grouped(group_columns(
        tier,
        k,
        &totals,
        &[
            (c::MEAN_RECENCY_DAYS, recency),
            (c::MEAN_FREQUENCY, frequency),
            (c::MEAN_MONETARY, monetary),
            (c::MEAN_SCORE, &score),
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
        customers: group.counts(c::CUSTOMERS)?,
        customer_share: group.floats(c::CUSTOMER_SHARE)?,
        revenue: total(c::REVENUE)?,
        profit: profit.map(|_| total(c::PROFIT)).transpose()?,
        mean_recency_days: group.means(c::MEAN_RECENCY_DAYS)?,
        mean_frequency: group.means(c::MEAN_FREQUENCY)?,
        mean_monetary: group.means(c::MEAN_MONETARY)?,
        mean_score: group.means(c::MEAN_SCORE)?,
        customers_before_risk: (0..k)
            .map(|t| base.iter().filter(|b| **b as usize == t).count() as u64)
            .collect(),
        downgraded_into: (0..k)
            .map(|t| {
                (0..after_risk.len())
                    .filter(|i| after_risk[*i] as usize == t && base[*i] as usize != t)
                    .count() as u64
            })
            .collect(),
        pinned: moves.pinned_by.map(|by| {
            let mut n = vec![0u64; k];
            for (t, b) in tier.iter().zip(by) {
                if *b != NO_PIN {
                    n[*t as usize] += 1;
                }
            }
            n
        }),
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
    let mut columns = vec![Column::new(c::SEGMENT.into(), names.to_vec())];
    columns.extend(group_columns(
        group,
        names.len(),
        &[(c::REVENUE, monetary)],
        &[
            (c::MEAN_RECENCY_DAYS, recency),
            (c::MEAN_FREQUENCY, frequency),
            (c::MEAN_MONETARY, monetary),
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
