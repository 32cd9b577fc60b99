//! The steps of grading that read customer-master attributes: tests of risk rules, pins and
//! segment conditions on each customer, the pins applied after the risk overlay, and the
//! breakdown of tiers and segments by each categorical attribute.

use std::collections::{BTreeMap, HashMap};
use std::fmt;

use anyhow::Result;
use polars::prelude::*;

use super::text::fixed;
use crate::columns as c;
use crate::lang::Language;
use crate::stats::Floats;
use crate::tiers::attribute_rules::{AttributeTest, Pin, PinAction};
use crate::tiers::params::GradingParams;

/// One attribute's values per customer.
enum Values {
    Number(Floats),
    Text(StringChunked),
}

/// The attribute columns of the customer table that the rules name.
#[derive(Default)]
pub(super) struct AttributeInputs {
    columns: HashMap<String, Values>,
}

/// `tier_by_pin` of a customer no pin matched.
pub(super) const NO_PIN: u16 = u16::MAX;

impl AttributeInputs {
    /// Every attribute column `p` declares (absent columns are left out: a table graded
    /// without the master).
    pub(super) fn read(customers: &DataFrame, p: &GradingParams) -> Result<AttributeInputs> {
        let mut columns = HashMap::new();
        for (name, _) in &p.attributes.numeric {
            if let Some(v) = Floats::maybe(customers, name)? {
                columns.insert(name.clone(), Values::Number(v));
            }
        }
        for name in &p.attributes.categorical {
            if let Ok(col) = customers.column(name) {
                let text = col.cast(&DataType::String)?.str()?.clone();
                columns.insert(name.clone(), Values::Text(text));
            }
        }
        Ok(AttributeInputs { columns })
    }

    /// Whether customer `i`'s `attribute` passes `test`; a missing value passes none.
    pub(super) fn passes(&self, attribute: &str, test: &AttributeTest, i: usize) -> bool {
        match (self.columns.get(attribute), test) {
            (Some(Values::Text(_)), AttributeTest::In(list)) => self.is_one_of(attribute, list, i),
            (Some(Values::Number(n)), AttributeTest::Above(b)) => n.get(i).is_some_and(|v| v > *b),
            (Some(Values::Number(n)), AttributeTest::Below(b)) => n.get(i).is_some_and(|v| v < *b),
            _ => false,
        }
    }

    /// Whether customer `i`'s categorical `attribute` is one of `values`.
    pub(super) fn is_one_of(&self, attribute: &str, values: &[String], i: usize) -> bool {
        match self.columns.get(attribute) {
            Some(Values::Text(t)) => t.get(i).is_some_and(|v| values.iter().any(|x| x == v)),
            _ => false,
        }
    }

    /// Customer `i`'s value of `attribute` as a reason shows it.
    fn value(&self, attribute: &str, i: usize) -> String {
        match self.columns.get(attribute) {
            Some(Values::Text(t)) => t.get(i).unwrap_or("").to_string(),
            Some(Values::Number(n)) => n
                .get(i)
                .map(|v| short_number(v).to_string())
                .unwrap_or_default(),
            None => String::new(),
        }
    }

    /// What a matched test reads as: `credit_rating = D`, `debt_ratio 0.85 > 0.8`.
    pub(super) fn write_match(
        &self,
        attribute: &str,
        test: &AttributeTest,
        i: usize,
        out: &mut impl fmt::Write,
    ) -> fmt::Result {
        let v = self.value(attribute, i);
        match test {
            AttributeTest::In(_) => write!(out, "{attribute} = {v}"),
            AttributeTest::Above(b) => write!(out, "{attribute} {v} > {}", short_number(*b)),
            AttributeTest::Below(b) => write!(out, "{attribute} {v} < {}", short_number(*b)),
        }
    }

    /// Every categorical attribute's values, for the breakdown: (name, text per customer).
    fn categorical<'a>(&'a self, p: &'a GradingParams) -> Vec<(&'a str, &'a StringChunked)> {
        p.attributes
            .categorical
            .iter()
            .filter_map(|n| match self.columns.get(n) {
                Some(Values::Text(t)) => Some((n.as_str(), t)),
                _ => None,
            })
            .collect()
    }
}

/// A number as short as it reads: 0.85, 12, 1.5e6 stays as Rust prints it beyond that.
fn short_number(x: f64) -> impl fmt::Display {
    if x.fract() == 0.0 && x.abs() < 1e15 {
        fixed(x, 0).to_string()
    } else {
        let s = format!("{x:.4}");
        s.trim_end_matches('0').trim_end_matches('.').to_string()
    }
}

