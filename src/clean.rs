//! Cleaning: decides for every normalised transaction whether it is kept, and why not.
//! Pure: frames and parameters in, frames and counts out; the clock comes in as `today`.

use anyhow::Result;
use chrono::{Duration, NaiveDate};
use polars::prelude::*;

use crate::columns as c;
use crate::config::{Cleaning, DropKeepError, DropOrError, DropOrKeep, ReturnPolicy};
use crate::error::InputError;

/// Why rows were left out, in the order the rules are applied (first match wins).
pub const MISSING_CUSTOMER_ID: &str = "missing_customer_id";
pub const MISSING_DATE: &str = "missing_date";
pub const MISSING_AMOUNT: &str = "missing_amount";
pub const NONPOSITIVE_PRICE: &str = "nonpositive_price";
pub const FUTURE_DATE: &str = "future_date";
pub const RETURN_DROPPED: &str = "return_dropped";
pub const AFTER_AS_OF: &str = "after_as_of";
pub const BEFORE_LOOKBACK: &str = "before_lookback";
pub const NO_PURCHASE: &str = "customer_without_purchase";
const REASONS: &[&str] = &[
    MISSING_CUSTOMER_ID,
    MISSING_DATE,
    MISSING_AMOUNT,
    NONPOSITIVE_PRICE,
    FUTURE_DATE,
    RETURN_DROPPED,
    AFTER_AS_OF,
    BEFORE_LOOKBACK,
    NO_PURCHASE,
];

/// Parameters of one cleaning pass.
#[derive(Debug, Clone)]
pub struct CleanParams<'a> {
    pub cleaning: &'a Cleaning,
    /// Transactions on or after this day are left out; `None`: the day after the last one.
    pub as_of: Option<NaiveDate>,
    pub lookback_days: Option<u32>,
    /// The calendar day of the run, for `future_dates`.
    pub today: NaiveDate,
    /// Rows read and exact duplicates removed while loading, for the quality table.
    pub rows_read: u64,
    pub duplicates: u64,
}

/// One line of `data_quality.parquet`.
#[derive(Debug, Clone, PartialEq, serde::Serialize)]
pub struct QualityRow {
    pub step: String,
    pub rows: u64,
    /// `read`, `dropped`, `kept` or `info` (kept rows worth knowing about, e.g. netted returns).
    pub action: &'static str,
}

/// The kept transactions and the account of what was dropped.
pub struct Cleaned {
    /// Kept rows with `is_return`, as a plan over the input.
    pub transactions: LazyFrame,
    pub as_of: NaiveDate,
    pub quality: Vec<QualityRow>,
}

/// Days since 1970-01-01, the physical value of a polars `Date`.
pub fn epoch_days(d: NaiveDate) -> i32 {
    (d - NaiveDate::from_ymd_opt(1970, 1, 1).expect("valid date")).num_days() as i32
}

fn day_number(name: &str) -> Expr {
    col(name).cast(DataType::Int32)
}

/// Runs an aggregating query with the streaming engine: the input is read in batches.
pub fn collect_streaming(lf: LazyFrame) -> Result<DataFrame> {
    // A single query (not collect_all) always has a single result.
    Ok(lf.collect_with_engine(Engine::Streaming)?.unwrap_single())
}

