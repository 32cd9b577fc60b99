//! `report.html`: one self-contained page (styles inline, charts embedded as data URIs, no
//! network) with the run summary, the tier summary, cluster profiles, the comparison and the
//! charts. Formatting only: every number arrives computed.

use std::fmt::Write as _;
use std::path::Path;

use anyhow::{Context, Result};
use polars::prelude::*;

use super::metadata::RunMetadata;
use super::{RunResults, REPORT_ALERTS};
use crate::compare::Comparison;
use crate::history::HistoryTables;
use crate::progress::thousands;
use crate::tiers::clusters::ClusterOutput;

/// A titled table for the report.
pub struct Section<'a> {
    pub id: &'a str,
    pub title: &'a str,
    pub intro: String,
    pub table: Option<&'a DataFrame>,
    pub max_rows: usize,
    /// Rows of the whole table when `table` holds only its first rows.
    pub total_rows: Option<usize>,
}

/// What the page shows.
pub struct Report<'a> {
    pub title: String,
    /// (label, value) lines of the run summary.
    pub summary: Vec<(String, String)>,
    pub sections: Vec<Section<'a>>,
    /// (file name, caption, PNG bytes)
    pub charts: Vec<(String, String, Vec<u8>)>,
}

const STYLE: &str = "body{font-family:DejaVu Sans,Helvetica,Arial,sans-serif;margin:2em auto;max-width:1400px;color:#222;padding:0 1em}\
h1{font-size:1.6em}h2{font-size:1.25em;margin-top:2em;border-bottom:1px solid #ccc}\
table{border-collapse:collapse;font-size:.85em;margin:.5em 0}th,td{border:1px solid #ddd;padding:3px 7px;text-align:right}\
th{background:#f1f4f8}td.t{text-align:left}td.long{min-width:30em}dl{display:grid;grid-template-columns:max-content auto;gap:2px 14px}\
dt{font-weight:bold}figure{margin:1em 0}img{max-width:100%;border:1px solid #eee}figcaption{font-size:.9em;color:#555}\
nav a{margin-right:1em}";

fn esc(s: &str) -> String {
    s.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
        .replace('"', "&quot;")
}

/// Standard base64 with padding (RFC 4648), for the charts' data URIs.
fn base64(bytes: &[u8]) -> String {
    use base64::Engine as _;
    base64::engine::general_purpose::STANDARD.encode(bytes)
}

fn cell(v: AnyValue) -> (String, bool) {
    match v {
        AnyValue::Null => (String::new(), false),
        AnyValue::Float64(x) => {
            let s = if x.abs() >= 1000.0 {
                crate::progress::thousands(x.abs().round() as u64)
            } else if x.abs() >= 1.0 || x == 0.0 {
                format!("{:.2}", x.abs())
            } else {
                format!("{:.4}", x.abs())
            };
            (if x < 0.0 { format!("-{s}") } else { s }, false)
        }
        AnyValue::Int64(x) => (crate::progress::thousands(x.unsigned_abs()), false),
        AnyValue::Int32(x) => (x.to_string(), false),
        AnyValue::Boolean(b) => (if b { "yes" } else { "" }.to_string(), true),
        AnyValue::String(s) => (s.to_string(), true),
        other => (other.to_string().trim_matches('"').to_string(), true),
    }
}

fn table(df: &DataFrame, max_rows: usize, total_rows: Option<usize>) -> String {
    let mut h = String::from("<div style=\"overflow-x:auto\"><table><thead><tr>");
    for name in df.get_column_names() {
        let _ = write!(h, "<th>{}</th>", esc(name));
    }
    h.push_str("</tr></thead><tbody>");
    for i in 0..df.height().min(max_rows) {
        h.push_str("<tr>");
        for col in df.columns() {
            let (s, text) = cell(col.get(i).unwrap_or(AnyValue::Null));
            let _ = write!(
                h,
                "<td{}>{}</td>",
                if text { " class=t" } else { "" },
                esc(&s)
            );
        }
        h.push_str("</tr>");
    }
    h.push_str("</tbody></table></div>");
    let total = total_rows.unwrap_or(df.height());
    if total > max_rows {
        let _ = write!(
            h,
            "<p>First {max_rows} of {total} rows; all are in the Parquet file.</p>"
        );
    }
    h
}

