//! Rule-based grading: RFM scores and segments, the weighted 0..100 score, tiers by score,
//! share or cumulative value, the risk overlay with its downgrade, alerts and policies, and a
//! plain-language reason per customer. Pure: a customer frame and params in, frames out.
//!
//! Scores are computed over plain vectors rather than polars expressions because every step
//! also produces text (thresholds used, reasons) that needs the same numbers.
//!
//! This module reads as the steps of [`assign_rule_tiers`]; each step is a module of its own.

mod alerts;
mod attributes;
mod base;
mod policy;
mod rfm;
mod risk;
mod rows;
mod score;
mod summary;
mod text;

use std::sync::Arc;

use anyhow::{bail, Result};
use polars::prelude::*;

use self::alerts::alerts;
use self::attributes::{apply_pins, attribute_summary, AttributeInputs};
use self::base::base_tiers;
use self::rfm::{rfm_codes, rfm_scores, segments, thresholds_table};
use self::risk::{downgrade, RiskInputs};
use self::rows::shared_columns;
use self::score::weighted_score;
use self::summary::{segment_summary, tier_summary};
use super::params::GradingParams;
use crate::columns as c;
use crate::stats::Floats;

pub use self::rfm::score_with_cuts;
pub use self::risk::RISK_LEVELS;
pub use self::rows::{Rows, TierRows};
pub use self::summary::{TierSummary, Total};

/// With `[[tiers.pin]]`: the tiers after the risk overlay, before the pins, and per customer
/// the pin that set its tier (`attributes::NO_PIN` for none).
pub(super) struct Pinned {
    pub after_risk: Vec<u16>,
    pub by: Vec<u16>,
}

/// What moved customers between the base tier and the final one.
pub(super) struct Moves<'a> {
    pub base: &'a [u16],
    pub after_risk: &'a [u16],
    pub pinned_by: Option<&'a [u16]>,
}

/// Everything the grading step produces.
pub struct Grading {
    /// One row per customer (docs/outputs.md: tiers.parquet), built as it is read.
    pub rows: Arc<TierRows>,
    /// Per tier, typed; `tier_summary` is its table.
    pub per_tier: TierSummary,
    pub tier_summary: DataFrame,
    pub segment_summary: DataFrame,
    pub thresholds: DataFrame,
    pub alerts: DataFrame,
    /// attribute_summary.parquet: tiers and segments by each categorical attribute (with
    /// `[attributes]`).
    pub attribute_summary: Option<DataFrame>,
    /// Rows of `alerts` (the run keeps only the first few once they are written).
    pub alert_count: usize,
    /// Things a person should know about this grading (collapsed bins, ...).
    pub notes: Vec<String>,
}

/// The customer-table columns that most steps read.
struct Inputs<'a> {
    ids: &'a Column,
    recency: Floats,
    frequency: Floats,
    monetary: Floats,
    profit: Option<Floats>,
    /// Lifetime value, when `[potential]` is on.
    clv: Option<Floats>,
}

