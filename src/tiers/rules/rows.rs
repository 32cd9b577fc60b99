//! The per-customer table (tiers.parquet): what it is made of, kept compact, and its rows
//! built a group at a time as they are written, with labels and reasons in text. Building
//! only: every grade in it is decided before.

use std::fmt::{self, Write as _};
use std::ops::Range;

use anyhow::Result;
use polars::prelude::*;

use std::sync::Arc;

use super::attributes::{write_pin, AttributeInputs, NO_PIN};
use super::base::BaseReason;
use super::policy::policy_columns;
use super::rfm::Coded;
use super::risk::{RiskInputs, RISK_LEVELS};
use super::score::ComponentPoints;
use super::text::{labels, text_column};
use super::Pinned;
use crate::columns as c;
use crate::par::{build_columns, ready, ColumnJob};
use crate::tiers::params::GradingParams;

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
    pub(super) p: GradingParams,
    /// customer_id, recency_days, frequency, monetary, and profit, p_alive and clv when the
    /// run has them.
    pub(super) shared: Vec<Column>,
    pub(super) scores: [Vec<u8>; 3],
    /// Every RFM code ("111".."555"), and each customer's index into them.
    pub(super) codes: Coded,
    pub(super) segments: Coded,
    /// Per score component, its column name and points.
    pub(super) comps: Vec<ComponentPoints>,
    pub(super) score: Vec<f64>,
    /// Tier before and after the risk overlay, 0 = best.
    pub(super) base: Vec<u16>,
    pub(super) tier: Vec<u16>,
    pub(super) risk: Vec<u8>,
    pub(super) base_reason: BaseReason,
    pub(super) risk_inputs: RiskInputs,
    /// The attributes the pins test, for their text.
    pub(super) attrs: Arc<AttributeInputs>,
    /// With `[[tiers.pin]]`: the tiers before the pins and the pin of each customer.
    pub(super) pins: Option<Pinned>,
}

/// The columns of `customers` that tiers.parquet repeats (`shared` of [`TierRows`]).
pub(super) fn shared_columns(
    customers: &DataFrame,
    ids: &Column,
    p: &GradingParams,
) -> Result<Vec<Column>> {
    let mut shared = vec![
        ids.clone(),
        customers.column(c::RECENCY_DAYS)?.clone(),
        customers.column(c::FREQUENCY)?.clone(),
        customers.column(c::MONETARY)?.clone(),
    ];
    if customers.schema().get(c::PROFIT).is_some() {
        shared.push(customers.column(c::PROFIT)?.clone());
    }
    // With `[potential]`: the forward-looking figures beside the backward-looking ones.
    for name in [c::P_ALIVE, c::CLV] {
        if let Ok(col) = customers.column(name) {
            shared.push(col.clone());
        }
    }
    // With `[attributes]`: the master's columns the grading could read.
    let attributes = p
        .attributes
        .numeric
        .iter()
        .map(|(n, _)| n)
        .chain(&p.attributes.categorical);
    for name in attributes {
        if let Ok(col) = customers.column(name) {
            shared.push(col.clone());
        }
    }
    Ok(shared)
}

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

