//! Charts with plotters, each as PNG and SVG. Text is drawn with the DejaVu Sans font shipped in
//! `fonts/` (registered once, no system font lookup), so a fresh machine renders every label.
//! Drawing only: the numbers arrive ready in `ChartData`; nothing here computes statistics.

use std::path::Path;
use std::sync::Once;

use anyhow::{anyhow, Result};
use plotters::coord::Shift;
use plotters::prelude::*;
use plotters::style::{register_font, FontStyle};

const FONT: &[u8] = include_bytes!("fonts/DejaVuSans.ttf");
const FAMILY: &str = "sans-serif";
static REGISTER: Once = Once::new();

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
    fn draw<DB: DrawingBackend>(&self, root: &DrawingArea<DB, Shift>) -> Result<()>
    where
        DB::ErrorType: 'static;
}

fn err<E: std::fmt::Debug>(e: E) -> anyhow::Error {
    anyhow!("drawing a chart: {e:?}")
}

/// Draws `chart` into `<dir>/<name>.png` and `<dir>/<name>.svg`; returns the file names.
fn render(dir: &Path, name: &str, size: (u32, u32), chart: &impl Chart) -> Result<Vec<String>> {
    let png = dir.join(format!("{name}.png"));
    {
        let root = BitMapBackend::new(&png, size).into_drawing_area();
        root.fill(&WHITE).map_err(err)?;
        chart.draw(&root)?;
        root.present().map_err(err)?;
    }
    let svg = dir.join(format!("{name}.svg"));
    {
        let root = SVGBackend::new(&svg, size).into_drawing_area();
        root.fill(&WHITE).map_err(err)?;
        chart.draw(&root)?;
        root.present().map_err(err)?;
    }
    Ok(vec![format!("{name}.png"), format!("{name}.svg")])
}

/// The legend box every chart uses: white, framed, at `position`.
fn legend<'a, DB: DrawingBackend + 'a, CT: plotters::coord::CoordTranslate>(
    chart: &mut ChartContext<'a, DB, CT>,
    position: SeriesLabelPosition,
    size: u32,
) -> Result<()>
where
    DB::ErrorType: 'static,
{
    chart
        .configure_series_labels()
        .position(position)
        .label_font(font(size))
        .background_style(WHITE.mix(0.9))
        .border_style(BLACK)
        .draw()
        .map_err(err)?;
    Ok(())
}

fn font(size: u32) -> TextStyle<'static> {
    (FAMILY, size).into_font().into()
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
        ..d.clone()
    }
}

/// Renders every chart the data allows into `dir`; returns the files written.
pub fn render_charts(dir: &Path, d: &ChartData) -> Result<Vec<String>> {
    let d = &finite_only(d);
    register()?;
    std::fs::create_dir_all(dir)?;
    let mut files = Vec::new();
    files.extend(render(dir, "tier_sizes", (1000, 600), &TierSizes(d))?);
    files.extend(render(dir, "pareto", (1000, 600), &Pareto(d))?);
    if d.bins > 0 {
        files.extend(render(dir, "rfm_heatmap", (900, 700), &RfmHeatmap(d))?);
    }
    if !d.points.is_empty() {
        files.extend(render(dir, "recency_monetary", (1400, 600), &Scatter(d))?);
    }
    if !d.k_selection.is_empty() {
        files.extend(render(dir, "k_selection", (1200, 500), &KSelection(d))?);
    }
    if !d.crosstab.is_empty() && !d.cluster_names.is_empty() {
        let chart = Heatmap {
            title: "Customers by rule tier and k-means cluster".into(),
            x_desc: "k-means cluster (1 = most valuable)",
            y_desc: "rule tier",
            rows: &d.tier_names,
            cols: &d.cluster_names,
            counts: &d.crosstab,
        };
        files.extend(render(dir, "tier_cluster_heatmap", (900, 700), &chart)?);
    }
    if let Some(m) = &d.migration {
        let chart = Heatmap {
            title: format!("Tier migration {} (customers)", m.dates),
            x_desc: "tier at the later date",
            y_desc: "tier at the earlier date",
            rows: &m.from,
            cols: &m.to,
            counts: &m.counts,
        };
        files.extend(render(dir, "migration_heatmap", (900, 700), &chart)?);
    }
    if d.sizes_over_time.len() > 1 {
        files.extend(render(
            dir,
            "tier_sizes_over_time",
            (1000, 600),
            &SizesOverTime(d),
        )?);
    }
    Ok(files)
}

