//! The reference implementation of the features: the formulas as polars expressions, in two
//! group-bys (lines -> invoices, then invoices -> customers). It is the specification the
//! streaming fold in [`super::fold`] must match, and the tests hold the two against each other;
//! the fold is several times faster and holds less memory, so runs use it.
//!
//! Purchases are lines with a positive amount; returns are the negative lines kept by
//! `returns = "net"`. Dates are compared as day numbers (days since 1970-01-01). Without an
//! invoice column, a customer's lines of one day form one order (and one invoice).

use anyhow::Result;
use polars::prelude::*;

use crate::clean::{collect_streaming, epoch_days};
use crate::columns as c;

use super::{FeatureParams, Features, RETURNS, ROWS};

// Invoice-level helper columns.
const INV_AMOUNT: &str = "__inv_amount";
const INV_GROSS: &str = "__inv_gross";
const INV_RETURNED: &str = "__inv_returned";
const INV_DAY: &str = "__inv_purchase_day";
const INV_PROFIT: &str = "__inv_profit";
const INV_DUE: &str = "__inv_due";
const INV_PAID: &str = "__inv_paid";
const INV_LAST: &str = "__inv_last_period";
const INV_PREV: &str = "__inv_prev_period";
const INV_ROWS: &str = "__inv_rows";
const INV_RETURNS: &str = "__inv_returns";

/// A purchase line: a positive amount, or with `zero`, a free item (zero, not a return).
fn is_purchase(zero: bool) -> Expr {
    let positive = col(c::AMOUNT).gt(lit(0.0));
    if zero {
        positive.or(col(c::AMOUNT).eq(lit(0.0)).and(col(c::IS_RETURN).not()))
    } else {
        positive
    }
}

/// A line that brings revenue: gross revenue and regions count these.
fn is_sale() -> Expr {
    col(c::AMOUNT).gt(lit(0.0))
}

fn days(name: &str) -> Expr {
    col(name).cast(DataType::Int32)
}

/// `x` where `cond` holds, else null. Aggregations of these columns take polars' fast
/// path; `x.filter(cond).sum()` inside a group-by is evaluated group by group, which is
/// orders of magnitude slower with millions of groups.
fn only(cond: Expr, x: Expr) -> Expr {
    when(cond).then(x).otherwise(lit(NULL))
}

/// Net revenue of lines dated in `[from, to)` (day numbers).
fn period_revenue(from: i32, to: i32) -> Expr {
    let inside = days(c::DATE)
        .gt_eq(lit(from))
        .and(days(c::DATE).lt(lit(to)));
    only(inside, col(c::AMOUNT)).sum()
}

fn safe_ratio(num: Expr, den: Expr) -> Expr {
    when(den.clone().gt(lit(0.0)))
        .then(num.cast(DataType::Float64) / den.cast(DataType::Float64))
        .otherwise(lit(NULL).cast(DataType::Float64))
}

/// Lines -> one row per (customer, invoice): amounts, the purchase day, cost, payment dates,
/// region and line counts.
fn invoices(tx: LazyFrame, schema: &Schema, p: &FeatureParams) -> LazyFrame {
    let has = |n: &str| schema.get(n).is_some();
    let as_of = epoch_days(p.as_of);
    let period = p.period_days as i32;
    let key = if has(c::INVOICE_ID) {
        c::INVOICE_ID
    } else {
        c::DATE
    };
    let mut aggs = vec![
        col(c::AMOUNT).sum().alias(INV_AMOUNT),
        only(is_sale(), col(c::AMOUNT)).sum().alias(INV_GROSS),
        only(col(c::AMOUNT).lt(lit(0.0)), col(c::AMOUNT))
            .sum()
            .alias(INV_RETURNED),
        only(is_purchase(p.zero_value_purchases), days(c::DATE))
            .min()
            .alias(INV_DAY),
        period_revenue(as_of - period, as_of).alias(INV_LAST),
        period_revenue(as_of - 2 * period, as_of - period).alias(INV_PREV),
        len().alias(INV_ROWS),
        col(c::IS_RETURN)
            .cast(DataType::UInt32)
            .sum()
            .alias(INV_RETURNS),
    ];
    if has(c::COST) {
        // Lines without a known cost do not count towards profit (neither revenue nor cost).
        aggs.push(
            // A null cost makes the line's difference null, and sum skips nulls.
            (col(c::AMOUNT) - col(c::COST)).sum().alias(INV_PROFIT),
        );
    }
    if has(c::DUE_DATE) {
        aggs.push(days(c::DUE_DATE).min().alias(INV_DUE));
        aggs.push(if has(c::PAID_DATE) {
            days(c::PAID_DATE).max().alias(INV_PAID)
        } else {
            lit(NULL).cast(DataType::Int32).alias(INV_PAID)
        });
    }
    tx.group_by([col(c::CUSTOMER_ID), col(key)]).agg(aggs)
}

