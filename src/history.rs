//! Tiers over time: the history of every customer's grade across snapshots, the migration
//! between consecutive snapshots (with new and departed customers as their own states), the
//! customers who moved with the reason read off their scores, and per-period stability.
//! Pure: graded snapshots in, frames out.

use std::fmt;

use anyhow::Result;
use chrono::NaiveDate;
use foldhash::fast::FixedState;
use hashbrown::HashMap;
use polars::prelude::*;
use rayon::prelude::*;

use crate::clean::epoch_days;
use crate::columns as c;
use crate::lang::Language;

/// The state of a customer absent from the earlier snapshot.
pub const NEW: &str = "new";
/// The state of a customer absent from the later snapshot (no activity in the window).
pub const LEFT: &str = "left";

/// One graded snapshot.
pub struct Snapshot {
    pub as_of: NaiveDate,
    /// The snapshot's rows of tiers.parquet, without reasons and policies (see
    /// `TierRows::graded_frame`).
    pub tiers: DataFrame,
    /// Cluster index (0 = most valuable) per row of `tiers`, from the one shared model.
    pub clusters: Option<Vec<usize>>,
}

/// Customers per (from state, to state) over a pair of snapshots.
#[derive(Clone)]
pub struct StateMatrix {
    /// The rows: the tiers, then `new`.
    pub from: Vec<String>,
    /// The columns: the tiers, then `left`.
    pub to: Vec<String>,
    /// `counts[from][to]`.
    pub counts: Vec<Vec<u64>>,
}

/// Customers per tier at one snapshot.
pub struct TierSizes {
    pub as_of: NaiveDate,
    /// In tier order.
    pub counts: Vec<u64>,
}

/// The history tables.
pub struct HistoryTables {
    pub tier_history: DataFrame,
    pub migration: DataFrame,
    pub movements: DataFrame,
    pub stability: DataFrame,
    /// Counts of the last pair, states as named.
    pub last_matrix: Option<StateMatrix>,
    /// Customers per tier at each snapshot.
    pub sizes: Vec<TierSizes>,
    /// Where each snapshot's as-of date came from (see `crate::plan::DateSource`), set by
    /// the runner.
    pub sources: Vec<&'static str>,
}

/// What a snapshot knows of one customer; the texts are borrowed from its tiers table.
#[derive(Clone)]
struct Grade<'a> {
    tier: &'a str,
    rank: i32,
    score: f64,
    r: i32,
    f: i32,
    m: i32,
    risk: &'a str,
    risk_reasons: &'a str,
    monetary: f64,
    profit: Option<f64>,
}

/// The hash maps of this module (paths between tiers), hashed by foldhash, not SipHash.
type Map<K, V> = HashMap<K, V, FixedState>;

/// Every customer's grade in one snapshot: (customer ID, grade), in table order.
type Grades<'a> = Vec<(&'a str, Grade<'a>)>;

fn grades(df: &DataFrame) -> Result<Grades<'_>> {
    let ids = df.column(c::CUSTOMER_ID)?.str()?;
    let tier = df.column(c::TIER)?.str()?;
    let rank = df.column(c::TIER_RANK)?.i32()?;
    let score = df.column(c::SCORE)?.f64()?;
    let r = df.column(c::R_SCORE)?.i32()?;
    let f = df.column(c::F_SCORE)?.i32()?;
    let m = df.column(c::M_SCORE)?.i32()?;
    let risk = df.column(c::RISK)?.str()?;
    let reasons = df.column(c::RISK_REASONS)?.str()?;
    let monetary = df.column(c::MONETARY)?.cast(&DataType::Float64)?;
    let monetary = monetary.f64()?;
    let profit = match df.column(c::PROFIT) {
        Ok(p) => Some(p.cast(&DataType::Float64)?.f64()?.clone()),
        Err(_) => None,
    };
    Ok((0..df.height())
        .map(|i| {
            (
                ids.get(i).unwrap_or(""),
                Grade {
                    tier: tier.get(i).unwrap_or(""),
                    rank: rank.get(i).unwrap_or(0),
                    score: score.get(i).unwrap_or(0.0),
                    r: r.get(i).unwrap_or(0),
                    f: f.get(i).unwrap_or(0),
                    m: m.get(i).unwrap_or(0),
                    risk: risk.get(i).unwrap_or(""),
                    risk_reasons: reasons.get(i).unwrap_or(""),
                    monetary: monetary.get(i).unwrap_or(0.0),
                    profit: profit.as_ref().and_then(|p| p.get(i)),
                },
            )
        })
        .collect())
}

