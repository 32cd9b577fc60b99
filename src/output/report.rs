//! `report.html`: one self-contained page (styles inline, charts embedded as data URIs, no
//! network) for the people who act on the tiers. Key figures first, then the tier picture,
//! segments, potential, alerts, clusters against rules, history, data quality and the run's
//! provenance; each chart beside the table it explains. Numbers are formatted as people
//! read them, wide tables scroll in their own box, long ones show their first rows. Words in
//! the report's language ([`crate::lang`]). Formatting only: every number arrives computed.

use std::fmt::Write as _;
use std::path::Path;

use anyhow::{Context, Result};
use polars::prelude::*;

use super::files as f;
use super::metadata::RunMetadata;
use super::numbers::{days, decimal, money, pct, whole};
use super::{RunResults, REPORT_ALERTS};
use crate::columns as c;
use crate::history::HistoryTables;
use crate::lang::{fill, Language, Words};
use crate::tiers::clusters::ClusterOutput;

/// A table of the report, with what it is and where all of its rows are.
pub struct Table<'a> {
    pub intro: String,
    pub df: &'a DataFrame,
    /// Rows shown at most.
    pub max_rows: usize,
    /// Rows of the whole table when `df` holds only its first rows.
    pub total_rows: Option<usize>,
    /// The files holding every row ("alerts.parquet", "alerts.parquet and alerts.csv").
    pub file: String,
    /// How numbers of each column read; `comparison` formats its values per metric.
    pub comparison: bool,
}

/// A chart of the report: file name in `charts/`, title, PNG bytes.
pub struct Figure {
    pub file: String,
    pub title: String,
    pub png: Vec<u8>,
}

/// A table and the charts that explain it, side by side.
pub struct Block<'a> {
    pub title: Option<String>,
    pub table: Table<'a>,
    pub figures: Vec<Figure>,
}

/// A titled part of the page.
pub struct Section<'a> {
    pub id: &'static str,
    pub title: String,
    pub blocks: Vec<Block<'a>>,
}

/// One key figure of the header.
pub struct KeyFigure {
    pub label: String,
    pub value: String,
    /// What the figure means, shown under it (may be empty).
    pub hint: String,
}

/// What the page shows.
pub struct Report<'a> {
    pub lang: Language,
    pub title: String,
    pub subtitle: String,
    pub key_figures: Vec<KeyFigure>,
    pub sections: Vec<Section<'a>>,
    /// (label, value) lines of the run's provenance, shown last.
    pub provenance: Vec<(String, String)>,
}

const STYLE: &str = "\
*{box-sizing:border-box}\
body{font-family:system-ui,-apple-system,'Segoe UI','Noto Sans','Noto Sans CJK SC','PingFang SC','Microsoft YaHei','DejaVu Sans',Arial,sans-serif;margin:0 auto;max-width:1500px;color:#1f2933;padding:0 1.2em 3em;line-height:1.4}\
header{padding:1.2em 0 .6em;border-bottom:2px solid #d9e2ec}\
h1{font-size:1.7em;margin:0}.sub{color:#52606d;margin:.2em 0 .8em}\
.figures{display:grid;grid-template-columns:repeat(auto-fill,minmax(10.5em,1fr));gap:.8em}\
.fig{min-width:0;background:#f0f4f8;border-radius:6px;padding:.6em .8em}\
.fig .v{display:block;font-size:1.35em;font-weight:600;overflow-wrap:anywhere}\
.fig .l{display:block;color:#334e68;font-size:.9em}.fig .h{display:block;color:#627d98;font-size:.78em}\
nav{margin:.8em 0;display:flex;flex-wrap:wrap;gap:.3em 1.2em}nav a{color:#1f5fa8}\
h2{font-size:1.35em;margin-top:2em;border-bottom:1px solid #d9e2ec}h3{font-size:1.08em;margin:1.4em 0 .3em}\
.pair{display:flex;flex-wrap:wrap;gap:1.2em;align-items:flex-start}\
.pair>.side{flex:1 1 34em;min-width:0}.pair>.charts{flex:1 1 30em;min-width:0}\
.tbl{overflow:auto;max-height:36em;border:1px solid #d9e2ec;max-width:100%;width:max-content}\
table{border-collapse:collapse;font-size:.85em;width:max-content}\
th,td{border-bottom:1px solid #e4e7eb;padding:4px 8px;text-align:right;white-space:nowrap;vertical-align:top}\
th{position:sticky;top:0;background:#e8eef5;z-index:1;font-weight:600}\
td.t,th.t{text-align:left}td.long{white-space:normal;min-width:24em;max-width:44em;text-align:left}\
tbody tr:nth-child(even){background:#fafbfc}\
.more{color:#52606d;font-size:.85em;margin:.3em 0}\
figure{margin:0 0 1em}figure img{max-width:100%;height:auto;border:1px solid #e4e7eb;display:block}\
figcaption{font-size:.85em;color:#52606d}\
dl{display:grid;grid-template-columns:max-content minmax(0,1fr);gap:3px 14px}dt{font-weight:600}dd{margin:0;overflow-wrap:anywhere}";

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