/// Renders the page.
pub fn render_report(r: &Report) -> String {
    let mut h = String::new();
    let _ = write!(
        h,
        "<!DOCTYPE html><html lang=en><head><meta charset=utf-8><title>{}</title><style>{STYLE}</style></head><body><h1>{}</h1><nav>",
        esc(&r.title),
        esc(&r.title)
    );
    h.push_str("<a href=\"#summary\">Run</a>");
    for s in &r.sections {
        let _ = write!(h, "<a href=\"#{}\">{}</a>", s.id, esc(s.title));
    }
    if !r.charts.is_empty() {
        h.push_str("<a href=\"#charts\">Charts</a>");
    }
    h.push_str("</nav><h2 id=summary>Run</h2><dl>");
    for (k, v) in &r.summary {
        let _ = write!(h, "<dt>{}</dt><dd>{}</dd>", esc(k), esc(v));
    }
    h.push_str("</dl>");
    for s in &r.sections {
        let _ = write!(
            h,
            "<h2 id=\"{}\">{}</h2><p>{}</p>",
            s.id,
            esc(s.title),
            esc(&s.intro)
        );
        if let Some(df) = s.table {
            h.push_str(&table(df, s.max_rows, s.total_rows));
        }
    }
    if !r.charts.is_empty() {
        h.push_str("<h2 id=charts>Charts</h2>");
        for (file, caption, png) in &r.charts {
            let _ = write!(
                h,
                "<figure id=\"chart-{}\"><img alt=\"{}\" src=\"data:image/png;base64,{}\"><figcaption>{} (<a href=\"charts/{}\">{}</a>)</figcaption></figure>",
                esc(file.trim_end_matches(".png")),
                esc(caption),
                base64(png),
                esc(caption),
                esc(file),
                esc(file)
            );
        }
    }
    h.push_str("</body></html>\n");
    h
}

/// Assembles report.html from the tables of the run.
pub fn build_report(
    run: &RunResults,
    m: &RunMetadata,
    quality: &DataFrame,
    chart_dir: &Path,
    chart_files: &[String],
) -> Result<String> {
    Ok(render_report(&Report {
        title: format!("tiering: {} as of {}", m.pipeline_name, m.as_of),
        summary: run_summary(m),
        sections: sections(run, quality),
        charts: embedded_charts(chart_dir, chart_files)?,
    }))
}

/// The (label, value) lines of the run summary.
fn run_summary(m: &RunMetadata) -> Vec<(String, String)> {
    let mut summary = vec![
        (
            "pipeline".to_string(),
            format!("{} ({})", m.pipeline_name, m.pipeline_path),
        ),
        (
            "as of".to_string(),
            format!("{} ({})", m.as_of, m.as_of_source),
        ),
        ("run on".to_string(), m.run_date.clone()),
    ];
    for f in &m.inputs {
        summary.push((
            "input".to_string(),
            format!("{} ({} rows)", f.path.display(), thousands(f.rows)),
        ));
    }
    summary.push(("rows read".into(), thousands(m.rows_read)));
    summary.push(("rows kept".into(), thousands(m.rows_kept)));
    for q in m
        .data_quality
        .iter()
        .filter(|q| q.action == "dropped" && q.rows > 0)
    {
        summary.push((format!("dropped: {}", q.step), thousands(q.rows)));
    }
    summary.push(("customers".into(), thousands(m.customers)));
    for n in &m.notes {
        summary.push(("note".into(), n.clone()));
    }
    summary
}

