//! Columns built side by side on the thread pool.

use anyhow::Result;
use polars::prelude::Column;
use rayon::prelude::*;

/// Builds some columns of a table: one task of [`build_columns`].
pub type ColumnJob<'a> = Box<dyn FnOnce() -> Result<Vec<Column>> + Send + 'a>;

/// A job whose column is at hand already.
pub fn ready<'a>(column: Column) -> ColumnJob<'a> {
    Box::new(move || Ok(vec![column]))
}

/// Runs the jobs one task each, and returns their columns in job order.
pub fn build_columns(jobs: Vec<ColumnJob>) -> Result<Vec<Column>> {
    let parts = jobs
        .into_par_iter()
        .map(|job| job())
        .collect::<Result<Vec<_>>>()?;
    Ok(parts.into_iter().flatten().collect())
}