impl<'a> Inputs<'a> {
    fn read(customers: &'a DataFrame) -> Result<Inputs<'a>> {
        Ok(Inputs {
            ids: customers.column(c::CUSTOMER_ID)?,
            recency: Floats::of(customers, c::RECENCY_DAYS)?,
            frequency: Floats::of(customers, c::FREQUENCY)?,
            monetary: Floats::of(customers, c::MONETARY)?,
            profit: Floats::maybe(customers, c::PROFIT)?,
            clv: Floats::maybe(customers, c::CLV)?,
        })
    }
}

/// Grades every customer of `customers` (the features table), with the summaries and alerts
/// a run's report shows.
pub fn assign_rule_tiers(customers: &DataFrame, p: &GradingParams) -> Result<Grading> {
    let (rows, Some(r)) = grade(customers, p, true)? else {
        bail!("grading gave no summaries");
    };
    Ok(Grading {
        rows: Arc::new(rows),
        tier_summary: r.per_tier.frame()?,
        per_tier: r.per_tier,
        segment_summary: r.segment_summary,
        thresholds: r.thresholds,
        alert_count: r.alerts.height(),
        alerts: r.alerts,
        attribute_summary: r.attribute_summary,
        notes: r.notes,
    })
}

/// Grades every customer of `customers` with the same rules as [`assign_rule_tiers`], the
/// per-customer rows only: what an earlier snapshot of a history run needs.
pub fn grade_rows(customers: &DataFrame, p: &GradingParams) -> Result<TierRows> {
    Ok(grade(customers, p, false)?.0)
}

/// What [`assign_rule_tiers`] shows beside the rows.
struct Report {
    per_tier: TierSummary,
    attribute_summary: Option<DataFrame>,
    segment_summary: DataFrame,
    thresholds: DataFrame,
    alerts: DataFrame,
    notes: Vec<String>,
}

/// The rows of every customer, and with `report`, the summaries and alerts.
fn grade(
    customers: &DataFrame,
    p: &GradingParams,
    report: bool,
) -> Result<(TierRows, Option<Report>)> {
    let n = customers.height();
    let inputs = Inputs::read(customers)?;
    let features = [&inputs.recency, &inputs.frequency, &inputs.monetary];

    let attrs = Arc::new(AttributeInputs::read(customers, p)?);
    let rfm = rfm_scores(features, p);
    let codes = rfm_codes(&rfm.scores, p.bins as usize);
    let segments = segments(&rfm.scores, p, &attrs);
    let weighted = weighted_score(customers, p)?;

    // Tiers and segments are kept per customer as u16 indices into their names.
    if p.tier_names.len() > usize::from(u16::MAX) || segments.names.len() > usize::from(u16::MAX) {
        bail!("at most {} tiers and segments", u16::MAX);
    }
    let base = base_tiers(
        inputs.ids,
        &weighted.score,
        &inputs.monetary,
        inputs.profit.as_ref(),
        inputs.clv.as_ref(),
        &p.tier_rule,
    )?;
    // The risk overlay: levels now, the text with the table's rows.
    let risk_inputs = RiskInputs::read(customers, &inputs.recency, attrs.clone())?;
    let risk = risk_inputs.levels(p, n);
    let after_risk = downgrade(&base.tier, &risk, p);
    // Pins last: they set or cap the tier whatever score and risk said.
    let (tier, pins) = if p.pins.is_empty() {
        (after_risk, None)
    } else {
        let (tier, by) = apply_pins(&after_risk, &p.pins, &attrs);
        (tier, Some(Pinned { after_risk, by }))
    };

    let report = if report {
        let after_risk = pins.as_ref().map_or(&tier, |p| &p.after_risk);
        let profit = inputs.profit.as_ref();
        let moves = Moves {
            base: &base.tier,
            after_risk,
            pinned_by: pins.as_ref().map(|p| &p.by[..]),
        };
        let between = &risk_inputs.between;
        Some(Report {
            per_tier: tier_summary(p, &tier, &moves, &weighted.score, features, profit)?,
            attribute_summary: attribute_summary(
                p,
                &attrs,
                &tier,
                (&segments.names, &segments.index),
                &inputs.monetary,
            )?,
            segment_summary: segment_summary(&segments.names, &segments.index, features)?,
            thresholds: thresholds_table(&rfm.thresholds)?,
            alerts: alerts(customers, p, &inputs, between, &tier, &weighted.score)?,
            notes: rfm.notes,
        })
    } else {
        None
    };

    let rows = TierRows {
        p: p.clone(),
        shared: shared_columns(customers, inputs.ids, p)?,
        scores: rfm.scores,
        codes,
        segments,
        comps: weighted.components,
        score: weighted.score,
        base: base.tier,
        tier,
        risk,
        base_reason: base.reason,
        risk_inputs,
        attrs,
        pins,
    };
    Ok((rows, report))
}

/// Fixtures shared by the tests of the steps.
#[cfg(test)]
mod fixtures {
    use super::*;

    pub(super) fn params(text: &str) -> GradingParams {
        let base = "[input]\npaths = \"x.csv\"\n[input.columns]\ncustomer_id = \"c\"\ndate = \"d\"\namount = \"a\"\n";
        crate::config::Pipeline::from_toml(&format!("{base}{text}"), std::path::Path::new("p.toml"))
            .unwrap()
            .grading
    }

    /// Ten customers, seven of whom bought once: frequency quantiles collapse.
    pub(super) fn tied_customers() -> DataFrame {
        df!(
            c::CUSTOMER_ID => ["c0", "c1", "c2", "c3", "c4", "c5", "c6", "c7", "c8", "c9"],
            c::RECENCY_DAYS => [1i64, 2, 3, 4, 5, 6, 7, 8, 9, 10],
            c::FREQUENCY => [1i64, 1, 1, 1, 1, 1, 1, 2, 3, 9],
            c::MONETARY => [10.0, 20.0, 30.0, 40.0, 50.0, 60.0, 70.0, 80.0, 90.0, 100.0],
            c::MEAN_DAYS_BETWEEN => [None, None, None, None, None, None, None, Some(2.0), Some(1.0), Some(1.0)],
            c::MONETARY_LAST_PERIOD => [0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 10.0, 90.0, 40.0],
            c::MONETARY_PREV_PERIOD => [0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 70.0, 0.0, 60.0]
        )
        .unwrap()
    }
}

#[cfg(test)]
mod tests {
    use super::fixtures::{params, tied_customers};
    use super::*;

    /// A history snapshot's rows (no summaries, no alerts) are those of a full grading, and
    /// its frame is tiers.parquet's without the reason (and policy) columns.
    #[test]
    fn rows_alone_grade_as_a_full_grading() {
        let p = params("");
        let full = assign_rule_tiers(&tied_customers(), &p).unwrap();
        let rows = grade_rows(&tied_customers(), &p).unwrap();
        assert_eq!(rows.tiers(), full.rows.tiers());
        assert!(full.rows.tiers().iter().any(|t| *t != full.rows.tiers()[0]));
        let graded = rows.graded_frame().unwrap();
        assert!(graded.equals_missing(&full.rows.graded_frame().unwrap()));
        let whole = full.rows.frame(Rows::All).unwrap();
        let kept: Vec<_> = whole
            .get_column_names()
            .into_iter()
            .filter(|n| graded.column(n).is_ok())
            .cloned()
            .collect();
        assert_eq!(
            whole.width() - kept.len(),
            1,
            "the reason (no policies here)"
        );
        assert!(graded.column(c::REASON).is_err());
        assert!(graded.equals_missing(&whole.select(kept).unwrap()));
    }
}
