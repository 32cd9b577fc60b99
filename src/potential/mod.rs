//! Customer potential, the forward-looking grade: from the customer features, each
//! customer's BG/NBD summary (x, t_x, T) and mean repeat purchase value, the BG/NBD and
//! Gamma-Gamma fits, and per customer P(alive), expected purchases and spend over the
//! horizon, discounted lifetime value and growth. Pure: a features table and params in, a
//! table and the fits' account out; no IO, no clock (as_of is a parameter).
//!
//! Work scales with distinct summaries, not customers: the fit runs on distinct
//! (x, t_x, T) triples with counts as weights, and the expectations ahead (the costly
//! hypergeometric series) on distinct (x, T) pairs, since t_x only enters through P(alive).

pub mod bgnbd;
pub mod gamma_gamma;
pub mod hyp2f1;
mod optimize;
pub mod params;
pub mod validate;

use anyhow::Result;
use chrono::NaiveDate;
use polars::prelude::*;
use rayon::prelude::*;

use self::bgnbd::{BgNbdFit, BgNbdParams, Triple};
use self::gamma_gamma::{GammaGammaFit, GammaGammaParams, Spender};
pub use self::params::{PotentialParams, RawPotential, TimeUnit};
use crate::columns as c;
use crate::stats::Floats;

/// What the potential step produces.
pub struct Potential {
    /// potential.parquet: one row per customer, in the features table's order.
    pub table: DataFrame,
    pub report: PotentialReport,
}

/// The account of the fits, for run.json and the report.
#[derive(Debug, Clone, serde::Serialize)]
pub struct PotentialReport {
    pub time_unit: TimeUnit,
    pub horizon: u32,
    pub discount_rate: f64,
    pub penalizer: f64,
    pub customers: u64,
    pub repeat_buyers: u64,
    /// Distinct (x, t_x, T) summaries the purchase model was fitted on.
    pub distinct_summaries: u64,
    /// `None` when the model was skipped (see `notes`).
    pub bgnbd: Option<ModelFit<BgNbdParams>>,
    pub gamma_gamma: Option<ModelFit<GammaGammaParams>>,
    /// Customers the spend model was fitted on (repeat buyers with a positive mean).
    pub spend_customers: u64,
    /// Cases a person should know about: a model skipped and why, values left empty.
    pub notes: Vec<String>,
}

/// One model's fit as run.json records it.
#[derive(Debug, Clone, serde::Serialize)]
pub struct ModelFit<P> {
    #[serde(flatten)]
    pub params: P,
    pub log_likelihood: f64,
    pub iterations: u64,
    pub converged: bool,
    pub gradient_norm: f64,
}

impl<P> ModelFit<P> {
    fn new(params: P, log_likelihood: f64, o: &optimize::Optimum) -> ModelFit<P> {
        ModelFit {
            params,
            log_likelihood,
            iterations: o.iterations,
            converged: o.converged,
            gradient_norm: o.gradient_norm,
        }
    }
}

/// Each customer's summary, in days, read off the features table.
struct Summaries {
    x: Vec<u32>,
    t_x_days: Vec<u32>,
    t_days: Vec<u32>,
    zbar: Floats,
    last_period: Floats,
    prev_period: Floats,
}

