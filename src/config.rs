//! The pipeline file: TOML -> `RawPipeline` (serde, unknown keys rejected) -> validated
//! `Pipeline`. Nothing here reads data files or the clock; paths are only resolved.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use anyhow::{bail, Context, Result};
use chrono::NaiveDate;
use serde::Deserialize;

use crate::tiers::params::{
    validate_clustering, validate_grading, Available, ClusteringParams, GradingParams, RawAlerts,
    RawClustering, RawRfm, RawRisk, RawScore, RawTiers,
};

/// The pipeline file as written by the user. Every table rejects unknown keys so a typo such as
/// `custmer_id` is an error instead of a silently ignored setting.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawPipeline {
    /// Short name, used for the default output folder `out/<name>`.
    pub name: Option<String>,
    pub description: Option<String>,
    pub input: RawInput,
    #[serde(default)]
    pub cleaning: RawCleaning,
    #[serde(default)]
    pub features: RawFeatures,
    #[serde(default)]
    pub output: RawOutput,
    #[serde(default)]
    pub rfm: RawRfm,
    #[serde(default)]
    pub score: RawScore,
    #[serde(default)]
    pub tiers: RawTiers,
    #[serde(default)]
    pub risk: RawRisk,
    #[serde(default)]
    pub alerts: RawAlerts,
    /// `[policies.<tier>]`: free fields joined onto every customer of the tier.
    #[serde(default)]
    pub policies: BTreeMap<String, toml::Table>,
    #[serde(default)]
    pub clustering: RawClustering,
    #[serde(default)]
    pub charts: RawCharts,
    pub history: Option<RawHistory>,
}

/// `[history]`: grade several as-of dates with the same rules and track who moved.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawHistory {
    /// Explicit dates, YYYY-MM-DD.
    pub as_of: Option<Vec<String>>,
    /// `month` or `quarter`, from `start` up to `end` (default: the run's as_of).
    pub cadence: Option<Cadence>,
    pub start: Option<String>,
    pub end: Option<String>,
}

#[derive(Debug, Clone, Copy, Deserialize, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Cadence {
    Month,
    Quarter,
}

/// The snapshot dates of a history run, validated.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub enum History {
    Dates(Vec<NaiveDate>),
    /// Every `cadence` from `start` to `end` (or the run's as_of when `None`), both included.
    Cadence {
        cadence: Cadence,
        start: NaiveDate,
        end: Option<NaiveDate>,
    },
}

fn validate_history(h: &RawHistory) -> Result<History> {
    match (&h.as_of, h.cadence) {
        (Some(list), None) => {
            if h.start.is_some() || h.end.is_some() {
                bail!("[history] start and end go with cadence, not with an as_of list");
            }
            parse_date_list(list).context("[history] as_of")
        }
        (None, Some(cadence)) => {
            let start = parse_iso_date(h.start.as_deref().unwrap_or(""))
                .context("[history] cadence needs start = \"YYYY-MM-DD\"")?;
            let end = match &h.end {
                Some(e) => Some(parse_iso_date(e).context("[history] end")?),
                None => None,
            };
            if end.is_some_and(|e| e <= start) {
                bail!("[history] end must be after start");
            }
            Ok(History::Cadence {
                cadence,
                start,
                end,
            })
        }
        _ => bail!(
            "[history] give either as_of = [\"2025-07-01\", \"2025-10-01\"] or cadence = \"month\"|\"quarter\" with start"
        ),
    }
}

/// Parses strictly ascending dates (at least two) for a history.
pub fn parse_date_list(list: &[String]) -> Result<History> {
    let dates: Vec<NaiveDate> = list
        .iter()
        .map(|d| parse_iso_date(d))
        .collect::<Result<_>>()?;
    if dates.len() < 2 {
        bail!("a history needs at least two dates, got {}", dates.len());
    }
    for w in dates.windows(2) {
        if w[0] >= w[1] {
            bail!(
                "dates must be strictly ascending, got {} then {}",
                w[0],
                w[1]
            );
        }
    }
    Ok(History::Dates(dates))
}

