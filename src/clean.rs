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
pub const NON_FINITE_VALUE: &str = "non_finite_value";
pub const NONPOSITIVE_PRICE: &str = "nonpositive_price";
/// Data-quality steps of the customer master (`[attributes]`): counted in customers.
pub const MASTER_ONLY: &str = "master_customer_without_purchase";
pub const MISSING_FROM_MASTER: &str = "customer_missing_from_master";
/// Their action: a count of customers, not rows.
pub const MASTER_ACTION: &str = "customers";
pub const FUTURE_DATE: &str = "future_date";
pub const RETURN_DROPPED: &str = "return_dropped";
pub const AFTER_AS_OF: &str = "after_as_of";
pub const BEFORE_LOOKBACK: &str = "before_lookback";
pub const NO_PURCHASE: &str = "customer_without_purchase";
/// The row rules' reasons in rule order; a row's reason code is its index plus one, and 0
/// means no row rule dropped it.
const ROW_REASONS: [&str; 7] = [
    MISSING_CUSTOMER_ID,
    MISSING_DATE,
    MISSING_AMOUNT,
    NON_FINITE_VALUE,
    NONPOSITIVE_PRICE,
    FUTURE_DATE,
    RETURN_DROPPED,
];
/// The reasons decided after the row rules, in the order the quality table lists them.
const LATER_REASONS: [&str; 3] = [AFTER_AS_OF, BEFORE_LOOKBACK, NO_PURCHASE];

/// Parameters of one cleaning pass.
#[derive(Debug, Clone)]
pub struct CleanParams<'a> {
    pub cleaning: &'a Cleaning,
    /// Transactions on or after this day are left out; `None`: the day after the last one.
    pub as_of: Option<NaiveDate>,
    pub lookback_days: Option<u32>,
    /// The calendar day of the run, for `future_dates`.
    pub today: NaiveDate,
    /// Rows read, for the quality table.
    pub rows_read: u64,
}

/// One line of `data_quality.parquet`.
#[derive(Debug, Clone, PartialEq, serde::Serialize)]
pub struct QualityRow {
    pub step: String,
    pub rows: u64,
    /// `read`, `dropped`, `kept` or `info` (kept rows worth knowing about, e.g. netted returns).
    pub action: &'static str,
}

/// The kept transactions and the account of what was dropped ([`clean_transactions`]).
#[cfg(test)]
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

/// Rows per (row-rule reason code, return flag, day): what `as_of` and the quality counts are
/// computed from, without reading the input again.
pub type DayCounts = Vec<DayCount>;
/// (row-rule reason code, return flag, day, rows).
pub type DayCount = (u8, bool, Option<i32>, u64);
/// (row-rule reason code, return flag, day) of a row.
pub type DayKey = (u8, bool, Option<i32>);

/// Marks every row with the code of the first row rule that drops it (column
/// `columns::DROP_REASON`, `Int32`, 0 when none), adds `is_return` and signs returns'
/// amounts and costs negative. Rules whose policy is `error` fail here, on the first offending
/// row. Rows are not filtered: the fold skips them (`features::clean_and_fold`).
pub fn mark_transactions(tx: LazyFrame, cl: &Cleaning, today: NaiveDate) -> Result<LazyFrame> {
    let mut tx = tx;
    let schema = tx.collect_schema()?;
    let has = |n: &str| schema.get(n).is_some();
    let lf = sign_returns(tx, cl, &has);
    let lf = lf.with_column(reason_expr(&row_rules(cl, today, &has)).alias(c::DROP_REASON));
    fail_on_error_policies(&lf, cl, today)?;
    Ok(lf)
}

