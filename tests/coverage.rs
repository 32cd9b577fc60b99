//! Paths the other modules leave out: returns dropped instead of netted, several input files of
//! different column types in one run, UTF-16 and GBK text, clustering skipped for too few
//! customers, Pareto tiers on profit with losses, and every check of `[clustering]`. Each test
//! runs the binary on a hand-made fixture (`tests/fixtures/coverage/`, or files built here) and
//! compares what it wrote with numbers worked out by hand in the comments.

use std::path::{Path, PathBuf};
use std::sync::Arc;

use arrow_array::{ArrayRef, Date32Array, Float64Array, Int64Array, RecordBatch, StringArray};
use parquet::arrow::ArrowWriter;

use crate::util::*;

/// A file of `tests/fixtures/coverage/`, as a TOML string.
fn data(file: &str) -> String {
    format!("{:?}", fixture("coverage").join(file).to_str().unwrap())
}

/// Writes `p.toml` into `dir` with `text` and returns its path.
fn pipeline(dir: &Path, text: &str) -> PathBuf {
    let p = dir.join("p.toml");
    std::fs::write(&p, text).unwrap();
    p
}

/// The value of `step` in data_quality.parquet.
fn quality(out: &Path, step: &str) -> Option<i64> {
    let q = read_parquet(&out.join("data_quality.parquet"));
    let i = q
        .strs("step")
        .iter()
        .position(|s| s.as_deref() == Some(step))
        .unwrap_or_else(|| panic!("no step {step} in {:?}", q.strs("step")));
    q.i64s("rows")[i]
}

fn run_json(out: &Path) -> serde_json::Value {
    serde_json::from_str(&std::fs::read_to_string(out.join("run.json")).unwrap()).unwrap()
}

fn ids(t: &Table) -> Vec<String> {
    t.strs("customer_id")
        .into_iter()
        .map(Option::unwrap)
        .collect()
}

// ---- cleaning: returns = "drop" ----

#[test]
fn dropped_returns_count_for_nothing() {
    // returns.csv, as_of 2024-03-01:
    //   A: invoices 1001 (100 + 50), 1002 (80), and return line 1003 (-30).
    //   B: invoice 1005 (40) and C1004 (15, a return by its prefix whatever its sign).
    //   C: only the return C1006 (-25).
    let dir = tempfile::tempdir().unwrap();
    let p = pipeline(
        dir.path(),
        &format!(
            "[input]\npaths = {}\n[input.columns]\ncustomer_id = \"customer\"\ndate = \"date\"\n\
             invoice_id = \"invoice\"\namount = \"amount\"\n\
             [cleaning]\nreturns = \"drop\"\nreturn_invoice_prefix = \"C\"\n\
             [features]\nas_of = \"2024-03-01\"\n",
            data("returns.csv")
        ),
    );
    let out = dir.path().join("out");
    run_ok(&p, &out, &[]);
    let t = read_parquet(&out.join("customers.parquet"));
    // C had nothing but a return: with the return gone it is no customer at all.
    assert_eq!(ids(&t), ["A", "B"]);
    let a = t.row_of("A");
    // 100 + 50 + 80; netted it would be 200 with 30 returned.
    close(t.f64s("monetary")[a], Some(230.0), "A monetary");
    close(t.f64s("gross_revenue")[a], Some(230.0), "A gross");
    close(t.f64s("returned_value")[a], Some(0.0), "A returned");
    close(t.f64s("return_rate")[a], Some(0.0), "A return_rate");
    assert_eq!(t.i64s("frequency")[a], Some(2), "A: invoices 1001 and 1002");
    close(t.f64s("avg_order_value")[a], Some(115.0), "A: 230 / 2");
    // 2024-02-05 -> 2024-03-01 (February 2024 has 29 days).
    assert_eq!(t.i64s("recency_days")[a], Some(25));
    let b = t.row_of("B");
    // 40 alone; netted (prefixed lines are made negative) it would be 25.
    close(t.f64s("monetary")[b], Some(40.0), "B monetary");
    close(t.f64s("returned_value")[b], Some(0.0), "B returned");
    assert_eq!(t.i64s("frequency")[b], Some(1), "B: C1004 is no order");

    // 7 lines: 1003, C1004 and C1006 dropped as returns, C's before it could count as a
    // customer without purchase; 4 kept, none netted.
    assert_eq!(quality(&out, "read"), Some(7));
    assert_eq!(quality(&out, "return_dropped"), Some(3));
    assert_eq!(quality(&out, "return_netted"), Some(0));
    assert_eq!(quality(&out, "customer_without_purchase"), Some(0));
    assert_eq!(quality(&out, "kept"), Some(4));
}

