//! The only place that reads input files: resolves paths and globs, decodes CSV encodings,
//! checks the schema against the pipeline's column map, parses dates and numbers, and returns
//! one normalised transaction frame. It never filters rows (that is `clean`).

use std::path::{Path, PathBuf};

use anyhow::{Context, Result};
use chrono::{NaiveDate, NaiveDateTime};
use polars::prelude::*;
use polars_utils::aliases::PlSeedableRandomStateQuality;

use crate::clean::collect_streaming;
use crate::columns as c;
use crate::config::{CostColumn, CsvOptions, InputFormat, Pipeline, ValueColumns};
use crate::error::InputError;

mod diagnose;
mod master;
pub use diagnose::{catch_panic, panic_message};
pub use master::{load_master, Master};

/// One input file and what was read from it.
#[derive(Debug, Clone, serde::Serialize)]
pub struct InputFile {
    pub path: PathBuf,
    pub format: &'static str,
    /// Data rows in the file.
    pub rows: u64,
    /// Exact duplicate rows removed (all columns of the file equal, see
    /// [`row_fingerprint`]); counted by the feature pass, 0 until then.
    pub duplicates: u64,
}

/// The normalised transactions of all input files, not yet cleaned.
pub struct Loaded {
    /// Columns: see `crate::columns` (`customer_id`, `date`, `amount`, ...). A plan over the
    /// input files: every use reads them again in batches, nothing is held in memory.
    pub transactions: LazyFrame,
    pub files: Vec<InputFile>,
    /// The date format used per date role (`None` when the column was already a date).
    pub date_formats: Vec<(String, Option<String>)>,
    /// Things the user should know about the inputs (a file listed twice, ...).
    pub notes: Vec<String>,
}

impl Loaded {
    pub fn rows_read(&self) -> u64 {
        self.files.iter().map(|f| f.rows).sum()
    }
}

/// Formats tried, in order, when `date_format` is `auto`. Day-first and month-first are both
/// tried; a column that fits both is ambiguous and must be pinned in the pipeline file.
const DATE_FORMATS: &[&str] = &[
    "%Y-%m-%d",
    "%Y-%m-%d %H:%M:%S",
    "%Y-%m-%d %H:%M",
    "%Y-%m-%dT%H:%M:%S",
    "%Y-%m-%d %H:%M:%S%.f",
    "%Y-%m-%dT%H:%M:%S%.f",
    "%Y/%m/%d",
    "%Y/%m/%d %H:%M:%S",
    "%Y/%m/%d %H:%M",
    "%m/%d/%Y",
    "%m/%d/%Y %H:%M",
    "%m/%d/%Y %H:%M:%S",
    "%d/%m/%Y",
    "%d/%m/%Y %H:%M",
    "%d/%m/%Y %H:%M:%S",
    "%d.%m.%Y",
    "%d.%m.%Y %H:%M",
    "%d-%m-%Y",
    "%Y%m%d",
];

/// How many values of a date column are looked at first to pick its format. When they fit
/// both day/month and month/day, the whole column decides.
pub(crate) const DATE_SAMPLE: usize = 2000;

/// Opens one input file and checks it: its columns, the date formats (chosen on the first
/// file and reused, so that all files parse alike), and every value parsed from text.
/// Returns the file as a plan, its schema and its row count.
fn check_file(
    path: &Path,
    format: InputFormat,
    p: &Pipeline,
    date_formats: &mut Vec<(String, Option<String>)>,
) -> Result<(LazyFrame, SchemaRef, u64)> {
    let raw = scan_file(path, format, &p.input.csv)?;
    let schema = raw
        .clone()
        .collect_schema()
        .map_err(anyhow::Error::from)
        .with_context(|| format!("reading the header of {}", path.display()))?;
    check_columns(path, &schema, p)?;
    if date_formats.is_empty() {
        *date_formats = choose_date_formats(path, &raw, &schema, p)?;
    }
    let rows = check_values(path, &raw, &schema, p, date_formats)?;
    if rows == 0 {
        return Err(InputError::NoRows {
            file: path.to_path_buf(),
        }
        .into());
    }
    Ok((raw, schema, rows))
}

