//! Writing a run's outputs. The large tables are written as soon as their stage hands them
//! over, each on a thread of its own while the run goes on (grading and clustering leave a
//! core idle for much of their time); their footers, which carry the run metadata, wait for
//! the end. [`Outputs::finish`] then draws the charts, writes the other tables, the report and
//! `run.json`, and puts the staged folder in place of the output folder.

use std::path::PathBuf;

use anyhow::{Context, Result};
use polars::prelude::*;
use rayon::prelude::*;

use super::chart_data::chart_data;
use super::charts::{choose_look, render_charts, Look};
use super::files as f;
use super::metadata::{run_metadata, RunMetadata};
use super::parquet::{write_partitioned, write_table, write_table_parallel, Pending};
use super::report::{build_report, severity_counts, ReportInputs, SeverityCounts};
use super::{OutputTarget, RunResults, Staging, REPORT_ALERTS};
use crate::clean::QualityRow;
use crate::columns as c;
use crate::config::OutputParams;
use crate::potential::{Potential, PotentialReport};
use crate::progress::Progress;
use crate::tiers::clusters::ClusterOutput;
use crate::tiers::rules::{Grading, Rows, TierRows};

/// The outputs of a run being written (see the module doc).
pub struct Outputs {
    /// Tables being written. Declared before `staging`, so that when a failed run drops the
    /// writer, every writer thread is joined before the staging folder is removed.
    early: Vec<Pending>,
    staging: Staging,
    partition_by_tier: bool,
    /// With `[output] csv`: every alert, for alerts.csv (the grading keeps only the first).
    csv_alerts: Option<DataFrame>,
    /// Alerts per severity, counted before the grading keeps only the first.
    severities: Option<SeverityCounts>,
}

impl Outputs {
    /// Opens the staging folder beside the checked output folder.
    pub fn begin(target: &OutputTarget, output: &OutputParams) -> Result<Outputs> {
        Ok(Outputs {
            early: Vec::new(),
            staging: Staging::begin(target)?,
            partition_by_tier: output.partition_by_tier,
            csv_alerts: output.csv.then(DataFrame::empty),
            severities: None,
        })
    }

    /// Starts writing customers.parquet. The table is made one chunk per column first, so the
    /// writer shares its columns instead of copying them.
    pub fn start_customers(&mut self, customers: &mut DataFrame) -> Result<()> {
        customers.rechunk_mut();
        let pending = Pending::start(&self.staging, f::CUSTOMERS, customers.clone())?;
        self.early.push(pending);
        Ok(())
    }

    /// Starts writing tiers.parquet, built a row group at a time as it is written (whole, its
    /// text would be the largest table of the run), and alerts.parquet. The grading then keeps
    /// only the alerts the report shows; the writer holds the rest until they are written.
    pub fn start_grading(&mut self, grading: &mut Grading) -> Result<()> {
        // One chunk per column before the writer shares the table (else it would copy the
        // details, written in blocks, into one chunk of its own).
        grading.alerts.rechunk_mut();
        if !self.partition_by_tier {
            let rows = grading.rows.clone();
            self.early.push(Pending::start_in_groups(
                &self.staging,
                f::TIERS,
                rows.height(),
                move |r| rows.frame(Rows::Range(r)),
            )?);
        }
        self.early.push(Pending::start(
            &self.staging,
            f::ALERTS,
            grading.alerts.clone(),
        )?);
        self.severities = Some(severity_counts(&grading.alerts));
        if let Some(all) = &mut self.csv_alerts {
            *all = grading.alerts.clone();
        }
        grading.alerts = grading.alerts.head(Some(REPORT_ALERTS));
        Ok(())
    }

    /// Starts writing potential.parquet; gives back what the run keeps of the potential step,
    /// the account of its fits (the table's columns that grading reads are beside the
    /// features already).
    pub fn start_potential(&mut self, potential: Potential) -> Result<PotentialReport> {
        let Potential { table, report } = potential;
        self.early
            .push(Pending::start(&self.staging, f::POTENTIAL, table)?);
        Ok(report)
    }

    /// Starts writing clusters.parquet.
    pub fn start_clusters(&mut self, clusters: &ClusterOutput) -> Result<()> {
        let pending = Pending::start(&self.staging, f::CLUSTERS, clusters.assignments.clone())?;
        self.early.push(pending);
        Ok(())
    }