/// Adds `is_return` and makes returns' amounts and costs negative. A line is a return when
/// its amount or quantity is negative or its invoice carries the cancellation prefix;
/// prefixed lines are made negative whatever sign they were typed with.
fn sign_returns(tx: LazyFrame, cl: &Cleaning, has: &dyn Fn(&str) -> bool) -> LazyFrame {
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
    let lf = tx.with_column(is_return.alias(c::IS_RETURN));
    let negative = |name: &str| {
        when(col(c::IS_RETURN))
            .then(col(name).abs() * lit(-1.0))
            .otherwise(col(name))
            .alias(name)
    };
    let mut fixes = vec![negative(c::AMOUNT)];
    if has(c::COST) {
        fixes.push(negative(c::COST));
    }
    lf.with_columns(fixes)
}

/// The row rules that do not depend on as_of, in order (the first match wins).
fn row_rules(
    cl: &Cleaning,
    today: NaiveDate,
    has: &dyn Fn(&str) -> bool,
) -> Vec<(Expr, &'static str)> {
    let price_bad = if has(c::UNIT_PRICE) {
        col(c::UNIT_PRICE).lt_eq(lit(0.0))
    } else {
        col(c::AMOUNT).eq(lit(0.0))
    };
    // NaN, infinities and overflowing products (quantity x price beyond f64) are not
    // amounts: they would turn every sum they enter into NaN or infinity. Always a rule of
    // its own (counted even when kept values are all finite); `error` stops on the first.
    let non_finite = [c::AMOUNT, c::QUANTITY, c::UNIT_PRICE, c::COST]
        .into_iter()
        .filter(|n| has(n))
        .map(|n| col(n).is_not_null().and(col(n).is_finite().not()))
        .reduce(Expr::or)
        .unwrap_or(lit(false));
    let mut rules: Vec<(Expr, &str)> = vec![
        (col(c::CUSTOMER_ID).is_null(), MISSING_CUSTOMER_ID),
        (col(c::DATE).is_null(), MISSING_DATE),
        (col(c::AMOUNT).is_null(), MISSING_AMOUNT),
        (non_finite, NON_FINITE_VALUE),
    ];
    if cl.nonpositive_price != DropKeepError::Keep {
        rules.push((price_bad, NONPOSITIVE_PRICE));
    }
    if cl.future_dates != DropKeepError::Keep {
        rules.push((day_number(c::DATE).gt(lit(epoch_days(today))), FUTURE_DATE));
    }
    if cl.returns == ReturnPolicy::Drop {
        rules.push((col(c::IS_RETURN), RETURN_DROPPED));
    }
    rules
}

/// Policies that turn a drop into an error stop on the first offending row, with the count.
fn fail_on_error_policies(lf: &LazyFrame, cl: &Cleaning, today: NaiveDate) -> Result<()> {
    check_error_policies(cl, today, &|reason: &str| {
        let bad = lf
            .clone()
            .filter(col(c::DROP_REASON).eq(lit(reason_code(reason) as i32)));
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
    })
}

/// Lines a rule drops, and one of them described: what [`check_error_policies`] asks of an
/// engine per rule.
pub type Offending<'a> = dyn Fn(&str) -> Result<Option<(u64, String)>> + 'a;

/// The errors of the rules whose policy is `error`, in rule order: `fail_on(reason)` gives
/// the count and an example of the lines the rule drops (`None`: none).
pub fn check_error_policies(cl: &Cleaning, today: NaiveDate, fail_on: &Offending) -> Result<()> {
    if cl.non_finite_value == DropOrError::Error {
        if let Some((count, example)) = fail_on(NON_FINITE_VALUE)? {
            return Err(InputError::NonFinite { count, example }.into());
        }
    }
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
                today: today.to_string(),
                example,
            }
            .into());
        }
    }
    Ok(())
}

/// The code of a row rule's reason in `columns::DROP_REASON` (0 for none).
pub fn reason_code(reason: &str) -> u8 {
    ROW_REASONS
        .iter()
        .position(|r| *r == reason)
        .map_or(0, |i| i as u8 + 1)
}

