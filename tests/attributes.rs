//! The customer master (`[attributes]`) end to end on hand-made fixtures: attribute scores,
//! risk rules, pins, the counts of customers on one side only, the breakdown by attribute,
//! and bad master files.

use std::path::{Path, PathBuf};

use crate::util::*;

/// Six customers c1..c6, each one purchase a day apart (c1 the most recent) and of value
/// 100 x its number: every feature ranks them differently from the master's columns.
const TX: &str = "customer,date,amount
c1,2024-02-20,100
c2,2024-02-19,200
c3,2024-02-18,300
c4,2024-02-17,400
c5,2024-02-16,500
c6,2024-02-15,600
";

/// c1..c5 and m9 (no purchase); c6 is missing.
const MASTER: &str = "CustNo,credit_score,debt_ratio,credit_rating,key_account
c1,700,0.9,D,Y
c2,650,0.2,A,N
c3,800,0.5,B,N
c4,600,0.7,D,N
c5,750,0.1,C,N
m9,720,0.3,A,N
";

fn pipeline(dir: &Path, master: &str, rest: &str) -> PathBuf {
    std::fs::write(dir.join("tx.csv"), TX).unwrap();
    std::fs::write(dir.join("master.csv"), master).unwrap();
    let text = format!(
        r#"name = "attr"
[input]
paths = "tx.csv"
[input.columns]
customer_id = "customer"
date = "date"
amount = "amount"
[features]
as_of = "2024-03-01"
[attributes]
paths = "master.csv"
customer_id = "CustNo"
numeric = {{ credit_score = "higher_is_better", debt_ratio = "lower_is_better" }}
categorical = ["credit_rating", "key_account"]
[clustering]
enabled = false
[charts]
enabled = false
{rest}
"#
    );
    let p = dir.join("p.toml");
    std::fs::write(&p, text).unwrap();
    p
}

/// Per customer c1..c6, column `name` of tiers.parquet.
fn by_customer<T: Clone>(t: &Table, values: Vec<T>) -> Vec<T> {
    (1..=6)
        .map(|k| values[t.row_of(&format!("c{k}"))].clone())
        .collect()
}

#[test]
fn one_attribute_weight_ranks_customers_by_it() {
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("out");
    // Higher is better: credit scores 700, 650, 800, 600, 750 rank 2, 1, 4, 0, 3 of 0..4;
    // c6 has no master row and counts 50.
    let p = pipeline(
        dir.path(),
        MASTER,
        "[score.weights]\ncredit_score = 1\n[tiers]\npreset = \"four_level\"",
    );
    run_ok(&p, &out, &[]);
    let t = read_parquet(&out.join("tiers.parquet"));
    let score = by_customer(&t, t.f64s("score"));
    let want = [50.0, 25.0, 100.0, 0.0, 75.0, 50.0].map(Some);
    assert_eq!(score, want);
    // tiers.parquet carries the attributes it graded on.
    assert_eq!(
        by_customer(&t, t.strs("credit_rating")),
        [Some("D"), Some("A"), Some("B"), Some("D"), Some("C"), None].map(|s| s.map(String::from))
    );
    // Lower is better: debt ratios 0.9, 0.2, 0.5, 0.7, 0.1 rank reversed.
    let p = pipeline(
        dir.path(),
        MASTER,
        "[score.weights]\ndebt_ratio = 1\n[tiers]\npreset = \"four_level\"",
    );
    run_ok(&p, &out, &[]);
    let t = read_parquet(&out.join("tiers.parquet"));
    let score = by_customer(&t, t.f64s("score"));
    assert_eq!(score, [0.0, 75.0, 50.0, 25.0, 100.0, 50.0].map(Some));
}