/// A number with two decimals, as the reasons show it.
struct Two(f64);

impl fmt::Display for Two {
    fn fmt(&self, f: &mut fmt::Formatter) -> fmt::Result {
        write!(f, "{:.2}", self.0)
    }
}

/// Writes why a customer moved, from what changed between the two grades, in `lang`.
fn movement_reason(out: &mut String, a: &Grade, b: &Grade, lang: Language) -> fmt::Result {
    let sep = lang.separator();
    lang.change(out, "score", Two(a.score), Two(b.score))?;
    out.push_str(sep);
    lang.change(out, "revenue", Two(a.monetary), Two(b.monetary))?;
    if let (Some(x), Some(y)) = (a.profit, b.profit) {
        out.push_str(sep);
        lang.change(out, "profit", Two(x), Two(y))?;
    }
    for (name, x, y) in [
        ("recency", a.r, b.r),
        ("frequency", a.f, b.f),
        ("monetary", a.m, b.m),
    ] {
        if x != y {
            out.push_str(sep);
            lang.change(out, name, x, y)?;
        }
    }
    if a.risk != b.risk {
        let to = lang.risk_level(b.risk);
        let to = if b.risk_reasons.is_empty() {
            to.to_string()
        } else {
            format!("{to} ({})", b.risk_reasons)
        };
        out.push_str(sep);
        lang.change(out, "risk", lang.risk_level(a.risk), to)?;
    }
    Ok(())
}

/// Two consecutive snapshot dates.
#[derive(Clone, Copy)]
struct Period {
    from: NaiveDate,
    to: NaiveDate,
}

/// Customers from one state to another over a period, and their revenue at the later date
/// (at the earlier one for those who left).
struct MigrationRow {
    period: Period,
    from_tier: String,
    to_tier: String,
    customers: u64,
    revenue: f64,
}

/// A customer whose tier changed, who is new or who left; the texts are borrowed from the
/// snapshots' tables.
struct Movement<'a> {
    period: Period,
    customer_id: &'a str,
    from_tier: &'a str,
    to_tier: &'a str,
    /// "up", "down", [`NEW`] or [`LEFT`].
    direction: &'static str,
    /// Where the reason ends in its pair's `reasons` (it starts where the previous one's
    /// ends).
    reason_end: usize,
}

/// How many customers kept their tier over a period, and how the others moved.
struct StabilityRow {
    period: Period,
    /// Customers graded at both dates.
    in_both: u64,
    kept: u64,
    upgrades: u64,
    downgrades: u64,
    new: u64,
    left: u64,
}

/// The states of the migration matrix: a customer can come from `new` and go to `left`,
/// never the other way round.
struct States {
    from: Vec<String>,
    to: Vec<String>,
}

impl States {
    fn new(tier_names: &[String]) -> Self {
        let with = |extra: &str| {
            tier_names
                .iter()
                .cloned()
                .chain([extra.to_string()])
                .collect()
        };
        States {
            from: with(NEW),
            to: with(LEFT),
        }
    }
}

/// Customers and their revenue on one (from state, to state) path.
#[derive(Default)]
struct Flow {
    customers: u64,
    revenue: f64,
}

/// What changed between two consecutive snapshots.
struct PairChanges<'a> {
    migration: Vec<MigrationRow>,
    movements: Vec<Movement<'a>>,
    /// The movements' reasons, one after the other: one text, not a string per movement.
    reasons: String,
    stability: StabilityRow,
    matrix: StateMatrix,
}