/// How a column's cells read and align.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
enum Kind {
    /// Right-aligned number.
    Number,
    /// Left-aligned short text.
    Text,
    /// Text that wraps in a wide column (reasons, details).
    Long,
}

/// Columns whose values are codes shown in words (`churn_risk` -> "churn risk", "流失风险").
const CODE_COLUMNS: &[&str] = &[
    c::ALERT,
    c::SEVERITY,
    c::DIRECTION,
    c::DQ_ACTION,
    c::DQ_STEP,
    c::METRIC,
    c::GROUP,
    c::MODEL,
    c::RISK,
    c::DIMENSION,
];

/// Columns of sentences, which wrap.
const LONG_COLUMNS: &[&str] = &[c::REASON, c::DETAIL, c::RISK_REASONS, c::MEANING, c::NOTE];

/// How the numbers of column `name` read.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
enum NumberFormat {
    Percent,
    Money,
    Days,
    OneDecimal,
    Plain,
}

fn number_format(name: &str) -> NumberFormat {
    const PERCENT: &[&str] = &[
        c::DQ_SHARE,
        c::STABILITY,
        c::MEAN_P_ALIVE,
        c::P_ALIVE,
        c::ON_TIME_RATE,
        c::RETURN_RATE,
        c::MARGIN,
        c::SHARE_OF_TIER,
        c::GROWTH,
    ];
    const MONEY: &[&str] = &[
        c::REVENUE,
        c::PROFIT,
        c::MONETARY,
        c::MEAN_CLV,
        c::TOTAL_CLV,
        c::CLV,
        c::OVERDUE_AMOUNT,
        c::EXPECTED_SPEND,
        c::AVG_ORDER_VALUE,
        c::GROSS_REVENUE,
        c::RETURNED_VALUE,
        c::MONETARY_LAST_PERIOD,
        c::MONETARY_PREV_PERIOD,
    ];
    if name.ends_with("_share") || PERCENT.contains(&name) {
        NumberFormat::Percent
    } else if MONEY.contains(&name)
        || name.ends_with("_monetary")
        || name.ends_with("_profit")
        || name.ends_with("_revenue")
    {
        NumberFormat::Money
    } else if name.contains("days") {
        NumberFormat::Days
    } else if name.contains("score")
        || name.contains("frequency")
        || name.contains("purchases")
        || name.starts_with("comp_")
    {
        NumberFormat::OneDecimal
    } else {
        NumberFormat::Plain
    }
}

/// A float as column `name` shows it.
fn float_cell(name: &str, x: f64) -> String {
    match number_format(name) {
        NumberFormat::Percent => pct(x),
        NumberFormat::Money => money(x),
        NumberFormat::Days => days(x),
        NumberFormat::OneDecimal => decimal(x, 1),
        NumberFormat::Plain if x.abs() >= 1000.0 || x.fract() == 0.0 => whole(x),
        NumberFormat::Plain if x.abs() >= 1.0 => decimal(x, 2),
        NumberFormat::Plain => {
            // Small parameters and indices: four significant digits, no trailing zeros.
            let digits = (4 - x.abs().log10().ceil() as i32).clamp(2, 8) as usize;
            let s = decimal(x, digits);
            s.trim_end_matches('0').trim_end_matches('.').to_string()
        }
    }
}

/// comparison.parquet's value of `metric`: counts whole, the agreement rate as a share, the
/// indices with three decimals.
fn metric_cell(metric: &str, x: f64) -> String {
    match metric {
        "customers" | "tiers" | "clusters" => whole(x),
        "agreement_rate" => pct(x),
        _ => decimal(x, 3),
    }
}

