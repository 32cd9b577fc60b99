//! Integration tests: the built binary on small fixtures, outputs read back with the `parquet`
//! and `arrow` crates and compared with values computed by hand (see each fixture's comments).

mod attributes;
mod coverage;
mod faults;
mod potential;
mod report;
mod util;

use std::path::Path;

use util::*;

/// Expected features of one customer, computed by hand from `tests/fixtures/basic`.
struct Expected {
    id: &'static str,
    recency: i64,
    frequency: i64,
    purchase_days: i64,
    monetary: f64,
    gross: f64,
    returned: f64,
    return_rate: f64,
    aov: f64,
    first: &'static str,
    last: &'static str,
    tenure: i64,
    between: Option<f64>,
    profit: f64,
    margin: f64,
    invoices_due: i64,
    on_time: Option<f64>,
    days_late: Option<f64>,
    overdue_invoices: i64,
    overdue_amount: f64,
    oldest_overdue: i64,
    region: &'static str,
}

const BASIC: [Expected; 3] = [
    // 17850.0 in the file: a float ID normalised. One purchase 2023-01-15 of 4 x 25 at cost 15,
    // paid on its due date. 2023-01-15 -> 2024-04-01 is 442 days.
    Expected {
        id: "17850",
        recency: 442,
        frequency: 1,
        purchase_days: 1,
        monetary: 100.0,
        gross: 100.0,
        returned: 0.0,
        return_rate: 0.0,
        aov: 100.0,
        first: "2023-01-15",
        last: "2023-01-15",
        tenure: 442,
        between: None,
        profit: 40.0,
        margin: 0.4,
        invoices_due: 1,
        on_time: Some(1.0),
        days_late: Some(0.0),
        overdue_invoices: 0,
        overdue_amount: 0.0,
        oldest_overdue: 0,
        region: "North",
    },
    // A: invoices 1001 (20 + 30, duplicate line dropped), 1002 (50, paid 4 days late),
    // credit note C1002 (-10), 1003 (100, unpaid, due 2024-03-25: 7 days overdue on 04-01).
    Expected {
        id: "A",
        recency: 21,
        frequency: 3,
        purchase_days: 3,
        monetary: 190.0,
        gross: 200.0,
        returned: 10.0,
        return_rate: 0.05,
        aov: 190.0 / 3.0,
        first: "2024-01-10",
        last: "2024-03-11",
        tenure: 82,
        between: Some(30.5),
        profit: 64.0,
        margin: 64.0 / 190.0,
        invoices_due: 3,
        on_time: Some(1.0 / 3.0),
        days_late: Some(2.0),
        overdue_invoices: 1,
        overdue_amount: 100.0,
        oldest_overdue: 7,
        region: "North",
    },
    // B: two invoices the same day; 1005 is paid 2024-04-05, after as_of, so at as_of it is
    // 1 day overdue and its payment is not known yet.
    Expected {
        id: "B",
        recency: 31,
        frequency: 2,
        purchase_days: 1,
        monetary: 60.0,
        gross: 60.0,
        returned: 0.0,
        return_rate: 0.0,
        aov: 30.0,
        first: "2024-03-01",
        last: "2024-03-01",
        tenure: 31,
        between: None,
        profit: 12.0,
        margin: 0.2,
        invoices_due: 2,
        on_time: Some(0.5),
        days_late: Some(0.0),
        overdue_invoices: 1,
        overdue_amount: 10.0,
        oldest_overdue: 1,
        region: "East",
    },
];

#[test]
fn basic_fixture_every_feature_of_every_customer() {
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("out");
    run_ok(&fixture("basic/pipeline.toml"), &out, &[]);
    let t = read_parquet(&out.join("customers.parquet"));
    assert_eq!(
        t.rows(),
        3,
        "customers D, E, F and the ID-less row are left out"
    );
    assert_eq!(
        t.strs("customer_id"),
        vec![Some("17850".into()), Some("A".into()), Some("B".into())]
    );
    for e in &BASIC {
        let i = t.row_of(e.id);
        let who = e.id;
        assert_eq!(t.i64s("recency_days")[i], Some(e.recency), "{who} recency");
        assert_eq!(t.i64s("frequency")[i], Some(e.frequency), "{who} frequency");
        assert_eq!(
            t.i64s("purchase_days")[i],
            Some(e.purchase_days),
            "{who} purchase_days"
        );
        close(
            t.f64s("monetary")[i],
            Some(e.monetary),
            &format!("{who} monetary"),
        );
        close(
            t.f64s("gross_revenue")[i],
            Some(e.gross),
            &format!("{who} gross"),
        );
        close(
            t.f64s("returned_value")[i],
            Some(e.returned),
            &format!("{who} returned"),
        );
        close(
            t.f64s("return_rate")[i],
            Some(e.return_rate),
            &format!("{who} return_rate"),
        );
        close(
            t.f64s("avg_order_value")[i],
            Some(e.aov),
            &format!("{who} aov"),
        );
        assert_eq!(
            t.dates("first_purchase")[i].as_deref(),
            Some(e.first),
            "{who} first"
        );
        assert_eq!(
            t.dates("last_purchase")[i].as_deref(),
            Some(e.last),
            "{who} last"
        );
        assert_eq!(t.i64s("tenure_days")[i], Some(e.tenure), "{who} tenure");
        close(
            t.f64s("mean_days_between_purchases")[i],
            e.between,
            &format!("{who} between"),
        );
        close(
            t.f64s("profit")[i],
            Some(e.profit),
            &format!("{who} profit"),
        );
        close(
            t.f64s("margin")[i],
            Some(e.margin),
            &format!("{who} margin"),
        );
        assert_eq!(
            t.i64s("invoices_due")[i],
            Some(e.invoices_due),
            "{who} invoices_due"
        );
        close(
            t.f64s("on_time_payment_rate")[i],
            e.on_time,
            &format!("{who} on_time"),
        );
        close(
            t.f64s("mean_days_late")[i],
            e.days_late,
            &format!("{who} days_late"),
        );
        assert_eq!(
            t.i64s("overdue_invoices")[i],
            Some(e.overdue_invoices),
            "{who} overdue n"
        );
        close(
            t.f64s("overdue_amount")[i],
            Some(e.overdue_amount),
            &format!("{who} overdue"),
        );
        assert_eq!(
            t.i64s("oldest_overdue_days")[i],
            Some(e.oldest_overdue),
            "{who} oldest"
        );
        assert_eq!(
            t.strs("main_region")[i].as_deref(),
            Some(e.region),
            "{who} region"
        );
    }
}

