//! Bad input and faults, as a hostile but realistic user meets them. Every failing case runs in
//! a folder that already holds a previous run's outputs, and asserts the exit status (1, never
//! a panic, never a hang), the key words of the message, and that nothing in the folder
//! changed: previous outputs, inputs and the user's other files alike. The cases that must
//! succeed (non-finite values, files listed twice, ...) assert the values they produce.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::Arc;
use std::time::{Duration, Instant};

use arrow_array::{ArrayRef, Date32Array, Float64Array, RecordBatch, StringArray};
use parquet::arrow::ArrowWriter;

use crate::util::*;

/// A run longer than this is a hang (the slowest case takes about a second).
const HANG: Duration = Duration::from_secs(120);

/// The transactions of the previous run, and of the cases that do not bring their own.
const GOOD_CSV: &str = "c,d,a\nx,2024-01-01,3\nx,2024-01-02,5\ny,2024-01-03,7\n";
const GOOD_PIPELINE: &str =
    "[input]\npaths = \"tx.csv\"\n[input.columns]\ncustomer_id = \"c\"\ndate = \"d\"\namount = \"a\"\n";

/// Exit status, stdout and stderr of `tiering args` run in `cwd`, killed after [`HANG`].
fn run_in(cwd: &Path, args: &[&str]) -> (Option<i32>, String) {
    let mut child = Command::new(env!("CARGO_BIN_EXE_tiering"))
        .args(args)
        .current_dir(cwd)
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .expect("the tiering binary runs");
    let start = Instant::now();
    loop {
        if let Some(status) = child.try_wait().unwrap() {
            let mut err = String::new();
            use std::io::Read;
            child
                .stderr
                .take()
                .unwrap()
                .read_to_string(&mut err)
                .unwrap();
            return (status.code(), err);
        }
        if start.elapsed() > HANG {
            child.kill().ok();
            panic!("tiering {args:?} still runs after {HANG:?}: it hangs");
        }
        std::thread::sleep(Duration::from_millis(20));
    }
}

/// Every file below `dir` with its bytes, and every folder (as `None`).
fn snapshot(dir: &Path) -> BTreeMap<PathBuf, Option<Vec<u8>>> {
    let mut out = BTreeMap::new();
    fn walk(dir: &Path, root: &Path, out: &mut BTreeMap<PathBuf, Option<Vec<u8>>>) {
        for e in std::fs::read_dir(dir).unwrap() {
            let path = e.unwrap().path();
            let rel = path.strip_prefix(root).unwrap().to_path_buf();
            if path.is_dir() {
                out.insert(rel, None);
                walk(&path, root, out);
            } else {
                out.insert(rel, Some(std::fs::read(&path).unwrap()));
            }
        }
    }
    walk(dir, dir, &mut out);
    out
}

/// One case: files in a fresh folder, then `tiering run` with its arguments.
struct Case {
    dir: tempfile::TempDir,
    pipeline: String,
    args: Vec<String>,
    cwd: String,
}

fn case() -> Case {
    let c = Case {
        dir: tempfile::tempdir().unwrap(),
        pipeline: "p.toml".into(),
        args: vec!["--out".into(), "out".into()],
        cwd: String::new(),
    };
    // The previous run's outputs, in `out`.
    c.write("good/tx.csv", GOOD_CSV.as_bytes());
    c.write("good/p.toml", GOOD_PIPELINE.as_bytes());
    let (code, err) = run_in(c.dir.path(), &["run", "good/p.toml", "--out", "out", "-q"]);
    assert_eq!(code, Some(0), "the previous run failed: {err}");
    c.write("tx.csv", GOOD_CSV.as_bytes());
    c.write("p.toml", GOOD_PIPELINE.as_bytes());
    c
}

impl Case {
    fn path(&self, rel: &str) -> PathBuf {
        self.dir.path().join(rel)
    }

    fn write(&self, rel: &str, bytes: &[u8]) {
        let path = self.path(rel);
        std::fs::create_dir_all(path.parent().unwrap()).unwrap();
        std::fs::write(path, bytes).unwrap();
    }

    fn file(self, rel: &str, text: &str) -> Case {
        self.write(rel, text.as_bytes());
        self
    }