/// The tables of the page, in order.
fn sections<'a>(run: &'a RunResults, quality: &'a DataFrame) -> Vec<Section<'a>> {
    let g = run.grading;
    let mut sections = vec![
        Section {
            id: "quality",
            title: "Data quality",
            intro: "What happened to every row read (data_quality.parquet).".into(),
            table: Some(quality),
            max_rows: 50,
            total_rows: None,
        },
        Section {
            id: "tiers",
            title: "Tier summary",
            intro: "Customers, revenue and profit per rule tier, after the risk overlay (tier_summary.parquet).".into(),
            table: Some(&g.tier_summary),
            max_rows: 50,
            total_rows: None,
        },
        Section {
            id: "segments",
            title: "RFM segments",
            intro: "Customers per RFM segment (segment_summary.parquet).".into(),
            table: Some(&g.segment_summary),
            max_rows: 50,
            total_rows: None,
        },
        Section {
            id: "alerts",
            title: "Alerts",
            intro: format!(
                "{} alerts on customers needing action now, most urgent first (alerts.parquet).",
                g.alert_count
            ),
            table: Some(&g.alerts),
            max_rows: REPORT_ALERTS,
            total_rows: Some(g.alert_count),
        },
    ];
    if let Some(a) = &g.attribute_summary {
        sections.push(Section {
            id: "attributes",
            title: "Tiers and segments by attribute",
            intro: "Customers and revenue of each tier and segment per value of each categorical attribute of the customer master (attribute_summary.parquet).".into(),
            table: Some(a),
            max_rows: 60,
            total_rows: Some(a.height()),
        });
    }
    if let Some(pot) = run.potential {
        sections.extend(potential_sections(pot));
    }
    sections.extend(cluster_sections(run.clusters, run.comparison));
    if let Some(h) = run.history {
        sections.extend(history_sections(h));
    }
    sections
}

/// The purchase and spend models' fits and the potential per tier.
fn potential_sections(pot: &crate::potential::PotentialResults) -> Vec<Section<'_>> {
    let r = &pot.potential.report;
    vec![
        Section {
            id: "potential",
            title: "Potential by tier",
            intro: format!(
                "Probability of still being a customer (P(alive)), purchases expected in the next {} {}s and lifetime value over them, discounted at {} a year, per tier (potential_by_tier.parquet; per customer in potential.parquet).",
                r.horizon,
                serde_json::to_value(r.time_unit)
                    .ok()
                    .and_then(|v| v.as_str().map(str::to_string))
                    .unwrap_or_default(),
                pct(r.discount_rate)
            ),
            table: Some(&pot.by_tier),
            max_rows: 50,
            total_rows: None,
        },
        Section {
            id: "potential_fits",
            title: "Purchase and spend models",
            intro: format!(
                "BG/NBD fitted on {} customers ({} distinct summaries), Gamma-Gamma on the {} with repeat purchases of positive value (potential_fits.parquet).",
                thousands(r.customers),
                thousands(r.distinct_summaries),
                thousands(r.spend_customers)
            ),
            table: Some(&pot.fits),
            max_rows: 20,
            total_rows: None,
        },
    ]
}

/// `0.1` as `10 %`.
fn pct(share: f64) -> String {
    let p = share * 100.0;
    if p.fract() == 0.0 {
        format!("{p:.0} %")
    } else {
        format!("{p:.1} %")
    }
}

/// The clusters and their comparison with the rules, when clustering ran.
fn cluster_sections<'a>(
    cl: Option<&'a ClusterOutput>,
    cmp: Option<&'a Comparison>,
) -> Vec<Section<'a>> {
    let mut sections = Vec::new();
    if let Some(cl) = cl {
        sections.push(Section {
            id: "clusters",
            title: "Cluster profiles",
            intro: format!(
                "k-means with k = {}; clusters numbered by value, 1 = most valuable (cluster_profiles.parquet).",
                cl.k
            ),
            table: Some(&cl.profiles),
            max_rows: 50,
            total_rows: None,
        });
    }
    if let Some(c) = cmp {
        sections.push(Section {
            id: "comparison",
            title: "Rules versus clusters",
            intro: "Do the clusters agree with the tiers written by hand? (comparison.parquet)"
                .into(),
            table: Some(&c.metrics),
            max_rows: 20,
            total_rows: None,
        });
        sections.push(Section {
            id: "profiles",
            title: "Tiers and clusters side by side",
            intro: "Size and mean/median recency, frequency, monetary and profit of every tier and cluster (group_profiles.parquet).".into(),
            table: Some(&c.profiles),
            max_rows: 50,
            total_rows: None,
        });
        sections.push(Section {
            id: "disagreements",
            title: "Top disagreements",
            intro: "Customers whose rule tier and cluster are furthest apart, most revenue first (disagreements.parquet).".into(),
            table: Some(&c.disagreements),
            max_rows: 20,
            total_rows: None,
        });
    }
    sections
}

