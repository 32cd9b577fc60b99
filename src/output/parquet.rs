//! Parquet tables with the run metadata in the file's key-value metadata.

use std::fs::File;
use std::ops::Range;
use std::path::PathBuf;
use std::thread::JoinHandle;

use anyhow::{anyhow, Context, Result};
use polars::frame::chunk_df_for_writing;
use polars::io::parquet::write::BatchedWriter;
use polars::prelude::*;
use polars_parquet::write::{schema_to_metadata_key, KeyValue};
use polars_utils::compression::ZstdLevel;
use rayon::prelude::*;

use super::Staging;

/// Key under which the run metadata (JSON) is stored in every Parquet file.
pub const METADATA_KEY: &str = "tiering.run";

/// Writes `df` as `<file>` in the staging folder, zstd-compressed at level 1 (writes a third
/// faster than the default level 3, files about a tenth larger), with the run metadata.
/// See [`start_table`] for how.
pub fn write_table(
    staging: &Staging,
    file: &str,
    df: &mut DataFrame,
    run_json: &str,
) -> Result<()> {
    start_table(staging.path(file), df)?.finish(run_json)
}

/// [`write_table`] with the columns of each row group encoded in parallel on polars' thread
/// pool (the same bytes): for a table that is written while little else is.
pub fn write_table_parallel(
    staging: &Staging,
    file: &str,
    df: &mut DataFrame,
    run_json: &str,
) -> Result<()> {
    start_table_with(staging.path(file), df, true)?.finish(run_json)
}

/// A Parquet file whose row groups are written and whose footer, which carries the run
/// metadata, waits for [`OpenTable::finish`]: a large table is written as soon as it is
/// final, while the run goes on, and only the footer when the run knows what it did.
pub struct OpenTable {
    path: PathBuf,
    writer: BatchedWriter<File>,
}

/// Writes the row groups of `df` to `path` (see [`OpenTable`]). Statistics are min, max and
/// null counts (what readers prune row groups with); distinct counts would hash every value
/// of every column, the slowest part of writing. One thread encodes the file: callers write
/// files side by side, and polars' own parallel encoding then queues behind the other files'
/// work (at 10 M transactions writing took 0.9 to 1.3 s that way, 0.9 to 1.0 s this way);
/// [`write_table_parallel`] is for the one table written while little else is.
/// Columns are made one chunk each first, on the caller's thread: columns written in parallel
/// blocks (reasons, alert details) otherwise have their chunks aligned on polars' thread pool
/// behind the other files, and at 10 M the alerts table took 1.25 s to write instead of
/// 0.24 s. The bytes are those of polars' `ParquetWriter::finish` with the same options.
pub fn start_table(path: PathBuf, df: &mut DataFrame) -> Result<OpenTable> {
    start_table_with(path, df, false)
}

/// [`start_table`], with `parallel` encoding (see [`write_table_parallel`]).
fn start_table_with(path: PathBuf, df: &mut DataFrame, parallel: bool) -> Result<OpenTable> {
    df.rechunk_mut();
    let f = File::create(&path).with_context(|| format!("creating {}", path.display()))?;
    let written = (|| -> PolarsResult<BatchedWriter<File>> {
        // Row groups of polars' default size, as `ParquetWriter::finish` makes them.
        let groups = chunk_df_for_writing(df, ROW_GROUP_ROWS)?;
        let mut writer = batched_writer(f, groups.schema(), parallel)?;
        writer.write_batch(&groups)?;
        Ok(writer)
    })();
    let writer = written
        .map_err(anyhow::Error::from)
        .with_context(|| format!("writing {}", path.display()))?;
    Ok(OpenTable { path, writer })
}

fn batched_writer(f: File, schema: &Schema, parallel: bool) -> PolarsResult<BatchedWriter<File>> {
    ParquetWriter::new(f)
        .set_parallel(parallel)
        .with_compression(ParquetCompression::Zstd(Some(ZstdLevel::try_new(1)?)))
        .with_statistics(StatisticsOptions::default())
        .batched(schema)
}

/// [`start_table`] for a table of `height` rows that `make` builds a row group at a time,
/// given the group's rows: the same file, without the whole table in memory at once.
pub fn start_table_in_groups(
    path: PathBuf,
    height: usize,
    make: impl Fn(Range<usize>) -> Result<DataFrame>,
) -> Result<OpenTable> {
    let groups = row_groups(height);
    if groups.len() == 1 {
        return start_table(path, &mut make(0..height)?);
    }
    let f = File::create(&path).with_context(|| format!("creating {}", path.display()))?;
    // Each group one chunk per column, so that it is one row group.
    let group = |rows| -> Result<DataFrame> {
        let mut df = make(rows)?;
        df.rechunk_mut();
        Ok(df)
    };
    let mut groups = groups.into_iter();
    let first = group(groups.next().expect("two or more row groups"))?;
    let in_path =
        |e: PolarsError| anyhow::Error::from(e).context(format!("writing {}", path.display()));
    let mut writer = batched_writer(f, first.schema(), false).map_err(in_path)?;
    writer.write_batch(&first).map_err(in_path)?;
    drop(first);
    for rows in groups {
        writer.write_batch(&group(rows)?).map_err(in_path)?;
    }
    Ok(OpenTable { path, writer })
}