/// Applies the cleaning rules and picks `as_of`. Each pass (as_of, counts) is an aggregation
/// run with the streaming engine over the input; the kept transactions are returned as a plan,
/// never held in memory.
pub fn clean_transactions(tx: LazyFrame, p: &CleanParams) -> Result<Cleaned> {
    let mut tx = tx;
    let schema = tx.collect_schema()?;
    let has = |n: &str| schema.get(n).is_some();
    let cl = p.cleaning;

    // A line is a return when its amount or quantity is negative or its invoice carries the
    // cancellation prefix; prefixed lines are made negative whatever sign they were typed with.
    let mut is_return = col(c::AMOUNT).lt(lit(0.0));
    if has(c::QUANTITY) {
        is_return = is_return.or(col(c::QUANTITY).lt(lit(0.0)));
    }
    if let (Some(prefix), true) = (&cl.return_invoice_prefix, has(c::INVOICE_ID)) {
        is_return = is_return.or(col(c::INVOICE_ID)
            .str()
            .starts_with(lit(prefix.as_str()))
            .fill_null(lit(false)));
    }
    let is_return = is_return.fill_null(lit(false));
    let mut lf = tx.with_column(is_return.alias(c::IS_RETURN));
    let signed = when(col(c::IS_RETURN))
        .then(col(c::AMOUNT).abs() * lit(-1.0))
        .otherwise(col(c::AMOUNT));
    let mut fixes = vec![signed.alias(c::AMOUNT)];
    if has(c::COST) {
        fixes.push(
            when(col(c::IS_RETURN))
                .then(col(c::COST).abs() * lit(-1.0))
                .otherwise(col(c::COST))
                .alias(c::COST),
        );
    }
    lf = lf.with_columns(fixes);

    // Rules that do not depend on as_of, first match wins.
    let price_bad = if has(c::UNIT_PRICE) {
        col(c::UNIT_PRICE).lt_eq(lit(0.0))
    } else {
        col(c::AMOUNT).eq(lit(0.0))
    };
    let today = epoch_days(p.today);
    let mut rules: Vec<(Expr, &str)> = vec![
        (col(c::CUSTOMER_ID).is_null(), MISSING_CUSTOMER_ID),
        (col(c::DATE).is_null(), MISSING_DATE),
        (col(c::AMOUNT).is_null(), MISSING_AMOUNT),
    ];
    if cl.nonpositive_price != DropKeepError::Keep {
        rules.push((price_bad.clone(), NONPOSITIVE_PRICE));
    }
    if cl.future_dates != DropKeepError::Keep {
        rules.push((day_number(c::DATE).gt(lit(today)), FUTURE_DATE));
    }
    if cl.returns == ReturnPolicy::Drop {
        rules.push((col(c::IS_RETURN), RETURN_DROPPED));
    }
    let lf = lf.with_column(reason_expr(&rules).alias(c::DROP_REASON));

    // Policies that turn a drop into an error look at the first offending row.
    let fail_on = |reason: &str| -> Result<Option<(u64, String)>> {
        let bad = lf.clone().filter(col(c::DROP_REASON).eq(lit(reason)));
        let n = collect_streaming(bad.clone().select([len()]))?;
        let n = n.columns()[0]
            .cast(&DataType::UInt64)?
            .u64()?
            .get(0)
            .unwrap_or(0);
        if n == 0 {
            return Ok(None);
        }
        let first = bad.limit(1).collect()?;
        Ok(Some((n, describe_row(&first, 0))))
    };
    if cl.missing_customer_id == DropOrError::Error {
        if let Some((count, example)) = fail_on(MISSING_CUSTOMER_ID)? {
            return Err(InputError::MissingCustomerId {
                column: c::CUSTOMER_ID.into(),
                count,
                example,
            }
            .into());
        }
    }
    if cl.nonpositive_price == DropKeepError::Error {
        if let Some((count, example)) = fail_on(NONPOSITIVE_PRICE)? {
            return Err(InputError::NonPositivePrice { count, example }.into());
        }
    }
    if cl.future_dates == DropKeepError::Error {
        if let Some((count, example)) = fail_on(FUTURE_DATE)? {
            return Err(InputError::FutureDate {
                count,
                today: p.today.to_string(),
                example,
            }
            .into());
        }
    }

    // One pass counts rows per row-rule reason, return flag and day: enough to pick as_of and
    // to count the window rules without reading the input again.
    let by_day = collect_streaming(
        lf.clone()
            .group_by([
                col(c::DROP_REASON),
                col(c::IS_RETURN),
                day_number(c::DATE).alias("__day"),
            ])
            .agg([len().alias("n")]),
    )?;
    let reasons: Vec<Option<String>> = by_day
        .column(c::DROP_REASON)?
        .str()?
        .iter()
        .map(|r| r.map(str::to_string))
        .collect();
    let returns: Vec<bool> = by_day
        .column(c::IS_RETURN)?
        .bool()?
        .iter()
        .map(|b| b.unwrap_or(false))
        .collect();
    let day: Vec<Option<i32>> = by_day.column("__day")?.i32()?.iter().collect();
    let ns: Vec<u64> = by_day
        .column("n")?
        .cast(&DataType::UInt64)?
        .u64()?
        .iter()
        .map(|n| n.unwrap_or(0))
        .collect();

    let as_of = match p.as_of {
        Some(d) => d,
        None => {
            let last = (0..ns.len())
                .filter(|i| reasons[*i].is_none())
                .filter_map(|i| day[i])
                .max();
            match last {
                Some(days) => {
                    NaiveDate::from_ymd_opt(1970, 1, 1).expect("valid")
                        + Duration::days(days as i64 + 1)
                }
                None => return Err(InputError::NothingLeft { read: p.rows_read }.into()),
            }
        }
    };

    // Window rules. Customers left with returns only are found by the feature step, which
    // moves their rows to `customer_without_purchase` (see `account_no_purchase`).
    let start = p.lookback_days.map(|d| epoch_days(as_of) - d as i32);
    let window_reason = |d: Option<i32>| -> Option<&'static str> {
        match d {
            Some(d) if d >= epoch_days(as_of) => Some(AFTER_AS_OF),
            Some(d) if start.is_some_and(|s| d < s) => Some(BEFORE_LOOKBACK),
            _ => None,
        }
    };
    let reasons: Vec<Option<String>> = (0..ns.len())
        .map(|i| {
            reasons[i]
                .clone()
                .or_else(|| window_reason(day[i]).map(String::from))
        })
        .collect();
    let mut window_rules = vec![(
        day_number(c::DATE).gt_eq(lit(epoch_days(as_of))),
        AFTER_AS_OF,
    )];
    if let Some(s) = start {
        window_rules.push((day_number(c::DATE).lt(lit(s)), BEFORE_LOOKBACK));
    }
    let lf = lf.with_column(
        when(col(c::DROP_REASON).is_not_null())
            .then(col(c::DROP_REASON))
            .otherwise(reason_expr(&window_rules))
            .alias(c::DROP_REASON),
    );
    let count_of = |reason: Option<&str>| -> u64 {
        (0..ns.len())
            .filter(|i| reasons[*i].as_deref() == reason)
            .map(|i| ns[i])
            .sum()
    };
    let kept_rows = count_of(None);
    if kept_rows == 0 {
        return Err(InputError::NothingLeft { read: p.rows_read }.into());
    }
    let returns_kept: u64 = (0..ns.len())
        .filter(|i| reasons[*i].is_none() && returns[*i])
        .map(|i| ns[i])
        .sum();
    let kept = lf
        .filter(col(c::DROP_REASON).is_null())
        .drop(cols([c::DROP_REASON]));

    let mut quality = vec![QualityRow {
        step: "read".into(),
        rows: p.rows_read,
        action: "read",
    }];
    quality.push(QualityRow {
        step: "exact_duplicate".into(),
        rows: p.duplicates,
        action: if cl.duplicates == DropOrKeep::Drop {
            "dropped"
        } else {
            "info"
        },
    });
    for reason in REASONS {
        quality.push(QualityRow {
            step: (*reason).into(),
            rows: count_of(Some(reason)),
            action: "dropped",
        });
    }
    quality.push(QualityRow {
        step: "return_netted".into(),
        rows: returns_kept,
        action: "info",
    });
    quality.push(QualityRow {
        step: "kept".into(),
        rows: kept_rows,
        action: "kept",
    });
    Ok(Cleaned {
        transactions: kept,
        as_of,
        quality,
    })
}

