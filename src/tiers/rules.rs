//! Rule-based grading: RFM scores and segments, the weighted 0..100 score, tiers by score,
//! share or cumulative value, the risk overlay with its downgrade, alerts and policies, and a
//! plain-language reason per customer. Pure: a customer frame and params in, frames out.
//!
//! Scores are computed over plain vectors rather than polars expressions because every step
//! also produces text (thresholds used, reasons) that needs the same numbers.

use std::fmt::{self, Write as _};

use std::ops::Range;
use std::sync::Arc;

use anyhow::{anyhow, bail, Context, Result};
use polars::prelude::*;
use rayon::prelude::*;

use super::params::{GradingParams, PolicyValue, RfmCuts, TierRule};
use crate::columns as c;
use crate::par::{build_columns, ready, ColumnJob};
use crate::stats::{
    from_total_key, group_columns, most_common, percentile_ranks, quantile, total_key, Floats,
};

/// Output column names of the grading tables.
pub mod cols {
    pub const R_SCORE: &str = "r_score";
    pub const F_SCORE: &str = "f_score";
    pub const M_SCORE: &str = "m_score";
    pub const RFM_CODE: &str = "rfm_code";
    pub const SEGMENT: &str = "segment";
    pub const SCORE: &str = "score";
    pub const TIER_BASE: &str = "tier_before_risk";
    pub const RISK: &str = "risk_level";
    pub const RISK_REASONS: &str = "risk_reasons";
    pub const TIER: &str = "tier";
    pub const TIER_RANK: &str = "tier_rank";
    pub const DOWNGRADED: &str = "downgraded";
    pub const REASON: &str = "reason";
}

/// Everything the grading step produces.
pub struct Grading {
    /// One row per customer (see README: tiers.parquet), built as it is read.
    pub rows: Arc<TierRows>,
    pub tier_summary: DataFrame,
    pub segment_summary: DataFrame,
    pub thresholds: DataFrame,
    pub alerts: DataFrame,
    /// Rows of `alerts` (the run keeps only the first few once they are written).
    pub alert_count: usize,
    /// Things a person should know about this grading (collapsed bins, ...).
    pub notes: Vec<String>,
}

/// One line of `rfm_thresholds.parquet`: dimension, score, above, up to, customers, note.
type ThresholdRow = (String, u8, Option<f64>, Option<f64>, u64, String);

/// Risk levels, in increasing order.
pub const RISK_LEVELS: [&str; 3] = ["low", "medium", "high"];

/// Score 1..=bins from ascending cut points: more is better unless `reverse` (recency).
/// A value equal to a cut point falls in the lower bin, so tied values always share a score.
pub fn score_with_cuts(x: f64, cuts: &[f64], reverse: bool) -> u8 {
    let above = cuts.iter().filter(|t| **t < x).count() as u8;
    if reverse {
        cuts.len() as u8 + 1 - above
    } else {
        above + 1
    }
}

/// Money with thousands separators and cents ("1,234.50"), written without allocating.
struct Money(f64);

impl fmt::Display for Money {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let scaled = (self.0.abs() * 100.0).round();
        // Cents past u64 (amounts from about 1.8e17) would saturate: the standard formatter
        // writes those, and the digits are grouped from its text.
        if scaled.is_nan() || scaled >= u64::MAX as f64 {
            return write_grouped(f, &format!("{:.2}", self.0));
        }
        let cents = scaled as u64;
        if self.0 < 0.0 {
            f.write_char('-')?;
        }
        let mut digits = [0u8; 20];
        let (mut len, mut rest) = (0, cents / 100);
        loop {
            digits[len] = b'0' + (rest % 10) as u8;
            len += 1;
            rest /= 10;
            if rest == 0 {
                break;
            }
        }
        for i in (0..len).rev() {
            f.write_char(digits[i] as char)?;
            if i > 0 && i % 3 == 0 {
                f.write_char(',')?;
            }
        }
        write!(f, ".{:02}", cents % 100)
    }
}

fn money(x: f64) -> Money {
    Money(x)
}

/// Writes a number as text (`-123456789.50`, `inf`) with its integer digits grouped by
/// thousands.
fn write_grouped(f: &mut fmt::Formatter<'_>, text: &str) -> fmt::Result {
    let (sign, rest) = match text.strip_prefix('-') {
        Some(r) => ("-", r),
        None => ("", text),
    };
    let (int, frac) = rest.split_at(rest.find('.').unwrap_or(rest.len()));
    if !int.bytes().all(|b| b.is_ascii_digit()) {
        return f.write_str(text);
    }
    f.write_str(sign)?;
    for (i, ch) in int.chars().enumerate() {
        if i > 0 && (int.len() - i) % 3 == 0 {
            f.write_char(',')?;
        }
        f.write_char(ch)?;
    }
    f.write_str(frac)
}

/// `x` with `decimals` digits after the point, exactly as `format!("{x:.decimals$}")` writes
/// it. The standard formatter takes an exact (big-number) path for most values; grading writes
/// millions of them. Here a non-negative value far enough from a rounding boundary is scaled
/// and rounded as an integer: the scaling's rounding error (below 0.0003 under 10^12) cannot
/// move it across the boundary. Everything else (negative values, ties, huge values) goes to
/// the standard formatter.
struct Fixed(f64, usize);

impl fmt::Display for Fixed {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        const SCALE: [f64; 3] = [1.0, 10.0, 100.0];
        let Fixed(x, decimals) = *self;
        let y = x * SCALE[decimals];
        let r = y.round();
        if !(x >= 0.0 && !x.is_sign_negative() && y < 1e12 && (y - r).abs() <= 0.499) {
            return write!(f, "{x:.decimals$}");
        }
        let (r, unit) = (r as u64, SCALE[decimals] as u64);
        if decimals == 0 {
            write!(f, "{r}")
        } else {
            write!(f, "{}.{:0decimals$}", r / unit, r % unit)
        }
    }
}

/// See [`Fixed`]; `decimals` is 0, 1 or 2.
fn fixed(x: f64, decimals: usize) -> Fixed {
    Fixed(x, decimals)
}

/// A share as a percentage with one decimal ("12.5%").
struct Pct(f64);

impl fmt::Display for Pct {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}%", fixed(self.0 * 100.0, 1))
    }
}

