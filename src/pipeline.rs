//! Runs the stages of a plan in order and owns progress reporting. Each stage is a function
//! with typed inputs and a typed result: read the inputs, clean them and compute the customer
//! features, grade, cluster, compare, grade the earlier snapshots; `output` writes what they
//! produce.

use std::path::PathBuf;
use std::sync::Arc;

use anyhow::{Context, Result};
use chrono::NaiveDate;
use polars::prelude::*;
use rayon::prelude::*;

use crate::attributes::{attach_attributes, MasterMatch};
use crate::clean::{
    account_no_purchase, no_customers, CleanParams, QualityRow, MASTER_ACTION, MASTER_ONLY,
    MISSING_FROM_MASTER,
};
use crate::compare::{compare, Comparison};
use crate::config::engine::Engine;
use crate::config::Pipeline;
use crate::features::{clean_and_fold_history, CleanFeatures, EarlierFeatures, Features};
use crate::history::{build_history, HistoryTables, Snapshot};
use crate::load::{catch_panic, load_master, load_transactions, pass_error, Loaded, Master};
use crate::output::validation::write_validation;
use crate::output::{OutputTarget, Outputs, RunMetadata, RunResults};
use crate::plan::RunPlan;
use crate::potential::validate::ValidationSummary;
use crate::potential::{assess, with_potential, Potential, PotentialResults, RawPotential};
use crate::progress::{thousands, Progress};
use crate::tiers::clusters::{fit_clusters, ClusterOutput, Clustered};
use crate::tiers::rules::{assign_rule_tiers, grade_rows, Grading, TierRows, TierSummary};

/// The result of a run, for callers that want the tables without reading the files back.
pub struct RunResult {
    pub out_dir: PathBuf,
    pub customers: DataFrame,
    /// tiers.parquet's rows: `frame(Rows::All)` builds the table.
    pub tiers: Arc<TierRows>,
    pub metadata: RunMetadata,
}

/// Runs a plan end to end.
pub fn run(plan: &RunPlan, progress: &Progress) -> Result<RunResult> {
    let p = &plan.pipeline;
    progress.stage(
        "pipeline",
        &format!("{} ({})", p.name, p.source_path.display()),
    );
    // Checked before any work: a folder the tool may not replace is an error at once.
    let target = OutputTarget::check(&plan.out, plan.out_source.describe())?;
    let mut notes = target.notes.clone();
    for note in &target.notes {
        progress.stage("note", note);
    }
    let lookback = p.features.lookback_days;
    let earlier = earlier_dates(plan);
    let (loaded, master, mut features) = match &p.engine {
        Engine::Local => {
            let mut loaded = read_inputs(p, progress)?;
            // The master is small and read before the long pass, so a bad one fails at once.
            let master = read_master(p, progress)?;
            let features = fold_features(&mut loaded, plan, lookback, &earlier, progress)?;
            (loaded, master, features)
        }
        Engine::Ballista { .. } => {
            let master = read_master(p, progress)?;
            let (loaded, features) = feature_pass(plan, lookback, &earlier, progress)?;
            (loaded, master, features)
        }
    };
    notes.extend(loaded.notes.iter().cloned());
    if let Some(m) = &master {
        notes.extend(m.notes.iter().cloned());
    }
    let earlier = std::mem::take(&mut features.earlier);

    let mut out = Outputs::begin(&target, &p.output)?;
    out.start_customers(&mut features.features.customers)?;
    let customers = &features.features.customers;
    let potential = assess_potential(customers, features.as_of, p, progress)?;
    if let Some(pot) = &potential {
        notes.extend(pot.report.notes.iter().cloned());
    }
    // Grading, clustering and the comparison read the potential and attribute columns
    // beside the features.
    let (graded, master_match) = graded_table(customers, potential.as_ref(), master.as_ref(), p)?;
    if let Some(m) = &master_match {
        account_master(&mut features.quality, m, progress);
    }
    let graded = graded.as_ref().unwrap_or(customers);
    // potential.parquet is written now; the run keeps only the columns grading reads.
    let potential = match potential {
        Some(pot) => Some(out.start_potential(pot)?),
        None => None,
    };
    let mut grading = grade(graded, p, progress)?;
    notes.extend(grading.notes.iter().cloned());
    out.start_grading(&mut grading)?;
    let potential = match potential {
        Some(report) => Some(PotentialResults::new(
            report,
            graded,
            &grading,
            &p.grading.tier_names,
        )?),
        None => None,
    };
    let clusters = cluster(graded, p, progress, &mut notes)?;
    if let Some(cl) = &clusters {
        out.start_clusters(cl)?;
    }
    let comparison = match &clusters {
        Some(cl) => Some(compare_with_rules(graded, &grading, p, cl, progress)?),
        None => None,
    };
    let history = grade_history(
        &loaded,
        plan,
        &features,
        earlier,
        &grading,
        clusters.as_deref(),
        master.as_ref(),
        progress,
    )?;

    let results = RunResults {
        plan,
        loaded: &loaded,
        features: &features,
        customers,
        grading: &grading,
        clusters: clusters.as_deref(),
        comparison: comparison.as_ref(),
        history: history.as_ref(),
        potential: potential.as_ref(),
        master: master.as_ref().zip(master_match),
    };
    let (out_dir, metadata) = out.finish(&results, notes, progress)?;
    Ok(RunResult {
        out_dir,
        customers: customers.clone(),
        tiers: grading.rows,
        metadata,
    })
}