// ---- several input files of different column types ----

fn write_parquet(path: &Path, cols: Vec<(&str, ArrayRef)>) {
    let batch = RecordBatch::try_from_iter(cols).unwrap();
    let mut w =
        ArrowWriter::try_new(std::fs::File::create(path).unwrap(), batch.schema(), None).unwrap();
    w.write(&batch).unwrap();
    w.close().unwrap();
}

/// Days since 1970-01-01 of 2024-01-`day`.
fn jan_2024(day: i32) -> i32 {
    19722 + day
}

#[test]
fn files_of_different_column_types_are_stacked() {
    let dir = tempfile::tempdir().unwrap();
    // mixed_a.csv: IDs, dates and amounts as text: 101 10.5 on 01-05; 102 20 on 01-06.
    std::fs::copy(
        fixture("coverage/mixed_a.csv"),
        dir.path().join("mixed_a.csv"),
    )
    .unwrap();
    // IDs as text, dates as Date32, amounts as int64: 101 100 on 01-10, 102 30 on 01-06 (the
    // day of its line in the CSV: one purchase day, not two), 103 7 on 01-11.
    let customers: ArrayRef = Arc::new(StringArray::from(vec!["101", "102", "103"]));
    let days: ArrayRef = Arc::new(Date32Array::from(vec![
        jan_2024(10),
        jan_2024(6),
        jan_2024(11),
    ]));
    let amounts: ArrayRef = Arc::new(Int64Array::from(vec![100, 30, 7]));
    write_parquet(
        &dir.path().join("b.parquet"),
        vec![("customer", customers), ("date", days), ("amount", amounts)],
    );
    // IDs as int64, dates as text, amounts as float64: 101 2.25 on 01-15, 102 0.5 on 01-20.
    let customers: ArrayRef = Arc::new(Int64Array::from(vec![101, 102]));
    let days: ArrayRef = Arc::new(StringArray::from(vec!["2024-01-15", "2024-01-20"]));
    let amounts: ArrayRef = Arc::new(Float64Array::from(vec![2.25, 0.5]));
    write_parquet(
        &dir.path().join("c.parquet"),
        vec![("customer", customers), ("date", days), ("amount", amounts)],
    );
    let p = pipeline(
        dir.path(),
        "[input]\npaths = [\"mixed_a.csv\", \"b.parquet\", \"c.parquet\"]\n\
         [input.columns]\ncustomer_id = \"customer\"\ndate = \"date\"\namount = \"amount\"\n\
         [features]\nas_of = \"2024-02-01\"\n",
    );
    let out = dir.path().join("out");
    run_ok(&p, &out, &[]);
    let t = read_parquet(&out.join("customers.parquet"));
    assert_eq!(ids(&t), ["101", "102", "103"]);
    // Without invoice_id, orders are distinct purchase days.
    //   101: 10.5 + 100 + 2.25 on 01-05, 01-10, 01-15; last 01-15 is 17 days before 02-01.
    //   102: 20 + 30 on 01-06, 0.5 on 01-20; last 01-20 is 12 days before.
    //   103: 7 on 01-11, 21 days before.
    let expected = [
        ("101", 112.75, 3, 17, "2024-01-05"),
        ("102", 50.5, 2, 12, "2024-01-06"),
        ("103", 7.0, 1, 21, "2024-01-11"),
    ];
    for (id, monetary, frequency, recency, first) in expected {
        let i = t.row_of(id);
        close(
            t.f64s("monetary")[i],
            Some(monetary),
            &format!("{id} monetary"),
        );
        assert_eq!(t.i64s("frequency")[i], Some(frequency), "{id} frequency");
        assert_eq!(t.i64s("recency_days")[i], Some(recency), "{id} recency");
        assert_eq!(t.dates("first_purchase")[i].as_deref(), Some(first), "{id}");
    }
    let run = run_json(&out);
    assert_eq!(run["rows_read"], 7);
    let rows: Vec<i64> = run["inputs"]
        .as_array()
        .unwrap()
        .iter()
        .map(|f| f["rows"].as_i64().unwrap())
        .collect();
    assert_eq!(rows, [2, 3, 2], "rows per file, in the order listed");
}