#[test]
fn basic_fixture_data_quality_and_metadata() {
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("out");
    run_ok(&fixture("basic/pipeline.toml"), &out, &[]);
    let q = read_parquet(&out.join("data_quality.parquet"));
    let steps = q.strs("step");
    let rows = q.i64s("rows");
    let count = |s: &str| rows[steps.iter().position(|x| x.as_deref() == Some(s)).unwrap()];
    assert_eq!(count("read"), Some(13));
    assert_eq!(count("exact_duplicate"), Some(1));
    assert_eq!(count("missing_customer_id"), Some(1));
    assert_eq!(count("nonpositive_price"), Some(1));
    assert_eq!(count("after_as_of"), Some(1));
    assert_eq!(count("customer_without_purchase"), Some(1));
    assert_eq!(count("future_date"), Some(0));
    assert_eq!(count("return_netted"), Some(1));
    assert_eq!(count("kept"), Some(8));

    // run.json and the Parquet key-value metadata carry the same run description.
    let run: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(out.join("run.json")).unwrap()).unwrap();
    assert_eq!(run["as_of"], "2024-04-01");
    assert_eq!(run["as_of_source"], "pipeline file [features] as_of");
    assert_eq!(run["pipeline_name"], "basic");
    assert_eq!(run["rows_read"], 13);
    assert_eq!(run["rows_kept"], 8);
    assert_eq!(run["customers"], 3);
    assert_eq!(run["inputs"][0]["rows"], 13);
    assert!(run["pipeline_toml"]
        .as_str()
        .unwrap()
        .contains("return_invoice_prefix"));
    // Tables written while the run goes on (footer at the end) and at the end alike.
    for file in ["customers", "tiers", "alerts", "tier_summary"] {
        let t = read_parquet(&out.join(format!("{file}.parquet")));
        let kv: serde_json::Value = serde_json::from_str(&t.kv["tiering.run"]).unwrap();
        assert_eq!(kv, run, "{file}");
        assert!(t.kv.contains_key("ARROW:schema"), "{file}");
    }
}

#[test]
fn as_of_on_the_command_line_overrides_the_file() {
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("out");
    run_ok(
        &fixture("basic/pipeline.toml"),
        &out,
        &["--as-of", "2024-03-01"],
    );
    let t = read_parquet(&out.join("customers.parquet"));
    // B's purchases are on 2024-03-01 itself: not before as_of, so B is not graded.
    assert_eq!(
        t.strs("customer_id"),
        vec![Some("17850".into()), Some("A".into())]
    );
    let a = t.row_of("A");
    assert_eq!(
        t.i64s("recency_days")[a],
        Some(10),
        "2024-02-20 -> 2024-03-01"
    );
    close(t.f64s("monetary")[a], Some(90.0), "50 + 50 - 10");
    let run: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(out.join("run.json")).unwrap()).unwrap();
    assert_eq!(run["as_of_source"], "command line");
    assert!(run["history"].is_null());
}

#[test]
fn bom_and_month_first_dates_with_line_profit() {
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("out");
    run_ok(&fixture("bom_mdy/pipeline.toml"), &out, &[]);
    let t = read_parquet(&out.join("customers.parquet"));
    assert_eq!(t.rows(), 2);
    let a = t.row_of("AA-1");
    // as_of defaults to the day after the last transaction: 2024-02-16.
    assert_eq!(t.i64s("recency_days")[a], Some(1));
    assert_eq!(
        t.i64s("frequency")[a],
        Some(2),
        "no invoice column: distinct purchase days"
    );
    close(t.f64s("monetary")[a], Some(180.0), "AA-1 monetary");
    close(t.f64s("profit")[a], Some(21.0), "20 - 5 + 6");
    assert_eq!(t.i64s("tenure_days")[a], Some(42));
    close(
        t.f64s("mean_days_between_purchases")[a],
        Some(41.0),
        "AA-1 between",
    );
    assert_eq!(
        t.strs("main_region")[a].as_deref(),
        Some("West"),
        "West 100 > East 80"
    );
    let b = t.row_of("BB-2");
    assert_eq!(t.dates("last_purchase")[b].as_deref(), Some("2023-12-30"));
    assert_eq!(t.i64s("recency_days")[b], Some(48));
    close(t.f64s("margin")[b], Some(0.25), "BB-2 margin");
    let run: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(out.join("run.json")).unwrap()).unwrap();
    assert_eq!(run["date_formats"][0][1], "%m/%d/%Y");
}

#[test]
fn latin1_semicolons_and_decimal_commas() {
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("out");
    run_ok(&fixture("latin1/pipeline.toml"), &out, &[]);
    let t = read_parquet(&out.join("customers.parquet"));
    let k1 = t.row_of("K1");
    close(t.f64s("monetary")[k1], Some(1334.5), "1.234,50 + 100,00");
    assert_eq!(t.strs("main_region")[k1].as_deref(), Some("Zürich"));
    assert_eq!(t.i64s("tenure_days")[k1], Some(8), "03.02. -> as_of 11.02.");
    let k2 = t.row_of("K2");
    close(t.f64s("monetary")[k2], Some(10.25), "10,25");
    assert_eq!(t.i64s("recency_days")[k2], Some(6));
}

#[test]
fn generate_is_deterministic_and_runs_through_the_pipeline() {
    let dir = tempfile::tempdir().unwrap();
    let a = dir.path().join("a.parquet");
    let b = dir.path().join("b.parquet");
    for p in [&a, &b] {
        let o = tiering(&[
            "generate",
            "--customers",
            "50",
            "--seed",
            "3",
            "--out",
            p.to_str().unwrap(),
            "--master",
            p.with_extension("master.csv").to_str().unwrap(),
            "-q",
        ]);
        assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    }
    let (ta, tb) = (read_parquet(&a), read_parquet(&b));
    assert_eq!(ta.batch, tb.batch);
    let master = std::fs::read_to_string(a.with_extension("master.csv")).unwrap();
    assert_eq!(
        master,
        std::fs::read_to_string(b.with_extension("master.csv")).unwrap()
    );
    assert!(master.starts_with(
        "customer_no,credit_rating,credit_score,debt_ratio,credit_limit,industry,key_account\n"
    ));
    assert!(ta.rows() > 200, "{} rows", ta.rows());
    let pipeline = dir.path().join("gen.toml");
    std::fs::write(
        &pipeline,
        std::fs::read_to_string(root().join("pipelines/default.toml"))
            .unwrap()
            .replace("../notebooks-data/transactions.csv", "a.parquet")
            .replace("../notebooks-data/customers.csv", "a.master.csv"),
    )
    .unwrap();
    let out = dir.path().join("out");
    run_ok(&pipeline, &out, &[]);
    let t = read_parquet(&out.join("customers.parquet"));
    assert!(t.rows() > 30 && t.rows() <= 50, "{} customers", t.rows());
}

