//! Test helpers: run the built binary, read Parquet back with the independent `parquet` and
//! `arrow` crates (not polars), so what a BI tool sees is what is tested.

#![allow(dead_code)] // each test target uses a different subset

use std::collections::HashMap;
use std::fs::File;
use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use arrow_array::cast::AsArray;
use arrow_array::types::{Date32Type, Float64Type, Int64Type};
use arrow_array::{Array, RecordBatch};
use parquet::arrow::arrow_reader::ParquetRecordBatchReaderBuilder;
use parquet::file::reader::{FileReader, SerializedFileReader};

pub fn root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

pub fn fixture(case: &str) -> PathBuf {
    root().join("tests/fixtures").join(case)
}

/// Runs `tiering` with `args` in the repository root.
pub fn tiering(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_tiering"))
        .args(args)
        .current_dir(root())
        .output()
        .expect("the tiering binary runs")
}

/// Runs a pipeline into `out` and panics with stderr when it fails.
pub fn run_ok(pipeline: &Path, out: &Path, extra: &[&str]) -> Output {
    let mut args = vec![
        "run",
        pipeline.to_str().unwrap(),
        "--out",
        out.to_str().unwrap(),
        "--quiet",
    ];
    args.extend_from_slice(extra);
    let o = tiering(&args);
    assert!(
        o.status.success(),
        "tiering failed: {}",
        String::from_utf8_lossy(&o.stderr)
    );
    o
}

/// Runs a pipeline that must fail; returns its stderr.
pub fn run_err(pipeline: &Path, out: &Path) -> String {
    run_err_with(pipeline, out, &[])
}

/// [`run_err`] with more arguments.
pub fn run_err_with(pipeline: &Path, out: &Path, extra: &[&str]) -> String {
    let mut args = vec![
        "run",
        pipeline.to_str().unwrap(),
        "--out",
        out.to_str().unwrap(),
        "--quiet",
    ];
    args.extend_from_slice(extra);
    let o = tiering(&args);
    assert!(!o.status.success(), "expected a failure");
    assert_eq!(o.status.code(), Some(1));
    String::from_utf8_lossy(&o.stderr).into_owned()
}

/// A Parquet table read with the arrow reader, one batch concatenated.
pub struct Table {
    pub batch: RecordBatch,
    pub kv: HashMap<String, String>,
}

pub fn read_parquet(path: &Path) -> Table {
    let file = File::open(path).unwrap_or_else(|e| panic!("open {}: {e}", path.display()));
    let reader = ParquetRecordBatchReaderBuilder::try_new(file)
        .unwrap()
        .build()
        .unwrap();
    // From the reader, not the first batch: a table without rows has none.
    let schema = arrow_array::RecordBatchReader::schema(&reader);
    let batches: Vec<RecordBatch> = reader.map(|b| b.unwrap()).collect();
    let batch = arrow_select_concat(&schema, &batches);
    let meta = SerializedFileReader::new(File::open(path).unwrap()).unwrap();
    let kv = meta
        .metadata()
        .file_metadata()
        .key_value_metadata()
        .map(|v| {
            v.iter()
                .map(|kv| (kv.key.clone(), kv.value.clone().unwrap_or_default()))
                .collect()
        })
        .unwrap_or_default();
    Table { batch, kv }
}

fn arrow_select_concat(schema: &arrow_schema::SchemaRef, batches: &[RecordBatch]) -> RecordBatch {
    match batches.len() {
        0 => return RecordBatch::new_empty(schema.clone()),
        1 => return batches[0].clone(),
        _ => {}
    }
    let cols = (0..schema.fields().len())
        .map(|i| {
            let arrays: Vec<&dyn Array> = batches.iter().map(|b| b.column(i).as_ref()).collect();
            arrow_select::concat::concat(&arrays).unwrap()
        })
        .collect();
    RecordBatch::try_new(schema.clone(), cols).unwrap()
}

impl Table {
    pub fn rows(&self) -> usize {
        self.batch.num_rows()
    }

    pub fn names(&self) -> Vec<String> {
        self.batch
            .schema()
            .fields()
            .iter()
            .map(|f| f.name().clone())
            .collect()
    }

    fn col(&self, name: &str) -> &dyn Array {
        self.batch
            .column_by_name(name)
            .unwrap_or_else(|| panic!("no column {name}; columns: {:?}", self.names()))
            .as_ref()
    }

    pub fn strs(&self, name: &str) -> Vec<Option<String>> {
        let a = self.col(name);
        match a.data_type() {
            arrow_schema::DataType::Utf8View => a
                .as_string_view()
                .iter()
                .map(|v| v.map(str::to_string))
                .collect(),
            arrow_schema::DataType::LargeUtf8 => a
                .as_string::<i64>()
                .iter()
                .map(|v| v.map(str::to_string))
                .collect(),
            _ => a
                .as_string::<i32>()
                .iter()
                .map(|v| v.map(str::to_string))
                .collect(),
        }
    }

    pub fn f64s(&self, name: &str) -> Vec<Option<f64>> {
        self.col(name)
            .as_primitive::<Float64Type>()
            .iter()
            .collect()
    }

    pub fn i32s(&self, name: &str) -> Vec<Option<i32>> {
        self.col(name)
            .as_primitive::<arrow_array::types::Int32Type>()
            .iter()
            .collect()
    }

    pub fn bools(&self, name: &str) -> Vec<Option<bool>> {
        self.col(name).as_boolean().iter().collect()
    }

    pub fn i64s(&self, name: &str) -> Vec<Option<i64>> {
        self.col(name).as_primitive::<Int64Type>().iter().collect()
    }

    /// Dates as `YYYY-MM-DD`.
    pub fn dates(&self, name: &str) -> Vec<Option<String>> {
        self.col(name)
            .as_primitive::<Date32Type>()
            .iter()
            .map(|d| {
                d.map(|d| {
                    (chrono::NaiveDate::from_ymd_opt(1970, 1, 1).unwrap()
                        + chrono::Duration::days(d as i64))
                    .to_string()
                })
            })
            .collect()
    }

    /// The row index of a customer.
    pub fn row_of(&self, customer: &str) -> usize {
        self.strs("customer_id")
            .iter()
            .position(|c| c.as_deref() == Some(customer))
            .unwrap_or_else(|| panic!("no customer {customer}"))
    }
}

/// Asserts two floats are equal to 1e-9 relative.
#[track_caller]
pub fn close(actual: Option<f64>, expected: Option<f64>, what: &str) {
    match (actual, expected) {
        (Some(a), Some(e)) => assert!(
            (a - e).abs() <= 1e-9 * e.abs().max(1.0),
            "{what}: got {a}, expected {e}"
        ),
        (a, e) => assert_eq!(a, e, "{what}"),
    }
}

/// The names of the entries of a folder, sorted.
pub fn names_in(dir: &Path) -> Vec<String> {
    let mut names: Vec<String> = std::fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    names.sort();
    names
}
