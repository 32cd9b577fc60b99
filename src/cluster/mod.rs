//! The feature pass on an Apache DataFusion Ballista cluster (`[engine] kind = "ballista"`):
//! the scheduler plans the queries of [`sql`] over the input paths, the executors scan and
//! aggregate, and this process receives only what is per day or per customer: the row counts
//! that `clean::settle` turns into the quality account, and the customer table of every
//! snapshot (as Parquet). Grading, clustering, history and the report then run here exactly
//! as after the local pass. docs/distributed.md says what runs where and how the cluster's
//! duplicate check differs.

mod session;
pub mod sql;

use std::collections::BTreeMap;
use std::path::Path;

use anyhow::{anyhow, Result};
use chrono::NaiveDate;
use polars::prelude::*;

use crate::clean::{self, epoch_days, settle, CleanParams, DayCount};
use crate::columns as c;
use crate::config::{InputFormat, Pipeline};
use crate::error::InputError;
use crate::features::fold::ratio;
use crate::features::{round_sum, CleanFeatures, EarlierFeatures, Features};
use crate::load::{self, InputFile, Loaded};
use crate::plan::RunPlan;
use crate::progress::{thousands, Progress};

use session::Cluster;
use sql::{Kind, Source, Spec};

/// Cleans and aggregates the input on the cluster at `url`: what `load::load_transactions`
/// and `features::clean_and_fold_history` do locally, with the same result types. `earlier`
/// gives the earlier snapshots' dates for the graded one.
pub fn cluster_pass(
    plan: &RunPlan,
    url: &str,
    host: &str,
    port: u16,
    lookback_days: Option<u32>,
    earlier: &dyn Fn(NaiveDate) -> Vec<NaiveDate>,
    progress: &Progress,
) -> Result<(Loaded, CleanFeatures)> {
    let p = &plan.pipeline;
    let cluster = Cluster::connect(url, host, port)?;
    progress.stage("cluster", &format!("connected to the scheduler at {url}"));
    let mut sources = Vec::with_capacity(p.input.paths.len());
    for (i, path) in p.input.paths.iter().enumerate() {
        let format = pattern_format(path, p.input.format)?;
        sources.push(cluster.register(i, path, format, p)?);
    }
    let date_formats = date_formats(&cluster, &sources, p)?;
    cluster.date_columns(
        load::mapped_columns(p)
            .into_iter()
            .filter_map(|(role, name)| {
                let (_, format) = date_formats.iter().find(|(r, _)| r == role)?;
                Some((name.to_string(), format.clone()?))
            })
            .collect(),
    );
    for (role, f) in &date_formats {
        progress.detail(&format!(
            "date format of {role}: {}",
            f.as_deref().unwrap_or("(typed date)")
        ));
    }
    let spec = Spec {
        p,
        sources: &sources,
        date_formats: &date_formats,
        today: epoch_days(plan.today),
    };
    let mut files = check_numbers(&cluster, &spec, progress)?;
    let rows_read: u64 = files.iter().map(|f| f.rows).sum();
    progress.stage(
        "load",
        &format!(
            "{} rows under {} path(s), read by the cluster",
            thousands(rows_read),
            files.len()
        ),
    );

    // One pass: rows per (source, duplicate, rule, return, day).
    let counted = cluster.query("counting rows per rule and day", &spec.counts(), progress)?;
    let drop = p.cleaning.duplicates == crate::config::DropOrKeep::Drop;
    let (counts, duplicates) = day_counts(&counted, &mut files, drop)?;
    let params = CleanParams {
        cleaning: &p.cleaning,
        as_of: plan.as_of.date,
        lookback_days,
        today: plan.today,
        rows_read,
    };
    check_error_policies(&cluster, &spec, &counts, &params, progress)?;
    let (as_of, quality) = settle(&counts, &params, duplicates)?;
    let as_of_day = epoch_days(as_of);
    let mut windows: Vec<i32> = earlier(as_of)
        .into_iter()
        .map(epoch_days)
        .filter(|d| *d < as_of_day)
        .collect();
    windows.push(as_of_day);
    let spans: Vec<(i32, Option<i32>)> = windows
        .iter()
        .map(|d| (*d, lookback_days.map(|l| d - l as i32)))
        .collect();
    let table = cluster.query(
        &format!("aggregating customers of {} snapshot(s)", spans.len()),
        &spec.features(&spans),
        progress,
    )?;
    let mut per_snapshot = split_snapshots(table, spans.len())?;
    let main = per_snapshot
        .pop()
        .ok_or_else(|| anyhow!("the cluster returned no customer table"))?;
    let earlier = windows
        .iter()
        .zip(per_snapshot)
        .map(|(day, features)| {
            let date = day_date(*day);
            let at = CleanParams {
                as_of: Some(date),
                ..params.clone()
            };
            EarlierFeatures {
                as_of: date,
                features: settle(&counts, &at, duplicates).map(|_| features),
            }
        })
        .collect();
    let loaded = Loaded {
        transactions: DataFrame::empty().lazy(),
        files,
        date_formats,
        notes: vec![format!(
            "features computed on the Ballista cluster at {url} (docs/distributed.md)"
        )],
    };
    Ok((
        loaded,
        CleanFeatures {
            as_of,
            quality,
            duplicates: Vec::new(),
            features: main,
            earlier,
        },
    ))
}