impl Summaries {
    /// x = purchase days - 1, t_x = last - first purchase day, T = as_of - 1 day - first
    /// purchase day (the last day of the window).
    fn read(customers: &DataFrame, as_of: NaiveDate) -> Result<Summaries> {
        let days = |name: &str| -> Result<Vec<i32>> {
            let s = customers.column(name)?.cast(&DataType::Int32)?;
            Ok(s.i32()?.iter().map(|v| v.unwrap_or(0)).collect())
        };
        // Days since 1970-01-01, as the features' dates count them.
        let epoch = NaiveDate::from_ymd_opt(1970, 1, 1).expect("valid date");
        let end = (as_of - epoch).num_days() as i32 - 1;
        let first = days(c::FIRST_PURCHASE)?;
        let last = days(c::LAST_PURCHASE)?;
        let purchase_days = days(c::PURCHASE_DAYS)?;
        let last_period = Floats::of(customers, c::MONETARY_LAST_PERIOD)?;
        let prev_period = Floats::of(customers, c::MONETARY_PREV_PERIOD)?;
        Ok(Summaries {
            x: purchase_days
                .iter()
                .map(|d| (*d - 1).max(0) as u32)
                .collect(),
            t_x_days: first
                .iter()
                .zip(&last)
                .map(|(f, l)| (l - f).max(0) as u32)
                .collect(),
            t_days: first.iter().map(|f| (end - f).max(0) as u32).collect(),
            zbar: Floats::of(customers, c::MEAN_REPEAT_VALUE)?,
            last_period,
            prev_period,
        })
    }

    fn len(&self) -> usize {
        self.x.len()
    }

    /// The distinct (x, t_x, T) in days, ascending, with how many customers share each.
    fn distinct(&self) -> Vec<((u32, u32, u32), u64)> {
        // Sorted as one integer each when the days fit in 21 bits (5,700 years), else as
        // triples: the same order either way.
        let fits = |v: &[u32]| v.iter().all(|d| *d < 1 << 21);
        let keys: Vec<(u32, u32, u32)> = if fits(&self.t_x_days) && fits(&self.t_days) {
            let mut packed: Vec<u64> = (0..self.len())
                .map(|i| {
                    (self.x[i] as u64) << 42
                        | (self.t_x_days[i] as u64) << 21
                        | self.t_days[i] as u64
                })
                .collect();
            packed.par_sort_unstable();
            let mask = (1u64 << 21) - 1;
            packed
                .into_iter()
                .map(|k| {
                    (
                        (k >> 42) as u32,
                        ((k >> 21) & mask) as u32,
                        (k & mask) as u32,
                    )
                })
                .collect()
        } else {
            let mut keys: Vec<(u32, u32, u32)> = (0..self.len())
                .map(|i| (self.x[i], self.t_x_days[i], self.t_days[i]))
                .collect();
            keys.par_sort_unstable();
            keys
        };
        let mut out: Vec<((u32, u32, u32), u64)> = Vec::new();
        for k in keys {
            match out.last_mut() {
                Some((last, n)) if *last == k => *n += 1,
                _ => out.push((k, 1)),
            }
        }
        out
    }
}

/// Spend in the last period against the period before, as a rate; none without spend in
/// the period before (a rate from nothing is not a rate).
fn growth(last: Option<f64>, prev: Option<f64>) -> Option<f64> {
    match (last, prev) {
        (Some(l), Some(p)) if p > 0.0 => Some(l / p - 1.0),
        _ => None,
    }
}

/// Per customer, the model values, each a column built in place (a vector of options would
/// take twice the memory); missing where a model was skipped or a value failed.
struct Predictions {
    p_alive: Float64Chunked,
    expected_purchases: Float64Chunked,
    expected_spend: Float64Chunked,
    clv: Float64Chunked,
}

impl Predictions {
    /// Only the spend model's values (the purchase model was skipped).
    fn spend_only(n: usize, spend: Float64Chunked) -> Predictions {
        let empty = || Float64Chunked::full_null("".into(), n);
        Predictions {
            p_alive: empty(),
            expected_purchases: empty(),
            expected_spend: spend,
            clv: empty(),
        }
    }
}

