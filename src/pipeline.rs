//! Runs the steps in order and owns progress reporting: load -> clean -> features -> write.

use std::path::PathBuf;

use anyhow::{Context, Result};
use chrono::NaiveDate;
use polars::prelude::*;

use crate::clean::{clean_transactions, CleanParams, QualityRow};
use crate::columns as c;
use crate::config::Pipeline;
use crate::features::{compute_features, FeatureParams};
use crate::load::{load_transactions, InputFile};
use crate::output::{parquet::write_table, Staging};
use crate::progress::{thousands, Progress};
use crate::tiers::params::GradingParams;
use crate::tiers::rules::assign_rule_tiers;

/// Overrides from the command line and the clock, read once at the boundary.
#[derive(Debug, Clone)]
pub struct RunOptions {
    pub out: Option<PathBuf>,
    pub as_of: Option<NaiveDate>,
    pub today: NaiveDate,
}

/// What a run stores about itself in `run.json` and in every Parquet file.
#[derive(Debug, Clone, serde::Serialize)]
pub struct RunMetadata {
    pub tool: &'static str,
    pub version: &'static str,
    pub pipeline_name: String,
    pub pipeline_path: String,
    pub pipeline_toml: String,
    pub as_of: String,
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
    /// Things a person should know about this run (collapsed score bins, ...).
    pub notes: Vec<String>,
    pub outputs: Vec<String>,
}

/// The result of a run, for callers that want the tables without reading the files back.
pub struct RunResult {
    pub out_dir: PathBuf,
    pub customers: DataFrame,
    pub tiers: DataFrame,
    pub metadata: RunMetadata,
}

/// Output file names.
pub const CUSTOMERS_FILE: &str = "customers.parquet";
pub const DATA_QUALITY_FILE: &str = "data_quality.parquet";
pub const RUN_FILE: &str = "run.json";
pub const TIERS_FILE: &str = "tiers.parquet";
pub const TIER_SUMMARY_FILE: &str = "tier_summary.parquet";
pub const SEGMENT_SUMMARY_FILE: &str = "segment_summary.parquet";
pub const THRESHOLDS_FILE: &str = "rfm_thresholds.parquet";
pub const ALERTS_FILE: &str = "alerts.parquet";