fn day_date(day: i32) -> NaiveDate {
    NaiveDate::from_ymd_opt(1970, 1, 1).expect("valid date") + chrono::Duration::days(day as i64)
}

/// CSV or Parquet, from `[input] format` or, as the local reader decides it, the extension
/// of the pattern (`*.parquet`, a file) or of the first data file below a folder (Hive-style
/// `key=value` folders too); a folder this machine cannot list needs `[input] format`.
fn pattern_format(path: &Path, configured: InputFormat) -> Result<InputFormat> {
    if configured != InputFormat::Auto || !path.is_dir() {
        return load::file_format(path, configured);
    }
    let mut files = Vec::new();
    load::collect_data_files(path, &mut files)?;
    files.sort();
    match files.first() {
        Some(first) => load::file_format(first, configured),
        None => Err(anyhow!(
            "cannot tell the format of the files under {} from their names; set [input] format = \"parquet\" or \"csv\"",
            path.display()
        )),
    }
}

/// The date format of every text date column: `[input] date_format`, else detected as the
/// local reader does, from 2,000 values of the first path (a column that reads both
/// day-first and month-first is decided on those values only).
fn date_formats(
    cluster: &Cluster,
    sources: &[Source],
    p: &Pipeline,
) -> Result<Vec<(String, Option<String>)>> {
    let first = &sources[0];
    let path = &p.input.paths[0];
    let mut out = Vec::new();
    for (role, name) in load::mapped_columns(p)
        .into_iter()
        .filter(|(r, _)| load::is_date_role(r))
    {
        let kind = first
            .columns
            .iter()
            .find(|(n, _)| n == name)
            .map_or(Kind::Other, |(_, k)| *k);
        match kind {
            Kind::Date | Kind::Timestamp => {
                out.push((role.to_string(), None));
                continue;
            }
            Kind::Text => {}
            other => {
                return Err(InputError::NotADate {
                    file: path.clone(),
                    column: name.to_string(),
                    dtype: format!("{other:?}"),
                }
                .into())
            }
        }
        if let Some(f) = &p.input.date_format {
            out.push((role.to_string(), Some(f.clone())));
            continue;
        }
        let sample = cluster.values(&first.table, name, load::DATE_SAMPLE)?;
        let values: Vec<String> = sample
            .iter()
            .map(|s| s.trim().to_string())
            .filter(|s| !s.is_empty())
            .collect();
        if values.is_empty() {
            out.push((role.to_string(), Some("%Y-%m-%d".to_string())));
            continue;
        }
        let column = Column::new(name.into(), &values);
        let raw = DataFrame::new(values.len(), vec![column])?.lazy();
        let format = load::detect_date_format(path, &raw, name, &values)?;
        out.push((role.to_string(), Some(format)));
    }
    Ok(out)
}

/// Rows per source, and an error on the first text value of a number column that does not
/// parse (`load::check_values`); a path without rows is an error too.
fn check_numbers(cluster: &Cluster, spec: &Spec, progress: &Progress) -> Result<Vec<InputFile>> {
    let p = spec.p;
    let mut files = Vec::with_capacity(spec.sources.len());
    for (source, path) in spec.sources.iter().zip(&p.input.paths) {
        let names: Vec<String> = load::mapped_columns(p)
            .into_iter()
            .filter(|(role, _)| {
                matches!(
                    *role,
                    "amount" | "quantity" | "unit_price" | "unit_cost" | "cost" | "profit"
                )
            })
            .map(|(_, n)| n.to_string())
            .filter(|n| {
                source
                    .columns
                    .iter()
                    .any(|(m, k)| m == n && !matches!(k, Kind::Float | Kind::Integer))
            })
            .collect();
        let df = cluster.query(
            &format!("checking {}", path.display()),
            &spec.number_check(source, &names),
            progress,
        )?;
        let rows = u64_at(&df, "nrows")?;
        for (i, name) in names.iter().enumerate() {
            let bad = u64_at(&df, &format!("bad{i}"))?;
            if bad > 0 {
                let example = df
                    .column(&format!("ex{i}"))?
                    .str()?
                    .get(0)
                    .unwrap_or("")
                    .to_string();
                return Err(InputError::BadNumber {
                    file: path.clone(),
                    column: name.clone(),
                    count: bad,
                    example,
                    decimal_comma: p.input.csv.decimal_comma,
                }
                .into());
            }
        }
        if rows == 0 {
            return Err(InputError::NoRows { file: path.clone() }.into());
        }
        files.push(InputFile {
            path: path.clone(),
            format: if source.csv { "csv" } else { "parquet" },
            rows,
            duplicates: 0,
        });
    }
    Ok(files)
}