/// Stage 1: opens and checks every input file.
fn read_inputs(p: &Pipeline, progress: &Progress) -> Result<Loaded> {
    let loaded = load_transactions(p)?;
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
    Ok(loaded)
}

/// The earlier snapshots' dates of a run, given the graded one's.
fn earlier_dates(plan: &RunPlan) -> impl Fn(NaiveDate) -> Vec<NaiveDate> + '_ {
    move |as_of: NaiveDate| {
        let dates = plan.snapshot_dates(as_of);
        dates[..dates.len() - 1].iter().map(|(d, _)| *d).collect()
    }
}

/// Stages 1 and 2 on the pipeline's engine: reads the input, cleans it and computes the
/// customer features of the graded date and of the `earlier` snapshots (see
/// [`fold_features`]).
fn feature_pass(
    plan: &RunPlan,
    lookback_days: Option<u32>,
    earlier: &dyn Fn(NaiveDate) -> Vec<NaiveDate>,
    progress: &Progress,
) -> Result<(Loaded, CleanFeatures)> {
    match &plan.pipeline.engine {
        Engine::Local => {
            let mut loaded = read_inputs(&plan.pipeline, progress)?;
            let features = fold_features(&mut loaded, plan, lookback_days, earlier, progress)?;
            Ok((loaded, features))
        }
        Engine::Ballista { url, host, port } => {
            cluster_features(plan, (url, host, *port), lookback_days, earlier, progress)
        }
    }
}

/// The feature pass on a Ballista cluster (docs/distributed.md).
#[cfg(feature = "distributed")]
fn cluster_features(
    plan: &RunPlan,
    (url, host, port): (&str, &str, u16),
    lookback_days: Option<u32>,
    earlier: &dyn Fn(NaiveDate) -> Vec<NaiveDate>,
    progress: &Progress,
) -> Result<(Loaded, CleanFeatures)> {
    let (loaded, mut features) = catch_panic(|| {
        crate::cluster::cluster_pass(plan, url, host, port, lookback_days, earlier, progress)
    })?;
    account_features(&mut features, loaded.rows_read(), progress)?;
    Ok((loaded, features))
}

/// Without the `distributed` feature: says how to get it.
#[cfg(not(feature = "distributed"))]
fn cluster_features(
    _: &RunPlan,
    (url, _, _): (&str, &str, u16),
    _: Option<u32>,
    _: &dyn Fn(NaiveDate) -> Vec<NaiveDate>,
    _: &Progress,
) -> Result<(Loaded, CleanFeatures)> {
    anyhow::bail!(
        "[engine] kind = \"ballista\" (url {url}) needs a tiering built with the cluster engine: cargo build --release --features distributed (docs/distributed.md)"
    )
}

/// The local feature pass of [`feature_pass`] with the window's `lookback_days` and the
/// earlier snapshots' dates given.
fn fold_features(
    loaded: &mut Loaded,
    plan: &RunPlan,
    lookback_days: Option<u32>,
    earlier: &dyn Fn(NaiveDate) -> Vec<NaiveDate>,
    progress: &Progress,
) -> Result<CleanFeatures> {
    let p = &plan.pipeline;
    let params = CleanParams {
        cleaning: &p.cleaning,
        as_of: plan.as_of.date,
        lookback_days,
        today: plan.today,
        rows_read: loaded.rows_read(),
    };
    let mut features = catch_panic(|| {
        clean_and_fold_history(
            loaded.transactions.clone(),
            &params,
            p.features.period_days,
            earlier,
        )
    })
    .map_err(|e| pass_error(loaded, p, e))?;
    for (f, n) in loaded.files.iter_mut().zip(&features.duplicates) {
        f.duplicates = *n;
    }
    account_features(&mut features, loaded.rows_read(), progress)?;
    Ok(features)
}