/// `[charts]`: PNG and SVG charts in `charts/` of the output, and the HTML report.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawCharts {
    #[serde(default = "default_true")]
    pub enabled: bool,
    /// Scatter plots show at most this many customers (an even, deterministic sample).
    #[serde(default = "default_max_points")]
    pub max_points: usize,
}

impl Default for RawCharts {
    fn default() -> Self {
        RawCharts {
            enabled: true,
            max_points: default_max_points(),
        }
    }
}

fn default_max_points() -> usize {
    5000
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawInput {
    /// One path, a glob, or a list of them; relative to the pipeline file's folder.
    pub paths: OneOrMany,
    /// `auto` (by extension), `csv` or `parquet`.
    #[serde(default)]
    pub format: InputFormat,
    #[serde(default)]
    pub csv: RawCsv,
    /// Format of every date column: a strftime pattern such as `%m/%d/%Y`, or `auto`.
    pub date_format: Option<String>,
    pub columns: RawColumns,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(untagged)]
pub enum OneOrMany {
    One(String),
    Many(Vec<String>),
}

impl OneOrMany {
    fn to_vec(&self) -> Vec<String> {
        match self {
            OneOrMany::One(s) => vec![s.clone()],
            OneOrMany::Many(v) => v.clone(),
        }
    }
}

#[derive(Debug, Clone, Copy, Default, Deserialize, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "lowercase")]
pub enum InputFormat {
    #[default]
    Auto,
    Csv,
    Parquet,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawCsv {
    #[serde(default = "default_delimiter")]
    pub delimiter: String,
    /// Any WHATWG label: `utf-8`, `latin1`, `windows-1252`, `gbk`, `gb18030`, `utf-16le`, ...
    /// A UTF-8 byte-order mark is always accepted.
    #[serde(default = "default_encoding")]
    pub encoding: String,
    /// `1.234,56`-style numbers (decimal comma).
    #[serde(default)]
    pub decimal_comma: bool,
    /// Extra strings that mean "missing" besides the empty field.
    #[serde(default)]
    pub null_values: Vec<String>,
}

impl Default for RawCsv {
    fn default() -> Self {
        RawCsv {
            delimiter: default_delimiter(),
            encoding: default_encoding(),
            decimal_comma: false,
            null_values: Vec::new(),
        }
    }
}

fn default_delimiter() -> String {
    ",".into()
}
fn default_encoding() -> String {
    "utf-8".into()
}

/// Maps the user's column names to the roles the pipeline understands.
#[derive(Debug, Clone, Deserialize, Default)]
#[serde(deny_unknown_fields)]
pub struct RawColumns {
    pub customer_id: Option<String>,
    pub date: Option<String>,
    pub invoice_id: Option<String>,
    pub amount: Option<String>,
    pub quantity: Option<String>,
    pub unit_price: Option<String>,
    pub unit_cost: Option<String>,
    pub cost: Option<String>,
    pub profit: Option<String>,
    pub due_date: Option<String>,
    pub paid_date: Option<String>,
    pub region: Option<String>,
}

#[derive(Debug, Clone, Copy, Deserialize, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "lowercase")]
pub enum DropOrError {
    Drop,
    Error,
}

#[derive(Debug, Clone, Copy, Deserialize, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "lowercase")]
pub enum DropKeepError {
    Drop,
    Keep,
    Error,
}

#[derive(Debug, Clone, Copy, Deserialize, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "lowercase")]
pub enum DropOrKeep {
    Drop,
    Keep,
}

#[derive(Debug, Clone, Copy, Deserialize, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "lowercase")]
pub enum ReturnPolicy {
    /// Keep returns as negative revenue: net revenue, returned value and return rate.
    Net,
    /// Remove return lines before anything is computed.
    Drop,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawCleaning {
    #[serde(default = "default_missing_id")]
    pub missing_customer_id: DropOrError,
    #[serde(default = "default_returns")]
    pub returns: ReturnPolicy,
    /// Invoice numbers starting with this prefix are cancellations (`C` in many retail systems).
    pub return_invoice_prefix: Option<String>,
    #[serde(default = "default_drop_keep_error")]
    pub nonpositive_price: DropKeepError,
    /// Default: `drop` with an invoice column, `keep` without one (see [`Cleaning`]).
    pub duplicates: Option<DropOrKeep>,
    #[serde(default = "default_drop_keep_error")]
    pub future_dates: DropKeepError,
    /// NaN, infinite or overflowing amounts, quantities, prices, costs or profits.
    #[serde(default = "default_drop_or_error")]
    pub non_finite_value: DropOrError,
    /// Turn float-looking IDs such as `17850.0` into `17850`.
    #[serde(default = "default_true")]
    pub normalize_customer_id: bool,
}

impl Default for RawCleaning {
    fn default() -> Self {
        RawCleaning {
            missing_customer_id: default_missing_id(),
            returns: default_returns(),
            return_invoice_prefix: None,
            nonpositive_price: default_drop_keep_error(),
            duplicates: None,
            future_dates: default_drop_keep_error(),
            non_finite_value: default_drop_or_error(),
            normalize_customer_id: true,
        }
    }
}

fn default_missing_id() -> DropOrError {
    DropOrError::Drop
}
fn default_returns() -> ReturnPolicy {
    ReturnPolicy::Net
}
fn default_drop_keep_error() -> DropKeepError {
    DropKeepError::Drop
}
fn default_drop_or_error() -> DropOrError {
    DropOrError::Drop
}
fn default_true() -> bool {
    true
}

#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawFeatures {
    /// `YYYY-MM-DD`; transactions strictly before it are used. Default: the day after the last.
    pub as_of: Option<String>,
    /// Only transactions in the `lookback_days` days before `as_of` are used.
    pub lookback_days: Option<u32>,
    /// Length of the trailing periods compared for a drop in spend (default 90 days).
    pub period_days: Option<u32>,
}

#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawOutput {
    /// Output folder, relative to the working directory. Default `out/<name>`.
    pub dir: Option<String>,
    /// `"tier"`: write the per-customer grades as a Hive-partitioned folder
    /// `tiers/tier=<name>/part-0.parquet` instead of `tiers.parquet`.
    pub partition_by: Option<String>,
}

/// The roles of the input, each the user's column name.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct Columns {
    pub customer_id: String,
    pub date: String,
    pub invoice_id: Option<String>,
    pub value: ValueColumns,
    pub cost: Option<CostColumn>,
    pub due_date: Option<String>,
    pub paid_date: Option<String>,
    pub region: Option<String>,
}

