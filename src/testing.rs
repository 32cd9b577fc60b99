//! Helpers shared by the unit tests.

use polars::prelude::*;

/// The non-missing values of text column `name` of `df`, in row order.
pub fn texts(df: &DataFrame, name: &str) -> Vec<String> {
    df.column(name)
        .unwrap()
        .str()
        .unwrap()
        .iter()
        .flatten()
        .map(String::from)
        .collect()
}
