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

impl Drop for Staging {
    fn drop(&mut self) {
        if !self.committed {
            std::fs::remove_dir_all(&self.tmp).ok();
        }
    }
}

/// Writes a data frame to `path` as CSV or Parquet (by extension), through a temporary file
/// renamed at the end. Used by `tiering generate`.
pub fn write_data_file(df: &mut polars::prelude::DataFrame, path: &Path) -> Result<()> {
    use polars::prelude::*;
    let ext = path
        .extension()
        .and_then(|e| e.to_str())
        .unwrap_or("")
        .to_ascii_lowercase();
    if let Some(parent) = path.parent().filter(|p| !p.as_os_str().is_empty()) {
        std::fs::create_dir_all(parent)
            .with_context(|| format!("creating folder {}", parent.display()))?;
    }
    let tmp = path.with_extension(format!("{ext}.tmp-{}", std::process::id()));
    let result = (|| -> Result<()> {
        let mut f =
            std::fs::File::create(&tmp).with_context(|| format!("creating {}", tmp.display()))?;
        match ext.as_str() {
            "csv" => CsvWriter::new(&mut f).include_header(true).finish(df)?,
            "parquet" | "pq" => {
                ParquetWriter::new(&mut f)
                    .with_compression(ParquetCompression::Zstd(None))
                    .finish(df)?;
            }
            _ => anyhow::bail!(
                "cannot tell the format of {} from its extension; use .csv or .parquet",
                path.display()
            ),
        }
        Ok(())
    })();
    match result {
        Ok(()) => std::fs::rename(&tmp, path)
            .with_context(|| format!("moving {} into place", path.display())),
        Err(e) => {
            std::fs::remove_file(&tmp).ok();
            Err(e).with_context(|| format!("writing {}", path.display()))
        }
    }
}