/// Moves the rows of customers found without any purchase from `kept` (and their returns
/// from `return_netted`) to `customer_without_purchase`.
pub fn account_no_purchase(quality: &mut [QualityRow], rows: u64, returns: u64) {
    for q in quality.iter_mut() {
        match q.step.as_str() {
            NO_PURCHASE => q.rows += rows,
            "kept" => q.rows -= rows,
            "return_netted" => q.rows -= returns,
            _ => {}
        }
    }
}

/// `when(rule1) -> reason1, when(rule2) -> reason2, ... otherwise null`.
fn reason_expr(rules: &[(Expr, &str)]) -> Expr {
    let mut expr = lit(NULL).cast(DataType::String);
    for (cond, reason) in rules.iter().rev() {
        expr = when(cond.clone()).then(lit(*reason)).otherwise(expr);
    }
    expr
}

/// A short human description of one transaction row, for error messages.
fn describe_row(df: &DataFrame, i: usize) -> String {
    let mut parts = Vec::new();
    for name in [
        c::INVOICE_ID,
        c::CUSTOMER_ID,
        c::DATE,
        c::AMOUNT,
        c::UNIT_PRICE,
    ] {
        if let Ok(col) = df.column(name) {
            if let Ok(v) = col.get(i) {
                parts.push(format!("{name}={v}"));
            }
        }
    }
    format!("[{}]", parts.join(", "))
}
