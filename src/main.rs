//! Thin entry point: parse the command line, call the library, print the error chain.

use std::process::ExitCode;

use anyhow::Result;
use clap::Parser;
use tiering::cli::{BenchArgs, Cli, Command, GenerateArgs, RunArgs, ValidateArgs};
use tiering::config::{parse_iso_date, Pipeline};
use tiering::generate::{generate_to_file, GenerateParams};
use tiering::pipeline::run;
use tiering::plan::{AsOfArg, RunPlan};
use tiering::progress::{thousands, Progress};

/// jemalloc, as polars' own Python package uses on Linux: it hands freed memory back to the
/// system on its own, where glibc's allocator keeps what the stream's threads freed in their
/// arenas (see docs/performance.md).
#[global_allocator]
static ALLOC: tikv_jemallocator::Jemalloc = tikv_jemallocator::Jemalloc;

/// jemalloc's options (its `malloc_conf`, read before `main`; the `_rjem_` prefix is the
/// bundled jemalloc's): a background thread hands pages freed for a second back to the
/// system, instead of keeping them for ten seconds or until the next allocation asks.
/// Measured in docs/performance.md; `_RJEM_MALLOC_CONF` in the environment overrides it.
/// On Linux with glibc only: jemalloc has no background threads on macOS or musl (asked for
/// one, it would fail to start), and on Windows the symbol is not one a program may define.
#[cfg(all(target_os = "linux", not(target_env = "musl")))]
#[used]
#[export_name = "_rjem_malloc_conf"]
static MALLOC_CONF: &u8 = &b"background_thread:true,dirty_decay_ms:1000\0"[0];

fn main() -> ExitCode {
    let cli = Cli::parse();
    // A panic is a bug or a reader's assertion on damaged data: the library turns the ones
    // it expects into errors that name the file. None is printed as a panic; one that gets
    // here is reported as an internal error, with exit status 1 like every other error.
    std::panic::set_hook(Box::new(|_| {}));
    let result = std::panic::catch_unwind(|| match cli.command {
        Command::Run(args) => run_command(args),
        Command::Generate(args) => generate_command(args),
        Command::Validate(args) => validate_command(args),
        Command::Bench(args) => bench_command(args),
    })
    .unwrap_or_else(|payload| {
        Err(anyhow::anyhow!(
            "internal error: {}; please report it with the command and, if you can, the input",
            tiering::load::panic_message(payload.as_ref())
        ))
    });
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("error: {e:#}");
            ExitCode::FAILURE
        }
    }
}

fn run_command(args: RunArgs) -> Result<()> {
    let progress = Progress::new(args.quiet, args.verbose);
    let pipeline = Pipeline::load(&args.pipeline)?;
    let as_of = AsOfArg::parse(args.as_of.as_deref())?;
    let today = chrono::Local::now().date_naive();
    let plan = RunPlan::resolve(pipeline, as_of, args.out, today);
    let result = run(&plan, &progress)?;
    progress.stage(
        "done",
        &format!(
            "{} customers graded in {:.2}s -> {}",
            thousands(result.metadata.customers),
            progress.elapsed_secs(),
            result.out_dir.display()
        ),
    );
    Ok(())
}

fn validate_command(args: ValidateArgs) -> Result<()> {
    let progress = Progress::new(args.quiet, false);
    let pipeline = Pipeline::load(&args.pipeline)?;
    let holdout_from =
        parse_iso_date(&args.holdout_from).map_err(|e| e.context("--holdout-from"))?;
    let as_of = match &args.as_of {
        Some(d) => AsOfArg::One(parse_iso_date(d).map_err(|e| e.context("--as-of"))?),
        None => AsOfArg::None,
    };
    let today = chrono::Local::now().date_naive();
    let given = args.out.is_some();
    let mut plan = RunPlan::resolve(pipeline, as_of, args.out, today);
    if !given {
        // Beside the run's outputs, not in place of them.
        let name = format!("{}-validation", plan.pipeline.name);
        plan.out = plan.out.with_file_name(name);
    }
    let (dir, summary) = tiering::pipeline::validate(&plan, holdout_from, &progress)?;
    progress.stage(
        "done",
        &format!(
            "mean absolute error {:.3} in {:.2}s -> {}",
            summary.mean_absolute_error,
            progress.elapsed_secs(),
            dir.display()
        ),
    );
    Ok(())
}

fn generate_command(args: GenerateArgs) -> Result<()> {
    let progress = Progress::new(args.quiet, false);
    let params = GenerateParams {
        customers: args.customers,
        seed: args.seed,
        end: parse_iso_date(&args.end).map_err(|e| e.context("--end"))?,
        days: args.days,
        order: args.order,
        ..Default::default()
    };
    let rows = generate_to_file(&params, &args.out, |chunks| {
        if chunks % 10 == 0 {
            progress.stage(
                "generate",
                &format!(
                    "{} customers",
                    thousands((chunks * params.chunk_customers) as u64)
                ),
            );
        }
    })?;
    progress.stage(
        "write",
        &format!("{} transactions -> {}", thousands(rows), args.out.display()),
    );
    if let Some(path) = &args.master {
        let mut writer = tiering::output::DataFileWriter::new(path)?;
        writer.write(&tiering::generate::generate_master(&params)?)?;
        let n = writer.finish()?;
        progress.stage(
            "write",
            &format!("{} customers' master -> {}", thousands(n), path.display()),
        );
    }
    Ok(())
}

fn bench_command(args: BenchArgs) -> Result<()> {
    let k = match args.k.as_str() {
        "auto" => "\"auto\"".to_string(),
        n => n
            .parse::<usize>()
            .map(|k| k.to_string())
            .map_err(|_| anyhow::anyhow!("--k must be a number of clusters or auto, got {n:?}"))?,
    };
    let options = tiering::bench::BenchOptions {
        k,
        duplicates: args.duplicates,
        order: args.order,
        potential: args.potential,
        verbose: args.verbose,
    };
    let results = tiering::bench::run_bench(
        &args.rows,
        &args.dir,
        &options,
        chrono::Local::now().date_naive(),
    )?;
    println!("{}", tiering::bench::format_results(&results));
    Ok(())
}