fn cell(name: &str, v: AnyValue, w: &Words, lang: Language) -> (String, Kind) {
    match v {
        AnyValue::Null => (String::new(), Kind::Number),
        AnyValue::Float64(x) => (float_cell(name, x), Kind::Number),
        AnyValue::Float32(x) => (float_cell(name, x as f64), Kind::Number),
        AnyValue::Int64(x) => (whole(x as f64), Kind::Number),
        AnyValue::Int32(x) => (whole(x as f64), Kind::Number),
        AnyValue::UInt64(x) => (whole(x as f64), Kind::Number),
        AnyValue::UInt32(x) => (whole(x as f64), Kind::Number),
        AnyValue::Boolean(b) => ((if b { w.yes } else { "" }).to_string(), Kind::Text),
        AnyValue::String(s) => text_cell(name, s, lang),
        AnyValue::StringOwned(s) => text_cell(name, s.as_str(), lang),
        other => (other.to_string().trim_matches('"').to_string(), Kind::Text),
    }
}

fn text_cell(name: &str, s: &str, lang: Language) -> (String, Kind) {
    if LONG_COLUMNS.contains(&name) {
        (s.to_string(), Kind::Long)
    } else if CODE_COLUMNS.contains(&name) {
        let v = lang.value(s);
        let v = match lang {
            Language::En => v.replace('_', " "),
            Language::Zh => v.into_owned(),
        };
        (v, Kind::Text)
    } else {
        (s.to_string(), Kind::Text)
    }
}

fn table(t: &Table, w: &Words, lang: Language) -> String {
    let df = t.df;
    let shown = df.height().min(t.max_rows);
    let names: Vec<&str> = df.get_column_names().iter().map(|n| n.as_str()).collect();
    let metric = t
        .comparison
        .then(|| {
            df.column(c::METRIC)
                .ok()
                .and_then(|m| m.str().ok().cloned())
        })
        .flatten();
    // Rows first, so each heading can align like its column.
    let mut kinds = vec![Kind::Number; names.len()];
    let mut rows = Vec::with_capacity(shown);
    for i in 0..shown {
        let mut row = Vec::with_capacity(names.len());
        for (j, col) in df.columns().iter().enumerate() {
            let v = col.get(i).unwrap_or(AnyValue::Null);
            let (mut s, kind) = cell(names[j], v.clone(), w, lang);
            if let (Some(m), c::VALUE) = (&metric, names[j]) {
                if let AnyValue::Float64(x) = v {
                    s = metric_cell(m.get(i).unwrap_or(""), x);
                }
            }
            if let (Some(m), c::MEANING) = (&metric, names[j]) {
                if let Some(t) = lang.metric_meaning(m.get(i).unwrap_or("")) {
                    s = t.to_string();
                }
            }
            if !s.is_empty() && kind != Kind::Number {
                kinds[j] = kind;
            }
            row.push((s, kind));
        }
        rows.push(row);
    }
    let mut h = String::from("<div class=tbl><table><thead><tr>");
    for (j, name) in names.iter().enumerate() {
        let class = if kinds[j] == Kind::Number {
            ""
        } else {
            " class=t"
        };
        let _ = write!(
            h,
            "<th{class} title=\"{}\">{}</th>",
            esc(name),
            esc(&lang.column(name))
        );
    }
    h.push_str("</tr></thead><tbody>");
    for row in rows {
        h.push_str("<tr>");
        for (s, kind) in row {
            let class = match kind {
                Kind::Number => "",
                Kind::Text => " class=t",
                Kind::Long => " class=long",
            };
            let _ = write!(h, "<td{class}>{}</td>", esc(&s));
        }
        h.push_str("</tr>");
    }
    h.push_str("</tbody></table></div>");
    let total = t.total_rows.unwrap_or(df.height());
    let line = if total > shown {
        fill(
            w.first_rows,
            &[&whole(shown as f64), &whole(total as f64), &t.file],
        )
    } else {
        fill(w.all_rows, &[&whole(total as f64), &t.file])
    };
    let _ = write!(h, "<p class=more>{}</p>", esc(&line));
    h
}

fn figure(fig: &Figure) -> String {
    let stem = fig.file.trim_end_matches(".png");
    format!(
        "<figure id=\"chart-{}\"><img alt=\"{}\" src=\"data:image/png;base64,{}\"><figcaption>{} (<a href=\"charts/{}\">PNG</a>, <a href=\"charts/{stem}.svg\">SVG</a>)</figcaption></figure>",
        esc(stem),
        esc(&fig.title),
        base64(&fig.png),
        esc(&fig.title),
        esc(&fig.file),
    )
}

