//! The output folder: which folder a run may replace, and the staging folder that replaces it.
//!
//! A run replaces its output folder as a whole, so it must never be pointed at a folder of
//! someone else's files. It only ever replaces a folder it wrote itself: one whose `run.json`
//! says `"tool": "tiering"` and whose every file is one that run listed in its `outputs`
//! (or an empty folder). Anything else is an error that names the folder and what is in it.
//! Nothing here deletes a file the tool did not write.

use std::path::{Component, Path, PathBuf};

use anyhow::{Context, Result};

use crate::error::OutputError;

/// The file that marks a folder as a run's output (and lists what the run wrote).
pub const MARKER_FILE: &str = "run.json";

/// A checked output folder: where it is, and what the check found worth telling.
#[derive(Debug, Clone)]
pub struct OutputTarget {
    /// Absolute, with `.` and `..` resolved (and symbolic links, where it exists).
    pub path: PathBuf,
    /// Things the user should know, e.g. previous outputs restored after an interrupted run.
    pub notes: Vec<String>,
}

impl OutputTarget {
    /// Checks that `given` (from `source`, e.g. "--out") can take a run's outputs: it is
    /// missing, empty, or a previous output of the tool with nothing else in it; it is not a
    /// file and not the working folder or one of its parents. Previous outputs left aside by
    /// a run interrupted while replacing them are put back first (see [`recover_aside`]).
    pub fn check(given: &Path, source: &str) -> Result<OutputTarget> {
        let path = absolute(given)?;
        let shown = given.display().to_string();
        let cwd = std::env::current_dir().context("reading the current folder")?;
        let cwd = std::fs::canonicalize(&cwd).unwrap_or(cwd);
        if cwd.starts_with(&path) || path.parent().is_none() {
            return Err(OutputError::HoldsWorkingFolder {
                folder: shown,
                given_by: source.to_string(),
                name: path
                    .file_name()
                    .map(|n| n.to_string_lossy().into_owned())
                    .unwrap_or_else(|| "out".into()),
            }
            .into());
        }
        let notes = recover_aside(&path)?;
        check_replaceable(&path, &shown, source)?;
        Ok(OutputTarget { path, notes })
    }
}

/// `path` made absolute: canonical where it exists, else its longest existing ancestor made
/// canonical and the rest appended with `.` and `..` resolved as text.
fn absolute(path: &Path) -> Result<PathBuf> {
    let cwd = std::env::current_dir().context("reading the current folder")?;
    let joined = cwd.join(path);
    let mut existing = joined.as_path();
    let mut rest: Vec<Component> = Vec::new();
    loop {
        if let Ok(canonical) = std::fs::canonicalize(existing) {
            let mut out = canonical;
            for c in rest.iter().rev() {
                match c {
                    Component::ParentDir => {
                        out.pop();
                    }
                    Component::CurDir => {}
                    other => out.push(other.as_os_str()),
                }
            }
            return Ok(out);
        }
        match (existing.parent(), existing.components().next_back()) {
            (Some(parent), Some(last)) => {
                rest.push(last);
                existing = parent;
            }
            _ => return Ok(joined),
        }
    }
}

/// Errors unless `dir` is missing, an empty folder, or a folder of a previous run's outputs
/// and nothing else.
fn check_replaceable(dir: &Path, shown: &str, source: &str) -> Result<()> {
    let meta = match std::fs::symlink_metadata(dir) {
        Ok(m) => m,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(()),
        Err(e) => return Err(e).with_context(|| format!("looking at {}", dir.display())),
    };
    if !meta.is_dir() {
        return Err(OutputError::IsFile {
            path: shown.to_string(),
            given_by: source.to_string(),
        }
        .into());
    }
    let foreign = foreign_entries(dir)?;
    if foreign.is_empty() {
        return Ok(());
    }
    let marked = written_outputs(dir).is_some();
    let found = listing(&foreign);
    Err(if marked {
        OutputError::ExtraFiles {
            folder: shown.to_string(),
            given_by: source.to_string(),
            files: found,
        }
    } else {
        OutputError::NotOurs {
            folder: shown.to_string(),
            given_by: source.to_string(),
            found,
        }
    }
    .into())
}

/// The first few entries, quoted, and how many more.
fn listing(entries: &[String]) -> String {
    const SHOWN: usize = 5;
    let mut s = entries
        .iter()
        .take(SHOWN)
        .map(|e| format!("{e:?}"))
        .collect::<Vec<_>>()
        .join(", ");
    if entries.len() > SHOWN {
        s.push_str(&format!(" and {} more", entries.len() - SHOWN));
    }
    s
}

