//! Charts with plotters, each as PNG and SVG, with titles, axis labels and legends in the
//! report's language and numbers formatted as in the report. Text is drawn with the font
//! `fonts` chooses for the names and words shown ([`choose_look`]). Drawing only: the
//! numbers arrive ready in `ChartData`; nothing here computes statistics.

use std::path::Path;

use anyhow::{anyhow, Result};
use plotters::coord::Shift;
use plotters::prelude::*;

use super::fonts::{choose_font, usual_fonts, ChartFont};
use super::numbers::{axis, money, whole};
use crate::lang::{fill, Language, Words};

/// Distinct colours for tiers and clusters, best first.
const COLORS: [RGBColor; 8] = [
    RGBColor(31, 119, 180),
    RGBColor(255, 127, 14),
    RGBColor(44, 160, 44),
    RGBColor(214, 39, 40),
    RGBColor(148, 103, 189),
    RGBColor(140, 86, 75),
    RGBColor(227, 119, 194),
    RGBColor(127, 127, 127),
];

fn color(i: usize) -> RGBColor {
    COLORS[i % COLORS.len()]
}

/// Everything the charts show, prepared by the pipeline.
#[derive(Debug, Clone, Default)]
pub struct ChartData {
    pub tier_names: Vec<String>,
    pub tier_customer_share: Vec<f64>,
    pub tier_revenue_share: Vec<f64>,
    pub tier_profit_share: Option<Vec<f64>>,
    /// Net revenue per customer, any order (the Pareto curve sorts it).
    pub revenue: Vec<f64>,
    /// Mean monetary and customers per (R score, F score), both 1-based, `bins` levels.
    pub bins: usize,
    pub rfm_mean_monetary: Vec<Vec<Option<f64>>>,
    pub rfm_customers: Vec<Vec<u64>>,
    /// The plotted customers (an even sample when there are many).
    pub points: Vec<CustomerPoint>,
    pub cluster_names: Vec<String>,
    /// One per k tried.
    pub k_selection: Vec<KPoint>,
    /// Customers per tier (rows) and cluster (columns).
    pub crosstab: Vec<Vec<u64>>,
    /// Migration of the last pair of snapshots: from states (rows), to states (columns),
    /// counts, and the pair's dates for the title.
    pub migration: Option<Migration>,
    /// Customers per tier at each snapshot date.
    pub sizes_over_time: Vec<(String, Vec<u64>)>,
    /// RFM segments with their share of customers and of revenue.
    pub segments: Vec<SegmentShare>,
}

/// One RFM segment on the segments chart.
#[derive(Debug, Clone)]
pub struct SegmentShare {
    pub name: String,
    pub customer_share: f64,
    pub revenue_share: f64,
}

/// How the charts write: the font family registered for them and the language of their words.
#[derive(Debug, Clone, Copy)]
pub struct Look {
    family: &'static str,
    lang: Language,
}

impl Look {
    pub fn new(font: ChartFont, lang: Language) -> Look {
        Look {
            family: font.family,
            lang,
        }
    }

    fn font(&self, size: u32) -> TextStyle<'static> {
        (self.family, size).into_font().into()
    }

    fn words(&self) -> &'static Words {
        self.lang.words()
    }
}

/// The look of the charts of `d` in `lang`: the font of `[charts] font` (`font`), else the
/// shipped one when it has every character of the names and words shown, else an installed
/// font that has them. The notes name text that no available font covers.
pub fn choose_look(
    d: &ChartData,
    lang: Language,
    font: Option<&Path>,
) -> Result<(Look, Vec<String>)> {
    let w = lang.words();
    let mut texts: Vec<&str> = Vec::new();
    texts.extend(d.tier_names.iter().map(String::as_str));
    texts.extend(d.cluster_names.iter().map(String::as_str));
    texts.extend(d.segments.iter().map(|s| s.name.as_str()));
    texts.extend([
        w.tier_sizes_title,
        w.pareto_title,
        w.rfm_title,
        w.crosstab_title,
        w.segments_title,
        w.recency_axis,
        w.monetary_axis,
        w.customers_axis,
    ]);
    let (chosen, notes) = choose_font(&texts, font, &usual_fonts())?;
    Ok((Look::new(chosen, lang), notes))
}

/// One customer on the recency-monetary scatter.
#[derive(Debug, Clone, Copy)]
pub struct CustomerPoint {
    pub recency_days: f64,
    pub monetary: f64,
    /// Index into `tier_names`.
    pub tier: usize,
    /// Index into `cluster_names`, when clustering ran.
    pub cluster: Option<usize>,
}

/// One k tried by the clustering.
#[derive(Debug, Clone, Copy)]
pub struct KPoint {
    pub k: usize,
    pub inertia: f64,
    pub silhouette: Option<f64>,
    pub chosen: bool,
}

/// Customers moving between states from one as-of date to the next.
#[derive(Debug, Clone, Default)]
pub struct Migration {
    pub from: Vec<String>,
    pub to: Vec<String>,
    pub counts: Vec<Vec<u64>>,
    /// e.g. "2025-10-01 -> 2026-01-01"
    pub dates: String,
}

/// One chart, drawable on any backend.
trait Chart {
    fn draw<DB: DrawingBackend>(&self, root: &DrawingArea<DB, Shift>, look: &Look) -> Result<()>
    where
        DB::ErrorType: 'static;
}

fn err<E: std::fmt::Debug>(e: E) -> anyhow::Error {
    anyhow!("drawing a chart: {e:?}")
}

/// Draws `chart` into `<dir>/<name>.png` and `<dir>/<name>.svg`; returns the file names.
fn render(
    dir: &Path,
    name: &str,
    size: (u32, u32),
    chart: &impl Chart,
    look: &Look,
) -> Result<Vec<String>> {
    let png = dir.join(format!("{name}.png"));
    {
        let root = BitMapBackend::new(&png, size).into_drawing_area();
        root.fill(&WHITE).map_err(err)?;
        chart.draw(&root, look)?;
        root.present().map_err(err)?;
    }
    let svg = dir.join(format!("{name}.svg"));
    {
        let root = SVGBackend::new(&svg, size).into_drawing_area();
        root.fill(&WHITE).map_err(err)?;
        chart.draw(&root, look)?;
        root.present().map_err(err)?;
    }
    Ok(vec![format!("{name}.png"), format!("{name}.svg")])
}

