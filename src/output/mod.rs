//! The only place that writes files. A run's outputs are written into a staging folder beside
//! the target and renamed into place at the end, so a failed run leaves the previous outputs
//! untouched and never a half-written table.

pub mod charts;
pub mod parquet;
pub mod report;

use std::path::{Path, PathBuf};

use anyhow::{Context, Result};

/// A staging folder that becomes the output folder on `commit`, and disappears otherwise.
pub struct Staging {
    tmp: PathBuf,
    target: PathBuf,
    committed: bool,
}

impl Staging {
    /// Creates `.<name>.tmp-<pid>` beside `target` (same filesystem, so the rename is atomic).
    /// The staging folders of runs that were killed before they could clean up (their process
    /// is gone) are removed first: large tables are written there while the run goes on.
    pub fn begin(target: &Path) -> Result<Staging> {
        let parent = match target.parent() {
            Some(p) if !p.as_os_str().is_empty() => p.to_path_buf(),
            _ => PathBuf::from("."),
        };
        std::fs::create_dir_all(&parent)
            .with_context(|| format!("creating output folder {}", parent.display()))?;
        let name = target
            .file_name()
            .map(|n| n.to_string_lossy().into_owned())
            .unwrap_or_else(|| "out".into());
        remove_stale(&parent, &name);
        let tmp = parent.join(format!(".{name}.tmp-{}", std::process::id()));
        if tmp.exists() {
            std::fs::remove_dir_all(&tmp).ok();
        }
        std::fs::create_dir_all(&tmp)
            .with_context(|| format!("creating staging folder {}", tmp.display()))?;
        Ok(Staging {
            tmp,
            target: target.to_path_buf(),
            committed: false,
        })
    }

    /// Where a file of the run is written before the commit.
    pub fn path(&self, file: &str) -> PathBuf {
        self.tmp.join(file)
    }

    pub fn write_text(&self, file: &str, text: &str) -> Result<()> {
        let path = self.path(file);
        std::fs::write(&path, text).with_context(|| format!("writing {}", path.display()))
    }

    /// Replaces the target folder with the staged one.
    pub fn commit(mut self) -> Result<PathBuf> {
        let old = self.target.with_file_name(format!(
            ".{}.old-{}",
            self.target
                .file_name()
                .map(|n| n.to_string_lossy().into_owned())
                .unwrap_or_default(),
            std::process::id()
        ));
        if self.target.exists() {
            std::fs::rename(&self.target, &old).with_context(|| {
                format!(
                    "moving the previous outputs {} aside",
                    self.target.display()
                )
            })?;
        }
        if let Err(e) = std::fs::rename(&self.tmp, &self.target) {
            // Put the previous outputs back: nothing is lost.
            if old.exists() {
                std::fs::rename(&old, &self.target).ok();
            }
            return Err(e)
                .with_context(|| format!("moving outputs into {}", self.target.display()));
        }
        if old.exists() {
            std::fs::remove_dir_all(&old).ok();
        }
        self.committed = true;
        Ok(self.target.clone())
    }
}

/// Removes `.<name>.tmp-<pid>` folders in `parent` whose process no longer runs (on Linux,
/// where `/proc` tells; elsewhere nothing is removed). A `.<name>.old-<pid>` folder is left:
/// a run killed between the two renames of [`Staging::commit`] leaves the previous outputs
/// there.
fn remove_stale(parent: &Path, name: &str) {
    let proc = Path::new("/proc");
    if !proc.join("self").exists() {
        return;
    }
    let Ok(entries) = std::fs::read_dir(parent) else {
        return;
    };
    let prefix = format!(".{name}.tmp-");
    for entry in entries.flatten() {
        let file_name = entry.file_name().to_string_lossy().into_owned();
        let pid = file_name
            .strip_prefix(prefix.as_str())
            .and_then(|pid| pid.parse::<u32>().ok());
        if let Some(pid) = pid {
            if pid != std::process::id() && !proc.join(pid.to_string()).exists() {
                std::fs::remove_dir_all(entry.path()).ok();
            }
        }
    }
}

impl Drop for Staging {
    fn drop(&mut self) {
        if !self.committed {
            std::fs::remove_dir_all(&self.tmp).ok();
        }
    }
}

