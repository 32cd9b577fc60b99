//! The potential dimension end to end: the CDNOW sample through the pipeline against the
//! published summary and fits, the hard cases, the value-by-potential tiers and the holdout
//! check.

use std::collections::HashMap;
use std::path::Path;

use crate::util::*;

fn run_json(out: &Path) -> serde_json::Value {
    serde_json::from_str(&std::fs::read_to_string(out.join("run.json")).unwrap()).unwrap()
}

/// The published summary, keyed by the transactions' customer ID: (x, t_x, T, zbar).
fn cdnow_summary() -> HashMap<String, (i64, f64, f64, f64)> {
    let dir = fixture("cdnow");
    // The summary's ID is the transactions' customer_index.
    let tx = std::fs::read_to_string(dir.join("cdnow_sample.csv")).unwrap();
    let mut id_of: HashMap<i64, String> = HashMap::new();
    for line in tx.lines().skip(1) {
        let f: Vec<&str> = line.split(',').collect();
        id_of.insert(f[1].parse().unwrap(), f[0].to_string());
    }
    let text = std::fs::read_to_string(dir.join("cdnow_sample_summary.csv")).unwrap();
    text.lines()
        .skip(1)
        .map(|l| {
            let f: Vec<f64> = l.split(',').map(|v| v.parse().unwrap()).collect();
            (
                id_of[&(f[0] as i64)].clone(),
                (f[1] as i64, f[2], f[3], f[4]),
            )
        })
        .collect()
}

fn round2(v: f64) -> f64 {
    (v * 100.0).round() / 100.0
}

/// (x, t_x, T, zbar) of every customer of potential.parquet.
fn summaries(out: &Path) -> HashMap<String, (i64, f64, f64, Option<f64>)> {
    let t = read_parquet(&out.join("potential.parquet"));
    let (ids, x, tx, tt, zbar) = (
        t.strs("customer_id"),
        t.i64s("x"),
        t.f64s("t_x"),
        t.f64s("T"),
        t.f64s("zbar"),
    );
    (0..t.rows())
        .map(|i| {
            (
                ids[i].clone().unwrap(),
                (x[i].unwrap(), tx[i].unwrap(), tt[i].unwrap(), zbar[i]),
            )
        })
        .collect()
}

#[test]
fn cdnow_through_the_pipeline_rebuilds_the_published_summary_and_fits() {
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("out");
    run_ok(&fixture("cdnow/pipeline.toml"), &out, &[]);
    let want = cdnow_summary();
    let got = summaries(&out);
    assert_eq!(got.len(), 2357);
    for (id, (x, tx, tt, zbar)) in &want {
        let (gx, gtx, gtt, gz) = got[id];
        assert_eq!(
            (gx, round2(gtx), round2(gtt)),
            (*x, *tx, *tt),
            "customer {id}"
        );
        if *x > 0 {
            let gz = gz.unwrap();
            assert!(
                (gz - zbar).abs() <= 0.005 + 1e-9,
                "{id}: zbar {gz} against {zbar}"
            );
        } else {
            assert_eq!(gz, None, "{id}");
        }
    }
    let run = run_json(&out);
    let p = &run["potential"];
    assert_eq!(p["time_unit"], "week");
    assert_eq!(p["horizon"], 39);
    let b = &p["bgnbd"];
    for (k, v) in [
        ("r", 0.2426),
        ("alpha", 4.4136),
        ("a", 0.7929),
        ("b", 2.4259),
    ] {
        let got = b[k].as_f64().unwrap();
        assert!((got - v).abs() <= 0.001, "{k} = {got}");
    }
    assert!((b["log_likelihood"].as_f64().unwrap() + 9582.43).abs() <= 0.01);
    assert_eq!(b["converged"], true);
    let g = &p["gamma_gamma"];
    for (k, v) in [("p", 6.25), ("q", 3.74), ("v", 15.44)] {
        let got = g[k].as_f64().unwrap();
        assert!((got - v).abs() <= 0.01, "{k} = {got}");
    }
    assert_eq!(p["spend_customers"], 946);

    // The published conditional expectation, through the whole run: customer 1 of the
    // summary (x = 2, t_x = 30.43, T = 38.86) expects 1.226 purchases in the 39 weeks ahead.
    let t = read_parquet(&out.join("potential.parquet"));
    let row = t.row_of("00004");
    let e = t.f64s("expected_purchases")[row].unwrap();
    assert!((e - 1.226).abs() < 0.002, "{e}");
    // Lifetime value = discounted expected purchases times expected spend: below the
    // undiscounted product, above it discounted by the whole horizon at once.
    let spend = t.f64s("expected_spend")[row].unwrap();
    let clv = t.f64s("clv")[row].unwrap();
    let horizon_discount = 1.1f64.powf(-39.0 * 7.0 / 365.25);
    assert!(
        clv < e * spend && clv > e * spend * horizon_discount,
        "{clv}"
    );
    // tiers.parquet carries p_alive and clv beside the features.
    let tiers = read_parquet(&out.join("tiers.parquet"));
    let r = tiers.row_of("00004");
    close(tiers.f64s("clv")[r], Some(clv), "clv in tiers.parquet");
}