/// The legend box every chart uses: white, framed, at `position`.
fn legend<'a, DB: DrawingBackend + 'a, CT: plotters::coord::CoordTranslate>(
    chart: &mut ChartContext<'a, DB, CT>,
    position: SeriesLabelPosition,
    size: u32,
    look: &Look,
) -> Result<()>
where
    DB::ErrorType: 'static,
{
    chart
        .configure_series_labels()
        .position(position)
        .label_font(look.font(size))
        .background_style(WHITE.mix(0.9))
        .border_style(BLACK)
        .draw()
        .map_err(err)?;
    Ok(())
}

/// The chart data without values that cannot be drawn: an infinite or NaN value (a sum
/// past the range of `f64`) would give an axis without end. Points and revenues are left
/// out, shares and means become 0 and missing.
fn finite_only(d: &ChartData) -> ChartData {
    let share = |v: &[f64]| -> Vec<f64> {
        v.iter()
            .map(|x| if x.is_finite() { *x } else { 0.0 })
            .collect()
    };
    ChartData {
        tier_customer_share: share(&d.tier_customer_share),
        tier_revenue_share: share(&d.tier_revenue_share),
        tier_profit_share: d.tier_profit_share.as_deref().map(share),
        revenue: d
            .revenue
            .iter()
            .copied()
            .filter(|x| x.is_finite())
            .collect(),
        rfm_mean_monetary: d
            .rfm_mean_monetary
            .iter()
            .map(|row| row.iter().map(|v| v.filter(|x| x.is_finite())).collect())
            .collect(),
        points: d
            .points
            .iter()
            .copied()
            .filter(|p| p.recency_days.is_finite() && p.monetary.is_finite())
            .collect(),
        k_selection: d
            .k_selection
            .iter()
            .copied()
            .filter(|k| k.inertia.is_finite())
            .map(|k| KPoint {
                silhouette: k.silhouette.filter(|x| x.is_finite()),
                ..k
            })
            .collect(),
        segments: d
            .segments
            .iter()
            .map(|s| SegmentShare {
                name: s.name.clone(),
                customer_share: if s.customer_share.is_finite() {
                    s.customer_share
                } else {
                    0.0
                },
                revenue_share: if s.revenue_share.is_finite() {
                    s.revenue_share
                } else {
                    0.0
                },
            })
            .collect(),
        ..d.clone()
    }
}

/// Renders every chart the data allows into `dir`; returns the files written.
pub fn render_charts(dir: &Path, d: &ChartData, look: &Look) -> Result<Vec<String>> {
    let d = &finite_only(d);
    let w = look.words();
    std::fs::create_dir_all(dir)?;
    let mut files = Vec::new();
    files.extend(render(dir, "tier_sizes", (1000, 600), &TierSizes(d), look)?);
    files.extend(render(dir, "pareto", (1000, 600), &Pareto(d), look)?);
    if !d.segments.is_empty() {
        let height = 160 + 34 * d.segments.len() as u32;
        files.extend(render(dir, "segments", (1000, height), &Segments(d), look)?);
    }
    if d.bins > 0 {
        files.extend(render(
            dir,
            "rfm_heatmap",
            (1000, 700),
            &RfmHeatmap(d),
            look,
        )?);
    }
    if !d.points.is_empty() {
        files.extend(render(
            dir,
            "recency_monetary",
            (1400, 600),
            &Scatter(d),
            look,
        )?);
    }
    if !d.k_selection.is_empty() {
        files.extend(render(
            dir,
            "k_selection",
            (1200, 500),
            &KSelection(d),
            look,
        )?);
    }
    if !d.crosstab.is_empty() && !d.cluster_names.is_empty() {
        let chart = Heatmap {
            title: w.crosstab_title.to_string(),
            x_desc: w.cluster_axis,
            y_desc: w.rule_tier_axis,
            rows: d.tier_names.clone(),
            cols: d.cluster_names.clone(),
            counts: &d.crosstab,
        };
        files.extend(render(
            dir,
            "tier_cluster_heatmap",
            (1000, 700),
            &chart,
            look,
        )?);
    }
    if let Some(m) = &d.migration {
        // The states past the tiers ("new", "left") in the report's words.
        let states = |v: &[String]| -> Vec<String> {
            v.iter()
                .enumerate()
                .map(|(i, s)| match i + 1 == v.len() {
                    true => look.lang.value(s).into_owned(),
                    false => s.clone(),
                })
                .collect()
        };
        let chart = Heatmap {
            title: fill(w.migration_title, &[&m.dates]),
            x_desc: w.later_tier_axis,
            y_desc: w.earlier_tier_axis,
            rows: states(&m.from),
            cols: states(&m.to),
            counts: &m.counts,
        };
        files.extend(render(dir, "migration_heatmap", (1000, 700), &chart, look)?);
    }
    if d.sizes_over_time.len() > 1 {
        files.extend(render(
            dir,
            "tier_sizes_over_time",
            (1000, 600),
            &SizesOverTime(d),
            look,
        )?);
    }
    Ok(files)
}

/// A category axis drawn on 0..n: the name of category `i` under `i + 0.5`.
fn category_label(x: f64, names: &[String]) -> String {
    let i = x.floor();
    if (x - i - 0.5).abs() < 0.01 && i >= 0.0 && (i as usize) < names.len() {
        names[i as usize].clone()
    } else {
        String::new()
    }
}

struct TierSizes<'a>(&'a ChartData);