/// Fits the models on the customers of `customers` (the features table at `as_of`) and
/// predicts for each of them.
pub fn assess(customers: &DataFrame, as_of: NaiveDate, p: &PotentialParams) -> Result<Potential> {
    let s = Summaries::read(customers, as_of)?;
    let n = s.len();
    let unit = p.time_unit.days();
    let distinct = s.distinct();
    let triples: Vec<Triple> = distinct
        .iter()
        .map(|&((x, tx, t), w)| Triple {
            x,
            t_x: tx as f64 / unit,
            t: t as f64 / unit,
            weight: w as f64,
        })
        .collect();
    let repeat_buyers = s.x.iter().filter(|x| **x > 0).count() as u64;
    let mut notes = Vec::new();
    let bgnbd = fit_purchases(&triples, n, repeat_buyers, p, &mut notes);
    let spenders: Vec<Spender> = (0..n)
        .filter_map(|i| {
            let zbar = s.zbar.get(i)?;
            (s.x[i] > 0 && zbar > 0.0 && zbar.is_finite()).then_some(Spender { x: s.x[i], zbar })
        })
        .collect();
    let gamma_gamma = fit_spend(&spenders, p, &mut notes);
    let spend = match &gamma_gamma {
        Some(g) => Float64Chunked::from_iter_options(
            "".into(),
            (0..n).map(|i| gamma_gamma::expected_spend(&g.params, s.x[i], s.zbar.get(i))),
        ),
        None => Float64Chunked::full_null("".into(), n),
    };
    let pred = match &bgnbd {
        Some(fit) => predict(&s, &fit.params, spend, p, &mut notes),
        None => Predictions::spend_only(n, spend),
    };
    let table = table(customers, &s, pred, unit)?;
    Ok(Potential {
        table,
        report: PotentialReport {
            time_unit: p.time_unit,
            horizon: p.horizon,
            discount_rate: p.discount_rate,
            penalizer: p.penalizer,
            customers: n as u64,
            repeat_buyers,
            distinct_summaries: triples.len() as u64,
            bgnbd: bgnbd.map(|f| ModelFit::new(f.params, f.log_likelihood, &f.optimum)),
            spend_customers: spenders.len() as u64,
            gamma_gamma: gamma_gamma.map(|f| ModelFit::new(f.params, f.log_likelihood, &f.optimum)),
            notes,
        },
    })
}

/// The BG/NBD fit, or `None` with a note saying why the model is skipped.
fn fit_purchases(
    triples: &[Triple],
    customers: usize,
    repeat_buyers: u64,
    p: &PotentialParams,
    notes: &mut Vec<String>,
) -> Option<BgNbdFit> {
    let skipped = "p_alive, expected_purchases and clv are left empty";
    if customers < 2 {
        notes.push(format!("potential: the purchase model (BG/NBD) needs at least two customers, this run has {customers}; {skipped}"));
        return None;
    }
    if repeat_buyers == 0 {
        notes.push(format!("potential: no customer bought on two different days before as_of, so the purchase model (BG/NBD) has nothing to learn repeat rates from; {skipped}"));
        return None;
    }
    let fit = bgnbd::fit(triples, p.penalizer);
    let q = &fit.params;
    if !fit.optimum.converged || !fit.log_likelihood.is_finite() {
        notes.push(format!(
            "potential: the purchase model (BG/NBD) did not converge ({}, {} iterations, gradient norm {:.2e}, at r = {:.4}, alpha = {:.4}, a = {:.4}, b = {:.4}); {skipped}. A small [potential] penalizer such as 0.001 often helps.",
            fit.optimum.stop, fit.optimum.iterations, fit.optimum.gradient_norm, q.r, q.alpha, q.a, q.b
        ));
        return None;
    }
    if [q.r, q.alpha, q.a, q.b]
        .iter()
        .any(|v| !(EDGE..=1.0 / EDGE).contains(v))
    {
        // A maximum at the edge is the limit of the model (a near 0: nobody drops out; r and
        // alpha large together: every customer buys at the same rate); its values stand.
        notes.push(format!(
            "potential: the purchase model (BG/NBD) has parameters at the edge of their range (r = {:.3e}, alpha = {:.3e}, a = {:.3e}, b = {:.3e}): its values are those of the limit model (a near 0: practically nobody drops out, P(alive) near 1; r and alpha very large: every customer buys at the same rate). A small [potential] penalizer such as 0.001 keeps the parameters in range.",
            q.r, q.alpha, q.a, q.b
        ));
    }
    Some(fit)
}