/// The same lines in date order and shuffled (each invoice's lines apart) give the same
/// outputs: every table of a history run with four as-of dates. Sums add up in input order,
/// so floats may differ in their last bits: they are compared to 1e-9 relative, everything
/// else exactly.
#[test]
fn input_order_does_not_change_the_outputs() {
    let dir = tempfile::tempdir().unwrap();
    let mut outs = Vec::new();
    for order in ["date", "shuffled"] {
        let data = dir.path().join(format!("{order}.csv"));
        let o = tiering(&[
            "generate",
            "--customers",
            "400",
            "--seed",
            "5",
            "--order",
            order,
            "--out",
            data.to_str().unwrap(),
            "--master",
            dir.path()
                .join(format!("{order}-master.csv"))
                .to_str()
                .unwrap(),
            "-q",
        ]);
        assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
        let pipeline = dir.path().join(format!("{order}.toml"));
        std::fs::write(
            &pipeline,
            std::fs::read_to_string(root().join("pipelines/default.toml"))
                .unwrap()
                .replace(
                    "../notebooks-data/transactions.csv",
                    &format!("{order}.csv"),
                )
                .replace(
                    "../notebooks-data/customers.csv",
                    &format!("{order}-master.csv"),
                ),
        )
        .unwrap();
        let out = dir.path().join(format!("out-{order}"));
        run_ok(
            &pipeline,
            &out,
            &["--as-of", "2025-04-01,2025-07-01,2025-10-01,2026-01-01"],
        );
        outs.push(out);
    }
    assert_eq!(names_in(&outs[0]), names_in(&outs[1]));
    let tables: Vec<String> = names_in(&outs[0])
        .into_iter()
        .filter(|n| n.ends_with(".parquet"))
        .collect();
    for table in [
        "customers",
        "tiers",
        "tier_history",
        "movements",
        "stability",
    ] {
        assert!(tables.contains(&format!("{table}.parquet")), "{tables:?}");
    }
    for f in &tables {
        let (a, b) = (
            read_parquet(&outs[0].join(f)),
            read_parquet(&outs[1].join(f)),
        );
        assert_eq!(a.names(), b.names(), "{f}");
        assert_eq!(a.rows(), b.rows(), "{f}");
        for (i, name) in a.names().iter().enumerate() {
            let (x, y) = (a.batch.column(i), b.batch.column(i));
            if x.data_type() == &arrow_schema::DataType::Float64 {
                for (r, (u, v)) in a.f64s(name).into_iter().zip(b.f64s(name)).enumerate() {
                    close(u, v, &format!("{f}, {name}, row {r}"));
                }
            } else {
                assert!(x.as_ref() == y.as_ref(), "{f}, {name}");
            }
        }
    }
    let history = read_parquet(&outs[0].join("tier_history.parquet"));
    assert!(history.rows() > 1000, "{} rows", history.rows());
}

// ---- bad input: each exits 1 with a message naming the file, the column and the fix ----

/// Writes a pipeline over one of the `bad/` files into `dir`.
fn bad_pipeline(dir: &Path, file: &str, extra: &str) -> std::path::PathBuf {
    let data = fixture("bad").join(file);
    let text = format!(
        "[input]\npaths = {:?}\n{extra}\n[input.columns]\ncustomer_id = \"cust\"\ndate = \"day\"\namount = \"total\"\ninvoice_id = \"inv\"\n",
        data.to_str().unwrap()
    );
    let p = dir.join("p.toml");
    std::fs::write(&p, text).unwrap();
    p
}

#[test]
fn missing_file_is_named() {
    let dir = tempfile::tempdir().unwrap();
    let p = bad_pipeline(dir.path(), "nope.csv", "");
    let err = run_err(&p, &dir.path().join("out"));
    assert!(err.contains("nope.csv does not exist"), "{err}");
}

#[test]
fn empty_and_header_only_files() {
    let dir = tempfile::tempdir().unwrap();
    let err = run_err(
        &bad_pipeline(dir.path(), "empty.csv", ""),
        &dir.path().join("out"),
    );
    assert!(err.contains("empty.csv is empty"), "{err}");
    let err = run_err(
        &bad_pipeline(dir.path(), "header_only.csv", ""),
        &dir.path().join("out"),
    );
    assert!(
        err.contains("header_only.csv has a header but no data rows"),
        "{err}"
    );
}

#[test]
fn missing_column_lists_the_columns_there_are() {
    let dir = tempfile::tempdir().unwrap();
    let err = run_err(
        &fixture_with(
            &fixture("basic/pipeline.toml"),
            dir.path(),
            "\"customer\"",
            "\"CustomerID\"",
        ),
        &dir.path().join("out"),
    );
    assert!(
        err.contains("has no column \"CustomerID\" (mapped as customer_id"),
        "{err}"
    );
    assert!(err.contains("\"invoice\", \"customer\", \"date\""), "{err}");
}

#[test]
fn unparsable_date_shows_the_value_and_the_format() {
    let dir = tempfile::tempdir().unwrap();
    let p = bad_pipeline(dir.path(), "bad_date.csv", "date_format = \"%Y-%m-%d\"");
    let err = run_err(&p, &dir.path().join("out"));
    assert!(err.contains("column \"day\""), "{err}");
    // Month 13 has the format's shape but is no real day: said so, not "unknown format".
    assert!(
        err.contains("\"2024-13-45\" is not a real date (it has the form \"%Y-%m-%d\""),
        "{err}"
    );
    // Without a format the detector finds the one the other values have.
    let p = bad_pipeline(dir.path(), "bad_date.csv", "");
    let err = run_err(&p, &dir.path().join("out"));
    assert!(
        err.contains("\"2024-13-45\" is not a real date (it has the form \"%Y-%m-%d\""),
        "{err}"
    );
}

