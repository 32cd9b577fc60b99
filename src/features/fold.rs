//! The features in one streaming pass. The polars streaming engine reads, normalises and cleans
//! the input in batches and hands them, in input order, to `Fold`, which keeps:
//! - per customer: sums over lines (revenue, returns, periods, profit, rows) and, per region,
//!   purchase revenue;
//! - per (customer, invoice): the amount, the earliest purchase day, the earliest due date and
//!   the latest paid date, which is all that frequency, purchase days and payments need.
//!
//! Keys are interned to dense `u32` indices with their bytes back to back in one buffer, so
//! memory is a few dozen bytes per invoice and per customer, whatever the number of lines.
//! Batches arrive in input order, so sums are added in the same order on every run and the
//! output is identical run to run. `super::reference` states the same formulas as polars
//! expressions; the tests hold the two against each other.

use std::hash::BuildHasher;
use std::sync::{Arc, Mutex};

use anyhow::{anyhow, Result};
use foldhash::fast::FixedState;
use hashbrown::hash_table::Entry;
use hashbrown::{HashMap, HashTable};
use polars::prelude::*;

use super::{feature_columns, FeatureParams, Features};
use crate::clean::epoch_days;
use crate::columns as c;

/// "No value yet" for running minimums and maximums of day numbers.
const NO_MIN: i32 = i32::MAX;
const NO_MAX: i32 = i32::MIN;

const DAY: &str = "__day";
const DUE: &str = "__due";
const PAID: &str = "__paid";

/// Byte strings to dense indices `0..len`, the keys stored back to back. Each slot keeps the
/// key's hash beside its index, so growing the table and most failed comparisons never touch
/// the key bytes (a cache miss each).
struct Interner {
    table: HashTable<(u64, u32)>,
    ends: Vec<u64>,
    bytes: Vec<u8>,
    hasher: FixedState,
}

fn key_of<'a>(ends: &[u64], bytes: &'a [u8], i: u32) -> &'a [u8] {
    let i = i as usize;
    let start = if i == 0 { 0 } else { ends[i - 1] as usize };
    &bytes[start..ends[i] as usize]
}

impl Interner {
    fn new() -> Self {
        Interner {
            table: HashTable::new(),
            ends: Vec::new(),
            bytes: Vec::new(),
            // A fixed seed: the same input gives the same indices, and so the same output.
            hasher: FixedState::with_seed(0x7469_6572),
        }
    }

    fn len(&self) -> usize {
        self.ends.len()
    }

    fn key(&self, i: u32) -> &[u8] {
        key_of(&self.ends, &self.bytes, i)
    }

    /// The index of `key`, and whether it is new.
    fn intern(&mut self, key: &[u8]) -> (u32, bool) {
        let hash = self.hasher.hash_one(key);
        let Interner {
            table, ends, bytes, ..
        } = self;
        match table.entry(
            hash,
            |&(h, i)| h == hash && key_of(ends, bytes, i) == key,
            |&(h, _)| h,
        ) {
            Entry::Occupied(e) => (e.get().1, false),
            Entry::Vacant(v) => {
                let i = ends.len() as u32;
                bytes.extend_from_slice(key);
                ends.push(bytes.len() as u64);
                v.insert((hash, i));
                (i, true)
            }
        }
    }
}

/// Sums over a customer's lines.
#[derive(Default, Clone)]
struct CustomerSums {
    monetary: f64,
    gross: f64,
    returned: f64,
    last_period: f64,
    prev_period: f64,
    profit: f64,
    rows: u64,
    returns: u64,
}

/// One (customer, invoice): the amount, the earliest purchase line's day, the earliest due
/// and the latest paid date.
#[derive(Clone)]
struct Invoice {
    customer: u32,
    day: i32,
    due: i32,
    paid: i32,
    amount: f64,
}

/// The state of the pass.
struct Fold {
    as_of: i32,
    period: i32,
    has_invoice: bool,
    customers: Interner,
    sums: Vec<CustomerSums>,
    invoices: Interner,
    invoice_state: Vec<Invoice>,
    regions: Interner,
    /// Purchase revenue per (customer, region), keyed `customer << 32 | region`.
    region_revenue: HashMap<u64, f64, FixedState>,
    /// The run of lines with the same (customer, region) not yet added to `region_revenue`.
    pending_region: Option<(u64, f64)>,
    key: Vec<u8>,
}