/// Reads every input file of the pipeline.
pub fn load_transactions(p: &Pipeline) -> Result<Loaded> {
    let (paths, notes) = resolve_inputs(&p.input.paths, &p.source_path)?;
    let mut frames = Vec::with_capacity(paths.len());
    let mut files = Vec::with_capacity(paths.len());
    let mut date_formats: Vec<(String, Option<String>)> = Vec::new();
    for (index, path) in paths.iter().enumerate() {
        let format = file_format(path, p.input.format)?;
        let (raw, schema, rows) = catch_panic(|| check_file(path, format, p, &mut date_formats))
            .map_err(|e| read_error(path, format, &p.input.csv, e))?;
        files.push(InputFile {
            path: path.clone(),
            format: match format {
                InputFormat::Parquet => "parquet",
                _ => "csv",
            },
            rows,
            duplicates: 0,
        });
        // Exact duplicates are found by the feature pass among the lines of one invoice (see
        // `features::fold`), from a fingerprint of all of the file's columns: nothing is held
        // beyond the invoice at hand. They are counted whether they are dropped or kept.
        let check = Some({
            [
                row_fingerprint(&schema).alias(c::ROW_FINGERPRINT),
                lit(index as u32)
                    .cast(DataType::UInt32)
                    .alias(c::FILE_INDEX),
            ]
        });
        frames.push(normalise(raw, &schema, p, &date_formats, check)?);
    }
    let transactions = if frames.len() == 1 {
        frames.remove(0)
    } else {
        concat(frames, UnionArgs::default())
            .map_err(anyhow::Error::from)
            .context("stacking input files (their column types differ)")?
    };
    Ok(Loaded {
        transactions,
        files,
        date_formats,
        notes,
    })
}

/// A 64-bit hash of all columns of each row of a file, hashed the way polars hashes values for
/// `unique` (so `-0.0` and `0.0` hash alike, as they compare equal there). Rows equal in every
/// column have equal fingerprints; two different lines of one invoice share one by chance
/// with a probability of about 2^-64 per pair.
fn row_fingerprint(schema: &Schema) -> Expr {
    let columns: Vec<Expr> = schema.iter_names().map(|n| col(n.clone())).collect();
    map_multiple(
        |columns: &mut [Column]| {
            let state = PlSeedableRandomStateQuality::fixed();
            let mut hashes = Vec::with_capacity(columns[0].len());
            columns[0].vec_hash(state.clone(), &mut hashes)?;
            for column in &columns[1..] {
                column.vec_hash_combine(state.clone(), &mut hashes)?;
            }
            Ok(UInt64Chunked::from_vec(c::ROW_FINGERPRINT.into(), hashes).into_column())
        },
        columns,
        |_, _| Ok(Field::new(c::ROW_FINGERPRINT.into(), DataType::UInt64)),
    )
}

/// Expands globs and folders; every pattern must match at least one file. A file reached
/// twice (a glob and a path, `./x` and `x`, a link) is read once, where it is first reached:
/// returns the files, and one note per file reached again.
pub fn resolve_inputs(
    patterns: &[PathBuf],
    pipeline: &Path,
) -> Result<(Vec<PathBuf>, Vec<String>)> {
    let found = expand_inputs(patterns, pipeline)?;
    let mut seen: Vec<(PathBuf, PathBuf)> = Vec::with_capacity(found.len());
    let mut notes = Vec::new();
    for path in found {
        let canonical = std::fs::canonicalize(&path).unwrap_or_else(|_| path.clone());
        match seen.iter().find(|(c, _)| *c == canonical) {
            Some((_, first)) => notes.push(format!(
                "input file {} is the same file as {}: read once",
                path.display(),
                first.display()
            )),
            None => seen.push((canonical, path)),
        }
    }
    Ok((seen.into_iter().map(|(_, p)| p).collect(), notes))
}

/// Every file the patterns name, in pattern order, globs and folders sorted.
fn expand_inputs(patterns: &[PathBuf], pipeline: &Path) -> Result<Vec<PathBuf>> {
    let mut out = Vec::new();
    for pat in patterns {
        let s = pat.to_string_lossy();
        if s.contains(['*', '?', '[']) {
            let mut matched: Vec<PathBuf> = glob::glob(&s)
                .with_context(|| format!("bad glob pattern {s:?} in [input] paths"))?
                .filter_map(|r| r.ok())
                .filter(|p| p.is_file())
                .collect();
            matched.sort();
            if matched.is_empty() {
                return Err(InputError::NoMatch {
                    pattern: s.into_owned(),
                    pipeline: pipeline.to_path_buf(),
                }
                .into());
            }
            out.extend(matched);
        } else if pat.is_dir() {
            let mut matched = Vec::new();
            collect_data_files(pat, &mut matched)?;
            matched.sort();
            if matched.is_empty() {
                return Err(InputError::NoMatch {
                    pattern: format!("{s}/**/*.{{csv,parquet}}"),
                    pipeline: pipeline.to_path_buf(),
                }
                .into());
            }
            out.extend(matched);
        } else if pat.is_file() {
            out.push(pat.clone());
        } else {
            return Err(InputError::MissingFile {
                file: pat.clone(),
                pipeline: pipeline.to_path_buf(),
            }
            .into());
        }
    }
    Ok(out)
}

