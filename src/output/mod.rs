//! The only place that writes files. A run's outputs are written into a staging folder beside
//! the target and renamed into place at the end, so a failed run leaves the previous outputs
//! untouched and never a half-written table (see [`folder`]).

mod chart_data;
pub mod charts;
pub mod files;
pub mod folder;
pub mod fonts;
pub mod metadata;
pub mod numbers;
pub mod parquet;
pub mod report;
pub mod validation;
mod writer;

pub use folder::{OutputTarget, Staging};
pub use metadata::RunMetadata;
pub use writer::Outputs;

use polars::prelude::DataFrame;

use crate::attributes::MasterMatch;
use crate::compare::Comparison;
use crate::features::CleanFeatures;
use crate::history::HistoryTables;
use crate::load::Loaded;
use crate::load::Master;
use crate::plan::RunPlan;
use crate::potential::PotentialResults;
use crate::tiers::clusters::ClusterOutput;
use crate::tiers::rules::Grading;

/// Alerts shown in report.html, the most urgent first.
pub const REPORT_ALERTS: usize = 25;

/// Everything the stages of a run produced: what the outputs are made of.
pub struct RunResults<'a> {
    pub plan: &'a RunPlan,
    pub loaded: &'a Loaded,
    /// The as-of date, the row account and the customer table.
    pub features: &'a CleanFeatures,
    /// The customer table (customers.parquet).
    pub customers: &'a DataFrame,
    pub grading: &'a Grading,
    pub clusters: Option<&'a ClusterOutput>,
    pub comparison: Option<&'a Comparison>,
    pub history: Option<&'a HistoryTables>,
    /// The purchase and spend models, with `[potential]`.
    pub potential: Option<&'a PotentialResults>,
    /// The customer master and how it matched the customers, with `[attributes]`.
    pub master: Option<(&'a Master, MasterMatch)>,
}

use std::path::{Path, PathBuf};

use anyhow::{Context, Result};

/// Writes frames one after another into one CSV or Parquet file (by extension), through a
/// temporary file renamed by `finish`; dropped unfinished, it leaves nothing behind. Used by
/// `tiering generate`, whose output can be far larger than memory.
pub struct DataFileWriter {
    path: PathBuf,
    tmp: PathBuf,
    rows: u64,
    inner: Option<Inner>,
}

enum Inner {
    Csv(polars::io::csv::write::BatchedWriter<std::fs::File>),
    Parquet(Box<polars::io::parquet::write::BatchedWriter<std::fs::File>>),
}

impl DataFileWriter {
    /// Prepares `path`; the file is created with the first frame.
    pub fn new(path: &Path) -> Result<DataFileWriter> {
        let ext = extension(path);
        if !matches!(ext.as_str(), "csv" | "parquet" | "pq") {
            anyhow::bail!(
                "cannot tell the format of {} from its extension; use .csv or .parquet",
                path.display()
            );
        }
        if path.exists() {
            anyhow::bail!(
                "{} exists; tiering does not overwrite files it did not write: remove it first or choose another name",
                path.display()
            );
        }
        if let Some(parent) = path.parent().filter(|p| !p.as_os_str().is_empty()) {
            std::fs::create_dir_all(parent)
                .with_context(|| format!("creating folder {}", parent.display()))?;
        }
        Ok(DataFileWriter {
            path: path.to_path_buf(),
            tmp: path.with_extension(format!("{ext}.tmp-{}", std::process::id())),
            rows: 0,
            inner: None,
        })
    }

    pub fn write(&mut self, df: &polars::prelude::DataFrame) -> Result<()> {
        use polars::prelude::*;
        if self.inner.is_none() {
            let f = std::fs::File::create(&self.tmp)
                .with_context(|| format!("creating {}", self.tmp.display()))?;
            let schema = df.schema().as_ref().clone();
            self.inner = Some(match extension(&self.path).as_str() {
                "csv" => Inner::Csv(CsvWriter::new(f).include_header(true).batched(&schema)?),
                _ => Inner::Parquet(Box::new(
                    ParquetWriter::new(f)
                        .with_compression(ParquetCompression::Zstd(None))
                        .batched(&schema)?,
                )),
            });
        }
        match self.inner.as_mut().expect("created above") {
            Inner::Csv(w) => w.write_batch(df)?,
            Inner::Parquet(w) => w.write_batch(df)?,
        }
        self.rows += df.height() as u64;
        Ok(())
    }

    /// Closes the file and moves it into place; returns the rows written.
    pub fn finish(mut self) -> Result<u64> {
        match self.inner.take() {
            Some(Inner::Csv(mut w)) => w.finish()?,
            Some(Inner::Parquet(w)) => {
                w.finish()?;
            }
            None => anyhow::bail!("nothing was written to {}", self.path.display()),
        }
        std::fs::rename(&self.tmp, &self.path)
            .with_context(|| format!("moving {} into place", self.path.display()))?;
        Ok(self.rows)
    }
}

impl Drop for DataFileWriter {
    fn drop(&mut self) {
        if self.tmp.exists() {
            std::fs::remove_file(&self.tmp).ok();
        }
    }
}

fn extension(path: &Path) -> String {
    path.extension()
        .and_then(|e| e.to_str())
        .unwrap_or("")
        .to_ascii_lowercase()
}