    fn bytes(self, rel: &str, bytes: &[u8]) -> Case {
        self.write(rel, bytes);
        self
    }

    /// `p.toml` with `from` replaced by `to`, once.
    fn edit(self, from: &str, to: &str) -> Case {
        let text = std::fs::read_to_string(self.path("p.toml")).unwrap();
        assert!(text.contains(from), "{from} not in {text}");
        let text = text.replacen(from, to, 1);
        self.file("p.toml", &text)
    }

    /// Appends sections to `p.toml`.
    fn with(self, extra: &str) -> Case {
        let text = std::fs::read_to_string(self.path("p.toml")).unwrap();
        self.file("p.toml", &format!("{text}{extra}\n"))
    }

    fn args(mut self, args: &[&str]) -> Case {
        self.args = args.iter().map(|s| s.to_string()).collect();
        self
    }

    fn pipeline(mut self, rel: &str) -> Case {
        self.pipeline = rel.into();
        self
    }

    fn cwd(mut self, rel: &str) -> Case {
        self.cwd = rel.into();
        self
    }

    fn parquet(self, rel: &str, batch: RecordBatch) -> Case {
        let path = self.path(rel);
        let mut w =
            ArrowWriter::try_new(std::fs::File::create(path).unwrap(), batch.schema(), None)
                .unwrap();
        w.write(&batch).unwrap();
        w.close().unwrap();
        self
    }

    fn run(&self) -> (Option<i32>, String) {
        let mut args = vec!["run", self.pipeline.as_str(), "-q"];
        args.extend(self.args.iter().map(String::as_str));
        run_in(&self.path(&self.cwd), &args)
    }

    /// Runs the case, which must fail with every one of `words` in its message and leave
    /// every file and folder as it was.
    #[track_caller]
    fn fails_with(self, words: &[&str]) {
        let before = snapshot(self.dir.path());
        let (code, err) = self.run();
        assert_eq!(code, Some(1), "exit status; stderr: {err}");
        assert!(err.starts_with("error: "), "{err}");
        for bad in ["panicked", "RUST_BACKTRACE", "internal error"] {
            assert!(!err.contains(bad), "{bad} in: {err}");
        }
        for w in words {
            assert!(err.contains(w), "{w:?} missing from: {err}");
        }
        assert!(
            snapshot(self.dir.path()) == before,
            "the failed run changed files in its folder: {err}"
        );
    }

    /// Runs the case, which must succeed; returns the output folder.
    #[track_caller]
    fn succeeds(&self) -> PathBuf {
        let (code, err) = self.run();
        assert_eq!(code, Some(0), "{err}");
        self.path("out")
    }
}

fn strings(name: &str, v: &[&str]) -> (String, ArrayRef) {
    (
        name.to_string(),
        Arc::new(StringArray::from(v.to_vec())) as ArrayRef,
    )
}

fn floats(name: &str, v: &[f64]) -> (String, ArrayRef) {
    (
        name.to_string(),
        Arc::new(Float64Array::from(v.to_vec())) as ArrayRef,
    )
}

/// Days since 1970-01-01 of 2024-01-01 + `d`.
fn dates(name: &str, d: &[i32]) -> (String, ArrayRef) {
    let v: Vec<i32> = d.iter().map(|d| 19723 + d).collect();
    (name.to_string(), Arc::new(Date32Array::from(v)) as ArrayRef)
}

fn batch(cols: Vec<(String, ArrayRef)>) -> RecordBatch {
    RecordBatch::try_from_iter(cols).unwrap()
}

/// A value of `step` in data_quality.parquet.
fn quality(out: &Path, step: &str) -> (i64, String) {
    let q = read_parquet(&out.join("data_quality.parquet"));
    let i = q
        .strs("step")
        .iter()
        .position(|s| s.as_deref() == Some(step))
        .unwrap_or_else(|| panic!("no step {step}"));
    (
        q.i64s("rows")[i].unwrap(),
        q.strs("action")[i].clone().unwrap(),
    )
}

// ---- the output folder: only a folder the tool wrote may be replaced ----

#[test]
fn out_pointing_at_a_folder_of_documents() {
    case()
        .file("docs/letter.txt", "keep me")
        .args(&["--out", "docs"])
        .fails_with(&["docs", "did not write", "letter.txt", "--out"]);
}