pub(crate) fn collect_data_files(dir: &Path, out: &mut Vec<PathBuf>) -> Result<()> {
    for entry in std::fs::read_dir(dir).with_context(|| format!("listing {}", dir.display()))? {
        let path = entry?.path();
        if path.is_dir() {
            collect_data_files(&path, out)?;
        } else if matches!(
            path.extension().and_then(|e| e.to_str()),
            Some("csv" | "parquet" | "pq")
        ) {
            out.push(path);
        }
    }
    Ok(())
}

pub(crate) fn file_format(path: &Path, configured: InputFormat) -> Result<InputFormat> {
    if configured != InputFormat::Auto {
        return Ok(configured);
    }
    let ext = path
        .extension()
        .and_then(|e| e.to_str())
        .unwrap_or("")
        .to_ascii_lowercase();
    match ext.as_str() {
        "parquet" | "pq" => Ok(InputFormat::Parquet),
        "csv" | "txt" | "tsv" => Ok(InputFormat::Csv),
        _ => Err(InputError::UnknownFormat {
            file: path.to_path_buf(),
        }
        .into()),
    }
}

/// Opens one file lazily. CSV columns are all read as text so that every parse failure can be
/// reported with the offending value instead of a type-inference guess.
fn scan_file(path: &Path, format: InputFormat, csv: &CsvOptions) -> Result<LazyFrame> {
    let meta = std::fs::metadata(path).with_context(|| format!("opening {}", path.display()))?;
    if meta.len() == 0 {
        return Err(InputError::EmptyFile {
            file: path.to_path_buf(),
        }
        .into());
    }
    let lf = match format {
        InputFormat::Parquet => LazyFrame::scan_parquet(path_ref(path), Default::default())
            .map_err(anyhow::Error::from)
            .with_context(|| format!("opening Parquet file {}", path.display()))?,
        _ => {
            let encoding = encoding_rs::Encoding::for_label(csv.encoding.as_bytes())
                .unwrap_or(encoding_rs::UTF_8);
            let reader = if encoding == encoding_rs::UTF_8 {
                let head = file_head(path)?;
                if let Some(encoding) = diagnose::sniff_utf16(&head) {
                    return Err(InputError::LooksUtf16 {
                        file: path.to_path_buf(),
                        encoding: encoding.to_string(),
                    }
                    .into());
                }
                diagnose::check_header(path, &head, csv)?;
                LazyCsvReader::new(path_ref(path))
            } else {
                // polars reads UTF-8 only: decode other encodings into memory first.
                let bytes =
                    std::fs::read(path).with_context(|| format!("reading {}", path.display()))?;
                let (text, _, had_errors) = encoding.decode(&bytes);
                if had_errors {
                    return Err(InputError::Encoding {
                        file: path.to_path_buf(),
                        encoding: csv.encoding.clone(),
                    }
                    .into());
                }
                diagnose::check_header(path, text.as_bytes(), csv)?;
                let buf = polars_buffer::Buffer::from(text.into_owned().into_bytes());
                LazyCsvReader::new_with_sources(ScanSources::Buffers(Arc::from(vec![buf])))
            };
            let nulls = if csv.null_values.is_empty() {
                None
            } else {
                Some(NullValues::AllColumns(
                    csv.null_values.iter().map(|s| s.as_str().into()).collect(),
                ))
            };
            reader
                .with_has_header(true)
                .with_separator(csv.delimiter)
                .with_infer_schema_length(Some(0))
                .with_null_values(nulls)
                .with_missing_is_null(true)
                .finish()
                .map_err(anyhow::Error::from)
                .with_context(|| format!("opening CSV file {}", path.display()))?
        }
    };
    // A byte-order mark that survived decoding would glue itself to the first column name.
    let schema = lf
        .clone()
        .collect_schema()
        .map_err(|e| InputError::Unreadable {
            file: path.to_path_buf(),
            message: e.to_string(),
        })?;
    let bom: Vec<(String, String)> = schema
        .iter_names()
        .filter(|n| n.starts_with('\u{feff}'))
        .map(|n| (n.to_string(), n.trim_start_matches('\u{feff}').to_string()))
        .collect();
    Ok(if bom.is_empty() {
        lf
    } else {
        let (old, new): (Vec<_>, Vec<_>) = bom.into_iter().unzip();
        lf.rename(old, new, true)
    })
}

/// The first MiB of a file: enough for its header and to tell its encoding.
fn file_head(path: &Path) -> Result<Vec<u8>> {
    use std::io::Read;
    let mut head = Vec::new();
    std::fs::File::open(path)
        .and_then(|f| f.take(1 << 20).read_to_end(&mut head))
        .with_context(|| format!("reading {}", path.display()))?;
    Ok(head)
}

