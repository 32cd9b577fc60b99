//! Parquet tables with the run metadata in the file's key-value metadata.

use std::fs::File;

use anyhow::{Context, Result};
use polars::prelude::*;

use super::Staging;

/// Key under which the run metadata (JSON) is stored in every Parquet file.
pub const METADATA_KEY: &str = "tiering.run";

/// Writes `df` as `<file>` in the staging folder, zstd-compressed, with the run metadata.
pub fn write_table(
    staging: &Staging,
    file: &str,
    df: &mut DataFrame,
    run_json: &str,
) -> Result<()> {
    let path = staging.path(file);
    let f = File::create(&path).with_context(|| format!("creating {}", path.display()))?;
    ParquetWriter::new(f)
        .with_compression(ParquetCompression::Zstd(None))
        .with_statistics(StatisticsOptions::full())
        .with_key_value_metadata(Some(KeyValueMetadata::from_static(vec![(
            METADATA_KEY.to_string(),
            run_json.to_string(),
        )])))
        .finish(df)
        .map_err(anyhow::Error::from)
        .with_context(|| format!("writing {}", path.display()))?;
    Ok(())
}