/// After either engine's pass: customers without a purchase moved in the quality account,
/// a run without customers an error that says which rules dropped the rows, and the
/// progress lines.
fn account_features(
    features: &mut CleanFeatures,
    rows_read: u64,
    progress: &Progress,
) -> Result<()> {
    progress.stage("clean", &format!("as_of {}", features.as_of));
    account_no_purchase(
        &mut features.quality,
        features.features.no_purchase_rows,
        features.features.no_purchase_returns,
    );
    let customers = features.features.customers.height() as u64;
    if customers == 0 {
        return Err(no_customers(&features.quality, features.as_of, rows_read));
    }
    let dropped: Vec<String> = features
        .quality
        .iter()
        .filter(|q| q.action == "dropped" && q.rows > 0)
        .map(|q| format!("{} {}", q.step, thousands(q.rows)))
        .collect();
    progress.stage(
        "features",
        &format!(
            "{} customers from {} rows kept; dropped: {}",
            thousands(customers),
            thousands(features.rows_kept()),
            if dropped.is_empty() {
                "none".into()
            } else {
                dropped.join(", ")
            },
        ),
    );
    Ok(())
}

/// Stage 1b: the customer master, when the pipeline has `[attributes]`.
fn read_master(p: &Pipeline, progress: &Progress) -> Result<Option<Master>> {
    let Some(a) = &p.attributes else {
        return Ok(None);
    };
    let m = load_master(a, &p.source_path, p.cleaning.normalize_customer_id)?;
    progress.stage(
        "master",
        &format!(
            "{} customers from {} file(s)",
            thousands(m.table.height() as u64),
            m.files.len()
        ),
    );
    Ok(Some(m))
}

/// The table grading reads: the features, with the potential columns and the master's
/// attributes when the run has them (`None`: the features alone), and how the master
/// matched the customers.
fn graded_table(
    customers: &DataFrame,
    potential: Option<&Potential>,
    master: Option<&Master>,
    p: &Pipeline,
) -> Result<(Option<DataFrame>, Option<MasterMatch>)> {
    let mut graded = match potential {
        Some(pot) => Some(with_potential(customers, &pot.table)?),
        None => None,
    };
    let mut matched = None;
    if let (Some(m), Some(a)) = (master, &p.attributes) {
        let base = graded.as_ref().unwrap_or(customers);
        let payments = p.input.columns.due_date.is_some();
        let (with, counts) = attach_attributes(base, &m.table, a, payments)?;
        graded = Some(with);
        matched = Some(counts);
    }
    Ok((graded, matched))
}

/// The master's counts in the data-quality account (customers, not rows), and on stderr.
fn account_master(quality: &mut Vec<QualityRow>, m: &MasterMatch, progress: &Progress) {
    progress.stage(
        "attributes",
        &format!(
            "{} customers in the master; {} of them without a purchase in the window, {} graded customers missing from it",
            thousands(m.master_customers),
            thousands(m.master_only),
            thousands(m.missing_from_master)
        ),
    );
    quality.push(QualityRow {
        step: MASTER_ONLY.into(),
        rows: m.master_only,
        action: MASTER_ACTION,
    });
    quality.push(QualityRow {
        step: MISSING_FROM_MASTER.into(),
        rows: m.missing_from_master,
        action: MASTER_ACTION,
    });
}

/// Stage 2b: the purchase and spend models, when the pipeline has `[potential]`.
fn assess_potential(
    customers: &DataFrame,
    as_of: NaiveDate,
    p: &Pipeline,
    progress: &Progress,
) -> Result<Option<Potential>> {
    let Some(pp) = &p.potential else {
        return Ok(None);
    };
    let mut pot = assess(customers, as_of, pp)?;
    if let Some(days) = p.features.lookback_days {
        // The models take a customer's first purchase in the window for its first ever.
        pot.report.notes.push(format!(
            "potential: the models see the {days} days before as_of ([features] lookback_days): a customer's first purchase in them counts as its first, so long-standing customers look younger than they are"
        ));
    }
    let r = &pot.report;
    let fits = match (&r.bgnbd, &r.gamma_gamma) {
        (Some(b), g) => format!(
            "BG/NBD r {:.4}, alpha {:.4}, a {:.4}, b {:.4} on {} distinct summaries{}",
            b.params.r,
            b.params.alpha,
            b.params.a,
            b.params.b,
            thousands(r.distinct_summaries),
            match g {
                Some(g) => format!(
                    "; Gamma-Gamma p {:.4}, q {:.4}, v {:.4}",
                    g.params.p, g.params.q, g.params.v
                ),
                None => String::new(),
            }
        ),
        (None, _) => "models skipped".to_string(),
    };
    progress.stage("potential", &fits);
    for note in &r.notes {
        progress.stage("note", note);
    }
    Ok(Some(pot))
}