/// Payment aggregates over invoices with a positive amount. A payment dated on or after
/// `as_of` is not known yet at `as_of`.
fn payment_aggs(as_of: i32) -> Vec<Expr> {
    let billed = col(INV_AMOUNT).gt(lit(0.0));
    let paid_known = when(col(INV_PAID).lt(lit(as_of)))
        .then(col(INV_PAID))
        .otherwise(lit(NULL).cast(DataType::Int32));
    let overdue = billed
        .clone()
        .and(paid_known.clone().is_null())
        .and(col(INV_DUE).lt(lit(as_of)))
        .and(col(INV_DUE).is_not_null());
    let assessed = billed.clone().and(
        paid_known
            .clone()
            .is_not_null()
            .or(col(INV_DUE).lt(lit(as_of))),
    );
    let on_time = billed
        .clone()
        .and(paid_known.clone().lt_eq(col(INV_DUE)).fill_null(lit(false)));
    let late_days = when((paid_known.clone() - col(INV_DUE)).gt(lit(0)))
        .then(paid_known.clone() - col(INV_DUE))
        .otherwise(lit(0));
    vec![
        assessed
            .fill_null(lit(false))
            .cast(DataType::Int64)
            .sum()
            .alias(c::INVOICES_DUE),
        on_time.cast(DataType::Int64).sum().alias("__on_time"),
        only(
            billed.and(paid_known.is_not_null()),
            late_days.cast(DataType::Float64),
        )
        .mean()
        .alias(c::MEAN_DAYS_LATE),
        overdue
            .clone()
            .fill_null(lit(false))
            .cast(DataType::Int64)
            .sum()
            .alias(c::OVERDUE_INVOICES),
        only(overdue.clone().fill_null(lit(false)), col(INV_AMOUNT))
            .sum()
            .alias(c::OVERDUE_AMOUNT),
        only(overdue.fill_null(lit(false)), lit(as_of) - col(INV_DUE))
            .max()
            .cast(DataType::Int64)
            .fill_null(lit(0i64))
            .alias(c::OLDEST_OVERDUE_DAYS),
    ]
}