/// The last day a kept row may have, as far as the dates alone tell: the latest date, not
/// after `today` when future dates are dropped. The real last kept day can only be earlier
/// (when every row of the later days is dropped by another rule); `None` without any date.
pub fn latest_day(tx: LazyFrame, cl: &Cleaning, today: NaiveDate) -> Result<Option<i32>> {
    let mut day = day_number(c::DATE);
    if cl.future_dates != DropKeepError::Keep {
        day = day.clone().filter(day.lt_eq(lit(epoch_days(today))));
    }
    let df = collect_streaming(tx.select([day.max().alias("__max")]))?;
    Ok(df.column("__max")?.cast(&DataType::Int32)?.i32()?.get(0))
}

/// The kept rows of marked transactions (see [`mark_transactions`]): no row rule, and dated
/// in `[as_of - lookback_days, as_of)`.
#[cfg(test)]
pub fn kept_in_window(
    marked: LazyFrame,
    as_of: NaiveDate,
    lookback_days: Option<u32>,
) -> LazyFrame {
    let day = day_number(c::DATE);
    let mut keep = col(c::DROP_REASON)
        .eq(lit(0i32))
        .and(day.clone().lt(lit(epoch_days(as_of))));
    if let Some(d) = lookback_days {
        keep = keep.and(day.gt_eq(lit(epoch_days(as_of) - d as i32)));
    }
    marked.filter(keep).drop(cols([c::DROP_REASON]))
}

/// Applies the cleaning rules and picks `as_of`, with polars: one group-by pass counts the
/// rows, and the kept rows are returned as a plan. Runs use the feature pass
/// (`features::clean_and_fold`), which counts in the same pass as the features; this is the
/// specification it is tested against.
#[cfg(test)]
pub fn clean_transactions(tx: LazyFrame, p: &CleanParams) -> Result<Cleaned> {
    let marked = mark_transactions(tx, p.cleaning, p.today)?;
    let by_day = collect_streaming(
        marked
            .clone()
            .group_by([
                col(c::DROP_REASON),
                col(c::IS_RETURN),
                day_number(c::DATE).alias("__day"),
            ])
            .agg([len().alias("n")]),
    )?;
    let reasons = by_day.column(c::DROP_REASON)?.i32()?;
    let returns = by_day.column(c::IS_RETURN)?.bool()?;
    let days = by_day.column("__day")?.i32()?;
    let ns = by_day.column("n")?.cast(&DataType::UInt64)?;
    let counts: DayCounts = (0..by_day.height())
        .map(|i| {
            (
                reasons.get(i).unwrap_or(0) as u8,
                returns.get(i).unwrap_or(false),
                days.get(i),
                ns.u64().map(|n| n.get(i).unwrap_or(0)).unwrap_or(0),
            )
        })
        .collect();
    let (as_of, quality) = settle(&counts, p, 0)?;
    Ok(Cleaned {
        transactions: kept_in_window(marked, as_of, p.lookback_days),
        as_of,
        quality,
    })
}

