//! Stage lines on stderr: what ran, how many rows, how long. Silent with `--quiet`.

use std::cell::RefCell;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

/// Reports stages of a run with elapsed seconds since the run started, and keeps a record of
/// each stage's duration and peak memory for benchmarks.
pub struct Progress {
    quiet: bool,
    verbose: bool,
    start: Instant,
    records: RefCell<Vec<StageRecord>>,
    /// Samples anonymous memory for the records, when asked for (benchmarks).
    anon: Option<AnonSampler>,
}

/// One finished stage: its name, wall seconds and the peak memory during it.
#[derive(Debug, Clone, serde::Serialize)]
pub struct StageRecord {
    pub name: String,
    pub seconds: f64,
    /// Peak resident set size in MiB since the previous stage (Linux; `None` elsewhere). It
    /// counts the pages of the files the process maps, such as its Parquet inputs.
    pub peak_mib: Option<f64>,
    /// Peak anonymous resident memory in MiB since the previous stage: the working memory,
    /// without file pages (sampled, see [`AnonSampler`]; `None` unless sampling was asked for).
    pub peak_anon_mib: Option<f64>,
}

/// The value in KiB of a field of `/proc/<pid>/status`, such as `VmHWM:\t  1234 kB`.
pub fn status_kib(status: &str, field: &str) -> Option<u64> {
    status.lines().find_map(|line| {
        let mut parts = line
            .strip_prefix(field)?
            .strip_prefix(':')?
            .split_whitespace();
        let kib = parts.next()?.parse().ok()?;
        (parts.next() == Some("kB") && parts.next().is_none()).then_some(kib)
    })
}

/// A field of this process's `/proc/self/status` in KiB, where the system has one.
fn own_status_kib(field: &str) -> Option<u64> {
    status_kib(&std::fs::read_to_string("/proc/self/status").ok()?, field)
}

/// Peak resident set size of this process in MiB (`VmHWM`), where the system tells it.
pub fn peak_rss_mib() -> Option<f64> {
    own_status_kib("VmHWM").map(|kib| kib as f64 / 1024.0)
}

/// How often [`AnonSampler`] reads the anonymous memory.
const SAMPLE_EVERY: Duration = Duration::from_millis(10);

/// The largest anonymous resident memory (`RssAnon`) of this process, read by a thread of its
/// own every [`SAMPLE_EVERY`]. The kernel keeps a high-water mark of the whole resident set
/// only (`VmHWM`), which also counts file pages: a Parquet input that polars maps is resident
/// as far as it has been read, and the kernel drops those pages when memory is short.
/// Anonymous memory is what the run itself holds.
pub struct AnonSampler {
    /// KiB, the largest since the last [`AnonSampler::take_peak`].
    peak: Arc<AtomicU64>,
    stop: Arc<AtomicBool>,
    thread: Option<std::thread::JoinHandle<()>>,
}

impl AnonSampler {
    /// Starts sampling; `None` where the system does not tell `RssAnon`.
    pub fn start() -> Option<AnonSampler> {
        let peak = Arc::new(AtomicU64::new(own_status_kib("RssAnon")?));
        let stop = Arc::new(AtomicBool::new(false));
        let (p, s) = (peak.clone(), stop.clone());
        let thread = std::thread::Builder::new()
            .name("rss-anon-sampler".into())
            .spawn(move || {
                while !s.load(Ordering::Relaxed) {
                    if let Some(kib) = own_status_kib("RssAnon") {
                        p.fetch_max(kib, Ordering::Relaxed);
                    }
                    std::thread::sleep(SAMPLE_EVERY);
                }
            })
            .ok()?;
        Some(AnonSampler {
            peak,
            stop,
            thread: Some(thread),
        })
    }

    /// The largest value in MiB since the previous call (or the start); the next period
    /// starts from the value now.
    pub fn take_peak_mib(&self) -> f64 {
        let now = own_status_kib("RssAnon").unwrap_or(0);
        let peak = self.peak.swap(now, Ordering::Relaxed).max(now);
        peak as f64 / 1024.0
    }
}

impl Drop for AnonSampler {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::Relaxed);
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
    }
}

/// Resets the peak so the next reading covers only what follows (Linux 4.0+).
pub fn reset_peak_rss() {
    std::fs::write("/proc/self/clear_refs", "5").ok();
}

impl Progress {
    pub fn new(quiet: bool, verbose: bool) -> Progress {
        Progress {
            quiet,
            verbose: verbose && !quiet,
            start: Instant::now(),
            records: RefCell::new(Vec::new()),
            anon: None,
        }
    }