/// The rows of each row group of a one-chunk table of `height` rows, as polars' writer splits
/// it (`chunk_df_for_writing`): as many groups as [`ROW_GROUP_ROWS`] fits whole, of equal size,
/// the last one taking the rest.
fn row_groups(height: usize) -> Vec<Range<usize>> {
    let groups = height / ROW_GROUP_ROWS;
    if groups <= 1 {
        return std::iter::once(0..height).collect();
    }
    let size = height / groups;
    (0..groups)
        .map(|g| {
            g * size..if g + 1 == groups {
                height
            } else {
                (g + 1) * size
            }
        })
        .collect()
}

/// polars' default Parquet row group: 512 x 512 rows.
const ROW_GROUP_ROWS: usize = 512 * 512;

impl OpenTable {
    /// Writes the footer with the run metadata under [`METADATA_KEY`], after the Arrow schema
    /// as polars puts it, and closes the file.
    pub fn finish(self, run_json: &str) -> Result<()> {
        let path = &self.path;
        let mut writer = self
            .writer
            .get_writer()
            .lock()
            .map_err(|_| anyhow!("writing {}: a writer thread failed", path.display()))?;
        let metadata = vec![
            schema_to_metadata_key(writer.schema()),
            KeyValue {
                key: METADATA_KEY.to_string(),
                value: Some(run_json.to_string()),
            },
        ];
        writer
            .end(Some(metadata))
            .map_err(anyhow::Error::from)
            .with_context(|| format!("writing {}", path.display()))?;
        Ok(())
    }
}

/// A table written by [`start_table`] on a thread of its own while the run goes on.
/// Dropped unfinished (the run failed), it waits for the thread, so that nothing writes into
/// the staging folder once it is removed: its owner ([`super::writer::Outputs`]) drops it
/// before the staging folder.
pub struct Pending {
    file: String,
    thread: Option<JoinHandle<Result<OpenTable>>>,
}

impl Pending {
    /// Starts writing `df` to `file` in the staging folder. The frame's columns are shared
    /// with the caller's; a column in several chunks is copied into one by the writer (see
    /// [`start_table`]), so callers make large ones one chunk first.
    pub fn start(staging: &Staging, file: &str, mut df: DataFrame) -> Result<Pending> {
        Self::spawn(staging, file, move |path| start_table(path, &mut df))
    }

    /// Starts writing a table that `make` builds a row group at a time (see
    /// [`start_table_in_groups`]).
    pub fn start_in_groups(
        staging: &Staging,
        file: &str,
        height: usize,
        make: impl Fn(Range<usize>) -> Result<DataFrame> + Send + 'static,
    ) -> Result<Pending> {
        Self::spawn(staging, file, move |path| {
            start_table_in_groups(path, height, make)
        })
    }

    fn spawn(
        staging: &Staging,
        file: &str,
        write: impl FnOnce(PathBuf) -> Result<OpenTable> + Send + 'static,
    ) -> Result<Pending> {
        let path = staging.path(file);
        let thread = std::thread::Builder::new()
            .name(format!("write {file}"))
            .spawn(move || write(path))
            .with_context(|| format!("starting the writer of {file}"))?;
        Ok(Pending {
            file: file.to_string(),
            thread: Some(thread),
        })
    }

    /// The file being written, in the staging folder.
    pub fn file(&self) -> &str {
        &self.file
    }

    /// The table with its row groups written. An error of the writer (a full disk, say)
    /// surfaces here, at the end of the run.
    pub fn wait(mut self) -> Result<OpenTable> {
        let handle = self
            .thread
            .take()
            .expect("a pending table is waited for once");
        handle
            .join()
            .map_err(|_| anyhow!("the writer of {} panicked", self.file))?
    }
}

impl Drop for Pending {
    fn drop(&mut self) {
        if let Some(handle) = self.thread.take() {
            handle.join().ok();
        }
    }
}

/// Writes `df` as a Hive-partitioned folder `<dir>/<column>=<value>/part-0.parquet`, one
/// partition per value in `values` order (empty partitions are skipped); the partition column
/// lives in the folder names, as BI tools expect. Partitions are written side by side.
/// Returns the files written.
pub fn write_partitioned(
    staging: &Staging,
    dir: &str,
    df: &DataFrame,
    column: &str,
    values: &[String],
    run_json: &str,
) -> Result<Vec<String>> {
    let files: Vec<Option<String>> = values
        .par_iter()
        .with_max_len(1)
        .map(|v| {
            let mut part = df
                .clone()
                .lazy()
                .filter(col(column).eq(lit(v.as_str())))
                .drop(cols([column]))
                .collect()?;
            if part.height() == 0 {
                return Ok(None);
            }
            let folder = format!("{dir}/{column}={}", hive_escape(v));
            std::fs::create_dir_all(staging.path(&folder))
                .with_context(|| format!("creating {folder}"))?;
            let file = format!("{folder}/part-0.parquet");
            write_table(staging, &file, &mut part, run_json)?;
            Ok(Some(file))
        })
        .collect::<Result<_>>()?;
    Ok(files.into_iter().flatten().collect())
}