/// Runs a pipeline end to end.
pub fn run(p: &Pipeline, opts: &RunOptions, progress: &Progress) -> Result<RunResult> {
    let out_dir = opts.out.clone().unwrap_or_else(|| p.output_dir.clone());
    progress.stage(
        "pipeline",
        &format!("{} ({})", p.name, p.source_path.display()),
    );

    let loaded = load_transactions(p)?;
    for f in &loaded.files {
        progress.detail(&format!(
            "{}: {} rows, {} exact duplicates",
            f.path.display(),
            thousands(f.rows),
            thousands(f.duplicates)
        ));
    }
    for (role, f) in &loaded.date_formats {
        progress.detail(&format!(
            "date format of {role}: {}",
            f.as_deref().unwrap_or("(typed date)")
        ));
    }
    progress.stage(
        "load",
        &format!(
            "{} rows from {} file(s), {} exact duplicates",
            thousands(loaded.rows_read()),
            loaded.files.len(),
            thousands(loaded.duplicates())
        ),
    );

    let as_of = opts.as_of.or(p.as_of);
    let params = CleanParams {
        cleaning: &p.cleaning,
        as_of,
        lookback_days: p.lookback_days,
        today: opts.today,
        rows_read: loaded.rows_read(),
        duplicates: loaded.duplicates(),
    };
    let cleaned = clean_transactions(loaded.transactions.clone(), &params)?;
    let kept = cleaned.transactions.height() as u64;
    let dropped: Vec<String> = cleaned
        .quality
        .iter()
        .filter(|q| q.action == "dropped" && q.rows > 0)
        .map(|q| format!("{} {}", q.step, thousands(q.rows)))
        .collect();
    progress.stage(
        "clean",
        &format!(
            "kept {} rows; dropped: {}; as_of {}",
            thousands(kept),
            if dropped.is_empty() {
                "none".into()
            } else {
                dropped.join(", ")
            },
            cleaned.as_of
        ),
    );

    let mut customers = compute_features(
        cleaned.transactions.clone().lazy(),
        &FeatureParams {
            as_of: cleaned.as_of,
            period_days: p.period_days,
        },
    )?
    .collect()
    .map_err(anyhow::Error::from)
    .context("computing customer features")?;
    progress.stage(
        "features",
        &format!("{} customers", thousands(customers.height() as u64)),
    );

    let mut grading = assign_rule_tiers(&customers, &p.grading)?;
    progress.stage("tiers", &tier_line(&grading.tier_summary)?);
    for note in &grading.notes {
        progress.stage("note", note);
    }

    let mut metadata = RunMetadata {
        tool: "tiering",
        version: env!("CARGO_PKG_VERSION"),
        pipeline_name: p.name.clone(),
        pipeline_path: p.source_path.display().to_string(),
        pipeline_toml: p.source_text.clone(),
        as_of: cleaned.as_of.to_string(),
        as_of_source: match (opts.as_of, p.as_of) {
            (Some(_), _) => "command line",
            (None, Some(_)) => "pipeline file",
            (None, None) => "day after the last transaction",
        },
        run_date: opts.today.to_string(),
        inputs: loaded.files.clone(),
        date_formats: loaded.date_formats.clone(),
        rows_read: loaded.rows_read(),
        rows_kept: kept,
        customers: customers.height() as u64,
        data_quality: cleaned.quality.clone(),
        grading: p.grading.clone(),
        notes: grading.notes.clone(),
        outputs: [
            CUSTOMERS_FILE,
            DATA_QUALITY_FILE,
            TIERS_FILE,
            TIER_SUMMARY_FILE,
            SEGMENT_SUMMARY_FILE,
            THRESHOLDS_FILE,
            ALERTS_FILE,
            RUN_FILE,
        ]
        .iter()
        .map(|s| s.to_string())
        .collect(),
    };
    let run_json = serde_json::to_string_pretty(&metadata)?;

    let staging = Staging::begin(&out_dir)?;
    write_table(&staging, CUSTOMERS_FILE, &mut customers, &run_json)?;
    let mut quality = quality_frame(&cleaned.quality, loaded.rows_read())?;
    write_table(&staging, DATA_QUALITY_FILE, &mut quality, &run_json)?;
    write_table(&staging, TIERS_FILE, &mut grading.tiers, &run_json)?;
    write_table(
        &staging,
        TIER_SUMMARY_FILE,
        &mut grading.tier_summary,
        &run_json,
    )?;
    write_table(
        &staging,
        SEGMENT_SUMMARY_FILE,
        &mut grading.segment_summary,
        &run_json,
    )?;
    write_table(
        &staging,
        THRESHOLDS_FILE,
        &mut grading.thresholds,
        &run_json,
    )?;
    write_table(&staging, ALERTS_FILE, &mut grading.alerts, &run_json)?;
    staging.write_text(RUN_FILE, &run_json)?;
    let out_dir = staging.commit()?;
    progress.stage(
        "write",
        &format!("{} files in {}", metadata.outputs.len(), out_dir.display()),
    );
    metadata.outputs.sort();
    Ok(RunResult {
        out_dir,
        customers,
        tiers: grading.tiers,
        metadata,
    })
}

fn quality_frame(rows: &[QualityRow], read: u64) -> Result<DataFrame> {
    let share: Vec<f64> = rows
        .iter()
        .map(|r| {
            if read == 0 {
                0.0
            } else {
                r.rows as f64 / read as f64
            }
        })
        .collect();
    Ok(DataFrame::new_infer_height(vec![
        Column::new(
            c::DQ_STEP.into(),
            rows.iter().map(|r| r.step.clone()).collect::<Vec<_>>(),
        ),
        Column::new(
            c::DQ_ACTION.into(),
            rows.iter().map(|r| r.action).collect::<Vec<_>>(),
        ),
        Column::new(
            c::DQ_ROWS.into(),
            rows.iter().map(|r| r.rows as i64).collect::<Vec<_>>(),
        ),
        Column::new(c::DQ_SHARE.into(), share),
    ])?)
}

/// `A 312 (16.8%), B 540 (29.1%), C 1,003 (54.1%)`.
fn tier_line(summary: &DataFrame) -> Result<String> {
    let names = summary.column("tier")?.str()?.clone();
    let n = summary.column("customers")?.i64()?.clone();
    let share = summary.column("customer_share")?.f64()?.clone();
    Ok(names
        .iter()
        .zip(n.iter())
        .zip(share.iter())
        .map(|((t, n), s)| {
            format!(
                "{} {} ({:.1}%)",
                t.unwrap_or(""),
                thousands(n.unwrap_or(0) as u64),
                s.unwrap_or(0.0) * 100.0
            )
        })
        .collect::<Vec<_>>()
        .join(", "))
}