struct TierSizes<'a>(&'a ChartData);

impl Chart for TierSizes<'_> {
    fn draw<DB: DrawingBackend>(&self, root: &DrawingArea<DB, Shift>) -> Result<()>
    where
        DB::ErrorType: 'static,
    {
        let d = self.0;
        let mut series: Vec<(&str, &Vec<f64>)> = vec![
            ("customers", &d.tier_customer_share),
            ("revenue", &d.tier_revenue_share),
        ];
        if let Some(p) = &d.tier_profit_share {
            series.push(("profit", p));
        }
        let k = d.tier_names.len();
        let top = series
            .iter()
            .flat_map(|(_, v)| v.iter())
            .fold(0.0f64, |a, b| a.max(*b))
            .max(0.1)
            * 110.0;
        let names = d.tier_names.clone();
        let mut chart = ChartBuilder::on(root)
            .caption(
                "Tier sizes: share of customers, revenue and profit",
                font(24),
            )
            .margin(15)
            .x_label_area_size(45)
            .y_label_area_size(65)
            .build_cartesian_2d(0f64..k as f64, 0f64..top)
            .map_err(err)?;
        chart
            .configure_mesh()
            .disable_x_mesh()
            .x_labels(k.max(1) * 2 + 1)
            .x_label_formatter(&|x| {
                let i = x.floor() as usize;
                if (x - i as f64 - 0.5).abs() < 0.01 && i < names.len() {
                    names[i].clone()
                } else {
                    String::new()
                }
            })
            .x_desc("tier (best first)")
            .y_desc("share of total (%)")
            .label_style(font(14))
            .axis_desc_style(font(16))
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
                        font(12),
                    )
                }))
                .map_err(err)?;
        }
        legend(&mut chart, SeriesLabelPosition::UpperRight, 14)?;
        Ok(())
    }
}

struct Pareto<'a>(&'a ChartData);

impl Chart for Pareto<'_> {
    fn draw<DB: DrawingBackend>(&self, root: &DrawingArea<DB, Shift>) -> Result<()>
    where
        DB::ErrorType: 'static,
    {
        let d = self.0;
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
            .caption(
                "Pareto curve: cumulative revenue by customers, largest first",
                font(24),
            )
            .margin(15)
            .x_label_area_size(45)
            .y_label_area_size(65)
            .build_cartesian_2d(0f64..100f64, 0f64..102f64)
            .map_err(err)?;
        chart
            .configure_mesh()
            .x_desc("share of customers (%)")
            .y_desc("cumulative share of net revenue (%)")
            .label_style(font(14))
            .axis_desc_style(font(16))
            .draw()
            .map_err(err)?;
        chart
            .draw_series(LineSeries::new(pts, color(0).stroke_width(3)))
            .map_err(err)?
            .label("cumulative revenue")
            .legend(|(x, y)| PathElement::new(vec![(x, y), (x + 20, y)], color(0).stroke_width(3)));
        chart
            .draw_series(LineSeries::new(
                vec![(0.0, 0.0), (100.0, 100.0)],
                BLACK.mix(0.3),
            ))
            .map_err(err)?
            .label("equal shares")
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
            chart
                .draw_series(std::iter::once(Text::new(
                    format!(
                        "{} | {} at {:.0}%",
                        d.tier_names[i],
                        d.tier_names[i + 1],
                        cum
                    ),
                    (cum + 0.8, 8.0 + 6.0 * i as f64),
                    font(14),
                )))
                .map_err(err)?;
        }
        legend(&mut chart, SeriesLabelPosition::LowerRight, 14)?;
        Ok(())
    }
}

/// White to dark blue.
fn heat(t: f64) -> RGBColor {
    let t = t.clamp(0.0, 1.0);
    let lerp = |a: f64, b: f64| (a + (b - a) * t) as u8;
    RGBColor(lerp(247.0, 8.0), lerp(251.0, 48.0), lerp(255.0, 107.0))
}