impl Chart for TierSizes<'_> {
    fn draw<DB: DrawingBackend>(&self, root: &DrawingArea<DB, Shift>, look: &Look) -> Result<()>
    where
        DB::ErrorType: 'static,
    {
        let (d, w) = (self.0, look.words());
        let mut series: Vec<(&str, &Vec<f64>)> = vec![
            (w.customers_series, &d.tier_customer_share),
            (w.revenue_series, &d.tier_revenue_share),
        ];
        if let Some(p) = &d.tier_profit_share {
            series.push((w.profit_series, p));
        }
        let k = d.tier_names.len();
        let top = series
            .iter()
            .flat_map(|(_, v)| v.iter())
            .fold(0.0f64, |a, b| a.max(*b))
            .max(0.1)
            * 110.0;
        let names = &d.tier_names;
        let mut chart = ChartBuilder::on(root)
            .caption(w.tier_sizes_title, look.font(24))
            .margin(15)
            .x_label_area_size(45)
            .y_label_area_size(65)
            .build_cartesian_2d(0f64..k as f64, 0f64..top)
            .map_err(err)?;
        chart
            .configure_mesh()
            .disable_x_mesh()
            .x_labels(k.max(1) * 2 + 1)
            .x_label_formatter(&|x| category_label(*x, names))
            .y_label_formatter(&|y| axis(*y))
            .x_desc(w.tier_axis)
            .y_desc(w.share_axis)
            .label_style(look.font(14))
            .axis_desc_style(look.font(16))
            .draw()
            .map_err(err)?;
        let width = 0.8 / series.len() as f64;
        for (s, (label, values)) in series.iter().enumerate() {
            let c = color(s);
            chart
                .draw_series(values.iter().enumerate().map(|(i, v)| {
                    let x0 = i as f64 + 0.1 + s as f64 * width;
                    Rectangle::new([(x0, 0.0), (x0 + width * 0.95, v * 100.0)], c.filled())
                }))
                .map_err(err)?
                .label(*label)
                .legend(move |(x, y)| Rectangle::new([(x, y - 6), (x + 14, y + 6)], c.filled()));
            chart
                .draw_series(values.iter().enumerate().map(|(i, v)| {
                    let x0 = i as f64 + 0.1 + s as f64 * width;
                    Text::new(
                        format!("{:.0}%", v * 100.0),
                        (x0, v * 100.0 + top * 0.02),
                        look.font(12),
                    )
                }))
                .map_err(err)?;
        }
        legend(&mut chart, SeriesLabelPosition::UpperRight, 14, look)?;
        Ok(())
    }
}

struct Pareto<'a>(&'a ChartData);

impl Chart for Pareto<'_> {
    fn draw<DB: DrawingBackend>(&self, root: &DrawingArea<DB, Shift>, look: &Look) -> Result<()>
    where
        DB::ErrorType: 'static,
    {
        let (d, w) = (self.0, look.words());
        let mut rev: Vec<f64> = d.revenue.iter().map(|v| v.max(0.0)).collect();
        rev.sort_by(|a, b| b.total_cmp(a));
        let total: f64 = rev.iter().sum::<f64>().max(f64::MIN_POSITIVE);
        let n = rev.len().max(1) as f64;
        // At most ~2,000 vertices: enough for a smooth curve at any customer count.
        let step = (rev.len() / 2000).max(1);
        let mut pts = vec![(0.0, 0.0)];
        let mut acc = 0.0;
        for (i, v) in rev.iter().enumerate() {
            acc += v;
            if i % step == 0 || i + 1 == rev.len() {
                pts.push(((i + 1) as f64 / n * 100.0, acc / total * 100.0));
            }
        }
        let mut chart = ChartBuilder::on(root)
            .caption(w.pareto_title, look.font(24))
            .margin(15)
            .x_label_area_size(45)
            .y_label_area_size(65)
            .build_cartesian_2d(0f64..100f64, 0f64..102f64)
            .map_err(err)?;
        chart
            .configure_mesh()
            .x_label_formatter(&|x| axis(*x))
            .y_label_formatter(&|y| axis(*y))
            .x_desc(w.customer_share_axis)
            .y_desc(w.cumulative_revenue_axis)
            .label_style(look.font(14))
            .axis_desc_style(look.font(16))
            .draw()
            .map_err(err)?;
        chart
            .draw_series(LineSeries::new(pts, color(0).stroke_width(3)))
            .map_err(err)?
            .label(w.cumulative_revenue)
            .legend(|(x, y)| PathElement::new(vec![(x, y), (x + 20, y)], color(0).stroke_width(3)));
        chart
            .draw_series(LineSeries::new(
                vec![(0.0, 0.0), (100.0, 100.0)],
                BLACK.mix(0.3),
            ))
            .map_err(err)?
            .label(w.equal_shares)
            .legend(|(x, y)| PathElement::new(vec![(x, y), (x + 20, y)], BLACK.mix(0.3)));
        // Tier cut points: cumulative customer share at the end of each tier but the last.
        let mut cum = 0.0;
        for (i, s) in d
            .tier_customer_share
            .iter()
            .enumerate()
            .take(d.tier_names.len().saturating_sub(1))
        {
            cum += s * 100.0;
            let c = color(i + 1);
            chart
                .draw_series(std::iter::once(PathElement::new(
                    vec![(cum, 0.0), (cum, 100.0)],
                    c.stroke_width(2),
                )))
                .map_err(err)?;
            let at = format!("{cum:.0}");
            let label = fill(w.pareto_cut, &[&d.tier_names[i], &d.tier_names[i + 1], &at]);
            chart
                .draw_series(std::iter::once(Text::new(
                    label,
                    (cum + 0.8, 8.0 + 6.0 * i as f64),
                    look.font(14),
                )))
                .map_err(err)?;
        }
        legend(&mut chart, SeriesLabelPosition::LowerRight, 14, look)?;
        Ok(())
    }
}

/// One of the values a segment's bars show.
type SegmentValue = fn(&SegmentShare) -> f64;

/// Customer and revenue share per RFM segment, one row of bars per segment.
struct Segments<'a>(&'a ChartData);