/// Renders the page.
pub fn render_report(r: &Report) -> String {
    let w = r.lang.words();
    let mut h = String::new();
    let _ = write!(
        h,
        "<!DOCTYPE html><html lang={}><head><meta charset=utf-8><meta name=viewport content=\"width=device-width,initial-scale=1\"><title>{} · {}</title><style>{STYLE}</style></head><body>",
        r.lang.code(),
        esc(&r.title),
        esc(&r.subtitle)
    );
    let _ = write!(
        h,
        "<header id=key-figures><h1>{}</h1><p class=sub>{}</p><div class=figures>",
        esc(&r.title),
        esc(&r.subtitle)
    );
    for k in &r.key_figures {
        let _ = write!(
            h,
            "<div class=fig><span class=v>{}</span><span class=l>{}</span>",
            esc(&k.value),
            esc(&k.label)
        );
        if !k.hint.is_empty() {
            let _ = write!(h, "<span class=h>{}</span>", esc(&k.hint));
        }
        h.push_str("</div>");
    }
    let _ = write!(h, "</div></header><nav aria-label=\"{}\">", esc(w.contents));
    for s in &r.sections {
        let _ = write!(h, "<a href=\"#{}\">{}</a>", s.id, esc(&s.title));
    }
    let _ = write!(h, "<a href=\"#run\">{}</a></nav>", esc(w.provenance));
    for s in &r.sections {
        let _ = write!(h, "<section id={}><h2>{}</h2>", s.id, esc(&s.title));
        for b in &s.blocks {
            if let Some(t) = &b.title {
                let _ = write!(h, "<h3>{}</h3>", esc(t));
            }
            h.push_str("<div class=pair><div class=side>");
            let _ = write!(h, "<p>{}</p>", esc(&b.table.intro));
            h.push_str(&table(&b.table, w, r.lang));
            h.push_str("</div>");
            if !b.figures.is_empty() {
                h.push_str("<div class=charts>");
                for fig in &b.figures {
                    h.push_str(&figure(fig));
                }
                h.push_str("</div>");
            }
            h.push_str("</div>");
        }
        h.push_str("</section>");
    }
    let _ = write!(h, "<section id=run><h2>{}</h2><dl>", esc(w.provenance));
    for (k, v) in &r.provenance {
        let _ = write!(h, "<dt>{}</dt><dd>{}</dd>", esc(k), esc(v));
    }
    h.push_str("</dl></section></body></html>\n");
    h
}

/// Counts of alerts per severity ("high", "medium"), most severe first.
pub type SeverityCounts = Vec<(String, usize)>;

/// Counts the alerts of `alerts` per severity, in the order they first appear (the table is
/// sorted most severe first).
pub fn severity_counts(alerts: &DataFrame) -> SeverityCounts {
    let mut counts: SeverityCounts = Vec::new();
    let Ok(s) = alerts.column(c::SEVERITY).and_then(|s| s.str().cloned()) else {
        return counts;
    };
    for v in s.iter().flatten() {
        match counts.iter_mut().find(|(k, _)| k == v) {
            Some((_, n)) => *n += 1,
            None => counts.push((v.to_string(), 1)),
        }
    }
    counts
}

/// What the report needs besides the run's results.
pub struct ReportInputs<'a> {
    pub metadata: &'a RunMetadata,
    pub quality: &'a DataFrame,
    pub chart_dir: &'a Path,
    pub chart_files: &'a [String],
    /// Alerts per severity over all alerts (the run keeps only the first few).
    pub severities: &'a SeverityCounts,
    /// Whether tiers.csv and alerts.csv are written.
    pub csv: bool,
}