#[test]
fn zero_value_lines_are_purchase_days_only_when_kept() {
    // Dropped by the default cleaning, the 0.00 lines of the calibration period no longer
    // count as purchase days: exactly the customers with such a line on a day of its own
    // change their summary.
    let dir = tempfile::tempdir().unwrap();
    let text = std::fs::read_to_string(fixture("cdnow/pipeline.toml"))
        .unwrap()
        .replace("nonpositive_price = \"keep\"", "")
        .replace(
            "cdnow_sample.csv",
            &fixture("cdnow/cdnow_sample.csv").display().to_string(),
        );
    let pipeline = dir.path().join("p.toml");
    std::fs::write(&pipeline, text).unwrap();
    let out = dir.path().join("out");
    run_ok(&pipeline, &out, &[]);
    let want = cdnow_summary();
    let got = summaries(&out);
    let differ = want
        .iter()
        .filter(|(id, (x, tx, tt, _))| {
            got.get(*id)
                .is_none_or(|(gx, gtx, gtt, _)| (gx, round2(*gtx), round2(*gtt)) != (x, *tx, *tt))
        })
        .count();
    assert_eq!(differ, 8);
}

/// A pipeline over `lines` (customer,date,amount) with `[potential]` and `extra` sections.
fn tiny(dir: &Path, lines: &[&str], extra: &str) -> std::path::PathBuf {
    std::fs::write(
        dir.join("tx.csv"),
        format!("customer,date,amount\n{}\n", lines.join("\n")),
    )
    .unwrap();
    let pipeline = dir.join("p.toml");
    std::fs::write(
        &pipeline,
        format!(
            "name = \"t\"\n[input]\npaths = \"tx.csv\"\n[input.columns]\ncustomer_id = \"customer\"\ndate = \"date\"\namount = \"amount\"\n[features]\nas_of = \"2024-03-01\"\n[clustering]\nenabled = false\n[potential]\n{extra}\n"
        ),
    )
    .unwrap();
    pipeline
}

/// Every value of potential.parquet's float columns is a number or empty, never NaN.
fn no_nan(out: &Path) {
    let t = read_parquet(&out.join("potential.parquet"));
    for name in [
        "t_x",
        "T",
        "zbar",
        "p_alive",
        "expected_purchases",
        "expected_spend",
        "clv",
        "growth",
    ] {
        assert!(
            t.f64s(name).iter().flatten().all(|v| v.is_finite()),
            "{name}"
        );
    }
}