    /// Draws the charts, writes every other table, the report and `run.json`, waits for the
    /// tables started early and gives them their footers, and puts the staged folder in place
    /// of the output folder. `notes` are the run's notes so far; a chart that cannot be drawn
    /// adds one instead of failing the run.
    pub fn finish(
        self,
        run: &RunResults,
        mut notes: Vec<String>,
        progress: &Progress,
    ) -> Result<(PathBuf, RunMetadata)> {
        let chart_files = self.draw_charts(run, &mut notes, progress)?;
        let quality = quality_frame(&run.features.quality, run.loaded.rows_read())?;
        let mut tables = end_tables(run, &quality);
        let csv = self.csv_alerts.is_some();
        let mut outputs = output_list(&tables, self.partition_by_tier, csv, &chart_files);
        // Tables written early that the run no longer holds (potential.parquet), after the
        // others.
        let held = tables.len();
        for t in &self.early {
            if !outputs.iter().any(|o| o == t.file()) && t.file() != f::TIERS {
                outputs.insert(held, t.file().to_string());
            }
        }
        let metadata = run_metadata(run, notes, outputs);
        let run_json = serde_json::to_string_pretty(&metadata)?;

        // The tables written already only need their footers (below).
        tables.retain(|(file, _)| self.early.iter().all(|t| t.file() != *file));
        // Tables are written side by side: one writer keeps about one core busy. Largest
        // first, one table per task, so the big ones start at once on different threads (in
        // list order rayon could give the two largest to one thread, one after the other).
        let cells = |df: &DataFrame| df.height() * df.width();
        tables.sort_by_key(|(_, df)| std::cmp::Reverse(cells(df)));
        // A table larger than all the others together (a history's tier_history) would keep
        // one core busy long after the others are written: its columns are encoded in
        // parallel.
        let rest: usize = tables.iter().skip(1).map(|(_, df)| cells(df)).sum();
        let one_large = tables.first().is_some_and(|(_, df)| cells(df) > rest);
        tables
            .par_iter_mut()
            .with_max_len(1)
            .enumerate()
            .try_for_each(|(i, (file, df))| match i == 0 && one_large {
                true => write_table_parallel(&self.staging, file, df, &run_json),
                false => write_table(&self.staging, file, df, &run_json),
            })?;
        drop(tables);
        let Outputs {
            early,
            staging,
            partition_by_tier,
            csv_alerts,
            severities,
        } = self;
        for table in early {
            table.wait()?.finish(&run_json)?;
        }
        if partition_by_tier {
            write_partitioned(
                &staging,
                f::TIERS_DIR,
                &run.grading.rows.frame(Rows::All)?,
                c::TIER,
                &run.plan.pipeline.grading.tier_names,
                &run_json,
            )?;
        }
        if let Some(alerts) = csv_alerts {
            let alerts = if alerts.height() == run.grading.alert_count {
                alerts
            } else {
                run.grading.alerts.clone()
            };
            write_csv_lists(&staging, &run.grading.rows, &alerts)?;
        }
        let severities = severities.unwrap_or_else(|| severity_counts(&run.grading.alerts));
        let report = build_report(
            run,
            &ReportInputs {
                metadata: &metadata,
                quality: &quality,
                chart_dir: &staging.path(f::CHARTS_DIR),
                chart_files: &chart_files,
                severities: &severities,
                csv,
            },
        )?;
        staging.write_text(f::REPORT, &report)?;
        staging.write_text(f::RUN, &run_json)?;
        let out_dir = staging.commit()?;
        progress.stage(
            "write",
            &format!("{} files in {}", metadata.outputs.len(), out_dir.display()),
        );
        Ok((out_dir, metadata))
    }

    /// Draws the charts into the staging folder when the pipeline asks for them; returns the
    /// files drawn.
    fn draw_charts(
        &self,
        run: &RunResults,
        notes: &mut Vec<String>,
        progress: &Progress,
    ) -> Result<Vec<String>> {
        let p = &run.plan.pipeline;
        let Some(charts) = &p.charts else {
            return Ok(Vec::new());
        };
        let data = chart_data(run, charts.max_points)?;
        let (look, font_notes) = choose_look(&data, p.report.language, charts.font.as_deref())?;
        for note in font_notes {
            progress.stage("note", &note);
            notes.push(note);
        }
        let dir = self.staging.path(f::CHARTS_DIR);
        let files = draw_or_note(&dir, &data, &look, notes, progress);
        progress.stage("charts", &format!("{} files", files.len()));
        Ok(files)
    }
}