/// Assembles report.html from the tables of the run.
pub fn build_report(run: &RunResults, inputs: &ReportInputs) -> Result<String> {
    let lang = run.plan.pipeline.report.language;
    let w = lang.words();
    let m = inputs.metadata;
    let charts = Charts {
        dir: inputs.chart_dir,
        files: inputs.chart_files,
        w,
    };
    let mut sections = vec![
        tier_section(run, &charts, w)?,
        segment_section(run, &charts, w)?,
    ];
    if let Some(a) = &run.grading.attribute_summary {
        sections.push(Section {
            id: "attributes",
            title: w.attributes.into(),
            blocks: vec![block(
                None,
                table_of(w.attributes_intro.into(), a, 60, f::ATTRIBUTE_SUMMARY),
            )],
        });
    }
    if let Some(pot) = run.potential {
        sections.push(potential_section(pot, lang));
    }
    sections.push(alert_section(run, inputs.csv, w));
    if let Some(s) = cluster_section(run.clusters, run.comparison, &charts, w)? {
        sections.push(s);
    }
    if let Some(hist) = run.history {
        sections.push(history_section(hist, &charts, w)?);
    }
    sections.push(Section {
        id: "quality",
        title: w.quality.into(),
        blocks: vec![block(
            None,
            table_of(w.quality_intro.into(), inputs.quality, 50, f::DATA_QUALITY),
        )],
    });
    Ok(render_report(&Report {
        lang,
        title: w.title.to_string(),
        subtitle: fill(w.as_of_line, &[&m.pipeline_name, &m.as_of]),
        key_figures: key_figures(run, m, inputs.severities, lang),
        sections,
        provenance: provenance(m, w),
    }))
}

/// The header: customers graded, as-of date, the top tier's revenue and profit share,
/// customers downgraded by risk, alerts by severity, and the agreement of rules and
/// clusters.
fn key_figures(
    run: &RunResults,
    m: &RunMetadata,
    severities: &SeverityCounts,
    lang: Language,
) -> Vec<KeyFigure> {
    let w = lang.words();
    let per_tier = &run.grading.per_tier;
    let figure = |label: String, value: String, hint: String| KeyFigure { label, value, hint };
    let mut figures = vec![
        figure(
            w.customers_graded.into(),
            whole(m.customers as f64),
            String::new(),
        ),
        figure(w.as_of.into(), m.as_of.clone(), String::new()),
    ];
    if let Some(top) = per_tier.names.first() {
        let share = |v: &[f64]| v.first().copied().unwrap_or(0.0);
        let customers = pct(share(&per_tier.customer_share));
        let hint = format!("{top}: {customers} {}", lang.column(c::CUSTOMERS));
        figures.push(figure(
            fill(w.revenue_share_of, &[top]),
            pct(share(&per_tier.revenue.share)),
            hint.clone(),
        ));
        if let Some(p) = &per_tier.profit {
            figures.push(figure(
                fill(w.profit_share_of, &[top]),
                pct(share(&p.share)),
                hint,
            ));
        }
    }
    let downgraded: u64 = per_tier.downgraded_into.iter().sum();
    figures.push(figure(
        w.downgraded_by_risk.into(),
        whole(downgraded as f64),
        String::new(),
    ));
    let alerts = if severities.is_empty() {
        w.no_alerts.to_string()
    } else {
        severities
            .iter()
            .map(|(s, n)| match lang {
                Language::En => format!("{} {s}", whole(*n as f64)),
                Language::Zh => format!("{} {}", lang.value(s), whole(*n as f64)),
            })
            .collect::<Vec<_>>()
            .join(" · ")
    };
    figures.push(figure(w.alerts_by_severity.into(), alerts, String::new()));
    if let Some(cmp) = run.comparison {
        if let Some(ari) = cmp.summary.iter().find(|x| x.name == "adjusted_rand_index") {
            figures.push(figure(
                w.ari.into(),
                decimal(ari.value, 2),
                w.ari_hint.into(),
            ));
        }
    }
    figures
}

/// The charts drawn, to embed.
struct Charts<'a> {
    dir: &'a Path,
    files: &'a [String],
    w: &'static Words,
}

impl Charts<'_> {
    /// The PNG charts among `names` that were drawn, with their titles.
    fn pick(&self, names: &[&str]) -> Result<Vec<Figure>> {
        let mut out = Vec::new();
        for name in names {
            let file = format!("{name}.png");
            if !self.files.contains(&file) {
                continue;
            }
            let png = std::fs::read(self.dir.join(&file))
                .with_context(|| format!("reading chart {file}"))?;
            out.push(Figure {
                title: chart_title(name, self.w),
                file,
                png,
            });
        }
        Ok(out)
    }
}

/// The caption of a chart.
fn chart_title(name: &str, w: &Words) -> String {
    match name {
        "tier_sizes" => w.tier_sizes_title,
        "pareto" => w.pareto_title,
        "segments" => w.segments_title,
        "rfm_heatmap" => w.rfm_title,
        "recency_monetary" => w.scatter_caption,
        "k_selection" => w.k_caption,
        "tier_cluster_heatmap" => w.crosstab_title,
        "tier_sizes_over_time" => w.sizes_over_time_title,
        "migration_heatmap" => w.migration_caption,
        _ => name,
    }
    .to_string()
}

