//! Stage lines on stderr: what ran, how many rows, how long. Silent with `--quiet`.

use std::time::Instant;

/// Reports stages of a run with elapsed seconds since the run started.
pub struct Progress {
    quiet: bool,
    verbose: bool,
    start: Instant,
}

impl Progress {
    pub fn new(quiet: bool, verbose: bool) -> Progress {
        Progress {
            quiet,
            verbose: verbose && !quiet,
            start: Instant::now(),
        }
    }

    /// A silent reporter, for library callers and tests.
    pub fn silent() -> Progress {
        Progress::new(true, false)
    }

    pub fn stage(&self, name: &str, message: &str) {
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