#[test]
fn hard_cases_are_notes_never_nan() {
    let cases: [(&str, &[&str], &str); 3] = [
        (
            "one customer",
            &["c1,2024-01-05,10", "c1,2024-02-01,20"],
            "at least two customers",
        ),
        (
            "every customer bought on one day",
            &[
                "c1,2024-01-05,10",
                "c2,2024-01-05,20",
                "c3,2024-02-10,5",
                "c3,2024-02-10,7",
            ],
            "no customer bought on two different days",
        ),
        (
            "one repeat buyer: no spend model",
            &["c1,2024-01-05,10", "c1,2024-01-20,20", "c2,2024-02-29,5"],
            "spend model (Gamma-Gamma) needs at least two customers",
        ),
    ];
    for (what, lines, note) in cases {
        let dir = tempfile::tempdir().unwrap();
        let out = dir.path().join("out");
        run_ok(&tiny(dir.path(), lines, ""), &out, &[]);
        let run = run_json(&out);
        let notes = run["notes"].to_string();
        assert!(notes.contains(note), "{what}: {notes}");
        no_nan(&out);
    }
    // T = 0: a customer whose first purchase is on the last day before as_of (1997-09-30),
    // added to the CDNOW cohort; its summary is (0, 0, 0) and it gets finite values.
    let dir = tempfile::tempdir().unwrap();
    let mut data = std::fs::read_to_string(fixture("cdnow/cdnow_sample.csv")).unwrap();
    data.push_str("99999,9999,19970930,1,12.50\n");
    std::fs::write(dir.path().join("cdnow.csv"), data).unwrap();
    let text = std::fs::read_to_string(fixture("cdnow/pipeline.toml"))
        .unwrap()
        .replace("cdnow_sample.csv", "cdnow.csv");
    std::fs::write(dir.path().join("p.toml"), text).unwrap();
    let out = dir.path().join("out");
    run_ok(&dir.path().join("p.toml"), &out, &[]);
    let t = read_parquet(&out.join("potential.parquet"));
    let r = t.row_of("99999");
    assert_eq!(
        (t.i64s("x")[r], t.f64s("t_x")[r], t.f64s("T")[r]),
        (Some(0), Some(0.0), Some(0.0))
    );
    assert_eq!(t.f64s("p_alive")[r], Some(1.0));
    // A new customer expects more than one who bought once 39 weeks ago (T = 38.86).
    let old = t.row_of("00004");
    let e = t.f64s("expected_purchases");
    assert!(
        e[r].unwrap() > 0.0 && e[r].unwrap().is_finite(),
        "{:?}",
        e[r]
    );
    let once = (0..t.rows())
        .find(|&i| t.i64s("x")[i] == Some(0) && t.f64s("T")[i].is_some_and(|v| v > 38.0))
        .unwrap();
    assert!(
        e[r].unwrap() > e[once].unwrap(),
        "{:?} against {:?}",
        e[r],
        e[once]
    );
    assert!(t.f64s("clv")[r].unwrap() > 0.0 && t.f64s("clv")[old].is_some());
    no_nan(&out);
}

#[test]
fn models_that_cannot_be_fitted_are_skipped_and_said_so() {
    // Two customers who bought every day and never stopped: no dropout to learn from, the
    // parameters run off towards the edge of their range and the fit cannot settle.
    let dir = tempfile::tempdir().unwrap();
    let lines: Vec<String> = (1..=28)
        .flat_map(|d| {
            [
                format!("c1,2024-02-{d:02},10"),
                format!("c2,2024-02-{d:02},12"),
            ]
        })
        .collect();
    let lines: Vec<&str> = lines.iter().map(String::as_str).collect();
    let out = dir.path().join("out");
    run_ok(&tiny(dir.path(), &lines, ""), &out, &[]);
    let run = run_json(&out);
    let notes = run["notes"].to_string();
    assert!(run["potential"]["bgnbd"].is_null(), "{}", run["potential"]);
    assert!(
        notes.contains("purchase model (BG/NBD) did not converge (no further progress"),
        "{notes}"
    );
    // Two customers of constant spend: the spend model has no maximum either.
    assert!(
        notes.contains("spend model (Gamma-Gamma) did not converge (no further progress"),
        "{notes}"
    );
    let t = read_parquet(&out.join("potential.parquet"));
    for column in ["p_alive", "expected_purchases", "expected_spend", "clv"] {
        assert!(t.f64s(column).iter().all(Option::is_none), "{column}");
    }
    // Growth needs no model: spend in the last 90 days against nothing before is none.
    assert!(t.f64s("growth").iter().all(Option::is_none));
    no_nan(&out);

    // Four customers, none of whom stopped: the purchase model's maximum is at the edge of
    // its parameters (kept, with a note), and the spend model's optimiser stops short.
    let dir = tempfile::tempdir().unwrap();
    let lines = [
        "c1,2024-01-05,10",
        "c1,2024-01-20,20",
        "c1,2024-02-20,15",
        "c2,2024-02-29,5",
        "c3,2024-01-02,8",
        "c3,2024-02-02,9",
        "c4,2024-01-10,30",
    ];
    let out = dir.path().join("out");
    run_ok(&tiny(dir.path(), &lines, ""), &out, &[]);
    let run = run_json(&out);
    let notes = run["notes"].to_string();
    assert!(
        notes.contains("purchase model (BG/NBD) has parameters at the edge of their range"),
        "{notes}"
    );
    assert!(
        notes.contains("spend model (Gamma-Gamma) did not converge"),
        "{notes}"
    );
    assert!(run["potential"]["gamma_gamma"].is_null());
    // The purchase model at its limit still gives its values (nobody drops out: P(alive) 1
    // to within the tiny dropout probability left).
    assert_eq!(run["potential"]["bgnbd"]["converged"], true);
    let t = read_parquet(&out.join("potential.parquet"));
    let alive = t.f64s("p_alive");
    assert!(
        alive.iter().all(|p| p.is_some_and(|p| p > 0.99)),
        "{alive:?}"
    );
    no_nan(&out);
}

