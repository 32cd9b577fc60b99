//! report.html as a reader sees it: the sample's report measured in headless Chromium (when
//! one is installed), the report, reasons and charts in Chinese, and the lists for Excel.

use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use crate::util::*;

/// A Chromium or Chrome on PATH (Debian and Ubuntu: `apt-get install chromium`).
fn chromium() -> Option<PathBuf> {
    let path = std::env::var_os("PATH")?;
    [
        "chromium",
        "chromium-browser",
        "google-chrome",
        "google-chrome-stable",
    ]
    .iter()
    .flat_map(|name| std::env::split_paths(&path).map(move |dir| dir.join(name)))
    .find(|p| p.is_file())
}

/// Opens `html` in headless `browser` at `width` pixels with the probe of
/// tests/fixtures/report_probe.js added, and returns what the probe measured.
fn measure(browser: &Path, html: &Path, width: u32, dir: &Path) -> serde_json::Value {
    let page = std::fs::read_to_string(html).unwrap();
    let probe = std::fs::read_to_string(root().join("tests/fixtures/report_probe.js")).unwrap();
    assert!(page.ends_with("</body></html>\n"));
    let probed = dir.join(format!("probed-{width}.html"));
    let page = page.replace(
        "</body></html>",
        &format!("<script>{probe}</script></body></html>"),
    );
    std::fs::write(&probed, page).unwrap();
    let profile = dir.join(format!("profile-{width}"));
    // To a file, not a pipe: the page with its charts is larger than a pipe holds.
    let dump = dir.join(format!("dom-{width}.html"));
    let mut child = Command::new(browser)
        .args([
            "--headless",
            "--no-sandbox",
            "--disable-gpu",
            "--no-first-run",
            "--hide-scrollbars",
            &format!("--user-data-dir={}", profile.display()),
            &format!("--window-size={width},900"),
            "--virtual-time-budget=10000",
            "--dump-dom",
        ])
        .arg(format!("file://{}", probed.display()))
        .stdout(std::fs::File::create(&dump).unwrap())
        .stderr(Stdio::null())
        .spawn()
        .expect("chromium starts");
    let start = Instant::now();
    while child.try_wait().unwrap().is_none() {
        if start.elapsed() > Duration::from_secs(120) {
            child.kill().ok();
            panic!("chromium did not finish within 2 minutes");
        }
        std::thread::sleep(Duration::from_millis(100));
    }
    let dom = std::fs::read_to_string(&dump).unwrap();
    let json = dom
        .split("<pre id=\"probe\">")
        .nth(1)
        .and_then(|s| s.split("</pre>").next())
        .unwrap_or_else(|| panic!("no probe result in the page chromium printed:\n{dom:.2000}"));
    serde_json::from_str(
        &json
            .replace("&amp;", "&")
            .replace("&lt;", "<")
            .replace("&gt;", ">"),
    )
    .unwrap()
}

#[test]
fn the_sample_report_fits_the_page_in_a_browser() {
    let Some(browser) = chromium() else {
        eprintln!(
            "skipped: no headless Chromium on PATH (on Debian or Ubuntu: apt-get install chromium)"
        );
        return;
    };
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("out");
    run_ok(&root().join("pipelines/default.toml"), &out, &[]);
    for width in [1280, 800] {
        let m = measure(&browser, &out.join("report.html"), width, dir.path());
        assert_eq!(
            m["too_wide"],
            serde_json::json!([]),
            "elements wider than the page at {width} px: {m}"
        );
        assert!(
            m["scroll_width"].as_i64() <= m["width"].as_i64(),
            "the page scrolls sideways at {width} px: {m}"
        );
        // Customers graded, as of, revenue and profit share of A, downgraded, alerts, ARI.
        assert_eq!(m["key_figures"], 7, "{m}");
        assert_eq!(m["key_figures_first"], true, "{m}");
        assert_eq!(m["sticky_headers"], true, "{m}");
        assert_eq!(m["images"], 9, "{m}");
        assert_eq!(m["images_shown"], 9, "every chart decodes: {m}");
        // Reasons wrap in a column wide enough to read, not a word per line.
        assert!(
            m["narrowest_long_text"].as_i64().unwrap() >= 250,
            "a reason column is squeezed at {width} px: {m}"
        );
    }
}

/// The tiers fixture with Chinese tier names, `[report] language = "zh"`, the lists for
/// Excel, and the CJK subset font of the fixtures for the charts.
fn chinese_tiers(dir: &Path) -> PathBuf {
    let src = fixture("tiers/pipeline.toml");
    let font = fixture("fonts/NotoSansCJKsc-subset.otf");
    let text = std::fs::read_to_string(&src)
        .unwrap()
        .replace(
            "preset = \"four_level\"",
            "preset = \"four_level\"\nnames = [\"核心\", \"重点\", \"普通\", \"低效\"]",
        )
        .replace("[policies.core]", "[policies.\"核心\"]")
        .replace("[policies.normal]", "[policies.\"普通\"]")
        .replace(
            "paths = \"",
            &format!("paths = \"{}/", fixture("tiers").to_str().unwrap()),
        )
        + &format!(
            "\n[report]\nlanguage = \"zh\"\n\n[output]\ncsv = true\n\n[charts]\nfont = {:?}\n",
            font.to_str().unwrap()
        );
    let p = dir.join("p.toml");
    std::fs::write(&p, text).unwrap();
    p
}