/// How the revenue of a line is known.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub enum ValueColumns {
    /// Line amount given directly; `quantity` optional (used to spot returns).
    Amount {
        amount: String,
        quantity: Option<String>,
    },
    /// Amount = quantity x unit price.
    QuantityPrice {
        quantity: String,
        unit_price: String,
    },
}

/// How the cost of a line is known (profit = revenue - cost).
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub enum CostColumn {
    /// Cost per unit; needs a quantity.
    UnitCost(String),
    /// Cost of the whole line.
    LineCost(String),
    /// Profit of the whole line; cost = amount - profit.
    LineProfit(String),
}

/// CSV reading options, validated.
#[derive(Debug, Clone, serde::Serialize)]
pub struct CsvOptions {
    pub delimiter: u8,
    pub encoding: String,
    pub decimal_comma: bool,
    pub null_values: Vec<String>,
}

/// The validated pipeline: everything the run needs, no raw options left.
#[derive(Debug, Clone, serde::Serialize)]
pub struct Pipeline {
    pub name: String,
    /// The file's text, stored in the run metadata so a run can be reproduced.
    #[serde(skip)]
    pub source_text: String,
    pub source_path: PathBuf,
    /// Input patterns, resolved against the pipeline file's folder.
    pub inputs: Vec<PathBuf>,
    pub format: InputFormat,
    pub csv: CsvOptions,
    /// `None` means detect per column.
    pub date_format: Option<String>,
    pub columns: Columns,
    pub cleaning: Cleaning,
    pub as_of: Option<NaiveDate>,
    pub lookback_days: Option<u32>,
    pub period_days: u32,
    pub output_dir: PathBuf,
    /// Whether `[output] dir` set `output_dir` (else it is `out/<name>`).
    pub output_dir_given: bool,
    pub grading: GradingParams,
    /// `None` when `[clustering] enabled = false`.
    pub clustering: Option<ClusteringParams>,
    /// `None` when `[charts] enabled = false`; else the scatter point limit.
    pub chart_points: Option<usize>,
    /// Several snapshots (`[history]`); `None` grades one as_of.
    pub history: Option<History>,
    /// Write tiers Hive-partitioned by tier.
    pub partition_by_tier: bool,
}

