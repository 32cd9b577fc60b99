//! Runs on the real datasets in `../shared/data` (not part of the project). Ignored by default so
//! a fresh clone passes without them; `.ci/run` runs them with `--ignored` when the folder exists:
//! `cargo test --test shared_data -- --ignored`.

mod util;

use util::*;

fn shared(file: &str) -> std::path::PathBuf {
    let p = root().join("../shared/data").join(file);
    assert!(
        p.exists(),
        "{} is missing; these tests need ../shared/data",
        p.display()
    );
    p
}

#[test]
#[ignore = "needs ../shared/data"]
fn online_retail_counts_match_the_dataset_readme() {
    shared("online_retail_I.csv");
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("out");
    run_ok(&root().join("pipelines/online_retail.toml"), &out, &[]);
    let run: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(out.join("run.json")).unwrap()).unwrap();
    assert_eq!(run["rows_read"], 541_909);
    assert_eq!(run["inputs"][0]["duplicates"], 5_268);
    assert_eq!(run["as_of"], "2011-12-10");
    let q = read_parquet(&out.join("data_quality.parquet"));
    let steps = q.strs("step");
    let rows = q.i64s("rows");
    let count = |s: &str| rows[steps.iter().position(|x| x.as_deref() == Some(s)).unwrap()];
    // 135,080 lines have no CustomerID; 43 of them are among the exact duplicates.
    assert_eq!(count("missing_customer_id"), Some(135_037));
    assert_eq!(count("kept"), Some(401_476));
    let t = read_parquet(&out.join("customers.parquet"));
    assert_eq!(
        t.rows(),
        4_338,
        "the customer count usual in RFM studies of this data"
    );
    let i = t.row_of("17850");
    assert_eq!(t.strs("main_region")[i].as_deref(), Some("United Kingdom"));
}

#[test]
#[ignore = "needs ../shared/data"]
fn superstore_bom_dates_and_profit() {
    shared("superstore_classic.csv");
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("out");
    run_ok(&root().join("pipelines/superstore.toml"), &out, &[]);
    let t = read_parquet(&out.join("customers.parquet"));
    assert_eq!(t.rows(), 793);
    let profit: f64 = t.f64s("profit").iter().map(|v| v.unwrap()).sum();
    let sales: f64 = t.f64s("monetary").iter().map(|v| v.unwrap()).sum();
    // Totals of the published Superstore sample.
    assert!((sales - 2_297_200.86).abs() < 1.0, "sales {sales}");
    assert!((profit - 286_397.02).abs() < 1.0, "profit {profit}");
}

#[test]
#[ignore = "needs ../shared/data"]
fn cdnow_fixtures_are_the_published_files() {
    // The tests on the potential models read copies in tests/fixtures/cdnow, so that they
    // run without ../shared/data; the copies must be the published files.
    for file in ["cdnow_sample.csv", "cdnow_sample_summary.csv"] {
        let published = std::fs::read(shared(file)).unwrap();
        let copy = std::fs::read(fixture("cdnow").join(file)).unwrap();
        assert!(
            published == copy,
            "tests/fixtures/cdnow/{file} differs from ../shared/data/{file}"
        );
    }
}

#[test]
#[ignore = "needs ../shared/data"]
fn online_retail_potential_fits_and_validates() {
    // The models on real retail data: both converge, and the holdout check of the last
    // quarter runs.
    let data = shared("online_retail_I.csv");
    let dir = tempfile::tempdir().unwrap();
    let text = std::fs::read_to_string(root().join("pipelines/online_retail.toml"))
        .unwrap()
        .replace(
            "\"../../shared/data/online_retail_I.csv\"",
            &format!("{:?}", data.display().to_string()),
        )
        + "\n[potential]\ntime_unit = \"week\"\n";
    let pipeline = dir.path().join("online_retail.toml");
    std::fs::write(&pipeline, &text).unwrap();
    let out = dir.path().join("out");
    let o = tiering(&[
        "validate",
        pipeline.to_str().unwrap(),
        "--holdout-from",
        "2011-09-01",
        "--out",
        out.to_str().unwrap(),
        "--quiet",
    ]);
    let ran = run_ok(&pipeline, &dir.path().join("run"), &[]);
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    assert!(ran.status.success());
    let run: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(dir.path().join("run/run.json")).unwrap())
            .unwrap();
    assert_eq!(
        run["potential"]["bgnbd"]["converged"], true,
        "{}",
        run["potential"]
    );
    assert_eq!(
        run["potential"]["gamma_gamma"]["converged"], true,
        "{}",
        run["potential"]
    );
    let v: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(out.join("run.json")).unwrap()).unwrap();
    let mae = v["validation"]["mean_absolute_error"].as_f64().unwrap();
    assert!(mae.is_finite() && mae < 2.0, "{mae}");
}