fn pct(x: f64) -> Pct {
    Pct(x)
}

/// A text column built row by row through one reused buffer: no allocation per row.
struct TextColumn {
    buf: String,
    out: StringChunkedBuilder,
}

impl TextColumn {
    fn new(name: &str, rows: usize) -> Self {
        TextColumn {
            buf: String::new(),
            out: StringChunkedBuilder::new(name.into(), rows),
        }
    }

    /// Appends the text that `write` produces.
    fn push(&mut self, write: impl FnOnce(&mut String) -> fmt::Result) {
        self.buf.clear();
        write(&mut self.buf).expect("writing to a String cannot fail");
        self.out.append_value(&self.buf);
    }

    fn finish(self) -> StringChunked {
        self.out.finish()
    }
}

/// Rows per block of [`texts`]: enough to amortise a task, small enough to spread.
const TEXT_BLOCK: usize = 1 << 15;

/// A text column of `n` rows written by `write(i, out)` in parallel blocks. Blocks become the
/// chunks of the column, in row order.
fn text_column(
    name: &str,
    n: usize,
    write: impl Fn(usize, &mut String) -> fmt::Result + Sync,
) -> StringChunked {
    let blocks: Vec<StringChunked> = (0..n.div_ceil(TEXT_BLOCK))
        .into_par_iter()
        .map(|b| {
            let rows = b * TEXT_BLOCK..((b + 1) * TEXT_BLOCK).min(n);
            let mut text = TextColumn::new(name, rows.len());
            for i in rows {
                text.push(|out| write(i, out));
            }
            text.finish()
        })
        .collect();
    let mut column = StringChunked::full_null(name.into(), 0);
    for t in blocks {
        column
            .append_owned(t)
            .expect("blocks of one text column have one type");
    }
    column
}

/// `values[idx[i]]` for row `i`: a column of repeated values (a tier's label or policy)
/// gathered from the few distinct ones instead of built row by row.
fn gather(values: &Series, idx: impl Iterator<Item = usize>) -> Result<Column> {
    let idx = IdxCa::from_vec("".into(), idx.map(|i| i as IdxSize).collect::<Vec<_>>());
    Ok(values.take(&idx)?.into_column())
}

/// [`gather`] for text labels that are never missing.
fn labels<S: AsRef<str>>(
    name: &str,
    labels: &[S],
    idx: impl Iterator<Item = usize>,
) -> Result<Column> {
    let labels: Vec<&str> = labels.iter().map(|s| s.as_ref()).collect();
    gather(&Series::new(name.into(), labels), idx)
}