#[derive(Debug, Clone, serde::Serialize)]
pub struct Cleaning {
    pub missing_customer_id: DropOrError,
    pub returns: ReturnPolicy,
    pub return_invoice_prefix: Option<String>,
    pub nonpositive_price: DropKeepError,
    /// Exact duplicate lines (equal in every column, within one invoice) are counted either
    /// way. Without an invoice column, equal lines of one customer and day are often real
    /// repeat purchases (line-level exports without order numbers), so they are kept unless
    /// the pipeline says `drop`.
    pub duplicates: DropOrKeep,
    pub future_dates: DropKeepError,
    pub non_finite_value: DropOrError,
    pub normalize_customer_id: bool,
}

impl Pipeline {
    /// Reads and validates a pipeline file.
    pub fn load(path: &Path) -> Result<Pipeline> {
        let text = std::fs::read_to_string(path).with_context(|| {
            format!(
                "cannot read pipeline file {} (pass an existing file: tiering run pipelines/default.toml)",
                path.display()
            )
        })?;
        Pipeline::from_toml(&text, path)
    }

    /// Parses pipeline text; `path` names the file in messages and anchors relative inputs.
    pub fn from_toml(text: &str, path: &Path) -> Result<Pipeline> {
        let raw: RawPipeline = toml::from_str(text)
            .map_err(|e| anyhow::anyhow!("invalid pipeline file {}: {}", path.display(), e))?;
        raw.validate(text, path)
            .with_context(|| format!("invalid pipeline file {}", path.display()))
    }
}