/// Computes one row per customer, including customers without a purchase (frequency 0) and
/// the helper columns `__rows` and `__returns`; see [`customer_features`].
pub fn compute_features(tx: LazyFrame, p: &FeatureParams) -> Result<LazyFrame> {
    let mut tx = tx;
    let schema = tx.collect_schema()?;
    let has = |n: &str| schema.get(n).is_some();
    let as_of = epoch_days(p.as_of);
    let inv = invoices(tx.clone(), &schema, p);

    let mut aggs = vec![
        col(INV_DAY)
            .is_not_null()
            .cast(DataType::Int64)
            .sum()
            .alias(c::FREQUENCY),
        // n_unique counts null (invoices without a purchase) as a value: take it off.
        (col(INV_DAY).n_unique().cast(DataType::Int64)
            - col(INV_DAY).null_count().gt(lit(0)).cast(DataType::Int64))
        .alias(c::PURCHASE_DAYS),
        col(INV_AMOUNT).sum().alias(c::MONETARY),
        col(INV_GROSS).sum().alias(c::GROSS_REVENUE),
        // abs, not negation: no returns must read 0, not -0.
        col(INV_RETURNED).sum().abs().alias(c::RETURNED_VALUE),
        col(INV_DAY).min().alias("__first"),
        col(INV_DAY).max().alias("__last"),
        // The value of the invoices dated after the first purchase day.
        only(col(INV_DAY).gt(col(INV_DAY).min()), col(INV_AMOUNT))
            .sum()
            .alias("__repeat_value"),
        col(INV_LAST).sum().alias(c::MONETARY_LAST_PERIOD),
        col(INV_PREV).sum().alias(c::MONETARY_PREV_PERIOD),
        col(INV_ROWS).cast(DataType::UInt64).sum().alias(ROWS),
        col(INV_RETURNS).cast(DataType::UInt64).sum().alias(RETURNS),
    ];
    if has(c::COST) {
        aggs.push(col(INV_PROFIT).sum().alias(c::PROFIT));
    }
    if has(c::DUE_DATE) {
        aggs.extend(payment_aggs(as_of));
    }
    let mut out = inv
        .clone()
        .group_by([col(c::CUSTOMER_ID)])
        .agg(aggs)
        .with_columns([
            col("__first").cast(DataType::Date).alias(c::FIRST_PURCHASE),
            col("__last").cast(DataType::Date).alias(c::LAST_PURCHASE),
            (lit(as_of) - col("__last"))
                .cast(DataType::Int64)
                .alias(c::RECENCY_DAYS),
            (lit(as_of) - col("__first"))
                .cast(DataType::Int64)
                .alias(c::TENURE_DAYS),
            safe_ratio(col(c::RETURNED_VALUE), col(c::GROSS_REVENUE)).alias(c::RETURN_RATE),
            safe_ratio(col(c::MONETARY), col(c::FREQUENCY)).alias(c::AVG_ORDER_VALUE),
            safe_ratio(
                col("__last") - col("__first"),
                col(c::PURCHASE_DAYS) - lit(1),
            )
            .alias(c::MEAN_DAYS_BETWEEN),
            safe_ratio(col("__repeat_value"), col(c::PURCHASE_DAYS) - lit(1))
                .alias(c::MEAN_REPEAT_VALUE),
        ]);
    if has(c::COST) {
        out = out.with_column(safe_ratio(col(c::PROFIT), col(c::MONETARY)).alias(c::MARGIN));
    }
    if has(c::DUE_DATE) {
        out = out
            .with_column(safe_ratio(col("__on_time"), col(c::INVOICES_DUE)).alias(c::ON_TIME_RATE));
    }
    if has(c::REGION) {
        out = out.join(
            main_region(tx),
            [col(c::CUSTOMER_ID)],
            [col(c::CUSTOMER_ID)],
            JoinArgs::new(JoinType::Left),
        );
    }
    let mut order = c::customer_columns(has(c::COST), has(c::DUE_DATE), has(c::REGION));
    order.extend([ROWS, RETURNS]);
    Ok(out
        .select(order.into_iter().map(col).collect::<Vec<_>>())
        .sort([c::CUSTOMER_ID], SortMultipleOptions::default()))
}

/// Runs [`compute_features`] with the streaming engine and leaves out the customers without
/// a purchase in the window (nothing to grade them on), counting their rows.
pub fn reference_features(tx: LazyFrame, p: &FeatureParams) -> Result<Features> {
    Features::from_all(collect_streaming(compute_features(tx, p)?)?)
}

/// The region with the most purchase revenue per customer (over lines, so an order split
/// across regions counts in each); ties go to the first name. Written without relying on row
/// order so the streaming engine gives the same answer.
fn main_region(tx: LazyFrame) -> LazyFrame {
    let per_region = tx
        .filter(is_sale().and(col(c::REGION).is_not_null()))
        .group_by([col(c::CUSTOMER_ID), col(c::REGION)])
        .agg([col(c::AMOUNT).sum().alias("__region_revenue")]);
    let best = per_region
        .clone()
        .group_by([col(c::CUSTOMER_ID)])
        .agg([col("__region_revenue").max().alias("__best")]);
    per_region
        .join(
            best,
            [col(c::CUSTOMER_ID)],
            [col(c::CUSTOMER_ID)],
            JoinArgs::new(JoinType::Inner),
        )
        .filter(col("__region_revenue").eq(col("__best")))
        .group_by([col(c::CUSTOMER_ID)])
        .agg([col(c::REGION).min().alias(c::MAIN_REGION)])
}