fn heat_text(t: f64) -> TextStyle<'static> {
    font(14).color(if t > 0.55 { &WHITE } else { &BLACK })
}

struct RfmHeatmap<'a>(&'a ChartData);

impl Chart for RfmHeatmap<'_> {
    fn draw<DB: DrawingBackend>(&self, root: &DrawingArea<DB, Shift>) -> Result<()>
    where
        DB::ErrorType: 'static,
    {
        let d = self.0;
        let b = d.bins;
        let max = d
            .rfm_mean_monetary
            .iter()
            .flatten()
            .flatten()
            .fold(0.0f64, |a, v| a.max(*v))
            .max(f64::MIN_POSITIVE);
        let mut chart = ChartBuilder::on(root)
            .caption(
                "Mean monetary value by R and F score (customers in brackets)",
                font(22),
            )
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
            .x_desc("recency score (5 = most recent)")
            .y_desc("frequency score (5 = most orders)")
            .label_style(font(14))
            .axis_desc_style(font(16))
            .draw()
            .map_err(err)?;
        for r in 1..=b {
            for f in 1..=b {
                let v = d.rfm_mean_monetary[r - 1][f - 1];
                let t = v.map(|v| (v / max).sqrt()).unwrap_or(0.0);
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
                    Some(v) => format!("{v:.0} ({})", d.rfm_customers[r - 1][f - 1]),
                    None => "-".into(),
                };
                chart
                    .draw_series(std::iter::once(Text::new(
                        label,
                        (x - 0.4, y + 0.05),
                        heat_text(t),
                    )))
                    .map_err(err)?;
            }
        }
        Ok(())
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
    ) -> Result<()>
    where
        DB::ErrorType: 'static,
    {
        let d = self.0;
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
            .caption(title, font(20))
            .margin(10)
            .x_label_area_size(45)
            .y_label_area_size(70)
            .build_cartesian_2d(0f64..xmax, (ymin..ymax).log_scale())
            .map_err(err)?;
        chart
            .configure_mesh()
            .x_desc("recency (days since last purchase)")
            .y_desc("monetary (net revenue, log scale)")
            .y_label_formatter(&|v| format!("{v:.0}"))
            .label_style(font(13))
            .axis_desc_style(font(15))
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
        legend(&mut chart, SeriesLabelPosition::UpperRight, 13)?;
        Ok(())
    }
}

impl Chart for Scatter<'_> {
    fn draw<DB: DrawingBackend>(&self, root: &DrawingArea<DB, Shift>) -> Result<()>
    where
        DB::ErrorType: 'static,
    {
        let d = self.0;
        let n = d.points.len();
        if d.cluster_names.is_empty() {
            return self.panel(
                root,
                &format!("Recency vs monetary by rule tier ({n} customers)"),
                &d.tier_names,
                |p| Some(p.tier),
            );
        }
        let areas = root.split_evenly((1, 2));
        self.panel(
            &areas[0],
            &format!("By rule tier ({n} customers)"),
            &d.tier_names,
            |p| Some(p.tier),
        )?;
        self.panel(
            &areas[1],
            &format!("By k-means cluster ({n} customers)"),
            &d.cluster_names,
            |p| p.cluster,
        )?;
        Ok(())
    }
}

/// Title, y axis description and points of one k-selection panel.
type Panel<'a> = (&'a str, &'a str, Vec<(f64, f64)>);

struct KSelection<'a>(&'a ChartData);