// ---- encodings: UTF-16 and GBK ----

/// The transactions of the encoding tests: Chinese headers, IDs and regions. 客户甲 bought
/// 100 in 北京 and 250.5 in 上海 (main region 上海 by revenue, although 北京 comes first);
/// 客户乙 bought 80 in 北京.
const CHINESE: [[&str; 4]; 4] = [
    ["客户", "日期", "金额", "地区"],
    ["客户甲", "2024-03-01", "100", "北京"],
    ["客户甲", "2024-03-02", "250.5", "上海"],
    ["客户乙", "2024-03-03", "80", "北京"],
];

/// GBK bytes of the Chinese characters above, from the GBK code table (not from the decoder
/// under test).
fn gbk(text: &str) -> Vec<u8> {
    let mut out = Vec::new();
    for ch in text.chars() {
        let code: &[u8] = match ch {
            '客' => &[0xBF, 0xCD],
            '户' => &[0xBB, 0xA7],
            '甲' => &[0xBC, 0xD7],
            '乙' => &[0xD2, 0xD2],
            '日' => &[0xC8, 0xD5],
            '期' => &[0xC6, 0xDA],
            '金' => &[0xBD, 0xF0],
            '额' => &[0xB6, 0xEE],
            '地' => &[0xB5, 0xD8],
            '区' => &[0xC7, 0xF8],
            '北' => &[0xB1, 0xB1],
            '京' => &[0xBE, 0xA9],
            '上' => &[0xC9, 0xCF],
            '海' => &[0xBA, 0xA3],
            c if c.is_ascii() => {
                out.push(c as u8);
                continue;
            }
            c => panic!("{c} is not in the table"),
        };
        out.extend_from_slice(code);
    }
    out
}

/// Runs the Chinese transactions written as `bytes` with `[input.csv]` `settings`, and checks
/// the IDs, regions and amounts that come back.
fn check_chinese(bytes: &[u8], settings: &str) {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("tx.csv"), bytes).unwrap();
    let p = pipeline(
        dir.path(),
        &format!(
            "[input]\npaths = \"tx.csv\"\n[input.csv]\n{settings}\n\
             [input.columns]\ncustomer_id = \"客户\"\ndate = \"日期\"\namount = \"金额\"\n\
             region = \"地区\"\n[features]\nas_of = \"2024-04-01\"\n"
        ),
    );
    let out = dir.path().join("out");
    run_ok(&p, &out, &[]);
    let t = read_parquet(&out.join("customers.parquet"));
    // Sorted by ID: 乙 (U+4E59) before 甲 (U+7532).
    assert_eq!(ids(&t), ["客户乙", "客户甲"], "{settings}");
    assert_eq!(
        t.strs("main_region"),
        [Some("北京".to_string()), Some("上海".to_string())],
        "{settings}"
    );
    close(t.f64s("monetary")[1], Some(350.5), "客户甲: 100 + 250.5");
    close(t.f64s("monetary")[0], Some(80.0), "客户乙");
}

#[test]
fn utf16le_with_a_byte_order_mark_and_tabs() {
    // As spreadsheet programs save "Unicode text": FF FE, then UTF-16LE, tab-separated.
    let text: String = CHINESE.iter().map(|r| r.join("\t") + "\r\n").collect();
    let mut bytes = vec![0xFF, 0xFE];
    bytes.extend(text.encode_utf16().flat_map(u16::to_le_bytes));
    check_chinese(&bytes, "encoding = \"utf-16le\"\ndelimiter = \"\\t\"");
}