/// Picks `as_of` (given, or the day after the last kept row) and accounts for every row from
/// the per-day counts (of the rows left after `duplicates` exact duplicates were dropped):
/// the row rules' reasons, then the window rules (after `as_of`, before the lookback).
pub fn settle(
    counts: &[DayCount],
    p: &CleanParams,
    duplicates: u64,
) -> Result<(NaiveDate, Vec<QualityRow>)> {
    let cl = p.cleaning;
    let as_of = match p.as_of {
        Some(d) => d,
        None => {
            let last = counts
                .iter()
                .filter(|(r, ..)| *r == 0)
                .filter_map(|(_, _, d, _)| *d)
                .max();
            match last {
                Some(days) => {
                    NaiveDate::from_ymd_opt(1970, 1, 1).expect("valid")
                        + Duration::days(days as i64 + 1)
                }
                None => return Err(nothing_left(counts, p, None, duplicates)),
            }
        }
    };

    // Window rules. Customers left with returns only are found by the feature step, which
    // moves their rows to `customer_without_purchase` (see `account_no_purchase`).
    let reason_of = |code: u8, d: Option<i32>| reason_of(code, d, Some(as_of), p.lookback_days);
    let count_of = |reason: Option<&str>| -> u64 {
        counts
            .iter()
            .filter(|(r, _, d, _)| reason_of(*r, *d) == reason)
            .map(|(.., n)| n)
            .sum()
    };
    let kept_rows = count_of(None);
    if kept_rows == 0 {
        return Err(nothing_left(counts, p, Some(as_of), duplicates));
    }
    let returns_kept: u64 = counts
        .iter()
        .filter(|(r, ret, d, _)| *ret && reason_of(*r, *d).is_none())
        .map(|(.., n)| n)
        .sum();

    let mut quality = vec![QualityRow {
        step: "read".into(),
        rows: p.rows_read,
        action: "read",
    }];
    quality.push(QualityRow {
        step: "exact_duplicate".into(),
        rows: duplicates,
        action: if cl.duplicates == DropOrKeep::Drop {
            "dropped"
        } else {
            "info"
        },
    });
    for reason in ROW_REASONS.iter().chain(&LATER_REASONS) {
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
    Ok((as_of, quality))
}

/// The reason a row left out by a row rule (`code` > 0) or, with `as_of` known, by the
/// window: `None` for a kept row.
fn reason_of(
    code: u8,
    day: Option<i32>,
    as_of: Option<NaiveDate>,
    lookback_days: Option<u32>,
) -> Option<&'static str> {
    if code > 0 {
        return Some(ROW_REASONS[code as usize - 1]);
    }
    let as_of = epoch_days(as_of?);
    match day {
        Some(d) if d >= as_of => Some(AFTER_AS_OF),
        Some(d) if lookback_days.is_some_and(|l| d < as_of - l as i32) => Some(BEFORE_LOOKBACK),
        _ => None,
    }
}

/// The error of a run that drops every row: how many each rule dropped, and at which as_of.
fn nothing_left(
    counts: &[DayCount],
    p: &CleanParams,
    as_of: Option<NaiveDate>,
    duplicates: u64,
) -> anyhow::Error {
    let mut by_rule: Vec<(&str, u64)> = Vec::new();
    if duplicates > 0 && p.cleaning.duplicates == DropOrKeep::Drop {
        by_rule.push(("exact_duplicate", duplicates));
    }
    for reason in ROW_REASONS.iter().chain(&LATER_REASONS) {
        let n: u64 = counts
            .iter()
            .filter(|(r, _, d, _)| reason_of(*r, *d, as_of, p.lookback_days) == Some(*reason))
            .map(|(.., n)| n)
            .sum();
        if n > 0 {
            by_rule.push((reason, n));
        }
    }
    let dropped = by_rule
        .iter()
        .map(|(r, n)| format!("{r} {}", crate::progress::thousands(*n)))
        .collect::<Vec<_>>()
        .join(", ");
    InputError::NothingLeft {
        read: crate::progress::thousands(p.rows_read),
        as_of: match as_of {
            Some(d) => format!(" as of {d}"),
            None => String::new(),
        },
        dropped: if dropped.is_empty() {
            "none".into()
        } else {
            dropped
        },
    }
    .into()
}

