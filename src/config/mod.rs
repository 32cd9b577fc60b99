//! The pipeline file: TOML -> `RawPipeline` (serde, unknown keys rejected) -> checked
//! `Pipeline`, one checked type per section (`RawX::check` -> `X`), in the style of linfa's
//! checked params. Nothing here reads data files or the clock; paths are only resolved (and a
//! chart font named in `[charts] font` is opened, to check that it is a font).

pub mod attributes;
mod cleaning;
pub mod engine;
mod input;

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use anyhow::{bail, Context, Result};
use chrono::NaiveDate;
use serde::Deserialize;

pub use cleaning::{Cleaning, DropKeepError, DropOrError, DropOrKeep, RawCleaning, ReturnPolicy};
pub use input::{
    Columns, CostColumn, CsvOptions, InputFormat, InputParams, OneOrMany, RawColumns, RawCsv,
    RawInput, ValueColumns,
};

use crate::lang::Language;
use crate::potential::{PotentialParams, RawPotential};
use crate::tiers::attribute_rules::AttributeNames;
use crate::tiers::cluster_params::{ClusteringParams, RawClustering};
use crate::tiers::params::{
    validate_grading, Available, GradingParams, RawAlerts, RawRfm, RawRisk, RawScore, RawTiers,
};
use attributes::{AttributesParams, RawAttributes};
use engine::{Engine, RawEngine};

/// The pipeline file as written by the user. Every table rejects unknown keys so a typo such as
/// `custmer_id` is an error instead of a silently ignored setting.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawPipeline {
    /// Short name, used for the default output folder `out/<name>`.
    pub name: Option<String>,
    pub description: Option<String>,
    pub input: RawInput,
    #[serde(default)]
    pub cleaning: RawCleaning,
    #[serde(default)]
    pub features: RawFeatures,
    #[serde(default)]
    pub output: RawOutput,
    #[serde(default)]
    pub rfm: RawRfm,
    #[serde(default)]
    pub score: RawScore,
    #[serde(default)]
    pub tiers: RawTiers,
    #[serde(default)]
    pub risk: RawRisk,
    #[serde(default)]
    pub alerts: RawAlerts,
    /// `[policies.<tier>]`: free fields joined onto every customer of the tier.
    #[serde(default)]
    pub policies: BTreeMap<String, toml::Table>,
    #[serde(default)]
    pub clustering: RawClustering,
    #[serde(default)]
    pub charts: RawCharts,
    #[serde(default)]
    pub report: RawReport,
    pub history: Option<RawHistory>,
    /// `[potential]`: the BG/NBD and Gamma-Gamma models (off without the section).
    pub potential: Option<RawPotential>,
    /// `[attributes]`: the customer master (credit rating, industry, ...).
    pub attributes: Option<RawAttributes>,
    /// `[engine]`: where the feature aggregation runs.
    #[serde(default)]
    pub engine: RawEngine,
}

/// `[history]`: grade several as-of dates with the same rules and track who moved.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawHistory {
    /// Explicit dates, YYYY-MM-DD.
    pub as_of: Option<Vec<String>>,
    /// `month` or `quarter`, from `start` up to `end` (default: the run's as_of).
    pub cadence: Option<Cadence>,
    pub start: Option<String>,
    pub end: Option<String>,
}

#[derive(Debug, Clone, Copy, Deserialize, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Cadence {
    Month,
    Quarter,
}

/// The snapshot dates of a history run, validated.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub enum History {
    Dates(Vec<NaiveDate>),
    /// Every `cadence` from `start` to `end` (or the run's as_of when `None`), both included.
    Cadence {
        cadence: Cadence,
        start: NaiveDate,
        end: Option<NaiveDate>,
    },
}

impl RawHistory {
    /// Checks the dates: a list, or a cadence with its start (and end).
    fn check(&self) -> Result<History> {
        let h = self;
        match (&h.as_of, h.cadence) {
        (Some(list), None) => {
            if h.start.is_some() || h.end.is_some() {
                bail!("[history] start and end go with cadence, not with an as_of list");
            }
            parse_date_list(list).context("[history] as_of")
        }
        (None, Some(cadence)) => {
            let start = parse_iso_date(h.start.as_deref().unwrap_or(""))
                .context("[history] cadence needs start = \"YYYY-MM-DD\"")?;
            let end = match &h.end {
                Some(e) => Some(parse_iso_date(e).context("[history] end")?),
                None => None,
            };
            if end.is_some_and(|e| e <= start) {
                bail!("[history] end must be after start");
            }
            Ok(History::Cadence {
                cadence,
                start,
                end,
            })
        }
        _ => bail!(
            "[history] give either as_of = [\"2025-07-01\", \"2025-10-01\"] or cadence = \"month\"|\"quarter\" with start"
        ),
    }
    }
}