/// Builds the history tables from snapshots in ascending as_of order. Snapshots are read,
/// and pairs of them compared, in parallel; every result is kept in snapshot order.
/// Reasons are written in `lang`.
pub fn build_history(
    snaps: &[Snapshot],
    tier_names: &[String],
    lang: Language,
) -> Result<HistoryTables> {
    let (tier_history, graded) = rayon::join(
        || stack_snapshots(snaps),
        || {
            snaps
                .par_iter()
                .map(|s| grades(&s.tiers))
                .collect::<Result<Vec<_>>>()
        },
    );
    let (tier_history, graded) = (tier_history?, graded?);
    let sizes = snaps
        .iter()
        .zip(&graded)
        .map(|(s, g)| tier_sizes(s.as_of, g, tier_names))
        .collect();
    let states = States::new(tier_names);
    let pairs: Vec<PairChanges> = snaps
        .par_windows(2)
        .zip(graded.par_windows(2))
        .map(|(s, g)| {
            let period = Period {
                from: s[0].as_of,
                to: s[1].as_of,
            };
            pair_changes(period, &g[0], &g[1], &states, lang)
        })
        .collect::<Result<_>>()?;
    let migration: Vec<&MigrationRow> = pairs.iter().flat_map(|p| &p.migration).collect();
    let stability: Vec<&StabilityRow> = pairs.iter().map(|p| &p.stability).collect();
    Ok(HistoryTables {
        tier_history,
        migration: migration_frame(&migration)?,
        movements: movements_frame(&pairs)?,
        stability: stability_frame(&stability)?,
        last_matrix: pairs.last().map(|p| p.matrix.clone()),
        sizes,
        sources: Vec::new(),
    })
}

/// tier_history: the snapshots' customer rows stacked, each with its as_of (and its cluster
/// from the one model, numbered from 1).
fn stack_snapshots(snaps: &[Snapshot]) -> Result<DataFrame> {
    let mut parts = Vec::new();
    for s in snaps {
        let mut keep = vec![
            c::CUSTOMER_ID,
            c::SCORE,
            c::TIER,
            c::TIER_RANK,
            c::RISK,
            c::SEGMENT,
            c::RFM_CODE,
            c::MONETARY,
        ];
        keep.retain(|k| s.tiers.schema().get(k).is_some());
        let mut df = s.tiers.select(keep)?;
        let n = df.height();
        df.insert_column(1, date_column(c::AS_OF, vec![s.as_of; n])?)?;
        if let Some(cl) = &s.clusters {
            df.with_column(Column::new(
                c::CLUSTER.into(),
                cl.iter().map(|x| *x as i32 + 1).collect::<Vec<_>>(),
            ))?;
        }
        parts.push(df);
    }
    let mut tier_history = parts.remove(0);
    for p in parts {
        tier_history.vstack_mut(&p)?;
    }
    Ok(tier_history)
}

fn tier_sizes(as_of: NaiveDate, grades: &Grades, tier_names: &[String]) -> TierSizes {
    TierSizes {
        as_of,
        counts: tier_names
            .iter()
            .map(|t| grades.iter().filter(|(_, x)| x.tier == t).count() as u64)
            .collect(),
    }
}