/// The `outputs` a previous run listed in `dir/run.json`, when that file is the tool's.
fn written_outputs(dir: &Path) -> Option<Vec<String>> {
    let text = std::fs::read_to_string(dir.join(MARKER_FILE)).ok()?;
    let json: serde_json::Value = serde_json::from_str(&text).ok()?;
    if json.get("tool")?.as_str()? != "tiering" {
        return None;
    }
    let outputs = json.get("outputs")?.as_array()?;
    let mut list: Vec<String> = outputs
        .iter()
        .map(|o| o.as_str().map(str::to_string))
        .collect::<Option<_>>()?;
    list.push(MARKER_FILE.to_string());
    Some(list)
}

/// The files and folders in `dir` (relative, `/`-separated) that no previous run of the tool
/// wrote there: everything when `dir` has no `run.json` of the tool's.
fn foreign_entries(dir: &Path) -> Result<Vec<String>> {
    let mut all = Vec::new();
    list_files(dir, "", &mut all)?;
    let Some(outputs) = written_outputs(dir) else {
        // Every top-level entry is foreign.
        let mut top: Vec<String> = all
            .into_iter()
            .map(|(p, _)| p.split('/').next().unwrap_or_default().to_string())
            .collect();
        top.dedup();
        return Ok(top);
    };
    Ok(all
        .into_iter()
        .filter(|(path, is_dir)| {
            !outputs.iter().any(|o| {
                if *is_dir {
                    // An (empty) folder on the way to an output.
                    is_prefix_of(path, o)
                } else {
                    matches_output(path, o)
                }
            })
        })
        .map(|(p, _)| p)
        .collect())
}

/// Every file below `dir`, and every empty folder, as (relative path, is a folder), sorted.
fn list_files(dir: &Path, prefix: &str, out: &mut Vec<(String, bool)>) -> Result<()> {
    let mut entries: Vec<_> = std::fs::read_dir(dir)
        .with_context(|| format!("listing {}", dir.display()))?
        .collect::<std::io::Result<_>>()
        .with_context(|| format!("listing {}", dir.display()))?;
    entries.sort_by_key(|e| e.file_name());
    for entry in entries {
        let name = entry.file_name().to_string_lossy().into_owned();
        let rel = if prefix.is_empty() {
            name
        } else {
            format!("{prefix}/{name}")
        };
        let file_type = entry
            .file_type()
            .with_context(|| format!("looking at {}", entry.path().display()))?;
        if file_type.is_dir() {
            let before = out.len();
            list_files(&entry.path(), &rel, out)?;
            if out.len() == before {
                out.push((rel, true));
            }
        } else {
            out.push((rel, false));
        }
    }
    Ok(())
}

/// Whether `path` matches the output `pattern`, where a component `<name>` or `tier=<name>`
/// stands for any text in its place.
fn matches_output(path: &str, pattern: &str) -> bool {
    let (p, q): (Vec<&str>, Vec<&str>) = (path.split('/').collect(), pattern.split('/').collect());
    p.len() == q.len() && p.iter().zip(&q).all(|(a, b)| component_matches(a, b))
}

fn is_prefix_of(folder: &str, pattern: &str) -> bool {
    let p: Vec<&str> = folder.split('/').collect();
    let q: Vec<&str> = pattern.split('/').collect();
    p.len() < q.len() && p.iter().zip(&q).all(|(a, b)| component_matches(a, b))
}

fn component_matches(actual: &str, pattern: &str) -> bool {
    match pattern.find("<name>") {
        Some(at) => {
            let (head, tail) = (&pattern[..at], &pattern[at + "<name>".len()..]);
            actual.len() > head.len() + tail.len()
                && actual.starts_with(head)
                && actual.ends_with(tail)
        }
        None => actual == pattern,
    }
}

/// Whether process `pid` runs (on Linux, where `/proc` tells; elsewhere assumed running, so
/// nothing of another run is touched).
fn process_runs(pid: u32) -> bool {
    let proc = Path::new("/proc");
    if !proc.join("self").exists() {
        return true;
    }
    pid == std::process::id() || proc.join(pid.to_string()).exists()
}

/// The folders `.<name>.<kind>-<pid>` beside `target`, with their process numbers.
fn beside(target: &Path, kind: &str) -> Vec<(PathBuf, u32)> {
    let (Some(parent), Some(name)) = (target.parent(), target.file_name()) else {
        return Vec::new();
    };
    let prefix = format!(".{}.{kind}-", name.to_string_lossy());
    let Ok(entries) = std::fs::read_dir(parent) else {
        return Vec::new();
    };
    let mut found: Vec<(PathBuf, u32)> = entries
        .flatten()
        .filter_map(|e| {
            let file_name = e.file_name().to_string_lossy().into_owned();
            let pid = file_name.strip_prefix(prefix.as_str())?.parse().ok()?;
            Some((e.path(), pid))
        })
        .collect();
    found.sort();
    found
}