/// The tiers after the pins, applied in order to the tiers after the risk overlay, and per
/// customer the last pin that changed or set its tier ([`NO_PIN`] for none).
pub(super) fn apply_pins(
    tier: &[u16],
    pins: &[Pin],
    attrs: &AttributeInputs,
) -> (Vec<u16>, Vec<u16>) {
    let mut out = tier.to_vec();
    let mut by = vec![NO_PIN; tier.len()];
    for (k, pin) in pins.iter().enumerate() {
        for i in 0..out.len() {
            if !attrs.passes(&pin.attribute, &pin.test, i) {
                continue;
            }
            match pin.action {
                PinAction::Set(t) => {
                    out[i] = t;
                    by[i] = k as u16;
                }
                PinAction::AtMost(t) if out[i] < t => {
                    out[i] = t;
                    by[i] = k as u16;
                }
                PinAction::AtMost(_) => {}
            }
        }
    }
    (out, by)
}

/// `pinned: key_account = Y -> A`, `pinned: credit_rating = D, at most C -> C`.
pub(super) fn write_pin(
    pin: &Pin,
    attrs: &AttributeInputs,
    i: usize,
    names: &[String],
    lang: Language,
    out: &mut impl fmt::Write,
) -> fmt::Result {
    lang.pinned(out)?;
    attrs.write_match(&pin.attribute, &pin.test, i, out)?;
    let tier = &names[pin_tier(pin.action) as usize];
    if let PinAction::AtMost(_) = pin.action {
        lang.at_most(out, tier)?;
    }
    lang.arrow(out, tier)
}

/// The tier a pin names.
fn pin_tier(action: PinAction) -> u16 {
    match action {
        PinAction::Set(t) | PinAction::AtMost(t) => t,
    }
}

/// `attribute_summary.parquet`: per categorical attribute and value (missing values as
/// `(none)`), the customers and revenue of each tier and of each segment, and their shares
/// of the value's customers and revenue. `None` without categorical attributes.
pub(super) fn attribute_summary(
    p: &GradingParams,
    attrs: &AttributeInputs,
    tier: &[u16],
    segments: (&[String], &[u16]),
    monetary: &Floats,
) -> Result<Option<DataFrame>> {
    let columns = attrs.categorical(p);
    if columns.is_empty() {
        return Ok(None);
    }
    let mut rows = SummaryRows::default();
    for (attribute, values) in columns {
        for (group, names, index) in [
            ("tier", &p.tier_names[..], tier),
            ("segment", segments.0, segments.1),
        ] {
            // (value, group index) -> (customers, revenue); and per value the totals.
            let mut cells: BTreeMap<(String, u16), (u64, f64)> = BTreeMap::new();
            let mut totals: HashMap<String, (u64, f64)> = HashMap::new();
            for (i, g) in index.iter().enumerate() {
                let v = values.get(i).unwrap_or("(none)").to_string();
                let revenue = monetary.get(i).unwrap_or(0.0);
                let cell = cells.entry((v.clone(), *g)).or_default();
                cell.0 += 1;
                cell.1 += revenue;
                let t = totals.entry(v).or_default();
                t.0 += 1;
                t.1 += revenue;
            }
            for ((v, g), (n, revenue)) in cells {
                let (vn, vr) = totals[&v];
                rows.push(attribute, &v, group, &names[g as usize], n, vn, revenue, vr);
            }
        }
    }
    Ok(Some(rows.frame()?))
}

#[derive(Default)]
struct SummaryRows {
    attribute: Vec<String>,
    value: Vec<String>,
    group: Vec<&'static str>,
    name: Vec<String>,
    customers: Vec<i64>,
    customer_share: Vec<f64>,
    revenue: Vec<f64>,
    revenue_share: Vec<Option<f64>>,
}

impl SummaryRows {
    #[allow(clippy::too_many_arguments)]
    fn push(
        &mut self,
        attribute: &str,
        value: &str,
        group: &'static str,
        name: &str,
        n: u64,
        of_n: u64,
        revenue: f64,
        of_revenue: f64,
    ) {
        self.attribute.push(attribute.to_string());
        self.value.push(value.to_string());
        self.group.push(group);
        self.name.push(name.to_string());
        self.customers.push(n as i64);
        self.customer_share.push(n as f64 / of_n.max(1) as f64);
        self.revenue.push(revenue);
        self.revenue_share
            .push((of_revenue > 0.0).then(|| revenue / of_revenue));
    }

    fn frame(self) -> Result<DataFrame> {
        Ok(DataFrame::new_infer_height(vec![
            Column::new(c::ATTRIBUTE.into(), self.attribute),
            Column::new(c::ATTRIBUTE_VALUE.into(), self.value),
            Column::new(c::GROUP.into(), self.group),
            Column::new(c::NAME.into(), self.name),
            Column::new(c::CUSTOMERS.into(), self.customers),
            Column::new(c::CUSTOMER_SHARE.into(), self.customer_share),
            Column::new(c::REVENUE.into(), self.revenue),
            Column::new(c::REVENUE_SHARE.into(), self.revenue_share),
        ])?)
    }
}
