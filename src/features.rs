//! Per-customer features from cleaned transactions, as small `Expr` helpers combined in one
//! aggregation per table. Pure: no IO, no clock; `as_of` is a parameter.
//!
//! Purchases are lines with a positive amount; returns are the negative lines kept by
//! `returns = "net"`. Dates are compared as day numbers (days since 1970-01-01).

use anyhow::Result;
use chrono::NaiveDate;
use polars::prelude::*;

use crate::clean::epoch_days;
use crate::columns as c;

/// What the feature step needs to know.
#[derive(Debug, Clone, Copy)]
pub struct FeatureParams {
    pub as_of: NaiveDate,
    /// Length of the two trailing periods compared for a drop in spend.
    pub period_days: u32,
}

fn is_purchase() -> Expr {
    col(c::AMOUNT).gt(lit(0.0))
}

fn days(name: &str) -> Expr {
    col(name).cast(DataType::Int32)
}

/// Orders: distinct invoices with a purchase, or distinct purchase days without invoices.
fn frequency(has_invoice: bool) -> Expr {
    let key = if has_invoice { c::INVOICE_ID } else { c::DATE };
    col(key)
        .filter(is_purchase())
        .n_unique()
        .cast(DataType::Int64)
        .alias(c::FREQUENCY)
}

/// Net revenue of lines dated in `[from, to)` (day numbers).
fn period_revenue(from: i32, to: i32) -> Expr {
    let inside = days(c::DATE)
        .gt_eq(lit(from))
        .and(days(c::DATE).lt(lit(to)));
    col(c::AMOUNT).filter(inside).sum()
}

fn safe_ratio(num: Expr, den: Expr) -> Expr {
    when(den.clone().gt(lit(0.0)))
        .then(num.cast(DataType::Float64) / den.cast(DataType::Float64))
        .otherwise(lit(NULL).cast(DataType::Float64))
}

/// Computes one row per customer. The columns present depend on the transaction columns:
/// profit needs `cost`, payment behaviour needs `due_date`, the main region needs `region`.
pub fn compute_features(tx: LazyFrame, p: &FeatureParams) -> Result<LazyFrame> {
    let schema = tx.clone().collect_schema()?;
    let has = |n: &str| schema.get(n).is_some();
    let as_of = epoch_days(p.as_of);

    let mut aggs = vec![
        frequency(has(c::INVOICE_ID)),
        col(c::DATE)
            .filter(is_purchase())
            .n_unique()
            .cast(DataType::Int64)
            .alias(c::PURCHASE_DAYS),
        col(c::AMOUNT).sum().alias(c::MONETARY),
        col(c::AMOUNT)
            .filter(is_purchase())
            .sum()
            .alias(c::GROSS_REVENUE),
        // abs, not negation: no returns must read 0, not -0.
        col(c::AMOUNT)
            .filter(col(c::AMOUNT).lt(lit(0.0)))
            .sum()
            .abs()
            .alias(c::RETURNED_VALUE),
        col(c::DATE)
            .filter(is_purchase())
            .min()
            .alias(c::FIRST_PURCHASE),
        col(c::DATE)
            .filter(is_purchase())
            .max()
            .alias(c::LAST_PURCHASE),
        period_revenue(as_of - p.period_days as i32, as_of).alias(c::MONETARY_LAST_PERIOD),
        period_revenue(
            as_of - 2 * p.period_days as i32,
            as_of - p.period_days as i32,
        )
        .alias(c::MONETARY_PREV_PERIOD),
    ];
    if has(c::COST) {
        // Lines without a known cost do not count towards profit (neither revenue nor cost).
        aggs.push(
            (col(c::AMOUNT) - col(c::COST))
                .filter(col(c::COST).is_not_null())
                .sum()
                .alias(c::PROFIT),
        );
    }
    let base = tx
        .clone()
        .group_by([col(c::CUSTOMER_ID)])
        .agg(aggs)
        .with_columns([
            (lit(as_of) - days(c::LAST_PURCHASE))
                .cast(DataType::Int64)
                .alias(c::RECENCY_DAYS),
            (lit(as_of) - days(c::FIRST_PURCHASE))
                .cast(DataType::Int64)
                .alias(c::TENURE_DAYS),
            safe_ratio(col(c::RETURNED_VALUE), col(c::GROSS_REVENUE)).alias(c::RETURN_RATE),
            safe_ratio(col(c::MONETARY), col(c::FREQUENCY)).alias(c::AVG_ORDER_VALUE),
            safe_ratio(
                days(c::LAST_PURCHASE) - days(c::FIRST_PURCHASE),
                col(c::PURCHASE_DAYS) - lit(1),
            )
            .alias(c::MEAN_DAYS_BETWEEN),
        ]);
    let base = if has(c::COST) {
        base.with_column(safe_ratio(col(c::PROFIT), col(c::MONETARY)).alias(c::MARGIN))
    } else {
        base
    };

    let mut out = base;
    if has(c::DUE_DATE) {
        out = out.join(
            payment_features(tx.clone(), has(c::INVOICE_ID), has(c::PAID_DATE), as_of),
            [col(c::CUSTOMER_ID)],
            [col(c::CUSTOMER_ID)],
            JoinArgs::new(JoinType::Left),
        );
    }
    if has(c::REGION) {
        out = out.join(
            main_region(tx),
            [col(c::CUSTOMER_ID)],
            [col(c::CUSTOMER_ID)],
            JoinArgs::new(JoinType::Left),
        );
    }
    let mut order = vec![
        c::CUSTOMER_ID,
        c::RECENCY_DAYS,
        c::FREQUENCY,
        c::PURCHASE_DAYS,
        c::MONETARY,
        c::GROSS_REVENUE,
        c::RETURNED_VALUE,
        c::RETURN_RATE,
        c::AVG_ORDER_VALUE,
        c::FIRST_PURCHASE,
        c::LAST_PURCHASE,
        c::TENURE_DAYS,
        c::MEAN_DAYS_BETWEEN,
        c::MONETARY_LAST_PERIOD,
        c::MONETARY_PREV_PERIOD,
    ];
    if has(c::COST) {
        order.extend([c::PROFIT, c::MARGIN]);
    }
    if has(c::DUE_DATE) {
        order.extend([
            c::INVOICES_DUE,
            c::ON_TIME_RATE,
            c::MEAN_DAYS_LATE,
            c::OVERDUE_INVOICES,
            c::OVERDUE_AMOUNT,
            c::OLDEST_OVERDUE_DAYS,
        ]);
    }
    if has(c::REGION) {
        order.push(c::MAIN_REGION);
    }
    Ok(out
        .select(order.into_iter().map(col).collect::<Vec<_>>())
        .sort([c::CUSTOMER_ID], SortMultipleOptions::default()))
}