/// Percent-encodes the characters that would break a `key=value` folder name.
fn hive_escape(v: &str) -> String {
    v.chars()
        .map(|ch| match ch {
            '/' | '\\' | '=' | '%' | ':' | '#' | '?' | '*' | '"' | '<' | '>' | '|' => {
                format!("%{:02X}", ch as u32)
            }
            c => c.to_string(),
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use polars::prelude::*;
    use polars_utils::compression::ZstdLevel;

    /// A table written in two steps is byte for byte the file polars writes in one, with the
    /// run metadata as static key-value metadata: the footer written by hand is polars' own.
    #[test]
    fn open_tables_are_polars_files() {
        let dir = tempfile::tempdir().unwrap();
        // Over one row group, text in two chunks, and missing values.
        let n = 300_000;
        let mut text =
            StringChunked::from_iter_values("t".into(), (0..n / 2).map(|i| format!("c{i}")));
        text.append(&StringChunked::from_iter_options(
            "t".into(),
            (n / 2..n).map(|i| (i % 7 != 0).then(|| format!("d{i}"))),
        ))
        .unwrap();
        let df = DataFrame::new(
            n,
            vec![
                Column::new(
                    "x".into(),
                    (0..n).map(|i| i as f64 / 3.0).collect::<Vec<_>>(),
                ),
                text.into_column(),
            ],
        )
        .unwrap();
        let json = "{\"run\": 1}";

        let ours = dir.path().join("ours.parquet");
        super::start_table(ours.clone(), &mut df.clone())
            .unwrap()
            .finish(json)
            .unwrap();
        let theirs = dir.path().join("theirs.parquet");
        ParquetWriter::new(std::fs::File::create(&theirs).unwrap())
            .set_parallel(false)
            .with_compression(ParquetCompression::Zstd(Some(
                ZstdLevel::try_new(1).unwrap(),
            )))
            .with_statistics(StatisticsOptions::default())
            .with_key_value_metadata(Some(KeyValueMetadata::from_static(vec![(
                super::METADATA_KEY.to_string(),
                json.to_string(),
            )])))
            .finish(&mut df.clone())
            .unwrap();
        let (ours, theirs) = (std::fs::read(ours).unwrap(), std::fs::read(theirs).unwrap());
        assert!(ours.len() > 100_000);
        assert!(
            ours == theirs,
            "{} bytes against {}",
            ours.len(),
            theirs.len()
        );
    }

    /// A table written a row group at a time is the file written whole.
    #[test]
    fn tables_written_in_groups_are_the_tables_written_whole() {
        let dir = tempfile::tempdir().unwrap();
        let n = 800_000;
        let df = DataFrame::new(
            n,
            vec![
                Column::new(
                    "x".into(),
                    (0..n).map(|i| i as f64 / 7.0).collect::<Vec<_>>(),
                ),
                Column::new(
                    "t".into(),
                    (0..n)
                        .map(|i| (i % 5 != 0).then(|| format!("row {i}")))
                        .collect::<Vec<_>>(),
                ),
            ],
        )
        .unwrap();
        let whole = dir.path().join("whole.parquet");
        super::start_table(whole.clone(), &mut df.clone())
            .unwrap()
            .finish("{}")
            .unwrap();
        let grouped = dir.path().join("grouped.parquet");
        let asked = std::sync::Mutex::new(Vec::new());
        super::start_table_in_groups(grouped.clone(), n, |r| {
            asked.lock().unwrap().push(r.clone());
            Ok(df.slice(r.start as i64, r.len()))
        })
        .unwrap()
        .finish("{}")
        .unwrap();
        assert_eq!(
            asked.into_inner().unwrap(),
            [0..266_666, 266_666..533_332, 533_332..800_000]
        );
        let (a, b) = (
            std::fs::read(whole).unwrap(),
            std::fs::read(grouped).unwrap(),
        );
        assert!(a == b, "{} bytes against {}", a.len(), b.len());
    }

    #[test]
    #[allow(clippy::single_range_in_vec_init)]
    fn row_groups_split_as_polars_does() {
        use super::row_groups;
        assert_eq!(row_groups(0), [0..0]);
        assert_eq!(row_groups(524_287), [0..524_287]);
        assert_eq!(row_groups(524_288), [0..262_144, 262_144..524_288]);
        assert_eq!(
            row_groups(786_433),
            [0..262_144, 262_144..524_288, 524_288..786_433]
        );
    }

    #[test]
    fn hive_values_are_escaped() {
        assert_eq!(super::hive_escape("A"), "A");
        assert_eq!(super::hive_escape("核心"), "核心");
        assert_eq!(super::hive_escape("a/b=c"), "a%2Fb%3Dc");
    }
}