/// Grades every customer of `customers` (the features table).
pub fn assign_rule_tiers(customers: &DataFrame, p: &GradingParams) -> Result<Grading> {
    let n = customers.height();
    let id_column = customers.column(c::CUSTOMER_ID)?;
    let recency = Floats::of(customers, c::RECENCY_DAYS)?;
    let frequency = Floats::of(customers, c::FREQUENCY)?;
    let monetary = Floats::of(customers, c::MONETARY)?;
    let profit = Floats::maybe(customers, c::PROFIT)?;
    let mut notes = Vec::new();

    // ---- RFM scores
    let bins = p.bins as usize;
    let dims: [(&str, &Floats, bool); 3] = [
        ("recency", &recency, true),
        ("frequency", &frequency, false),
        ("monetary", &monetary, false),
    ];
    let mut scores: Vec<Vec<u8>> = Vec::new();
    let mut th_rows: Vec<ThresholdRow> = Vec::new();
    for (d, (name, values, reverse)) in dims.iter().enumerate() {
        let mut sorted: Vec<f64> = values.iter().flatten().collect();
        sorted.par_sort_unstable_by(f64::total_cmp);
        let cuts: Vec<f64> = match &p.rfm_cuts {
            RfmCuts::Quantile => (1..bins)
                .map(|i| quantile(&sorted, i as f64 / bins as f64))
                .collect(),
            RfmCuts::Thresholds(t) => t[d].clone(),
        };
        let s: Vec<u8> = values
            .iter()
            .map(|v| score_with_cuts(v.unwrap_or(f64::NAN), &cuts, *reverse))
            .collect();
        let mut counts = vec![0u64; bins + 1];
        for x in &s {
            counts[*x as usize] += 1;
        }
        let empty: Vec<u8> = (1..=bins as u8)
            .filter(|l| counts[*l as usize] == 0)
            .collect();
        let note = if empty.is_empty() || n == 0 {
            String::new()
        } else {
            // Heavy ties make quantile cut points coincide; say so instead of hiding it.
            let (mode, mode_n) = most_common(&sorted);
            format!(
                "{name}: score level(s) {} have no customers; {} of customers share the value {} (cut points {})",
                join(&empty),
                pct(mode_n as f64 / sorted.len() as f64),
                mode,
                cuts.iter().map(|x| format!("{x}")).collect::<Vec<_>>().join(", ")
            )
        };
        if !note.is_empty() {
            notes.push(note.clone());
        }
        for level in 1..=bins as u8 {
            // Bin k (1-based from the bottom of the value range) is (cut[k-2], cut[k-1]].
            let k = if *reverse {
                bins as u8 + 1 - level
            } else {
                level
            } as usize;
            let lower = if k >= 2 { Some(cuts[k - 2]) } else { None };
            let upper = if k <= cuts.len() {
                Some(cuts[k - 1])
            } else {
                None
            };
            th_rows.push((
                name.to_string(),
                level,
                lower,
                upper,
                counts[level as usize],
                note.clone(),
            ));
        }
        scores.push(s);
    }
    let (r, f, m) = (&scores[0], &scores[1], &scores[2]);
    // Codes "111".."555" as indices into a table of all of them.
    let b1 = bins + 1;
    let code_names: Vec<String> = (0..b1 * b1 * b1)
        .map(|x| format!("{}{}{}", x / (b1 * b1), x / b1 % b1, x % b1))
        .collect();
    let codes: Vec<u16> = (0..n)
        .map(|i| ((r[i] as usize * b1 + f[i] as usize) * b1 + m[i] as usize) as u16)
        .collect();
    // Segment names (each once, in rule order, then "Others"), and each rule's name.
    let mut segment_names: Vec<&str> = Vec::new();
    for s in p.segments.iter().map(|s| s.name.as_str()).chain(["Others"]) {
        if !segment_names.contains(&s) {
            segment_names.push(s);
        }
    }
    let name_of_rule: Vec<usize> = p
        .segments
        .iter()
        .map(|s| segment_names.iter().position(|x| *x == s.name).unwrap_or(0))
        .collect();
    let others = segment_names
        .iter()
        .position(|x| *x == "Others")
        .expect("pushed above");
    let segments: Vec<u16> = (0..n)
        .map(|i| {
            p.segments
                .iter()
                .position(|s| {
                    (s.r.0..=s.r.1).contains(&r[i])
                        && (s.f.0..=s.f.1).contains(&f[i])
                        && (s.m.0..=s.m.1).contains(&m[i])
                })
                .map(|k| name_of_rule[k])
                .unwrap_or(others) as u16
        })
        .collect();

    // ---- weighted score
    let mut comp_cols: Vec<(String, Vec<f64>)> = Vec::new();
    let mut score = vec![0.0; n];
    // Components are ranked in parallel, then added in their order (the same sums as one
    // by one).
    let points: Vec<Vec<f64>> = p
        .components
        .par_iter()
        .map(|comp| {
            let values = Floats::of(customers, comp.column)?;
            let ranks = percentile_ranks(&values, comp.higher_is_better);
            Ok(ranks.iter().map(|x| x * 100.0).collect())
        })
        .collect::<Result<_>>()?;
    for (comp, pts) in p.components.iter().zip(points) {
        for i in 0..n {
            score[i] += comp.weight * pts[i];
        }
        comp_cols.push((format!("comp_{}", comp.name), pts));
    }
    // Rounded before tiering so the reason text and the cut always agree.
    let score: Vec<f64> = score.iter().map(|s| (s * 100.0).round() / 100.0).collect();

    // ---- base tiers
    let names = &p.tier_names;
    let last = names.len() - 1;
    if names.len() > usize::from(u16::MAX) || segment_names.len() > usize::from(u16::MAX) {
        bail!("at most {} tiers and segments", u16::MAX);
    }
    let (base, base_reason) =
        base_tiers(id_column, &score, &monetary, profit.as_ref(), &p.tier_rule)?;

    // ---- risk overlay: levels now, the text with the table's rows.
    let risk_inputs = RiskInputs {
        overdue_days: Floats::maybe(customers, c::OLDEST_OVERDUE_DAYS)?,
        overdue_amount: Floats::maybe(customers, c::OVERDUE_AMOUNT)?,
        on_time: Floats::maybe(customers, c::ON_TIME_RATE)?,
        invoices_due: Floats::maybe(customers, c::INVOICES_DUE)?,
        between: Floats::of(customers, c::MEAN_DAYS_BETWEEN)?,
        recency: recency.clone(),
    };
    let risk: Vec<u8> = (0..n)
        .into_par_iter()
        .map(|i| risk_inputs.write(p, i, &mut Discard).map(|l| l as u8))
        .collect::<Result<_, fmt::Error>>()
        .expect("discarded text cannot fail");
    let tier: Vec<u16> = (0..n)
        .map(|i| match risk[i] {
            0 => base[i],
            r => (base[i] as usize + p.risk.downgrade[r as usize - 1] as usize).min(last) as u16,
        })
        .collect();

    let features = [&recency, &frequency, &monetary];
    let tier_summary = tier_summary(p, &tier, &base, &score, features, profit.as_ref())?;
    let segment_summary = segment_summary(&segment_names, &segments, features)?;
    let thresholds = DataFrame::new(
        th_rows.len(),
        vec![
            Column::new(
                "dimension".into(),
                th_rows.iter().map(|t| t.0.clone()).collect::<Vec<_>>(),
            ),
            Column::new(
                "score".into(),
                th_rows.iter().map(|t| t.1 as i32).collect::<Vec<_>>(),
            ),
            Column::new(
                "above".into(),
                th_rows.iter().map(|t| t.2).collect::<Vec<_>>(),
            ),
            Column::new(
                "up_to".into(),
                th_rows.iter().map(|t| t.3).collect::<Vec<_>>(),
            ),
            Column::new(
                "customers".into(),
                th_rows.iter().map(|t| t.4 as i64).collect::<Vec<_>>(),
            ),
            Column::new(
                "note".into(),
                th_rows.iter().map(|t| t.5.clone()).collect::<Vec<_>>(),
            ),
        ],
    )?;
    let alerts = alerts(
        customers,
        p,
        id_column,
        &tier,
        &score,
        &recency,
        &risk_inputs.between,
        &monetary,
    )?;

    let mut shared = vec![
        id_column.clone(),
        customers.column(c::RECENCY_DAYS)?.clone(),
        customers.column(c::FREQUENCY)?.clone(),
        customers.column(c::MONETARY)?.clone(),
    ];
    if customers.schema().get(c::PROFIT).is_some() {
        shared.push(customers.column(c::PROFIT)?.clone());
    }
    let [r, f, m]: [Vec<u8>; 3] = scores.try_into().map_err(|_| anyhow!("three RFM scores"))?;
    let rows = TierRows {
        p: p.clone(),
        shared,
        scores: [r, f, m],
        code_names,
        codes,
        segment_names: segment_names.iter().map(|s| s.to_string()).collect(),
        segments,
        comps: comp_cols,
        score,
        base,
        tier,
        risk,
        base_reason,
        risk_inputs,
    };
    Ok(Grading {
        rows: Arc::new(rows),
        tier_summary,
        segment_summary,
        thresholds,
        alert_count: alerts.height(),
        alerts,
        notes,
    })
}

/// The rows of a tiers table to build (see [`TierRows::frame`]).
pub enum Rows<'a> {
    All,
    Range(Range<usize>),
    Picked(&'a [usize]),
}

