//! Tiers over time: the history of every customer's grade across snapshots, the migration
//! between consecutive snapshots (with new and departed customers as their own states), the
//! customers who moved with the reason read off their scores, and per-period stability.
//! Pure: graded snapshots in, frames out.

use std::collections::HashMap;

use anyhow::Result;
use chrono::NaiveDate;
use polars::prelude::*;

use crate::clean::epoch_days;
use crate::columns as c;
use crate::tiers::rules::cols as tc;

/// The state of a customer absent from the earlier snapshot.
pub const NEW: &str = "new";
/// The state of a customer absent from the later snapshot (no activity in the window).
pub const LEFT: &str = "left";

/// One graded snapshot.
pub struct Snapshot {
    pub as_of: NaiveDate,
    /// tiers.parquet of the snapshot.
    pub tiers: DataFrame,
    /// Cluster index (0 = most valuable) per row of `tiers`, from the one shared model.
    pub clusters: Option<Vec<usize>>,
}

/// From states (rows), to states (columns) and customer counts.
pub type StateMatrix = (Vec<String>, Vec<String>, Vec<Vec<u64>>);

/// from, to, customers in both, kept tier, upgrades, downgrades, new, left.
type StabilityRow = (NaiveDate, NaiveDate, u64, u64, u64, u64, u64, u64);

/// The history tables.
pub struct HistoryTables {
    pub tier_history: DataFrame,
    pub migration: DataFrame,
    pub movements: DataFrame,
    pub stability: DataFrame,
    /// Counts of the last pair: from state (rows) x to state (columns), states as named.
    pub last_matrix: Option<StateMatrix>,
    /// Customers per tier at each snapshot: (as_of, counts in tier order).
    pub sizes: Vec<(NaiveDate, Vec<u64>)>,
    /// Where each snapshot's as-of date came from (see `crate::plan::DateSource`), set by
    /// the runner.
    pub sources: Vec<&'static str>,
}

/// What a snapshot knows of one customer.
#[derive(Clone)]
struct Grade {
    tier: String,
    rank: i32,
    score: f64,
    r: i32,
    f: i32,
    m: i32,
    risk: String,
    risk_reasons: String,
    monetary: f64,
    profit: Option<f64>,
}

fn grades(df: &DataFrame) -> Result<Vec<(String, Grade)>> {
    let ids = df.column(c::CUSTOMER_ID)?.str()?.clone();
    let tier = df.column(tc::TIER)?.str()?.clone();
    let rank = df.column(tc::TIER_RANK)?.i32()?.clone();
    let score = df.column(tc::SCORE)?.f64()?.clone();
    let r = df.column(tc::R_SCORE)?.i32()?.clone();
    let f = df.column(tc::F_SCORE)?.i32()?.clone();
    let m = df.column(tc::M_SCORE)?.i32()?.clone();
    let risk = df.column(tc::RISK)?.str()?.clone();
    let reasons = df.column(tc::RISK_REASONS)?.str()?.clone();
    let monetary = df.column(c::MONETARY)?.cast(&DataType::Float64)?;
    let monetary = monetary.f64()?;
    let profit = match df.column(c::PROFIT) {
        Ok(p) => Some(p.cast(&DataType::Float64)?.f64()?.clone()),
        Err(_) => None,
    };
    Ok((0..df.height())
        .map(|i| {
            (
                ids.get(i).unwrap_or("").to_string(),
                Grade {
                    tier: tier.get(i).unwrap_or("").to_string(),
                    rank: rank.get(i).unwrap_or(0),
                    score: score.get(i).unwrap_or(0.0),
                    r: r.get(i).unwrap_or(0),
                    f: f.get(i).unwrap_or(0),
                    m: m.get(i).unwrap_or(0),
                    risk: risk.get(i).unwrap_or("").to_string(),
                    risk_reasons: reasons.get(i).unwrap_or("").to_string(),
                    monetary: monetary.get(i).unwrap_or(0.0),
                    profit: profit.as_ref().and_then(|p| p.get(i)),
                },
            )
        })
        .collect())
}

/// Why a customer moved, from what changed between the two grades.
fn movement_reason(a: &Grade, b: &Grade) -> String {
    let mut parts = vec![format!("score {:.2} -> {:.2}", a.score, b.score)];
    parts.push(format!("revenue {:.2} -> {:.2}", a.monetary, b.monetary));
    if let (Some(x), Some(y)) = (a.profit, b.profit) {
        parts.push(format!("profit {x:.2} -> {y:.2}"));
    }
    for (name, x, y) in [
        ("recency", a.r, b.r),
        ("frequency", a.f, b.f),
        ("monetary", a.m, b.m),
    ] {
        if x != y {
            parts.push(format!("{name} {x} -> {y}"));
        }
    }
    if a.risk != b.risk {
        let why = if b.risk_reasons.is_empty() {
            String::new()
        } else {
            format!(" ({})", b.risk_reasons)
        };
        parts.push(format!("risk {} -> {}{why}", a.risk, b.risk));
    }
    parts.join("; ")
}