/// Parses strictly ascending dates (at least two) for a history.
pub fn parse_date_list(list: &[String]) -> Result<History> {
    let dates: Vec<NaiveDate> = list
        .iter()
        .map(|d| parse_iso_date(d))
        .collect::<Result<_>>()?;
    if dates.len() < 2 {
        bail!("a history needs at least two dates, got {}", dates.len());
    }
    for w in dates.windows(2) {
        if w[0] >= w[1] {
            bail!(
                "dates must be strictly ascending, got {} then {}",
                w[0],
                w[1]
            );
        }
    }
    Ok(History::Dates(dates))
}

/// `[charts]`: PNG and SVG charts in `charts/` of the output, and the HTML report.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawCharts {
    #[serde(default = "default_true")]
    pub enabled: bool,
    /// Scatter plots show at most this many customers (an even, deterministic sample).
    #[serde(default = "default_max_points")]
    pub max_points: usize,
    /// A font file (.ttf, .otf, .ttc) for the charts' text, relative to the pipeline file.
    pub font: Option<String>,
}

impl Default for RawCharts {
    fn default() -> Self {
        RawCharts {
            enabled: true,
            max_points: default_max_points(),
            font: None,
        }
    }
}

fn default_max_points() -> usize {
    5000
}

/// Scatter plots never show fewer customers than this, whatever `max_points` says.
const MIN_CHART_POINTS: usize = 100;

/// `[charts]`, checked: drawn or not, how many customers a scatter plot shows, and the font
/// file named for their text.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct Charts {
    pub max_points: usize,
    /// `None`: the shipped font, or an installed one when names need it (see
    /// `crate::output::fonts`).
    pub font: Option<PathBuf>,
}

impl RawCharts {
    /// `None` when charts are switched off. `base` is the pipeline file's folder.
    fn check(&self, base: &Path) -> Result<Option<Charts>> {
        let font = match &self.font {
            Some(f) => Some(check_font(f, base)?),
            None => None,
        };
        Ok(self.enabled.then_some(Charts {
            max_points: self.max_points.max(MIN_CHART_POINTS),
            font,
        }))
    }
}

/// `[charts] font`, resolved against the pipeline file's folder and opened to check that it
/// is a font the charts can draw with.
fn check_font(font: &str, base: &Path) -> Result<PathBuf> {
    let path = base.join(font);
    crate::output::fonts::check_font_file(&path).with_context(|| {
        format!(
            "[charts] font = {font:?}: give a TrueType or OpenType font file (.ttf, .otf or .ttc), relative to the pipeline file, with the characters of your tier names, e.g. font = \"/usr/share/fonts/opentype/noto/NotoSansCJK-Regular.ttc\" (Debian and Ubuntu: apt-get install fonts-noto-cjk)"
        )
    })?;
    Ok(path)
}

/// `[report]`: the language of report.html, the charts, reasons and alert details.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawReport {
    /// `en` (default) or `zh`.
    #[serde(default)]
    pub language: Language,
}

/// `[report]`, checked.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
pub struct ReportParams {
    pub language: Language,
}

fn default_true() -> bool {
    true
}

#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawFeatures {
    /// `YYYY-MM-DD`; transactions strictly before it are used. Default: the day after the last.
    pub as_of: Option<String>,
    /// Only transactions in the `lookback_days` days before `as_of` are used.
    pub lookback_days: Option<u32>,
    /// Length of the trailing periods compared for a drop in spend (default 90 days).
    pub period_days: Option<u32>,
}

#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawOutput {
    /// Output folder, relative to the working directory. Default `out/<name>`.
    pub dir: Option<String>,
    /// `"tier"`: write the per-customer grades as a Hive-partitioned folder
    /// `tiers/tier=<name>/part-0.parquet` instead of `tiers.parquet`.
    pub partition_by: Option<String>,
    /// Also write tiers.csv and alerts.csv (UTF-8 with a byte-order mark, for Excel).
    #[serde(default)]
    pub csv: bool,
}

/// `[features]`, checked: the window of transactions the features are computed on.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
pub struct FeatureWindow {
    /// `None`: the day after the last transaction kept (see `crate::plan`).
    pub as_of: Option<NaiveDate>,
    pub lookback_days: Option<u32>,
    pub period_days: u32,
}

/// Spend in the last `period_days` days is compared with the days before (alerts).
const DEFAULT_PERIOD_DAYS: u32 = 90;