#[test]
fn non_numeric_amount_shows_the_value() {
    let dir = tempfile::tempdir().unwrap();
    let err = run_err(
        &bad_pipeline(dir.path(), "bad_number.csv", ""),
        &dir.path().join("out"),
    );
    assert!(err.contains("bad_number.csv"), "{err}");
    assert!(err.contains("column \"total\""), "{err}");
    assert!(err.contains("not numbers, e.g. \"12 EUR\""), "{err}");
}

#[test]
fn invalid_pipeline_file_names_the_key() {
    let dir = tempfile::tempdir().unwrap();
    let p = fixture_with(
        &fixture("basic/pipeline.toml"),
        dir.path(),
        "return_invoice_prefix",
        "return_prefix",
    );
    let err = run_err(&p, &dir.path().join("out"));
    assert!(err.contains("unknown field `return_prefix`"), "{err}");
    assert!(err.contains("p.toml"), "{err}");
}

/// A run that fails late, after the large tables were written to the staging folder while it
/// went on (here grading an empty earlier snapshot), leaves the previous outputs and nothing
/// else behind.
#[test]
fn late_failure_leaves_previous_outputs_untouched() {
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("out");
    let pipeline = fixture("basic/pipeline.toml");
    run_ok(&pipeline, &out, &[]);
    let before = std::fs::read(out.join("customers.parquet")).unwrap();
    let err = run_err_with(&pipeline, &out, &["--as-of", "2020-01-01,2024-04-01"]);
    assert!(
        err.contains("grading the snapshot as of 2020-01-01"),
        "{err}"
    );
    assert_eq!(
        std::fs::read(out.join("customers.parquet")).unwrap(),
        before
    );
    assert_eq!(names_in(dir.path()), ["out"]);
}

#[test]
fn failed_run_leaves_previous_outputs_untouched() {
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("out");
    run_ok(&fixture("basic/pipeline.toml"), &out, &[]);
    let before = std::fs::read(out.join("customers.parquet")).unwrap();
    let err = run_err(&bad_pipeline(dir.path(), "bad_number.csv", ""), &out);
    assert!(err.contains("not numbers"), "{err}");
    assert_eq!(
        std::fs::read(out.join("customers.parquet")).unwrap(),
        before
    );
    let leftovers: Vec<_> = names_in(dir.path())
        .into_iter()
        .filter(|n| n.contains("tmp") || n.contains("old"))
        .collect();
    assert!(leftovers.is_empty(), "{leftovers:?}");
}

#[test]
fn help_explains_every_option() {
    let o = tiering(&["run", "--help"]);
    let help = String::from_utf8_lossy(&o.stdout);
    for opt in ["--out", "--as-of", "--quiet", "--verbose", "PIPELINE"] {
        assert!(help.contains(opt), "{opt} missing from:\n{help}");
    }
}

/// Copies a fixture's pipeline into `dir` with one text replaced (inputs stay where they are).
fn fixture_with(pipeline: &Path, dir: &Path, from: &str, to: &str) -> std::path::PathBuf {
    let text = std::fs::read_to_string(pipeline).unwrap();
    assert!(text.contains(from));
    let data_dir = pipeline.parent().unwrap();
    let text = text.replacen(from, to, 1).replace(
        "paths = \"",
        &format!("paths = \"{}/", data_dir.to_str().unwrap()),
    );
    let p = dir.join("p.toml");
    std::fs::write(&p, text).unwrap();
    p
}

// ---- rule-based tiers on tests/fixtures/tiers (values computed by hand in its pipeline.toml) ----

/// Runs the tiers fixture with `edit` applied to its pipeline text; returns tiers.parquet.
fn run_tiers(dir: &Path, edit: &dyn Fn(String) -> String) -> (Table, std::path::PathBuf) {
    let src = fixture("tiers/pipeline.toml");
    let text = edit(std::fs::read_to_string(&src).unwrap()).replace(
        "paths = \"",
        &format!("paths = \"{}/", fixture("tiers").to_str().unwrap()),
    );
    let p = dir.join("p.toml");
    std::fs::write(&p, text).unwrap();
    let out = dir.join("out");
    run_ok(&p, &out, &[]);
    (read_parquet(&out.join("tiers.parquet")), out)
}

/// The tiers fixture with another preset, its policies moved to that preset's best and last
/// tiers, and no risk downgrade (so the tiers show the cut rule alone).
fn with_preset(text: String, preset: &str, best: &str, last: &str) -> String {
    text.replace("preset = \"four_level\"", &format!("preset = \"{preset}\""))
        .replace("[policies.core]", &format!("[policies.{best}]"))
        .replace("[policies.normal]", &format!("[policies.{last}]"))
        .replace("high = 1 }", "high = 0 }")
}

/// Final tiers of P, Q, R, S, T.
fn tiers_of(t: &Table) -> Vec<String> {
    by_customer(t, t.strs("tier"))
        .into_iter()
        .map(|x| x.unwrap())
        .collect()
}

fn by_customer<T: Clone>(t: &Table, v: Vec<T>) -> Vec<T> {
    ["P", "Q", "R", "S", "T"]
        .iter()
        .map(|c| v[t.row_of(c)].clone())
        .collect()
}

#[test]
fn tiers_rfm_scores_codes_segments_and_weighted_score() {
    let dir = tempfile::tempdir().unwrap();
    let (t, out) = run_tiers(dir.path(), &|s| s);
    let s = |v: Vec<Option<String>>| {
        by_customer(&t, v)
            .into_iter()
            .map(|x| x.unwrap())
            .collect::<Vec<_>>()
    };
    assert_eq!(s(t.strs("rfm_code")), ["545", "434", "323", "212", "111"]);
    assert_eq!(
        s(t.strs("segment")),
        [
            "Champions",
            "Potential Loyalist",
            "About To Sleep",
            "Hibernating",
            "Lost"
        ]
    );
    let f = |name: &str| by_customer(&t, t.f64s(name));
    assert_eq!(
        f("comp_recency"),
        [Some(100.0), Some(75.0), Some(50.0), Some(25.0), Some(0.0)]
    );
    // S and T tie on frequency 1: average rank, 12.5 each.
    assert_eq!(
        f("comp_frequency"),
        [Some(100.0), Some(75.0), Some(50.0), Some(12.5), Some(12.5)]
    );
    assert_eq!(
        f("score"),
        [Some(100.0), Some(75.0), Some(50.0), Some(15.63), Some(9.38)]
    );

    let th = read_parquet(&out.join("rfm_thresholds.parquet"));
    assert_eq!(th.rows(), 15);
    // Recency score 5 is "up to 15 days"; monetary score 5 is "above 800".
    assert_eq!(th.strs("dimension")[4].as_deref(), Some("recency"));
    assert_eq!(th.f64s("up_to")[4], Some(15.0));
    assert_eq!(th.f64s("above")[14], Some(800.0));
    assert_eq!(
        th.i64s("customers")[5..10].to_vec(),
        [Some(2), Some(1), Some(1), Some(1), Some(0)].to_vec(),
        "frequency levels"
    );
}

