//! Base tiers: each customer's tier by the tier rule alone (score cuts, customer shares or
//! cumulative value), before the risk overlay, and what its reason says. The overlay and the
//! text of risk live elsewhere.

use std::fmt;

use anyhow::{Context, Result};
use polars::prelude::*;
use rayon::prelude::*;

use super::text::{fixed, money, pct};
use crate::columns as c;
use crate::lang::{Cut, Language};
use crate::stats::{from_total_key, percentile_ranks, total_key, Floats};
use crate::tiers::params::TierRule;

/// Tier index (0 = best) and the reason text for every customer.
pub(super) struct BaseTiers {
    pub tier: Vec<u16>,
    pub reason: BaseReason,
}

/// What a customer's reason before risk says, per tier rule.
pub(super) enum BaseReason {
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
        /// Ranked on profit (else revenue).
        profit: bool,
        cuts: Vec<f64>,
        /// The value ranked on (revenue or profit, missing as 0), and the share of the total
        /// held by larger customers.
        values: Vec<f64>,
        share_before: Vec<f64>,
    },
    Grid {
        value_cut: f64,
        potential_cut: f64,
        /// Each customer's lifetime value and its percentile rank in points (missing: 50).
        clv: Floats,
        points: Vec<f64>,
    },
}

impl BaseReason {
    /// Customer `i`'s reason, with its score and base tier `t`, in `lang`.
    pub(super) fn write(
        &self,
        i: usize,
        score: f64,
        t: usize,
        names: &[String],
        lang: Language,
        out: &mut String,
    ) -> fmt::Result {
        match self {
            BaseReason::Score { cuts } => {
                if t < cuts.len() {
                    lang.score_cut(out, fixed(score, 2), true, cuts[t], &names[t])
                } else {
                    lang.score_cut(out, fixed(score, 2), false, cuts[t - 1], &names[t])
                }
            }
            BaseReason::Share { cum, rank } => {
                let above = rank[i] as f64 / rank.len() as f64;
                let top = cum.get(t).map(|c| pct(*c));
                lang.score_share(out, fixed(score, 2), pct(above), top, &names[t])
            }
            BaseReason::Pareto {
                profit,
                cuts,
                values,
                share_before,
            } => {
                let (v, share) = (values[i], share_before[i]);
                let label = lang.pareto_value(*profit);
                if v <= 0.0 {
                    lang.pareto_nothing(out, label, money(v), &names[t])
                } else {
                    let cut = match cuts.get(t) {
                        Some(c) => Cut::Within(pct(*c)),
                        None => Cut::Beyond(pct(cuts[t - 1])),
                    };
                    lang.pareto_share(out, label, money(v), pct(share), cut, &names[t])
                }
            }
            BaseReason::Grid {
                value_cut,
                potential_cut,
                clv,
                points,
            } => {
                lang.grid_value(out, fixed(score, 2), score >= *value_cut, value_cut)?;
                let high_potential = points[i] >= *potential_cut;
                let rank = fixed(points[i], 1);
                let value = clv.get(i).map(money);
                lang.grid_potential(out, value, rank, high_potential, potential_cut)?;
                lang.arrow(out, &names[t])
            }
        }
    }
}

/// Each customer's tier by the tier rule alone (0 = best), and what its reason says.
pub(super) fn base_tiers(
    ids: &Column,
    score: &[f64],
    monetary: &Floats,
    profit: Option<&Floats>,
    clv: Option<&Floats>,
    rule: &TierRule,
) -> Result<BaseTiers> {
    match rule {
        TierRule::Score(cuts) => Ok(by_score(score, cuts)),
        TierRule::Share(shares) => Ok(by_share(score, shares)),
        TierRule::Pareto { cuts, column } => by_pareto(ids, monetary, profit, cuts, column),
        TierRule::ValuePotential {
            value_cut,
            potential_cut,
        } => {
            let clv = clv.context("value-by-potential tiers without a clv column")?;
            Ok(by_grid(score, clv, *value_cut, *potential_cut))
        }
    }
}

/// Tiers on two axes: value (the score against `value_cut`) and potential (the lifetime
/// value's percentile rank against `potential_cut`). High/high first, then high potential,
/// then high value, then neither.
fn by_grid(score: &[f64], clv: &Floats, value_cut: f64, potential_cut: f64) -> BaseTiers {
    let points: Vec<f64> = percentile_ranks(clv, true)
        .into_iter()
        .map(|r| r * 100.0)
        .collect();
    let tier = score
        .iter()
        .zip(&points)
        .map(|(s, p)| match (*s >= value_cut, *p >= potential_cut) {
            (true, true) => 0,
            (false, true) => 1,
            (true, false) => 2,
            (false, false) => 3,
        })
        .collect();
    BaseTiers {
        tier,
        reason: BaseReason::Grid {
            value_cut,
            potential_cut,
            clv: clv.clone(),
            points,
        },
    }
}

/// Tiers by minimum score.
fn by_score(score: &[f64], cuts: &[f64]) -> BaseTiers {
    let tier = score
        .par_iter()
        .map(|s| cuts.iter().filter(|cut| *s < **cut).count() as u16)
        .collect();
    BaseTiers {
        tier,
        reason: BaseReason::Score {
            cuts: cuts.to_vec(),
        },
    }
}

/// A customer's row in the customer table and the value it is ordered by.
struct Ranked {
    value: f64,
    row: usize,
}

/// Tiers by the share of customers with a better score.
fn by_share(score: &[f64], shares: &[f64]) -> BaseTiers {
    let n = score.len();
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
    let order: Vec<Ranked> = keyed
        .into_par_iter()
        .map(|k| Ranked {
            value: from_total_key(!((k >> 64) as u64)),
            row: k as u64 as usize,
        })
        .collect();
    let mut rank = vec![0u32; n];
    for pos in 0..n {
        let Ranked { value: s, row: i } = order[pos];
        rank[i] = if pos > 0 && order[pos - 1].value == s {
            rank[order[pos - 1].row]
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
    BaseTiers {
        tier,
        reason: BaseReason::Share { cum, rank },
    }
}

/// Tiers by the cumulative share of revenue or profit (`column`) held by larger customers.
fn by_pareto(
    ids: &Column,
    monetary: &Floats,
    profit: Option<&Floats>,
    cuts: &[f64],
    column: &str,
) -> Result<BaseTiers> {
    let values: Vec<f64> = if column == c::PROFIT {
        profit
            .context("pareto on profit without a profit column")?
            .iter()
            .map(|v| v.unwrap_or(0.0))
            .collect()
    } else {
        monetary.iter().map(|v| v.unwrap_or(0.0)).collect()
    };
    let n = values.len();
    let total: f64 = values.iter().filter(|v| **v > 0.0).sum();
    // Equal values are ordered by customer ID.
    let ids: Vec<&str> = ids.str()?.iter().map(|s| s.unwrap_or("")).collect();
    let mut order: Vec<Ranked> = values
        .iter()
        .enumerate()
        .map(|(row, value)| Ranked { value: *value, row })
        .collect();
    order.par_sort_unstable_by(|a, b| {
        b.value
            .total_cmp(&a.value)
            .then_with(|| ids[a.row].cmp(ids[b.row]))
    });
    // The share of the total held by larger customers, per customer.
    let mut tier = vec![0u16; n];
    let mut share_before = vec![0.0; n];
    let mut before = 0.0;
    for &Ranked { row: i, .. } in &order {
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
        profit: column == c::PROFIT,
        cuts: cuts.to_vec(),
        values,
        share_before,
    };
    Ok(BaseTiers { tier, reason })
}