#[test]
fn value_potential_tiers_name_both_axes() {
    let dir = tempfile::tempdir().unwrap();
    let text = std::fs::read_to_string(fixture("cdnow/pipeline.toml"))
        .unwrap()
        .replace("cdnow_sample.csv", &fixture("cdnow/cdnow_sample.csv").display().to_string())
        + "[tiers]\npreset = \"value_potential\"\nvalue_cut = 60\n[score.weights]\nrecency = 1\nmonetary = 1\nclv = 2\n";
    let pipeline = dir.path().join("p.toml");
    std::fs::write(&pipeline, text).unwrap();
    let out = dir.path().join("out");
    run_ok(&pipeline, &out, &[]);
    let t = read_parquet(&out.join("tiers.parquet"));
    let (tier, base, score, reason) = (
        t.strs("tier"),
        t.strs("tier_before_risk"),
        t.f64s("score"),
        t.strs("reason"),
    );
    let mut seen = std::collections::BTreeSet::new();
    for i in 0..t.rows() {
        let (b, s, why) = (
            base[i].as_deref().unwrap(),
            score[i].unwrap(),
            reason[i].as_deref().unwrap(),
        );
        seen.insert(b.to_string());
        // High value (score >= 60) is core or maintain; low value develop or low.
        assert_eq!(s >= 60.0, b == "core" || b == "maintain", "{why}");
        assert!(
            why.contains("value: score") && why.contains("potential: lifetime value"),
            "{why}"
        );
        assert!(why.contains(&format!("-> {b}")), "{why}");
    }
    assert_eq!(seen.len(), 4, "{seen:?}");
    assert_eq!(tier.len(), 2357);
    // The clv component's points are its percentile rank, as every other component's.
    assert!(t.names().contains(&"comp_clv".to_string()));
    let by_tier = read_parquet(&out.join("potential_by_tier.parquet"));
    assert_eq!(
        by_tier.strs("tier"),
        ["core", "develop", "maintain", "low"].map(|s| Some(s.to_string()))
    );
    let shares: f64 = by_tier.f64s("clv_share").iter().flatten().sum();
    assert!((shares - 1.0).abs() < 1e-9, "{shares}");
}

#[test]
fn potential_settings_are_checked() {
    let dir = tempfile::tempdir().unwrap();
    for (extra, want) in [
        ("horizon = -3", "[potential] horizon"),
        ("time_unit = \"year\"", "time_unit"),
    ] {
        let p = tiny(dir.path(), &["c1,2024-01-05,10"], extra);
        let e = run_err(&p, &dir.path().join("out"));
        assert!(e.contains(want), "{extra}: {e}");
    }
    // The value-by-potential grid and the potential components need the section.
    std::fs::write(
        dir.path().join("p.toml"),
        "[input]\npaths = \"tx.csv\"\n[input.columns]\ncustomer_id = \"customer\"\ndate = \"date\"\namount = \"amount\"\n[tiers]\npreset = \"value_potential\"\n",
    )
    .unwrap();
    let e = run_err(&dir.path().join("p.toml"), &dir.path().join("out"));
    assert!(e.contains("add a [potential] section"), "{e}");
}