/// What the per-customer table (tiers.parquet) is made of: the customer table's columns it
/// repeats, and one compact vector per value. The table itself, labels and reasons in text,
/// is built a block of rows at a time ([`TierRows::frame`]) as it is written: whole, it was
/// 2.6 GB at 100 M transactions, its reasons alone 1 GB.
pub struct TierRows {
    p: GradingParams,
    /// customer_id, recency_days, frequency, monetary and profit (when there is one).
    shared: Vec<Column>,
    scores: [Vec<u8>; 3],
    /// Every RFM code ("111".."555"), and each customer's index into them.
    code_names: Vec<String>,
    codes: Vec<u16>,
    segment_names: Vec<String>,
    segments: Vec<u16>,
    /// Per score component, its column name and points.
    comps: Vec<(String, Vec<f64>)>,
    score: Vec<f64>,
    /// Tier before and after the risk overlay, 0 = best.
    base: Vec<u16>,
    tier: Vec<u16>,
    risk: Vec<u8>,
    base_reason: BaseReason,
    risk_inputs: RiskInputs,
}

impl TierRows {
    /// Customers graded.
    pub fn height(&self) -> usize {
        self.score.len()
    }

    /// Each customer's final tier, 0 = best, in customer-table order.
    pub fn tiers(&self) -> &[u16] {
        &self.tier
    }

    /// Each customer's R, F and M score (1 = lowest).
    pub fn rfm_scores(&self) -> &[Vec<u8>; 3] {
        &self.scores
    }

    /// The rows of tiers.parquet, every column, built side by side.
    pub fn frame(&self, rows: Rows) -> Result<DataFrame> {
        let n = self.height();
        let idx: Vec<usize> = match &rows {
            Rows::All => (0..n).collect(),
            Rows::Range(r) => r.clone().collect(),
            Rows::Picked(p) => p.to_vec(),
        };
        let idx = &idx;
        let shared: Vec<Column> = match &rows {
            Rows::All => self.shared.clone(),
            Rows::Range(r) => self
                .shared
                .iter()
                .map(|c| c.slice(r.start as i64, r.len()))
                .collect(),
            Rows::Picked(_) => {
                let take = IdxCa::from_vec(
                    "".into(),
                    idx.iter().map(|i| *i as IdxSize).collect::<Vec<_>>(),
                );
                self.shared
                    .iter()
                    .map(|c| c.take(&take))
                    .collect::<PolarsResult<_>>()?
            }
        };
        let p = &self.p;
        let names = &p.tier_names;
        /// Column `name` of `to(v[i])` for the rows `idx`.
        fn picked<'a, T: Copy + Sync, U: Send + 'a>(
            name: &'a str,
            v: &'a [T],
            idx: &'a [usize],
            to: fn(T) -> U,
        ) -> ColumnJob<'a>
        where
            Series: NamedFrom<Vec<U>, [U]>,
        {
            Box::new(move || {
                let values = idx.iter().map(|i| to(v[*i])).collect::<Vec<_>>();
                Ok(vec![Column::new(name.into(), values)])
            })
        }
        let score = |x: u8| x as i32;
        let float = |x: f64| x;
        fn at<'a>(v: &'a [u16], idx: &'a [usize]) -> impl Iterator<Item = usize> + 'a {
            idx.iter().map(|i| v[*i] as usize)
        }
        let mut builds: Vec<ColumnJob> = shared.into_iter().map(ready).collect();
        builds.extend([
            picked(cols::R_SCORE, &self.scores[0], idx, score),
            picked(cols::F_SCORE, &self.scores[1], idx, score),
            picked(cols::M_SCORE, &self.scores[2], idx, score),
            Box::new(move || {
                Ok(vec![labels(
                    cols::RFM_CODE,
                    &self.code_names,
                    at(&self.codes, idx),
                )?])
            }) as ColumnJob,
            Box::new(move || {
                Ok(vec![labels(
                    cols::SEGMENT,
                    &self.segment_names,
                    at(&self.segments, idx),
                )?])
            }),
        ]);
        for (name, v) in &self.comps {
            builds.push(picked(name, v, idx, float));
        }
        builds.extend([
            picked(cols::SCORE, &self.score, idx, float),
            Box::new(move || Ok(vec![labels(cols::TIER_BASE, names, at(&self.base, idx))?])),
            Box::new(move || {
                Ok(vec![labels(
                    cols::RISK,
                    &RISK_LEVELS,
                    idx.iter().map(|i| self.risk[*i] as usize),
                )?])
            }),
            Box::new(move || {
                let text = text_column(cols::RISK_REASONS, idx.len(), |k, out| {
                    self.risk_inputs.write(p, idx[k], out).map(|_| ())
                });
                Ok(vec![text.into_column()])
            }),
            Box::new(move || Ok(vec![labels(cols::TIER, names, at(&self.tier, idx))?])),
            Box::new(move || {
                let rank = idx
                    .iter()
                    .map(|i| self.tier[*i] as i32 + 1)
                    .collect::<Vec<_>>();
                let downgraded = idx
                    .iter()
                    .map(|i| self.tier[*i] != self.base[*i])
                    .collect::<Vec<_>>();
                Ok(vec![
                    Column::new(cols::TIER_RANK.into(), rank),
                    Column::new(cols::DOWNGRADED.into(), downgraded),
                ])
            }),
            Box::new(move || {
                let text = text_column(cols::REASON, idx.len(), |k, out| self.reason(idx[k], out));
                Ok(vec![text.into_column()])
            }),
            Box::new(move || {
                policy_columns(
                    p,
                    &idx.iter()
                        .map(|i| self.tier[*i] as usize)
                        .collect::<Vec<_>>(),
                )
            }),
        ]);
        let mut df = DataFrame::new(idx.len(), build_columns(builds)?)?;
        df.rechunk_mut();
        Ok(df)
    }

    /// The plain-language reason for customer `i`'s tier.
    fn reason(&self, i: usize, out: &mut String) -> fmt::Result {
        let names = &self.p.tier_names;
        let (base, tier, risk) = (self.base[i], self.tier[i], self.risk[i] as usize);
        self.base_reason
            .write(i, self.score[i], base as usize, names, out)?;
        if risk == 0 {
            return Ok(());
        }
        write!(out, "; {} risk: ", RISK_LEVELS[risk])?;
        self.risk_inputs.write(&self.p, i, out)?;
        if tier != base {
            write!(out, " -> {}", names[tier as usize])?;
        }
        Ok(())
    }
}

/// A writer that drops its text: the risk level without the reasons.
struct Discard;