#[test]
fn out_pointing_at_the_input_folder() {
    case()
        .file("data/tx.csv", GOOD_CSV)
        .edit("tx.csv", "data/tx.csv")
        .args(&["--out", "data"])
        .fails_with(&["data", "did not write", "tx.csv"]);
}

#[test]
fn out_pointing_at_the_parent_of_the_pipeline() {
    case()
        .file("sub/tx.csv", GOOD_CSV)
        .file("sub/p.toml", GOOD_PIPELINE)
        .pipeline("sub/p.toml")
        .args(&["--out", "sub"])
        .fails_with(&["sub", "did not write", "p.toml"]);
}

#[test]
fn out_pointing_at_a_file() {
    case()
        .file("notes.txt", "a file")
        .args(&["--out", "notes.txt"])
        .fails_with(&["notes.txt", "is a file"]);
}

#[test]
fn out_below_a_file() {
    case()
        .file("notes.txt", "a file")
        .args(&["--out", "notes.txt/out"])
        .fails_with(&["notes.txt"]);
}

#[test]
fn out_dot_inside_the_output_folder() {
    case()
        .pipeline("../p.toml")
        .cwd("out")
        .args(&["--out", "."])
        .fails_with(&["current folder", "cd .."]);
}

#[test]
fn out_is_a_parent_of_the_working_folder() {
    case()
        .pipeline("../../p.toml")
        .cwd("out/charts")
        .args(&["--out", ".."])
        .fails_with(&["current folder"]);
}

#[test]
fn out_holds_a_user_file_beside_previous_outputs() {
    case()
        .file("out/my notes.txt", "mine")
        .fails_with(&["earlier run", "my notes.txt"]);
}

#[test]
fn output_dir_of_the_pipeline_file_is_checked_too() {
    case()
        .file("docs/letter.txt", "keep me")
        .with("[output]\ndir = \"docs\"")
        .args(&[])
        .fails_with(&["docs", "[output] dir", "did not write"]);
}

#[test]
fn run_json_of_another_tool_is_not_a_marker() {
    case()
        .file("other/run.json", "{\"tool\": \"other\", \"outputs\": []}")
        .args(&["--out", "other"])
        .fails_with(&["other", "did not write", "run.json"]);
}

/// Previous outputs a run left in `.out.old-<pid>` when it was killed between its two renames
/// come back at the next run; with newer outputs in place, they are removed, and said so.
#[test]
fn interrupted_commit_is_recovered() {
    let c = case();
    // No process has this number (Linux numbers stay below 2^22).
    let aside = c.path(".out.old-4000000000");
    std::fs::rename(c.path("out"), &aside).unwrap();
    let out = c.succeeds();
    if !Path::new("/proc/self").exists() {
        return;
    }
    assert!(!aside.exists() && out.join("customers.parquet").exists());
    let run: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(out.join("run.json")).unwrap()).unwrap();
    let notes = run["notes"].to_string();
    assert!(notes.contains("put back"), "{notes}");

    copy_dir(&out, &aside);
    let out = c.succeeds();
    assert!(!aside.exists());
    let run = std::fs::read_to_string(out.join("run.json")).unwrap();
    assert!(run.contains("superseded"), "{run}");
}

fn copy_dir(from: &Path, to: &Path) {
    std::fs::create_dir_all(to).unwrap();
    for e in std::fs::read_dir(from).unwrap() {
        let p = e.unwrap().path();
        let target = to.join(p.file_name().unwrap());
        if p.is_dir() {
            copy_dir(&p, &target);
        } else {
            std::fs::copy(&p, &target).unwrap();
        }
    }
}

// ---- non-finite numbers: a rule of their own, never a hang or a NaN ----

/// A NaN amount beside another line of the same customer hung grading (a tie count over a
/// NaN never moved on).
#[test]
fn nan_amount_beside_another_line_is_dropped() {
    let c = case().file(
        "tx.csv",
        "c,d,a\nx,2024-01-01,NaN\nx,2024-01-02,5\ny,2024-01-03,7\n",
    );
    let out = c.succeeds();
    assert_eq!(quality(&out, "non_finite_value"), (1, "dropped".into()));
    let t = read_parquet(&out.join("customers.parquet"));
    assert_eq!(t.f64s("monetary")[t.row_of("x")], Some(5.0));
}

