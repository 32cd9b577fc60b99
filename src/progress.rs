//! Stage lines on stderr: what ran, how many rows, how long. Silent with `--quiet`.

use std::cell::RefCell;
use std::time::Instant;

/// Reports stages of a run with elapsed seconds since the run started, and keeps a record of
/// each stage's duration and peak memory for benchmarks.
pub struct Progress {
    quiet: bool,
    verbose: bool,
    start: Instant,
    records: RefCell<Vec<StageRecord>>,
}

/// One finished stage: its name, wall seconds and the peak resident memory during it.
#[derive(Debug, Clone, serde::Serialize)]
pub struct StageRecord {
    pub name: String,
    pub seconds: f64,
    /// Peak resident set size in MiB since the previous stage (Linux; `None` elsewhere).
    pub peak_mib: Option<f64>,
}

/// Peak resident set size of this process in MiB (`VmHWM`), where the system tells it.
pub fn peak_rss_mib() -> Option<f64> {
    let status = std::fs::read_to_string("/proc/self/status").ok()?;
    let line = status.lines().find(|l| l.starts_with("VmHWM:"))?;
    let kib: f64 = line.split_whitespace().nth(1)?.parse().ok()?;
    Some(kib / 1024.0)
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
        }
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
    #[test]
    fn thousands_groups_digits() {
        assert_eq!(super::thousands(0), "0");
        assert_eq!(super::thousands(999), "999");
        assert_eq!(super::thousands(541909), "541,909");
        assert_eq!(super::thousands(1234567), "1,234,567");
    }
}