#[test]
fn tiers_by_score_with_risk_downgrade_reasons_and_policies() {
    let dir = tempfile::tempdir().unwrap();
    let (t, out) = run_tiers(dir.path(), &|s| s);
    let s = |name: &str| {
        by_customer(&t, t.strs(name))
            .into_iter()
            .map(|x| x.unwrap())
            .collect::<Vec<_>>()
    };
    assert_eq!(
        s("tier_before_risk"),
        ["core", "core", "normal", "low_efficiency", "low_efficiency"]
    );
    assert_eq!(s("risk_level"), ["low", "medium", "high", "low", "low"]);
    assert_eq!(
        s("tier"),
        [
            "core",
            "core",
            "low_efficiency",
            "low_efficiency",
            "low_efficiency"
        ]
    );
    let reasons = s("reason");
    assert_eq!(reasons[0], "score 100.00 >= 75 -> core");
    assert_eq!(
        reasons[2],
        "score 50.00 >= 35 -> normal; high risk: no purchase for 60 days, 1.0x the usual 62 -> low_efficiency"
    );
    assert_eq!(reasons[4], "score 9.38 < 35 -> low_efficiency");
    assert_eq!(
        by_customer(&t, t.i64s("policy_credit_days")),
        [Some(60), Some(60), None, None, None]
    );
    let service = by_customer(&t, t.strs("policy_service"));
    assert_eq!(service[0].as_deref(), Some("dedicated account manager"));
    assert_eq!(
        service[2], None,
        "R was downgraded to low_efficiency, which has no policy"
    );

    let sum = read_parquet(&out.join("tier_summary.parquet"));
    assert_eq!(sum.strs("tier").len(), 4);
    assert_eq!(sum.i64s("customers"), [Some(2), Some(0), Some(0), Some(3)]);
    assert_eq!(
        sum.i64s("customers_before_risk"),
        [Some(2), Some(0), Some(1), Some(2)]
    );
    assert_eq!(
        sum.i64s("downgraded_into"),
        [Some(0), Some(0), Some(0), Some(1)]
    );
    assert_eq!(
        sum.f64s("revenue"),
        [Some(1500.0), Some(0.0), Some(0.0), Some(450.0)]
    );
    close(
        sum.f64s("revenue_share")[0],
        Some(1500.0 / 1950.0),
        "core revenue share",
    );
    assert_eq!(sum.f64s("mean_recency_days")[0], Some(15.0));

    let seg = read_parquet(&out.join("segment_summary.parquet"));
    let names = seg.strs("segment");
    let lost = names
        .iter()
        .position(|n| n.as_deref() == Some("Lost"))
        .unwrap();
    assert_eq!(seg.i64s("customers")[lost], Some(1));
    assert_eq!(seg.f64s("revenue")[lost], Some(50.0));
}

#[test]
fn tiers_by_population_share_keep_ties_together() {
    let dir = tempfile::tempdir().unwrap();
    let (t, _) = run_tiers(dir.path(), &|s| {
        with_preset(s, "three_level", "high", "low")
    });
    // Top 20 % of 5 customers is P; the next 30 % (up to 50 %) are Q and R.
    let tiers = tiers_of(&t);
    assert_eq!(tiers, ["high", "mid", "mid", "low", "low"]);
    let r = by_customer(&t, t.strs("reason"));
    assert_eq!(
        r[1].as_deref(),
        Some("score 75.00, 20.0% of customers score higher (mid: top 50.0%) -> mid; medium risk: no purchase for 20 days, 0.7x the usual 30")
    );
}

#[test]
fn tiers_by_cumulative_value_abc() {
    let dir = tempfile::tempdir().unwrap();
    let (t, _) = run_tiers(dir.path(), &|s| with_preset(s, "abc", "A", "C"));
    // Revenue 1000, 500, 300, 100, 50 of 1950: shares before each 0, 51.3, 76.9, 92.3, 97.4 %.
    let tiers = tiers_of(&t);
    assert_eq!(tiers, ["A", "A", "A", "B", "C"]);
    let r = by_customer(&t, t.strs("reason"));
    assert_eq!(
        r[3].as_deref(),
        Some("revenue 100.00: larger customers hold 92.3% of revenue, within the first 95.0% -> B")
    );
    assert_eq!(
        r[4].as_deref(),
        Some("revenue 50.00: larger customers hold 97.4% of revenue, beyond 95.0% -> C")
    );
}

#[test]
fn tier_config_errors_are_clear() {
    let dir = tempfile::tempdir().unwrap();
    let cases: [(&str, &str, &str); 4] = [
        (
            "frequency = 3",
            "loyalty = 3",
            "unknown component \"loyalty\"",
        ),
        (
            "frequency = 3",
            "frequency = -3",
            "must be a non-negative number",
        ),
        (
            "preset = \"four_level\"",
            "preset = \"four_level\"\nscore_cuts = [50, 60, 20]",
            "score_cuts overlap",
        ),
        (
            "[policies.normal]",
            "[policies.gold]",
            "[policies.gold] is not a tier",
        ),
    ];
    for (from, to, expected) in cases {
        let text = std::fs::read_to_string(fixture("tiers/pipeline.toml")).unwrap();
        assert!(text.contains(from));
        let p = dir.path().join("p.toml");
        std::fs::write(&p, text.replacen(from, to, 1)).unwrap();
        let err = run_err(&p, &dir.path().join("out"));
        assert!(err.contains(expected), "{to}: {err}");
    }
}