impl fmt::Write for Discard {
    fn write_str(&mut self, _: &str) -> fmt::Result {
        Ok(())
    }
}

/// The customer-table columns the risk overlay reads.
struct RiskInputs {
    overdue_days: Option<Floats>,
    overdue_amount: Option<Floats>,
    on_time: Option<Floats>,
    invoices_due: Option<Floats>,
    between: Floats,
    recency: Floats,
}

impl RiskInputs {
    /// Writes customer `i`'s risk reasons to `out` and returns its risk level (0 = low).
    fn write(
        &self,
        p: &GradingParams,
        i: usize,
        out: &mut impl fmt::Write,
    ) -> Result<usize, fmt::Error> {
        let mut level = 0;
        let mut sep = "";
        if let (Some(days), Some(amount)) = (&self.overdue_days, &self.overdue_amount) {
            let d = days.get(i).unwrap_or(0.0);
            let l = level_of(d, p.risk.overdue_days);
            if d > 0.0 && l > 0 {
                level = level.max(l);
                let a = money(amount.get(i).unwrap_or(0.0));
                write!(out, "{sep}{} days overdue ({a} outstanding)", fixed(d, 0))?;
                sep = "; ";
            }
        }
        if let (Some(rate), Some(due)) = (&self.on_time, &self.invoices_due) {
            let due = due.get(i).unwrap_or(0.0);
            if let (Some(rate), true) = (rate.get(i), due >= p.risk.min_invoices as f64) {
                let late = 1.0 - rate;
                let l = level_of(late, p.risk.late_rate);
                if late > 0.0 && l > 0 {
                    level = level.max(l);
                    write!(
                        out,
                        "{sep}late on {} of {} invoices",
                        pct(late),
                        fixed(due, 0)
                    )?;
                    sep = "; ";
                }
            }
        }
        if let (Some(b), Some(rec)) = (self.between.get(i), self.recency.get(i)) {
            if b > 0.0 {
                let ratio = rec / b;
                let l = level_of(ratio, p.risk.inactivity_ratio);
                if l > 0 {
                    level = level.max(l);
                    write!(
                        out,
                        "{sep}no purchase for {} days, {}x the usual {}",
                        fixed(rec, 0),
                        fixed(ratio, 1),
                        fixed(b, 0)
                    )?;
                }
            }
        }
        Ok(level)
    }
}

/// 0 below the medium threshold, 1 from medium, 2 from high.
fn level_of(x: f64, thresholds: [f64; 2]) -> usize {
    if x >= thresholds[1] {
        2
    } else if x >= thresholds[0] {
        1
    } else {
        0
    }
}

fn join(levels: &[u8]) -> String {
    levels
        .iter()
        .map(|l| l.to_string())
        .collect::<Vec<_>>()
        .join(", ")
}

/// Tier index (0 = best) and the reason text for every customer.
/// What a customer's reason before risk says, per tier rule.
enum BaseReason {
    Score {
        cuts: Vec<f64>,
    },
    Share {
        /// Cumulative shares of the tiers, and each customer's rank (0 = best, tied scores
        /// share the better one).
        cum: Vec<f64>,
        rank: Vec<u32>,
    },
    Pareto {
        label: &'static str,
        cuts: Vec<f64>,
        /// The value ranked on (revenue or profit, missing as 0), and the share of the total
        /// held by larger customers.
        values: Vec<f64>,
        share_before: Vec<f64>,
    },
}

impl BaseReason {
    /// Customer `i`'s reason, with its score and base tier `t`.
    fn write(
        &self,
        i: usize,
        score: f64,
        t: usize,
        names: &[String],
        out: &mut String,
    ) -> fmt::Result {
        match self {
            BaseReason::Score { cuts } => {
                if t < cuts.len() {
                    write!(
                        out,
                        "score {} >= {} -> {}",
                        fixed(score, 2),
                        cuts[t],
                        names[t]
                    )
                } else {
                    write!(
                        out,
                        "score {} < {} -> {}",
                        fixed(score, 2),
                        cuts[t - 1],
                        names[t]
                    )
                }
            }
            BaseReason::Share { cum, rank } => {
                let above = rank[i] as f64 / rank.len() as f64;
                write!(
                    out,
                    "score {}, {} of customers score higher (",
                    fixed(score, 2),
                    pct(above)
                )?;
                if t < cum.len() {
                    write!(out, "{}: top {}", names[t], pct(cum[t]))?;
                } else {
                    write!(out, "{}: the rest", names[t])?;
                }
                write!(out, ") -> {}", names[t])
            }
            BaseReason::Pareto {
                label,
                cuts,
                values,
                share_before,
            } => {
                let (v, share) = (values[i], share_before[i]);
                if v <= 0.0 {
                    write!(out, "{label} {} <= 0 -> {}", money(v), names[t])
                } else {
                    write!(
                        out,
                        "{label} {}: larger customers hold {} of {label}, ",
                        money(v),
                        pct(share)
                    )?;
                    if t < cuts.len() {
                        write!(out, "within the first {} -> {}", pct(cuts[t]), names[t])
                    } else {
                        write!(out, "beyond {} -> {}", pct(cuts[t - 1]), names[t])
                    }
                }
            }
        }
    }
}