/// An infinite amount hung the log-scale chart.
#[test]
fn infinite_amounts_and_overflowing_products_are_dropped() {
    let c = case()
        .file(
            "tx.csv",
            "c,d,q,p\nx,2024-01-01,inf,1\nx,2024-01-02,1e200,1e200\nx,2024-01-03,2,2.5\ny,2024-01-03,-Infinity,1\ny,2024-01-04,1,7\n",
        )
        .edit("amount = \"a\"", "quantity = \"q\"\nunit_price = \"p\"");
    let out = c.succeeds();
    assert_eq!(quality(&out, "non_finite_value"), (3, "dropped".into()));
    let t = read_parquet(&out.join("customers.parquet"));
    assert_eq!(t.f64s("monetary")[t.row_of("x")], Some(5.0));
    assert_eq!(t.f64s("monetary")[t.row_of("y")], Some(7.0));
    let tiers = std::fs::read_to_string(out.join("report.html")).unwrap();
    assert!(!tiers.contains("NaN"), "a NaN in the report");
}

#[test]
fn non_finite_values_stored_in_parquet() {
    let c = case()
        .parquet(
            "tx.parquet",
            batch(vec![
                strings("c", &["x", "x", "y", "y"]),
                dates("d", &[0, 1, 2, 3]),
                floats("a", &[f64::NAN, 4.0, f64::INFINITY, 6.0]),
                floats("cost", &[1.0, f64::NEG_INFINITY, 1.0, 2.0]),
            ]),
        )
        .edit("tx.csv", "tx.parquet")
        .edit("amount = \"a\"", "amount = \"a\"\ncost = \"cost\"");
    let out = c.succeeds();
    assert_eq!(quality(&out, "non_finite_value"), (3, "dropped".into()));
    let t = read_parquet(&out.join("customers.parquet"));
    assert_eq!(t.rows(), 1);
    assert_eq!(t.f64s("profit")[0], Some(4.0));
}

#[test]
fn non_finite_values_can_stop_the_run() {
    case()
        .file("tx.csv", "c,d,a\nx,2024-01-01,3\ny,2024-01-02,NaN\n")
        .with("[cleaning]\nnon_finite_value = \"error\"")
        .fails_with(&[
            "1 row(s)",
            "not a finite number",
            "customer_id=\"y\"",
            "non_finite_value",
        ]);
}

/// Money past 1.8e17 no longer fits a u64 in cents: the reason says the right amount.
#[test]
fn huge_amounts_print_right_in_reasons() {
    let c = case().file(
        "tx.csv",
        "c,d,a\nx,2024-01-01,250000000000000000\ny,2024-01-02,3\n",
    );
    let out = c.succeeds();
    let t = read_parquet(&out.join("tiers.parquet"));
    let reason = t.strs("reason")[t.row_of("x")].clone().unwrap();
    assert!(
        reason.contains("revenue 250,000,000,000,000,000.00"),
        "{reason}"
    );
}

// ---- inputs read once, columns named once ----

#[test]
fn a_file_listed_twice_is_read_once() {
    let c = case().edit(
        "paths = \"tx.csv\"",
        "paths = [\"tx.csv\", \"./tx.csv\", \"t*.csv\"]",
    );
    let out = c.succeeds();
    let t = read_parquet(&out.join("customers.parquet"));
    assert_eq!(t.f64s("monetary")[t.row_of("x")], Some(8.0));
    let run = std::fs::read_to_string(out.join("run.json")).unwrap();
    assert!(run.contains("same file as"), "{run}");
}

#[test]
fn duplicated_column_name() {
    case()
        .file("tx.csv", "c,d,a,a\nx,2024-01-01,3,4\n")
        .fails_with(&["tx.csv", "two columns named \"a\"", "3 and 4"]);
}