#[test]
fn a_risk_rule_downgrades_exactly_the_customers_it_names() {
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("out");
    // Scores are monetary's percentile ranks: c1 0, c2 20, ..., c6 100. With these cuts c1
    // starts last (low) and everyone else first (high).
    let p = pipeline(
        dir.path(),
        MASTER,
        "[tiers]\npreset = \"three_level\"\nmethod = \"score\"\nscore_cuts = [10, 5]\n\
         [score.weights]\ncredit_score = 0\nmonetary = 1\n\
         [risk]\ninactivity_ratio = [1000, 1000]\ndowngrade = { medium = 1, high = 2 }\n\
         [[risk.rules]]\nattribute = \"credit_rating\"\nin = [\"D\"]\nlevel = \"high\"\n\
         [[risk.rules]]\nattribute = \"debt_ratio\"\nabove = 0.6\nlevel = \"medium\"\n",
    );
    run_ok(&p, &out, &[]);
    let t = read_parquet(&out.join("tiers.parquet"));
    let risk = by_customer(&t, t.strs("risk_level"));
    // c1: D and 0.9 > 0.6 -> high; c4: D and 0.7 -> high; nobody else (c6 has no master).
    let s = |v: &str| Some(v.to_string());
    assert_eq!(
        risk,
        [s("high"), s("low"), s("low"), s("high"), s("low"), s("low")]
    );
    let reasons = by_customer(&t, t.strs("risk_reasons"));
    assert_eq!(reasons[0], s("credit_rating = D; debt_ratio 0.9 > 0.6"));
    assert_eq!(reasons[3], s("credit_rating = D; debt_ratio 0.7 > 0.6"));
    // c4 drops two tiers; c1 is high risk too but already in the last tier.
    let downgraded = by_customer(&t, t.bools("downgraded"));
    assert_eq!(
        downgraded,
        [false, false, false, true, false, false].map(Some)
    );
    let reason = by_customer(&t, t.strs("reason"))[3].clone().unwrap();
    assert!(
        reason.ends_with("; high risk: credit_rating = D; debt_ratio 0.7 > 0.6 -> low"),
        "{reason}"
    );
}

#[test]
fn a_pin_overrides_score_and_risk_and_says_so() {
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("out");
    // c1 has the lowest revenue and is rated D (high risk), but is a key account.
    let p = pipeline(
        dir.path(),
        MASTER,
        "[tiers]\npreset = \"three_level\"\n\
         [score.weights]\nmonetary = 1\n\
         [risk]\ninactivity_ratio = [1000, 1000]\n\
         [[risk.rules]]\nattribute = \"credit_rating\"\nin = [\"D\"]\nlevel = \"high\"\n\
         [[tiers.pin]]\nattribute = \"key_account\"\nequals = \"Y\"\ntier = \"high\"\n\
         [[tiers.pin]]\nattribute = \"credit_rating\"\nequals = \"C\"\nat_most = \"mid\"\n\
         [[tiers.pin]]\nattribute = \"credit_rating\"\nequals = \"A\"\nat_most = \"mid\"\n",
    );
    run_ok(&p, &out, &[]);
    let t = read_parquet(&out.join("tiers.parquet"));
    let s = |v: &str| Some(v.to_string());
    let tier = by_customer(&t, t.strs("tier"));
    let base = by_customer(&t, t.strs("tier_before_risk"));
    // Shares 0.2 / 0.3 of six by revenue: c6 and c5 high, c4 mid, the rest low. Then c4
    // (rated D) drops a tier for its high risk, c1 is pinned up, c5 (rated C) capped at mid.
    assert_eq!(
        base,
        [s("low"), s("low"), s("low"), s("mid"), s("high"), s("high")]
    );
    assert_eq!(
        tier,
        [s("high"), s("low"), s("low"), s("low"), s("mid"), s("high")]
    );
    let reason = by_customer(&t, t.strs("reason"));
    let r1 = reason[0].clone().unwrap();
    // The score and the risk stay in the reason; the pin comes last.
    assert!(r1.starts_with("score 0.00,"), "{r1}");
    assert!(r1.contains("high risk: credit_rating = D"), "{r1}");
    assert!(r1.ends_with("; pinned: key_account = Y -> high"), "{r1}");
    let r5 = reason[4].clone().unwrap();
    assert!(
        r5.ends_with("; pinned: credit_rating = C, at most mid -> mid"),
        "{r5}"
    );
    // A cap that does not change the tier (c2, rated A, is low already) is not mentioned.
    assert!(
        !reason[1].clone().unwrap().contains("pinned"),
        "{:?}",
        reason[1]
    );
    let summary = read_parquet(&out.join("tier_summary.parquet"));
    assert_eq!(summary.i64s("pinned"), [Some(1), Some(1), Some(0)]);
    // The risk overlay's own count is not the pins': only c4 was downgraded.
    assert_eq!(summary.i64s("downgraded_into"), [Some(0), Some(0), Some(1)]);
}