/// A fitted parameter below this, or above its inverse, is at the edge of the parameter
/// space: the maximum of the likelihood is the limit of the model, which a note says.
const EDGE: f64 = 1e-6;

/// The Gamma-Gamma fit, or `None` with a note saying why the model is skipped.
fn fit_spend(
    spenders: &[Spender],
    p: &PotentialParams,
    notes: &mut Vec<String>,
) -> Option<GammaGammaFit> {
    let skipped = "expected_spend and clv are left empty";
    if spenders.len() < 2 {
        notes.push(format!("potential: the spend model (Gamma-Gamma) needs at least two customers with repeat purchases of positive value, this run has {}; {skipped}", spenders.len()));
        return None;
    }
    let fit = gamma_gamma::fit(spenders, p.penalizer);
    let g = &fit.params;
    if !fit.optimum.converged || !fit.log_likelihood.is_finite() {
        notes.push(format!(
            "potential: the spend model (Gamma-Gamma) did not converge ({}, {} iterations, gradient norm {:.2e}, at p = {:.4}, q = {:.4}, v = {:.4}); {skipped}. A small [potential] penalizer such as 0.001 often helps.",
            fit.optimum.stop, fit.optimum.iterations, fit.optimum.gradient_norm, g.p, g.q, g.v
        ));
        return None;
    }
    if g.q <= 1.0 {
        notes.push(format!("potential: the spend model's q = {:.4} is not above 1, so the mean purchase value is unbounded; {skipped}", g.q));
        return None;
    }
    Some(fit)
}

/// What the expectations ahead give for one (x, T): purchases over the horizon and their
/// discounted sum per period, were the customer alive at T.
#[derive(Clone, Copy)]
struct Ahead {
    purchases: f64,
    discounted: f64,
}

/// The expectations of every distinct (x, T) (in days), in parallel, and per customer the
/// place of its (x, T) among them; `None` where the series did not converge.
fn ahead(s: &Summaries, q: &BgNbdParams, p: &PotentialParams) -> (Vec<Option<Ahead>>, Vec<u32>) {
    let mut pairs: Vec<(u32, u32)> = s.x.iter().copied().zip(s.t_days.iter().copied()).collect();
    pairs.par_sort_unstable();
    pairs.dedup();
    let unit = p.time_unit.days();
    let horizons: Vec<f64> = (1..=p.horizon).map(f64::from).collect();
    let d = p.unit_discount();
    let values = pairs
        .par_iter()
        .map(|&(x, t)| {
            bgnbd::alive_expected_purchases(q, x, t as f64 / unit, &horizons)
                .ok()
                .and_then(|e| {
                    let mut discounted = 0.0;
                    let (mut before, mut factor) = (0.0, 1.0);
                    for e in &e {
                        factor *= d;
                        discounted += (e - before) * factor;
                        before = *e;
                    }
                    let purchases = *e.last()?;
                    (purchases.is_finite() && discounted.is_finite()).then_some(Ahead {
                        purchases,
                        discounted,
                    })
                })
        })
        .collect();
    let places = (0..s.len())
        .into_par_iter()
        .map(|i| {
            pairs
                .binary_search(&(s.x[i], s.t_days[i]))
                .map_or(u32::MAX, |k| k as u32)
        })
        .collect();
    (values, places)
}

