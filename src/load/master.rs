//! Reads the customer master (`[attributes]`): one row per customer, the declared columns
//! typed (numbers parsed with the same rules as transaction amounts, text kept), customer IDs
//! normalised like the transactions'. Every problem names the file, the column, an example
//! and what to change.

use std::path::Path;

use anyhow::{Context, Result};
use polars::prelude::*;

use super::{
    catch_panic, file_format, id_expr, number_expr, read_error, resolve_inputs, scan_file,
    InputFile,
};
use crate::clean::collect_streaming;
use crate::columns as c;
use crate::config::attributes::AttributesParams;
use crate::config::InputFormat;
use crate::error::InputError;

/// A problem of the master that names its file, line and column already.
#[derive(Debug, thiserror::Error)]
#[error("{0}")]
struct MasterError(String);

fn master_error(message: String) -> anyhow::Error {
    MasterError(message).into()
}

/// The customer master as read: `customer_id`, then the numeric attributes (float64) and
/// the categorical ones (text), in the order `[attributes]` declares them.
pub struct Master {
    pub table: DataFrame,
    pub files: Vec<InputFile>,
    pub notes: Vec<String>,
}

/// Reads every file of the master, checks it and stacks them.
pub fn load_master(a: &AttributesParams, pipeline: &Path, normalise_ids: bool) -> Result<Master> {
    let (paths, notes) = resolve_inputs(&a.paths, pipeline).map_err(in_attributes)?;
    let mut frames = Vec::with_capacity(paths.len());
    let mut files = Vec::with_capacity(paths.len());
    for path in &paths {
        let format = file_format(path, a.format).map_err(in_attributes)?;
        let df = catch_panic(|| read_file(path, format, a, normalise_ids)).map_err(|e| {
            if e.downcast_ref::<MasterError>().is_some() {
                e
            } else {
                read_error(path, format, &a.csv, e)
            }
        })?;
        files.push(InputFile {
            path: path.clone(),
            format: match format {
                InputFormat::Parquet => "parquet",
                _ => "csv",
            },
            rows: df.height() as u64,
            duplicates: 0,
        });
        frames.push((path.clone(), df));
    }
    check_unique_ids(&frames)?;
    let mut table = frames.remove(0).1;
    for (_, df) in &frames {
        table.vstack_mut(df)?;
    }
    table.rechunk_mut();
    Ok(Master {
        table,
        files,
        notes,
    })
}

/// The file errors of the transactions' reader, said of the master's `[attributes]` keys.
fn in_attributes(e: anyhow::Error) -> anyhow::Error {
    match e.downcast_ref::<InputError>() {
        Some(InputError::MissingFile { file, pipeline }) => master_error(format!(
            "customer master file {} does not exist (listed in [attributes] paths of {}; paths are relative to the pipeline file's folder)",
            file.display(),
            pipeline.display()
        )),
        Some(InputError::NoMatch { pattern, pipeline }) => master_error(format!(
            "no file matches {pattern:?} (from [attributes] paths of {})",
            pipeline.display()
        )),
        Some(InputError::UnknownFormat { file }) => master_error(format!(
            "cannot tell the format of customer master {} from its extension; set [attributes] format = \"csv\" or \"parquet\"",
            file.display()
        )),
        _ => e,
    }
}