impl Chart for Segments<'_> {
    fn draw<DB: DrawingBackend>(&self, root: &DrawingArea<DB, Shift>, look: &Look) -> Result<()>
    where
        DB::ErrorType: 'static,
    {
        let (d, w) = (self.0, look.words());
        let n = d.segments.len();
        // First segment at the top.
        let names: Vec<String> = d.segments.iter().rev().map(|s| s.name.clone()).collect();
        let top = d
            .segments
            .iter()
            .flat_map(|s| [s.customer_share, s.revenue_share])
            .fold(0.0f64, f64::max)
            .max(0.05)
            * 115.0;
        let mut chart = ChartBuilder::on(root)
            .caption(w.segments_title, look.font(22))
            .margin(15)
            .x_label_area_size(45)
            .y_label_area_size(170)
            .build_cartesian_2d(0f64..top, 0f64..n as f64)
            .map_err(err)?;
        chart
            .configure_mesh()
            .disable_y_mesh()
            .y_labels(n * 2 + 1)
            .y_label_formatter(&|y| category_label(*y, &names))
            .x_label_formatter(&|x| axis(*x))
            .x_desc(w.segment_axis)
            .label_style(look.font(14))
            .axis_desc_style(look.font(16))
            .draw()
            .map_err(err)?;
        let series: [(&str, SegmentValue); 2] = [
            (w.customers_series, |s| s.customer_share),
            (w.revenue_series, |s| s.revenue_share),
        ];
        for (k, (label, value)) in series.into_iter().enumerate() {
            let c = color(k);
            // Customers above revenue within a segment's row.
            let y0 = |i: usize| (n - 1 - i) as f64 + 0.5 - 0.4 * k as f64;
            chart
                .draw_series(d.segments.iter().enumerate().map(|(i, s)| {
                    Rectangle::new([(0.0, y0(i)), (value(s) * 100.0, y0(i) + 0.38)], c.filled())
                }))
                .map_err(err)?
                .label(label)
                .legend(move |(x, y)| Rectangle::new([(x, y - 6), (x + 14, y + 6)], c.filled()));
            chart
                .draw_series(d.segments.iter().enumerate().map(|(i, s)| {
                    Text::new(
                        format!("{:.1}%", value(s) * 100.0),
                        (value(s) * 100.0 + top * 0.01, y0(i) + 0.3),
                        look.font(12),
                    )
                }))
                .map_err(err)?;
        }
        legend(&mut chart, SeriesLabelPosition::LowerRight, 14, look)?;
        Ok(())
    }
}

/// White to dark blue.
fn heat(t: f64) -> RGBColor {
    let t = t.clamp(0.0, 1.0);
    let lerp = |a: f64, b: f64| (a + (b - a) * t) as u8;
    RGBColor(lerp(247.0, 8.0), lerp(251.0, 48.0), lerp(255.0, 107.0))
}

/// A heat map's shade of `v` out of `max`: the square root spreads the small counts, which
/// are most of the cells, over more shades.
fn shade(v: f64, max: f64) -> f64 {
    (v / max).max(0.0).sqrt()
}

fn heat_text(t: f64, look: &Look) -> TextStyle<'static> {
    look.font(14).color(if t > 0.55 { &WHITE } else { &BLACK })
}

/// Width of a heat map's colour scale, at the right of the chart.
const SCALE_WIDTH: u32 = 130;

/// The colour scale of a heat map: the shades from 0 to `max`, labelled with values, and
/// what they count.
fn color_scale<DB: DrawingBackend>(
    area: &DrawingArea<DB, Shift>,
    max: f64,
    label: &str,
    look: &Look,
) -> Result<()>
where
    DB::ErrorType: 'static,
{
    let mut chart = ChartBuilder::on(area)
        .margin_top(60)
        .margin_bottom(60)
        .margin_right(10)
        .right_y_label_area_size(85)
        .build_cartesian_2d(0f64..1f64, 0f64..max)
        .map_err(err)?;
    chart
        .configure_mesh()
        .disable_mesh()
        .disable_x_axis()
        .y_labels(6)
        .y_label_formatter(&|v| axis(*v))
        .y_desc(label)
        .label_style(look.font(13))
        .axis_desc_style(look.font(14))
        .draw()
        .map_err(err)?;
    const STEPS: usize = 100;
    chart
        .draw_series((0..STEPS).map(|i| {
            let (a, b) = (
                max * i as f64 / STEPS as f64,
                max * (i + 1) as f64 / STEPS as f64,
            );
            Rectangle::new(
                [(0.0, a), (1.0, b)],
                heat(shade((a + b) / 2.0, max)).filled(),
            )
        }))
        .map_err(err)?;
    Ok(())
}

struct RfmHeatmap<'a>(&'a ChartData);

impl Chart for RfmHeatmap<'_> {
    fn draw<DB: DrawingBackend>(&self, root: &DrawingArea<DB, Shift>, look: &Look) -> Result<()>
    where
        DB::ErrorType: 'static,
    {
        let (d, w) = (self.0, look.words());
        let b = d.bins;
        let max = d
            .rfm_mean_monetary
            .iter()
            .flatten()
            .flatten()
            .fold(0.0f64, |a, v| a.max(*v))
            .max(f64::MIN_POSITIVE);
        let (main, scale) = root.split_horizontally(root.dim_in_pixel().0 - SCALE_WIDTH);
        let mut chart = ChartBuilder::on(&main)
            .caption(w.rfm_title, look.font(22))
            .margin(15)
            .x_label_area_size(45)
            .y_label_area_size(55)
            .build_cartesian_2d(0.5f64..b as f64 + 0.5, 0.5f64..b as f64 + 0.5)
            .map_err(err)?;
        chart
            .configure_mesh()
            .disable_mesh()
            .x_labels(b)
            .y_labels(b)
            .x_label_formatter(&|x| format!("{x:.0}"))
            .y_label_formatter(&|y| format!("{y:.0}"))
            .x_desc(w.recency_score_axis)
            .y_desc(w.frequency_score_axis)
            .label_style(look.font(14))
            .axis_desc_style(look.font(16))
            .draw()
            .map_err(err)?;
        for r in 1..=b {
            for f in 1..=b {
                let v = d.rfm_mean_monetary[r - 1][f - 1];
                let t = v.map(|v| shade(v, max)).unwrap_or(0.0);
                let (x, y) = (r as f64, f as f64);
                chart
                    .draw_series(std::iter::once(Rectangle::new(
                        [(x - 0.5, y - 0.5), (x + 0.5, y + 0.5)],
                        if v.is_some() {
                            heat(t).filled()
                        } else {
                            WHITE.filled()
                        },
                    )))
                    .map_err(err)?;
                let label = match v {
                    Some(v) => format!(
                        "{} ({})",
                        money(v),
                        whole(d.rfm_customers[r - 1][f - 1] as f64)
                    ),
                    None => "-".into(),
                };
                chart
                    .draw_series(std::iter::once(Text::new(
                        label,
                        (x - 0.4, y + 0.05),
                        heat_text(t, look),
                    )))
                    .map_err(err)?;
            }
        }
        color_scale(&scale, max, w.mean_monetary_scale, look)
    }
}