fn table_of<'a>(intro: String, df: &'a DataFrame, max_rows: usize, file: &str) -> Table<'a> {
    Table {
        intro,
        df,
        max_rows,
        total_rows: None,
        file: file.to_string(),
        comparison: false,
    }
}

fn block<'a>(title: Option<&str>, table: Table<'a>) -> Block<'a> {
    Block {
        title: title.map(str::to_string),
        table,
        figures: Vec::new(),
    }
}

fn with_figures(mut b: Block<'_>, figures: Vec<Figure>) -> Block<'_> {
    b.figures = figures;
    b
}

fn tier_section<'a>(run: &'a RunResults, charts: &Charts, w: &Words) -> Result<Section<'a>> {
    let t = table_of(
        w.tiers_intro.into(),
        &run.grading.tier_summary,
        50,
        f::TIER_SUMMARY,
    );
    Ok(Section {
        id: "tiers",
        title: w.tiers.into(),
        blocks: vec![with_figures(
            block(None, t),
            charts.pick(&["tier_sizes", "pareto"])?,
        )],
    })
}

fn segment_section<'a>(run: &'a RunResults, charts: &Charts, w: &Words) -> Result<Section<'a>> {
    let t = table_of(
        w.segments_intro.into(),
        &run.grading.segment_summary,
        50,
        f::SEGMENT_SUMMARY,
    );
    Ok(Section {
        id: "segments",
        title: w.segments.into(),
        blocks: vec![with_figures(
            block(None, t),
            charts.pick(&["segments", "rfm_heatmap"])?,
        )],
    })
}

/// The potential per tier and the purchase and spend models' fits.
fn potential_section(pot: &crate::potential::PotentialResults, lang: Language) -> Section<'_> {
    let w = lang.words();
    let r = &pot.report;
    let unit = serde_json::to_value(r.time_unit)
        .ok()
        .and_then(|v| v.as_str().map(str::to_string))
        .unwrap_or_default();
    let horizon = match lang {
        Language::En => format!("{} {unit}s", r.horizon),
        Language::Zh => {
            let unit = match unit.as_str() {
                "day" => "天",
                "week" => "周",
                "month" => "个月",
                other => other,
            };
            format!("{} {unit}", r.horizon)
        }
    };
    let by_tier = table_of(
        fill(w.potential_intro, &[&horizon, &pct(r.discount_rate)]),
        &pot.by_tier,
        50,
        f::POTENTIAL_BY_TIER,
    );
    let fits = table_of(
        fill(
            w.potential_fits_intro,
            &[
                &whole(r.customers as f64),
                &whole(r.distinct_summaries as f64),
                &whole(r.spend_customers as f64),
            ],
        ),
        &pot.fits,
        20,
        f::POTENTIAL_FITS,
    );
    Section {
        id: "potential",
        title: w.potential.into(),
        blocks: vec![block(None, by_tier), block(Some(w.potential_fits), fits)],
    }
}

fn alert_section<'a>(run: &'a RunResults, csv: bool, w: &Words) -> Section<'a> {
    let g = run.grading;
    let file = if csv {
        format!("{} + {}", f::ALERTS, f::ALERTS_CSV)
    } else {
        f::ALERTS.to_string()
    };
    let table = Table {
        intro: fill(w.alerts_intro, &[&whole(g.alert_count as f64)]),
        df: &g.alerts,
        max_rows: REPORT_ALERTS,
        total_rows: Some(g.alert_count),
        file,
        comparison: false,
    };
    Section {
        id: "alerts",
        title: w.alerts.into(),
        blocks: vec![block(None, table)],
    }
}