/// A line-level export without order numbers: equal lines of one customer and day are often
/// real repeat purchases, so without an invoice column they are kept, and counted.
#[test]
fn equal_lines_without_invoices_are_kept_and_counted() {
    let c = case().file(
        "tx.csv",
        "c,d,a\nx,2024-01-01,3\nx,2024-01-01,3\nx,2024-01-02,5\ny,2024-01-03,7\n",
    );
    let out = c.succeeds();
    assert_eq!(quality(&out, "exact_duplicate"), (1, "info".into()));
    let t = read_parquet(&out.join("customers.parquet"));
    assert_eq!(t.f64s("monetary")[t.row_of("x")], Some(11.0));
    // Said to drop them, the run drops them.
    let c = case()
        .file(
            "tx.csv",
            "c,d,a\nx,2024-01-01,3\nx,2024-01-01,3\nx,2024-01-02,5\ny,2024-01-03,7\n",
        )
        .with("[cleaning]\nduplicates = \"drop\"");
    let out = c.succeeds();
    assert_eq!(quality(&out, "exact_duplicate"), (1, "dropped".into()));
    let t = read_parquet(&out.join("customers.parquet"));
    assert_eq!(t.f64s("monetary")[t.row_of("x")], Some(8.0));
}

#[test]
fn generate_does_not_overwrite_a_file() {
    let c = case();
    let (code, err) = run_in(
        c.dir.path(),
        &["generate", "--customers", "10", "--out", "tx.csv", "-q"],
    );
    assert_eq!(code, Some(1), "{err}");
    assert!(err.contains("tx.csv") && err.contains("exists"), "{err}");
    assert_eq!(std::fs::read_to_string(c.path("tx.csv")).unwrap(), GOOD_CSV);
}

// ---- CSV files polars cannot read: the file, the line, the column, the fix ----

#[test]
fn ragged_row() {
    case()
        .file("tx.csv", "c,d,a\nx,2024-01-01,3\nx,2024-01-02,1,5\n")
        .fails_with(&["tx.csv line 3", "4 fields", "header has 3", "delimiter"]);
}

#[test]
fn unclosed_quote() {
    case()
        .file(
            "tx.csv",
            "c,d,a\nx,2024-01-01,3\n\"x,2024-01-02,5\ny,2024-01-03,7\n",
        )
        .fails_with(&["tx.csv line 3", "closing quote"]);
}

#[test]
fn invalid_utf8() {
    case()
        .bytes("tx.csv", b"c,d,a\nx,2024-01-01,3\nM\xfcller,2024-01-02,5\n")
        .fails_with(&[
            "tx.csv line 3",
            "column \"c\"",
            "FC",
            "[input.csv] encoding",
        ]);
}

#[test]
fn utf16_without_an_encoding() {
    let text: Vec<u8> = [0xFF, 0xFE]
        .into_iter()
        .chain(GOOD_CSV.encode_utf16().flat_map(|u| u.to_le_bytes()))
        .collect();
    case()
        .bytes("tx.csv", &text)
        .fails_with(&["tx.csv", "UTF-16", "encoding = \"utf-16le\""]);
}

#[test]
fn utf16_big_endian_without_a_mark() {
    let text: Vec<u8> = GOOD_CSV
        .encode_utf16()
        .flat_map(|u| u.to_be_bytes())
        .collect();
    case()
        .bytes("tx.csv", &text)
        .fails_with(&["UTF-16", "utf-16be"]);
}

#[test]
fn wrong_delimiter() {
    case()
        .file("tx.csv", "c;d;a\nx;2024-01-01;3\n")
        .fails_with(&["no column \"c\"", "\"c;d;a\"", "delimiter = \";\""]);
}

#[test]
fn binary_garbage_named_csv() {
    let garbage: Vec<u8> = (0..4000u32).map(|i| (i * 7919 % 251) as u8).collect();
    case().bytes("tx.csv", &garbage).fails_with(&["tx.csv"]);
}

// ---- Parquet files that are damaged ----

/// One flipped byte in a data page made polars' reader assert: exit 101 and a panic.
#[test]
fn flipped_byte_in_a_parquet_page() {
    let damaged = std::fs::read(fixture("damaged/flipped.parquet")).unwrap();
    case()
        .bytes("tx.parquet", &damaged)
        .edit("tx.csv", "tx.parquet")
        .edit("customer_id = \"c\"", "customer_id = \"customer_id\"")
        .edit("date = \"d\"", "date = \"invoice_date\"")
        .edit(
            "amount = \"a\"",
            "quantity = \"quantity\"\nunit_price = \"unit_price\"",
        )
        .fails_with(&["tx.parquet", "damaged"]);
}

