//! Command-line interface (clap derive only; no work here).

use std::path::PathBuf;

use clap::{Args, Parser, Subcommand};

use crate::generate::Order;

/// Grades a company's customers from transaction history: per-customer features (RFM, profit,
/// payment behaviour), written as Parquet for BI tools.
#[derive(Debug, Parser)]
#[command(name = "tiering", version, about, long_about = None)]
pub struct Cli {
    #[command(subcommand)]
    pub command: Command,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Run a pipeline file: load and clean transactions, compute customer features, write
    /// Parquet tables and run.json into the output folder.
    Run(RunArgs),
    /// Write synthetic B2B transaction history (deterministic for a seed) as CSV or Parquet.
    Generate(GenerateArgs),
    /// Check the purchase model on a holdout period: fit it on the purchases before
    /// --holdout-from and compare, per number of repeat purchases before that date, the
    /// purchases it expects up to the as-of date with those that happened.
    Validate(ValidateArgs),
    /// Benchmark the whole pipeline on generated data of several sizes: per stage wall
    /// seconds, rows per second and peak memory, as a Markdown table.
    Bench(BenchArgs),
}

#[derive(Debug, Args)]
pub struct BenchArgs {
    /// Transaction counts, comma-separated (about one customer per ten transactions).
    #[arg(long, default_value = "1000000,10000000", value_delimiter = ',')]
    pub rows: Vec<u64>,
    /// Folder for the generated inputs (reused when present) and outputs.
    #[arg(long, default_value = "target/bench-data", value_name = "DIR")]
    pub dir: PathBuf,
    /// Number of clusters, or "auto" (k = 2..8 by silhouette).
    #[arg(long, default_value = "4")]
    pub k: String,
    /// `[cleaning] duplicates` of the runs: "keep" (generated data has no exact duplicates) or
    /// "drop" (the pipeline default), which measures the cost of the check.
    #[arg(long, default_value = "keep", value_parser = ["keep", "drop"])]
    pub duplicates: String,
    /// The order of the generated lines: "date" (each invoice's lines together) or
    /// "shuffled" (an invoice's lines scattered over the file); see `generate --order`.
    #[arg(long, value_enum, default_value_t = Order::Date)]
    pub order: Order,
    /// Also fit the potential models ([potential] with its defaults).
    #[arg(long)]
    pub potential: bool,
    /// Show the pipeline's stage lines while it runs.
    #[arg(long, short)]
    pub verbose: bool,
}

#[derive(Debug, Args)]
pub struct RunArgs {
    /// The pipeline file (TOML). Input paths inside it are relative to its folder.
    #[arg(default_value = "pipelines/default.toml")]
    pub pipeline: PathBuf,
    /// Output folder (overrides [output] dir; default out/<pipeline name>). Replaced atomically
    /// at the end of a successful run.
    #[arg(long, value_name = "DIR")]
    pub out: Option<PathBuf>,
    /// Evaluation date YYYY-MM-DD (overrides [features] as_of): transactions strictly before it
    /// are used, recency is counted up to it. Several dates, comma-separated and ascending
    /// (2025-07-01,2025-10-01,2026-01-01), grade each and track who moved (overrides [history]).
    #[arg(long, value_name = "DATE")]
    pub as_of: Option<String>,
    /// No progress lines on stderr.
    #[arg(long, short, conflicts_with = "verbose")]
    pub quiet: bool,
    /// More detail on stderr: per-file counts and the date formats chosen.
    #[arg(long, short)]
    pub verbose: bool,
}

#[derive(Debug, Args)]
pub struct ValidateArgs {
    /// The pipeline file (TOML); its [potential] settings are used (the defaults without).
    #[arg(default_value = "pipelines/default.toml")]
    pub pipeline: PathBuf,
    /// First day of the holdout period, YYYY-MM-DD: purchases before it fit the model.
    #[arg(long, value_name = "DATE")]
    pub holdout_from: String,
    /// End of the holdout period, exclusive, YYYY-MM-DD (default: as for `run`, the
    /// pipeline's as-of date or the day after the last transaction).
    #[arg(long, value_name = "DATE")]
    pub as_of: Option<String>,
    /// Output folder (default out/<name>-validation).
    #[arg(long, value_name = "DIR")]
    pub out: Option<PathBuf>,
    /// No progress lines on stderr.
    #[arg(long, short)]
    pub quiet: bool,
}

#[derive(Debug, Args)]
pub struct GenerateArgs {
    /// Number of customers.
    #[arg(long, default_value_t = 1000)]
    pub customers: usize,
    /// Random seed: the same seed gives the same file.
    #[arg(long, default_value_t = 42)]
    pub seed: u64,
    /// Last day of the history, YYYY-MM-DD.
    #[arg(long, default_value = "2025-12-31", value_name = "DATE")]
    pub end: String,
    /// Length of the history in days.
    #[arg(long, default_value_t = 730)]
    pub days: u32,
    /// Output file; .csv or .parquet.
    #[arg(long, value_name = "PATH")]
    pub out: PathBuf,
    /// The order of the lines: "date" (by date, each invoice's lines together) or "shuffled"
    /// (the same lines in a random order seeded by --seed, an invoice's lines scattered over
    /// the file; holds the whole table in memory, about 200 bytes a line).
    #[arg(long, value_enum, default_value_t = Order::Date)]
    pub order: Order,
    /// Also write the customers' master (credit rating, credit score, debt ratio, credit
    /// limit, industry, key account) to this .csv or .parquet file.
    #[arg(long, value_name = "PATH")]
    pub master: Option<PathBuf>,
    /// No progress lines on stderr.
    #[arg(long, short)]
    pub quiet: bool,
}