/// The error to show when reading `path` failed with `err`: `err` itself when it already
/// says what is wrong with the data; else what a closer look at the file finds (the line of a
/// ragged row, a damaged page, ...); else `err` with the file named.
pub fn read_error(
    path: &Path,
    format: InputFormat,
    csv: &CsvOptions,
    err: anyhow::Error,
) -> anyhow::Error {
    if err.downcast_ref::<InputError>().is_some() {
        return err;
    }
    match file_problem(path, format, csv) {
        Some(problem) => problem.into(),
        None => InputError::Unreadable {
            file: path.to_path_buf(),
            message: format!("{err:#}"),
        }
        .into(),
    }
}

/// What a closer look at an input file finds wrong, if anything.
fn file_problem(path: &Path, format: InputFormat, csv: &CsvOptions) -> Option<InputError> {
    match format {
        InputFormat::Parquet => diagnose::parquet_problem(path),
        _ => {
            let bytes = std::fs::read(path).ok()?;
            // The text as polars reads it: decoded to UTF-8 when an encoding is set.
            let text = match encoding_rs::Encoding::for_label(csv.encoding.as_bytes()) {
                Some(e) if e != encoding_rs::UTF_8 => e.decode(&bytes).0.into_owned().into_bytes(),
                _ => bytes,
            };
            diagnose::csv_problem(path, &text, csv)
        }
    }
}

/// The error to show when a pass over all the input files failed with `err`: the first file
/// a closer look finds wrong, else `err`.
pub fn pass_error(loaded: &Loaded, p: &Pipeline, err: anyhow::Error) -> anyhow::Error {
    if err.downcast_ref::<InputError>().is_some() {
        return err;
    }
    for f in &loaded.files {
        let format = if f.format == "parquet" {
            InputFormat::Parquet
        } else {
            InputFormat::Csv
        };
        if let Some(problem) = file_problem(&f.path, format, &p.input.csv) {
            return problem.into();
        }
    }
    err.context("reading the input files")
}

fn path_ref(path: &Path) -> PlRefPath {
    PlRefPath::new(path.to_string_lossy().as_ref())
}

/// The mapped columns of the pipeline, as (role, user column) pairs.
pub(crate) fn mapped_columns(p: &Pipeline) -> Vec<(&'static str, &str)> {
    let cols = &p.input.columns;
    let mut v = vec![
        (c::CUSTOMER_ID, cols.customer_id.as_str()),
        (c::DATE, cols.date.as_str()),
    ];
    if let Some(x) = &cols.invoice_id {
        v.push((c::INVOICE_ID, x));
    }
    match &cols.value {
        ValueColumns::Amount { amount, quantity } => {
            v.push((c::AMOUNT, amount));
            if let Some(q) = quantity {
                v.push((c::QUANTITY, q));
            }
        }
        ValueColumns::QuantityPrice {
            quantity,
            unit_price,
        } => {
            v.push((c::QUANTITY, quantity));
            v.push((c::UNIT_PRICE, unit_price));
        }
    }
    match &cols.cost {
        Some(CostColumn::UnitCost(x)) => v.push(("unit_cost", x)),
        Some(CostColumn::LineCost(x)) => v.push(("cost", x)),
        Some(CostColumn::LineProfit(x)) => v.push(("profit", x)),
        None => {}
    }
    if let Some(x) = &cols.due_date {
        v.push((c::DUE_DATE, x));
    }
    if let Some(x) = &cols.paid_date {
        v.push((c::PAID_DATE, x));
    }
    if let Some(x) = &cols.region {
        v.push((c::REGION, x));
    }
    v
}

fn check_columns(path: &Path, schema: &Schema, p: &Pipeline) -> Result<()> {
    for (role, name) in mapped_columns(p) {
        if schema.get(name).is_none() {
            let available: Vec<String> = schema.iter_names().map(|n| format!("{n:?}")).collect();
            // A header read as one column holding the other delimiter: say which to set.
            let hint = match schema.iter_names().collect::<Vec<_>>().as_slice() {
                [only] if p.input.csv.delimiter != b';' && only.contains(';') => {
                    "; the header reads as one column: set [input.csv] delimiter = \";\""
                }
                [only] if p.input.csv.delimiter != b'\t' && only.contains('\t') => {
                    "; the header reads as one column: set [input.csv] delimiter = \"\\t\""
                }
                [only] if p.input.csv.delimiter != b',' && only.contains(',') => {
                    "; the header reads as one column: set [input.csv] delimiter = \",\""
                }
                _ => "",
            };
            return Err(InputError::MissingColumn {
                file: path.to_path_buf(),
                role: role.to_string(),
                column: name.to_string(),
                available: format!("{}{hint}", available.join(", ")),
            }
            .into());
        }
    }
    Ok(())
}