#[test]
fn gbk_ids_and_regions() {
    let text: String = CHINESE.iter().map(|r| r.join(",") + "\n").collect();
    check_chinese(&gbk(&text), "encoding = \"gbk\"");
}

// ---- clustering skipped for too few customers ----

#[test]
fn two_customers_are_graded_without_clusters() {
    // two_customers.csv: X and Y. Clustering is on by default (k = "auto" over 2..8), but
    // k-means needs at least 3 customers to choose between groups.
    let dir = tempfile::tempdir().unwrap();
    let p = pipeline(
        dir.path(),
        &format!(
            "[input]\npaths = {}\n[input.columns]\ncustomer_id = \"customer\"\n\
             date = \"date\"\namount = \"amount\"\n[features]\nas_of = \"2024-02-01\"\n",
            data("two_customers.csv")
        ),
    );
    let out = dir.path().join("out");
    run_ok(&p, &out, &[]);
    assert_eq!(read_parquet(&out.join("tiers.parquet")).rows(), 2);
    for file in CLUSTER_FILES {
        assert!(!out.join(file).exists(), "{file} written");
    }
    let run = run_json(&out);
    assert!(run["clustering"].is_null(), "{}", run["clustering"]);
    let notes: Vec<&str> = run["notes"]
        .as_array()
        .unwrap()
        .iter()
        .map(|n| n.as_str().unwrap())
        .collect();
    let skipped = notes
        .iter()
        .find(|n| n.contains("clustering skipped"))
        .unwrap_or_else(|| panic!("no note on clustering in {notes:?}"));
    // Why: the count, and the k that was asked for (the default range).
    for words in ["2 customers", "too few", "2..8"] {
        assert!(
            skipped.contains(words),
            "{words:?} missing from {skipped:?}"
        );
    }
}

/// The files only a run with clustering writes.
const CLUSTER_FILES: [&str; 12] = [
    "clusters.parquet",
    "centroids.parquet",
    "k_selection.parquet",
    "cluster_profiles.parquet",
    "comparison.parquet",
    "crosstab.parquet",
    "group_profiles.parquet",
    "disagreements.parquet",
    "charts/k_selection.png",
    "charts/k_selection.svg",
    "charts/tier_cluster_heatmap.png",
    "charts/tier_cluster_heatmap.svg",
];

/// Every file below `dir`, as paths relative to it.
fn files_below(dir: &Path) -> Vec<String> {
    let mut files = Vec::new();
    for name in names_in(dir) {
        let path = dir.join(&name);
        if path.is_dir() {
            files.extend(
                files_below(&path)
                    .into_iter()
                    .map(|f| format!("{name}/{f}")),
            );
        } else {
            files.push(name);
        }
    }
    files
}

// ---- Pareto tiers on profit, with losses ----