impl Chart for KSelection<'_> {
    fn draw<DB: DrawingBackend>(&self, root: &DrawingArea<DB, Shift>) -> Result<()>
    where
        DB::ErrorType: 'static,
    {
        let d = self.0;
        let areas = root.split_evenly((1, 2));
        let kmin = d.k_selection.iter().map(|k| k.k).min().unwrap_or(1) as f64;
        let kmax = d.k_selection.iter().map(|k| k.k).max().unwrap_or(2) as f64;
        let chosen = d.k_selection.iter().find(|k| k.chosen).map(|k| k.k);
        let panels: [Panel; 2] = [
            (
                "Inertia by k (elbow)",
                "inertia (sum of squared distances)",
                d.k_selection
                    .iter()
                    .map(|k| (k.k as f64, k.inertia))
                    .collect(),
            ),
            (
                "Silhouette by k (higher is better)",
                "mean silhouette (sample)",
                d.k_selection
                    .iter()
                    .filter_map(|k| k.silhouette.map(|s| (k.k as f64, s)))
                    .collect(),
            ),
        ];
        for (area, (title, ydesc, pts)) in areas.iter().zip(panels) {
            let ymax = pts.iter().map(|p| p.1).fold(f64::MIN, f64::max);
            let ymin = pts.iter().map(|p| p.1).fold(f64::MAX, f64::min);
            let (ymin, ymax) = if pts.is_empty() {
                (0.0, 1.0)
            } else {
                let pad = ((ymax - ymin) * 0.1).max(1e-6);
                (ymin - pad, ymax + pad)
            };
            let mut chart = ChartBuilder::on(area)
                .caption(title, font(20))
                .margin(10)
                .x_label_area_size(45)
                .y_label_area_size(80)
                .build_cartesian_2d(kmin - 0.5..kmax + 0.5, ymin..ymax)
                .map_err(err)?;
            chart
                .configure_mesh()
                .x_labels((kmax - kmin) as usize + 1)
                .x_label_formatter(&|x| format!("{x:.0}"))
                .x_desc("k (number of clusters)")
                .y_desc(ydesc)
                .label_style(font(13))
                .axis_desc_style(font(15))
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
                    .label(format!("chosen k = {k}"))
                    .legend(|(x, y)| Circle::new((x + 6, y), 5, color(3).filled()));
            }
            legend(&mut chart, SeriesLabelPosition::UpperRight, 13)?;
        }
        Ok(())
    }
}

/// Counts in a grid with names on both axes, first row at the top.
struct Heatmap<'a> {
    title: String,
    x_desc: &'a str,
    y_desc: &'a str,
    rows: &'a [String],
    cols: &'a [String],
    counts: &'a [Vec<u64>],
}

impl Chart for Heatmap<'_> {
    fn draw<DB: DrawingBackend>(&self, root: &DrawingArea<DB, Shift>) -> Result<()>
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
        let mut chart = ChartBuilder::on(root)
            .caption(&self.title, font(22))
            .margin(15)
            .x_label_area_size(45)
            .y_label_area_size(110)
            .build_cartesian_2d(0f64..cols as f64, 0f64..rows as f64)
            .map_err(err)?;
        chart
            .configure_mesh()
            .disable_mesh()
            .x_labels(cols * 2 + 1)
            .y_labels(rows * 2 + 1)
            .x_label_formatter(&|x| half_label(*x, self.cols))
            .y_label_formatter(&|y| half_label(rows as f64 - y, self.rows))
            .x_desc(self.x_desc)
            .y_desc(self.y_desc)
            .label_style(font(14))
            .axis_desc_style(font(16))
            .draw()
            .map_err(err)?;
        for (t, row) in self.counts.iter().enumerate() {
            for (k, n) in row.iter().enumerate() {
                let tt = (*n as f64 / max).sqrt();
                let y = (rows - 1 - t) as f64;
                chart
                    .draw_series(std::iter::once(Rectangle::new(
                        [(k as f64, y), (k as f64 + 1.0, y + 1.0)],
                        heat(tt).filled(),
                    )))
                    .map_err(err)?;
                chart
                    .draw_series(std::iter::once(Text::new(
                        n.to_string(),
                        (k as f64 + 0.4, y + 0.55),
                        heat_text(tt),
                    )))
                    .map_err(err)?;
            }
        }
        Ok(())
    }
}

struct SizesOverTime<'a>(&'a ChartData);

impl Chart for SizesOverTime<'_> {
    fn draw<DB: DrawingBackend>(&self, root: &DrawingArea<DB, Shift>) -> Result<()>
    where
        DB::ErrorType: 'static,
    {
        let d = self.0;
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
            .caption("Customers per tier at each as-of date", font(24))
            .margin(15)
            .x_label_area_size(45)
            .y_label_area_size(70)
            .build_cartesian_2d(-0.3f64..(n as f64 - 0.7), 0f64..ymax.max(1.0))
            .map_err(err)?;
        chart
            .configure_mesh()
            .x_labels(n)
            .x_label_formatter(&|x| {
                let i = x.round();
                if (x - i).abs() < 0.01 && i >= 0.0 && (i as usize) < dates.len() {
                    dates[i as usize].clone()
                } else {
                    String::new()
                }
            })
            .y_label_formatter(&|y| format!("{y:.0}"))
            .x_desc("as-of date")
            .y_desc("customers")
            .label_style(font(14))
            .axis_desc_style(font(16))
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
        legend(&mut chart, SeriesLabelPosition::UpperRight, 14)?;
        Ok(())
    }
}