pub(crate) fn is_date_role(role: &str) -> bool {
    role == c::DATE || role == c::DUE_DATE || role == c::PAID_DATE
}

/// Picks the date format of every text date column from a sample of its values.
fn choose_date_formats(
    path: &Path,
    raw: &LazyFrame,
    schema: &Schema,
    p: &Pipeline,
) -> Result<Vec<(String, Option<String>)>> {
    let mut out = Vec::new();
    for (role, name) in mapped_columns(p)
        .into_iter()
        .filter(|(r, _)| is_date_role(r))
    {
        let dtype = schema.get(name).cloned().unwrap_or(DataType::Null);
        match dtype {
            DataType::Date | DataType::Datetime(_, _) => {
                out.push((role.to_string(), None));
                continue;
            }
            DataType::String => {}
            other => {
                return Err(InputError::NotADate {
                    file: path.to_path_buf(),
                    column: name.to_string(),
                    dtype: format!("{other}"),
                }
                .into())
            }
        }
        if let Some(f) = &p.input.date_format {
            out.push((role.to_string(), Some(f.clone())));
            continue;
        }
        let values = first_values(path, raw, name)?;
        if values.is_empty() {
            // Nothing to detect from (e.g. no invoice is paid yet): ISO is as good as any.
            out.push((role.to_string(), Some("%Y-%m-%d".to_string())));
            continue;
        }
        let format = detect_date_format(path, raw, name, &values)?;
        out.push((role.to_string(), Some(format)));
    }
    Ok(out)
}

/// The first [`DATE_SAMPLE`] values of a text column that are not empty, trimmed.
fn first_values(path: &Path, raw: &LazyFrame, name: &str) -> Result<Vec<String>> {
    let sample = raw
        .clone()
        .select([col(name)])
        .drop_nulls(None)
        .limit(DATE_SAMPLE as IdxSize)
        .collect()
        .map_err(anyhow::Error::from)
        .with_context(|| format!("reading column {name:?} of {}", path.display()))?;
    Ok(sample
        .column(name)?
        .str()?
        .iter()
        .flatten()
        .map(|s| s.trim().to_string())
        .filter(|s| !s.is_empty())
        .collect())
}

/// Whether `format` reads `v` as a date: `Ok`, or the kind of failure (`OutOfRange` when `v`
/// has the format's shape but names no real day, such as 2024-02-30).
fn parse_kind(v: &str, format: &str) -> Result<(), chrono::format::ParseErrorKind> {
    let parsed = if has_time(format) {
        NaiveDateTime::parse_from_str(v, format).map(|_| ())
    } else {
        NaiveDate::parse_from_str(v, format).map(|_| ())
    };
    parsed.map_err(|e| e.kind())
}

/// Whether `v` has the shape of `format` but is not a real day.
fn out_of_range(v: &str, format: &str) -> bool {
    parse_kind(v, format) == Err(chrono::format::ParseErrorKind::OutOfRange)
}

/// The format of a text date column, from its first `values`: the format that reads all of
/// them. When both a day/month and a month/day format do, the whole column decides (an export
/// starting on the 1st to the 12th of a month reads both ways for its first rows); a column
/// that reads both ways to the end is an error. When no format reads every value, the one
/// that reads most of them while the others have its shape is taken (the values that name no
/// real day, such as 2024-02-30, are then reported as such).
pub(crate) fn detect_date_format(
    path: &Path,
    raw: &LazyFrame,
    name: &str,
    values: &[String],
) -> Result<String> {
    let fits: Vec<&str> = DATE_FORMATS
        .iter()
        .copied()
        .filter(|f| values.iter().all(|v| parses_with(v, f)))
        .collect();
    let day_first = |f: &&str| f.starts_with("%d/");
    let month_first = |f: &&str| f.starts_with("%m/");
    match fits.as_slice() {
        [] => {
            // Formats whose failures are all impossible days, by the values they read.
            let shaped = DATE_FORMATS
                .iter()
                .copied()
                .filter(|f| {
                    values
                        .iter()
                        .all(|v| parses_with(v, f) || out_of_range(v, f))
                })
                .max_by_key(|f| values.iter().filter(|v| parses_with(v, f)).count());
            match shaped {
                Some(f) if values.iter().any(|v| parses_with(v, f)) => Ok(f.to_string()),
                Some(f) => Err(InputError::InvalidDate {
                    file: path.to_path_buf(),
                    column: name.to_string(),
                    count: values.len() as u64,
                    example: values[0].clone(),
                    format: f.to_string(),
                }
                .into()),
                None => {
                    let example = values
                        .iter()
                        .find(|v| !DATE_FORMATS.iter().any(|f| parses_with(v, f)))
                        .unwrap_or(&values[0]);
                    Err(InputError::UnknownDateFormat {
                        file: path.to_path_buf(),
                        column: name.to_string(),
                        example: example.clone(),
                    }
                    .into())
                }
            }
        }
        [first, ..] if fits.iter().any(day_first) && fits.iter().any(month_first) => {
            let failures = failures_per_format(raw, name, &fits)
                .with_context(|| format!("reading column {name:?} of {}", path.display()))?;
            let whole: Vec<&str> = fits
                .iter()
                .zip(&failures)
                .filter(|(_, n)| **n == 0)
                .map(|(f, _)| *f)
                .collect();
            if whole.iter().any(day_first) && whole.iter().any(month_first) {
                return Err(InputError::AmbiguousDateFormat {
                    file: path.to_path_buf(),
                    column: name.to_string(),
                    example: values[0].clone(),
                }
                .into());
            }
            // The format that reads the most values; ties to the earlier in the list.
            let best = fits
                .iter()
                .zip(&failures)
                .min_by_key(|(_, n)| **n)
                .map_or(*first, |(f, _)| *f);
            Ok(best.to_string())
        }
        [first, ..] => Ok(first.to_string()),
    }
}

