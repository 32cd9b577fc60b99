//! The holdout check of the purchase model: fitted on the purchases before a date, its
//! expected purchases in the holdout period against the purchases that happened, per number
//! of calibration repeat purchases (0, 1, ..., 7+), as the Python lifetimes users plot it.
//! Pure: two features tables in, a table and its figures out.

use std::collections::HashMap;

use anyhow::{bail, Result};
use chrono::NaiveDate;
use polars::prelude::*;

use super::bgnbd::{self, BgNbdParams};
use super::{assess, ModelFit, PotentialParams, PotentialReport};
use crate::columns as c;

/// Calibration repeat purchases are grouped 0, 1, ..., 6 and this many or more.
pub const TOP_GROUP: u32 = 7;

/// What the check found.
pub struct Validation {
    /// validation.parquet: one row per group.
    pub table: DataFrame,
    pub summary: ValidationSummary,
}

/// The check's figures, for its run.json.
#[derive(Debug, Clone, serde::Serialize)]
pub struct ValidationSummary {
    pub holdout_from: String,
    pub holdout_to: String,
    /// The holdout period's length in the time unit.
    pub holdout_length: f64,
    /// The fit on the calibration period.
    pub calibration: PotentialReport,
    pub customers: u64,
    /// Mean over the groups of |mean predicted - mean actual| purchases.
    pub mean_absolute_error: f64,
    /// Mean over customers of |predicted - actual| purchases.
    pub mean_absolute_error_per_customer: f64,
    pub predicted_total: f64,
    pub actual_total: f64,
}

/// Per group: customers, and sums of predicted and actual purchases.
#[derive(Default, Clone, Copy)]
struct Group {
    customers: u64,
    predicted: f64,
    actual: f64,
}

/// Compares the purchase model fitted on `calibration` (the features at `holdout_from`)
/// with the purchase days of `end` (the features at `holdout_to`, over the same start) in
/// between.
pub fn validate(
    calibration: &DataFrame,
    end: &DataFrame,
    holdout_from: NaiveDate,
    holdout_to: NaiveDate,
    p: &PotentialParams,
) -> Result<Validation> {
    let pot = assess(calibration, holdout_from, p)?;
    let Some(ModelFit { params, .. }) = pot.report.bgnbd.clone() else {
        bail!(
            "the purchase model could not be fitted on the purchases before {holdout_from}: {}",
            pot.report.notes.join("; ")
        );
    };
    let t = (holdout_to - holdout_from).num_days() as f64 / p.time_unit.days();
    let actual = holdout_purchases(calibration, end)?;
    let x = pot.table.column(c::POT_X)?.i64()?;
    let tx = pot.table.column(c::POT_T_X)?.f64()?;
    let tt = pot.table.column(c::POT_T)?.f64()?;
    let mut groups = vec![Group::default(); TOP_GROUP as usize + 1];
    let mut abs_sum = 0.0;
    for (i, actual) in actual.iter().enumerate() {
        let actual = *actual as f64;
        let xi = x.get(i).unwrap_or(0) as u32;
        let predicted = predicted(
            &params,
            t,
            xi,
            tx.get(i).unwrap_or(0.0),
            tt.get(i).unwrap_or(0.0),
        )?;
        let g = &mut groups[xi.min(TOP_GROUP) as usize];
        g.customers += 1;
        g.predicted += predicted;
        g.actual += actual;
        abs_sum += (predicted - actual).abs();
    }
    let n = pot.table.height() as f64;
    let table = table(&groups)?;
    let filled: Vec<&Group> = groups.iter().filter(|g| g.customers > 0).collect();
    let mae = filled
        .iter()
        .map(|g| ((g.predicted - g.actual) / g.customers as f64).abs())
        .sum::<f64>()
        / filled.len().max(1) as f64;
    Ok(Validation {
        table,
        summary: ValidationSummary {
            holdout_from: holdout_from.to_string(),
            holdout_to: holdout_to.to_string(),
            holdout_length: t,
            customers: n as u64,
            mean_absolute_error: mae,
            mean_absolute_error_per_customer: abs_sum / n.max(1.0),
            predicted_total: groups.iter().map(|g| g.predicted).sum(),
            actual_total: groups.iter().map(|g| g.actual).sum(),
            calibration: pot.report,
        },
    })
}

fn predicted(q: &BgNbdParams, t: f64, x: u32, t_x: f64, tt: f64) -> Result<f64> {
    bgnbd::expected_purchases(q, t, x, t_x, tt).map_err(|e| {
        anyhow::anyhow!("the expected purchases of a customer with x = {x}, t_x = {t_x}, T = {tt} could not be evaluated: {e}")
    })
}

/// Per customer of `calibration`, the purchase days in the holdout period: its purchase
/// days at the end less those before the holdout (the windows share their start).
fn holdout_purchases(calibration: &DataFrame, end: &DataFrame) -> Result<Vec<i64>> {
    let days = |df: &DataFrame| -> Result<Vec<i64>> {
        let s = df.column(c::PURCHASE_DAYS)?.cast(&DataType::Int64)?;
        Ok(s.i64()?.iter().map(|v| v.unwrap_or(0)).collect())
    };
    let end_ids = end.column(c::CUSTOMER_ID)?.str()?;
    let end_days = days(end)?;
    let at_end: HashMap<&str, i64> = end_ids
        .iter()
        .zip(&end_days)
        .filter_map(|(id, d)| id.map(|id| (id, *d)))
        .collect();
    let ids = calibration.column(c::CUSTOMER_ID)?.str()?;
    let before = days(calibration)?;
    ids.iter()
        .zip(before)
        .map(|(id, b)| {
            let later = id.and_then(|id| at_end.get(id)).copied().unwrap_or(b);
            Ok((later - b).max(0))
        })
        .collect()
}

fn table(groups: &[Group]) -> Result<DataFrame> {
    let label = |i: usize| {
        if i as u32 == TOP_GROUP {
            format!("{TOP_GROUP}+")
        } else {
            i.to_string()
        }
    };
    let mean = |sum: f64, n: u64| (n > 0).then(|| sum / n as f64);
    let rows: Vec<(String, &Group)> = groups
        .iter()
        .enumerate()
        .map(|(i, g)| (label(i), g))
        .collect();
    Ok(DataFrame::new_infer_height(vec![
        Column::new(
            c::CALIBRATION_REPEATS.into(),
            rows.iter().map(|r| r.0.clone()).collect::<Vec<_>>(),
        ),
        Column::new(
            c::CUSTOMERS.into(),
            rows.iter()
                .map(|r| r.1.customers as i64)
                .collect::<Vec<_>>(),
        ),
        Column::new(
            c::PREDICTED.into(),
            rows.iter()
                .map(|r| mean(r.1.predicted, r.1.customers))
                .collect::<Vec<_>>(),
        ),
        Column::new(
            c::ACTUAL.into(),
            rows.iter()
                .map(|r| mean(r.1.actual, r.1.customers))
                .collect::<Vec<_>>(),
        ),
    ])?)
}
