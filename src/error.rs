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

    #[error("{file} has two columns named {column:?} (columns {first} and {second}); rename one in the file, so that [input.columns] can tell them apart")]
    DuplicateColumn {
        file: PathBuf,
        column: String,
        first: usize,
        second: usize,
    },

    #[error("{file} looks like UTF-16 text, not UTF-8; set [input.csv] encoding = \"{encoding}\"")]
    LooksUtf16 { file: PathBuf, encoding: String },

    #[error("{file} line {line}, column {column:?}: {example:?} is not UTF-8 text (bytes {bytes}); the file is in another encoding: set [input.csv] encoding, e.g. \"windows-1252\", \"latin1\" or \"gbk\"")]
    InvalidUtf8 {
        file: PathBuf,
        line: u64,
        column: String,
        example: String,
        bytes: String,
    },

    #[error("{file} line {line}: a quoted field starts here and its closing quote is missing, so the lines after it run together; close the quote (a quote inside a field is written twice: \"\")")]
    UnclosedQuote { file: PathBuf, line: u64 },

    #[error("{file} line {line} has {fields} fields but the header has {header}; fix that line (a value containing {delimiter:?} must be quoted), or check [input.csv] delimiter")]
    RaggedLine {
        file: PathBuf,
        line: u64,
        fields: usize,
        header: usize,
        delimiter: char,
    },

    #[error("Parquet file {file} is damaged and cannot be read ({detail}); export it again or remove it from [input] paths")]
    DamagedParquet { file: PathBuf, detail: String },

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

    #[error("column {column:?} of {file}: {example:?} is not a real date (it has the form {format:?}, but that day does not exist); {count} value(s) like it: correct or remove them")]
    InvalidDate {
        file: PathBuf,
        column: String,
        count: u64,
        example: String,
        format: String,
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

    #[error("{count} row(s) have a value that is not a finite number (NaN, infinity, or a quantity x price too large to compute), e.g. {example}; fix the values or set [cleaning] non_finite_value = \"drop\" to leave those rows out")]
    NonFinite { count: u64, example: String },

    #[error("{count} row(s) have a zero or negative price, e.g. {example}; set [cleaning] nonpositive_price = \"drop\" or \"keep\"")]
    NonPositivePrice { count: u64, example: String },

    #[error("{count} row(s) are dated after {today}, e.g. {example}; set [cleaning] future_dates = \"drop\" or \"keep\"")]
    FutureDate {
        count: u64,
        today: String,
        example: String,
    },

    #[error("nothing is left to grade{as_of}: of {read} rows read, the cleaning rules dropped {dropped}; check [input.columns] (the right columns?), [cleaning] and [features] as_of / lookback_days")]
    NothingLeft {
        read: String,
        as_of: String,
        dropped: String,
    },
}

/// Problems with the output folder: the tool only ever replaces a folder it wrote itself.
#[derive(Debug, Error)]
pub enum OutputError {
    #[error("the output folder {folder} (from {given_by}) holds files tiering did not write: {found}; a run replaces its output folder as a whole, so it only replaces an empty folder or one it wrote itself (with its run.json). Give a new folder, e.g. --out {folder}/tiering")]
    NotOurs {
        folder: String,
        given_by: String,
        found: String,
    },

    #[error("the output folder {folder} (from {given_by}) holds outputs of an earlier run and also files tiering did not write: {files}; move those files elsewhere or give another output folder")]
    ExtraFiles {
        folder: String,
        given_by: String,
        files: String,
    },

    #[error("the output folder {path} (from {given_by}) is a file, not a folder; give a folder path (it is created when missing)")]
    IsFile { path: String, given_by: String },

    #[error("the output folder {folder} (from {given_by}) is the current folder or contains it; a run replaces its output folder as a whole, so run it from outside, e.g. cd .. and --out {name}")]
    HoldsWorkingFolder {
        folder: String,
        given_by: String,
        name: String,
    },
}