/// The clusters and their comparison with the rules, when clustering ran.
fn cluster_section<'a>(
    cl: Option<&'a ClusterOutput>,
    cmp: Option<&'a crate::compare::Comparison>,
    charts: &Charts,
    w: &Words,
) -> Result<Option<Section<'a>>> {
    let mut blocks = Vec::new();
    if let Some(c) = cmp {
        let mut metrics = table_of(w.comparison_intro.into(), &c.metrics, 20, f::COMPARISON);
        metrics.comparison = true;
        blocks.push(with_figures(
            block(None, metrics),
            charts.pick(&["tier_cluster_heatmap"])?,
        ));
    }
    if let Some(cl) = cl {
        let intro = fill(w.cluster_profiles_intro, &[&cl.k]);
        blocks.push(with_figures(
            block(
                Some(w.cluster_profiles),
                table_of(intro, &cl.profiles, 50, f::CLUSTER_PROFILES),
            ),
            charts.pick(&["k_selection"])?,
        ));
    }
    if let Some(c) = cmp {
        let t = table_of(
            w.side_by_side_intro.into(),
            &c.profiles,
            50,
            f::GROUP_PROFILES,
        );
        blocks.push(with_figures(
            block(Some(w.side_by_side), t),
            charts.pick(&["recency_monetary"])?,
        ));
        let t = table_of(
            w.disagreements_intro.into(),
            &c.disagreements,
            20,
            f::DISAGREEMENTS,
        );
        blocks.push(block(Some(w.disagreements), t));
    }
    Ok((!blocks.is_empty()).then(|| Section {
        id: "clusters",
        title: w.clusters_vs_rules.into(),
        blocks,
    }))
}

/// Stability, migration and movements between as-of dates.
fn history_section<'a>(h: &'a HistoryTables, charts: &Charts, w: &Words) -> Result<Section<'a>> {
    let stability = table_of(w.stability_intro.into(), &h.stability, 50, f::STABILITY);
    let migration = table_of(w.migration_intro.into(), &h.migration, 60, f::MIGRATION);
    let movements = table_of(w.movements_intro.into(), &h.movements, 30, f::MOVEMENTS);
    Ok(Section {
        id: "history",
        title: w.history.into(),
        blocks: vec![
            with_figures(
                block(None, stability),
                charts.pick(&["tier_sizes_over_time"])?,
            ),
            with_figures(block(None, migration), charts.pick(&["migration_heatmap"])?),
            block(None, movements),
        ],
    })
}