/// The error of a run whose every customer was left out (see [`account_no_purchase`]): the
/// quality account says which rules dropped the rows.
pub fn no_customers(quality: &[QualityRow], as_of: NaiveDate, rows_read: u64) -> anyhow::Error {
    let dropped: Vec<String> = quality
        .iter()
        .filter(|q| q.action == "dropped" && q.rows > 0)
        .map(|q| format!("{} {}", q.step, crate::progress::thousands(q.rows)))
        .collect();
    InputError::NothingLeft {
        read: crate::progress::thousands(rows_read),
        as_of: format!(" as of {as_of}"),
        dropped: dropped.join(", "),
    }
    .into()
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

/// `when(rule1) -> code1, when(rule2) -> code2, ... otherwise 0`, as `Int32` codes (the
/// polars build has no 8-bit integers).
fn reason_expr(rules: &[(Expr, &str)]) -> Expr {
    let mut expr = lit(0i32);
    for (cond, reason) in rules.iter().rev() {
        expr = when(cond.clone())
            .then(lit(reason_code(reason) as i32))
            .otherwise(expr);
    }
    expr
}

/// A short human description of one transaction row, for error messages.
pub fn describe_row(df: &DataFrame, i: usize) -> String {
    let mut parts = Vec::new();
    for name in [
        c::INVOICE_ID,
        c::CUSTOMER_ID,
        c::DATE,
        c::AMOUNT,
        c::QUANTITY,
        c::UNIT_PRICE,
        c::COST,
    ] {
        if let Ok(col) = df.column(name) {
            if let Ok(v) = col.get(i) {
                parts.push(format!("{name}={v}"));
            }
        }
    }
    format!("[{}]", parts.join(", "))
}

/// Cleaning that drops whatever a rule finds and nets returns, for tests.
#[cfg(test)]
pub(crate) fn drop_everything() -> Cleaning {
    Cleaning {
        missing_customer_id: DropOrError::Drop,
        returns: ReturnPolicy::Net,
        return_invoice_prefix: None,
        nonpositive_price: DropKeepError::Drop,
        duplicates: DropOrKeep::Keep,
        future_dates: DropKeepError::Drop,
        non_finite_value: DropOrError::Drop,
        normalize_customer_id: true,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Three lines: a good one, one without a customer, one dated after `today` at a zero
    /// price (the price rule comes first, so it counts as a zero price).
    fn lines() -> LazyFrame {
        let day = |d: &str| epoch_days(crate::config::parse_iso_date(d).unwrap());
        DataFrame::new(
            3,
            vec![
                Column::new(c::CUSTOMER_ID.into(), [Some("a"), None, Some("b")]),
                Column::new(
                    c::DATE.into(),
                    [day("2024-01-05"), day("2024-01-06"), day("2031-01-01")],
                )
                .cast(&DataType::Date)
                .unwrap(),
                Column::new(c::INVOICE_ID.into(), ["I1", "I2", "I3"]),
                Column::new(c::AMOUNT.into(), [10.0, 4.0, 0.0]),
            ],
        )
        .unwrap()
        .lazy()
    }

    fn today() -> NaiveDate {
        NaiveDate::from_ymd_opt(2025, 1, 1).unwrap()
    }

    /// The reason codes `mark_transactions` gives `lines()` under `cl`.
    fn codes(cl: &Cleaning) -> Vec<Option<i32>> {
        let marked = mark_transactions(lines(), cl, today())
            .unwrap()
            .collect()
            .unwrap();
        let codes = marked.column(c::DROP_REASON).unwrap().i32().unwrap();
        codes.iter().collect()
    }

    /// The error `mark_transactions` stops with on `lines()` under `cl`.
    fn error(cl: &Cleaning) -> String {
        mark_transactions(lines(), cl, today())
            .err()
            .unwrap()
            .to_string()
    }

    #[test]
    fn rows_are_marked_with_their_first_reason() {
        // 0 kept, 1 missing customer, 5 zero price (before the future-date rule).
        assert_eq!(codes(&drop_everything()), [Some(0), Some(1), Some(5)]);
    }

    #[test]
    fn error_policies_name_the_count_and_an_example() {
        let mut cl = drop_everything();
        cl.missing_customer_id = DropOrError::Error;
        let e = error(&cl);
        assert!(
            e.contains("1 row") && e.contains("invoice_id=\"I2\""),
            "{e}"
        );

        let mut cl = drop_everything();
        cl.nonpositive_price = DropKeepError::Keep;
        cl.future_dates = DropKeepError::Error;
        let e = error(&cl);
        assert!(
            e.contains("dated after 2025-01-01") && e.contains("\"I3\""),
            "{e}"
        );

        // Kept, the zero price and the future date pass.
        let mut cl = drop_everything();
        cl.nonpositive_price = DropKeepError::Keep;
        cl.future_dates = DropKeepError::Keep;
        assert_eq!(codes(&cl), [Some(0), Some(1), Some(0)]);
    }
}