/// The migration, movements and stability of one pair of snapshots: the customers of the
/// later one in its order, then those who left, by ID.
fn pair_changes<'a>(
    period: Period,
    before: &'a Grades<'a>,
    after: &'a Grades<'a>,
    states: &States,
    lang: Language,
) -> Result<PairChanges<'a>> {
    let (matched, gone) = match_rows(before, after);
    let mut flows: Map<(&str, &str), Flow> = Map::default();
    let mut flow = |from, to, revenue: f64| {
        let e = flows.entry((from, to)).or_default();
        e.customers += 1;
        e.revenue += revenue;
    };
    let mut movements = Vec::new();
    let mut reasons = String::new();
    // A movement whose reason was just written at the end of `reasons`.
    let mut moved = |id: &'a str, from: &'a str, to: &'a str, direction, reason_end| {
        movements.push(Movement {
            period,
            customer_id: id,
            from_tier: from,
            to_tier: to,
            direction,
            reason_end,
        });
    };
    let mut stability = StabilityRow {
        period,
        in_both: 0,
        kept: 0,
        upgrades: 0,
        downgrades: 0,
        new: 0,
        left: 0,
    };
    for ((id, g), m) in after.iter().zip(&matched) {
        match m.map(|k| &before[k as usize].1) {
            Some(old) => {
                stability.in_both += 1;
                flow(old.tier, g.tier, g.monetary);
                if old.rank == g.rank {
                    stability.kept += 1;
                } else {
                    let direction = if g.rank < old.rank {
                        stability.upgrades += 1;
                        "up"
                    } else {
                        stability.downgrades += 1;
                        "down"
                    };
                    movement_reason(&mut reasons, old, g, lang)?;
                    moved(id, old.tier, g.tier, direction, reasons.len());
                }
            }
            None => {
                stability.new += 1;
                flow(NEW, g.tier, g.monetary);
                lang.first_graded(&mut reasons, period.to, Two(g.score))?;
                moved(id, NEW, g.tier, NEW, reasons.len());
            }
        }
    }
    for (id, old) in gone.iter().map(|k| &before[*k as usize]) {
        stability.left += 1;
        flow(old.tier, LEFT, old.monetary);
        reasons.push_str(lang.left_window());
        moved(id, old.tier, LEFT, LEFT, reasons.len());
    }
    let (migration, matrix) = migration_rows(period, &flows, states);
    Ok(PairChanges {
        migration,
        movements,
        reasons,
        stability,
        matrix,
    })
}

/// For each customer of `after`, its row in `before` (if any); and the rows of `before` whose
/// customer `after` does not have, by ID. A merge of the two in ID order: the snapshots'
/// tables are sorted by ID already (feature tables are), so no hash table of either is built.
fn match_rows(before: &Grades, after: &Grades) -> (Vec<Option<u32>>, Vec<u32>) {
    let by_id = |g: &Grades| -> Vec<u32> {
        let mut rows: Vec<u32> = (0..g.len() as u32).collect();
        if !g.windows(2).all(|w| w[0].0 <= w[1].0) {
            rows.sort_by(|&x, &y| g[x as usize].0.cmp(g[y as usize].0));
        }
        rows
    };
    let (b, a) = (by_id(before), by_id(after));
    let mut matched = vec![None; after.len()];
    let mut gone = Vec::new();
    let mut j = 0;
    for &i in &b {
        let id = before[i as usize].0;
        while j < a.len() && after[a[j] as usize].0 < id {
            j += 1;
        }
        if j < a.len() && after[a[j] as usize].0 == id {
            matched[a[j] as usize] = Some(i);
            j += 1;
        } else {
            gone.push(i);
        }
    }
    (matched, gone)
}

/// The paths customers took over a period, in state order, and the same counts as a matrix.
fn migration_rows(
    period: Period,
    flows: &Map<(&str, &str), Flow>,
    states: &States,
) -> (Vec<MigrationRow>, StateMatrix) {
    let mut rows = Vec::new();
    let mut counts = vec![vec![0u64; states.to.len()]; states.from.len()];
    for (fi, from) in states.from.iter().enumerate() {
        for (ti, to) in states.to.iter().enumerate() {
            if let Some(f) = flows.get(&(from.as_str(), to.as_str())) {
                counts[fi][ti] = f.customers;
                rows.push(MigrationRow {
                    period,
                    from_tier: from.clone(),
                    to_tier: to.clone(),
                    customers: f.customers,
                    revenue: f.revenue,
                });
            }
        }
    }
    let matrix = StateMatrix {
        from: states.from.clone(),
        to: states.to.clone(),
        counts,
    };
    (rows, matrix)
}

fn date_column(name: &str, dates: Vec<NaiveDate>) -> Result<Column> {
    Ok(Column::new(
        name.into(),
        dates.iter().map(|d| epoch_days(*d)).collect::<Vec<_>>(),
    )
    .cast(&DataType::Date)?)
}