/// The first value of a count column (0 when null).
fn u64_at(df: &DataFrame, name: &str) -> Result<u64> {
    Ok(df
        .column(name)?
        .cast(&DataType::UInt64)?
        .u64()?
        .get(0)
        .unwrap_or(0))
}

/// The counts query's rows as `clean::settle` takes them (duplicates left out when `drop`,
/// else counted with the rules like any line), the duplicates per source written into
/// `files`, and their total.
fn day_counts(df: &DataFrame, files: &mut [InputFile], drop: bool) -> Result<(Vec<DayCount>, u64)> {
    let src = df.column(sql::SRC)?.cast(&DataType::Int64)?;
    let src = src.i64()?;
    let dup = df.column(sql::DUP)?.bool()?;
    let reason = df.column(sql::REASON)?.cast(&DataType::Int64)?;
    let reason = reason.i64()?;
    let ret = df.column(c::IS_RETURN)?.bool()?;
    let day = df.column(sql::DAY)?.cast(&DataType::Int32)?;
    let day = day.i32()?;
    let n = df.column("n")?.cast(&DataType::UInt64)?;
    let n = n.u64()?;
    let mut counts: BTreeMap<(u8, bool, Option<i32>), u64> = BTreeMap::new();
    let mut duplicates = 0;
    for i in 0..df.height() {
        let rows = n.get(i).unwrap_or(0);
        if dup.get(i) == Some(true) {
            duplicates += rows;
            if let Some(f) = src
                .get(i)
                .and_then(|s| usize::try_from(s).ok())
                .and_then(|s| files.get_mut(s))
            {
                f.duplicates += rows;
            }
            if drop {
                continue;
            }
        }
        let key = (
            reason.get(i).unwrap_or(0) as u8,
            ret.get(i) == Some(true),
            day.get(i),
        );
        *counts.entry(key).or_insert(0) += rows;
    }
    Ok((
        counts
            .into_iter()
            .map(|((r, t, d), n)| (r, t, d, n))
            .collect(),
        duplicates,
    ))
}

/// Rules whose policy is `error` stop the run on the first line they drop, as locally
/// (`clean::mark_transactions`).
fn check_error_policies(
    cluster: &Cluster,
    spec: &Spec,
    counts: &[DayCount],
    params: &CleanParams,
    progress: &Progress,
) -> Result<()> {
    clean::check_error_policies(params.cleaning, params.today, &|reason| {
        let code = clean::reason_code(reason);
        let n: u64 = counts
            .iter()
            .filter(|(r, ..)| *r == code)
            .map(|(.., n)| n)
            .sum();
        if n == 0 {
            return Ok(None);
        }
        let first = cluster.query(
            &format!("finding a line of {reason}"),
            &spec.example(code),
            progress,
        )?;
        Ok(Some((n, clean::describe_row(&first, 0))))
    })
}

/// The features table split by snapshot, each as the local pass gives it: sorted by
/// customer, customers without a purchase left out and counted.
fn split_snapshots(table: DataFrame, snapshots: usize) -> Result<Vec<Features>> {
    let snap = table.column(sql::SNAP)?.cast(&DataType::Int64)?;
    let mut out = Vec::with_capacity(snapshots);
    for s in 0..snapshots {
        let mask = snap.i64()?.equal(s as i64);
        let part = table
            .filter(&mask)?
            .sort([c::CUSTOMER_ID], SortMultipleOptions::default())?;
        out.push(Features::from_all(finish_table(&part)?)?);
    }
    Ok(out)
}