#[test]
fn master_only_and_missing_customers_are_counted_and_broken_down() {
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("out");
    let p = pipeline(dir.path(), MASTER, "[tiers]\npreset = \"three_level\"");
    run_ok(&p, &out, &[]);
    let q = read_parquet(&out.join("data_quality.parquet"));
    let steps = q.strs("step");
    let rows = q.i64s("rows");
    let count = |s: &str| rows[steps.iter().position(|x| x.as_deref() == Some(s)).unwrap()];
    assert_eq!(count("master_customer_without_purchase"), Some(1));
    assert_eq!(count("customer_missing_from_master"), Some(1));
    let run: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(out.join("run.json")).unwrap()).unwrap();
    let a = &run["attributes"];
    assert_eq!(
        (
            a["customers"].as_u64(),
            a["master_customers_without_purchase"].as_u64(),
            a["customers_missing_from_master"].as_u64()
        ),
        (Some(6), Some(1), Some(1))
    );
    // Per rating and tier: the customers and revenue; c6 (600, no master row) is "(none)".
    let s = read_parquet(&out.join("attribute_summary.parquet"));
    let rows: Vec<(String, String, String, String, i64, f64)> = (0..s.rows())
        .map(|i| {
            (
                s.strs("attribute")[i].clone().unwrap(),
                s.strs("value")[i].clone().unwrap(),
                s.strs("group")[i].clone().unwrap(),
                s.strs("name")[i].clone().unwrap(),
                s.i64s("customers")[i].unwrap(),
                s.f64s("revenue")[i].unwrap(),
            )
        })
        .collect();
    let none_tier: Vec<_> = rows
        .iter()
        .filter(|r| r.0 == "credit_rating" && r.1 == "(none)" && r.2 == "tier")
        .collect();
    assert_eq!(none_tier.len(), 1);
    assert_eq!((none_tier[0].4, none_tier[0].5), (1, 600.0));
    // Rated D: c1 (100) and c4 (400), 500 in all over the tiers.
    let d: f64 = rows
        .iter()
        .filter(|r| r.0 == "credit_rating" && r.1 == "D" && r.2 == "tier")
        .map(|r| r.5)
        .sum();
    assert_eq!(d, 500.0);
    let d_share: f64 = (0..s.rows())
        .filter(|i| {
            s.strs("value")[*i].as_deref() == Some("D")
                && s.strs("group")[*i].as_deref() == Some("segment")
        })
        .map(|i| s.f64s("customer_share")[i].unwrap())
        .sum();
    assert!((d_share - 1.0).abs() < 1e-12, "{d_share}");
}