/// The (label, value) lines of the run's provenance.
fn provenance(m: &RunMetadata, w: &Words) -> Vec<(String, String)> {
    let mut lines = vec![
        (
            w.pipeline.to_string(),
            format!("{} ({})", m.pipeline_name, m.pipeline_path),
        ),
        (
            w.as_of_source.to_string(),
            format!("{} ({})", m.as_of, m.as_of_source),
        ),
        (w.run_on.to_string(), m.run_date.clone()),
        (w.version.to_string(), m.version.to_string()),
    ];
    for file in &m.inputs {
        let path = file.path.display().to_string();
        let rows = whole(file.rows as f64);
        lines.push((w.input.to_string(), fill(w.input_rows, &[&path, &rows])));
    }
    lines.push((w.rows_read.into(), whole(m.rows_read as f64)));
    lines.push((w.rows_kept.into(), whole(m.rows_kept as f64)));
    for q in m
        .data_quality
        .iter()
        .filter(|q| q.action == "dropped" && q.rows > 0)
    {
        lines.push((fill(w.dropped, &[&q.step]), whole(q.rows as f64)));
    }
    lines.push((w.customers.into(), whole(m.customers as f64)));
    for n in &m.notes {
        lines.push((w.note.into(), n.clone()));
    }
    lines
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

    fn page<'a>(df: &'a DataFrame, lang: Language, max_rows: usize) -> Report<'a> {
        Report {
            lang,
            title: "t".into(),
            subtitle: "s".into(),
            key_figures: vec![KeyFigure {
                label: "customers graded".into(),
                value: "1,688".into(),
                hint: String::new(),
            }],
            sections: vec![Section {
                id: "tiers",
                title: "Tiers".into(),
                blocks: vec![Block {
                    title: None,
                    table: Table {
                        intro: "x".into(),
                        df,
                        max_rows,
                        total_rows: None,
                        file: "tier_summary.parquet".into(),
                        comparison: false,
                    },
                    figures: vec![Figure {
                        file: "tier_sizes.png".into(),
                        title: "A chart".into(),
                        png: vec![1, 2, 3],
                    }],
                }],
            }],
            provenance: vec![("as of".into(), "2024-01-01".into())],
        }
    }

    #[test]
    fn numbers_read_as_people_write_them() {
        let df = df!(
            "tier" => ["<b>A</b>", "B"],
            "customers" => [1234i64, 5],
            "customer_share" => [0.2944, 0.7056],
            "revenue" => [29403279.4, 12.5],
            "mean_recency_days" => [33.8, 50.0],
            "mean_score" => [81.234, 9.0],
            "reason" => ["score 81.23 >= 75 -> A", "score 9.00 < 35 -> B"],
        )
        .unwrap();
        let html = render_report(&page(&df, Language::En, 10));
        assert!(
            html.contains("<tr><td class=t>&lt;b&gt;A&lt;/b&gt;</td><td>1,234</td><td>29.4 %</td><td>29,403,279</td><td>34</td><td>81.2</td><td class=long>score 81.23 &gt;= 75 -&gt; A</td></tr>"),
            "{html}"
        );
        assert!(
            html.contains("<td>12.50</td><td>50</td><td>9.0</td>"),
            "{html}"
        );
        assert!(html.contains("<th class=t title=\"tier\">tier</th><th title=\"customers\">customers</th><th title=\"customer_share\">customer share</th>"), "{html}");
        assert!(
            html.contains("<p class=more>2 rows; also in tier_summary.parquet.</p>"),
            "{html}"
        );
        assert!(html.contains("src=\"data:image/png;base64,AQID\""));
        assert!(html.contains("<a href=\"#tiers\">Tiers</a>"));
        assert!(html.starts_with("<!DOCTYPE html><html lang=en>"));
        // The key figures come before the first table.
        let header = html.find("id=key-figures").unwrap();
        assert!(header < html.find("<table").unwrap());
        assert!(html.contains("<span class=v>1,688</span><span class=l>customers graded</span>"));
    }

    #[test]
    fn long_tables_say_where_the_rest_is_and_chinese_pages_say_it_in_chinese() {
        let df = df!(
            "alert" => ["churn_risk", "spend_drop", "overdue_receivable"],
            "severity" => ["high", "medium", "medium"],
        )
        .unwrap();
        let html = render_report(&page(&df, Language::En, 2));
        assert!(
            html.contains("<td class=t>churn risk</td><td class=t>high</td>"),
            "{html}"
        );
        assert!(
            html.contains("The first 2 of 3 rows; all of them are in tier_summary.parquet."),
            "{html}"
        );
        assert!(!html.contains("overdue receivable"), "only the first rows");
        let html = render_report(&page(&df, Language::Zh, 2));
        assert!(html.starts_with("<!DOCTYPE html><html lang=zh>"));
        assert!(
            html.contains("<td class=t>流失风险</td><td class=t>高</td>"),
            "{html}"
        );
        assert!(
            html.contains("<th class=t title=\"severity\">严重程度</th>"),
            "{html}"
        );
        assert!(
            html.contains("仅显示前 2 行（共 3 行）；全部数据见 tier_summary.parquet。"),
            "{html}"
        );
    }

    #[test]
    fn comparison_values_read_per_metric() {
        let df = df!(
            "metric" => ["customers", "adjusted_rand_index", "agreement_rate"],
            "value" => [1688.0, 0.27812, 0.671],
            "meaning" => ["customers compared", "x", "y"],
        )
        .unwrap();
        let t = Table {
            intro: String::new(),
            df: &df,
            max_rows: 10,
            total_rows: None,
            file: "comparison.parquet".into(),
            comparison: true,
        };
        let html = table(&t, Language::Zh.words(), Language::Zh);
        assert!(
            html.contains("<td class=t>参与比较的客户数</td>")
                || html.contains("<td class=t>客户数</td>"),
            "{html}"
        );
        assert!(html.contains("<td>1,688</td>"), "{html}");
        assert!(html.contains("<td>0.278</td>"), "{html}");
        assert!(html.contains("<td>67.1 %</td>"), "{html}");
        assert!(
            html.contains("<td class=long>参与比较的客户</td>"),
            "{html}"
        );
    }

    #[test]
    fn small_parameters_keep_four_significant_digits() {
        assert_eq!(float_cell("value", 0.041312), "0.04131");
        assert_eq!(float_cell("value", 2.58594), "2.59");
        assert_eq!(float_cell("value", 45.0), "45");
        assert_eq!(float_cell("gap", 0.5), "0.5");
        assert_eq!(float_cell("value", 16030.43), "16,030");
        assert_eq!(float_cell("mean_p_alive", 0.8734), "87.3 %");
        assert_eq!(float_cell("mean_clv", 1234.56), "1,235");
        assert_eq!(float_cell("mean_expected_purchases", 3.456), "3.5");
    }
}