impl RawPipeline {
    /// Turns the raw file into a `Pipeline`, checking every combination a user can get wrong.
    pub fn validate(self, text: &str, path: &Path) -> Result<Pipeline> {
        let name = self.name.clone().unwrap_or_else(|| {
            path.file_stem()
                .map(|s| s.to_string_lossy().into_owned())
                .unwrap_or_else(|| "pipeline".into())
        });
        let base = path.parent().unwrap_or(Path::new("."));
        let patterns = self.input.paths.to_vec();
        if patterns.is_empty() || patterns.iter().any(|p| p.trim().is_empty()) {
            bail!(
                "[input] paths must name at least one file, e.g. paths = \"data/transactions.csv\""
            );
        }
        let inputs = patterns.iter().map(|p| base.join(p)).collect();

        let csv = &self.input.csv;
        let delimiter = match csv.delimiter.as_bytes() {
            [b] => *b,
            _ if csv.delimiter == "\\t" || csv.delimiter == "tab" => b'\t',
            _ => bail!(
                "[input.csv] delimiter must be one character, got {:?} (use \",\", \";\", \"|\" or \"\\t\")",
                csv.delimiter
            ),
        };
        if encoding_rs::Encoding::for_label(csv.encoding.trim().as_bytes()).is_none() {
            bail!(
                "[input.csv] encoding {:?} is not known; use a label such as \"utf-8\", \"latin1\", \"windows-1252\", \"gbk\" or \"utf-16le\"",
                csv.encoding
            );
        }
        let date_format = match self.input.date_format.as_deref().map(str::trim) {
            None | Some("auto") | Some("") => None,
            Some(f) if !f.contains('%') => bail!(
                "[input] date_format {f:?} has no % directive; write it as strftime, e.g. \"%Y-%m-%d\" or \"%m/%d/%Y %H:%M\""
            ),
            Some(f) => Some(f.to_string()),
        };
        let columns = validate_columns(&self.input.columns)?;
        let has_invoice = columns.invoice_id.is_some();

        let as_of = match &self.features.as_of {
            None => None,
            Some(s) => Some(parse_iso_date(s).with_context(|| "[features] as_of")?),
        };
        if self.features.period_days == Some(0) {
            bail!("[features] period_days must be at least 1");
        }
        let available = Available {
            profit: columns.cost.is_some(),
            payments: columns.due_date.is_some(),
        };
        let grading = validate_grading(
            &self.rfm,
            &self.score,
            &self.tiers,
            &self.risk,
            &self.alerts,
            &self.policies,
            available,
        )?;
        let clustering = validate_clustering(&self.clustering, available)?;
        if self.features.lookback_days == Some(0) {
            bail!("[features] lookback_days must be at least 1 (leave it out to use all history)");
        }
        let c = self.cleaning;
        if let Some(p) = &c.return_invoice_prefix {
            if p.is_empty() {
                bail!("[cleaning] return_invoice_prefix is empty; remove the key or give the prefix, e.g. \"C\"");
            }
            if columns.invoice_id.is_none() {
                bail!("[cleaning] return_invoice_prefix needs [input.columns] invoice_id");
            }
        }
        let output_dir = match &self.output.dir {
            Some(d) => PathBuf::from(d),
            None => PathBuf::from("out").join(&name),
        };
        Ok(Pipeline {
            name,
            source_text: text.to_string(),
            source_path: path.to_path_buf(),
            inputs,
            format: self.input.format,
            csv: CsvOptions {
                delimiter,
                encoding: csv.encoding.trim().to_string(),
                decimal_comma: csv.decimal_comma,
                null_values: csv.null_values.clone(),
            },
            date_format,
            columns,
            cleaning: Cleaning {
                missing_customer_id: c.missing_customer_id,
                returns: c.returns,
                return_invoice_prefix: c.return_invoice_prefix,
                nonpositive_price: c.nonpositive_price,
                duplicates: c.duplicates.unwrap_or(if has_invoice {
                    DropOrKeep::Drop
                } else {
                    DropOrKeep::Keep
                }),
                future_dates: c.future_dates,
                non_finite_value: c.non_finite_value,
                normalize_customer_id: c.normalize_customer_id,
            },
            as_of,
            lookback_days: self.features.lookback_days,
            period_days: self.features.period_days.unwrap_or(90),
            output_dir,
            output_dir_given: self.output.dir.is_some(),
            partition_by_tier: match self.output.partition_by.as_deref() {
                None => false,
                Some("tier") => true,
                Some(other) => bail!(
                    "[output] partition_by = {other:?}: only \"tier\" is supported (tiers/tier=<name>/part-0.parquet)"
                ),
            },
            grading,
            clustering,
            chart_points: self
                .charts
                .enabled
                .then_some(self.charts.max_points.max(100)),
            history: match &self.history {
                Some(h) => Some(validate_history(h)?),
                None => None,
            },
        })
    }
}

/// Parses `YYYY-MM-DD` with a message that says what was expected.
pub fn parse_iso_date(s: &str) -> Result<NaiveDate> {
    NaiveDate::parse_from_str(s.trim(), "%Y-%m-%d")
        .with_context(|| format!("{s:?} is not a date; write it as YYYY-MM-DD, e.g. 2024-01-31"))
}

