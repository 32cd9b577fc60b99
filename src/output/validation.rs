//! The outputs of `tiering validate`: validation.parquet, its chart and run.json, staged and
//! put in place like a run's (a failed check leaves the previous outputs untouched).

use std::path::PathBuf;

use anyhow::Result;

use super::charts::{render_holdout, HoldoutChart, Look};
use super::files as f;
use super::fonts::{choose_font, usual_fonts};
use super::parquet::write_table;
use super::{OutputTarget, Staging};
use crate::columns as c;
use crate::config::Pipeline;
use crate::potential::validate::{Validation, ValidationSummary};

/// What `run.json` of a check says.
#[derive(serde::Serialize)]
struct ValidationMetadata<'a> {
    tool: &'static str,
    version: &'static str,
    command: &'static str,
    pipeline_name: &'a str,
    pipeline_path: String,
    pipeline_toml: &'a str,
    validation: &'a ValidationSummary,
    outputs: Vec<String>,
}

/// Writes the check's files into the checked `target`; returns the folder.
pub fn write_validation(target: &OutputTarget, v: &Validation, p: &Pipeline) -> Result<PathBuf> {
    let staging = Staging::begin(target)?;
    let s = &v.summary;
    let strs = |name: &str| -> Result<Vec<String>> {
        Ok(v.table
            .column(name)?
            .str()?
            .iter()
            .map(|x| x.unwrap_or_default().to_string())
            .collect())
    };
    let floats = |name: &str| -> Result<Vec<Option<f64>>> {
        Ok(v.table.column(name)?.f64()?.iter().collect())
    };
    let unit = serde_json::to_value(s.calibration.time_unit)?
        .as_str()
        .unwrap_or("")
        .to_string();
    let chart = HoldoutChart {
        holdout_from: s.holdout_from.to_string(),
        holdout_to: s.holdout_to.to_string(),
        mean_absolute_error: s.mean_absolute_error,
        groups: strs(c::CALIBRATION_REPEATS)?,
        predicted: floats(c::PREDICTED)?,
        actual: floats(c::ACTUAL)?,
        unit: format!("{:.1} {unit}s", s.holdout_length),
    };
    let mut outputs = vec![f::VALIDATION.to_string()];
    let lang = p.report.language;
    let font = p.charts.as_ref().and_then(|c| c.font.clone());
    let texts = [lang.words().holdout_x];
    let (font, _) = choose_font(&texts, font.as_deref(), &usual_fonts())?;
    outputs.extend(render_holdout(
        &staging.path(""),
        &chart,
        &Look::new(font, lang),
    )?);
    outputs.push(f::RUN.to_string());
    let meta = ValidationMetadata {
        tool: "tiering",
        version: env!("CARGO_PKG_VERSION"),
        command: "validate",
        pipeline_name: &p.name,
        pipeline_path: p.source_path.display().to_string(),
        pipeline_toml: &p.source_text,
        validation: s,
        outputs,
    };
    let run_json = serde_json::to_string_pretty(&meta)?;
    let mut table = v.table.clone();
    write_table(&staging, f::VALIDATION, &mut table, &run_json)?;
    staging.write_text(f::RUN, &run_json)?;
    staging.commit()
}