/// Stage 3: the rule-based grades.
fn grade(customers: &DataFrame, p: &Pipeline, progress: &Progress) -> Result<Grading> {
    let grading = assign_rule_tiers(customers, &p.grading)?;
    progress.stage("tiers", &tier_line(&grading.per_tier));
    for note in &grading.notes {
        progress.stage("note", note);
    }
    Ok(grading)
}

/// Stage 4: k-means clusters, when the pipeline asks for them and there are customers
/// enough (else a note says why not).
fn cluster(
    customers: &DataFrame,
    p: &Pipeline,
    progress: &Progress,
    notes: &mut Vec<String>,
) -> Result<Option<Box<ClusterOutput>>> {
    let Some(cp) = &p.clustering else {
        return Ok(None);
    };
    match fit_clusters(customers, cp, &p.grading.tier_names)? {
        Clustered::Done(cl) => {
            progress.stage(
                "clusters",
                &format!(
                    "k = {}{}, fitted on {} customers{}",
                    cl.k,
                    if cp.k.is_none() { " (auto)" } else { "" },
                    thousands(cl.fit_rows as u64),
                    if cl.sampled { " (sample)" } else { "" }
                ),
            );
            Ok(Some(cl))
        }
        Clustered::Skipped(why) => {
            progress.stage("note", &why);
            notes.push(why);
            Ok(None)
        }
    }
}

/// Stage 5: the rule tiers against the clusters.
fn compare_with_rules(
    customers: &DataFrame,
    grading: &Grading,
    p: &Pipeline,
    clusters: &ClusterOutput,
    progress: &Progress,
) -> Result<Comparison> {
    let cmp = compare(customers, &grading.rows, &p.grading, clusters)?;
    progress.stage(
        "compare",
        &cmp.summary
            .iter()
            .skip(3)
            .map(|m| format!("{} {:.3}", m.name, m.value))
            .collect::<Vec<_>>()
            .join(", "),
    );
    Ok(cmp)
}

/// Stage 6: with several as-of dates, grades every earlier snapshot (its features come from
/// the feature pass) with the same rules (and places its customers with the one cluster
/// model), then tracks who moved.
#[allow(clippy::too_many_arguments)]
fn grade_history(
    loaded: &Loaded,
    plan: &RunPlan,
    features: &CleanFeatures,
    earlier: Vec<EarlierFeatures>,
    grading: &Grading,
    clusters: Option<&ClusterOutput>,
    master: Option<&Master>,
    progress: &Progress,
) -> Result<Option<HistoryTables>> {
    let p = &plan.pipeline;
    let dates = plan.snapshot_dates(features.as_of);
    if dates.len() < 2 {
        return Ok(None);
    }
    let mut snaps = Vec::with_capacity(dates.len());
    if earlier.len() + 1 != dates.len() {
        anyhow::bail!(
            "the feature pass folded {} earlier snapshots, the plan has {}",
            earlier.len(),
            dates.len() - 1
        );
    }
    // The earlier snapshots are graded side by side: grading a table keeps only part of the
    // cores busy. One cluster model for every snapshot, so cluster numbers mean the same
    // everywhere.
    let graded: Vec<(NaiveDate, Result<SnapshotGrades>)> = earlier
        .into_par_iter()
        .map(|e| {
            let d = e.as_of;
            let graded = catch_panic(|| grade_snapshot(e.features, d, p, master))
                .map_err(|e| pass_error(loaded, p, e))
                .and_then(|(customers, tiers)| {
                    let clusters = match clusters {
                        Some(cl) => Some(cl.model.assign(&customers)?),
                        None => None,
                    };
                    Ok((tiers, clusters))
                });
            (d, graded)
        })
        .collect();
    for (d, result) in graded {
        let (tiers, clusters) =
            result.with_context(|| format!("grading the snapshot as of {d}"))?;
        snaps.push(Snapshot {
            as_of: d,
            tiers,
            clusters,
        });
    }
    // One stage line for the snapshots graded together; each one's size with --verbose.
    let sizes: Vec<usize> = snaps.iter().map(|s| s.tiers.height()).collect();
    if let (Some(first), Some(last)) = (snaps.first(), snaps.last()) {
        let (fewest, most) = (sizes.iter().min(), sizes.iter().max());
        progress.stage(
            "snapshots",
            &format!(
                "{} graded, {} to {}: {} to {} customers",
                snaps.len(),
                first.as_of,
                last.as_of,
                thousands(fewest.copied().unwrap_or(0) as u64),
                thousands(most.copied().unwrap_or(0) as u64)
            ),
        );
    }
    for (s, n) in snaps.iter().zip(&sizes) {
        progress.detail(&format!("{}: {} customers", s.as_of, thousands(*n as u64)));
    }
    snaps.push(Snapshot {
        as_of: features.as_of,
        tiers: grading.rows.graded_frame()?,
        clusters: clusters.map(|c| c.labels.clone()),
    });
    let mut tables = build_history(&snaps, &p.grading.tier_names, p.report.language)?;
    tables.sources = dates.iter().map(|(_, s)| s.describe()).collect();
    progress.stage(
        "history",
        &format!(
            "{} snapshots, {} movements",
            snaps.len(),
            thousands(tables.movements.height() as u64)
        ),
    );
    Ok(Some(tables))
}

