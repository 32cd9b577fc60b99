//! Runs the steps in order and owns progress reporting: load -> clean -> features -> write.

use std::path::PathBuf;
use std::sync::Arc;

use anyhow::{Context, Result};
use chrono::NaiveDate;
use polars::prelude::*;
use rayon::prelude::*;

use crate::alloc::release_free_memory;
use crate::clean::{account_no_purchase, no_customers, CleanParams, QualityRow};
use crate::columns as c;
use crate::compare::{chart_data, compare, Comparison};
use crate::config::History;
use crate::config::Pipeline;
use crate::features::{clean_and_fold, CleanFeatures};
use crate::history::{build_history, HistoryTables, Snapshot};
use crate::load::{catch_panic, load_transactions, pass_error, InputFile};
use crate::output::charts::{render_charts, Migration};
use crate::output::report::{render_report, Report, Section};
use crate::output::{
    parquet::{write_partitioned, write_table, Pending},
    OutputTarget, Staging,
};
use crate::progress::{thousands, Progress};
use crate::tiers::clusters::{fit_clusters, ClusterOutput, Clustered};
use crate::tiers::params::GradingParams;
use crate::tiers::rules::cols as tc;
use crate::tiers::rules::{assign_rule_tiers, Grading, Rows, TierRows};

/// Overrides from the command line and the clock, read once at the boundary.
#[derive(Debug, Clone)]
pub struct RunOptions {
    pub out: Option<PathBuf>,
    pub as_of: Option<NaiveDate>,
    /// Several as_of dates from the command line: a history run (overrides `[history]`).
    pub history: Option<Vec<NaiveDate>>,
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
    /// k, how it was chosen, sampling, the fitted transform; absent when clustering is off.
    pub clustering: Option<serde_json::Value>,
    /// Snapshot dates and how they were made comparable; absent for a single as_of.
    pub history: Option<serde_json::Value>,
    /// Rules versus clusters: adjusted Rand index, mutual information, agreement.
    pub comparison: Option<Vec<(String, f64)>>,
    /// Things a person should know about this run (collapsed score bins, ...).
    pub notes: Vec<String>,
    pub outputs: Vec<String>,
}

/// The result of a run, for callers that want the tables without reading the files back.
pub struct RunResult {
    pub out_dir: PathBuf,
    pub customers: DataFrame,
    /// tiers.parquet's rows: `frame(Rows::All)` builds the table.
    pub tiers: Arc<TierRows>,
    pub metadata: RunMetadata,
}

/// Output file names.
pub const CUSTOMERS_FILE: &str = "customers.parquet";
pub const DATA_QUALITY_FILE: &str = "data_quality.parquet";
pub const RUN_FILE: &str = "run.json";
pub const TIERS_FILE: &str = "tiers.parquet";
/// With `[output] partition_by = "tier"`.
pub const TIERS_DIR: &str = "tiers";
pub const TIER_SUMMARY_FILE: &str = "tier_summary.parquet";
pub const SEGMENT_SUMMARY_FILE: &str = "segment_summary.parquet";
pub const THRESHOLDS_FILE: &str = "rfm_thresholds.parquet";
pub const ALERTS_FILE: &str = "alerts.parquet";
pub const CLUSTERS_FILE: &str = "clusters.parquet";
pub const CENTROIDS_FILE: &str = "centroids.parquet";
pub const K_SELECTION_FILE: &str = "k_selection.parquet";
pub const CLUSTER_PROFILES_FILE: &str = "cluster_profiles.parquet";
pub const COMPARISON_FILE: &str = "comparison.parquet";
pub const CROSSTAB_FILE: &str = "crosstab.parquet";
pub const DISAGREEMENTS_FILE: &str = "disagreements.parquet";
pub const GROUP_PROFILES_FILE: &str = "group_profiles.parquet";
pub const REPORT_FILE: &str = "report.html";
pub const TIER_HISTORY_FILE: &str = "tier_history.parquet";
pub const MIGRATION_FILE: &str = "migration.parquet";
pub const MOVEMENTS_FILE: &str = "movements.parquet";
pub const STABILITY_FILE: &str = "stability.parquet";
pub const CHARTS_DIR: &str = "charts";