struct Scatter<'a>(&'a ChartData);

impl Scatter<'_> {
    fn panel<DB: DrawingBackend>(
        &self,
        area: &DrawingArea<DB, Shift>,
        title: &str,
        names: &[String],
        group: impl Fn(&CustomerPoint) -> Option<usize>,
        look: &Look,
    ) -> Result<()>
    where
        DB::ErrorType: 'static,
    {
        let (d, w) = (self.0, look.words());
        let xmax = d
            .points
            .iter()
            .map(|p| p.recency_days)
            .fold(1.0f64, f64::max)
            * 1.05;
        let ymax = d.points.iter().map(|p| p.monetary).fold(10.0f64, f64::max) * 1.5;
        let ymin = d
            .points
            .iter()
            .map(|p| p.monetary)
            .filter(|v| *v > 0.0)
            .fold(ymax, f64::min)
            .max(0.01)
            / 1.5;
        let mut chart = ChartBuilder::on(area)
            .caption(title, look.font(20))
            .margin(10)
            .x_label_area_size(45)
            .y_label_area_size(80)
            .build_cartesian_2d(0f64..xmax, (ymin..ymax).log_scale())
            .map_err(err)?;
        chart
            .configure_mesh()
            .x_desc(w.recency_axis)
            .y_desc(w.monetary_axis)
            .x_label_formatter(&|v| whole(*v))
            .y_label_formatter(&|v| axis(*v))
            .label_style(look.font(13))
            .axis_desc_style(look.font(15))
            .draw()
            .map_err(err)?;
        for (g, name) in names.iter().enumerate() {
            let c = color(g);
            chart
                .draw_series(
                    d.points
                        .iter()
                        .filter(|p| group(p) == Some(g) && p.monetary > 0.0)
                        .map(|p| Circle::new((p.recency_days, p.monetary), 2, c.mix(0.6).filled())),
                )
                .map_err(err)?
                .label(name.as_str())
                .legend(move |(x, y)| Circle::new((x + 6, y), 4, c.filled()));
        }
        legend(&mut chart, SeriesLabelPosition::UpperRight, 13, look)?;
        Ok(())
    }
}

impl Chart for Scatter<'_> {
    fn draw<DB: DrawingBackend>(&self, root: &DrawingArea<DB, Shift>, look: &Look) -> Result<()>
    where
        DB::ErrorType: 'static,
    {
        let (d, w) = (self.0, look.words());
        let n = whole(d.points.len() as f64);
        let by_tier = |p: &CustomerPoint| Some(p.tier);
        if d.cluster_names.is_empty() {
            let title = fill(w.scatter_only, &[&n]);
            return self.panel(root, &title, &d.tier_names, by_tier, look);
        }
        let clusters: Vec<String> = d
            .cluster_names
            .iter()
            .map(|c| fill(w.cluster_legend, &[c]))
            .collect();
        let areas = root.split_evenly((1, 2));
        let title = fill(w.scatter_tiers, &[&n]);
        self.panel(&areas[0], &title, &d.tier_names, by_tier, look)?;
        let title = fill(w.scatter_clusters, &[&n]);
        self.panel(&areas[1], &title, &clusters, |p| p.cluster, look)?;
        Ok(())
    }
}

/// Title, y axis description, points and tick format of one k-selection panel.
type Panel<'a> = (&'a str, &'a str, Vec<(f64, f64)>, fn(&f64) -> String);

struct KSelection<'a>(&'a ChartData);

