//! `report.html`: one self-contained page (styles inline, charts embedded as data URIs, no
//! network) with the run summary, the tier summary, cluster profiles, the comparison and the
//! charts. Formatting only: every number arrives computed.

use std::fmt::Write as _;

use polars::prelude::*;

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

fn base64(bytes: &[u8]) -> String {
    const T: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    let mut out = String::with_capacity(bytes.len().div_ceil(3) * 4);
    for chunk in bytes.chunks(3) {
        let b = [
            chunk[0],
            *chunk.get(1).unwrap_or(&0),
            *chunk.get(2).unwrap_or(&0),
        ];
        let n = (b[0] as u32) << 16 | (b[1] as u32) << 8 | b[2] as u32;
        for (i, shift) in [18, 12, 6, 0].iter().enumerate() {
            if i <= chunk.len() {
                out.push(T[(n >> shift & 63) as usize] as char);
            } else {
                out.push('=');
            }
        }
    }
    out
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