impl Fold {
    fn new(as_of: i32, period: i32, has_invoice: bool) -> Self {
        Fold {
            as_of,
            period,
            has_invoice,
            customers: Interner::new(),
            sums: Vec::new(),
            invoices: Interner::new(),
            invoice_state: Vec::new(),
            regions: Interner::new(),
            region_revenue: HashMap::with_hasher(FixedState::with_seed(1)),
            pending_region: None,
            key: Vec::with_capacity(64),
        }
    }

    fn add_batch(&mut self, df: &DataFrame) -> PolarsResult<()> {
        // One contiguous array per column, read by index: much faster than chunked iterators.
        let series = |name: &str| -> Option<Series> {
            df.column(name)
                .ok()
                .map(|c| c.as_materialized_series().rechunk())
        };
        let need = |name: &str| series(name).ok_or_else(|| polars_err!(ColumnNotFound: "{name}"));
        let (customer, day, amount, is_return) = (
            need(c::CUSTOMER_ID)?,
            need(DAY)?,
            need(c::AMOUNT)?,
            need(c::IS_RETURN)?,
        );
        let (invoice, cost, due, paid, region) = (
            series(c::INVOICE_ID),
            series(c::COST),
            series(DUE),
            series(PAID),
            series(c::REGION),
        );
        let customer = customer.str()?.downcast_as_array();
        let day = day.i32()?.downcast_as_array();
        let amount = amount.f64()?.downcast_as_array();
        let is_return = is_return.bool()?.downcast_as_array();
        let invoice = invoice
            .as_ref()
            .map(|s| s.str().map(|ca| ca.downcast_as_array()))
            .transpose()?;
        let cost = cost
            .as_ref()
            .map(|s| s.f64().map(|ca| ca.downcast_as_array()))
            .transpose()?;
        let due = due
            .as_ref()
            .map(|s| s.i32().map(|ca| ca.downcast_as_array()))
            .transpose()?;
        let paid = paid
            .as_ref()
            .map(|s| s.i32().map(|ca| ca.downcast_as_array()))
            .transpose()?;
        let region = region
            .as_ref()
            .map(|s| s.str().map(|ca| ca.downcast_as_array()))
            .transpose()?;
        let (last_from, prev_from) = (self.as_of - self.period, self.as_of - 2 * self.period);
        // Lines of one invoice (and one customer) are usually next to each other: the last
        // lookups are remembered, which saves most hash-table probes.
        let mut last_customer: Option<(&str, u32)> = None;
        let mut last_invoice: Option<(u32, Option<&str>, i32, u32)> = None;
        let mut last_region: Option<(&str, u32)> = None;
        for i in 0..df.height() {
            // Cleaning drops rows without these.
            let (Some(id), Some(day), Some(amount)) = (customer.get(i), day.get(i), amount.get(i))
            else {
                continue;
            };
            let cust = match last_customer {
                Some((prev, k)) if prev == id => k,
                _ => {
                    let (k, new) = self.customers.intern(id.as_bytes());
                    if new {
                        self.sums.push(CustomerSums::default());
                    }
                    last_customer = Some((id, k));
                    k
                }
            };
            let purchase = amount > 0.0;
            let s = &mut self.sums[cust as usize];
            s.monetary += amount;
            if purchase {
                s.gross += amount;
            } else if amount < 0.0 {
                s.returned += amount;
            }
            if day >= last_from && day < self.as_of {
                s.last_period += amount;
            } else if day >= prev_from && day < last_from {
                s.prev_period += amount;
            }
            if let Some(cost) = cost.and_then(|a| a.get(i)) {
                s.profit += amount - cost;
            }
            s.rows += 1;
            s.returns += u64::from(is_return.get(i) == Some(true));

            // Without an invoice column a customer's day is the invoice.
            let inv = invoice.and_then(|a| a.get(i));
            let inv_day = if self.has_invoice { 0 } else { day };
            let slot = match last_invoice {
                Some((k, prev, d, slot)) if k == cust && prev == inv && d == inv_day => slot,
                _ => {
                    self.key.clear();
                    self.key.extend_from_slice(&cust.to_le_bytes());
                    match inv {
                        Some(inv) => self.key.extend_from_slice(inv.as_bytes()),
                        // A missing invoice number is one (null) invoice, as in a group-by;
                        // 0xff never occurs in UTF-8, so it cannot meet a real number.
                        None if self.has_invoice => self.key.push(0xff),
                        None => self.key.extend_from_slice(&day.to_le_bytes()),
                    }
                    let (slot, new) = self.invoices.intern(&self.key);
                    if new {
                        self.invoice_state.push(Invoice {
                            customer: cust,
                            day: NO_MIN,
                            due: NO_MIN,
                            paid: NO_MAX,
                            amount: 0.0,
                        });
                    }
                    last_invoice = Some((cust, inv, inv_day, slot));
                    slot
                }
            };
            let v = &mut self.invoice_state[slot as usize];
            v.amount += amount;
            if purchase {
                v.day = v.day.min(day);
            }
            if let Some(d) = due.and_then(|a| a.get(i)) {
                v.due = v.due.min(d);
            }
            if let Some(p) = paid.and_then(|a| a.get(i)) {
                v.paid = v.paid.max(p);
            }
            if let (true, Some(r)) = (purchase, region.and_then(|a| a.get(i))) {
                let r = match last_region {
                    Some((prev, k)) if prev == r => k,
                    _ => {
                        let (k, _) = self.regions.intern(r.as_bytes());
                        last_region = Some((r, k));
                        k
                    }
                };
                let key = ((cust as u64) << 32) | r as u64;
                match &mut self.pending_region {
                    Some((k, sum)) if *k == key => *sum += amount,
                    pending => {
                        if let Some((k, sum)) = pending.replace((key, amount)) {
                            *self.region_revenue.entry(k).or_insert(0.0) += sum;
                        }
                    }
                }
            }
        }
        Ok(())
    }
}