/// Previous outputs that a run killed while replacing them left in `.<name>.old-<pid>`
/// beside `target` (see [`Staging::commit`]): moved back when `target` is missing, removed
/// when `target` holds newer outputs (they are the tool's own, superseded). Folders of runs
/// still going, and folders that are not the tool's outputs, are left and reported.
fn recover_aside(target: &Path) -> Result<Vec<String>> {
    let mut notes = Vec::new();
    for (old, pid) in beside(target, "old") {
        if process_runs(pid) {
            continue;
        }
        let ours = written_outputs(&old).is_some() && foreign_entries(&old)?.is_empty();
        let name = old.display();
        if !ours {
            notes.push(format!(
                "{name} was left by an interrupted run but holds files tiering did not write; it is left as it is"
            ));
        } else if !target.exists() {
            std::fs::rename(&old, target).with_context(|| {
                format!(
                    "putting back the previous outputs {name} (a run was interrupted while replacing them)"
                )
            })?;
            notes.push(format!(
                "previous outputs put back from {name}, where an interrupted run had left them"
            ));
        } else if written_outputs(target).is_some() {
            std::fs::remove_dir_all(&old).with_context(|| format!("removing {name}"))?;
            notes.push(format!(
                "removed {name}: outputs of an earlier run, left by an interrupted run and superseded by {}",
                target.display()
            ));
        } else {
            notes.push(format!(
                "{name} holds previous outputs left by an interrupted run; it is left as it is"
            ));
        }
    }
    Ok(notes)
}

/// A staging folder that becomes the output folder on `commit`, and disappears otherwise.
pub struct Staging {
    tmp: PathBuf,
    target: PathBuf,
    committed: bool,
}