impl Chart for KSelection<'_> {
    fn draw<DB: DrawingBackend>(&self, root: &DrawingArea<DB, Shift>, look: &Look) -> Result<()>
    where
        DB::ErrorType: 'static,
    {
        let (d, w) = (self.0, look.words());
        let areas = root.split_evenly((1, 2));
        let kmin = d.k_selection.iter().map(|k| k.k).min().unwrap_or(1) as f64;
        let kmax = d.k_selection.iter().map(|k| k.k).max().unwrap_or(2) as f64;
        let chosen = d.k_selection.iter().find(|k| k.chosen).map(|k| k.k);
        let panels: [Panel; 2] = [
            (
                w.inertia_title,
                w.inertia_axis,
                d.k_selection
                    .iter()
                    .map(|k| (k.k as f64, k.inertia))
                    .collect(),
                |v| axis(*v),
            ),
            (
                w.silhouette_title,
                w.silhouette_axis,
                d.k_selection
                    .iter()
                    .filter_map(|k| k.silhouette.map(|s| (k.k as f64, s)))
                    .collect(),
                |v| format!("{v:.2}"),
            ),
        ];
        for (area, (title, ydesc, pts, ticks)) in areas.iter().zip(panels) {
            let ymax = pts.iter().map(|p| p.1).fold(f64::MIN, f64::max);
            let ymin = pts.iter().map(|p| p.1).fold(f64::MAX, f64::min);
            let (ymin, ymax) = if pts.is_empty() {
                (0.0, 1.0)
            } else {
                let pad = ((ymax - ymin) * 0.1).max(1e-6);
                (ymin - pad, ymax + pad)
            };
            let mut chart = ChartBuilder::on(area)
                .caption(title, look.font(20))
                .margin(10)
                .x_label_area_size(45)
                .y_label_area_size(80)
                .build_cartesian_2d(kmin - 0.5..kmax + 0.5, ymin..ymax)
                .map_err(err)?;
            chart
                .configure_mesh()
                .x_labels((kmax - kmin) as usize + 1)
                .x_label_formatter(&|x| format!("{x:.0}"))
                .y_label_formatter(&ticks)
                .x_desc(w.k_axis)
                .y_desc(ydesc)
                .label_style(look.font(13))
                .axis_desc_style(look.font(15))
                .draw()
                .map_err(err)?;
            chart
                .draw_series(LineSeries::new(pts.clone(), color(0).stroke_width(2)))
                .map_err(err)?
                .label(ydesc)
                .legend(|(x, y)| {
                    PathElement::new(vec![(x, y), (x + 20, y)], color(0).stroke_width(2))
                });
            chart
                .draw_series(pts.iter().map(|p| {
                    let c = if Some(p.0 as usize) == chosen {
                        color(3)
                    } else {
                        color(0)
                    };
                    Circle::new(*p, 5, c.filled())
                }))
                .map_err(err)?;
            if let Some(k) = chosen {
                chart
                    .draw_series(std::iter::once(Circle::new(
                        (k as f64, ymin),
                        0,
                        color(3).filled(),
                    )))
                    .map_err(err)?
                    .label(fill(w.chosen_k, &[&k]))
                    .legend(|(x, y)| Circle::new((x + 6, y), 5, color(3).filled()));
            }
            legend(&mut chart, SeriesLabelPosition::UpperRight, 13, look)?;
        }
        Ok(())
    }
}

/// Counts in a grid with names on both axes, first row at the top, and its colour scale.
struct Heatmap<'a> {
    title: String,
    x_desc: &'a str,
    y_desc: &'a str,
    rows: Vec<String>,
    cols: Vec<String>,
    counts: &'a [Vec<u64>],
}

impl Chart for Heatmap<'_> {
    fn draw<DB: DrawingBackend>(&self, root: &DrawingArea<DB, Shift>, look: &Look) -> Result<()>
    where
        DB::ErrorType: 'static,
    {
        let (rows, cols) = (self.rows.len(), self.cols.len());
        let max = self
            .counts
            .iter()
            .flatten()
            .copied()
            .max()
            .unwrap_or(1)
            .max(1) as f64;
        let (main, scale) = root.split_horizontally(root.dim_in_pixel().0 - SCALE_WIDTH);
        let mut chart = ChartBuilder::on(&main)
            .caption(&self.title, look.font(22))
            .margin(15)
            .x_label_area_size(45)
            .y_label_area_size(110)
            .build_cartesian_2d(0f64..cols as f64, 0f64..rows as f64)
            .map_err(err)?;
        let reversed: Vec<String> = self.rows.iter().rev().cloned().collect();
        chart
            .configure_mesh()
            .disable_mesh()
            .x_labels(cols * 2 + 1)
            .y_labels(rows * 2 + 1)
            .x_label_formatter(&|x| category_label(*x, &self.cols))
            .y_label_formatter(&|y| category_label(*y, &reversed))
            .x_desc(self.x_desc)
            .y_desc(self.y_desc)
            .label_style(look.font(14))
            .axis_desc_style(look.font(16))
            .draw()
            .map_err(err)?;
        for (t, row) in self.counts.iter().enumerate() {
            for (k, n) in row.iter().enumerate() {
                let tt = shade(*n as f64, max);
                let y = (rows - 1 - t) as f64;
                chart
                    .draw_series(std::iter::once(Rectangle::new(
                        [(k as f64, y), (k as f64 + 1.0, y + 1.0)],
                        heat(tt).filled(),
                    )))
                    .map_err(err)?;
                chart
                    .draw_series(std::iter::once(Text::new(
                        whole(*n as f64),
                        (k as f64 + 0.4, y + 0.55),
                        heat_text(tt, look),
                    )))
                    .map_err(err)?;
            }
        }
        color_scale(&scale, max, look.words().customers_scale, look)
    }
}

struct SizesOverTime<'a>(&'a ChartData);

impl Chart for SizesOverTime<'_> {
    fn draw<DB: DrawingBackend>(&self, root: &DrawingArea<DB, Shift>, look: &Look) -> Result<()>
    where
        DB::ErrorType: 'static,
    {
        let (d, w) = (self.0, look.words());
        let n = d.sizes_over_time.len();
        let dates: Vec<String> = d.sizes_over_time.iter().map(|s| s.0.clone()).collect();
        let ymax = d
            .sizes_over_time
            .iter()
            .flat_map(|s| s.1.iter())
            .copied()
            .max()
            .unwrap_or(1) as f64
            * 1.15;
        let mut chart = ChartBuilder::on(root)
            .caption(w.sizes_over_time_title, look.font(24))
            .margin(15)
            .x_label_area_size(45)
            .y_label_area_size(70)
            .build_cartesian_2d(-0.3f64..(n as f64 - 0.7), 0f64..ymax.max(1.0))
            .map_err(err)?;
        chart
            .configure_mesh()
            .x_labels(n)
            .x_label_formatter(&|x| point_label(*x, &dates))
            .y_label_formatter(&|y| axis(*y))
            .x_desc(w.as_of_axis)
            .y_desc(w.customers_axis)
            .label_style(look.font(14))
            .axis_desc_style(look.font(16))
            .draw()
            .map_err(err)?;
        for (t, name) in d.tier_names.iter().enumerate() {
            let c = color(t);
            let pts: Vec<(f64, f64)> = d
                .sizes_over_time
                .iter()
                .enumerate()
                .map(|(i, s)| (i as f64, s.1.get(t).copied().unwrap_or(0) as f64))
                .collect();
            chart
                .draw_series(LineSeries::new(pts.clone(), c.stroke_width(3)))
                .map_err(err)?
                .label(name.as_str())
                .legend(move |(x, y)| {
                    PathElement::new(vec![(x, y), (x + 20, y)], c.stroke_width(3))
                });
            chart
                .draw_series(pts.iter().map(|p| Circle::new(*p, 5, c.filled())))
                .map_err(err)?;
        }
        legend(&mut chart, SeriesLabelPosition::UpperRight, 14, look)?;
        Ok(())
    }
}

