//! `tiering bench`: generates transaction histories of several sizes (about ten transactions
//! per customer), runs the whole pipeline on each, and reports per stage the wall seconds,
//! rows per second, peak resident memory and peak anonymous memory. The table of
//! docs/performance.md comes from here.

use std::path::{Path, PathBuf};

use anyhow::{Context, Result};

use crate::config::Pipeline;
use crate::generate::{generate_to_file, GenerateParams, Order};
use crate::pipeline::run;
use crate::plan::{AsOfArg, RunPlan};
use crate::progress::{reset_peak_rss, thousands, Progress, StageRecord};

/// One benchmark size.
#[derive(Debug, Clone, serde::Serialize)]
pub struct BenchResult {
    pub rows: u64,
    pub customers: u64,
    pub generate_seconds: Option<f64>,
    pub stages: Vec<StageRecord>,
}

/// The pipeline used for benchmarks: the embedded sample's columns, k fixed or auto, and the
/// potential models when asked for.
fn bench_pipeline(data: &Path, o: &BenchOptions) -> String {
    let (k, duplicates) = (&o.k, &o.duplicates);
    let potential = if o.potential { "[potential]\n" } else { "" };
    format!(
        r#"name = "bench"
[input]
paths = {data:?}
[input.columns]
customer_id = "customer_id"
date = "invoice_date"
invoice_id = "invoice_id"
quantity = "quantity"
unit_price = "unit_price"
unit_cost = "unit_cost"
due_date = "due_date"
paid_date = "paid_date"
region = "region"
[cleaning]
return_invoice_prefix = "CR"
# Generated data has no exact duplicates; "drop" (the default) measures the check's cost.
duplicates = "{duplicates}"
[clustering]
k = {k}
{potential}"#
    )
}

/// What to benchmark besides the sizes.
#[derive(Debug, Clone)]
pub struct BenchOptions {
    /// `4` or `"auto"`.
    pub k: String,
    /// `keep` or `drop`.
    pub duplicates: String,
    /// The order of the generated lines.
    pub order: Order,
    /// Fit the BG/NBD and Gamma-Gamma models (`[potential]` with its defaults).
    pub potential: bool,
    pub verbose: bool,
}

/// The input file of a size: `tx-<rows>.parquet`, `tx-<rows>-shuffled.parquet`.
pub fn input_file(dir: &Path, rows: u64, order: Order) -> PathBuf {
    match order {
        Order::Date => dir.join(format!("tx-{rows}.parquet")),
        Order::Shuffled => dir.join(format!("tx-{rows}-shuffled.parquet")),
    }
}

/// Generates (unless present) and runs each size.
pub fn run_bench(
    sizes: &[u64],
    dir: &Path,
    o: &BenchOptions,
    today: chrono::NaiveDate,
) -> Result<Vec<BenchResult>> {
    std::fs::create_dir_all(dir).with_context(|| format!("creating {}", dir.display()))?;
    let mut results = Vec::new();
    for &rows in sizes {
        let data = input_file(dir, rows, o.order);
        let customers = (rows / 10).max(10);
        let mut generate_seconds = None;
        if !data.exists() {
            let t = std::time::Instant::now();
            let params = GenerateParams {
                customers: customers as usize,
                seed: 1,
                days: 365,
                order: o.order,
                ..Default::default()
            };
            generate_to_file(&params, &data, |_| {})?;
            generate_seconds = Some(t.elapsed().as_secs_f64());
        }
        let toml_path = dir.join(format!("bench-{rows}.toml"));
        let abs: PathBuf = std::fs::canonicalize(&data)?;
        std::fs::write(&toml_path, bench_pipeline(&abs, o))?;
        let p = Pipeline::load(&toml_path)?;
        reset_peak_rss();
        let progress = Progress::new(!o.verbose, false).with_anon_sampling();
        let plan = RunPlan::resolve(
            p,
            AsOfArg::None,
            Some(dir.join(format!("out-{rows}"))),
            today,
        );
        let result = run(&plan, &progress)?;
        let stages: Vec<StageRecord> = progress
            .records()
            .into_iter()
            .filter(|s| s.name != "pipeline")
            .collect();
        results.push(BenchResult {
            rows: result.metadata.rows_read,
            customers: result.metadata.customers,
            generate_seconds,
            stages,
        });
    }
    Ok(results)
}

/// The stage groups reported, in order: (label, stage names).
const GROUPS: &[(&str, &[&str])] = &[
    ("load+features", &["load", "clean", "features"]),
    ("potential", &["potential"]),
    ("tiers", &["tiers"]),
    ("k-means", &["clusters"]),
    ("compare", &["compare"]),
    ("charts", &["charts"]),
    ("writing", &["write"]),
];

/// A Markdown table of the results: per stage group, the largest resident set (`VmHWM`, file
/// pages included) and the largest anonymous memory (`RssAnon`) of its stages.
pub fn format_results(results: &[BenchResult]) -> String {
    let mut out = String::from(
        "| transactions | customers | stage | seconds | rows/s | peak RSS MiB | peak anon MiB |\n|---:|---:|---|---:|---:|---:|---:|\n",
    );
    for r in results {
        let mut total = 0.0;
        let (mut peak, mut peak_anon): (f64, f64) = (0.0, 0.0);
        for (label, names) in GROUPS {
            let parts: Vec<&StageRecord> = r
                .stages
                .iter()
                .filter(|s| names.contains(&s.name.as_str()))
                .collect();
            if parts.is_empty() {
                continue;
            }
            let secs: f64 = parts.iter().map(|s| s.seconds).sum();
            let mib = parts.iter().filter_map(|s| s.peak_mib).fold(0.0, f64::max);
            let anon = parts
                .iter()
                .filter_map(|s| s.peak_anon_mib)
                .fold(0.0, f64::max);
            total += secs;
            peak = peak.max(mib);
            peak_anon = peak_anon.max(anon);
            out.push_str(&format!(
                "| {} | {} | {label} | {secs:.2} | {} | {mib:.0} | {anon:.0} |\n",
                thousands(r.rows),
                thousands(r.customers),
                thousands((r.rows as f64 / secs.max(1e-9)) as u64)
            ));
        }
        out.push_str(&format!(
            "| {} | {} | **total** | **{total:.2}** | {} | **{peak:.0}** | **{peak_anon:.0}** |\n",
            thousands(r.rows),
            thousands(r.customers),
            thousands((r.rows as f64 / total.max(1e-9)) as u64)
        ));
        if let Some(g) = r.generate_seconds {
            out.push_str(&format!(
                "| {} | {} | (generate input) | {g:.2} | {} | | |\n",
                thousands(r.rows),
                thousands(r.customers),
                thousands((r.rows as f64 / g.max(1e-9)) as u64)
            ));
        }
    }
    out
}