/// For each format, how many values of the whole text column it does not read (one streaming
/// pass over the column).
fn failures_per_format(raw: &LazyFrame, name: &str, formats: &[&str]) -> Result<Vec<u64>> {
    let text = col(name).str().strip_chars(lit(NULL));
    let present = text.clone().is_not_null().and(text.neq(lit("")));
    let aggs: Vec<Expr> = formats
        .iter()
        .enumerate()
        .map(|(i, f)| {
            let parsed = date_expr(name, &DataType::String, Some(f));
            present
                .clone()
                .and(parsed.is_null())
                .sum()
                .cast(DataType::UInt64)
                .alias(format!("__f{i}"))
        })
        .collect();
    let df = collect_streaming(raw.clone().select(aggs))?;
    (0..formats.len())
        .map(|i| Ok(df.column(&format!("__f{i}"))?.u64()?.get(0).unwrap_or(0)))
        .collect()
}

fn has_time(format: &str) -> bool {
    ["%H", "%M", "%S", "%T", "%I", "%p", "%R"]
        .iter()
        .any(|d| format.contains(d))
}

fn parses_with(v: &str, format: &str) -> bool {
    if has_time(format) {
        NaiveDateTime::parse_from_str(v, format).is_ok()
    } else {
        NaiveDate::parse_from_str(v, format).is_ok()
    }
}

/// Expression turning the raw column into a `Date`, nulls where it does not parse.
fn date_expr(name: &str, dtype: &DataType, format: Option<&str>) -> Expr {
    match (dtype, format) {
        (DataType::Date, _) => col(name),
        (DataType::Datetime(_, _), _) => col(name).cast(DataType::Date),
        (_, Some(f)) => {
            let opts = StrptimeOptions {
                format: Some(f.into()),
                strict: false,
                exact: true,
                cache: true,
            };
            let s = col(name)
                .cast(DataType::String)
                .str()
                .strip_chars(lit(NULL));
            if has_time(f) {
                s.str()
                    .to_datetime(Some(TimeUnit::Microseconds), None, opts, lit("raise"))
                    .cast(DataType::Date)
            } else {
                s.str().to_date(opts)
            }
        }
        (_, None) => col(name).cast(DataType::Date),
    }
}

/// Expression turning the raw column into `Float64`, nulls where it does not parse.
fn number_expr(name: &str, dtype: &DataType, decimal_comma: bool) -> Expr {
    if dtype.is_primitive_numeric() {
        return col(name).cast(DataType::Float64);
    }
    let mut s = col(name)
        .cast(DataType::String)
        .str()
        .strip_chars(lit(NULL));
    if decimal_comma {
        s = s
            .str()
            .replace_all(lit("."), lit(""), true)
            .str()
            .replace_all(lit(","), lit("."), true);
    }
    s.cast(DataType::Float64)
}

/// Text identifiers: trimmed, empty as missing, whole floats (`17850.0`) as integers.
fn id_expr(name: &str, dtype: &DataType, normalise: bool) -> Expr {
    let base = if dtype.is_float() && normalise {
        // Float IDs come from spreadsheets; they are whole numbers in disguise.
        col(name).cast(DataType::Int64).cast(DataType::String)
    } else {
        col(name).cast(DataType::String)
    };
    base.map_with_fmt_str(
        move |c| tidy_ids(c, normalise),
        |_, field| Ok(Field::new(field.name().clone(), DataType::String)),
        "tidy_ids",
    )
}