fn date_column(name: &str, dates: Vec<NaiveDate>) -> Result<Column> {
    Ok(Column::new(
        name.into(),
        dates.iter().map(|d| epoch_days(*d)).collect::<Vec<_>>(),
    )
    .cast(&DataType::Date)?)
}

/// Builds the history tables from snapshots in ascending as_of order.
pub fn build_history(snaps: &[Snapshot], tier_names: &[String]) -> Result<HistoryTables> {
    // tier_history: the snapshots stacked.
    let mut parts = Vec::new();
    for s in snaps {
        let mut keep = vec![
            c::CUSTOMER_ID,
            tc::SCORE,
            tc::TIER,
            tc::TIER_RANK,
            tc::RISK,
            tc::SEGMENT,
            tc::RFM_CODE,
            c::MONETARY,
        ];
        keep.retain(|k| s.tiers.schema().get(k).is_some());
        let mut df = s.tiers.select(keep)?;
        let n = df.height();
        df.insert_column(1, date_column("as_of", vec![s.as_of; n])?)?;
        if let Some(cl) = &s.clusters {
            df.with_column(Column::new(
                "cluster".into(),
                cl.iter().map(|x| *x as i32 + 1).collect::<Vec<_>>(),
            ))?;
        }
        parts.push(df);
    }
    let mut tier_history = parts.remove(0);
    for p in parts {
        tier_history.vstack_mut(&p)?;
    }

    let sizes = snaps
        .iter()
        .map(|s| {
            let g = grades(&s.tiers)?;
            Ok((
                s.as_of,
                tier_names
                    .iter()
                    .map(|t| g.iter().filter(|(_, x)| &x.tier == t).count() as u64)
                    .collect(),
            ))
        })
        .collect::<Result<Vec<_>>>()?;

    // A customer can come from `new` and go to `left`, never the other way round.
    let from_states: Vec<String> = tier_names
        .iter()
        .cloned()
        .chain([NEW.to_string()])
        .collect();
    let to_states: Vec<String> = tier_names
        .iter()
        .cloned()
        .chain([LEFT.to_string()])
        .collect();
    let mut mig: Vec<(NaiveDate, NaiveDate, String, String, u64, f64)> = Vec::new();
    let mut mov: Vec<(NaiveDate, NaiveDate, String, String, String, &str, String)> = Vec::new();
    let mut stab: Vec<StabilityRow> = Vec::new();
    let mut last_matrix = None;
    for pair in snaps.windows(2) {
        let (a, b) = (&pair[0], &pair[1]);
        let ga: HashMap<String, Grade> = grades(&a.tiers)?.into_iter().collect();
        let gb = grades(&b.tiers)?;
        let gb_map: HashMap<&str, &Grade> = gb.iter().map(|(k, v)| (k.as_str(), v)).collect();
        let mut counts: HashMap<(String, String), (u64, f64)> = HashMap::new();
        let (mut both, mut kept, mut up, mut down, mut new, mut left) = (0, 0, 0, 0, 0, 0);
        for (id, g) in &gb {
            match ga.get(id) {
                Some(old) => {
                    both += 1;
                    let e = counts
                        .entry((old.tier.clone(), g.tier.clone()))
                        .or_default();
                    e.0 += 1;
                    e.1 += g.monetary;
                    if old.rank == g.rank {
                        kept += 1;
                    } else {
                        let dir = if g.rank < old.rank { "up" } else { "down" };
                        if dir == "up" {
                            up += 1;
                        } else {
                            down += 1;
                        }
                        mov.push((
                            a.as_of,
                            b.as_of,
                            id.clone(),
                            old.tier.clone(),
                            g.tier.clone(),
                            dir,
                            movement_reason(old, g),
                        ));
                    }
                }
                None => {
                    new += 1;
                    let e = counts.entry((NEW.to_string(), g.tier.clone())).or_default();
                    e.0 += 1;
                    e.1 += g.monetary;
                    mov.push((
                        a.as_of,
                        b.as_of,
                        id.clone(),
                        NEW.into(),
                        g.tier.clone(),
                        NEW,
                        format!("first graded at {}: score {:.2}", b.as_of, g.score),
                    ));
                }
            }
        }
        let mut gone: Vec<(&String, &Grade)> = ga
            .iter()
            .filter(|(id, _)| !gb_map.contains_key(id.as_str()))
            .collect();
        gone.sort_by(|x, y| x.0.cmp(y.0));
        for (id, old) in gone {
            left += 1;
            let e = counts
                .entry((old.tier.clone(), LEFT.to_string()))
                .or_default();
            e.0 += 1;
            e.1 += old.monetary;
            mov.push((
                a.as_of,
                b.as_of,
                id.clone(),
                old.tier.clone(),
                LEFT.into(),
                LEFT,
                "no purchase in the window at the later date".into(),
            ));
        }
        let mut matrix = vec![vec![0u64; to_states.len()]; from_states.len()];
        for (fi, from) in from_states.iter().enumerate() {
            for (ti, to) in to_states.iter().enumerate() {
                if let Some((n, rev)) = counts.get(&(from.clone(), to.clone())) {
                    matrix[fi][ti] = *n;
                    mig.push((a.as_of, b.as_of, from.clone(), to.clone(), *n, *rev));
                }
            }
        }
        last_matrix = Some((from_states.clone(), to_states.clone(), matrix));
        stab.push((a.as_of, b.as_of, both, kept, up, down, new, left));
    }

    let migration = DataFrame::new(
        mig.len(),
        vec![
            date_column("from_as_of", mig.iter().map(|m| m.0).collect())?,
            date_column("to_as_of", mig.iter().map(|m| m.1).collect())?,
            Column::new(
                "from_tier".into(),
                mig.iter().map(|m| m.2.clone()).collect::<Vec<_>>(),
            ),
            Column::new(
                "to_tier".into(),
                mig.iter().map(|m| m.3.clone()).collect::<Vec<_>>(),
            ),
            Column::new(
                "customers".into(),
                mig.iter().map(|m| m.4 as i64).collect::<Vec<_>>(),
            ),
            Column::new(
                "revenue".into(),
                mig.iter().map(|m| m.5).collect::<Vec<_>>(),
            ),
        ],
    )?;
    let movements = DataFrame::new(
        mov.len(),
        vec![
            date_column("from_as_of", mov.iter().map(|m| m.0).collect())?,
            date_column("to_as_of", mov.iter().map(|m| m.1).collect())?,
            Column::new(
                c::CUSTOMER_ID.into(),
                mov.iter().map(|m| m.2.clone()).collect::<Vec<_>>(),
            ),
            Column::new(
                "from_tier".into(),
                mov.iter().map(|m| m.3.clone()).collect::<Vec<_>>(),
            ),
            Column::new(
                "to_tier".into(),
                mov.iter().map(|m| m.4.clone()).collect::<Vec<_>>(),
            ),
            Column::new(
                "direction".into(),
                mov.iter().map(|m| m.5).collect::<Vec<_>>(),
            ),
            Column::new(
                "reason".into(),
                mov.iter().map(|m| m.6.clone()).collect::<Vec<_>>(),
            ),
        ],
    )?;
    let stability = DataFrame::new(
        stab.len(),
        vec![
            date_column("from_as_of", stab.iter().map(|s| s.0).collect())?,
            date_column("to_as_of", stab.iter().map(|s| s.1).collect())?,
            Column::new(
                "customers_in_both".into(),
                stab.iter().map(|s| s.2 as i64).collect::<Vec<_>>(),
            ),
            Column::new(
                "kept_tier".into(),
                stab.iter().map(|s| s.3 as i64).collect::<Vec<_>>(),
            ),
            Column::new(
                "stability".into(),
                stab.iter()
                    .map(|s| (s.2 > 0).then(|| s.3 as f64 / s.2 as f64))
                    .collect::<Vec<_>>(),
            ),
            Column::new(
                "upgrades".into(),
                stab.iter().map(|s| s.4 as i64).collect::<Vec<_>>(),
            ),
            Column::new(
                "downgrades".into(),
                stab.iter().map(|s| s.5 as i64).collect::<Vec<_>>(),
            ),
            Column::new(
                "new".into(),
                stab.iter().map(|s| s.6 as i64).collect::<Vec<_>>(),
            ),
            Column::new(
                "left".into(),
                stab.iter().map(|s| s.7 as i64).collect::<Vec<_>>(),
            ),
        ],
    )?;
    Ok(HistoryTables {
        tier_history,
        migration,
        movements,
        stability,
        last_matrix,
        sizes,
        sources: Vec::new(),
    })
}