#[test]
fn validate_compares_the_holdout_with_an_independent_count() {
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("check");
    let o = tiering(&[
        "validate",
        fixture("cdnow/pipeline.toml").to_str().unwrap(),
        "--holdout-from",
        "1997-10-01",
        "--as-of",
        "1998-07-01",
        "--out",
        out.to_str().unwrap(),
        "--quiet",
    ]);
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    assert_eq!(
        names_in(&out),
        [
            "run.json",
            "validation.parquet",
            "validation.png",
            "validation.svg"
        ]
    );
    let run = run_json(&out);
    let v = &run["validation"];
    let b = &v["calibration"]["bgnbd"];
    let params = tiering::potential::bgnbd::BgNbdParams {
        r: b["r"].as_f64().unwrap(),
        alpha: b["alpha"].as_f64().unwrap(),
        a: b["a"].as_f64().unwrap(),
        b: b["b"].as_f64().unwrap(),
    };
    assert!((params.r - 0.2426).abs() < 0.001, "{params:?}");
    assert_eq!(v["holdout_length"], 39.0);

    // Independently: each customer's purchase days in the holdout, straight from the CSV,
    // and the model's expectation from the published summary.
    let tx = std::fs::read_to_string(fixture("cdnow/cdnow_sample.csv")).unwrap();
    let mut days: HashMap<String, std::collections::BTreeSet<String>> = HashMap::new();
    for line in tx.lines().skip(1) {
        let f: Vec<&str> = line.split(',').collect();
        if f[2] >= "19971001" && f[2] < "19980701" {
            days.entry(f[0].to_string())
                .or_default()
                .insert(f[2].to_string());
        }
    }
    let mut groups = [(0u64, 0.0f64, 0.0f64); 8];
    for (id, (x, tx, tt, _)) in cdnow_summary() {
        let g = &mut groups[(x as usize).min(7)];
        g.0 += 1;
        g.1 +=
            tiering::potential::bgnbd::expected_purchases(&params, 39.0, x as u32, tx, tt).unwrap();
        g.2 += days.get(&id).map_or(0, |d| d.len()) as f64;
    }
    let t = read_parquet(&out.join("validation.parquet"));
    assert_eq!(
        t.strs("calibration_repeat_purchases"),
        ["0", "1", "2", "3", "4", "5", "6", "7+"].map(|s| Some(s.to_string()))
    );
    let (n, predicted, actual) = (
        t.i64s("customers"),
        t.f64s("mean_predicted_purchases"),
        t.f64s("mean_actual_purchases"),
    );
    let mut mae = 0.0;
    for (k, (c, p, a)) in groups.iter().enumerate() {
        assert_eq!(n[k], Some(*c as i64), "group {k}");
        close(actual[k], Some(a / *c as f64), "actual");
        // The summary's t_x and T are rounded to 2 decimals of a week.
        let want = p / *c as f64;
        assert!(
            (predicted[k].unwrap() - want).abs() < 1e-3,
            "group {k}: {predicted:?} against {want}"
        );
        mae += (predicted[k].unwrap() - actual[k].unwrap()).abs() / 8.0;
    }
    close(
        v["mean_absolute_error"].as_f64(),
        Some(mae),
        "mean absolute error",
    );
    assert_eq!(v["actual_total"], 1882.0);

    // A holdout that starts at or after the end of the data is an error that says so.
    let o = tiering(&[
        "validate",
        fixture("cdnow/pipeline.toml").to_str().unwrap(),
        "--holdout-from",
        "1998-08-01",
        "--as-of",
        "1998-07-01",
        "--out",
        out.to_str().unwrap(),
    ]);
    assert_eq!(o.status.code(), Some(1));
    let e = String::from_utf8_lossy(&o.stderr);
    assert!(e.contains("must be before the end of the data"), "{e}");
    // The previous check is untouched.
    assert!(out.join("validation.parquet").exists());
}
