//! The risk overlay: each customer's risk level from overdue invoices, late payment and
//! inactivity, the text of its reasons, and the tier after the downgrade it brings. Risk only:
//! the base tier is decided before, alerts after.

use std::fmt;

use anyhow::Result;
use polars::prelude::*;
use rayon::prelude::*;

use std::sync::Arc;

use super::attributes::AttributeInputs;
use super::text::{fixed, money, pct};
use crate::columns as c;
use crate::stats::Floats;
use crate::tiers::params::GradingParams;

/// Risk levels, in increasing order.
pub const RISK_LEVELS: [&str; 3] = ["low", "medium", "high"];

/// A writer that drops its text: the risk level without the reasons.
struct Discard;

impl fmt::Write for Discard {
    fn write_str(&mut self, _: &str) -> fmt::Result {
        Ok(())
    }
}

/// The customer-table columns the risk overlay reads.
pub(super) struct RiskInputs {
    /// The attributes `[[risk.rules]]` test.
    attrs: Arc<AttributeInputs>,
    overdue_days: Option<Floats>,
    overdue_amount: Option<Floats>,
    on_time: Option<Floats>,
    invoices_due: Option<Floats>,
    pub between: Floats,
    recency: Floats,
}

impl RiskInputs {
    /// The columns of `customers`, with its recency read already.
    pub(super) fn read(
        customers: &DataFrame,
        recency: &Floats,
        attrs: Arc<AttributeInputs>,
    ) -> Result<RiskInputs> {
        Ok(RiskInputs {
            attrs,
            overdue_days: Floats::maybe(customers, c::OLDEST_OVERDUE_DAYS)?,
            overdue_amount: Floats::maybe(customers, c::OVERDUE_AMOUNT)?,
            on_time: Floats::maybe(customers, c::ON_TIME_RATE)?,
            invoices_due: Floats::maybe(customers, c::INVOICES_DUE)?,
            between: Floats::of(customers, c::MEAN_DAYS_BETWEEN)?,
            recency: recency.clone(),
        })
    }

    /// Every customer's risk level (0 = low); the text comes with the table's rows.
    pub(super) fn levels(&self, p: &GradingParams, n: usize) -> Vec<u8> {
        (0..n)
            .into_par_iter()
            .map(|i| self.write(p, i, &mut Discard).map(|l| l as u8))
            .collect::<Result<_, fmt::Error>>()
            .expect("discarded text cannot fail")
    }

    /// Writes customer `i`'s risk reasons to `out` and returns its risk level (0 = low).
    pub(super) fn write(
        &self,
        p: &GradingParams,
        i: usize,
        out: &mut impl fmt::Write,
    ) -> Result<usize, fmt::Error> {
        let lang = p.language;
        let mut level = 0;
        let mut sep = "";
        if let (Some(days), Some(amount)) = (&self.overdue_days, &self.overdue_amount) {
            let d = days.get(i).unwrap_or(0.0);
            let l = level_of(d, p.risk.overdue_days);
            if d > 0.0 && l > 0 {
                level = level.max(l);
                let a = money(amount.get(i).unwrap_or(0.0));
                out.write_str(sep)?;
                lang.days_overdue(out, fixed(d, 0), a)?;
                sep = lang.separator();
            }
        }
        if let (Some(rate), Some(due)) = (&self.on_time, &self.invoices_due) {
            let due = due.get(i).unwrap_or(0.0);
            if let (Some(rate), true) = (rate.get(i), due >= p.risk.min_invoices as f64) {
                let late = 1.0 - rate;
                let l = level_of(late, p.risk.late_rate);
                if late > 0.0 && l > 0 {
                    level = level.max(l);
                    out.write_str(sep)?;
                    lang.late_invoices(out, pct(late), fixed(due, 0))?;
                    sep = lang.separator();
                }
            }
        }
        if let (Some(b), Some(rec)) = (self.between.get(i), self.recency.get(i)) {
            if b > 0.0 {
                let ratio = rec / b;
                let l = level_of(ratio, p.risk.inactivity_ratio);
                if l > 0 {
                    level = level.max(l);
                    out.write_str(sep)?;
                    lang.no_purchase(out, fixed(rec, 0), fixed(ratio, 1), fixed(b, 0))?;
                    sep = "; ";
                }
            }
        }
        for rule in &p.risk.rules {
            if self.attrs.passes(&rule.attribute, &rule.test, i) {
                level = level.max(rule.level as usize);
                out.write_str(sep)?;
                self.attrs
                    .write_match(&rule.attribute, &rule.test, i, out)?;
                sep = "; ";
            }
        }
        let _ = sep;
        Ok(level)
    }
}

/// 0 below the medium threshold, 1 from medium, 2 from high.
fn level_of(x: f64, thresholds: [f64; 2]) -> usize {
    if x >= thresholds[1] {
        2
    } else if x >= thresholds[0] {
        1
    } else {
        0
    }
}

/// Each customer's tier after the risk overlay: its base tier, moved down as many tiers as
/// its risk level asks, never past the last.
pub(super) fn downgrade(base: &[u16], risk: &[u8], p: &GradingParams) -> Vec<u16> {
    let last = p.tier_names.len() - 1;
    (0..base.len())
        .map(|i| match risk[i] {
            0 => base[i],
            r => (base[i] as usize + p.risk.downgrade[r as usize - 1] as usize).min(last) as u16,
        })
        .collect()
}