/// The purchase model's values per customer, and lifetime value with `spend`, each
/// customer's expected purchase value.
fn predict(
    s: &Summaries,
    q: &BgNbdParams,
    spend: Float64Chunked,
    p: &PotentialParams,
    notes: &mut Vec<String>,
) -> Predictions {
    let unit = p.time_unit.days();
    let (ahead, places) = ahead(s, q, p);
    let n = s.len();
    let at = |i: usize| ahead.get(places[i] as usize).copied().flatten();
    let p_alive: Vec<f64> = (0..n)
        .into_par_iter()
        .map(|i| {
            let (tx, t) = (s.t_x_days[i] as f64 / unit, s.t_days[i] as f64 / unit);
            bgnbd::p_alive(q, s.x[i], tx, t)
        })
        .collect();
    // E[X(h) | x, t_x, T] = the alive expectation times P(alive).
    let expected_purchases = Float64Chunked::from_iter_options(
        "".into(),
        (0..n).map(|i| at(i).map(|a| a.purchases * p_alive[i])),
    );
    let clv = Float64Chunked::from_iter_options(
        "".into(),
        (0..n).map(|i| {
            at(i)
                .zip(spend.get(i))
                .map(|(a, m)| a.discounted * p_alive[i] * m)
        }),
    );
    let failed = expected_purchases.null_count();
    if failed > 0 {
        notes.push(format!("potential: the expected purchases of {failed} customer(s) could not be evaluated (the hypergeometric series did not converge within its limit); their expected_purchases and clv are left empty"));
    }
    Predictions {
        p_alive: Float64Chunked::from_vec("".into(), p_alive),
        expected_purchases,
        expected_spend: spend,
        clv,
    }
}

/// potential.parquet's table.
fn table(customers: &DataFrame, s: &Summaries, pred: Predictions, unit: f64) -> Result<DataFrame> {
    let n = s.len();
    let named = |ca: Float64Chunked, name: &str| ca.with_name(name.into()).into_column();
    let days = |v: &[u32], name: &str| {
        Float64Chunked::from_vec(name.into(), v.iter().map(|d| *d as f64 / unit).collect())
            .into_column()
    };
    let growth = Float64Chunked::from_iter_options(
        c::GROWTH.into(),
        (0..n).map(|i| growth(s.last_period.get(i), s.prev_period.get(i))),
    );
    let columns = vec![
        customers.column(c::CUSTOMER_ID)?.clone(),
        Int64Chunked::from_vec(c::POT_X.into(), s.x.iter().map(|x| i64::from(*x)).collect())
            .into_column(),
        days(&s.t_x_days, c::POT_T_X),
        days(&s.t_days, c::POT_T),
        Float64Chunked::from_iter_options(c::POT_ZBAR.into(), s.zbar.iter()).into_column(),
        named(pred.p_alive, c::P_ALIVE),
        named(pred.expected_purchases, c::EXPECTED_PURCHASES),
        named(pred.expected_spend, c::EXPECTED_SPEND),
        named(pred.clv, c::CLV),
        growth.into_column(),
    ];
    Ok(DataFrame::new(n, columns)?)
}

/// The potential step's outputs once the customers are graded: the per-customer table, the
/// fits, and the potential per tier.
pub struct PotentialResults {
    pub report: PotentialReport,
    /// potential_fits.parquet: (model, parameter, value).
    pub fits: DataFrame,
    /// potential_by_tier.parquet.
    pub by_tier: DataFrame,
}

impl PotentialResults {
    /// The fits' account, and the potential per tier from `graded` (the table grading
    /// read, with the potential columns).
    pub fn new(
        report: PotentialReport,
        graded: &DataFrame,
        grading: &crate::tiers::rules::Grading,
        tier_names: &[String],
    ) -> Result<PotentialResults> {
        let fits = fits_table(&report)?;
        let by_tier = by_tier(graded, grading.rows.tiers(), tier_names)?;
        Ok(PotentialResults {
            report,
            fits,
            by_tier,
        })
    }
}

