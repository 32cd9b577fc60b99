//! What a run stores about itself: `run.json`, and the same JSON in every Parquet file's
//! key-value metadata.

use super::RunResults;
use crate::clean::QualityRow;
use crate::compare::Metric;
use crate::load::InputFile;
use crate::potential::PotentialReport;
use crate::tiers::params::GradingParams;

/// What a run stores about itself in `run.json` and in every Parquet file.
#[derive(Debug, Clone, serde::Serialize)]
pub struct RunMetadata {
    pub tool: &'static str,
    pub version: &'static str,
    pub pipeline_name: String,
    pub pipeline_path: String,
    pub pipeline_toml: String,
    pub as_of: String,
    /// Where `as_of` came from (see `crate::plan::DateSource`).
    pub as_of_source: &'static str,
    pub run_date: String,
    pub inputs: Vec<InputFile>,
    pub date_formats: Vec<(String, Option<String>)>,
    pub rows_read: u64,
    pub rows_kept: u64,
    pub customers: u64,
    pub data_quality: Vec<QualityRow>,
    /// The grading rules as validated (weights normalised, preset cuts filled in).
    pub grading: GradingParams,
    /// k, how it was chosen, sampling, the fitted transform; absent when clustering is off.
    pub clustering: Option<serde_json::Value>,
    /// Snapshot dates, where each came from and how they were made comparable; absent for a
    /// single as_of.
    pub history: Option<serde_json::Value>,
    /// Rules versus clusters: adjusted Rand index, mutual information, agreement.
    pub comparison: Option<Vec<Metric>>,
    /// The purchase and spend models: time unit, horizon, discount rate, each model's
    /// parameters, log-likelihood, iterations and convergence; absent without `[potential]`.
    pub potential: Option<PotentialReport>,
    /// The customer master: its files, and the customers found on one side only; absent
    /// without `[attributes]`.
    pub attributes: Option<serde_json::Value>,
    /// Things a person should know about this run (collapsed score bins, ...).
    pub notes: Vec<String>,
    pub outputs: Vec<String>,
}

/// The metadata of a run from its results, the notes gathered and the files it writes.
pub fn run_metadata(run: &RunResults, notes: Vec<String>, outputs: Vec<String>) -> RunMetadata {
    let p = &run.plan.pipeline;
    let history = run.history.map(|h| {
        serde_json::json!({
            "as_of": h.sizes.iter().map(|s| s.as_of.to_string()).collect::<Vec<_>>(),
            "as_of_sources": h.sources,
            "clustering": "one model, fitted on the latest snapshot, assigns the customers of every snapshot",
            "rules": "the same pipeline rules at every snapshot; quantile RFM cut points and percentile ranks are recomputed from each snapshot's customers",
        })
    });
    RunMetadata {
        tool: "tiering",
        version: env!("CARGO_PKG_VERSION"),
        pipeline_name: p.name.clone(),
        pipeline_path: p.source_path.display().to_string(),
        pipeline_toml: p.source_text.clone(),
        as_of: run.features.as_of.to_string(),
        as_of_source: run.plan.as_of.source.describe(),
        run_date: run.plan.today.to_string(),
        inputs: run.loaded.files.clone(),
        date_formats: run.loaded.date_formats.clone(),
        rows_read: run.loaded.rows_read(),
        rows_kept: run.features.rows_kept(),
        customers: run.customers.height() as u64,
        data_quality: run.features.quality.clone(),
        grading: p.grading.clone(),
        clustering: run.clusters.map(|c| c.metadata.clone()),
        history,
        comparison: run.comparison.map(|c| c.summary.clone()),
        potential: run.potential.map(|p| p.report.clone()),
        attributes: run.master.map(|(m, matched)| {
            serde_json::json!({
                "inputs": m.files,
                "customers": matched.master_customers,
                "master_customers_without_purchase": matched.master_only,
                "customers_missing_from_master": matched.missing_from_master,
                "numeric": p.attributes.as_ref().map(|a| a.numeric.iter().map(|(n, h)| (n.clone(), if *h { "higher_is_better" } else { "lower_is_better" })).collect::<std::collections::BTreeMap<_, _>>()),
                "categorical": p.attributes.as_ref().map(|a| a.categorical.clone()),
                "history": "attributes have no dates: every snapshot of a history run reads the same master",
            })
        }),
        notes,
        outputs,
    }
}