/// Alerts shown in report.html, the most urgent first.
const REPORT_ALERTS: usize = 25;

/// Runs a pipeline end to end.
pub fn run(p: &Pipeline, opts: &RunOptions, progress: &Progress) -> Result<RunResult> {
    let out_dir = opts.out.clone().unwrap_or_else(|| p.output_dir.clone());
    progress.stage(
        "pipeline",
        &format!("{} ({})", p.name, p.source_path.display()),
    );
    // Checked before any work: a folder the tool may not replace is an error at once.
    let target = OutputTarget::check(
        &out_dir,
        if opts.out.is_some() {
            "--out"
        } else if p.output_dir_given {
            "[output] dir"
        } else {
            "the default out/<name>"
        },
    )?;
    for note in &target.notes {
        progress.stage("note", note);
    }

    let mut loaded = load_transactions(p)?;
    for note in &loaded.notes {
        progress.stage("note", note);
    }
    for f in &loaded.files {
        progress.detail(&format!("{}: {} rows", f.path.display(), thousands(f.rows)));
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
            "{} rows from {} file(s)",
            thousands(loaded.rows_read()),
            loaded.files.len(),
        ),
    );

    // A single --as-of grades that one date even when the file has a [history].
    let history: Option<History> = match (&opts.history, opts.as_of) {
        (Some(d), _) => Some(History::Dates(d.clone())),
        (None, Some(_)) => None,
        (None, None) => p.history.clone(),
    };
    let as_of = match &history {
        Some(History::Dates(d)) => d.last().copied(),
        Some(History::Cadence { end: Some(e), .. }) => Some(*e),
        _ => opts.as_of.or(p.as_of),
    };
    let params = CleanParams {
        cleaning: &p.cleaning,
        as_of,
        lookback_days: p.lookback_days,
        today: opts.today,
        rows_read: loaded.rows_read(),
    };
    let CleanFeatures {
        as_of,
        quality: mut quality_rows,
        duplicates,
        features,
    } = catch_panic(|| clean_and_fold(loaded.transactions.clone(), &params, p.period_days))
        .map_err(|e| pass_error(&loaded, p, e))?;
    for (f, n) in loaded.files.iter_mut().zip(duplicates) {
        f.duplicates = n;
    }
    progress.stage("clean", &format!("as_of {}", as_of));
    account_no_purchase(
        &mut quality_rows,
        features.no_purchase_rows,
        features.no_purchase_returns,
    );
    let kept = quality_rows
        .iter()
        .find(|q| q.action == "kept")
        .map(|q| q.rows)
        .unwrap_or(0);
    let dropped: Vec<String> = quality_rows
        .iter()
        .filter(|q| q.action == "dropped" && q.rows > 0)
        .map(|q| format!("{} {}", q.step, thousands(q.rows)))
        .collect();
    let mut customers = features.customers;
    let customers_count = customers.height() as u64;
    if customers_count == 0 {
        return Err(no_customers(&quality_rows, as_of, loaded.rows_read()));
    }
    progress.stage(
        "features",
        &format!(
            "{} customers from {} rows kept; dropped: {}",
            thousands(customers_count),
            thousands(kept),
            if dropped.is_empty() {
                "none".into()
            } else {
                dropped.join(", ")
            },
        ),
    );

    // The pass's garbage (batches, the invoice log) is the largest of the run: handed back
    // before grading, which would otherwise peak on top of it.
    release_free_memory();
    // Outputs go to a staging folder, renamed into place at the end. The large tables are
    // written there as soon as they are final, each on a thread of its own, while the run goes
    // on (grading and clustering leave a core idle for much of their time); their footers,
    // which carry the run metadata, wait for the end.
    let staging = Staging::begin(&target)?;
    customers.rechunk_mut();
    let mut early = vec![Pending::start(&staging, CUSTOMERS_FILE, customers.clone())?];
    let mut grading = assign_rule_tiers(&customers, &p.grading)?;
    progress.stage("tiers", &tier_line(&grading.tier_summary)?);
    let mut notes = target.notes.clone();
    notes.extend(loaded.notes.iter().cloned());
    notes.extend(grading.notes.iter().cloned());
    for note in &grading.notes {
        progress.stage("note", note);
    }

    // One chunk per column before the writer shares the table (else it would copy the
    // details, written in blocks, into one chunk of its own).
    grading.alerts.rechunk_mut();
    // Grading's working vectors and the blocks just joined go back too: the tables it keeps
    // are what the rest needs.
    release_free_memory();
    if !p.partition_by_tier {
        // Built a row group at a time as it is written: whole, its text would be the
        // largest table of the run.
        let rows = grading.rows.clone();
        early.push(Pending::start_in_groups(
            &staging,
            TIERS_FILE,
            rows.height(),
            move |r| rows.frame(Rows::Range(r)),
        )?);
    }
    early.push(Pending::start(
        &staging,
        ALERTS_FILE,
        grading.alerts.clone(),
    )?);
    // The report shows the most urgent few; the writer keeps the rest until they are written.
    grading.alerts = grading.alerts.head(Some(REPORT_ALERTS));

    // Clustering, then rules versus clusters.
    let clustered = match &p.clustering {
        Some(cp) => Some(fit_clusters(&customers, cp, &p.grading.tier_names)?),
        None => None,
    };
    let clusters = match clustered {
        Some(Clustered::Done(cl)) => {
            progress.stage(
                "clusters",
                &format!(
                    "k = {}{}, fitted on {} customers{}",
                    cl.k,
                    if p.clustering.as_ref().is_some_and(|c| c.k.is_none()) {
                        " (auto)"
                    } else {
                        ""
                    },
                    thousands(cl.fit_rows as u64),
                    if cl.sampled { " (sample)" } else { "" }
                ),
            );
            Some(cl)
        }
        Some(Clustered::Skipped(why)) => {
            progress.stage("note", &why);
            notes.push(why);
            None
        }
        None => None,
    };
    if let Some(cl) = &clusters {
        early.push(Pending::start(
            &staging,
            CLUSTERS_FILE,
            cl.assignments.clone(),
        )?);
    }
    let mut comparison = match &clusters {
        Some(cl) => {
            let cmp = compare(&customers, &grading.rows, &p.grading, cl)?;
            progress.stage(
                "compare",
                &cmp.summary
                    .iter()
                    .skip(3)
                    .map(|(k, v)| format!("{k} {v:.3}"))
                    .collect::<Vec<_>>()
                    .join(", "),
            );
            Some(cmp)
        }
        None => None,
    };

    let mut history_tables = match &history {
        Some(h) => {
            let dates = h.dates(as_of);
            let mut snaps = Vec::with_capacity(dates.len());
            for d in dates.iter().filter(|d| **d < as_of) {
                let (snap_customers, tiers) = catch_panic(|| {
                    grade_snapshot(&loaded.transactions, loaded.rows_read(), p, *d, opts.today)
                })
                .map_err(|e| pass_error(&loaded, p, e))
                .with_context(|| format!("grading the snapshot as of {d}"))?;
                // One model for every snapshot, so cluster numbers mean the same everywhere.
                let clusters = match &clusters {
                    Some(cl) => Some(cl.model.assign(&snap_customers)?),
                    None => None,
                };
                progress.stage(
                    "snapshot",
                    &format!("{d}: {} customers", thousands(tiers.height() as u64)),
                );
                snaps.push(Snapshot {
                    as_of: *d,
                    tiers,
                    clusters,
                });
            }
            snaps.push(Snapshot {
                as_of,
                tiers: grading.rows.frame(Rows::All)?,
                clusters: clusters.as_ref().map(|c| c.labels.clone()),
            });
            let t = build_history(&snaps, &p.grading.tier_names)?;
            progress.stage(
                "history",
                &format!(
                    "{} snapshots, {} movements",
                    snaps.len(),
                    thousands(t.movements.height() as u64)
                ),
            );
            Some(t)
        }
        None => None,
    };

    let mut outputs: Vec<String> = Vec::new();
    let mut chart_files: Vec<String> = Vec::new();
    if let Some(max_points) = p.chart_points {
        let mut data = chart_data(
            &customers,
            &grading.rows,
            &grading.tier_summary,
            &p.grading,
            clusters.as_deref(),
            comparison.as_ref().map(|c| &c.counts),
            max_points,
        )?;
        if let Some(h) = &history_tables {
            data.sizes_over_time = h
                .sizes
                .iter()
                .map(|(d, v)| (d.to_string(), v.clone()))
                .collect();
            data.migration = h.last_matrix.clone().map(|(from, to, counts)| {
                let n = h.sizes.len();
                Migration {
                    from,
                    to,
                    counts,
                    dates: format!("{} -> {}", h.sizes[n - 2].0, h.sizes[n - 1].0),
                }
            });
        }
        // A chart that cannot be drawn must not cost the user the tables.
        match render_charts(&staging.path(CHARTS_DIR), &data) {
            Ok(files) => chart_files = files,
            Err(e) => {
                let note = format!("charts not drawn: {e:#}");
                progress.stage("note", &note);
                notes.push(note);
            }
        }
        progress.stage("charts", &format!("{} files", chart_files.len()));
    }

    let clustering_meta = clusters.as_ref().map(|c| c.metadata.clone());
    let history_meta = history_tables.as_ref().map(|h| {
        serde_json::json!({
            "as_of": h.sizes.iter().map(|s| s.0.to_string()).collect::<Vec<_>>(),
            "clustering": "one model, fitted on the latest snapshot, assigns the customers of every snapshot",
            "rules": "the same pipeline rules at every snapshot; quantile RFM cut points and percentile ranks are recomputed from each snapshot's customers",
        })
    });
    let comparison_meta = comparison.as_ref().map(|c| c.summary.clone());
    let mut tables: Vec<(&str, &mut DataFrame)> = vec![
        (CUSTOMERS_FILE, &mut customers),
        (TIER_SUMMARY_FILE, &mut grading.tier_summary),
        (SEGMENT_SUMMARY_FILE, &mut grading.segment_summary),
        (THRESHOLDS_FILE, &mut grading.thresholds),
        (ALERTS_FILE, &mut grading.alerts),
    ];
    let mut quality = quality_frame(&quality_rows, loaded.rows_read())?;
    tables.push((DATA_QUALITY_FILE, &mut quality));
    let mut clusters_owned = clusters;
    if let Some(cl) = clusters_owned.as_deref_mut() {
        tables.push((CLUSTERS_FILE, &mut cl.assignments));
        tables.push((CENTROIDS_FILE, &mut cl.centroids));
        tables.push((K_SELECTION_FILE, &mut cl.k_selection));
        tables.push((CLUSTER_PROFILES_FILE, &mut cl.profiles));
    }
    if let Some(h) = history_tables.as_mut() {
        tables.push((TIER_HISTORY_FILE, &mut h.tier_history));
        tables.push((MIGRATION_FILE, &mut h.migration));
        tables.push((MOVEMENTS_FILE, &mut h.movements));
        tables.push((STABILITY_FILE, &mut h.stability));
    }
    if let Some(cmp) = comparison.as_mut() {
        tables.push((COMPARISON_FILE, &mut cmp.metrics));
        tables.push((CROSSTAB_FILE, &mut cmp.crosstab));
        tables.push((DISAGREEMENTS_FILE, &mut cmp.disagreements));
        tables.push((GROUP_PROFILES_FILE, &mut cmp.profiles));
    }
    outputs.extend(tables.iter().map(|(f, _)| f.to_string()));
    if p.partition_by_tier {
        outputs.push(format!("{TIERS_DIR}/tier=<name>/part-0.parquet"));
    } else {
        outputs.push(TIERS_FILE.to_string());
    }
    outputs.push(REPORT_FILE.into());
    outputs.push(RUN_FILE.into());
    outputs.extend(chart_files.iter().map(|f| format!("{CHARTS_DIR}/{f}")));

    let metadata = RunMetadata {
        tool: "tiering",
        version: env!("CARGO_PKG_VERSION"),
        pipeline_name: p.name.clone(),
        pipeline_path: p.source_path.display().to_string(),
        pipeline_toml: p.source_text.clone(),
        as_of: as_of.to_string(),
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
        customers: customers_count,
        data_quality: quality_rows.clone(),
        grading: p.grading.clone(),
        clustering: clustering_meta,
        history: history_meta,
        comparison: comparison_meta,
        notes,
        outputs,
    };
    let run_json = serde_json::to_string_pretty(&metadata)?;
    // The tables written already only need their footers (below).
    tables.retain(|(file, _)| early.iter().all(|t| t.file() != *file));
    // Tables are written side by side: one writer keeps about one core busy. Largest first,
    // one table per task, so the big ones start at once on different threads (in list order
    // rayon could give the two largest to one thread, one after the other).
    tables.sort_by_key(|(_, df)| std::cmp::Reverse(df.height() * df.width()));
    tables
        .par_iter_mut()
        .with_max_len(1)
        .try_for_each(|(file, df)| write_table(&staging, file, df, &run_json))?;
    drop(tables);
    for table in early {
        table.wait()?.finish(&run_json)?;
    }
    if p.partition_by_tier {
        write_partitioned(
            &staging,
            TIERS_DIR,
            &grading.rows.frame(Rows::All)?,
            tc::TIER,
            &p.grading.tier_names,
            &run_json,
        )?;
    }

    let report = build_report(
        &metadata,
        &quality,
        &grading,
        clusters_owned.as_deref(),
        comparison.as_ref(),
        history_tables.as_ref(),
        &staging.path(CHARTS_DIR),
        &chart_files,
    )?;
    staging.write_text(REPORT_FILE, &report)?;
    staging.write_text(RUN_FILE, &run_json)?;
    let out_dir = staging.commit()?;
    progress.stage(
        "write",
        &format!("{} files in {}", metadata.outputs.len(), out_dir.display()),
    );
    Ok(RunResult {
        out_dir,
        customers,
        tiers: grading.rows,
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

/// Assembles report.html from the tables of the run.
#[allow(clippy::too_many_arguments)]
fn build_report(
    m: &RunMetadata,
    quality: &DataFrame,
    g: &Grading,
    cl: Option<&ClusterOutput>,
    cmp: Option<&Comparison>,
    history: Option<&HistoryTables>,
    chart_dir: &std::path::Path,
    chart_files: &[String],
) -> Result<String> {
    let mut summary = vec![
        (
            "pipeline".to_string(),
            format!("{} ({})", m.pipeline_name, m.pipeline_path),
        ),
        (
            "as of".to_string(),
            format!("{} ({})", m.as_of, m.as_of_source),
        ),
        ("run on".to_string(), m.run_date.clone()),
    ];
    for f in &m.inputs {
        summary.push((
            "input".to_string(),
            format!("{} ({} rows)", f.path.display(), thousands(f.rows)),
        ));
    }
    summary.push(("rows read".into(), thousands(m.rows_read)));
    summary.push(("rows kept".into(), thousands(m.rows_kept)));
    for q in m
        .data_quality
        .iter()
        .filter(|q| q.action == "dropped" && q.rows > 0)
    {
        summary.push((format!("dropped: {}", q.step), thousands(q.rows)));
    }
    summary.push(("customers".into(), thousands(m.customers)));
    for n in &m.notes {
        summary.push(("note".into(), n.clone()));
    }
    let mut sections = vec![
        Section {
            id: "quality",
            title: "Data quality",
            intro: "What happened to every row read (data_quality.parquet).".into(),
            table: Some(quality),
            max_rows: 50,
            total_rows: None,
        },
        Section {
            id: "tiers",
            title: "Tier summary",
            intro: "Customers, revenue and profit per rule tier, after the risk overlay (tier_summary.parquet).".into(),
            table: Some(&g.tier_summary),
            max_rows: 50,
            total_rows: None,
        },
        Section {
            id: "segments",
            title: "RFM segments",
            intro: "Customers per RFM segment (segment_summary.parquet).".into(),
            table: Some(&g.segment_summary),
            max_rows: 50,
            total_rows: None,
        },
        Section {
            id: "alerts",
            title: "Alerts",
            intro: format!(
                "{} alerts on customers needing action now, most urgent first (alerts.parquet).",
                g.alert_count
            ),
            table: Some(&g.alerts),
            max_rows: REPORT_ALERTS,
            total_rows: Some(g.alert_count),
        },
    ];
    if let Some(cl) = cl {
        sections.push(Section {
            id: "clusters",
            title: "Cluster profiles",
            intro: format!(
                "k-means with k = {}; clusters numbered by value, 1 = most valuable (cluster_profiles.parquet).",
                cl.k
            ),
            table: Some(&cl.profiles),
            max_rows: 50,
            total_rows: None,
        });
    }
    if let Some(c) = cmp {
        sections.push(Section {
            id: "comparison",
            title: "Rules versus clusters",
            intro: "Do the clusters agree with the tiers written by hand? (comparison.parquet)"
                .into(),
            table: Some(&c.metrics),
            max_rows: 20,
            total_rows: None,
        });
        sections.push(Section {
            id: "profiles",
            title: "Tiers and clusters side by side",
            intro: "Size and mean/median recency, frequency, monetary and profit of every tier and cluster (group_profiles.parquet).".into(),
            table: Some(&c.profiles),
            max_rows: 50,
            total_rows: None,
        });
        sections.push(Section {
            id: "disagreements",
            title: "Top disagreements",
            intro: "Customers whose rule tier and cluster are furthest apart, most revenue first (disagreements.parquet).".into(),
            table: Some(&c.disagreements),
            max_rows: 20,
            total_rows: None,
        });
    }
    if let Some(h) = history {
        sections.push(Section {
            id: "stability",
            title: "Stability between as-of dates",
            intro: "Share of customers who kept their tier, upgrades, downgrades, new and departed customers (stability.parquet).".into(),
            table: Some(&h.stability),
            max_rows: 50,
            total_rows: None,
        });
        sections.push(Section {
            id: "migration",
            title: "Tier migration",
            intro: "Customers and their revenue from each tier to each tier, per pair of dates (migration.parquet).".into(),
            table: Some(&h.migration),
            max_rows: 60,
            total_rows: None,
        });
        sections.push(Section {
            id: "movements",
            title: "Who moved",
            intro: "Customers who moved up or down, appeared or left, with the reason (movements.parquet).".into(),
            table: Some(&h.movements),
            max_rows: 30,
            total_rows: None,
        });
    }
    let captions = [
        ("tier_sizes.png", "Tier sizes with revenue and profit share"),
        ("pareto.png", "Pareto curve with the tier cut points"),
        ("rfm_heatmap.png", "Mean monetary value by R and F score"),
        (
            "recency_monetary.png",
            "Recency against monetary, by rule tier and by cluster",
        ),
        ("k_selection.png", "Choosing k: inertia and silhouette"),
        ("tier_cluster_heatmap.png", "Rule tier x cluster"),
        ("tier_sizes_over_time.png", "Customers per tier over time"),
        (
            "migration_heatmap.png",
            "Tier migration between the last two dates",
        ),
    ];
    let mut charts = Vec::new();
    for (file, caption) in captions {
        if chart_files.iter().any(|f| f == file) {
            let bytes = std::fs::read(chart_dir.join(file))
                .with_context(|| format!("reading chart {file}"))?;
            charts.push((file.to_string(), caption.to_string(), bytes));
        }
    }
    Ok(render_report(&Report {
        title: format!("tiering: {} as of {}", m.pipeline_name, m.as_of),
        summary,
        sections,
        charts,
    }))
}

/// Cleans, computes features and grades one earlier snapshot: the same rules, only the
/// transactions before `as_of`. Returns (customers, tiers).
fn grade_snapshot(
    tx: &LazyFrame,
    rows_read: u64,
    p: &Pipeline,
    as_of: NaiveDate,
    today: NaiveDate,
) -> Result<(DataFrame, DataFrame)> {
    let params = CleanParams {
        cleaning: &p.cleaning,
        as_of: Some(as_of),
        lookback_days: p.lookback_days,
        today,
        rows_read,
    };
    let customers = clean_and_fold(tx.clone(), &params, p.period_days)?
        .features
        .customers;
    let grading = assign_rule_tiers(&customers, &p.grading)?;
    Ok((customers, grading.rows.frame(Rows::All)?))
}