impl RawFeatures {
    fn check(&self) -> Result<FeatureWindow> {
        let as_of = match &self.as_of {
            None => None,
            Some(s) => Some(parse_iso_date(s).context("[features] as_of")?),
        };
        if self.period_days == Some(0) {
            bail!("[features] period_days must be at least 1");
        }
        if self.lookback_days == Some(0) {
            bail!("[features] lookback_days must be at least 1 (leave it out to use all history)");
        }
        Ok(FeatureWindow {
            as_of,
            lookback_days: self.lookback_days,
            period_days: self.period_days.unwrap_or(DEFAULT_PERIOD_DAYS),
        })
    }
}

/// `[output]`, checked.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct OutputParams {
    /// Relative to the working directory; `out/<name>` unless `[output] dir` says.
    pub dir: PathBuf,
    /// Whether `[output] dir` set `dir`.
    pub dir_given: bool,
    /// Write tiers Hive-partitioned by tier.
    pub partition_by_tier: bool,
    /// Also write tiers.csv and alerts.csv.
    pub csv: bool,
}

impl RawOutput {
    fn check(&self, name: &str) -> Result<OutputParams> {
        let partition_by_tier = match self.partition_by.as_deref() {
            None => false,
            Some("tier") => true,
            Some(other) => bail!(
                "[output] partition_by = {other:?}: only \"tier\" is supported (tiers/tier=<name>/part-0.parquet)"
            ),
        };
        Ok(OutputParams {
            dir: match &self.dir {
                Some(d) => PathBuf::from(d),
                None => PathBuf::from("out").join(name),
            },
            dir_given: self.dir.is_some(),
            partition_by_tier,
            csv: self.csv,
        })
    }
}

/// The checked pipeline: everything the run needs, no raw options left.
#[derive(Debug, Clone, serde::Serialize)]
pub struct Pipeline {
    pub name: String,
    /// The file's text, stored in the run metadata so a run can be reproduced.
    #[serde(skip)]
    pub source_text: String,
    pub source_path: PathBuf,
    pub input: InputParams,
    pub cleaning: Cleaning,
    pub features: FeatureWindow,
    pub output: OutputParams,
    pub grading: GradingParams,
    /// `None` when `[clustering] enabled = false`.
    pub clustering: Option<ClusteringParams>,
    /// `None` when `[charts] enabled = false`.
    pub charts: Option<Charts>,
    pub report: ReportParams,
    /// Several snapshots (`[history]`); `None` grades one as_of.
    pub history: Option<History>,
    /// `None` without a `[potential]` section or with `enabled = false`.
    pub potential: Option<PotentialParams>,
    /// The customer master, with `[attributes]`.
    pub attributes: Option<AttributesParams>,
    pub engine: Engine,
}

impl Pipeline {
    /// Reads and validates a pipeline file.
    pub fn load(path: &Path) -> Result<Pipeline> {
        let text = std::fs::read_to_string(path).with_context(|| {
            format!(
                "cannot read pipeline file {} (pass an existing file: tiering run pipelines/default.toml)",
                path.display()
            )
        })?;
        Pipeline::from_toml(&text, path)
    }

    /// Parses pipeline text; `path` names the file in messages and anchors relative inputs.
    pub fn from_toml(text: &str, path: &Path) -> Result<Pipeline> {
        let raw: RawPipeline = toml::from_str(text).map_err(|e| {
            let section = e
                .span()
                .and_then(|span| section_at(text, span.start))
                .map(|s| format!(" (in {s})"))
                .unwrap_or_default();
            anyhow::anyhow!("invalid pipeline file {}{section}: {}", path.display(), e)
        })?;
        raw.validate(text, path)
            .with_context(|| format!("invalid pipeline file {}", path.display()))
    }
}

