//! The alerts table: customers to act on now (overdue receivables, churn risk, a drop in
//! spend), most urgent first, with a sentence each. Reads the grading; changes no tier.

use std::fmt;

use anyhow::Result;
use polars::prelude::*;
use rayon::prelude::*;

use super::text::{fixed, gather, labels, money, pct, text_column};
use super::Inputs;
use crate::columns as c;
use crate::lang::Language;
use crate::stats::Floats;
use crate::tiers::params::GradingParams;

const KINDS: [&str; 3] = ["overdue_receivable", "churn_risk", "spend_drop"];
const SEVERITY: [&str; 2] = ["high", "medium"];

/// One alert: indices into `KINDS` and `SEVERITY`; the text comes later.
#[derive(Clone, Copy)]
struct Alert {
    customer: usize,
    kind: usize,
    severity: usize,
}

/// The customer-table columns alerts read beyond what grading reads.
struct AlertInputs {
    overdue_days: Option<Floats>,
    overdue_amount: Option<Floats>,
    last: Option<Floats>,
    prev: Option<Floats>,
}

impl AlertInputs {
    fn read(customers: &DataFrame) -> Result<AlertInputs> {
        Ok(AlertInputs {
            overdue_days: Floats::maybe(customers, c::OLDEST_OVERDUE_DAYS)?,
            overdue_amount: Floats::maybe(customers, c::OVERDUE_AMOUNT)?,
            last: Floats::maybe(customers, c::MONETARY_LAST_PERIOD)?,
            prev: Floats::maybe(customers, c::MONETARY_PREV_PERIOD)?,
        })
    }

    /// Customer `i`'s oldest overdue days and overdue amount.
    fn overdue(&self, i: usize) -> (f64, f64) {
        match (&self.overdue_days, &self.overdue_amount) {
            (Some(d), Some(a)) => (d.get(i).unwrap_or(0.0), a.get(i).unwrap_or(0.0)),
            _ => (0.0, 0.0),
        }
    }

    /// Customer `i`'s spend in the last period and in the one before.
    fn spend(&self, i: usize) -> (f64, f64) {
        match (&self.last, &self.prev) {
            (Some(l), Some(pv)) => (l.get(i).unwrap_or(0.0), pv.get(i).unwrap_or(0.0)),
            _ => (0.0, 0.0),
        }
    }
}

/// `alerts.parquet`: every alert on the customers of `inputs`, with their final `tier`,
/// `score` and `between` (mean days between purchases).
pub(super) fn alerts(
    customers: &DataFrame,
    p: &GradingParams,
    inputs: &Inputs,
    between: &Floats,
    tier: &[u16],
    score: &[f64],
) -> Result<DataFrame> {
    let extra = AlertInputs::read(customers)?;
    let (recency, monetary) = (&inputs.recency, &inputs.monetary);
    let rows = most_urgent_first(find_alerts(p, &extra, tier, recency, between), monetary);
    let detail = text_column(c::DETAIL, rows.len(), |r, out| {
        write_detail(rows[r], &extra, recency, between, p.language, out)
    });
    let who: Vec<usize> = rows.iter().map(|r| r.customer).collect();
    let kinds: Vec<usize> = rows.iter().map(|r| r.kind).collect();
    let severity: Vec<usize> = rows.iter().map(|r| r.severity).collect();
    let tiers: Vec<usize> = who.iter().map(|i| tier[*i] as usize).collect();
    Ok(DataFrame::new(
        rows.len(),
        vec![
            gather(inputs.ids.as_materialized_series(), who.iter().copied())?,
            labels(c::ALERT, &KINDS, kinds.iter().copied())?,
            labels(c::SEVERITY, &SEVERITY, severity.iter().copied())?,
            detail.into_column(),
            labels(c::TIER, &p.tier_names, tiers.iter().copied())?,
            Column::new(
                c::SCORE.into(),
                who.iter().map(|i| score[*i]).collect::<Vec<_>>(),
            ),
            Column::new(
                c::MONETARY.into(),
                who.iter().map(|i| monetary.get(*i)).collect::<Vec<_>>(),
            ),
        ],
    )?)
}

