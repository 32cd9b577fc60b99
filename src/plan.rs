//! The run plan: the command line, the pipeline file and today's date resolved once into what
//! a run does: which as-of dates it grades and where each came from, where it writes. Nothing
//! after the plan decides a date or a folder again. The one date that needs the data (the day
//! after the last transaction, when nothing names one) is marked so, and the features stage
//! fills it in; [`RunPlan::snapshot_dates`] then gives every date of the run.

use std::path::PathBuf;

use anyhow::{bail, Context, Result};
use chrono::NaiveDate;
use serde::Serialize;

use crate::config::{parse_iso_date, Cadence, History, Pipeline};

/// Where an as-of date came from, as `run.json` says it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub enum DateSource {
    /// `--as-of` on the command line.
    #[serde(rename = "command line")]
    CommandLine,
    /// `[features] as_of` in the pipeline file.
    #[serde(rename = "pipeline file [features] as_of")]
    FeaturesAsOf,
    /// `[history] as_of` in the pipeline file.
    #[serde(rename = "pipeline file [history] as_of")]
    HistoryList,
    /// `[history] cadence` counted from `start`.
    #[serde(rename = "pipeline file [history] cadence")]
    HistoryCadence,
    /// `[history] end` in the pipeline file.
    #[serde(rename = "pipeline file [history] end")]
    HistoryEnd,
    /// Nothing named it: the day after the last transaction kept.
    #[serde(rename = "day after the last transaction")]
    DayAfterLast,
}

impl DateSource {
    /// The words `run.json` and the report use.
    pub fn describe(self) -> &'static str {
        match self {
            DateSource::CommandLine => "command line",
            DateSource::FeaturesAsOf => "pipeline file [features] as_of",
            DateSource::HistoryList => "pipeline file [history] as_of",
            DateSource::HistoryCadence => "pipeline file [history] cadence",
            DateSource::HistoryEnd => "pipeline file [history] end",
            DateSource::DayAfterLast => "day after the last transaction",
        }
    }
}

/// The as-of date of the graded (latest) snapshot: given, or to be read off the data.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct AsOf {
    /// `None` with [`DateSource::DayAfterLast`]: the features stage finds it.
    pub date: Option<NaiveDate>,
    pub source: DateSource,
}

/// The earlier snapshots of a history run.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Snapshots {
    /// One date only.
    None,
    /// These dates, before the latest one, each with where it came from.
    Dates(Vec<(NaiveDate, DateSource)>),
    /// Every `cadence` from `start` up to the latest as_of (not included).
    Cadence { cadence: Cadence, start: NaiveDate },
}

/// What `--as-of` says: nothing, one date, or several (a history run).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum AsOfArg {
    None,
    One(NaiveDate),
    Many(Vec<NaiveDate>),
}

impl AsOfArg {
    /// Parses `--as-of`: `YYYY-MM-DD`, or several comma-separated and strictly ascending.
    pub fn parse(arg: Option<&str>) -> Result<AsOfArg> {
        let Some(s) = arg else {
            return Ok(AsOfArg::None);
        };
        if !s.contains(',') {
            return Ok(AsOfArg::One(parse_iso_date(s).context("--as-of")?));
        }
        let list: Vec<String> = s.split(',').map(|d| d.trim().to_string()).collect();
        match crate::config::parse_date_list(&list).context("--as-of")? {
            History::Dates(d) => Ok(AsOfArg::Many(d)),
            History::Cadence { .. } => bail!("--as-of takes dates, not a cadence"),
        }
    }
}

/// Where the output folder came from.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum OutSource {
    CommandLine,
    PipelineFile,
    Default,
}

impl OutSource {
    /// How error messages name it.
    pub fn describe(self) -> &'static str {
        match self {
            OutSource::CommandLine => "--out",
            OutSource::PipelineFile => "[output] dir",
            OutSource::Default => "the default out/<name>",
        }
    }
}

/// Everything a run decides before it reads data.
#[derive(Debug, Clone)]
pub struct RunPlan {
    pub pipeline: Pipeline,
    /// The calendar day of the run (for `future_dates` and `run.json`).
    pub today: NaiveDate,
    pub as_of: AsOf,
    pub snapshots: Snapshots,
    pub out: PathBuf,
    pub out_source: OutSource,
}