/// Writes frames one after another into one CSV or Parquet file (by extension), through a
/// temporary file renamed by `finish`; dropped unfinished, it leaves nothing behind. Used by
/// `tiering generate`, whose output can be far larger than memory.
pub struct DataFileWriter {
    path: PathBuf,
    tmp: PathBuf,
    rows: u64,
    inner: Option<Inner>,
}

enum Inner {
    Csv(polars::io::csv::write::BatchedWriter<std::fs::File>),
    Parquet(Box<polars::io::parquet::write::BatchedWriter<std::fs::File>>),
}

impl DataFileWriter {
    /// Prepares `path`; the file is created with the first frame.
    pub fn new(path: &Path) -> Result<DataFileWriter> {
        let ext = extension(path);
        if !matches!(ext.as_str(), "csv" | "parquet" | "pq") {
            anyhow::bail!(
                "cannot tell the format of {} from its extension; use .csv or .parquet",
                path.display()
            );
        }
        if let Some(parent) = path.parent().filter(|p| !p.as_os_str().is_empty()) {
            std::fs::create_dir_all(parent)
                .with_context(|| format!("creating folder {}", parent.display()))?;
        }
        Ok(DataFileWriter {
            path: path.to_path_buf(),
            tmp: path.with_extension(format!("{ext}.tmp-{}", std::process::id())),
            rows: 0,
            inner: None,
        })
    }

    pub fn write(&mut self, df: &polars::prelude::DataFrame) -> Result<()> {
        use polars::prelude::*;
        if self.inner.is_none() {
            let f = std::fs::File::create(&self.tmp)
                .with_context(|| format!("creating {}", self.tmp.display()))?;
            let schema = df.schema().as_ref().clone();
            self.inner = Some(match extension(&self.path).as_str() {
                "csv" => Inner::Csv(CsvWriter::new(f).include_header(true).batched(&schema)?),
                _ => Inner::Parquet(Box::new(
                    ParquetWriter::new(f)
                        .with_compression(ParquetCompression::Zstd(None))
                        .batched(&schema)?,
                )),
            });
        }
        match self.inner.as_mut().expect("created above") {
            Inner::Csv(w) => w.write_batch(df)?,
            Inner::Parquet(w) => w.write_batch(df)?,
        }
        self.rows += df.height() as u64;
        Ok(())
    }

    /// Closes the file and moves it into place; returns the rows written.
    pub fn finish(mut self) -> Result<u64> {
        match self.inner.take() {
            Some(Inner::Csv(mut w)) => w.finish()?,
            Some(Inner::Parquet(w)) => {
                w.finish()?;
            }
            None => anyhow::bail!("nothing was written to {}", self.path.display()),
        }
        std::fs::rename(&self.tmp, &self.path)
            .with_context(|| format!("moving {} into place", self.path.display()))?;
        Ok(self.rows)
    }
}

impl Drop for DataFileWriter {
    fn drop(&mut self) {
        if self.tmp.exists() {
            std::fs::remove_file(&self.tmp).ok();
        }
    }
}

fn extension(path: &Path) -> String {
    path.extension()
        .and_then(|e| e.to_str())
        .unwrap_or("")
        .to_ascii_lowercase()
}

#[cfg(test)]
mod tests {
    use super::Staging;

    /// A killed run's staging folder goes at the next run's start; a running one's, another
    /// output's and previous outputs moved aside stay; a run that fails leaves nothing.
    #[test]
    fn stale_staging_folders_are_removed() {
        let dir = tempfile::tempdir().unwrap();
        let target = dir.path().join("out");
        // No process has this number (Linux numbers stay below 2^22).
        let dead = dir.path().join(".out.tmp-4000000000");
        let old = dir.path().join(".out.old-4000000001");
        // Process 1 always runs.
        let alive = dir.path().join(".out.tmp-1");
        let other = dir.path().join(".other.tmp-4000000000");
        for d in [&dead, &old, &alive, &other] {
            std::fs::create_dir_all(d).unwrap();
            std::fs::write(d.join("customers.parquet"), b"partial").unwrap();
        }
        let staging = Staging::begin(&target).unwrap();
        let own = staging.path("");
        assert!(own.exists());
        if std::path::Path::new("/proc/self").exists() {
            assert!(!dead.exists());
        }
        assert!(alive.exists() && other.exists() && old.exists());
        drop(staging);
        assert!(!own.exists() && !target.exists());
    }
}