/// One row per fitted value: each model's parameters, log-likelihood, iterations and whether
/// it converged (1 or 0).
fn fits_table(r: &PotentialReport) -> Result<DataFrame> {
    let mut rows: Vec<(&str, &str, f64)> = Vec::new();
    let common = |model: &'static str, ll: f64, it: u64, conv: bool| {
        vec![
            (model, "log_likelihood", ll),
            (model, "iterations", it as f64),
            (model, "converged", if conv { 1.0 } else { 0.0 }),
        ]
    };
    if let Some(b) = &r.bgnbd {
        let q = &b.params;
        rows.extend([
            ("bgnbd", "r", q.r),
            ("bgnbd", "alpha", q.alpha),
            ("bgnbd", "a", q.a),
            ("bgnbd", "b", q.b),
        ]);
        rows.extend(common("bgnbd", b.log_likelihood, b.iterations, b.converged));
    }
    if let Some(g) = &r.gamma_gamma {
        let q = &g.params;
        rows.extend([
            ("gamma_gamma", "p", q.p),
            ("gamma_gamma", "q", q.q),
            ("gamma_gamma", "v", q.v),
        ]);
        rows.extend(common(
            "gamma_gamma",
            g.log_likelihood,
            g.iterations,
            g.converged,
        ));
    }
    Ok(DataFrame::new_infer_height(vec![
        Column::new(
            c::MODEL.into(),
            rows.iter().map(|r| r.0).collect::<Vec<_>>(),
        ),
        Column::new(
            c::PARAMETER.into(),
            rows.iter().map(|r| r.1).collect::<Vec<_>>(),
        ),
        Column::new(
            c::VALUE.into(),
            rows.iter().map(|r| r.2).collect::<Vec<_>>(),
        ),
    ])?)
}

/// Per tier: customers, mean P(alive), mean expected purchases, total and mean lifetime
/// value and the tier's share of it (missing values left out of the means and sums).
fn by_tier(table: &DataFrame, tiers: &[u16], names: &[String]) -> Result<DataFrame> {
    let k = names.len();
    let alive = Floats::of(table, c::P_ALIVE)?;
    let purchases = Floats::of(table, c::EXPECTED_PURCHASES)?;
    let clv = Floats::of(table, c::CLV)?;
    // Per tier: customers, and (sum, count) of each value.
    let mut n = vec![0i64; k];
    let mut sums = vec![[(0.0f64, 0u64); 3]; k];
    for (i, t) in tiers.iter().enumerate() {
        let t = *t as usize;
        n[t] += 1;
        for (j, v) in [alive.get(i), purchases.get(i), clv.get(i)]
            .into_iter()
            .enumerate()
        {
            if let Some(v) = v {
                sums[t][j].0 += v;
                sums[t][j].1 += 1;
            }
        }
    }
    let mean = |j: usize| -> Vec<Option<f64>> {
        sums.iter()
            .map(|s| (s[j].1 > 0).then(|| s[j].0 / s[j].1 as f64))
            .collect()
    };
    let total_clv: f64 = sums.iter().map(|s| s[2].0).sum();
    let clv_sum: Vec<Option<f64>> = sums
        .iter()
        .map(|s| (s[2].1 > 0).then_some(s[2].0))
        .collect();
    let share: Vec<Option<f64>> = clv_sum
        .iter()
        .map(|v| v.filter(|_| total_clv > 0.0).map(|v| v / total_clv))
        .collect();
    Ok(DataFrame::new_infer_height(vec![
        Column::new(c::TIER.into(), names.to_vec()),
        Column::new(c::CUSTOMERS.into(), n),
        Column::new(c::MEAN_P_ALIVE.into(), mean(0)),
        Column::new(c::MEAN_EXPECTED_PURCHASES.into(), mean(1)),
        Column::new(c::MEAN_CLV.into(), mean(2)),
        Column::new(c::TOTAL_CLV.into(), clv_sum),
        Column::new(c::CLV_SHARE.into(), share),
    ])?)
}