impl RunPlan {
    /// Resolves the dates and the output folder. A single `--as-of` grades that date only,
    /// even when the file has a `[history]`; several replace the file's history; without
    /// `--as-of`, `[history]` decides the dates (its last list date, or its `end`, is the
    /// graded one), else `[features] as_of`, else the day after the last transaction.
    pub fn resolve(
        pipeline: Pipeline,
        as_of: AsOfArg,
        out: Option<PathBuf>,
        today: NaiveDate,
    ) -> RunPlan {
        let given = |date: NaiveDate, source| AsOf {
            date: Some(date),
            source,
        };
        let features = match pipeline.features.as_of {
            Some(d) => given(d, DateSource::FeaturesAsOf),
            None => AsOf {
                date: None,
                source: DateSource::DayAfterLast,
            },
        };
        let (as_of, snapshots) = match (as_of, &pipeline.history) {
            (AsOfArg::One(d), _) => (given(d, DateSource::CommandLine), Snapshots::None),
            (AsOfArg::Many(dates), _) => split_last(&dates, DateSource::CommandLine),
            (AsOfArg::None, None) => (features, Snapshots::None),
            (AsOfArg::None, Some(History::Dates(dates))) => {
                split_last(dates, DateSource::HistoryList)
            }
            (
                AsOfArg::None,
                Some(History::Cadence {
                    cadence,
                    start,
                    end,
                }),
            ) => {
                let last = match end {
                    Some(e) => given(*e, DateSource::HistoryEnd),
                    None => features,
                };
                (
                    last,
                    Snapshots::Cadence {
                        cadence: *cadence,
                        start: *start,
                    },
                )
            }
        };
        let (out, out_source) = match out {
            Some(o) => (o, OutSource::CommandLine),
            None if pipeline.output.dir_given => {
                (pipeline.output.dir.clone(), OutSource::PipelineFile)
            }
            None => (pipeline.output.dir.clone(), OutSource::Default),
        };
        RunPlan {
            pipeline,
            today,
            as_of,
            snapshots,
            out,
            out_source,
        }
    }

    /// Every as-of date of the run, ascending and each with its source, the graded one last,
    /// given that one (`as_of`, read off the data when the plan did not know it). Snapshots
    /// not before it are left out.
    pub fn snapshot_dates(&self, as_of: NaiveDate) -> Vec<(NaiveDate, DateSource)> {
        let mut dates: Vec<(NaiveDate, DateSource)> = match &self.snapshots {
            Snapshots::None => Vec::new(),
            Snapshots::Dates(d) => d.clone(),
            Snapshots::Cadence { cadence, start } => {
                let step = match cadence {
                    Cadence::Month => 1,
                    Cadence::Quarter => 3,
                };
                // Counted from the start each time, so month ends stay month ends
                // (January 31, February 29, March 31, ...).
                (0..)
                    .map(|i| *start + chrono::Months::new(i * step))
                    .take_while(|d| *d < as_of)
                    .map(|d| (d, DateSource::HistoryCadence))
                    .collect()
            }
        };
        dates.retain(|(d, _)| *d < as_of);
        dates.push((as_of, self.as_of.source));
        dates
    }
}

