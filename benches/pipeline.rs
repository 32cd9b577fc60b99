//! `cargo bench`: the whole pipeline on generated data, per stage (load+features, tiers,
//! k-means, compare, charts, writing): wall seconds, rows per second and peak memory.
//! Sizes from TIERING_BENCH_ROWS (comma-separated, default 1000000), the order of the
//! generated lines from TIERING_BENCH_ORDER (`date` or `shuffled`, default `date`), the
//! potential models with TIERING_BENCH_POTENTIAL=1; the same
//! code as `tiering bench`, which is the command docs/performance.md's table comes from.

/// The allocator of the `tiering` binary, with its options (see `src/main.rs`), so the
/// figures are the command's.
#[global_allocator]
static ALLOC: tikv_jemallocator::Jemalloc = tikv_jemallocator::Jemalloc;
#[cfg(all(target_os = "linux", not(target_env = "musl")))]
#[used]
#[export_name = "_rjem_malloc_conf"]
static MALLOC_CONF: &u8 = &b"background_thread:true,dirty_decay_ms:1000\0"[0];

fn main() -> anyhow::Result<()> {
    let sizes: Vec<u64> = std::env::var("TIERING_BENCH_ROWS")
        .unwrap_or_else(|_| "1000000".into())
        .split(',')
        .map(|s| s.trim().parse())
        .collect::<Result<_, _>>()?;
    let dir = std::path::PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("target/bench-data");
    let order = match std::env::var("TIERING_BENCH_ORDER").as_deref() {
        Ok("shuffled") => tiering::generate::Order::Shuffled,
        Ok("date") | Err(_) => tiering::generate::Order::Date,
        Ok(other) => anyhow::bail!("TIERING_BENCH_ORDER must be date or shuffled, got {other:?}"),
    };
    let options = tiering::bench::BenchOptions {
        k: "4".into(),
        duplicates: "keep".into(),
        order,
        // TIERING_BENCH_POTENTIAL=1 adds the potential models.
        potential: std::env::var("TIERING_BENCH_POTENTIAL").is_ok_and(|v| v == "1"),
        verbose: false,
    };
    let results = tiering::bench::run_bench(
        &sizes,
        &dir,
        &options,
        chrono::NaiveDate::from_ymd_opt(2026, 1, 1).unwrap(),
    )?;
    println!("{}", tiering::bench::format_results(&results));
    Ok(())
}
