//! `[attributes]` of the pipeline file: the customer master (CRM or ERP export, one row per
//! customer) and the columns of it that grading uses, each with its kind. Checked once into
//! [`AttributesParams`]; nothing here opens a file.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use anyhow::{bail, Result};
use serde::Deserialize;

use super::input::{CsvOptions, InputFormat, OneOrMany, RawCsv};
use crate::columns as c;

/// Which way a numeric attribute is better.
#[derive(Debug, Clone, Copy, Deserialize, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Direction {
    HigherIsBetter,
    LowerIsBetter,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawAttributes {
    /// One path, a glob, or a list of them; relative to the pipeline file's folder.
    pub paths: OneOrMany,
    #[serde(default)]
    pub format: InputFormat,
    #[serde(default)]
    pub csv: RawCsv,
    /// The master's customer ID column.
    pub customer_id: String,
    /// Numeric columns and which way they are better.
    #[serde(default)]
    pub numeric: BTreeMap<String, Direction>,
    /// Text columns (ratings, industry, flags).
    #[serde(default)]
    pub categorical: Vec<String>,
}

/// The checked section.
#[derive(Debug, Clone, serde::Serialize)]
pub struct AttributesParams {
    /// Input patterns, resolved against the pipeline file's folder.
    pub paths: Vec<PathBuf>,
    pub format: InputFormat,
    pub csv: CsvOptions,
    pub customer_id: String,
    /// (column, higher is better), in name order.
    pub numeric: Vec<(String, bool)>,
    pub categorical: Vec<String>,
}

/// Lower is better: the overdue amount over the credit limit.
pub const CREDIT_UTILISATION: &str = "credit_utilisation";
/// The numeric attribute that gives `credit_utilisation`.
pub const CREDIT_LIMIT: &str = "credit_limit";

impl RawAttributes {
    /// Checks the section; relative paths are anchored at `base`. Attribute names become
    /// columns beside the features, so they may not take a feature's name.
    pub fn check(&self, base: &Path) -> Result<AttributesParams> {
        let patterns = self.paths.to_vec();
        if patterns.is_empty() || patterns.iter().any(|p| p.trim().is_empty()) {
            bail!("[attributes] paths must name at least one file, e.g. paths = \"crm/customers.csv\"");
        }
        if self.customer_id.trim().is_empty() {
            bail!("[attributes] customer_id names the master's customer ID column, e.g. customer_id = \"CustNo\"");
        }
        if self.numeric.is_empty() && self.categorical.is_empty() {
            bail!("[attributes] declares no column: list numeric = {{ credit_score = \"higher_is_better\" }} and/or categorical = [\"credit_rating\"]");
        }
        let reserved = reserved_names();
        let mut seen: Vec<&str> = Vec::new();
        for name in self.numeric.keys().chain(&self.categorical) {
            if name.trim().is_empty() {
                bail!("[attributes] an attribute name is empty");
            }
            if *name == self.customer_id {
                bail!("[attributes] {name:?} is the customer_id column; it cannot be an attribute too");
            }
            if reserved.contains(&name.as_str()) {
                bail!("[attributes] {name:?} is the name of a feature the tool computes; rename the column in the master or leave it out");
            }
            if seen.contains(&name.as_str()) {
                bail!("[attributes] {name:?} is both numeric and categorical; keep one");
            }
            seen.push(name);
        }
        Ok(AttributesParams {
            paths: patterns.iter().map(|p| base.join(p)).collect(),
            format: self.format,
            csv: self.csv.check_in("[attributes.csv]")?,
            customer_id: self.customer_id.clone(),
            numeric: self
                .numeric
                .iter()
                .map(|(n, d)| (n.clone(), *d == Direction::HigherIsBetter))
                .collect(),
            categorical: self.categorical.clone(),
        })
    }
}

/// Column names the features, the potential models and the grading use.
fn reserved_names() -> Vec<&'static str> {
    let mut names = c::customer_columns(true, true, true);
    names.extend(c::POTENTIAL_GRADED);
    names.extend([
        CREDIT_UTILISATION,
        c::SCORE,
        c::TIER,
        c::SEGMENT,
        c::REASON,
        c::RISK,
        c::RISK_REASONS,
    ]);
    names
}

impl AttributesParams {
    /// Whether `credit_utilisation` is computed: a numeric `credit_limit` and payment data.
    pub fn has_utilisation(&self, payments: bool) -> bool {
        payments && self.numeric.iter().any(|(n, _)| n == CREDIT_LIMIT)
    }

    /// Every numeric column grading can use, with its direction: the declared ones, and
    /// `credit_utilisation` (lower is better) when it is computed.
    pub fn numeric_columns(&self, payments: bool) -> Vec<(String, bool)> {
        let mut v = self.numeric.clone();
        if self.has_utilisation(payments) {
            v.push((CREDIT_UTILISATION.to_string(), false));
        }
        v
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn check(text: &str) -> Result<AttributesParams> {
        toml::from_str::<RawAttributes>(text)
            .unwrap()
            .check(Path::new("."))
    }

    #[test]
    fn kinds_and_names_are_checked() {
        let a = check(
            "paths = \"m.csv\"\ncustomer_id = \"CustNo\"\nnumeric = { debt_ratio = \"lower_is_better\", credit_limit = \"higher_is_better\" }\ncategorical = [\"credit_rating\"]",
        )
        .unwrap();
        assert_eq!(
            a.numeric,
            [
                ("credit_limit".to_string(), true),
                ("debt_ratio".to_string(), false)
            ]
        );
        assert!(a.has_utilisation(true));
        assert!(!a.has_utilisation(false));
        assert_eq!(
            a.numeric_columns(true).last().unwrap().0,
            CREDIT_UTILISATION
        );
        for (text, want) in [
            ("paths = \"m.csv\"\ncustomer_id = \"\"\ncategorical = [\"x\"]", "customer_id names"),
            ("paths = \"m.csv\"\ncustomer_id = \"id\"", "declares no column"),
            ("paths = \"m.csv\"\ncustomer_id = \"id\"\ncategorical = [\"monetary\"]", "feature the tool computes"),
            ("paths = \"m.csv\"\ncustomer_id = \"id\"\ncategorical = [\"id\"]", "is the customer_id column"),
            (
                "paths = \"m.csv\"\ncustomer_id = \"id\"\nnumeric = { x = \"higher_is_better\" }\ncategorical = [\"x\"]",
                "both numeric and categorical",
            ),
        ] {
            let e = check(text).unwrap_err().to_string();
            assert!(e.contains(want), "{text}: {e}");
        }
        assert!(toml::from_str::<RawAttributes>(
            "paths = \"m.csv\"\ncustomer_id = \"id\"\nnumeric = { x = \"bigger\" }"
        )
        .is_err());
    }
}