impl RawPipeline {
    /// Turns the raw file into a `Pipeline`, each section checked on its own and against
    /// the columns the input will have.
    pub fn validate(self, text: &str, path: &Path) -> Result<Pipeline> {
        let name = self.name.clone().unwrap_or_else(|| {
            path.file_stem()
                .map(|s| s.to_string_lossy().into_owned())
                .unwrap_or_else(|| "pipeline".into())
        });
        let base = path.parent().unwrap_or(Path::new("."));
        let input = self.input.check(base)?;
        let columns = &input.columns;
        let potential = match &self.potential {
            Some(p) => p.check()?,
            None => None,
        };
        let available = Available {
            profit: columns.cost.is_some(),
            payments: columns.due_date.is_some(),
            potential: potential.is_some(),
        };
        let features = self.features.check()?;
        let attributes = match &self.attributes {
            Some(a) => Some(a.check(base)?),
            None => None,
        };
        let attribute_names = match &attributes {
            Some(a) => AttributeNames {
                numeric: a.numeric_columns(available.payments),
                categorical: a.categorical.clone(),
            },
            None => AttributeNames::default(),
        };
        let mut grading = validate_grading(
            &self.rfm,
            &self.score,
            &self.tiers,
            &self.risk,
            &self.alerts,
            &self.policies,
            available,
            &attribute_names,
        )?;
        let clustering = self.clustering.check(available, &attribute_names)?;
        let cleaning = self.cleaning.check(columns.invoice_id.is_some())?;
        let output = self.output.check(&name)?;
        let history = match &self.history {
            Some(h) => Some(h.check()?),
            None => None,
        };
        check_one_graded_date(features.as_of, history.as_ref())?;
        let report = ReportParams {
            language: self.report.language,
        };
        // Reasons and alert details are written while grading, in the report's language.
        grading.language = report.language;
        Ok(Pipeline {
            name,
            source_text: text.to_string(),
            source_path: path.to_path_buf(),
            input,
            cleaning,
            features,
            output,
            grading,
            clustering,
            charts: self.charts.check(base)?,
            report,
            history,
            potential,
            attributes,
            engine: self.engine.check()?,
        })
    }
}

/// The `[section]` (or `[[section]]`) header above byte `at` of a TOML text.
fn section_at(text: &str, at: usize) -> Option<&str> {
    text.get(..at)?
        .lines()
        .rev()
        .map(str::trim)
        .find(|l| l.starts_with('[') && l.ends_with(']'))
}

/// The graded (latest) date is set in one place: `[features] as_of`, or the last date of a
/// `[history]` list, or its `end`; two places that disagree are an error, not a silent choice.
fn check_one_graded_date(as_of: Option<NaiveDate>, history: Option<&History>) -> Result<()> {
    let (Some(as_of), Some(h)) = (as_of, history) else {
        return Ok(());
    };
    let (last, key) = match h {
        History::Dates(d) => (d.last().copied(), "the last date of [history] as_of"),
        History::Cadence { end, .. } => (*end, "[history] end"),
    };
    match last {
        Some(last) if last != as_of => bail!(
            "[features] as_of = {as_of} and {key} = {last} both set the date graded last; keep one of them"
        ),
        _ => Ok(()),
    }
}

/// Parses `YYYY-MM-DD` with a message that says what was expected.
pub fn parse_iso_date(s: &str) -> Result<NaiveDate> {
    NaiveDate::parse_from_str(s.trim(), "%Y-%m-%d")
        .with_context(|| format!("{s:?} is not a date; write it as YYYY-MM-DD, e.g. 2024-01-31"))
}

#[cfg(test)]
mod tests {
    use super::*;

    const MINIMAL: &str = r#"
[input]
paths = "tx.csv"
[input.columns]
customer_id = "cust"
date = "day"
amount = "total"
"#;

    fn parse(text: &str) -> Result<Pipeline> {
        Pipeline::from_toml(text, Path::new("pipes/p.toml"))
    }

    #[test]
    fn minimal_file_gets_defaults_and_relative_paths() {
        let p = parse(MINIMAL).unwrap();
        assert_eq!(p.name, "p");
        assert_eq!(p.input.paths, vec![PathBuf::from("pipes/tx.csv")]);
        assert_eq!(p.output.dir, PathBuf::from("out/p"));
        assert_eq!(p.input.csv.delimiter, b',');
        assert_eq!(p.cleaning.returns, ReturnPolicy::Net);
        assert_eq!(p.input.date_format, None);
    }

    #[test]
    fn unknown_key_is_named() {
        let text = MINIMAL.replace("customer_id", "custmer_id");
        let err = format!("{:#}", parse(&text).unwrap_err());
        assert!(err.contains("unknown field `custmer_id`"), "{err}");
    }

    #[test]
    fn amount_and_price_together_rejected() {
        let text = format!("{MINIMAL}quantity = \"q\"\nunit_price = \"p\"\n");
        let err = format!("{:#}", parse(&text).unwrap_err());
        assert!(
            err.contains("either amount, or quantity + unit_price"),
            "{err}"
        );
    }

    #[test]
    fn missing_revenue_rejected() {
        let text = MINIMAL.replace("amount = \"total\"", "");
        let err = format!("{:#}", parse(&text).unwrap_err());
        assert!(err.contains("revenue is required"), "{err}");
    }