/// Every alert, customer by customer.
fn find_alerts(
    p: &GradingParams,
    extra: &AlertInputs,
    tier: &[u16],
    recency: &Floats,
    between: &Floats,
) -> Vec<Alert> {
    let mut rows: Vec<Alert> = Vec::new();
    let top_tier = |i: usize| if tier[i] == 0 { 0 } else { 1 };
    let alert = |customer, kind, severity| Alert {
        customer,
        kind,
        severity,
    };
    for i in 0..tier.len() {
        let (d, a) = extra.overdue(i);
        if extra.overdue_days.is_some() && a > 0.0 && d >= p.alerts.overdue_days {
            rows.push(alert(i, 0, usize::from(d < p.risk.overdue_days[1])));
        }
        if let (Some(b), Some(r)) = (between.get(i), recency.get(i)) {
            if b > 0.0 && r / b >= p.alerts.churn_ratio && r <= p.alerts.churn_max_recency_days {
                rows.push(alert(i, 1, top_tier(i)));
            }
        }
        let (l, pv) = extra.spend(i);
        if extra.last.is_some() && pv > 0.0 && 1.0 - l / pv >= p.alerts.spend_drop {
            rows.push(alert(i, 2, top_tier(i)));
        }
    }
    rows
}

/// The sentence of `alert`, in `lang`.
fn write_detail(
    alert: Alert,
    extra: &AlertInputs,
    recency: &Floats,
    between: &Floats,
    lang: Language,
    out: &mut String,
) -> fmt::Result {
    let i = alert.customer;
    match alert.kind {
        0 => {
            let (d, a) = extra.overdue(i);
            lang.overdue_alert(out, money(a), fixed(d, 0))
        }
        1 => {
            let (b, r) = (between.get(i).unwrap_or(0.0), recency.get(i).unwrap_or(0.0));
            lang.no_purchase(out, fixed(r, 0), fixed(r / b, 1), fixed(b, 0))
        }
        _ => {
            let (l, pv) = extra.spend(i);
            lang.spend_drop(out, pct(1.0 - l / pv), money(l), money(pv))
        }
    }
}

/// An alert with the customer's value, the order of urgency.
struct Urgency {
    severity: usize,
    value: f64,
    customer: usize,
    kind: usize,
}

/// Most urgent first: high severity, then the customers worth the most.
fn most_urgent_first(rows: Vec<Alert>, monetary: &Floats) -> Vec<Alert> {
    // The sort key carries the value, so sorting never looks rows up (cache misses).
    let mut keyed: Vec<Urgency> = rows
        .iter()
        .map(|r| Urgency {
            severity: r.severity,
            value: monetary.get(r.customer).unwrap_or(0.0),
            customer: r.customer,
            kind: r.kind,
        })
        .collect();
    keyed.par_sort_unstable_by(|a, b| {
        a.severity
            .cmp(&b.severity)
            .then(b.value.total_cmp(&a.value))
            .then(a.customer.cmp(&b.customer))
            .then(a.kind.cmp(&b.kind))
    });
    keyed
        .into_iter()
        .map(|u| Alert {
            customer: u.customer,
            kind: u.kind,
            severity: u.severity,
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::super::assign_rule_tiers;
    use super::super::fixtures::{params, tied_customers};
    use super::*;

    #[test]
    fn alerts_for_churn_and_spend_drop() {
        let g = assign_rule_tiers(&tied_customers(), &params("")).unwrap();
        let a = &g.alerts;
        let who = crate::testing::texts(a, c::CUSTOMER_ID);
        let what = crate::testing::texts(a, "alert");
        // c7: 8 days against a 2-day rhythm (4x >= 3x) and spend 70 -> 10 (-85.7 %).
        // c8 and c9: 9x and 10x their 1-day rhythm; c9 spend 60 -> 40 is only -33 %.
        // All medium (no customer is in the top tier): the most valuable first.
        assert_eq!(who, ["c9", "c8", "c7", "c7"]);
        assert_eq!(
            what,
            ["churn_risk", "churn_risk", "churn_risk", "spend_drop"]
        );
        let detail = a.column("detail").unwrap().str().unwrap().get(3).unwrap();
        assert_eq!(
            detail,
            "spend fell 85.7%: 10.00 in the last period vs 70.00 in the one before"
        );
    }

    #[test]
    fn churn_alerts_skip_customers_gone_longer_than_the_cap() {
        let g = assign_rule_tiers(
            &tied_customers(),
            &params("[alerts]\nchurn_max_recency_days = 8\n"),
        )
        .unwrap();
        let churn_alerts = g
            .alerts
            .clone()
            .lazy()
            .filter(col("alert").eq(lit("churn_risk")))
            .collect()
            .unwrap();
        let churn = crate::testing::texts(&churn_alerts, c::CUSTOMER_ID);
        // c8 and c9 (recency 9 and 10 days) are past the 8-day cap; c7 (8 days) is not.
        assert_eq!(churn, ["c7"]);
    }
}