/// Draws the charts into `dir`; returns the files drawn. A chart that cannot be drawn must not
/// cost the user the tables: the failure becomes a note and no chart is listed.
fn draw_or_note(
    dir: &std::path::Path,
    data: &super::charts::ChartData,
    look: &Look,
    notes: &mut Vec<String>,
    progress: &Progress,
) -> Vec<String> {
    match render_charts(dir, data, look) {
        Ok(files) => files,
        Err(e) => {
            let note = format!("charts not drawn: {e:#}");
            progress.stage("note", &note);
            notes.push(note);
            Vec::new()
        }
    }
}

/// The tables of the run in the order `run.json` lists them (the tiers table aside).
fn end_tables(run: &RunResults, quality: &DataFrame) -> Vec<(&'static str, DataFrame)> {
    let g = run.grading;
    let mut tables: Vec<(&str, DataFrame)> = vec![
        (f::CUSTOMERS, run.customers.clone()),
        (f::TIER_SUMMARY, g.tier_summary.clone()),
        (f::SEGMENT_SUMMARY, g.segment_summary.clone()),
        (f::THRESHOLDS, g.thresholds.clone()),
        (f::ALERTS, g.alerts.clone()),
        (f::DATA_QUALITY, quality.clone()),
    ];
    if let Some(cl) = run.clusters {
        tables.push((f::CLUSTERS, cl.assignments.clone()));
        tables.push((f::CENTROIDS, cl.centroids.clone()));
        tables.push((f::K_SELECTION, cl.k_selection.clone()));
        tables.push((f::CLUSTER_PROFILES, cl.profiles.clone()));
    }
    if let Some(h) = run.history {
        tables.push((f::TIER_HISTORY, h.tier_history.clone()));
        tables.push((f::MIGRATION, h.migration.clone()));
        tables.push((f::MOVEMENTS, h.movements.clone()));
        tables.push((f::STABILITY, h.stability.clone()));
    }
    if let Some(a) = &g.attribute_summary {
        tables.push((f::ATTRIBUTE_SUMMARY, a.clone()));
    }
    if let Some(pot) = run.potential {
        tables.push((f::POTENTIAL_FITS, pot.fits.clone()));
        tables.push((f::POTENTIAL_BY_TIER, pot.by_tier.clone()));
    }
    if let Some(cmp) = run.comparison {
        tables.push((f::COMPARISON, cmp.metrics.clone()));
        tables.push((f::CROSSTAB, cmp.crosstab.clone()));
        tables.push((f::DISAGREEMENTS, cmp.disagreements.clone()));
        tables.push((f::GROUP_PROFILES, cmp.profiles.clone()));
    }
    tables
}

/// tiers.csv and alerts.csv for Excel: UTF-8 with a byte-order mark (without it Excel reads
/// Chinese text as another encoding), dates as YYYY-MM-DD, the columns of the Parquet files.
/// The tiers are built and written a block of rows at a time, as for tiers.parquet.
fn write_csv_lists(staging: &Staging, rows: &TierRows, alerts: &DataFrame) -> Result<()> {
    const BLOCK: usize = 1 << 16;
    let n = rows.height();
    let first = rows.frame(Rows::Range(0..n.min(BLOCK)))?;
    let mut tiers = csv_writer(&staging.path(f::TIERS_CSV), &first)?;
    tiers.write_batch(&first)?;
    drop(first);
    for start in (BLOCK..n).step_by(BLOCK) {
        tiers.write_batch(&rows.frame(Rows::Range(start..(start + BLOCK).min(n)))?)?;
    }
    tiers.finish()?;
    let mut alerts = alerts.clone();
    alerts.rechunk_mut();
    let mut w = csv_writer(&staging.path(f::ALERTS_CSV), &alerts)?;
    w.write_batch(&alerts)?;
    w.finish()?;
    Ok(())
}