fn at<'a>(v: &'a [u16], idx: &'a [usize]) -> impl Iterator<Item = usize> + 'a {
    idx.iter().map(|i| v[*i] as usize)
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
        self.columns_at(rows, true)
    }

    /// Every customer's row of tiers.parquet without the texts that only that file shows:
    /// the reason and the policy columns. What a snapshot of a history run keeps (see
    /// `crate::history::Snapshot`); the reasons are most of the table's work.
    pub fn graded_frame(&self) -> Result<DataFrame> {
        self.columns_at(Rows::All, false)
    }

    /// The rows of tiers.parquet at `rows`; without `reasons`, no reason or policy column.
    fn columns_at(&self, rows: Rows, reasons: bool) -> Result<DataFrame> {
        let n = self.height();
        let idx: Vec<usize> = match &rows {
            Rows::All => (0..n).collect(),
            Rows::Range(r) => r.clone().collect(),
            Rows::Picked(p) => p.to_vec(),
        };
        let mut builds: Vec<ColumnJob> = self
            .shared_rows(&rows, &idx)?
            .into_iter()
            .map(ready)
            .collect();
        builds.extend(self.score_columns(&idx));
        builds.extend(self.tier_columns(&idx, reasons));
        let mut df = DataFrame::new(idx.len(), build_columns(builds)?)?;
        df.rechunk_mut();
        Ok(df)
    }

    /// The repeated customer-table columns at `rows` (whose indices are `idx`).
    fn shared_rows(&self, rows: &Rows, idx: &[usize]) -> Result<Vec<Column>> {
        Ok(match rows {
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
        })
    }

    /// RFM scores, code and segment, the score's components and the score.
    fn score_columns<'a>(&'a self, idx: &'a [usize]) -> Vec<ColumnJob<'a>> {
        let score = |x: u8| x as i32;
        let float = |x: f64| x;
        let mut builds: Vec<ColumnJob> = vec![
            picked(c::R_SCORE, &self.scores[0], idx, score),
            picked(c::F_SCORE, &self.scores[1], idx, score),
            picked(c::M_SCORE, &self.scores[2], idx, score),
            Box::new(move || {
                Ok(vec![labels(
                    c::RFM_CODE,
                    &self.codes.names,
                    at(&self.codes.index, idx),
                )?])
            }),
            Box::new(move || {
                Ok(vec![labels(
                    c::SEGMENT,
                    &self.segments.names,
                    at(&self.segments.index, idx),
                )?])
            }),
        ];
        for comp in &self.comps {
            builds.push(picked(&comp.column, &comp.points, idx, float));
        }
        builds.push(picked(c::SCORE, &self.score, idx, float));
        builds
    }

    /// Tier before risk, risk and its reasons, tier, rank, downgrade, and with `reasons`, the
    /// reason and the policies.
    fn tier_columns<'a>(&'a self, idx: &'a [usize], reasons: bool) -> Vec<ColumnJob<'a>> {
        let p = &self.p;
        let names = &p.tier_names;
        let mut jobs: Vec<ColumnJob<'a>> = vec![
            Box::new(move || Ok(vec![labels(c::TIER_BASE, names, at(&self.base, idx))?])),
            Box::new(move || {
                Ok(vec![labels(
                    c::RISK,
                    &RISK_LEVELS,
                    idx.iter().map(|i| self.risk[*i] as usize),
                )?])
            }),
            Box::new(move || {
                let text = text_column(c::RISK_REASONS, idx.len(), |k, out| {
                    self.risk_inputs.write(p, idx[k], out).map(|_| ())
                });
                Ok(vec![text.into_column()])
            }),
            Box::new(move || Ok(vec![labels(c::TIER, names, at(&self.tier, idx))?])),
            Box::new(move || {
                let rank = idx
                    .iter()
                    .map(|i| self.tier[*i] as i32 + 1)
                    .collect::<Vec<_>>();
                let after_risk = self.pins.as_ref().map_or(&self.tier, |p| &p.after_risk);
                let downgraded = idx
                    .iter()
                    .map(|i| after_risk[*i] != self.base[*i])
                    .collect::<Vec<_>>();
                Ok(vec![
                    Column::new(c::TIER_RANK.into(), rank),
                    Column::new(c::DOWNGRADED.into(), downgraded),
                ])
            }),
        ];
        if reasons {
            jobs.push(Box::new(move || {
                let text = text_column(c::REASON, idx.len(), |k, out| self.reason(idx[k], out));
                Ok(vec![text.into_column()])
            }));
            jobs.push(Box::new(move || {
                policy_columns(
                    p,
                    &idx.iter()
                        .map(|i| self.tier[*i] as usize)
                        .collect::<Vec<_>>(),
                )
            }));
        }
        jobs
    }

    /// The plain-language reason for customer `i`'s tier.
    fn reason(&self, i: usize, out: &mut String) -> fmt::Result {
        let (names, lang) = (&self.p.tier_names, self.p.language);
        let after_risk = self.pins.as_ref().map_or(&self.tier, |p| &p.after_risk);
        let (base, tier, risk) = (self.base[i], after_risk[i], self.risk[i] as usize);
        self.base_reason
            .write(i, self.score[i], base as usize, names, lang, out)?;
        if risk > 0 {
            lang.risk_intro(out, RISK_LEVELS[risk])?;
            self.risk_inputs.write(&self.p, i, out)?;
            if tier != base {
                lang.arrow(out, &names[tier as usize])?;
            }
        }
        // A pin comes last and says what it did; the score stays in the reason before it.
        if let Some(pins) = &self.pins {
            let k = pins.by[i];
            if k != NO_PIN {
                out.write_str(lang.separator())?;
                write_pin(&self.p.pins[k as usize], &self.attrs, i, names, lang, out)?;
            }
        }
        Ok(())
    }
}