/// `tiering validate`: fits the purchase model on the purchases before `holdout_from` and
/// compares its expected purchases up to the plan's as-of date with those that happened.
/// The whole history before `holdout_from` is the calibration period (`lookback_days` does
/// not apply). Writes the check's files; returns the folder and its figures.
pub fn validate(
    plan: &RunPlan,
    holdout_from: NaiveDate,
    progress: &Progress,
) -> Result<(PathBuf, ValidationSummary)> {
    let p = &plan.pipeline;
    let target = OutputTarget::check(&plan.out, plan.out_source.describe())?;
    let params = match &p.potential {
        Some(pp) => pp.clone(),
        None => RawPotential::default()
            .check()?
            .context("the default [potential] settings")?,
    };
    let (_, mut features) = feature_pass(plan, None, &|_| vec![holdout_from], progress)?;
    let end = features.as_of;
    if holdout_from >= end {
        anyhow::bail!(
            "--holdout-from {holdout_from} must be before the end of the data the check reads ({end}, the as-of date): give an earlier date or a later --as-of"
        );
    }
    let calibration = features
        .earlier
        .pop()
        .context("the feature pass folded no calibration period")?
        .features
        .with_context(|| format!("the calibration period before {holdout_from}"))?;
    progress.stage(
        "calibration",
        &format!(
            "{} customers before {holdout_from}; holdout to {end}",
            thousands(calibration.customers.height() as u64)
        ),
    );
    let v = crate::potential::validate::validate(
        &calibration.customers,
        &features.features.customers,
        holdout_from,
        end,
        &params,
    )?;
    progress.stage(
        "validate",
        &format!(
            "mean absolute error {:.3} purchases per customer group ({:.3} per customer); {:.0} predicted, {:.0} actual",
            v.summary.mean_absolute_error,
            v.summary.mean_absolute_error_per_customer,
            v.summary.predicted_total,
            v.summary.actual_total
        ),
    );
    let dir = write_validation(&target, &v, p)?;
    Ok((dir, v.summary))
}

/// `A 312 (16.8%), B 540 (29.1%), C 1,003 (54.1%)`.
fn tier_line(summary: &TierSummary) -> String {
    summary
        .names
        .iter()
        .zip(&summary.customers)
        .zip(&summary.customer_share)
        .map(|((t, n), s)| format!("{} {} ({:.1}%)", t, thousands(*n), s * 100.0))
        .collect::<Vec<_>>()
        .join(", ")
}

/// An earlier snapshot's graded rows (see [`grade_snapshot`]) and each one's cluster.
type SnapshotGrades = (DataFrame, Option<Vec<usize>>);

/// Grades one earlier snapshot from its features (or its error: no row in its window) with
/// the same rules. Returns (customers, tiers).
fn grade_snapshot(
    features: Result<Features>,
    as_of: NaiveDate,
    p: &Pipeline,
    master: Option<&Master>,
) -> Result<(DataFrame, DataFrame)> {
    let customers = features?.customers;
    // Each snapshot's models are fitted on its own customers, as a run at its date would;
    // the master has no dates, so every snapshot reads the same one.
    let potential = match &p.potential {
        Some(pp) => Some(assess(&customers, as_of, pp)?),
        None => None,
    };
    let (graded, _) = graded_table(&customers, potential.as_ref(), master, p)?;
    let customers = graded.unwrap_or(customers);
    let rows = grade_rows(&customers, &p.grading)?;
    Ok((customers, rows.graded_frame()?))
}