#[test]
fn truncated_parquet_file() {
    let whole = std::fs::read(fixture("damaged/flipped.parquet")).unwrap();
    case()
        .bytes("tx.parquet", &whole[..whole.len() / 2])
        .edit("tx.csv", "tx.parquet")
        .fails_with(&["tx.parquet"]);
}

#[test]
fn csv_text_named_parquet() {
    case()
        .file("tx.parquet", GOOD_CSV)
        .edit("tx.csv", "tx.parquet")
        .fails_with(&["tx.parquet"]);
}

// ---- dates ----

#[test]
fn impossible_date_in_an_iso_column() {
    case()
        .file("tx.csv", "c,d,a\nx,2024-01-01,3\nx,2024-02-30,5\n")
        .fails_with(&[
            "\"2024-02-30\" is not a real date",
            "column \"d\"",
            "%Y-%m-%d",
        ]);
}

#[test]
fn every_date_reads_both_ways() {
    case()
        .file("tx.csv", "c,d,a\nx,01/02/2024,3\nx,02/03/2024,5\n")
        .fails_with(&["day/month and month/day", "date_format"]);
}

#[test]
fn unknown_date_format() {
    case()
        .file("tx.csv", "c,d,a\nx,yesterday,3\n")
        .fails_with(&[
            "cannot recognise the date format",
            "\"yesterday\"",
            "date_format",
        ]);
}

#[test]
fn values_outside_a_pinned_date_format() {
    case()
        .file("tx.csv", "c,d,a\nx,2024-01-01,3\nx,01/02/2024,5\n")
        .edit("[input]", "[input]\ndate_format = \"%Y-%m-%d\"")
        .fails_with(&["not dates in format \"%Y-%m-%d\"", "01/02/2024"]);
}

/// A grocery export starting on November 1: its first rows read both ways, later rows
/// settle the order.
#[test]
fn the_whole_date_column_settles_day_and_month() {
    let mut text = String::from("c,d,a\n");
    for i in 0..2500 {
        text.push_str(&format!(
            "c{},{:02}/11/2023,{}\n",
            i % 40,
            1 + i % 12,
            1 + i % 9
        ));
    }
    text.push_str("z,25/11/2023,9\n");
    let c = case().file("tx.csv", &text);
    let out = c.succeeds();
    let run = std::fs::read_to_string(out.join("run.json")).unwrap();
    assert!(run.contains("%d/%m/%Y"), "{run}");
    let t = read_parquet(&out.join("customers.parquet"));
    assert_eq!(
        t.dates("last_purchase")[t.row_of("z")].as_deref(),
        Some("2023-11-25")
    );
}

// ---- nothing left to grade: which rules dropped how many, as of when ----

#[test]
fn every_customer_id_missing() {
    case()
        .file(
            "tx.csv",
            "c,d,a\n,2024-01-01,3\n ,2024-01-02,5\n,2024-01-03,1\n",
        )
        .fails_with(&[
            "nothing is left to grade",
            "of 3 rows read",
            "missing_customer_id 3",
        ]);
}

#[test]
fn as_of_before_every_transaction() {
    case()
        .args(&["--out", "out", "--as-of", "2020-01-01"])
        .fails_with(&["nothing is left to grade as of 2020-01-01", "after_as_of 3"]);
}

#[test]
fn lookback_before_every_transaction() {
    case()
        .with("[features]\nas_of = \"2025-01-01\"\nlookback_days = 30")
        .fails_with(&["as of 2025-01-01", "before_lookback 3"]);
}

#[test]
fn only_returns_are_left() {
    case()
        .file("tx.csv", "c,d,a\nx,2024-01-01,-3\ny,2024-01-02,-5\n")
        .fails_with(&[
            "nothing is left to grade as of 2024-01-03",
            "customer_without_purchase 2",
        ]);
}

// ---- errors that were clear already: they must stay so, and leave everything as it was ----

#[test]
fn missing_input_file() {
    case()
        .edit("tx.csv", "nope.csv")
        .fails_with(&["nope.csv does not exist", "relative to the pipeline file"]);
}

#[test]
fn glob_without_matches() {
    case()
        .edit("tx.csv", "data/*.csv")
        .fails_with(&["no file matches", "data/*.csv"]);
}