#[test]
fn pareto_on_profit_sends_losses_to_the_last_tier() {
    // pareto.csv, one line each (amount - cost = profit):
    //   P1 1000-500 = 500, P2 600-300 = 300, P3 300-200 = 100, P4 200-140 = 60,
    //   P5 100-60 = 40, Z 80-80 = 0, N 2000-2200 = -200 (the largest revenue).
    // Total positive profit 1000. Share held by the larger customers: P1 0, P2 50 %, P3 80 %
    // (not less than 80 %: A is exactly the customers making the first 80 %), P4 90 %,
    // P5 96 %. So A = P1, P2; B = P3, P4 (< 95 %); C = P5 and, whatever their revenue, Z and N.
    // Had the loss been netted (total 800), P3 would see 100 % and P4 112.5 %.
    let dir = tempfile::tempdir().unwrap();
    let p = pipeline(
        dir.path(),
        &format!(
            "[input]\npaths = {}\n[input.columns]\ncustomer_id = \"customer\"\n\
             date = \"date\"\namount = \"amount\"\ncost = \"cost\"\n\
             [features]\nas_of = \"2024-06-01\"\n\
             [tiers]\nmethod = \"pareto\"\npareto_value = \"profit\"\n",
            data("pareto.csv")
        ),
    );
    let out = dir.path().join("out");
    run_ok(&p, &out, &[]);
    let t = read_parquet(&out.join("tiers.parquet"));
    let expected = [
        ("N", "C"),
        ("P1", "A"),
        ("P2", "A"),
        ("P3", "B"),
        ("P4", "B"),
        ("P5", "C"),
        ("Z", "C"),
    ];
    assert_eq!(t.rows(), expected.len());
    let tier = t.strs("tier");
    for (id, expected) in expected {
        assert_eq!(tier[t.row_of(id)].as_deref(), Some(expected), "{id}");
    }
    // One purchase each: no rhythm, no payments, so no risk and nothing downgraded.
    assert_eq!(t.strs("tier_before_risk"), t.strs("tier"));
    close(t.f64s("profit")[t.row_of("N")], Some(-200.0), "N profit");
    let reason = t.strs("reason")[t.row_of("N")].clone().unwrap();
    for words in ["profit", "-200.00", "<= 0", "-> C"] {
        assert!(reason.contains(words), "{words:?} missing from {reason:?}");
    }
    let reason = t.strs("reason")[t.row_of("Z")].clone().unwrap();
    assert!(reason.contains("<= 0"), "{reason}");
    let reason = t.strs("reason")[t.row_of("P3")].clone().unwrap();
    assert!(
        reason.contains("80.0%") && reason.ends_with("-> B"),
        "{reason}"
    );
}

// ---- [clustering]: every check, through the binary ----

/// six_customers.csv (K1..K6, 1 to 3 purchases each) with `clustering` as its
/// `[clustering]` section.
fn clustering_pipeline(dir: &Path, clustering: &str) -> PathBuf {
    pipeline(
        dir,
        &format!(
            "[input]\npaths = {}\n[input.columns]\ncustomer_id = \"customer\"\n\
             date = \"date\"\namount = \"amount\"\n[features]\nas_of = \"2024-04-01\"\n\
             [clustering]\n{clustering}\n",
            data("six_customers.csv")
        ),
    )
}

/// Whether `value` stands in `text` as a whole word (not as a digit of a longer number).
fn quotes(text: &str, value: &str) -> bool {
    let part = |c: Option<char>| c.is_some_and(|c| c.is_alphanumeric() || c == '_' || c == '.');
    text.match_indices(value).any(|(i, _)| {
        !part(text[..i].chars().next_back()) && !part(text[i + value.len()..].chars().next())
    })
}