/// A CSV writer for Excel into `path`, for frames of `first`'s schema.
fn csv_writer(
    path: &std::path::Path,
    first: &DataFrame,
) -> Result<polars::io::csv::write::BatchedWriter<std::fs::File>> {
    let out =
        std::fs::File::create(path).with_context(|| format!("creating {}", path.display()))?;
    Ok(CsvWriter::new(out)
        .include_bom(true)
        .include_header(true)
        .with_date_format(Some("%Y-%m-%d".into()))
        .batched(first.schema())?)
}

/// Every file of the run, as `run.json` lists them.
fn output_list(
    tables: &[(&str, DataFrame)],
    partition_by_tier: bool,
    csv: bool,
    chart_files: &[String],
) -> Vec<String> {
    let mut outputs: Vec<String> = tables.iter().map(|(f, _)| f.to_string()).collect();
    if partition_by_tier {
        outputs.push(format!("{}/tier=<name>/part-0.parquet", f::TIERS_DIR));
    } else {
        outputs.push(f::TIERS.to_string());
    }
    if csv {
        outputs.push(f::TIERS_CSV.to_string());
        outputs.push(f::ALERTS_CSV.to_string());
    }
    outputs.push(f::REPORT.into());
    outputs.push(f::RUN.into());
    outputs.extend(chart_files.iter().map(|x| format!("{}/{x}", f::CHARTS_DIR)));
    outputs
}

/// data_quality.parquet: every step of the row account, with its share of the rows read.
fn quality_frame(rows: &[QualityRow], read: u64) -> Result<DataFrame> {
    // Master counts are customers, not rows: no share of the rows read.
    let share: Vec<Option<f64>> = rows
        .iter()
        .map(|r| {
            if r.action == crate::clean::MASTER_ACTION {
                None
            } else if read == 0 {
                Some(0.0)
            } else {
                Some(r.rows as f64 / read as f64)
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

#[cfg(test)]
mod tests {
    use super::*;

    /// Excel opens a CSV as UTF-8 only with a byte-order mark; dates are ISO.
    #[test]
    fn csv_lists_start_with_a_byte_order_mark_and_write_iso_dates() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("x.csv");
        let df = df!(
            "tier" => ["核心", "低效"],
            "day" => [
                chrono::NaiveDate::from_ymd_opt(2024, 1, 31).unwrap(),
                chrono::NaiveDate::from_ymd_opt(2025, 12, 1).unwrap(),
            ],
        )
        .unwrap();
        let mut w = csv_writer(&path, &df).unwrap();
        w.write_batch(&df).unwrap();
        w.finish().unwrap();
        drop(w);
        let bytes = std::fs::read(&path).unwrap();
        assert_eq!(
            String::from_utf8(bytes).unwrap(),
            "\u{feff}tier,day\n核心,2024-01-31\n低效,2025-12-01\n"
        );
    }

    /// A failure to draw is a note, not an error: the run keeps its tables.
    #[test]
    fn a_chart_that_cannot_be_drawn_becomes_a_note() {
        let dir = tempfile::tempdir().unwrap();
        // A file where the charts folder should be: nothing can be drawn there.
        let blocked = dir.path().join("charts");
        std::fs::write(&blocked, "a file").unwrap();
        let data = super::super::charts::ChartData {
            tier_names: vec!["A".into(), "B".into()],
            tier_customer_share: vec![0.5, 0.5],
            tier_revenue_share: vec![0.7, 0.3],
            revenue: vec![7.0, 3.0],
            ..Default::default()
        };
        let mut notes = vec!["earlier".to_string()];
        let look = Look::new(super::super::fonts::bundled().unwrap(), Default::default());
        let files = draw_or_note(&blocked, &data, &look, &mut notes, &Progress::silent());
        assert!(files.is_empty());
        assert_eq!(notes.len(), 2, "{notes:?}");
        assert!(notes[1].starts_with("charts not drawn: "), "{notes:?}");
        assert_eq!(std::fs::read_to_string(&blocked).unwrap(), "a file");
        // Where it can draw, the same data gives the charts and no note.
        let files = draw_or_note(
            &dir.path().join("ok"),
            &data,
            &look,
            &mut notes,
            &Progress::silent(),
        );
        assert!(files.contains(&"tier_sizes.png".to_string()), "{files:?}");
        assert_eq!(notes.len(), 2);
    }
}