fn validate_columns(c: &RawColumns) -> Result<Columns> {
    let need = |v: &Option<String>, role: &str, example: &str| -> Result<String> {
        match v {
            Some(s) if !s.is_empty() => Ok(s.clone()),
            _ => bail!("[input.columns] {role} is required: name the column that holds it, e.g. {role} = \"{example}\""),
        }
    };
    let customer_id = need(&c.customer_id, "customer_id", "CustomerID")?;
    let date = need(&c.date, "date", "InvoiceDate")?;
    let value = match (&c.amount, &c.quantity, &c.unit_price) {
        (Some(a), q, None) => ValueColumns::Amount {
            amount: a.clone(),
            quantity: q.clone(),
        },
        (None, Some(q), Some(p)) => ValueColumns::QuantityPrice {
            quantity: q.clone(),
            unit_price: p.clone(),
        },
        (Some(_), _, Some(_)) => bail!(
            "[input.columns] give either amount, or quantity + unit_price, not both (amount is the line total)"
        ),
        (None, None, Some(_)) => bail!("[input.columns] unit_price needs quantity too"),
        (None, _, None) => bail!(
            "[input.columns] revenue is required: set amount = \"<line total column>\", or quantity and unit_price"
        ),
    };
    let has_quantity = match &value {
        ValueColumns::Amount { quantity, .. } => quantity.is_some(),
        ValueColumns::QuantityPrice { .. } => true,
    };
    let cost = match (&c.unit_cost, &c.cost, &c.profit) {
        (None, None, None) => None,
        (Some(u), None, None) => {
            if !has_quantity {
                bail!("[input.columns] unit_cost needs quantity; or map cost (line total) instead");
            }
            Some(CostColumn::UnitCost(u.clone()))
        }
        (None, Some(l), None) => Some(CostColumn::LineCost(l.clone())),
        (None, None, Some(p)) => Some(CostColumn::LineProfit(p.clone())),
        _ => bail!("[input.columns] map only one of unit_cost, cost and profit"),
    };
    if c.paid_date.is_some() && c.due_date.is_none() {
        bail!("[input.columns] paid_date needs due_date (payment behaviour compares the two)");
    }
    Ok(Columns {
        customer_id,
        date,
        invoice_id: c.invoice_id.clone(),
        value,
        cost,
        due_date: c.due_date.clone(),
        paid_date: c.paid_date.clone(),
        region: c.region.clone(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    const MINIMAL: &str = r#"
[input]
paths = "tx.csv"
[input.columns]
customer_id = "cust"
date = "day"
amount = "total"
"#;

    fn parse(text: &str) -> Result<Pipeline> {
        Pipeline::from_toml(text, Path::new("pipes/p.toml"))
    }

    #[test]
    fn minimal_file_gets_defaults_and_relative_paths() {
        let p = parse(MINIMAL).unwrap();
        assert_eq!(p.name, "p");
        assert_eq!(p.inputs, vec![PathBuf::from("pipes/tx.csv")]);
        assert_eq!(p.output_dir, PathBuf::from("out/p"));
        assert_eq!(p.csv.delimiter, b',');
        assert_eq!(p.cleaning.returns, ReturnPolicy::Net);
        assert_eq!(p.date_format, None);
    }

    #[test]
    fn unknown_key_is_named() {
        let text = MINIMAL.replace("customer_id", "custmer_id");
        let err = format!("{:#}", parse(&text).unwrap_err());
        assert!(err.contains("unknown field `custmer_id`"), "{err}");
    }

    #[test]
    fn amount_and_price_together_rejected() {
        let text = format!("{MINIMAL}quantity = \"q\"\nunit_price = \"p\"\n");
        let err = format!("{:#}", parse(&text).unwrap_err());
        assert!(
            err.contains("either amount, or quantity + unit_price"),
            "{err}"
        );
    }

    #[test]
    fn missing_revenue_rejected() {
        let text = MINIMAL.replace("amount = \"total\"", "");
        let err = format!("{:#}", parse(&text).unwrap_err());
        assert!(err.contains("revenue is required"), "{err}");
    }

    #[test]
    fn bad_as_of_and_delimiter() {
        let text = format!("{MINIMAL}[features]\nas_of = \"31/01/2024\"\n");
        let err = format!("{:#}", parse(&text).unwrap_err());
        assert!(err.contains("YYYY-MM-DD"), "{err}");
        let text = MINIMAL.replace(
            "[input.columns]",
            "[input.csv]\ndelimiter = \";;\"\n[input.columns]",
        );
        let err = format!("{:#}", parse(&text).unwrap_err());
        assert!(err.contains("one character"), "{err}");
    }

    #[test]
    fn unknown_encoding_rejected() {
        let text = MINIMAL.replace(
            "[input.columns]",
            "[input.csv]\nencoding = \"klingon\"\n[input.columns]",
        );
        let err = format!("{:#}", parse(&text).unwrap_err());
        assert!(err.contains("encoding \"klingon\" is not known"), "{err}");
    }
}