/// The last date is the graded one; the others are earlier snapshots.
fn split_last(dates: &[NaiveDate], source: DateSource) -> (AsOf, Snapshots) {
    let (last, earlier) = dates
        .split_last()
        .expect("a history has at least two dates (validated)");
    (
        AsOf {
            date: Some(*last),
            source,
        },
        Snapshots::Dates(earlier.iter().map(|d| (*d, source)).collect()),
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    fn day(s: &str) -> NaiveDate {
        parse_iso_date(s).unwrap()
    }

    fn pipeline(extra: &str) -> Pipeline {
        let text = format!(
            "[input]\npaths = \"x.csv\"\n[input.columns]\ncustomer_id = \"c\"\ndate = \"d\"\namount = \"a\"\n{extra}"
        );
        Pipeline::from_toml(&text, std::path::Path::new("p.toml")).unwrap()
    }

    fn plan(extra: &str, arg: Option<&str>) -> RunPlan {
        RunPlan::resolve(
            pipeline(extra),
            AsOfArg::parse(arg).unwrap(),
            None,
            day("2026-01-15"),
        )
    }

    fn sources(p: &RunPlan, as_of: &str) -> Vec<(String, &'static str)> {
        p.snapshot_dates(day(as_of))
            .into_iter()
            .map(|(d, s)| (d.to_string(), s.describe()))
            .collect()
    }

    #[test]
    fn one_date_from_each_place() {
        let p = plan("", None);
        assert_eq!(p.as_of.date, None);
        assert_eq!(
            sources(&p, "2025-12-01"),
            [("2025-12-01".into(), "day after the last transaction")]
        );
        let p = plan("[features]\nas_of = \"2025-06-01\"\n", None);
        assert_eq!(p.as_of.date, Some(day("2025-06-01")));
        assert_eq!(p.as_of.source, DateSource::FeaturesAsOf);
        // The command line wins, and grades one date even when the file has a history.
        let p = plan(
            "[history]\nas_of = [\"2025-01-01\", \"2025-02-01\"]\n",
            Some("2025-03-01"),
        );
        assert_eq!(
            sources(&p, "2025-03-01"),
            [("2025-03-01".into(), "command line")]
        );
    }

    #[test]
    fn several_dates_on_the_command_line() {
        let p = plan(
            "[history]\nas_of = [\"2025-01-01\", \"2025-02-01\"]\n",
            Some("2025-07-01,2025-10-01,2026-01-01"),
        );
        assert_eq!(p.as_of.date, Some(day("2026-01-01")));
        assert_eq!(
            sources(&p, "2026-01-01"),
            [
                ("2025-07-01".into(), "command line"),
                ("2025-10-01".into(), "command line"),
                ("2026-01-01".into(), "command line"),
            ]
        );
    }

    #[test]
    fn history_list_and_cadence() {
        let p = plan(
            "[history]\nas_of = [\"2025-01-01\", \"2025-04-01\"]\n",
            None,
        );
        assert_eq!(
            sources(&p, "2025-04-01"),
            [
                ("2025-01-01".into(), "pipeline file [history] as_of"),
                ("2025-04-01".into(), "pipeline file [history] as_of"),
            ]
        );
        // A cadence without an end runs up to the run's as_of, here read off the data.
        let p = plan(
            "[history]\ncadence = \"quarter\"\nstart = \"2025-01-01\"\n",
            None,
        );
        assert_eq!(p.as_of.source, DateSource::DayAfterLast);
        assert_eq!(
            sources(&p, "2025-08-15"),
            [
                ("2025-01-01".into(), "pipeline file [history] cadence"),
                ("2025-04-01".into(), "pipeline file [history] cadence"),
                ("2025-07-01".into(), "pipeline file [history] cadence"),
                ("2025-08-15".into(), "day after the last transaction"),
            ]
        );
        let p = plan(
            "[history]\ncadence = \"quarter\"\nstart = \"2025-01-01\"\nend = \"2025-07-01\"\n",
            None,
        );
        assert_eq!(p.as_of.date, Some(day("2025-07-01")));
        assert_eq!(
            sources(&p, "2025-07-01").last().unwrap().1,
            "pipeline file [history] end"
        );
    }

    /// Counted from the start each time: month ends stay month ends, leap day included.
    #[test]
    fn monthly_cadence_at_month_ends() {
        let p = plan(
            "[history]\ncadence = \"month\"\nstart = \"2024-01-31\"\nend = \"2024-06-30\"\n",
            None,
        );
        let dates: Vec<String> = p
            .snapshot_dates(day("2024-06-30"))
            .into_iter()
            .map(|(d, _)| d.to_string())
            .collect();
        assert_eq!(
            dates,
            [
                "2024-01-31",
                "2024-02-29",
                "2024-03-31",
                "2024-04-30",
                "2024-05-31",
                "2024-06-30"
            ]
        );
    }

    #[test]
    fn as_of_argument_errors_name_the_flag() {
        let e = format!("{:#}", AsOfArg::parse(Some("31/12/2024")).unwrap_err());
        assert!(e.contains("--as-of") && e.contains("YYYY-MM-DD"), "{e}");
        let e = format!(
            "{:#}",
            AsOfArg::parse(Some("2024-02-01,2024-01-01")).unwrap_err()
        );
        assert!(e.contains("--as-of") && e.contains("ascending"), "{e}");
    }

    #[test]
    fn output_folder_and_where_it_came_from() {
        let p = plan("", None);
        assert_eq!(p.out, PathBuf::from("out/p"));
        assert_eq!(p.out_source, OutSource::Default);
        let p = RunPlan::resolve(
            pipeline("[output]\ndir = \"res\"\n"),
            AsOfArg::None,
            None,
            day("2026-01-01"),
        );
        assert_eq!(
            (p.out.clone(), p.out_source),
            (PathBuf::from("res"), OutSource::PipelineFile)
        );
        let p = RunPlan::resolve(
            pipeline("[output]\ndir = \"res\"\n"),
            AsOfArg::None,
            Some(PathBuf::from("x")),
            day("2026-01-01"),
        );
        assert_eq!(p.out_source, OutSource::CommandLine);
    }
}