// ---- clustering, comparison, charts and the report on generated data ----

/// Generates `customers` customers into `dir` and writes the default pipeline over them with
/// `edit` applied; returns the pipeline path.
fn generated_pipeline(
    dir: &Path,
    customers: usize,
    edit: &dyn Fn(String) -> String,
) -> std::path::PathBuf {
    let data = dir.join("tx.parquet");
    if !data.exists() {
        let o = tiering(&[
            "generate",
            "--customers",
            &customers.to_string(),
            "--seed",
            "11",
            "--out",
            data.to_str().unwrap(),
            "--master",
            dir.join("master.csv").to_str().unwrap(),
            "-q",
        ]);
        assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    }
    let text = std::fs::read_to_string(root().join("pipelines/default.toml"))
        .unwrap()
        .replace("../notebooks-data/transactions.csv", "tx.parquet")
        .replace("../notebooks-data/customers.csv", "master.csv");
    let p = dir.join("gen.toml");
    std::fs::write(&p, edit(text)).unwrap();
    p
}

#[test]
fn clusters_are_numbered_by_value_whatever_the_seed_and_sampling_assigns_everyone() {
    let dir = tempfile::tempdir().unwrap();
    let run = |seed: u64, out: &str| -> (Table, serde_json::Value) {
        let p = generated_pipeline(dir.path(), 300, &|s| {
            s.replace("seed = 42", &format!("seed = {seed}\nfit_sample = 100"))
        });
        let out = dir.path().join(out);
        run_ok(&p, &out, &[]);
        let meta: serde_json::Value =
            serde_json::from_str(&std::fs::read_to_string(out.join("run.json")).unwrap()).unwrap();
        (read_parquet(&out.join("clusters.parquet")), meta)
    };
    let (a, meta) = run(1, "a");
    let customers = meta["customers"].as_u64().unwrap() as usize;
    assert_eq!(a.rows(), customers, "every customer gets a cluster");
    assert_eq!(meta["clustering"]["sampled"], true);
    assert_eq!(meta["clustering"]["fit_rows"], 100);
    let clusters: Vec<i32> = a
        .batch
        .column_by_name("cluster")
        .unwrap()
        .as_any()
        .downcast_ref::<arrow_array::Int32Array>()
        .unwrap()
        .values()
        .to_vec();
    assert!(clusters.iter().all(|c| (1..=3).contains(c)));
    assert_eq!(
        a.strs("cluster_tier")[clusters.iter().position(|c| *c == 1).unwrap()].as_deref(),
        Some("A")
    );
    let (b, _) = run(2, "b");
    assert_eq!(a.strs("customer_id"), b.strs("customer_id"));
    // Seeds change the k-means++ starts, not the numbering by value: clusters 1..3 keep meaning
    // "most valuable .. least"; the two runs must agree on at least 95 % of customers.
    let cb: Vec<i32> = b
        .batch
        .column_by_name("cluster")
        .unwrap()
        .as_any()
        .downcast_ref::<arrow_array::Int32Array>()
        .unwrap()
        .values()
        .to_vec();
    let same = clusters.iter().zip(&cb).filter(|(x, y)| x == y).count();
    assert!(same * 100 >= customers * 95, "{same} of {customers} agree");

    let profiles = read_parquet(&dir.path().join("a/cluster_profiles.parquet"));
    let m = profiles.f64s("mean_monetary");
    assert!(
        m[0] > m[1] && m[1] > m[2],
        "cluster 1 is the most valuable: {m:?}"
    );
    let centroids = read_parquet(&dir.path().join("a/centroids.parquet"));
    assert!(centroids.names().contains(&"monetary_scaled".to_string()));
}

#[test]
fn comparison_charts_and_report_link_up() {
    let dir = tempfile::tempdir().unwrap();
    let p = generated_pipeline(dir.path(), 200, &|s| {
        s.replace(
            "\nk = 3\nk_range = [2, 8]",
            "\nk = \"auto\"\nk_range = [2, 4]",
        )
    });
    let out = dir.path().join("out");
    run_ok(&p, &out, &[]);
    let cmp = read_parquet(&out.join("comparison.parquet"));
    let metrics = cmp.strs("metric");
    for m in ["adjusted_rand_index", "normalized_mutual_info", "clusters"] {
        assert!(
            metrics.iter().any(|x| x.as_deref() == Some(m)),
            "{m} missing: {metrics:?}"
        );
    }
    let ks = read_parquet(&out.join("k_selection.parquet"));
    assert_eq!(ks.rows(), 3, "k = 2, 3, 4 scored");
    let chosen: Vec<bool> = ks
        .batch
        .column_by_name("chosen")
        .unwrap()
        .as_any()
        .downcast_ref::<arrow_array::BooleanArray>()
        .unwrap()
        .iter()
        .map(|b| b.unwrap())
        .collect();
    assert_eq!(chosen.iter().filter(|c| **c).count(), 1);
    let crosstab = read_parquet(&out.join("crosstab.parquet"));
    let total: i64 = crosstab.i64s("customers").iter().map(|v| v.unwrap()).sum();
    let customers = read_parquet(&out.join("customers.parquet")).rows() as i64;
    assert_eq!(total, customers, "the crosstab counts every customer once");

    let html = std::fs::read_to_string(out.join("report.html")).unwrap();
    // In the order of the page: key figures, the tier picture, segments, potential, alerts,
    // clusters against rules, history, data quality, the run's provenance.
    let ids = [
        "key-figures",
        "tiers",
        "segments",
        "potential",
        "alerts",
        "clusters",
        "history",
        "quality",
        "run",
    ];
    let at: Vec<usize> = ids
        .iter()
        .map(|id| {
            html.find(&format!("id={id}>"))
                .unwrap_or_else(|| panic!("section {id} missing"))
        })
        .collect();
    assert!(
        at.windows(2).all(|w| w[0] < w[1]),
        "sections out of order: {at:?}"
    );
    // Each chart sits in the section of the table it explains.
    let section_of = |chart: &str| {
        let pos = html
            .find(&format!("id=\"chart-{chart}\""))
            .unwrap_or_else(|| panic!("chart {chart} missing"));
        ids[at.iter().rposition(|a| *a < pos).unwrap()]
    };
    for (chart, section) in [
        ("tier_sizes", "tiers"),
        ("pareto", "tiers"),
        ("segments", "segments"),
        ("rfm_heatmap", "segments"),
        ("tier_cluster_heatmap", "clusters"),
        ("k_selection", "clusters"),
        ("recency_monetary", "clusters"),
        ("tier_sizes_over_time", "history"),
        ("migration_heatmap", "history"),
    ] {
        assert_eq!(section_of(chart), section, "{chart}");
    }
    // Every chart the report links exists, as PNG and SVG, and every PNG is in the report.
    let linked: Vec<&str> = html
        .split("href=\"charts/")
        .skip(1)
        .map(|s| s.split('"').next().unwrap())
        .collect();
    // The default pipeline also runs a quarterly history: 9 charts, each PNG and SVG.
    assert_eq!(linked.len(), 18, "{linked:?}");
    for f in &linked {
        let bytes = std::fs::read(out.join("charts").join(f)).unwrap();
        if f.ends_with(".png") {
            assert_eq!(&bytes[..4], b"\x89PNG");
        } else {
            assert!(bytes.starts_with(b"<svg"), "{f}");
        }
    }
    assert!(
        !html.contains("http://") && !html.contains("https://") && !html.contains("src=\"charts/"),
        "no network references, every image embedded"
    );
    assert_eq!(html.matches("data:image/png;base64,").count(), 9);
    // Key figures: the customers graded as in run.json, the alerts by severity as counted in
    // alerts.parquet.
    let meta: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(out.join("run.json")).unwrap()).unwrap();
    let graded = meta["customers"].as_u64().unwrap();
    assert!(
        html.contains(&format!(
            "<span class=v>{}</span><span class=l>customers graded</span>",
            thousands(graded)
        )),
        "customers graded"
    );
    let severity = read_parquet(&out.join("alerts.parquet")).strs("severity");
    let mut counts: Vec<(String, u64)> = Vec::new();
    for s in severity.into_iter().flatten() {
        match counts.iter_mut().find(|(k, _)| *k == s) {
            Some((_, n)) => *n += 1,
            None => counts.push((s, 1)),
        }
    }
    assert_eq!(counts[0].0, "high", "most urgent first");
    let alerts = counts
        .iter()
        .map(|(s, n)| format!("{} {s}", thousands(*n)))
        .collect::<Vec<_>>()
        .join(" · ");
    assert!(
        html.contains(&format!(
            "<span class=v>{alerts}</span><span class=l>alerts</span>"
        )),
        "{alerts}"
    );
}