/// The columns of potential.parquet that grading reads (score components, the
/// value-by-potential tiers), for joining onto the features table.
pub use crate::columns::POTENTIAL_GRADED as GRADED_COLUMNS;

/// The features table with the potential columns that grading reads added.
pub fn with_potential(customers: &DataFrame, potential: &DataFrame) -> Result<DataFrame> {
    let mut out = customers.clone();
    for name in GRADED_COLUMNS {
        out.with_column(potential.column(name)?.clone())?;
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The CDNOW summary (tests/fixtures/cdnow): (x, t_x, T, zbar) per customer.
    fn cdnow_summary() -> Vec<(u32, f64, f64, f64)> {
        let path = concat!(
            env!("CARGO_MANIFEST_DIR"),
            "/tests/fixtures/cdnow/cdnow_sample_summary.csv"
        );
        let text = std::fs::read_to_string(path).unwrap();
        text.lines()
            .skip(1)
            .map(|l| {
                let f: Vec<f64> = l.split(',').map(|v| v.parse().unwrap()).collect();
                (f[1] as u32, f[2], f[3], f[4])
            })
            .collect()
    }

    fn close(got: f64, want: f64, tol: f64) -> bool {
        (got - want).abs() <= tol
    }

    #[test]
    fn bgnbd_reproduces_the_published_cdnow_fit() {
        let s = cdnow_summary();
        assert_eq!(s.len(), 2357);
        // Distinct triples with counts, as a run fits them.
        let mut keys: Vec<(u32, u64, u64)> = s
            .iter()
            .map(|(x, tx, t, _)| (*x, tx.to_bits(), t.to_bits()))
            .collect();
        keys.sort_unstable();
        let mut triples: Vec<Triple> = Vec::new();
        for (x, tx, t) in keys {
            let (tx, t) = (f64::from_bits(tx), f64::from_bits(t));
            match triples.last_mut() {
                Some(l) if l.x == x && l.t_x == tx && l.t == t => l.weight += 1.0,
                _ => triples.push(Triple {
                    x,
                    t_x: tx,
                    t,
                    weight: 1.0,
                }),
            }
        }
        assert!(triples.len() < s.len());
        let fit = bgnbd::fit(&triples, 0.0);
        let p = fit.params;
        assert!(fit.optimum.converged, "{fit:?}");
        for (got, want) in [
            (p.r, 0.2426),
            (p.alpha, 4.4136),
            (p.a, 0.7929),
            (p.b, 2.4259),
        ] {
            assert!(close(got, want, 0.001), "{p:?}");
        }
        assert!(
            close(fit.log_likelihood, -9582.43, 0.01),
            "{}",
            fit.log_likelihood
        );
        // One row per customer gives the same likelihood as the weighted distinct triples.
        let single: Vec<Triple> = s
            .iter()
            .map(|(x, tx, t, _)| Triple {
                x: *x,
                t_x: *tx,
                t: *t,
                weight: 1.0,
            })
            .collect();
        let ll = bgnbd::log_likelihood(&single, &p).unwrap();
        assert!(close(ll, fit.log_likelihood, 1e-6), "{ll}");
    }

    #[test]
    fn gamma_gamma_reproduces_the_published_cdnow_fit() {
        let spenders: Vec<Spender> = cdnow_summary()
            .into_iter()
            .filter(|(x, ..)| *x > 0)
            .map(|(x, _, _, zbar)| Spender { x, zbar })
            .collect();
        assert_eq!(spenders.len(), 946);
        let fit = gamma_gamma::fit(&spenders, 0.0);
        let g = fit.params;
        assert!(fit.optimum.converged, "{fit:?}");
        for (got, want) in [(g.p, 6.25), (g.q, 3.74), (g.v, 15.44)] {
            assert!(close(got, want, 0.01), "{g:?}");
        }
        assert!(
            close(fit.log_likelihood, -4055.92, 0.01),
            "{}",
            fit.log_likelihood
        );
    }
}
