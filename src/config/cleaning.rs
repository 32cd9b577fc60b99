//! `[cleaning]` of the pipeline file: what happens to rows a rule finds, checked once into
//! [`Cleaning`] (the rules themselves are in `crate::clean`).

use anyhow::{bail, Result};
use serde::Deserialize;

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

impl RawCleaning {
    /// Checks the section; `has_invoice` says whether `[input.columns]` maps `invoice_id`
    /// (the prefix of cancellations needs one, and it decides the default of `duplicates`).
    pub fn check(&self, has_invoice: bool) -> Result<Cleaning> {
        if let Some(p) = &self.return_invoice_prefix {
            if p.is_empty() {
                bail!("[cleaning] return_invoice_prefix is empty; remove the key or give the prefix, e.g. \"C\"");
            }
            if !has_invoice {
                bail!("[cleaning] return_invoice_prefix needs [input.columns] invoice_id");
            }
        }
        Ok(Cleaning {
            missing_customer_id: self.missing_customer_id,
            returns: self.returns,
            return_invoice_prefix: self.return_invoice_prefix.clone(),
            nonpositive_price: self.nonpositive_price,
            duplicates: self.duplicates.unwrap_or(if has_invoice {
                DropOrKeep::Drop
            } else {
                DropOrKeep::Keep
            }),
            future_dates: self.future_dates,
            non_finite_value: self.non_finite_value,
            normalize_customer_id: self.normalize_customer_id,
        })
    }
}