impl Staging {
    /// Creates `.<name>.tmp-<pid>` beside the checked target (same filesystem, so the rename
    /// is atomic). The staging folders of runs that were killed before they could clean up
    /// (their process is gone) are removed first: large tables are written there while the
    /// run goes on.
    pub fn begin(target: &OutputTarget) -> Result<Staging> {
        let target = target.path.clone();
        let (Some(parent), Some(name)) = (target.parent(), target.file_name()) else {
            anyhow::bail!("{} cannot be an output folder", target.display());
        };
        std::fs::create_dir_all(parent)
            .with_context(|| format!("creating output folder {}", parent.display()))?;
        for (stale, pid) in beside(&target, "tmp") {
            if !process_runs(pid) {
                std::fs::remove_dir_all(&stale).ok();
            }
        }
        let tmp = parent.join(format!(
            ".{}.tmp-{}",
            name.to_string_lossy(),
            std::process::id()
        ));
        if tmp.exists() {
            std::fs::remove_dir_all(&tmp).ok();
        }
        std::fs::create_dir_all(&tmp)
            .with_context(|| format!("creating staging folder {}", tmp.display()))?;
        Ok(Staging {
            tmp,
            target,
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

    /// Replaces the target folder with the staged one. The target is checked again first: a
    /// file put there while the run went on stops the commit, and the previous outputs stay.
    pub fn commit(mut self) -> Result<PathBuf> {
        let shown = self.target.display().to_string();
        check_replaceable(&self.target, &shown, "the output folder")?;
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
            // The previous outputs, checked above to hold only what the tool wrote.
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

#[cfg(test)]
mod tests {
    use super::*;

    fn write(path: &Path, text: &str) {
        if let Some(p) = path.parent() {
            std::fs::create_dir_all(p).unwrap();
        }
        std::fs::write(path, text).unwrap();
    }

    /// A folder as a run leaves it: run.json listing its outputs, and those files.
    fn previous_outputs(dir: &Path) {
        write(
            &dir.join("run.json"),
            r#"{"tool": "tiering", "outputs": ["customers.parquet", "tiers/tier=<name>/part-0.parquet", "charts/pareto.png", "report.html", "run.json"]}"#,
        );
        write(&dir.join("customers.parquet"), "x");
        write(&dir.join("tiers/tier=A/part-0.parquet"), "x");
        write(&dir.join("charts/pareto.png"), "x");
    }

    #[test]
    fn outputs_match_their_patterns() {
        assert!(matches_output(
            "tiers/tier=A/part-0.parquet",
            "tiers/tier=<name>/part-0.parquet"
        ));
        assert!(!matches_output(
            "tiers/tier=/part-0.parquet",
            "tiers/tier=<name>/part-0.parquet"
        ));
        assert!(!matches_output(
            "tiers/x/part-0.parquet",
            "tiers/tier=<name>/part-0.parquet"
        ));
        assert!(matches_output("report.html", "report.html"));
        assert!(!matches_output("report.html.bak", "report.html"));
        assert!(is_prefix_of(
            "tiers/tier=B",
            "tiers/tier=<name>/part-0.parquet"
        ));
        assert!(!is_prefix_of("docs", "tiers/tier=<name>/part-0.parquet"));
    }

    #[test]
    fn only_missing_empty_or_own_folders_are_replaceable() {
        let dir = tempfile::tempdir().unwrap();
        let d = dir.path();
        assert!(check_replaceable(&d.join("new"), "new", "--out").is_ok());
        std::fs::create_dir(d.join("empty")).unwrap();
        assert!(check_replaceable(&d.join("empty"), "empty", "--out").is_ok());
        previous_outputs(&d.join("ours"));
        assert!(check_replaceable(&d.join("ours"), "ours", "--out").is_ok());

        write(&d.join("docs/letter.txt"), "keep me");
        let e = check_replaceable(&d.join("docs"), "docs", "--out")
            .unwrap_err()
            .to_string();
        assert!(
            e.contains("\"letter.txt\"") && e.contains("did not write"),
            "{e}"
        );

        // A user's file among previous outputs, also deep in a subfolder.
        previous_outputs(&d.join("mixed"));
        write(&d.join("mixed/charts/notes.txt"), "mine");
        let e = check_replaceable(&d.join("mixed"), "mixed", "--out")
            .unwrap_err()
            .to_string();
        assert!(e.contains("\"charts/notes.txt\""), "{e}");

        // run.json of another tool does not count.
        write(
            &d.join("other/run.json"),
            r#"{"tool": "other", "outputs": []}"#,
        );
        assert!(check_replaceable(&d.join("other"), "other", "--out").is_err());

        write(&d.join("file"), "a file");
        let e = check_replaceable(&d.join("file"), "file", "--out")
            .unwrap_err()
            .to_string();
        assert!(e.contains("is a file"), "{e}");
        assert_eq!(std::fs::read_to_string(d.join("file")).unwrap(), "a file");
    }

    #[test]
    fn paths_are_made_absolute_without_touching_the_disk() {
        let dir = tempfile::tempdir().unwrap();
        let d = std::fs::canonicalize(dir.path()).unwrap();
        assert_eq!(absolute(&d.join("a/b/../c/./d")).unwrap(), d.join("a/c/d"));
        assert!(!d.join("a").exists());
    }

    /// An interrupted commit's previous outputs are put back when the target is missing,
    /// removed when newer outputs replaced them, and left (reported) otherwise.
    #[test]
    fn outputs_left_aside_are_recovered() {
        let dir = tempfile::tempdir().unwrap();
        let d = dir.path();
        // No process has this number (Linux numbers stay below 2^22).
        let old = d.join(".out.old-4000000000");
        previous_outputs(&old);
        let target = d.join("out");
        let notes = recover_aside(&target).unwrap();
        if !Path::new("/proc/self").exists() {
            return;
        }
        assert!(target.join("customers.parquet").exists() && !old.exists());
        assert!(notes[0].contains("put back"), "{notes:?}");

        previous_outputs(&old);
        let notes = recover_aside(&target).unwrap();
        assert!(!old.exists() && target.exists());
        assert!(notes[0].contains("superseded"), "{notes:?}");

        write(&old.join("mine.txt"), "x");
        let notes = recover_aside(&target).unwrap();
        assert!(old.join("mine.txt").exists());
        assert!(notes[0].contains("did not write"), "{notes:?}");
    }

    /// A killed run's staging folder goes at the next run's start; a running one's, another
    /// output's and previous outputs moved aside stay; a run that fails leaves nothing.
    #[test]
    fn stale_staging_folders_are_removed() {
        let dir = tempfile::tempdir().unwrap();
        let target = OutputTarget {
            path: dir.path().join("out"),
            notes: Vec::new(),
        };
        let dead = dir.path().join(".out.tmp-4000000000");
        let old = dir.path().join(".out.old-1");
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
        if Path::new("/proc/self").exists() {
            assert!(!dead.exists());
        }
        assert!(alive.exists() && other.exists() && old.exists());
        drop(staging);
        assert!(!own.exists() && !target.path.exists());
    }
}