/// 1234567 as "1,234,567".
fn thousands(n: u64) -> String {
    let s = n.to_string();
    let mut out = String::new();
    for (i, ch) in s.chars().enumerate() {
        if i > 0 && (s.len() - i).is_multiple_of(3) {
            out.push(',');
        }
        out.push(ch);
    }
    out
}

#[test]
fn charts_can_be_switched_off() {
    let dir = tempfile::tempdir().unwrap();
    let p = generated_pipeline(dir.path(), 60, &|s| {
        s.replace("enabled = true\nmax_points", "enabled = false\nmax_points")
    });
    let out = dir.path().join("out");
    run_ok(&p, &out, &[]);
    assert!(!out.join("charts").exists());
    assert!(
        out.join("report.html").exists(),
        "the report still has its tables"
    );
}

// ---- tiers over time on tests/fixtures/history (expected grades in its pipeline.toml) ----

#[test]
fn history_tracks_upgrades_downgrades_new_and_departed_customers() {
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("out");
    run_ok(&fixture("history/pipeline.toml"), &out, &[]);
    let run: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(out.join("run.json")).unwrap()).unwrap();
    assert_eq!(run["as_of_source"], "pipeline file [history] as_of");
    assert_eq!(
        run["history"]["as_of_sources"],
        serde_json::json!([
            "pipeline file [history] as_of",
            "pipeline file [history] as_of",
            "pipeline file [history] as_of"
        ])
    );
    let h = read_parquet(&out.join("tier_history.parquet"));
    assert_eq!(h.rows(), 12, "4 customers at each of 3 dates");
    let rows: Vec<(String, String, String, f64)> = (0..h.rows())
        .map(|i| {
            (
                h.dates("as_of")[i].clone().unwrap(),
                h.strs("customer_id")[i].clone().unwrap(),
                h.strs("tier")[i].clone().unwrap(),
                h.f64s("monetary")[i].unwrap(),
            )
        })
        .collect();
    let find = |d: &str, c: &str| {
        rows.iter()
            .find(|r| r.0 == d && r.1 == c)
            .map(|r| (r.2.as_str(), r.3))
    };
    assert_eq!(
        find("2024-02-01", "U"),
        Some(("low", 10.0)),
        "U's later purchases are not seen"
    );
    assert_eq!(find("2024-02-01", "L"), Some(("mid", 50.0)));
    assert_eq!(find("2024-02-01", "D"), Some(("high", 100.0)));
    assert_eq!(find("2024-03-01", "U"), Some(("high", 100.0)));
    assert_eq!(find("2024-03-01", "D"), Some(("low", 10.0)));
    assert_eq!(find("2024-03-01", "N"), Some(("mid", 50.0)));
    assert_eq!(
        find("2024-03-01", "L"),
        None,
        "no purchase in the window: left"
    );
    assert_eq!(find("2024-04-01", "S"), Some(("high", 60.0)));
    assert!(
        rows.iter().all(|r| r.1 != "X"),
        "a snapshot never sees a later transaction"
    );

    let m = read_parquet(&out.join("migration.parquet"));
    let mut first: Vec<(String, String, i64, f64)> = (0..m.rows())
        .filter(|i| m.dates("from_as_of")[*i].as_deref() == Some("2024-02-01"))
        .map(|i| {
            (
                m.strs("from_tier")[i].clone().unwrap(),
                m.strs("to_tier")[i].clone().unwrap(),
                m.i64s("customers")[i].unwrap(),
                m.f64s("revenue")[i].unwrap(),
            )
        })
        .collect();
    first.sort_by_key(|a| (a.0.clone(), a.1.clone()));
    assert_eq!(
        first,
        vec![
            ("high".into(), "high".into(), 1, 60.0),
            ("high".into(), "low".into(), 1, 10.0),
            ("low".into(), "high".into(), 1, 100.0),
            ("mid".into(), "left".into(), 1, 50.0),
            ("new".into(), "mid".into(), 1, 50.0),
        ]
    );

    let s = read_parquet(&out.join("stability.parquet"));
    assert_eq!(s.i64s("customers_in_both"), [Some(3), Some(4)]);
    assert_eq!(s.i64s("kept_tier"), [Some(1), Some(4)]);
    close(s.f64s("stability")[0], Some(1.0 / 3.0), "first pair");
    assert_eq!(s.f64s("stability")[1], Some(1.0));
    assert_eq!(s.i64s("upgrades"), [Some(1), Some(0)]);
    assert_eq!(s.i64s("downgrades"), [Some(1), Some(0)]);
    assert_eq!(s.i64s("new"), [Some(1), Some(0)]);
    assert_eq!(s.i64s("left"), [Some(1), Some(0)]);

    let mv = read_parquet(&out.join("movements.parquet"));
    assert_eq!(mv.rows(), 4);
    let get = |c: &str| {
        let i = mv
            .strs("customer_id")
            .iter()
            .position(|x| x.as_deref() == Some(c))
            .unwrap();
        (
            mv.strs("direction")[i].clone().unwrap(),
            mv.strs("reason")[i].clone().unwrap(),
        )
    };
    let (dir_u, why_u) = get("U");
    assert_eq!(dir_u, "up");
    // Monetary cut points at 2024-02-01 are 34, 52, 58, 76 and at 2024-03-01 the same values,
    // so U goes from monetary score 1 to 5 (and D the other way).
    assert!(
        why_u.starts_with("score 0.00 -> 100.00; revenue 10.00 -> 100.00"),
        "{why_u}"
    );
    assert!(why_u.contains("monetary 1 -> 5"), "{why_u}");
    assert_eq!(get("D").0, "down");
    assert!(get("D").1.contains("monetary 5 -> 1"));
    assert_eq!(
        get("N"),
        (
            "new".into(),
            "first graded at 2024-03-01: score 33.33".into()
        )
    );
    assert_eq!(
        get("L"),
        (
            "left".into(),
            "no purchase in the window at the later date".into()
        )
    );

    for f in ["migration_heatmap.png", "tier_sizes_over_time.svg"] {
        assert!(out.join("charts").join(f).exists(), "{f}");
    }
    let run: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(out.join("run.json")).unwrap()).unwrap();
    assert_eq!(run["as_of"], "2024-04-01");
    assert_eq!(run["history"]["as_of"][0], "2024-02-01");
}