/// A column of one value per row.
fn column<'a, R, V>(name: &str, rows: &[&'a R], value: impl Fn(&'a R) -> V) -> Column
where
    Series: NamedFrom<Vec<V>, [V]>,
{
    Column::new(
        name.into(),
        rows.iter().map(|r| value(*r)).collect::<Vec<_>>(),
    )
}

/// `from_as_of` and `to_as_of`, the period of every row.
fn period_columns<R>(rows: &[&R], period: impl Fn(&R) -> Period) -> Result<[Column; 2]> {
    Ok([
        date_column(
            c::FROM_AS_OF,
            rows.iter().map(|r| period(*r).from).collect(),
        )?,
        date_column(c::TO_AS_OF, rows.iter().map(|r| period(*r).to).collect())?,
    ])
}

fn migration_frame(rows: &[&MigrationRow]) -> Result<DataFrame> {
    let mut columns = Vec::from(period_columns(rows, |m| m.period)?);
    columns.extend([
        column(c::FROM_TIER, rows, |m| m.from_tier.as_str()),
        column(c::TO_TIER, rows, |m| m.to_tier.as_str()),
        column(c::CUSTOMERS, rows, |m| m.customers as i64),
        column(c::REVENUE, rows, |m| m.revenue),
    ]);
    Ok(DataFrame::new(rows.len(), columns)?)
}

/// The movements of every pair, in pair order, each with its reason.
fn movements_frame(pairs: &[PairChanges]) -> Result<DataFrame> {
    let rows: Vec<&Movement> = pairs.iter().flat_map(|p| &p.movements).collect();
    let mut columns = Vec::from(period_columns(&rows, |m| m.period)?);
    let reasons: Vec<&str> = pairs
        .iter()
        .flat_map(|p| {
            let starts = std::iter::once(0).chain(p.movements.iter().map(|m| m.reason_end));
            starts
                .zip(&p.movements)
                .map(|(start, m)| &p.reasons[start..m.reason_end])
        })
        .collect();
    columns.extend([
        column(c::CUSTOMER_ID, &rows, |m| m.customer_id),
        column(c::FROM_TIER, &rows, |m| m.from_tier),
        column(c::TO_TIER, &rows, |m| m.to_tier),
        column(c::DIRECTION, &rows, |m| m.direction),
        Column::new(c::REASON.into(), reasons),
    ]);
    Ok(DataFrame::new(rows.len(), columns)?)
}

fn stability_frame(rows: &[&StabilityRow]) -> Result<DataFrame> {
    let mut columns = Vec::from(period_columns(rows, |s| s.period)?);
    columns.extend([
        column(c::CUSTOMERS_IN_BOTH, rows, |s| s.in_both as i64),
        column(c::KEPT_TIER, rows, |s| s.kept as i64),
        column(c::STABILITY, rows, |s| {
            (s.in_both > 0).then(|| s.kept as f64 / s.in_both as f64)
        }),
        column(c::UPGRADES, rows, |s| s.upgrades as i64),
        column(c::DOWNGRADES, rows, |s| s.downgrades as i64),
        column(c::NEW_CUSTOMERS, rows, |s| s.new as i64),
        column(c::LEFT_CUSTOMERS, rows, |s| s.left as i64),
    ]);
    Ok(DataFrame::new(rows.len(), columns)?)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn graded<'a>(ids: &[&'a str]) -> Grades<'a> {
        let grade = Grade {
            tier: "A",
            rank: 1,
            score: 0.0,
            r: 1,
            f: 1,
            m: 1,
            risk: "low",
            risk_reasons: "",
            monetary: 0.0,
            profit: None,
        };
        ids.iter().map(|id| (*id, grade.clone())).collect()
    }

    /// Customers in both snapshots are matched by ID whatever the tables' order; those only
    /// in the earlier one come in ID order.
    #[test]
    fn rows_are_matched_by_id() {
        let (m, gone) = match_rows(
            &graded(&["c", "a", "e", "b"]),
            &graded(&["b", "d", "c", "f"]),
        );
        assert_eq!(m, [Some(3), None, Some(0), None]);
        assert_eq!(gone, [1, 2]);
        let (m, gone) = match_rows(
            &graded(&["a", "b", "c", "é"]),
            &graded(&["b", "c", "cc", "d"]),
        );
        assert_eq!(m, [Some(1), Some(2), None, None]);
        assert_eq!(gone, [0, 3]);
        let (m, gone) = match_rows(&graded(&[]), &graded(&["x"]));
        assert_eq!((m, gone), (vec![None], vec![]));
    }
}