/// Each customer's tier by the tier rule alone (0 = best), and what its reason says.
fn base_tiers(
    ids: &Column,
    score: &[f64],
    monetary: &Floats,
    profit: Option<&Floats>,
    rule: &TierRule,
) -> Result<(Vec<u16>, BaseReason)> {
    let n = score.len();
    Ok(match rule {
        TierRule::Score(cuts) => {
            let tier = score
                .par_iter()
                .map(|s| cuts.iter().filter(|cut| *s < **cut).count() as u16)
                .collect();
            (tier, BaseReason::Score { cuts: cuts.clone() })
        }
        TierRule::Share(shares) => {
            let mut cum = Vec::with_capacity(shares.len());
            let mut acc = 0.0;
            for s in shares {
                acc += s;
                cum.push(acc);
            }
            // Rank by score, best first; tied scores share the better rank (and so the tier).
            // Sorted as integers (see `total_key`): descending score, then ascending row.
            let mut keyed: Vec<u128> = score
                .iter()
                .enumerate()
                .map(|(i, s)| u128::from(!total_key(*s)) << 64 | i as u128)
                .collect();
            keyed.par_sort_unstable();
            let order: Vec<(f64, usize)> = keyed
                .into_par_iter()
                .map(|k| (from_total_key(!((k >> 64) as u64)), k as u64 as usize))
                .collect();
            let mut rank = vec![0u32; n];
            for pos in 0..n {
                let (s, i) = order[pos];
                rank[i] = if pos > 0 && order[pos - 1].0 == s {
                    rank[order[pos - 1].1]
                } else {
                    pos as u32
                };
            }
            let tier = rank
                .par_iter()
                .map(|r| {
                    let above = *r as f64 / n as f64;
                    cum.iter().filter(|c| **c <= above + 1e-12).count() as u16
                })
                .collect();
            (tier, BaseReason::Share { cum, rank })
        }
        TierRule::Pareto { cuts, column } => {
            let values: Vec<f64> = if *column == c::PROFIT {
                profit
                    .context("pareto on profit without a profit column")?
                    .iter()
                    .map(|v| v.unwrap_or(0.0))
                    .collect()
            } else {
                monetary.iter().map(|v| v.unwrap_or(0.0)).collect()
            };
            let label = if *column == c::PROFIT {
                "profit"
            } else {
                "revenue"
            };
            let total: f64 = values.iter().filter(|v| **v > 0.0).sum();
            // Equal values are ordered by customer ID.
            let ids: Vec<&str> = ids.str()?.iter().map(|s| s.unwrap_or("")).collect();
            let mut order: Vec<(f64, usize)> = values.iter().copied().zip(0..n).collect();
            order.par_sort_unstable_by(|a, b| {
                b.0.total_cmp(&a.0).then_with(|| ids[a.1].cmp(ids[b.1]))
            });
            // The share of the total held by larger customers, per customer.
            let mut tier = vec![0u16; n];
            let mut share_before = vec![0.0; n];
            let mut before = 0.0;
            for &(_, i) in &order {
                let share = if total > 0.0 { before / total } else { 1.0 };
                share_before[i] = share;
                tier[i] = if values[i] <= 0.0 {
                    cuts.len()
                } else {
                    cuts.iter().filter(|c| **c <= share + 1e-12).count()
                } as u16;
                if values[i] > 0.0 {
                    before += values[i];
                }
            }
            let reason = BaseReason::Pareto {
                label,
                cuts: cuts.clone(),
                values,
                share_before,
            };
            (tier, reason)
        }
    })
}

