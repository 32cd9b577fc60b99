//! `[input]`, `[input.csv]` and `[input.columns]` of the pipeline file: what to read and how
//! the user's columns map to the roles the pipeline understands. Checked once into
//! [`InputParams`]; nothing here opens a file.

use std::path::{Path, PathBuf};

use anyhow::{bail, Result};
use serde::Deserialize;

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
    pub fn to_vec(&self) -> Vec<String> {
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

/// `[input]`, checked.
#[derive(Debug, Clone, serde::Serialize)]
pub struct InputParams {
    /// Input patterns, resolved against the pipeline file's folder.
    pub paths: Vec<PathBuf>,
    pub format: InputFormat,
    pub csv: CsvOptions,
    /// `None` means detect per column.
    pub date_format: Option<String>,
    pub columns: Columns,
}

impl RawInput {
    /// Checks the section; relative paths are anchored at `base`, the pipeline file's folder.
    pub fn check(&self, base: &Path) -> Result<InputParams> {
        let patterns = self.paths.to_vec();
        if patterns.is_empty() || patterns.iter().any(|p| p.trim().is_empty()) {
            bail!(
                "[input] paths must name at least one file, e.g. paths = \"data/transactions.csv\""
            );
        }
        let date_format = match self.date_format.as_deref().map(str::trim) {
            None | Some("auto") | Some("") => None,
            Some(f) if !f.contains('%') => bail!(
                "[input] date_format {f:?} has no % directive; write it as strftime, e.g. \"%Y-%m-%d\" or \"%m/%d/%Y %H:%M\""
            ),
            Some(f) => Some(f.to_string()),
        };
        Ok(InputParams {
            paths: patterns.iter().map(|p| base.join(p)).collect(),
            format: self.format,
            csv: self.csv.check()?,
            date_format,
            columns: self.columns.check()?,
        })
    }
}

impl RawCsv {
    fn check(&self) -> Result<CsvOptions> {
        self.check_in("[input.csv]")
    }

    /// Checks the options of the section `section` (named in messages).
    pub(crate) fn check_in(&self, section: &str) -> Result<CsvOptions> {
        let delimiter = match self.delimiter.as_bytes() {
            [b] => *b,
            _ if self.delimiter == "\\t" || self.delimiter == "tab" => b'\t',
            _ => bail!(
                "{section} delimiter must be one character, got {:?} (use \",\", \";\", \"|\" or \"\\t\")",
                self.delimiter
            ),
        };
        if encoding_rs::Encoding::for_label(self.encoding.trim().as_bytes()).is_none() {
            bail!(
                "{section} encoding {:?} is not known; use a label such as \"utf-8\", \"latin1\", \"windows-1252\", \"gbk\" or \"utf-16le\"",
                self.encoding
            );
        }
        Ok(CsvOptions {
            delimiter,
            encoding: self.encoding.trim().to_string(),
            decimal_comma: self.decimal_comma,
            null_values: self.null_values.clone(),
        })
    }
}

impl RawColumns {
    /// Checks the column roles: the required ones given, revenue one way, cost one way.
    fn check(&self) -> Result<Columns> {
        let c = self;
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
}