/// One identifier tidied: surrounding whitespace trimmed, then (`strip_float`) one trailing
/// `.0` removed; nothing left is missing.
fn tidy_id(v: &str, strip_float: bool) -> Option<&str> {
    let t = v.trim();
    let t = if strip_float {
        t.strip_suffix(".0").unwrap_or(t)
    } else {
        t
    };
    (!t.is_empty()).then_some(t)
}

/// [`tidy_id`] over a text column. Identifiers are usually tidy already; the column is then
/// returned as it came, without building a new one (it would cost as much as reading it).
fn tidy_ids(c: Column, strip_float: bool) -> PolarsResult<Column> {
    let ca = c.str()?;
    let untidy = ca
        .downcast_iter()
        .flat_map(|a| a.values_iter())
        .any(|v| tidy_id(v, strip_float).map(str::len) != Some(v.len()));
    if !untidy {
        return Ok(c);
    }
    let out: StringChunked = ca
        .iter()
        .map(|v| v.and_then(|v| tidy_id(v, strip_float)))
        .collect();
    Ok(out.with_name(c.name().clone()).into_column())
}

fn date_format_of<'a>(formats: &'a [(String, Option<String>)], role: &str) -> Option<&'a str> {
    formats
        .iter()
        .find(|(r, _)| r == role)
        .and_then(|(_, f)| f.as_deref())
}

/// Selects the mapped columns under their role names, parsed to their types, and `extra`
/// columns computed from the raw ones.
fn normalise(
    raw: LazyFrame,
    schema: &Schema,
    p: &Pipeline,
    formats: &[(String, Option<String>)],
    extra: Option<[Expr; 2]>,
) -> Result<LazyFrame> {
    let dt = |name: &str| schema.get(name).cloned().unwrap_or(DataType::String);
    let cols = &p.input.columns;
    let dc = p.input.csv.decimal_comma;
    let norm = p.cleaning.normalize_customer_id;
    let mut exprs = vec![
        id_expr(&cols.customer_id, &dt(&cols.customer_id), norm).alias(c::CUSTOMER_ID),
        date_expr(
            &cols.date,
            &dt(&cols.date),
            date_format_of(formats, c::DATE),
        )
        .alias(c::DATE),
    ];
    if let Some(x) = &cols.invoice_id {
        exprs.push(id_expr(x, &dt(x), false).alias(c::INVOICE_ID));
    }
    let quantity = match &cols.value {
        ValueColumns::Amount { amount, quantity } => {
            exprs.push(number_expr(amount, &dt(amount), dc).alias(c::AMOUNT));
            quantity.as_ref().map(|q| number_expr(q, &dt(q), dc))
        }
        ValueColumns::QuantityPrice {
            quantity,
            unit_price,
        } => {
            let q = number_expr(quantity, &dt(quantity), dc);
            let u = number_expr(unit_price, &dt(unit_price), dc);
            exprs.push(u.clone().alias(c::UNIT_PRICE));
            exprs.push((q.clone() * u).alias(c::AMOUNT));
            Some(q)
        }
    };
    if let Some(q) = &quantity {
        exprs.push(q.clone().alias(c::QUANTITY));
    }
    match &cols.cost {
        Some(CostColumn::UnitCost(x)) => {
            let q = quantity
                .clone()
                .expect("validated: unit_cost needs quantity");
            exprs.push((q * number_expr(x, &dt(x), dc)).alias(c::COST));
        }
        Some(CostColumn::LineCost(x)) => exprs.push(number_expr(x, &dt(x), dc).alias(c::COST)),
        Some(CostColumn::LineProfit(x)) => {
            let amount = match &cols.value {
                ValueColumns::Amount { amount, .. } => number_expr(amount, &dt(amount), dc),
                ValueColumns::QuantityPrice {
                    quantity,
                    unit_price,
                } => {
                    number_expr(quantity, &dt(quantity), dc)
                        * number_expr(unit_price, &dt(unit_price), dc)
                }
            };
            exprs.push((amount - number_expr(x, &dt(x), dc)).alias(c::COST));
        }
        None => {}
    }
    for (role, name) in [
        (c::DUE_DATE, &cols.due_date),
        (c::PAID_DATE, &cols.paid_date),
    ] {
        if let Some(x) = name {
            exprs.push(date_expr(x, &dt(x), date_format_of(formats, role)).alias(role));
        }
    }
    if let Some(x) = &cols.region {
        exprs.push(id_expr(x, &dt(x), false).alias(c::REGION));
    }
    exprs.extend(extra.into_iter().flatten());
    Ok(raw.select(exprs))
}