    #[test]
    fn bad_as_of_and_delimiter() {
        let text = format!("{MINIMAL}[features]\nas_of = \"31/01/2024\"\n");
        let err = format!("{:#}", parse(&text).unwrap_err());
        assert!(err.contains("YYYY-MM-DD"), "{err}");
        let text = MINIMAL.replace(
            "[input.columns]",
            "[input.csv]\ndelimiter = \";;\"\n[input.columns]",
        );
        let err = format!("{:#}", parse(&text).unwrap_err());
        assert!(err.contains("one character"), "{err}");
    }

    #[test]
    fn the_graded_date_is_set_in_one_place() {
        let with = |extra: &str| {
            parse(&format!(
                "{MINIMAL}[features]\nas_of = \"2025-10-01\"\n{extra}"
            ))
        };
        let e = format!(
            "{:#}",
            with("[history]\nas_of = [\"2025-01-01\", \"2025-07-01\"]\n").unwrap_err()
        );
        assert!(
            e.contains("[features] as_of = 2025-10-01") && e.contains("keep one"),
            "{e}"
        );
        let e =
            format!(
            "{:#}",
            with("[history]\ncadence = \"quarter\"\nstart = \"2025-01-01\"\nend = \"2025-07-01\"\n")
                .unwrap_err()
        );
        assert!(e.contains("[history] end = 2025-07-01"), "{e}");
        // Agreeing, or a cadence that runs up to [features] as_of: fine.
        assert!(with("[history]\nas_of = [\"2025-01-01\", \"2025-10-01\"]\n").is_ok());
        assert!(with("[history]\ncadence = \"month\"\nstart = \"2025-01-01\"\n").is_ok());
    }

    #[test]
    fn a_bad_value_names_its_section() {
        let text = format!("{MINIMAL}[clustering]\nselect_by = \"gap\"\n");
        let e = format!("{:#}", parse(&text).unwrap_err());
        assert!(e.contains("(in [clustering])"), "{e}");
        assert!(
            e.contains("silhouette") && e.contains("davies_bouldin"),
            "{e}"
        );
    }

    #[test]
    fn report_language_csv_and_chart_font() {
        let p = parse(MINIMAL).unwrap();
        assert_eq!(p.report.language, Language::En);
        assert!(!p.output.csv);
        assert_eq!(p.charts.as_ref().unwrap().font, None);
        let p = parse(&format!(
            "{MINIMAL}[report]\nlanguage = \"zh\"\n[output]\ncsv = true\n"
        ))
        .unwrap();
        assert_eq!(p.report.language, Language::Zh);
        assert_eq!(
            p.grading.language,
            Language::Zh,
            "reasons follow the report"
        );
        assert!(p.output.csv);
        let e = format!(
            "{:#}",
            parse(&format!("{MINIMAL}[report]\nlanguage = \"fr\"\n")).unwrap_err()
        );
        assert!(
            e.contains("(in [report])") && e.contains("`en` or `zh`"),
            "{e}"
        );
        // The font is found relative to the pipeline file.
        let fixtures = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures");
        let pipeline = fixtures.join("p.toml");
        let text = format!("{MINIMAL}[charts]\nfont = \"fonts/NotoSansCJKsc-subset.otf\"\n");
        let p = Pipeline::from_toml(&text, &pipeline).unwrap();
        assert_eq!(
            p.charts.unwrap().font,
            Some(fixtures.join("fonts/NotoSansCJKsc-subset.otf"))
        );
    }

    #[test]
    fn a_chart_font_that_is_missing_or_not_a_font_is_named() {
        let e = format!(
            "{:#}",
            parse(&format!("{MINIMAL}[charts]\nfont = \"fonts/none.ttf\"\n")).unwrap_err()
        );
        assert!(
            e.contains("[charts] font = \"fonts/none.ttf\"")
                && e.contains("pipes/fonts/none.ttf")
                && e.contains("fonts-noto-cjk"),
            "{e}"
        );
        // The pipeline file itself is no font.
        let e = format!(
            "{:#}",
            Pipeline::from_toml(
                &format!("{MINIMAL}[charts]\nfont = \"Cargo.toml\"\n"),
                &Path::new(env!("CARGO_MANIFEST_DIR")).join("p.toml")
            )
            .unwrap_err()
        );
        assert!(
            e.contains("[charts] font = \"Cargo.toml\"") && e.contains("is not a font"),
            "{e}"
        );
    }

    #[test]
    fn unknown_encoding_rejected() {
        let text = MINIMAL.replace(
            "[input.columns]",
            "[input.csv]\nencoding = \"klingon\"\n[input.columns]",
        );
        let err = format!("{:#}", parse(&text).unwrap_err());
        assert!(err.contains("encoding \"klingon\" is not known"), "{err}");
    }
}