/// One file of the master: its declared columns, typed.
fn read_file(
    path: &Path,
    format: InputFormat,
    a: &AttributesParams,
    normalise_ids: bool,
) -> Result<DataFrame> {
    let raw = scan_file(path, format, &a.csv)?;
    let schema = raw
        .clone()
        .collect_schema()
        .map_err(anyhow::Error::from)
        .with_context(|| format!("reading the header of {}", path.display()))?;
    let wanted = std::iter::once(&a.customer_id)
        .chain(a.numeric.iter().map(|(n, _)| n))
        .chain(&a.categorical);
    for name in wanted {
        if schema.get(name).is_none() {
            let available: Vec<String> = schema.iter_names().map(|n| format!("{n:?}")).collect();
            return Err(master_error(format!(
                "customer master {} has no column {name:?} (named in [attributes]); its columns are: {}",
                path.display(),
                available.join(", ")
            )));
        }
    }
    let dtype = |name: &str| schema.get(name).cloned().unwrap_or(DataType::String);
    let mut exprs =
        vec![id_expr(&a.customer_id, &dtype(&a.customer_id), normalise_ids).alias(c::CUSTOMER_ID)];
    for (name, _) in &a.numeric {
        exprs.push(number_expr(name, &dtype(name), a.csv.decimal_comma).alias(name.as_str()));
    }
    for name in &a.categorical {
        exprs.push(
            col(name.as_str())
                .cast(DataType::String)
                .str()
                .strip_chars(lit(NULL))
                .alias(name.as_str()),
        );
    }
    // Raw text of the numeric columns, to name a value that is not a number.
    let raw_numbers: Vec<Expr> = a
        .numeric
        .iter()
        .map(|(n, _)| {
            col(n.as_str())
                .cast(DataType::String)
                .str()
                .strip_chars(lit(NULL))
                .alias(format!("__raw_{n}"))
        })
        .collect();
    let mut all = exprs.clone();
    all.extend(raw_numbers);
    let df = collect_streaming(raw.select(all))?;
    check_numbers(path, &df, a)?;
    check_ids_present(path, &df, &a.customer_id)?;
    let keep: Vec<&str> = std::iter::once(c::CUSTOMER_ID)
        .chain(a.numeric.iter().map(|(n, _)| n.as_str()))
        .chain(a.categorical.iter().map(String::as_str))
        .collect();
    Ok(df.select(keep)?)
}

/// A numeric attribute whose text is not a number is an error naming the line.
fn check_numbers(path: &Path, df: &DataFrame, a: &AttributesParams) -> Result<()> {
    for (name, _) in &a.numeric {
        let parsed = df.column(name)?.f64()?;
        let raw = df.column(&format!("__raw_{name}"))?.str()?;
        let bad: Vec<usize> = (0..df.height())
            .filter(|&i| parsed.get(i).is_none() && raw.get(i).is_some_and(|v| !v.is_empty()))
            .collect();
        if let Some(&first) = bad.first() {
            return Err(master_error(format!(
                "customer master {}, column {name:?}: {} value(s) are not numbers, e.g. {:?} on line {}; {}",
                path.display(),
                bad.len(),
                raw.get(first).unwrap_or(""),
                first + 2,
                if a.csv.decimal_comma {
                    "with decimal_comma = true write numbers as 1234,56"
                } else {
                    "write plain numbers such as 1234.56, declare the column categorical, or set [attributes.csv] decimal_comma = true for 1234,56"
                }
            )));
        }
    }
    Ok(())
}

/// A master row without a customer ID cannot be joined: an error naming the line.
fn check_ids_present(path: &Path, df: &DataFrame, column: &str) -> Result<()> {
    let ids = df.column(c::CUSTOMER_ID)?.str()?;
    if let Some(i) = (0..df.height()).find(|&i| ids.get(i).is_none()) {
        return Err(master_error(format!(
            "customer master {}, line {}: no customer ID in column {column:?}; every row of the master needs one",
            path.display(),
            i + 2
        )));
    }
    Ok(())
}

/// A customer ID listed twice in the master (in one file or two) is an error naming it and
/// where it appears.
fn check_unique_ids(frames: &[(std::path::PathBuf, DataFrame)]) -> Result<()> {
    let mut seen: std::collections::HashMap<&str, (usize, usize)> = Default::default();
    for (f, (path, df)) in frames.iter().enumerate() {
        let ids = df.column(c::CUSTOMER_ID)?.str()?;
        for (i, id) in ids.iter().enumerate() {
            let Some(id) = id else { continue };
            if let Some((pf, pi)) = seen.insert(id, (f, i)) {
                let first = &frames[pf].0;
                return Err(master_error(format!(
                    "customer master: customer ID {id:?} appears twice, on line {} of {} and on line {} of {}; keep one row per customer",
                    pi + 2,
                    first.display(),
                    i + 2,
                    path.display()
                )));
            }
        }
    }
    Ok(())
}