/// Registers the shipped font with plotters, once.
fn register() -> Result<()> {
    let mut font_ok = true;
    REGISTER.call_once(|| {
        font_ok = register_font(FAMILY, FontStyle::Normal, FONT).is_ok();
    });
    if !font_ok {
        return Err(anyhow!(
            "the chart font shipped with tiering could not be loaded"
        ));
    }
    Ok(())
}

/// The holdout check of `tiering validate`: mean predicted and actual purchases per group of
/// customers.
pub struct HoldoutChart {
    pub title: String,
    /// The groups' names along the x axis (calibration repeat purchases).
    pub groups: Vec<String>,
    pub predicted: Vec<Option<f64>>,
    pub actual: Vec<Option<f64>>,
    pub unit: String,
}

/// Draws the holdout chart as `<dir>/validation.png` and `.svg`; returns the files.
pub fn render_holdout(dir: &Path, chart: &HoldoutChart) -> Result<Vec<String>> {
    register()?;
    render(dir, "validation", (1000, 600), chart)
}

impl Chart for HoldoutChart {
    fn draw<DB: DrawingBackend>(&self, root: &DrawingArea<DB, Shift>) -> Result<()>
    where
        DB::ErrorType: 'static,
    {
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
        let mut chart = ChartBuilder::on(root)
            .caption(&self.title, font(22))
            .margin(15)
            .x_label_area_size(45)
            .y_label_area_size(70)
            .build_cartesian_2d(-0.3f64..(n as f64 - 0.7), 0f64..ymax)
            .map_err(err)?;
        let groups = &self.groups;
        chart
            .configure_mesh()
            .x_labels(n)
            .x_label_formatter(&|x| {
                let i = x.round();
                if (x - i).abs() < 0.01 && i >= 0.0 && (i as usize) < groups.len() {
                    groups[i as usize].clone()
                } else {
                    String::new()
                }
            })
            .y_label_formatter(&|y| format!("{y:.1}"))
            .x_desc("repeat purchases in the calibration period")
            .y_desc(format!("mean purchases in the holdout ({})", self.unit))
            .label_style(font(14))
            .axis_desc_style(font(16))
            .draw()
            .map_err(err)?;
        for (s, (label, values)) in [
            ("predicted (BG/NBD)", &self.predicted),
            ("actual", &self.actual),
        ]
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
        legend(&mut chart, SeriesLabelPosition::UpperLeft, 14)?;
        Ok(())
    }
}

/// Label for category axes drawn on 0..n with ticks at every half unit.
fn half_label(x: f64, names: &[String]) -> String {
    let i = x.floor();
    if (x - i - 0.5).abs() < 0.01 && i >= 0.0 && (i as usize) < names.len() {
        names[i as usize].clone()
    } else {
        String::new()
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
        }
    }

    #[test]
    fn every_chart_is_written_as_png_and_svg() {
        let dir = tempfile::tempdir().unwrap();
        let files = render_charts(dir.path(), &data()).unwrap();
        assert_eq!(files.len(), 16, "{files:?}");
        let png = std::fs::read(dir.path().join("pareto.png")).unwrap();
        assert_eq!(&png[..8], b"\x89PNG\r\n\x1a\n");
        // Width and height from the IHDR chunk.
        assert_eq!(u32::from_be_bytes(png[16..20].try_into().unwrap()), 1000);
        assert_eq!(u32::from_be_bytes(png[20..24].try_into().unwrap()), 600);
        let svg = std::fs::read_to_string(dir.path().join("tier_cluster_heatmap.svg")).unwrap();
        assert!(svg.starts_with("<svg"), "{}", &svg[..50]);
        assert!(svg.contains("Customers by rule tier and k-means cluster"));
    }
}