    /// Also records each stage's peak anonymous memory (see [`AnonSampler`]), for benchmarks:
    /// the sampling thread wakes every 10 ms.
    pub fn with_anon_sampling(mut self) -> Progress {
        self.anon = AnonSampler::start();
        self
    }

    /// A silent reporter, for library callers and tests.
    pub fn silent() -> Progress {
        Progress::new(true, false)
    }

    pub fn stage(&self, name: &str, message: &str) {
        if name != "note" {
            let now = self.start.elapsed().as_secs_f64();
            let mut r = self.records.borrow_mut();
            let before: f64 = r.iter().map(|x| x.seconds).sum();
            r.push(StageRecord {
                name: name.to_string(),
                seconds: now - before,
                peak_mib: peak_rss_mib(),
                peak_anon_mib: self.anon.as_ref().map(AnonSampler::take_peak_mib),
            });
            reset_peak_rss();
        }
        if !self.quiet {
            eprintln!(
                "[{:>6.2}s] {name:<9} {message}",
                self.start.elapsed().as_secs_f64()
            );
        }
    }

    /// Detail shown only with `--verbose`.
    pub fn detail(&self, message: &str) {
        if self.verbose {
            eprintln!("          {message}");
        }
    }

    /// The stages reported so far.
    pub fn records(&self) -> Vec<StageRecord> {
        self.records.borrow().clone()
    }

    pub fn elapsed_secs(&self) -> f64 {
        self.start.elapsed().as_secs_f64()
    }
}

/// `1234567` -> `1,234,567`.
pub fn thousands(n: u64) -> String {
    let s = n.to_string();
    let mut out = String::with_capacity(s.len() + s.len() / 3);
    for (i, ch) in s.chars().enumerate() {
        if i > 0 && (s.len() - i).is_multiple_of(3) {
            out.push(',');
        }
        out.push(ch);
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Lines as Linux 6.x writes them in /proc/self/status (tab after the colon, padded).
    const STATUS: &str = "Name:\ttiering\nVmPeak:\t 4251212 kB\nVmHWM:\t  912340 kB\nVmRSS:\t  655360 kB\nRssAnon:\t  524288 kB\nRssFile:\t  131000 kB\nRssShmem:\t      72 kB\nThreads:\t3\n";

    #[test]
    fn status_fields_are_read_in_kib() {
        assert_eq!(status_kib(STATUS, "VmHWM"), Some(912_340));
        assert_eq!(status_kib(STATUS, "RssAnon"), Some(524_288));
        assert_eq!(status_kib(STATUS, "RssFile"), Some(131_000));
        assert_eq!(status_kib(STATUS, "RssShmem"), Some(72));
    }

    #[test]
    fn status_fields_need_the_whole_name_and_the_unit() {
        // "Rss" is only the start of field names; "Threads" has no unit; absent fields.
        assert_eq!(status_kib(STATUS, "Rss"), None);
        assert_eq!(status_kib(STATUS, "Threads"), None);
        assert_eq!(status_kib(STATUS, "VmSwap"), None);
        assert_eq!(status_kib("", "RssAnon"), None);
        assert_eq!(status_kib("RssAnon:\tmany kB\n", "RssAnon"), None);
        assert_eq!(status_kib("RssAnon:\t12 MB\n", "RssAnon"), None);
        assert_eq!(status_kib("RssAnon: 12 kB\n", "RssAnon"), Some(12));
    }

    #[cfg(target_os = "linux")]
    #[test]
    fn the_sampler_sees_a_block_held_between_two_readings() {
        let sampler = AnonSampler::start().expect("Linux tells RssAnon");
        let before = sampler.take_peak_mib();
        // 256 MiB written, so every page is resident, held past a few samples.
        let block = vec![1u8; 256 << 20];
        std::thread::sleep(SAMPLE_EVERY * 5);
        assert_eq!(block.iter().map(|&b| b as usize).sum::<usize>(), 256 << 20);
        drop(block);
        let peak = sampler.take_peak_mib();
        assert!(
            peak >= before + 200.0,
            "before {before:.0} MiB, peak {peak:.0}"
        );
    }
    #[test]
    fn thousands_groups_digits() {
        assert_eq!(super::thousands(0), "0");
        assert_eq!(super::thousands(999), "999");
        assert_eq!(super::thousands(541909), "541,909");
        assert_eq!(super::thousands(1234567), "1,234,567");
    }
}