/// Payment behaviour per customer from invoices (or lines, without invoice IDs) that have a
/// positive amount. A payment dated on or after `as_of` is not known yet at `as_of`.
fn payment_features(tx: LazyFrame, has_invoice: bool, has_paid: bool, as_of: i32) -> LazyFrame {
    let mut keys = vec![col(c::CUSTOMER_ID)];
    if has_invoice {
        keys.push(col(c::INVOICE_ID));
    }
    let paid = if has_paid {
        days(c::PAID_DATE).max()
    } else {
        lit(NULL).cast(DataType::Int32)
    };
    let invoices = if has_invoice {
        tx.group_by(keys).agg([
            col(c::AMOUNT).sum().alias("inv_amount"),
            days(c::DUE_DATE).min().alias("due"),
            paid.alias("paid"),
        ])
    } else {
        tx.select([
            col(c::CUSTOMER_ID),
            col(c::AMOUNT).alias("inv_amount"),
            days(c::DUE_DATE).alias("due"),
            if has_paid {
                days(c::PAID_DATE)
            } else {
                lit(NULL).cast(DataType::Int32)
            }
            .alias("paid"),
        ])
    };
    let paid_known = when(col("paid").lt(lit(as_of)))
        .then(col("paid"))
        .otherwise(lit(NULL).cast(DataType::Int32));
    let overdue = col("paid_known")
        .is_null()
        .and(col("due").lt(lit(as_of)))
        .and(col("due").is_not_null());
    let late_days = when((col("paid_known") - col("due")).gt(lit(0)))
        .then(col("paid_known") - col("due"))
        .otherwise(lit(0));
    invoices
        .filter(col("inv_amount").gt(lit(0.0)))
        .with_column(paid_known.alias("paid_known"))
        .with_columns([
            overdue.alias("overdue"),
            col("paid_known")
                .is_not_null()
                .or(col("due").lt(lit(as_of)))
                .alias("assessed"),
            col("paid_known")
                .lt_eq(col("due"))
                .fill_null(lit(false))
                .alias("on_time"),
            late_days.alias("late_days"),
        ])
        .group_by([col(c::CUSTOMER_ID)])
        .agg([
            col("assessed")
                .cast(DataType::Int64)
                .sum()
                .alias(c::INVOICES_DUE),
            col("on_time")
                .cast(DataType::Int64)
                .sum()
                .alias("on_time_n"),
            col("late_days")
                .filter(col("paid_known").is_not_null())
                .cast(DataType::Float64)
                .mean()
                .alias(c::MEAN_DAYS_LATE),
            col("overdue")
                .cast(DataType::Int64)
                .sum()
                .alias(c::OVERDUE_INVOICES),
            col("inv_amount")
                .filter(col("overdue"))
                .sum()
                .alias(c::OVERDUE_AMOUNT),
            (lit(as_of) - col("due"))
                .filter(col("overdue"))
                .max()
                .cast(DataType::Int64)
                .fill_null(lit(0i64))
                .alias(c::OLDEST_OVERDUE_DAYS),
        ])
        .with_column(safe_ratio(col("on_time_n"), col(c::INVOICES_DUE)).alias(c::ON_TIME_RATE))
}

/// The region with the most purchase revenue per customer; ties go to the first name.
/// Written without relying on row order so the streaming engine gives the same answer.
fn main_region(tx: LazyFrame) -> LazyFrame {
    let per_region = tx
        .filter(is_purchase().and(col(c::REGION).is_not_null()))
        .group_by([col(c::CUSTOMER_ID), col(c::REGION)])
        .agg([col(c::AMOUNT).sum().alias("region_revenue")]);
    let best = per_region
        .clone()
        .group_by([col(c::CUSTOMER_ID)])
        .agg([col("region_revenue").max().alias("best_revenue")]);
    per_region
        .join(
            best,
            [col(c::CUSTOMER_ID)],
            [col(c::CUSTOMER_ID)],
            JoinArgs::new(JoinType::Inner),
        )
        .filter(col("region_revenue").eq(col("best_revenue")))
        .group_by([col(c::CUSTOMER_ID)])
        .agg([col(c::REGION).min().alias(c::MAIN_REGION)])
}