/// A value per customer, for the customers in `order`.
fn pick<T: Copy>(values: &[T], order: &[u32]) -> Vec<T> {
    order.iter().map(|i| values[*i as usize]).collect()
}

/// `num / den` where `den > 0`, else missing.
fn ratio(num: f64, den: f64) -> Option<f64> {
    (den > 0.0).then(|| num / den)
}

impl Fold {
    /// Per-customer rows from the folded state: buyers only, sorted by customer ID.
    fn finish(mut self, has_cost: bool, has_due: bool, has_region: bool) -> Result<Features> {
        if let Some((k, sum)) = self.pending_region.take() {
            *self.region_revenue.entry(k).or_insert(0.0) += sum;
        }
        let n = self.customers.len();
        let as_of = self.as_of;
        let mut frequency = vec![0i64; n];
        let mut first = vec![NO_MIN; n];
        let mut last = vec![NO_MAX; n];
        let mut days: Vec<(u32, i32)> = Vec::new();
        let mut invoices_due = vec![0i64; n];
        let mut on_time = vec![0i64; n];
        let mut late_sum = vec![0.0f64; n];
        let mut late_n = vec![0u64; n];
        let mut overdue_n = vec![0i64; n];
        let mut overdue_amount = vec![0.0f64; n];
        let mut oldest = vec![0i64; n];
        for v in &self.invoice_state {
            let k = v.customer as usize;
            if v.day != NO_MIN {
                frequency[k] += 1;
                first[k] = first[k].min(v.day);
                last[k] = last[k].max(v.day);
                days.push((v.customer, v.day));
            }
            // Payments: invoices with a positive amount. A payment dated on or after as_of
            // is not known yet at as_of.
            if !has_due || v.amount <= 0.0 {
                continue;
            }
            let paid = (v.paid != NO_MAX && v.paid < as_of).then_some(v.paid);
            let due = (v.due != NO_MIN).then_some(v.due);
            let due_passed = due.is_some_and(|d| d < as_of);
            if paid.is_some() || due_passed {
                invoices_due[k] += 1;
            }
            if let Some(p) = paid {
                if due.is_some_and(|d| p <= d) {
                    on_time[k] += 1;
                }
                late_sum[k] += match due {
                    Some(d) if p > d => (p - d) as f64,
                    _ => 0.0,
                };
                late_n[k] += 1;
            } else if let (true, Some(d)) = (due_passed, due) {
                overdue_n[k] += 1;
                overdue_amount[k] += v.amount;
                oldest[k] = oldest[k].max((as_of - d) as i64);
            }
        }
        drop(self.invoice_state);
        drop(self.invoices);
        days.sort_unstable();
        days.dedup();
        let mut purchase_days = vec![0i64; n];
        for (k, _) in &days {
            purchase_days[*k as usize] += 1;
        }
        drop(days);

        let mut main_region: Vec<Option<(u32, f64)>> = vec![None; n];
        if has_region {
            let name = |r: u32| self.regions.key(r);
            for (key, revenue) in &self.region_revenue {
                let (k, r) = ((key >> 32) as usize, (key & 0xffff_ffff) as u32);
                // The most purchase revenue; ties go to the first name.
                let better = match main_region[k] {
                    None => true,
                    Some((br, bv)) => *revenue > bv || (*revenue == bv && name(r) < name(br)),
                };
                if better {
                    main_region[k] = Some((r, *revenue));
                }
            }
        }

        // Customers without a purchase in the window are left out, and their rows counted.
        let (mut no_buyers, mut no_rows, mut no_returns) = (0u64, 0u64, 0u64);
        let mut order: Vec<u32> = Vec::with_capacity(n);
        for (k, (f, sums)) in frequency.iter().zip(&self.sums).enumerate() {
            if *f > 0 {
                order.push(k as u32);
            } else {
                no_buyers += 1;
                no_rows += sums.rows;
                no_returns += sums.returns;
            }
        }
        order.sort_unstable_by(|a, b| self.customers.key(*a).cmp(self.customers.key(*b)));

        let s = |f: fn(&CustomerSums) -> f64| -> Vec<f64> {
            order.iter().map(|k| f(&self.sums[*k as usize])).collect()
        };
        let each = |f: &dyn Fn(usize) -> Option<f64>| -> Vec<Option<f64>> {
            order.iter().map(|k| f(*k as usize)).collect()
        };
        let ids = StringChunked::from_iter_values(
            c::CUSTOMER_ID.into(),
            order.iter().map(|k| {
                // Keys were interned from `&str`, so they are UTF-8.
                std::str::from_utf8(self.customers.key(*k)).unwrap_or_default()
            }),
        );
        let date = |name: &str, v: Vec<i32>| -> PolarsResult<Column> {
            Column::new(name.into(), v).cast(&DataType::Date)
        };
        let mut columns = vec![
            ids.into_column(),
            Column::new(
                c::RECENCY_DAYS.into(),
                order
                    .iter()
                    .map(|k| (as_of - last[*k as usize]) as i64)
                    .collect::<Vec<_>>(),
            ),
            Column::new(c::FREQUENCY.into(), pick(&frequency, &order)),
            Column::new(c::PURCHASE_DAYS.into(), pick(&purchase_days, &order)),
            Column::new(c::MONETARY.into(), s(|x| x.monetary)),
            Column::new(c::GROSS_REVENUE.into(), s(|x| x.gross)),
            Column::new(c::RETURNED_VALUE.into(), s(|x| x.returned.abs())),
            Column::new(
                c::RETURN_RATE.into(),
                each(&|k| ratio(self.sums[k].returned.abs(), self.sums[k].gross)),
            ),
            Column::new(
                c::AVG_ORDER_VALUE.into(),
                each(&|k| ratio(self.sums[k].monetary, frequency[k] as f64)),
            ),
            date(c::FIRST_PURCHASE, pick(&first, &order))?,
            date(c::LAST_PURCHASE, pick(&last, &order))?,
            Column::new(
                c::TENURE_DAYS.into(),
                order
                    .iter()
                    .map(|k| (as_of - first[*k as usize]) as i64)
                    .collect::<Vec<_>>(),
            ),
            Column::new(
                c::MEAN_DAYS_BETWEEN.into(),
                each(&|k| ratio((last[k] - first[k]) as f64, (purchase_days[k] - 1) as f64)),
            ),
            Column::new(c::MONETARY_LAST_PERIOD.into(), s(|x| x.last_period)),
            Column::new(c::MONETARY_PREV_PERIOD.into(), s(|x| x.prev_period)),
        ];
        if has_cost {
            columns.push(Column::new(c::PROFIT.into(), s(|x| x.profit)));
            columns.push(Column::new(
                c::MARGIN.into(),
                each(&|k| ratio(self.sums[k].profit, self.sums[k].monetary)),
            ));
        }
        if has_due {
            columns.extend([
                Column::new(c::INVOICES_DUE.into(), pick(&invoices_due, &order)),
                Column::new(
                    c::ON_TIME_RATE.into(),
                    each(&|k| ratio(on_time[k] as f64, invoices_due[k] as f64)),
                ),
                Column::new(
                    c::MEAN_DAYS_LATE.into(),
                    each(&|k| ratio(late_sum[k], late_n[k] as f64)),
                ),
                Column::new(c::OVERDUE_INVOICES.into(), pick(&overdue_n, &order)),
                Column::new(c::OVERDUE_AMOUNT.into(), pick(&overdue_amount, &order)),
                Column::new(c::OLDEST_OVERDUE_DAYS.into(), pick(&oldest, &order)),
            ]);
        }
        if has_region {
            let names = StringChunked::from_iter_options(
                c::MAIN_REGION.into(),
                order.iter().map(|k| {
                    main_region[*k as usize]
                        .map(|(r, _)| std::str::from_utf8(self.regions.key(r)).unwrap_or_default())
                }),
            );
            columns.push(names.into_column());
        }
        debug_assert_eq!(
            columns
                .iter()
                .map(|c| c.name().as_str())
                .collect::<Vec<_>>(),
            feature_columns(has_cost, has_due, has_region)
        );
        Ok(Features {
            customers: DataFrame::new(order.len(), columns)?,
            no_purchase_customers: no_buyers,
            no_purchase_rows: no_rows,
            no_purchase_returns: no_returns,
        })
    }
}