#[test]
fn clustering_settings_are_checked() {
    // Each: the setting, the key the message names, the value it quotes (see
    // `clustering_limits_quote_the_value_given` for the ones that quote none yet), and what is
    // allowed. The data have no cost column, so profit is no feature here.
    let cases: &[(&str, &str, Option<&str>, &[&str])] = &[
        ("k = 0", "k ", Some("0"), &["at least 1"]),
        ("k = \"many\"", "k ", Some("\"many\""), &["\"auto\""]),
        ("k_range = [1, 5]", "k_range", Some("[1, 5]"), &["2 <= min"]),
        (
            "k_range = [6, 3]",
            "k_range",
            Some("[6, 3]"),
            &["min <= max"],
        ),
        (
            "select_by = \"gap\"",
            "select_by",
            Some("\"gap\""),
            &["silhouette", "calinski_harabasz", "davies_bouldin"],
        ),
        ("runs = 0", "runs", None, &["at least 1"]),
        ("max_iter = 0", "max_iter", None, &["at least 1"]),
        ("tolerance = 0", "tolerance", None, &["positive"]),
        ("tolerance = -1e-4", "tolerance", None, &["positive"]),
        ("fit_sample = 10", "fit_sample", None, &["at least 100"]),
        (
            "silhouette_sample = 1",
            "silhouette_sample",
            None,
            &["at least 10"],
        ),
        (
            "features = [\"frequency\", \"main_region\"]",
            "feature",
            Some("\"main_region\""),
            &["numeric", "monetary"],
        ),
        (
            "features = [\"monetary\", \"profit\"]",
            "feature",
            Some("\"profit\""),
            &["numeric"],
        ),
        (
            "features = [\"monetary\", \"frequency\", \"monetary\"]",
            "feature",
            Some("\"monetary\""),
            &["twice"],
        ),
        ("features = []", "features", None, &["empty"]),
        (
            "features = [\"recency_days\", \"monetary\"]\nlog1p = [\"frequency\"]",
            "log1p",
            Some("\"frequency\""),
            &["not among the features"],
        ),
        (
            "winsorize = [0.6, 0.9]",
            "winsorize",
            Some("[0.6, 0.9]"),
            &["0.5"],
        ),
        (
            "winsorize = [-0.1, 0.99]",
            "winsorize",
            Some("[-0.1, 0.99]"),
            &["0 <= lower"],
        ),
        (
            "winsorize = [0.01, 1.5]",
            "winsorize",
            Some("[0.01, 1.5]"),
            &["<= 1"],
        ),
        (
            "order_by = \"loyalty\"",
            "order_by",
            Some("\"loyalty\""),
            &["numeric"],
        ),
    ];
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("out");
    for (setting, key, value, allowed) in cases {
        let err = run_err(&clustering_pipeline(dir.path(), setting), &out);
        assert!(err.starts_with("error: "), "{setting}: {err}");
        assert!(!err.contains("panicked"), "{setting}: {err}");
        for w in ["clustering", key].iter().chain(*allowed) {
            assert!(err.contains(w), "{setting}: {w:?} missing from {err}");
        }
        if let Some(v) = value {
            assert!(quotes(&err, v), "{setting}: {v} not quoted in {err}");
        }
        assert!(
            !out.exists(),
            "{setting}: a failed run wrote {}",
            out.display()
        );
    }
}

#[test]
fn clustering_limits_quote_the_value_given() {
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("out");
    for (key, value) in [
        ("runs", "0"),
        ("max_iter", "0"),
        ("tolerance", "0"),
        ("fit_sample", "10"),
        ("silhouette_sample", "1"),
    ] {
        let err = run_err(
            &clustering_pipeline(dir.path(), &format!("{key} = {value}")),
            &out,
        );
        assert!(
            err.contains(&format!("{key} = {value}")) || err.contains(&format!("got {value}")),
            "{key} = {value}: the value is not quoted in {err}"
        );
    }
}

#[test]
fn clustering_switched_off_writes_no_clustering_outputs() {
    let dir = tempfile::tempdir().unwrap();
    // The same six customers cluster when clustering is on (k = 2..5 for 6 customers) ...
    let on = dir.path().join("on");
    run_ok(&clustering_pipeline(dir.path(), "k = 2"), &on, &[]);
    for file in CLUSTER_FILES {
        assert!(on.join(file).exists(), "{file} missing with clustering on");
    }
    assert_eq!(read_parquet(&on.join("clusters.parquet")).rows(), 6);
    // ... and with it off exactly the clustering files are missing, and run.json has no
    // clustering section.
    let off = dir.path().join("off");
    run_ok(
        &clustering_pipeline(dir.path(), "enabled = false\nk = 2"),
        &off,
        &[],
    );
    let (on_files, off_files) = (files_below(&on), files_below(&off));
    assert!(
        off_files.iter().all(|f| on_files.contains(f)),
        "{off_files:?}"
    );
    let mut missing: Vec<String> = on_files
        .into_iter()
        .filter(|f| !off_files.contains(f))
        .collect();
    missing.sort();
    let mut expected = CLUSTER_FILES.map(String::from).to_vec();
    expected.sort();
    assert_eq!(missing, expected);
    assert_eq!(read_parquet(&off.join("tiers.parquet")).rows(), 6);
    let run = run_json(&off);
    assert!(run["clustering"].is_null(), "{}", run["clustering"]);
    assert_eq!(run_json(&on)["clustering"]["k"], 2);
    let notes = run["notes"].to_string();
    assert!(
        !notes.contains("clustering"),
        "switched off, not skipped: {notes}"
    );
}