/// A policy field's value per tier as one type (`None` where unset or of another type).
fn each_tier<'a, T>(
    per_tier: &[Option<&'a PolicyValue>],
    value: impl Fn(&'a PolicyValue) -> Option<T>,
) -> Vec<Option<T>> {
    per_tier.iter().map(|v| v.and_then(&value)).collect()
}

fn policy_columns(p: &GradingParams, tier: &[usize]) -> Result<Vec<Column>> {
    let mut out = Vec::new();
    for field in &p.policy_fields {
        // One value per tier (missing where a tier does not set the field), then gathered.
        let per_tier: Vec<Option<&PolicyValue>> = p
            .tier_names
            .iter()
            .map(|name| {
                p.policies
                    .get(name)
                    .and_then(|v| v.iter().find(|(k, _)| k == field).map(|(_, v)| v))
            })
            .collect();
        let name: PlSmallStr = format!("policy_{field}").into();
        let values = match per_tier.iter().flatten().next() {
            Some(PolicyValue::Text(_)) => Series::new(
                name,
                each_tier(&per_tier, |v| match v {
                    PolicyValue::Text(s) => Some(s.as_str()),
                    _ => None,
                }),
            ),
            Some(PolicyValue::Bool(_)) => Series::new(
                name,
                each_tier(&per_tier, |v| match v {
                    PolicyValue::Bool(b) => Some(*b),
                    _ => None,
                }),
            ),
            _ if per_tier
                .iter()
                .flatten()
                .all(|v| matches!(v, PolicyValue::Int(_))) =>
            {
                Series::new(
                    name,
                    each_tier(&per_tier, |v| match v {
                        PolicyValue::Int(i) => Some(*i),
                        _ => None,
                    }),
                )
            }
            _ => Series::new(
                name,
                each_tier(&per_tier, |v| match v {
                    PolicyValue::Int(i) => Some(*i as f64),
                    PolicyValue::Float(f) => Some(*f),
                    _ => None,
                }),
            ),
        };
        out.push(gather(&values, tier.iter().copied())?);
    }
    Ok(out)
}

fn tier_summary(
    p: &GradingParams,
    tier: &[u16],
    base: &[u16],
    score: &[f64],
    features: [&Floats; 3],
    profit: Option<&Floats>,
) -> Result<DataFrame> {
    let k = p.tier_names.len();
    let [recency, frequency, monetary] = features;
    let score = Floats::new(score.iter().map(|s| Some(*s)));
    let mut totals = vec![("revenue", monetary)];
    if let Some(profit) = profit {
        totals.push(("profit", profit));
    }
    let mut columns = vec![
        Column::new(cols::TIER.into(), p.tier_names.clone()),
        Column::new(cols::TIER_RANK.into(), (1..=k as i32).collect::<Vec<_>>()),
    ];
    columns.extend(group_columns(
        tier,
        k,
        &totals,
        &[
            ("mean_recency_days", recency),
            ("mean_frequency", frequency),
            ("mean_monetary", monetary),
            ("mean_score", &score),
        ],
    ));
    columns.push(Column::new(
        "customers_before_risk".into(),
        (0..k)
            .map(|t| base.iter().filter(|b| **b as usize == t).count() as i64)
            .collect::<Vec<_>>(),
    ));
    columns.push(Column::new(
        "downgraded_into".into(),
        (0..k)
            .map(|t| {
                (0..tier.len())
                    .filter(|i| tier[*i] as usize == t && base[*i] as usize != t)
                    .count() as i64
            })
            .collect::<Vec<_>>(),
    ));
    Ok(DataFrame::new(k, columns)?)
}

/// `names`: the segment names; `segments`: each customer's index into them.
fn segment_summary(names: &[&str], group: &[u16], features: [&Floats; 3]) -> Result<DataFrame> {
    let [recency, frequency, monetary] = features;
    let mut columns = vec![Column::new(cols::SEGMENT.into(), names.to_vec())];
    columns.extend(group_columns(
        group,
        names.len(),
        &[("revenue", monetary)],
        &[
            ("mean_recency_days", recency),
            ("mean_frequency", frequency),
            ("mean_monetary", monetary),
        ],
    ));
    Ok(DataFrame::new(names.len(), columns)?)
}

#[allow(clippy::too_many_arguments)]
fn alerts(
    customers: &DataFrame,
    p: &GradingParams,
    ids: &Column,
    tier: &[u16],
    score: &[f64],
    recency: &Floats,
    between: &Floats,
    monetary: &Floats,
) -> Result<DataFrame> {
    const KINDS: [&str; 3] = ["overdue_receivable", "churn_risk", "spend_drop"];
    const SEVERITY: [&str; 2] = ["high", "medium"];
    let overdue_days = Floats::maybe(customers, c::OLDEST_OVERDUE_DAYS)?;
    let overdue_amount = Floats::maybe(customers, c::OVERDUE_AMOUNT)?;
    let last = Floats::maybe(customers, c::MONETARY_LAST_PERIOD)?;
    let prev = Floats::maybe(customers, c::MONETARY_PREV_PERIOD)?;
    let overdue = |i: usize| match (&overdue_days, &overdue_amount) {
        (Some(d), Some(a)) => (d.get(i).unwrap_or(0.0), a.get(i).unwrap_or(0.0)),
        _ => (0.0, 0.0),
    };
    let spend = |i: usize| match (&last, &prev) {
        (Some(l), Some(pv)) => (l.get(i).unwrap_or(0.0), pv.get(i).unwrap_or(0.0)),
        _ => (0.0, 0.0),
    };
    // (customer, kind, severity): indices into KINDS and SEVERITY; the text comes later.
    let mut rows: Vec<(usize, usize, usize)> = Vec::new();
    let top_tier = |i: usize| if tier[i] == 0 { 0 } else { 1 };
    for i in 0..tier.len() {
        let (d, a) = overdue(i);
        if overdue_days.is_some() && a > 0.0 && d >= p.alerts.overdue_days {
            rows.push((i, 0, usize::from(d < p.risk.overdue_days[1])));
        }
        if let (Some(b), Some(r)) = (between.get(i), recency.get(i)) {
            if b > 0.0 && r / b >= p.alerts.churn_ratio && r <= p.alerts.churn_max_recency_days {
                rows.push((i, 1, top_tier(i)));
            }
        }
        let (l, pv) = spend(i);
        if last.is_some() && pv > 0.0 && 1.0 - l / pv >= p.alerts.spend_drop {
            rows.push((i, 2, top_tier(i)));
        }
    }
    // Most urgent first: high severity, then the customers worth the most.
    // The sort key carries the value, so sorting never looks rows up (cache misses).
    let mut keyed: Vec<(usize, f64, usize, usize)> = rows
        .iter()
        .map(|&(i, kind, sev)| (sev, monetary.get(i).unwrap_or(0.0), i, kind))
        .collect();
    keyed.par_sort_unstable_by(|a, b| {
        a.0.cmp(&b.0)
            .then(b.1.total_cmp(&a.1))
            .then(a.2.cmp(&b.2))
            .then(a.3.cmp(&b.3))
    });
    let rows: Vec<(usize, usize, usize)> = keyed
        .into_iter()
        .map(|(sev, _, i, kind)| (i, kind, sev))
        .collect();
    let detail = text_column("detail", rows.len(), |r, out| {
        let (i, kind, _) = rows[r];
        match kind {
            0 => {
                let (d, a) = overdue(i);
                write!(
                    out,
                    "{} overdue, oldest {} days past due",
                    money(a),
                    fixed(d, 0)
                )
            }
            1 => {
                let (b, r) = (between.get(i).unwrap_or(0.0), recency.get(i).unwrap_or(0.0));
                write!(
                    out,
                    "no purchase for {} days, {}x the usual {}",
                    fixed(r, 0),
                    fixed(r / b, 1),
                    fixed(b, 0)
                )
            }
            _ => {
                let (l, pv) = spend(i);
                write!(
                    out,
                    "spend fell {}: {} in the last period vs {} in the one before",
                    pct(1.0 - l / pv),
                    money(l),
                    money(pv)
                )
            }
        }
    });
    let who: Vec<usize> = rows.iter().map(|r| r.0).collect();
    let kinds: Vec<usize> = rows.iter().map(|r| r.1).collect();
    let severity: Vec<usize> = rows.iter().map(|r| r.2).collect();
    let tiers: Vec<usize> = who.iter().map(|i| tier[*i] as usize).collect();
    Ok(DataFrame::new(
        rows.len(),
        vec![
            gather(ids.as_materialized_series(), who.iter().copied())?,
            labels("alert", &KINDS, kinds.iter().copied())?,
            labels("severity", &SEVERITY, severity.iter().copied())?,
            detail.into_column(),
            labels(cols::TIER, &p.tier_names, tiers.iter().copied())?,
            Column::new(
                cols::SCORE.into(),
                who.iter().map(|i| score[*i]).collect::<Vec<_>>(),
            ),
            Column::new(
                c::MONETARY.into(),
                who.iter().map(|i| monetary.get(*i)).collect::<Vec<_>>(),
            ),
        ],
    )?)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn scores_at_every_boundary() {
        let cuts = [10.0, 20.0, 30.0, 40.0];
        assert_eq!(score_with_cuts(5.0, &cuts, false), 1);
        assert_eq!(
            score_with_cuts(10.0, &cuts, false),
            1,
            "equal to a cut: lower bin"
        );
        assert_eq!(score_with_cuts(10.5, &cuts, false), 2);
        assert_eq!(score_with_cuts(40.0, &cuts, false), 4);
        assert_eq!(score_with_cuts(41.0, &cuts, false), 5);
        // Recency: fewer days is better.
        assert_eq!(score_with_cuts(5.0, &cuts, true), 5);
        assert_eq!(score_with_cuts(41.0, &cuts, true), 1);
    }

    /// Fixed-point text equals the standard formatter's: on boundaries and ties (which take
    /// the standard path), negative values and zero, huge values, and a million values of
    /// the ranges grading writes.
    #[test]
    fn fixed_writes_what_the_standard_formatter_writes() {
        let check = |x: f64| {
            for d in 0..3 {
                assert_eq!(
                    fixed(x, d).to_string(),
                    format!("{x:.d$}"),
                    "{x:e} to {d} places"
                );
            }
        };
        for x in [
            0.0,
            -0.0,
            0.5,
            1.5,
            2.5,
            0.05,
            0.15,
            0.25,
            0.125,
            0.375,
            1.005,
            2.675,
            99.995,
            57.234999999,
            1e11,
            1e12,
            1e13,
            1.23e20,
            -0.01,
            -2.5,
            -3.25159,
            f64::MIN_POSITIVE,
        ] {
            check(x);
        }
        let mut rng = 0x2545_f491_4f6c_dd1du64;
        for i in 0..1_000_000u64 {
            rng ^= rng << 13;
            rng ^= rng >> 7;
            rng ^= rng << 17;
            let u = (rng >> 11) as f64 / (1u64 << 53) as f64;
            let x = match i % 4 {
                // Rounded scores, shares in percent, day counts, ratios.
                0 => (u * 10_000.0).round() / 100.0,
                1 => u * 100.0,
                2 => (u * 2000.0).floor() + (i % 3) as f64 * 0.5,
                _ => u * 1e6,
            };
            check(x);
        }
    }

    fn params(text: &str) -> GradingParams {
        let base = "[input]\npaths = \"x.csv\"\n[input.columns]\ncustomer_id = \"c\"\ndate = \"d\"\namount = \"a\"\n";
        crate::config::Pipeline::from_toml(&format!("{base}{text}"), std::path::Path::new("p.toml"))
            .unwrap()
            .grading
    }

    /// Ten customers, seven of whom bought once: frequency quantiles collapse.
    fn tied_customers() -> DataFrame {
        df!(
            c::CUSTOMER_ID => ["c0", "c1", "c2", "c3", "c4", "c5", "c6", "c7", "c8", "c9"],
            c::RECENCY_DAYS => [1i64, 2, 3, 4, 5, 6, 7, 8, 9, 10],
            c::FREQUENCY => [1i64, 1, 1, 1, 1, 1, 1, 2, 3, 9],
            c::MONETARY => [10.0, 20.0, 30.0, 40.0, 50.0, 60.0, 70.0, 80.0, 90.0, 100.0],
            c::MEAN_DAYS_BETWEEN => [None, None, None, None, None, None, None, Some(2.0), Some(1.0), Some(1.0)],
            c::MONETARY_LAST_PERIOD => [0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 10.0, 90.0, 40.0],
            c::MONETARY_PREV_PERIOD => [0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 70.0, 0.0, 60.0]
        )
        .unwrap()
    }

    #[test]
    fn heavy_ties_are_reported_not_hidden() {
        let g = assign_rule_tiers(&tied_customers(), &params("")).unwrap();
        // Frequency quantiles at 20/40/60/80 %: 1, 1, 1 and 2.2 (position 7.2 between 2 and 3).
        // Frequency 2 lies above three cuts (score 4), 3 and 9 above all four (score 5).
        assert_eq!(g.notes.len(), 1, "{:?}", g.notes);
        assert!(
            g.notes[0].starts_with("frequency: score level(s) 2, 3 have no customers; 70.0% of customers share the value 1 (cut points 1, 1, 1, 2.2)"),
            "{}",
            g.notes[0]
        );
        let f: Vec<i32> = g
            .rows
            .frame(Rows::All)
            .unwrap()
            .column("f_score")
            .unwrap()
            .i32()
            .unwrap()
            .into_no_null_iter()
            .collect();
        assert_eq!(f, [1, 1, 1, 1, 1, 1, 1, 4, 5, 5]);
    }

    #[test]
    fn alerts_for_churn_and_spend_drop() {
        let g = assign_rule_tiers(&tied_customers(), &params("")).unwrap();
        let a = &g.alerts;
        let who = crate::testing::texts(a, c::CUSTOMER_ID);
        let what = crate::testing::texts(a, "alert");
        // c7: 8 days against a 2-day rhythm (4x >= 3x) and spend 70 -> 10 (-85.7 %).
        // c8 and c9: 9x and 10x their 1-day rhythm; c9 spend 60 -> 40 is only -33 %.
        // All medium (no customer is in the top tier): the most valuable first.
        assert_eq!(who, ["c9", "c8", "c7", "c7"]);
        assert_eq!(
            what,
            ["churn_risk", "churn_risk", "churn_risk", "spend_drop"]
        );
        let detail = a.column("detail").unwrap().str().unwrap().get(3).unwrap();
        assert_eq!(
            detail,
            "spend fell 85.7%: 10.00 in the last period vs 70.00 in the one before"
        );
    }

    #[test]
    fn churn_alerts_skip_customers_gone_longer_than_the_cap() {
        let g = assign_rule_tiers(
            &tied_customers(),
            &params("[alerts]\nchurn_max_recency_days = 8\n"),
        )
        .unwrap();
        let churn_alerts = g
            .alerts
            .clone()
            .lazy()
            .filter(col("alert").eq(lit("churn_risk")))
            .collect()
            .unwrap();
        let churn = crate::testing::texts(&churn_alerts, c::CUSTOMER_ID);
        // c8 and c9 (recency 9 and 10 days) are past the 8-day cap; c7 (8 days) is not.
        assert_eq!(churn, ["c7"]);
    }

    #[test]
    fn money_formats_thousands() {
        assert_eq!(money(1234567.891).to_string(), "1,234,567.89");
        assert_eq!(money(-5.0).to_string(), "-5.00");
        assert_eq!(money(999.999).to_string(), "1,000.00");
        assert_eq!(money(0.5).to_string(), "0.50");
        // Past 1.8e17 cents no longer fit a u64; the digits stay right.
        assert_eq!(money(2e17).to_string(), "200,000,000,000,000,000.00");
        assert_eq!(
            money(-3.5e20).to_string(),
            "-350,000,000,000,000,000,000.00"
        );
        assert_eq!(money(1e17).to_string(), "100,000,000,000,000,000.00");
    }
}