/// A CSV file for Excel: the byte-order mark, then its lines parsed.
fn read_csv(path: &Path) -> Vec<Vec<String>> {
    let bytes = std::fs::read(path).unwrap();
    assert_eq!(
        &bytes[..3],
        b"\xEF\xBB\xBF",
        "{} has no UTF-8 byte-order mark",
        path.display()
    );
    csv::ReaderBuilder::new()
        .has_headers(false)
        .from_reader(&bytes[3..])
        .records()
        .map(|r| r.unwrap().iter().map(str::to_string).collect())
        .collect()
}

#[test]
fn chinese_reasons_report_and_lists_for_excel() {
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("out");
    run_ok(&chinese_tiers(dir.path()), &out, &[]);

    // Reasons in Chinese; column names and codes (risk levels) stay as they are.
    let t = read_parquet(&out.join("tiers.parquet"));
    let reason = |c: &str| t.strs("reason")[t.row_of(c)].clone().unwrap();
    assert_eq!(reason("P"), "得分 100.00 >= 75 -> 核心");
    assert_eq!(
        reason("R"),
        "得分 50.00 >= 35 -> 普通；高风险：60 天未购买，是通常间隔 62 天的 1.0 倍 -> 低效"
    );
    assert_eq!(reason("T"), "得分 9.38 < 35 -> 低效");
    assert_eq!(t.strs("risk_level")[t.row_of("R")].as_deref(), Some("high"));
    assert_eq!(t.strs("tier")[t.row_of("R")].as_deref(), Some("低效"));

    // tiers.csv: the columns of tiers.parquet, a line per customer, the same text.
    let rows = read_csv(&out.join("tiers.csv"));
    assert_eq!(rows[0], t.names());
    assert_eq!(rows.len(), 1 + t.rows());
    let col = |name: &str| rows[0].iter().position(|c| c == name).unwrap();
    let r = rows.iter().find(|r| r[col("customer_id")] == "R").unwrap();
    assert_eq!(r[col("reason")], reason("R"));
    assert_eq!(r[col("tier")], "低效");
    assert_eq!(
        r[col("policy_credit_days")],
        "",
        "R left the tier with the policy"
    );
    let a = read_parquet(&out.join("alerts.parquet"));
    let alerts = read_csv(&out.join("alerts.csv"));
    assert_eq!(alerts[0], a.names());
    assert_eq!(alerts.len(), 1 + a.rows());

    // The report in Chinese, numbers formatted: core has 2 of 5 customers (40 %) and
    // 1,500 of 1,950 revenue (76.9 %); R was downgraded.
    let html = std::fs::read_to_string(out.join("report.html")).unwrap();
    assert!(html.starts_with("<!DOCTYPE html><html lang=zh>"));
    assert!(html.contains("<h1>客户分级报告</h1>"));
    assert!(html.contains("<span class=v>5</span><span class=l>已评级客户</span>"));
    assert!(html.contains("<span class=v>76.9 %</span><span class=l>核心 收入占比</span>"));
    assert!(html.contains("<span class=v>1</span><span class=l>因风险降级</span>"));
    assert!(
        html.contains(
            "<td class=t>核心</td><td>1</td><td>2</td><td>40.0 %</td><td>1,500</td><td>76.9 %</td>"
        ),
        "tier summary row"
    );
    assert!(html.contains("<h2>客户等级</h2>") && html.contains("<h2>数据质量</h2>"));
    assert!(html.contains("tiers.csv") || html.contains("alerts.csv"));

    // The lists are outputs of the run; the subset font lacks the Chinese chart titles, and
    // the notes say so.
    let meta: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(out.join("run.json")).unwrap()).unwrap();
    let outputs = meta["outputs"].to_string();
    assert!(outputs.contains("\"tiers.csv\"") && outputs.contains("\"alerts.csv\""));
    let notes = meta["notes"].to_string();
    assert!(
        notes.contains("no available font covers every character of")
            && notes.contains("set [charts] font"),
        "{notes}"
    );
    let svg = std::fs::read_to_string(out.join("charts/tier_sizes.svg")).unwrap();
    assert!(
        svg.contains("font-family=\"Noto Sans CJK SC"),
        "the font of [charts] font"
    );
}

#[test]
fn an_english_report_and_no_lists_without_csv() {
    let dir = tempfile::tempdir().unwrap();
    let src = fixture("tiers/pipeline.toml");
    let text = std::fs::read_to_string(&src).unwrap().replace(
        "paths = \"",
        &format!("paths = \"{}/", fixture("tiers").to_str().unwrap()),
    );
    let p = dir.path().join("p.toml");
    std::fs::write(&p, text).unwrap();
    let out = dir.path().join("out");
    run_ok(&p, &out, &[]);
    assert!(!out.join("tiers.csv").exists() && !out.join("alerts.csv").exists());
    let html = std::fs::read_to_string(out.join("report.html")).unwrap();
    assert!(html.starts_with("<!DOCTYPE html><html lang=en>"));
    assert!(html.contains("<span class=v>1</span><span class=l>downgraded by risk</span>"));
}