#[test]
fn as_of_list_on_the_command_line_runs_a_history() {
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("out");
    run_ok(
        &fixture("history/pipeline.toml"),
        &out,
        &["--as-of", "2024-03-01,2024-04-01"],
    );
    let s = read_parquet(&out.join("stability.parquet"));
    assert_eq!(s.rows(), 1);
    assert_eq!(s.dates("from_as_of")[0].as_deref(), Some("2024-03-01"));
    // Both dates came from the command line, the graded one too (the file's history lists
    // others).
    let run: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(out.join("run.json")).unwrap()).unwrap();
    assert_eq!(run["as_of"], "2024-04-01");
    assert_eq!(run["as_of_source"], "command line");
    assert_eq!(
        run["history"]["as_of_sources"],
        serde_json::json!(["command line", "command line"])
    );
    let err = tiering(&[
        "run",
        fixture("history/pipeline.toml").to_str().unwrap(),
        "--as-of",
        "2024-04-01,2024-03-01",
        "-q",
    ]);
    assert!(!err.status.success());
    assert!(String::from_utf8_lossy(&err.stderr).contains("strictly ascending"));
}

#[test]
fn bench_prints_every_stage_with_rows_per_second_and_memory() {
    let dir = tempfile::tempdir().unwrap();
    let o = tiering(&[
        "bench",
        "--rows",
        "3000",
        "--dir",
        dir.path().to_str().unwrap(),
    ]);
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    let table = String::from_utf8_lossy(&o.stdout);
    for stage in [
        "load+features",
        "tiers",
        "k-means",
        "compare",
        "charts",
        "writing",
        "**total**",
        "(generate input)",
    ] {
        assert!(
            table.contains(&format!("| {stage} |")),
            "{stage} missing:\n{table}"
        );
    }
    assert!(
        table.contains("| peak RSS MiB | peak anon MiB |"),
        "{table}"
    );
    // The total row: resident and anonymous peaks, both measured (not zero), anonymous
    // memory part of the resident set.
    let total = table
        .lines()
        .find(|l| l.contains("| **total** |"))
        .expect("a total row");
    let peaks: Vec<f64> = total
        .split('|')
        .map(|c| c.trim().trim_matches('*'))
        .filter(|c| !c.is_empty())
        .skip(5)
        .map(|c| c.parse().unwrap())
        .collect();
    assert_eq!(peaks.len(), 2, "{total}");
    assert!(peaks[1] > 1.0 && peaks[1] <= peaks[0], "{total}");
    assert!(dir.path().join("tx-3000.parquet").exists());
    assert!(dir.path().join("out-3000/report.html").exists());
}

#[test]
fn tiers_can_be_written_hive_partitioned_by_tier() {
    let dir = tempfile::tempdir().unwrap();
    // run_tiers reads tiers.parquet, which a partitioned run does not write: run by hand.
    let text = std::fs::read_to_string(fixture("tiers/pipeline.toml"))
        .unwrap()
        .replace(
            "paths = \"",
            &format!("paths = \"{}/", fixture("tiers").to_str().unwrap()),
        )
        + "\n[output]\npartition_by = \"tier\"\n";
    let p = dir.path().join("p.toml");
    std::fs::write(&p, text).unwrap();
    let out = dir.path().join("out");
    run_ok(&p, &out, &[]);
    assert!(!out.join("tiers.parquet").exists());
    let core = read_parquet(&out.join("tiers/tier=core/part-0.parquet"));
    let low = read_parquet(&out.join("tiers/tier=low_efficiency/part-0.parquet"));
    assert_eq!(
        core.strs("customer_id"),
        [Some("P".to_string()), Some("Q".to_string())]
    );
    assert_eq!(low.rows(), 3);
    assert!(
        !core.names().contains(&"tier".to_string()),
        "the partition column is in the path"
    );
    assert!(
        !out.join("tiers/tier=key").exists(),
        "empty tiers have no partition"
    );
}