#[test]
fn bad_master_files_fail_clearly_and_leave_previous_outputs() {
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("out");
    let good = pipeline(dir.path(), MASTER, "");
    run_ok(&good, &out, &[]);
    let before = std::fs::read(out.join("run.json")).unwrap();
    let cases: [(&str, &str, &str); 3] = [
        (
            "CustomerNumber,credit_score,debt_ratio,credit_rating,key_account\nc1,700,0.9,D,Y\n",
            "",
            "has no column \"CustNo\" (named in [attributes]); its columns are: \"CustomerNumber\"",
        ),
        (
            "CustNo,credit_score,debt_ratio,credit_rating,key_account\nc1,700,0.9,D,Y\nc2,650,0.2,A,N\nc1,800,0.5,B,N\n",
            "",
            "customer ID \"c1\" appears twice, on line 2 of",
        ),
        (
            "CustNo,credit_score,debt_ratio,credit_rating,key_account\nc1,700,0.9,D,Y\nc2,n/a,0.2,A,N\n",
            "",
            "column \"credit_score\": 1 value(s) are not numbers, e.g. \"n/a\" on line 3",
        ),
    ];
    for (master, rest, want) in cases {
        let p = pipeline(dir.path(), master, rest);
        let e = run_err(&p, &out);
        assert!(e.contains(want), "{e}");
        assert!(e.contains("master.csv"), "{e}");
    }
    for (rest, want) in [
        ("[score.weights]\ncredit_limit = 1", "unknown component \"credit_limit\""),
        (
            "[[risk.rules]]\nattribute = \"industry\"\nequals = \"Retail\"\nlevel = \"high\"",
            "unknown attribute \"industry\"; known attributes: credit_score, debt_ratio, credit_rating, key_account",
        ),
    ] {
        let p = pipeline(dir.path(), MASTER, rest);
        let e = run_err(&p, &out);
        assert!(e.contains(want), "{e}");
    }
    assert_eq!(std::fs::read(out.join("run.json")).unwrap(), before);
}

#[test]
fn segments_test_attributes_and_clusters_use_them() {
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("out");
    let p = pipeline(
        dir.path(),
        MASTER,
        "[tiers]\npreset = \"three_level\"\n\
         [[rfm.segments]]\nname = \"Rated D\"\nattribute = \"credit_rating\"\nin = [\"D\"]\n\
         [[rfm.segments]]\nname = \"Recent\"\nr = [4, 5]\n",
    )
    .to_string_lossy()
    .into_owned();
    // Clustering on a numeric attribute beside a feature (the fixture turns it off).
    let text = std::fs::read_to_string(&p).unwrap().replace(
        "[clustering]\nenabled = false",
        "[clustering]\nfeatures = [\"credit_score\", \"monetary\"]\nk = 2",
    );
    std::fs::write(&p, text).unwrap();
    run_ok(Path::new(&p), &out, &[]);
    let t = read_parquet(&out.join("tiers.parquet"));
    let s = |v: &str| Some(v.to_string());
    // The first rule that matches: rated D (c1, c4), else an R score of 4 or 5, else Others;
    // c6 has no rating and only its R score counts.
    let segment = by_customer(&t, t.strs("segment"));
    let r = by_customer(&t, t.i32s("r_score"));
    let rated_d = [true, false, false, true, false, false];
    for k in 0..6 {
        let want = if rated_d[k] {
            "Rated D"
        } else if r[k].unwrap() >= 4 {
            "Recent"
        } else {
            "Others"
        };
        assert_eq!(segment[k], s(want), "c{}", k + 1);
    }
    assert_eq!(
        segment[0],
        s("Rated D"),
        "c1 is the most recent but rated D first"
    );
    assert!(segment.contains(&s("Recent")) && segment.contains(&s("Others")));
    let run: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(out.join("run.json")).unwrap()).unwrap();
    assert_eq!(
        run["clustering"]["features"],
        serde_json::json!(["credit_score", "monetary"])
    );
    // c6 has no credit score: imputed with the median of 600..800 (700), and said so.
    assert_eq!(
        run["clustering"]["imputed"],
        serde_json::json!([{ "feature": "credit_score", "imputed_with": 700.0, "missing": 1 }])
    );
    assert_eq!(read_parquet(&out.join("clusters.parquet")).rows(), 6);
}