/// The customer table of one snapshot in the local pass's columns, from the cluster's sums
/// and counts: sums rounded and ratios taken as `features::fold` does.
fn finish_table(raw: &DataFrame) -> Result<DataFrame> {
    let f = |name: &str| -> Result<Vec<Option<f64>>> {
        Ok(raw
            .column(name)?
            .cast(&DataType::Float64)?
            .f64()?
            .iter()
            .collect())
    };
    let i = |name: &str| -> Result<Vec<Option<i64>>> {
        Ok(raw
            .column(name)?
            .cast(&DataType::Int64)?
            .i64()?
            .iter()
            .collect())
    };
    let rounded = |name: &str| -> Result<Vec<Option<f64>>> {
        Ok(f(name)?.into_iter().map(|x| x.map(round_sum)).collect())
    };
    let ratios = |num: &[Option<f64>], den: &[Option<f64>]| -> Vec<Option<f64>> {
        num.iter()
            .zip(den)
            .map(|(n, d)| match (n, d) {
                (Some(n), Some(d)) => ratio(*n, *d),
                _ => None,
            })
            .collect()
    };
    let as_f64 =
        |v: &[Option<i64>]| -> Vec<Option<f64>> { v.iter().map(|x| x.map(|x| x as f64)).collect() };
    let minus = |a: &[Option<i64>], b: &[Option<i64>]| -> Vec<Option<i64>> {
        a.iter().zip(b).map(|(a, b)| Some((*a)? - (*b)?)).collect()
    };
    let float = |name: &str, v: Vec<Option<f64>>| Column::new(name.into(), v);
    let int = |name: &str, v: Vec<Option<i64>>| Column::new(name.into(), v);
    let (as_of, fday, lday) = (i("as_of")?, i("fday")?, i("lday")?);
    let (frequency, purchase_days) = (i("frequency")?, i("purchase_days")?);
    let repeats: Vec<Option<f64>> = purchase_days
        .iter()
        .map(|d| d.map(|d| d as f64 - 1.0))
        .collect();
    let (monetary, gross, returned) = (
        rounded("monetary")?,
        rounded("gross")?,
        rounded("returned")?,
    );
    let date = |name: &str, v: &[Option<i64>]| -> Result<Column> {
        let days: Int32Chunked = v.iter().map(|d| d.map(|d| d as i32)).collect();
        Ok(days.with_name(name.into()).into_date().into_column())
    };
    let mut columns = vec![
        raw.column(c::CUSTOMER_ID)?.clone(),
        int(c::RECENCY_DAYS, minus(&as_of, &lday)),
        int(c::FREQUENCY, frequency.clone()),
        int(c::PURCHASE_DAYS, purchase_days.clone()),
        float(c::MONETARY, monetary.clone()),
        float(c::GROSS_REVENUE, gross.clone()),
        float(c::RETURNED_VALUE, returned.clone()),
        float(c::RETURN_RATE, ratios(&returned, &gross)),
        float(c::AVG_ORDER_VALUE, ratios(&monetary, &as_f64(&frequency))),
        date(c::FIRST_PURCHASE, &fday)?,
        date(c::LAST_PURCHASE, &lday)?,
        int(c::TENURE_DAYS, minus(&as_of, &fday)),
        float(
            c::MEAN_DAYS_BETWEEN,
            ratios(&as_f64(&minus(&lday, &fday)), &repeats),
        ),
        float(
            c::MEAN_REPEAT_VALUE,
            ratios(&rounded("repeat_value")?, &repeats),
        ),
        float(c::MONETARY_LAST_PERIOD, rounded("lp")?),
        float(c::MONETARY_PREV_PERIOD, rounded("pp")?),
    ];
    if raw.column("profit").is_ok() {
        let profit = rounded("profit")?;
        columns.push(float(c::MARGIN, ratios(&profit, &monetary)));
        columns.insert(columns.len() - 1, float(c::PROFIT, profit));
    }
    if raw.column("invoices_due").is_ok() {
        let due = i("invoices_due")?;
        columns.extend([
            int(c::INVOICES_DUE, due.clone()),
            float(
                c::ON_TIME_RATE,
                ratios(&as_f64(&i("on_time")?), &as_f64(&due)),
            ),
            float(
                c::MEAN_DAYS_LATE,
                ratios(&f("late_sum")?, &as_f64(&i("late_n")?)),
            ),
            int(c::OVERDUE_INVOICES, i("overdue_invoices")?),
            float(c::OVERDUE_AMOUNT, rounded("overdue_amount")?),
            int(c::OLDEST_OVERDUE_DAYS, i("oldest_overdue")?),
        ]);
    }
    for name in [c::MAIN_REGION, sql::ROWS, sql::RETURNS] {
        if let Ok(col) = raw.column(name) {
            columns.push(col.clone());
        }
    }
    Ok(DataFrame::new(raw.height(), columns)?)
}