/// Stability, migration and movements between as-of dates.
fn history_sections(h: &HistoryTables) -> Vec<Section<'_>> {
    vec![
        Section {
        id: "stability",
        title: "Stability between as-of dates",
        intro: "Share of customers who kept their tier, upgrades, downgrades, new and departed customers (stability.parquet).".into(),
        table: Some(&h.stability),
        max_rows: 50,
        total_rows: None,
        },
        Section {
        id: "migration",
        title: "Tier migration",
        intro: "Customers and their revenue from each tier to each tier, per pair of dates (migration.parquet).".into(),
        table: Some(&h.migration),
        max_rows: 60,
        total_rows: None,
        },
        Section {
        id: "movements",
        title: "Who moved",
        intro:
            "Customers who moved up or down, appeared or left, with the reason (movements.parquet)."
                .into(),
        table: Some(&h.movements),
        max_rows: 30,
        total_rows: None,
        },
    ]
}

/// The charts drawn, with their captions, read back to be embedded.
fn embedded_charts(
    chart_dir: &Path,
    chart_files: &[String],
) -> Result<Vec<(String, String, Vec<u8>)>> {
    let captions = [
        ("tier_sizes.png", "Tier sizes with revenue and profit share"),
        ("pareto.png", "Pareto curve with the tier cut points"),
        ("rfm_heatmap.png", "Mean monetary value by R and F score"),
        (
            "recency_monetary.png",
            "Recency against monetary, by rule tier and by cluster",
        ),
        ("k_selection.png", "Choosing k: inertia and silhouette"),
        ("tier_cluster_heatmap.png", "Rule tier x cluster"),
        ("tier_sizes_over_time.png", "Customers per tier over time"),
        (
            "migration_heatmap.png",
            "Tier migration between the last two dates",
        ),
    ];
    let mut charts = Vec::new();
    for (file, caption) in captions {
        if chart_files.iter().any(|f| f == file) {
            let bytes = std::fs::read(chart_dir.join(file))
                .with_context(|| format!("reading chart {file}"))?;
            charts.push((file.to_string(), caption.to_string(), bytes));
        }
    }
    Ok(charts)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn base64_matches_rfc4648_examples() {
        assert_eq!(base64(b""), "");
        assert_eq!(base64(b"f"), "Zg==");
        assert_eq!(base64(b"fo"), "Zm8=");
        assert_eq!(base64(b"foo"), "Zm9v");
        assert_eq!(base64(b"foobar"), "Zm9vYmFy");
    }

    #[test]
    fn tables_escape_and_format() {
        let df = df!("name" => ["<b>A</b>"], "value" => [12345.678], "rate" => [0.12345]).unwrap();
        let r = Report {
            title: "t".into(),
            summary: vec![("as_of".into(), "2024-01-01".into())],
            sections: vec![Section {
                id: "s",
                title: "Tiers",
                intro: "x".into(),
                table: Some(&df),
                max_rows: 10,
                total_rows: None,
            }],
            charts: vec![("a.png".into(), "A chart".into(), vec![1, 2, 3])],
        };
        let html = render_report(&r);
        assert!(
            html.contains("<td class=t>&lt;b&gt;A&lt;/b&gt;</td><td>12,346</td><td>0.1235</td>"),
            "{html}"
        );
        assert!(html.contains("src=\"data:image/png;base64,AQID\""));
        assert!(html.contains("<a href=\"#s\">Tiers</a>"));
    }
}
