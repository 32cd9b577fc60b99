//! Errors a user can act on. Each names the file, the column, an example value and the fix.

use std::path::PathBuf;

use thiserror::Error;

/// Problems with the input data (not with the pipeline file).
#[derive(Debug, Error)]
pub enum InputError {
    #[error("input file {file} does not exist (listed in [input] paths of {pipeline}; paths are relative to the pipeline file's folder)")]
    MissingFile { file: PathBuf, pipeline: PathBuf },

    #[error("no file matches {pattern:?} (from [input] paths of {pipeline})")]
    NoMatch { pattern: String, pipeline: PathBuf },

    #[error("input file {file} is empty (0 bytes); export the transactions again or remove it from [input] paths")]
    EmptyFile { file: PathBuf },

    #[error("input file {file} has a header but no data rows")]
    NoRows { file: PathBuf },

    #[error("cannot tell the format of {file} from its extension; set [input] format = \"csv\" or \"parquet\"")]
    UnknownFormat { file: PathBuf },

    #[error("cannot read {file}: {message}")]
    Unreadable { file: PathBuf, message: String },

    #[error("{file} is not valid {encoding}; set [input.csv] encoding to the file's encoding (e.g. \"latin1\", \"windows-1252\", \"gbk\")")]
    Encoding { file: PathBuf, encoding: String },

    #[error("{file} has no column {column:?} (mapped as {role} in [input.columns]); the file's columns are: {available}")]
    MissingColumn {
        file: PathBuf,
        role: String,
        column: String,
        available: String,
    },

    #[error("column {column:?} of {file} should hold dates but has type {dtype}")]
    NotADate {
        file: PathBuf,
        column: String,
        dtype: String,
    },

    #[error("column {column:?} of {file}: cannot recognise the date format of values such as {example:?}; set [input] date_format, e.g. \"%d/%m/%Y %H:%M\"")]
    UnknownDateFormat {
        file: PathBuf,
        column: String,
        example: String,
    },

    #[error("column {column:?} of {file}: dates such as {example:?} read both as day/month and month/day; set [input] date_format = \"%d/%m/%Y\" or \"%m/%d/%Y\"")]
    AmbiguousDateFormat {
        file: PathBuf,
        column: String,
        example: String,
    },

    #[error("column {column:?} of {file}: {count} value(s) are not dates in format {format:?}, e.g. {example:?}; fix the values or set [input] date_format")]
    BadDate {
        file: PathBuf,
        column: String,
        count: u64,
        example: String,
        format: String,
    },

    #[error("column {column:?} of {file}: {count} value(s) are not numbers, e.g. {example:?}; {}", if *decimal_comma { "with decimal_comma = true write numbers as 1234,56" } else { "write plain numbers such as 1234.56 (for 1234,56 set [input.csv] decimal_comma = true)" })]
    BadNumber {
        file: PathBuf,
        column: String,
        count: u64,
        example: String,
        decimal_comma: bool,
    },

    #[error("{count} row(s) have no customer ID (column {column:?}), e.g. {example}; set [cleaning] missing_customer_id = \"drop\" to leave them out")]
    MissingCustomerId {
        column: String,
        count: u64,
        example: String,
    },

    #[error("{count} row(s) have a zero or negative price, e.g. {example}; set [cleaning] nonpositive_price = \"drop\" or \"keep\"")]
    NonPositivePrice { count: u64, example: String },

    #[error("{count} row(s) are dated after {today}, e.g. {example}; set [cleaning] future_dates = \"drop\" or \"keep\"")]
    FutureDate {
        count: u64,
        today: String,
        example: String,
    },

    #[error("no transactions are left after cleaning (read {read} rows); see data_quality in the message above and the [cleaning] and [features] settings")]
    NothingLeft { read: u64 },
}