#[test]
fn folder_without_data_files() {
    case()
        .file("data/readme.txt", "nothing here")
        .edit("tx.csv", "data")
        .fails_with(&["no file matches"]);
}

#[test]
fn empty_file() {
    case().file("tx.csv", "").fails_with(&["tx.csv is empty"]);
}

#[test]
fn header_only() {
    case()
        .file("tx.csv", "c,d,a\n")
        .fails_with(&["no data rows"]);
}

#[test]
fn unknown_extension() {
    case()
        .file("tx.dat", GOOD_CSV)
        .edit("tx.csv", "tx.dat")
        .fails_with(&["cannot tell the format", "format = \"csv\""]);
}

#[test]
fn missing_column() {
    case()
        .edit("amount = \"a\"", "amount = \"total\"")
        .fails_with(&[
            "no column \"total\"",
            "mapped as amount",
            "\"c\", \"d\", \"a\"",
        ]);
}

#[test]
fn text_in_a_number_column() {
    case()
        .file("tx.csv", "c,d,a\nx,2024-01-01,12 EUR\n")
        .fails_with(&["column \"a\"", "\"12 EUR\"", "decimal_comma"]);
}

#[test]
fn unknown_key_in_the_pipeline_file() {
    case()
        .edit("[input]", "[input]\nencodng = \"utf-8\"")
        .fails_with(&["p.toml", "unknown field `encodng`"]);
}

#[test]
fn broken_toml() {
    case()
        .edit("customer_id = \"c\"", "customer_id = \"c")
        .fails_with(&["invalid pipeline file", "p.toml"]);
}

#[test]
fn pipeline_file_missing() {
    case()
        .pipeline("nope.toml")
        .fails_with(&["cannot read pipeline file nope.toml"]);
}

#[test]
fn unknown_encoding() {
    case()
        .edit(
            "[input.columns]",
            "[input.csv]\nencoding = \"klingon\"\n[input.columns]",
        )
        .fails_with(&["encoding \"klingon\" is not known"]);
}

#[test]
fn as_of_that_is_not_a_date() {
    case()
        .args(&["--out", "out", "--as-of", "31/12/2024"])
        .fails_with(&["--as-of", "YYYY-MM-DD"]);
}

#[test]
fn as_of_list_out_of_order() {
    case()
        .args(&["--out", "out", "--as-of", "2024-02-01,2024-01-01"])
        .fails_with(&["--as-of", "ascending"]);
}

#[test]
fn missing_customer_id_as_an_error() {
    case()
        .file("tx.csv", "c,d,a\nx,2024-01-01,3\n,2024-01-02,5\n")
        .with("[cleaning]\nmissing_customer_id = \"error\"")
        .fails_with(&[
            "1 row(s) have no customer ID",
            "missing_customer_id = \"drop\"",
        ]);
}

#[test]
fn future_date_as_an_error() {
    case()
        .file("tx.csv", "c,d,a\nx,2024-01-01,3\ny,2999-01-02,5\n")
        .with("[cleaning]\nfuture_dates = \"error\"")
        .fails_with(&["dated after", "2999-01-02"]);
}

#[test]
fn zero_price_as_an_error() {
    case()
        .file("tx.csv", "c,d,a\nx,2024-01-01,3\ny,2024-01-02,0\n")
        .with("[cleaning]\nnonpositive_price = \"error\"")
        .fails_with(&["zero or negative price", "nonpositive_price"]);
}

#[test]
fn unknown_score_component() {
    case()
        .with("[score.weights]\nloyalty = 1.0")
        .fails_with(&["unknown component \"loyalty\""]);
}

#[test]
fn history_dates_out_of_order() {
    case()
        .with("[history]\nas_of = [\"2024-02-01\", \"2024-01-01\"]")
        .fails_with(&["[history]", "ascending"]);
}

#[test]
fn parquet_date_column_of_numbers() {
    case()
        .parquet(
            "tx.parquet",
            batch(vec![
                strings("c", &["x"]),
                floats("d", &[20240101.0]),
                floats("a", &[3.0]),
            ]),
        )
        .edit("tx.csv", "tx.parquet")
        .fails_with(&["column \"d\"", "should hold dates"]);
}