/// Counts the rows of one file and fails on the first value that does not parse, naming the
/// file, the column, an example and what to change. Returns the file's row count.
fn check_values(
    path: &Path,
    raw: &LazyFrame,
    schema: &Schema,
    p: &Pipeline,
    formats: &[(String, Option<String>)],
) -> Result<u64> {
    // (role, user column) for every column that is parsed from text.
    let mut checks: Vec<(&str, &str)> = Vec::new();
    for (role, name) in mapped_columns(p) {
        let dtype = schema.get(name).cloned().unwrap_or(DataType::String);
        let parsed_from_text = dtype == DataType::String
            && (is_date_role(role)
                || matches!(
                    role,
                    "amount" | "quantity" | "unit_price" | "unit_cost" | "cost" | "profit"
                ));
        if parsed_from_text {
            checks.push((role, name));
        }
    }
    // Parsed roles that are derived (amount from quantity x price, cost) are checked through
    // their sources, so the check runs on the raw columns with the same parsers.
    let mut aggs = vec![len().alias("__rows")];
    for (i, (role, name)) in checks.iter().enumerate() {
        let dtype = schema.get(name).cloned().unwrap_or(DataType::String);
        let parsed = if is_date_role(role) {
            date_expr(name, &dtype, date_format_of(formats, role))
        } else {
            number_expr(name, &dtype, p.input.csv.decimal_comma)
        };
        let raw_text = col(*name).str().strip_chars(lit(NULL));
        let bad = raw_text
            .clone()
            .is_not_null()
            .and(raw_text.clone().neq(lit("")))
            .and(parsed.is_null());
        aggs.push(bad.clone().sum().alias(format!("__bad{i}")));
        aggs.push(raw_text.filter(bad).first().alias(format!("__ex{i}")));
    }
    let df = collect_streaming(raw.clone().select(aggs)).map_err(|e| InputError::Unreadable {
        file: path.to_path_buf(),
        message: e.to_string(),
    })?;
    let rows = df
        .column("__rows")?
        .cast(&DataType::UInt64)?
        .u64()?
        .get(0)
        .unwrap_or(0);
    for (i, (role, name)) in checks.iter().enumerate() {
        let bad = df
            .column(&format!("__bad{i}"))?
            .cast(&DataType::UInt64)?
            .u64()?
            .get(0)
            .unwrap_or(0);
        if bad == 0 {
            continue;
        }
        let example = df
            .column(&format!("__ex{i}"))?
            .str()?
            .get(0)
            .unwrap_or("")
            .to_string();
        return Err(if is_date_role(role) {
            let format = date_format_of(formats, role).unwrap_or("").to_string();
            if out_of_range(&example, &format) {
                InputError::InvalidDate {
                    file: path.to_path_buf(),
                    column: name.to_string(),
                    count: bad,
                    example,
                    format,
                }
            } else {
                InputError::BadDate {
                    file: path.to_path_buf(),
                    column: name.to_string(),
                    count: bad,
                    example,
                    format,
                }
            }
        } else {
            InputError::BadNumber {
                file: path.to_path_buf(),
                column: name.to_string(),
                count: bad,
                example,
                decimal_comma: p.input.csv.decimal_comma,
            }
        }
        .into());
    }
    Ok(rows)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn date_formats_parse_real_examples() {
        assert!(parses_with("2010-12-01 08:26:00", "%Y-%m-%d %H:%M:%S"));
        assert!(parses_with("11/8/2018", "%m/%d/%Y"));
        assert!(!parses_with("11/28/2018", "%d/%m/%Y"));
        assert!(!parses_with("2010-12-01", "%Y-%m-%d %H:%M:%S"));
    }

    #[test]
    fn ids_are_tidied_only_when_needed() {
        let ids = Column::new(
            "id".into(),
            [
                Some(" 17850.0 "),
                Some("A1"),
                Some("  "),
                None,
                Some("12.0"),
                Some("3.05"),
            ],
        );
        let tidy = tidy_ids(ids.clone(), true).unwrap();
        let got: Vec<Option<&str>> = tidy.str().unwrap().iter().collect();
        assert_eq!(
            got,
            [
                Some("17850"),
                Some("A1"),
                None,
                None,
                Some("12"),
                Some("3.05")
            ]
        );
        // Invoice numbers keep a `.0`: only customer IDs may be floats in disguise.
        let kept = tidy_ids(Column::new("id".into(), [Some("7.0 ")]), false).unwrap();
        assert_eq!(kept.str().unwrap().get(0), Some("7.0"));
        // Tidy input comes back as the same column, values untouched.
        let clean = Column::new("id".into(), [Some("A1"), None, Some("B 2")]);
        let same = tidy_ids(clean.clone(), true).unwrap();
        assert!(same
            .as_materialized_series()
            .equals_missing(clean.as_materialized_series()));
    }

    #[test]
    fn time_directives_detected() {
        assert!(has_time("%m/%d/%Y %H:%M"));
        assert!(!has_time("%d.%m.%Y"));
    }
}