/// Computes the features of every customer with a purchase in `tx` (cleaned transactions) in
/// one streaming pass, and counts the rows of the customers left out for having none.
pub fn customer_features(tx: LazyFrame, p: &FeatureParams) -> Result<Features> {
    let mut tx = tx;
    let schema = tx.collect_schema()?;
    let has = |n: &str| schema.get(n).is_some();
    let text = |n: &str| col(n).cast(DataType::String);
    let days = |n: &str| col(n).cast(DataType::Int32);
    let mut exprs = vec![
        text(c::CUSTOMER_ID),
        days(c::DATE).alias(DAY),
        col(c::AMOUNT).cast(DataType::Float64),
        col(c::IS_RETURN),
    ];
    if has(c::INVOICE_ID) {
        exprs.push(text(c::INVOICE_ID));
    }
    if has(c::COST) {
        exprs.push(col(c::COST).cast(DataType::Float64));
    }
    if has(c::DUE_DATE) {
        exprs.push(days(c::DUE_DATE).alias(DUE));
        if has(c::PAID_DATE) {
            exprs.push(days(c::PAID_DATE).alias(PAID));
        }
    }
    if has(c::REGION) {
        exprs.push(text(c::REGION));
    }
    let fold = Arc::new(Mutex::new(Some(Fold::new(
        epoch_days(p.as_of),
        p.period_days as i32,
        has(c::INVOICE_ID),
    ))));
    let sink = fold.clone();
    let callback = move |df: DataFrame| -> PolarsResult<bool> {
        let mut guard = sink
            .lock()
            .map_err(|_| polars_err!(ComputeError: "poisoned"))?;
        if let Some(f) = guard.as_mut() {
            f.add_batch(&df)?;
        }
        // false: keep sending batches.
        Ok(false)
    };
    tx.select(exprs)
        .sink_batches(
            PlanCallback::Rust(SpecialEq::new(Arc::new(callback))),
            // In input order, so sums add up in the same order on every run.
            true,
            None,
        )?
        .collect_with_engine(Engine::Streaming)?;
    let state = fold
        .lock()
        .map_err(|_| anyhow!("the feature pass failed"))?
        .take()
        .ok_or_else(|| anyhow!("the feature pass left no state"))?;
    state.finish(has(c::COST), has(c::DUE_DATE), has(c::REGION))
}