/// An axis of points at 0, 1, 2..: the name of point `i` under `i`.
fn point_label(x: f64, names: &[String]) -> String {
    let i = x.round();
    if (x - i).abs() < 0.01 && i >= 0.0 && (i as usize) < names.len() {
        names[i as usize].clone()
    } else {
        String::new()
    }
}

/// The holdout check of `tiering validate`: mean predicted and actual purchases per group of
/// customers.
pub struct HoldoutChart {
    /// The check's dates and mean absolute error, for the title.
    pub holdout_from: String,
    pub holdout_to: String,
    pub mean_absolute_error: f64,
    /// The groups' names along the x axis (calibration repeat purchases).
    pub groups: Vec<String>,
    pub predicted: Vec<Option<f64>>,
    pub actual: Vec<Option<f64>>,
    /// The holdout's length, e.g. "26.0 weeks".
    pub unit: String,
}

/// Draws the holdout chart as `<dir>/validation.png` and `.svg`; returns the files.
pub fn render_holdout(dir: &Path, chart: &HoldoutChart, look: &Look) -> Result<Vec<String>> {
    render(dir, "validation", (1000, 600), chart, look)
}

impl Chart for HoldoutChart {
    fn draw<DB: DrawingBackend>(&self, root: &DrawingArea<DB, Shift>, look: &Look) -> Result<()>
    where
        DB::ErrorType: 'static,
    {
        let w = look.words();
        let n = self.groups.len();
        let ymax = self
            .predicted
            .iter()
            .chain(&self.actual)
            .flatten()
            .filter(|v| v.is_finite())
            .fold(0.0f64, |a, b| a.max(*b))
            .max(0.1)
            * 1.15;
        let mae = format!("{:.3}", self.mean_absolute_error);
        let title = fill(
            w.holdout_title,
            &[&self.holdout_from, &self.holdout_to, &mae],
        );
        let mut chart = ChartBuilder::on(root)
            .caption(title, look.font(22))
            .margin(15)
            .x_label_area_size(45)
            .y_label_area_size(70)
            .build_cartesian_2d(-0.3f64..(n as f64 - 0.7), 0f64..ymax)
            .map_err(err)?;
        chart
            .configure_mesh()
            .x_labels(n)
            .x_label_formatter(&|x| point_label(*x, &self.groups))
            .y_label_formatter(&|y| format!("{y:.1}"))
            .x_desc(w.holdout_x)
            .y_desc(fill(w.holdout_y, &[&self.unit]))
            .label_style(look.font(14))
            .axis_desc_style(look.font(16))
            .draw()
            .map_err(err)?;
        for (s, (label, values)) in [(w.predicted, &self.predicted), (w.actual, &self.actual)]
            .into_iter()
            .enumerate()
        {
            let c = color(s);
            let pts: Vec<(f64, f64)> = values
                .iter()
                .enumerate()
                .filter_map(|(i, v)| v.filter(|v| v.is_finite()).map(|v| (i as f64, v)))
                .collect();
            chart
                .draw_series(LineSeries::new(pts.clone(), c.stroke_width(3)))
                .map_err(err)?
                .label(label)
                .legend(move |(x, y)| {
                    PathElement::new(vec![(x, y), (x + 20, y)], c.stroke_width(3))
                });
            chart
                .draw_series(pts.iter().map(|p| Circle::new(*p, 5, c.filled())))
                .map_err(err)?;
        }
        legend(&mut chart, SeriesLabelPosition::UpperLeft, 14, look)?;
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn data() -> ChartData {
        ChartData {
            tier_names: vec!["A".into(), "B".into(), "C".into()],
            tier_customer_share: vec![0.2, 0.3, 0.5],
            tier_revenue_share: vec![0.8, 0.15, 0.05],
            tier_profit_share: Some(vec![0.75, 0.2, 0.05]),
            revenue: vec![800.0, 100.0, 50.0, 30.0, 20.0],
            bins: 5,
            rfm_mean_monetary: vec![vec![Some(10.0); 5]; 5],
            rfm_customers: vec![vec![1; 5]; 5],
            points: [
                (10.0, 800.0, 0, 0),
                (50.0, 100.0, 1, 1),
                (300.0, 20.0, 2, 1),
            ]
            .map(|(recency_days, monetary, tier, cluster)| CustomerPoint {
                recency_days,
                monetary,
                tier,
                cluster: Some(cluster),
            })
            .into(),
            cluster_names: vec!["1".into(), "2".into()],
            k_selection: vec![
                KPoint {
                    k: 2,
                    inertia: 10.0,
                    silhouette: Some(0.5),
                    chosen: true,
                },
                KPoint {
                    k: 3,
                    inertia: 6.0,
                    silhouette: Some(0.4),
                    chosen: false,
                },
            ],
            crosstab: vec![vec![1, 0], vec![0, 1], vec![0, 1]],
            migration: Some(Migration {
                from: vec!["A".into(), "B".into(), "new".into()],
                to: vec!["A".into(), "B".into(), "left".into()],
                counts: vec![vec![3, 1, 0], vec![0, 2, 1], vec![1, 0, 0]],
                dates: "2024-01-01 -> 2024-04-01".into(),
            }),
            sizes_over_time: vec![
                ("2024-01-01".into(), vec![3, 4, 5]),
                ("2024-04-01".into(), vec![4, 3, 5]),
            ],
            segments: vec![
                SegmentShare {
                    name: "Champions".into(),
                    customer_share: 0.4,
                    revenue_share: 0.8,
                },
                SegmentShare {
                    name: "Lost".into(),
                    customer_share: 0.6,
                    revenue_share: 0.2,
                },
            ],
        }
    }

    fn english() -> Look {
        Look::new(super::super::fonts::bundled().unwrap(), Language::En)
    }

    #[test]
    fn every_chart_is_written_as_png_and_svg() {
        let dir = tempfile::tempdir().unwrap();
        let files = render_charts(dir.path(), &data(), &english()).unwrap();
        assert_eq!(files.len(), 18, "{files:?}");
        let png = std::fs::read(dir.path().join("pareto.png")).unwrap();
        assert_eq!(&png[..8], b"\x89PNG\r\n\x1a\n");
        // Width and height from the IHDR chunk.
        assert_eq!(u32::from_be_bytes(png[16..20].try_into().unwrap()), 1000);
        assert_eq!(u32::from_be_bytes(png[20..24].try_into().unwrap()), 600);
        let svg = std::fs::read_to_string(dir.path().join("tier_cluster_heatmap.svg")).unwrap();
        assert!(svg.starts_with("<svg"), "{}", &svg[..50]);
        let texts = svg_texts(&svg);
        assert!(has(&texts, "Customers by tier and k-means cluster"));
        // The colour scale says what it counts.
        assert!(has(&texts, "customers"), "scale label missing: {texts:?}");
    }

    /// The texts of an SVG's `<text>` elements.
    fn svg_texts(svg: &str) -> Vec<String> {
        svg.split("<text")
            .skip(1)
            .filter_map(|t| {
                let t = t.split_once('>')?.1;
                Some(t.split("</text>").next()?.trim().to_string())
            })
            .collect()
    }

    fn has(texts: &[String], t: &str) -> bool {
        texts.iter().any(|x| x == t)
    }

    /// `text` drawn alone in `family` at 40 px on white: its pixels (RGB).
    fn text_pixels(look: &Look, text: &str) -> Vec<u8> {
        let (w, h) = (220u32, 70u32);
        let mut buf = vec![0u8; (w * h * 3) as usize];
        {
            let root = BitMapBackend::with_buffer(&mut buf, (w, h)).into_drawing_area();
            root.fill(&WHITE).unwrap();
            root.draw(&Text::new(text.to_string(), (10, 10), look.font(40)))
                .unwrap();
            root.present().unwrap();
        }
        buf
    }

    fn ink(pixels: &[u8]) -> usize {
        pixels
            .chunks(3)
            .filter(|p| p.iter().any(|c| *c < 128))
            .count()
    }

    /// Chinese tier names drawn with the CJK subset font of the fixtures are glyphs, not the
    /// missing-glyph box that a font without them draws.
    #[test]
    fn chinese_tier_names_draw_as_glyphs_with_a_cjk_font() {
        let font = std::path::PathBuf::from(env!("CARGO_MANIFEST_DIR"))
            .join("tests/fixtures/fonts/NotoSansCJKsc-subset.otf");
        let mut d = data();
        d.tier_names = vec!["核心".into(), "重点".into(), "普通".into()];
        let (cjk, notes) = choose_look(&d, Language::En, Some(&font)).unwrap();
        assert!(notes.is_empty(), "{notes:?}");
        assert!(cjk.family.starts_with("Noto Sans CJK SC"), "{}", cjk.family);
        let latin = english();
        // Without the glyphs, two different names draw the same boxes: what a reader saw.
        let boxes = text_pixels(&latin, "核心");
        assert_eq!(boxes, text_pixels(&latin, "重点"));
        assert!(ink(&boxes) > 0);
        // With the CJK font the names draw, each differently, and unlike the boxes.
        let core = text_pixels(&cjk, "核心");
        let key = text_pixels(&cjk, "重点");
        assert!(ink(&core) > 100, "{} dark pixels", ink(&core));
        assert_ne!(core, key);
        assert_ne!(core, boxes);
        // The subset font's own missing-glyph box (for a character it lacks) differs from
        // the glyph of a character it has.
        assert_ne!(text_pixels(&cjk, "核"), text_pixels(&cjk, "鑫"));
        // A whole chart draws with it: the tier-size chart's PNG and SVG are written, and the
        // SVG names the font and the tier names.
        let dir = tempfile::tempdir().unwrap();
        let files = render_charts(dir.path(), &d, &cjk).unwrap();
        assert!(files.contains(&"tier_sizes.png".to_string()));
        let svg = std::fs::read_to_string(dir.path().join("tier_sizes.svg")).unwrap();
        assert!(
            svg.contains("font-family=\"Noto Sans CJK SC"),
            "font not named"
        );
        assert!(has(&svg_texts(&svg), "核心"), "tier name missing");
    }

    #[test]
    fn chart_words_follow_the_language() {
        let dir = tempfile::tempdir().unwrap();
        let font = std::path::PathBuf::from(env!("CARGO_MANIFEST_DIR"))
            .join("tests/fixtures/fonts/NotoSansCJKsc-subset.otf");
        let (look, notes) = choose_look(&data(), Language::Zh, Some(&font)).unwrap();
        // The subset has the tier names' characters, not the Chinese titles': the note says so.
        assert_eq!(notes.len(), 1, "{notes:?}");
        assert!(
            notes[0].contains("各级客户数") || notes[0].contains("各等级"),
            "{}",
            notes[0]
        );
        render_charts(dir.path(), &data(), &look).unwrap();
        let texts = svg_texts(&std::fs::read_to_string(dir.path().join("tier_sizes.svg")).unwrap());
        assert!(
            has(&texts, "各等级的客户、收入与利润占比"),
            "title: {texts:?}"
        );
        assert!(has(&texts, "客户等级（由高到低）"), "x axis");
        assert!(has(&texts, "收入"), "legend");
        let svg = std::fs::read_to_string(dir.path().join("migration_heatmap.svg")).unwrap();
        let texts = svg_texts(&svg);
        assert!(
            has(&texts, "新客户") && has(&texts, "流失"),
            "states: {texts:?}"
        );
    }
}
