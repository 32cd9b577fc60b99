//! The BG/NBD purchase model (Fader, Hardie & Lee 2005, "Counting your customers the easy
//! way"): its likelihood over distinct (x, t_x, T) triples, the maximum-likelihood fit, and
//! per customer the probability of being alive and the expected purchases ahead. Pure
//! numbers: no frames, no IO.

use rayon::prelude::*;
use statrs::function::gamma::{digamma, ln_gamma};

use super::hyp2f1::{hyp2f1_many, Hyp2f1Error};
use super::optimize::{minimise, penalised, positive, total, warm_start, Objective, Optimum};

/// One distinct summary: `x` repeat purchase days, `t_x` the time from the first to the
/// last purchase, `T` from the first purchase to the end of the period (both in the time
/// unit), and how many customers share it.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Triple {
    pub x: u32,
    pub t_x: f64,
    pub t: f64,
    pub weight: f64,
}

/// The four parameters: purchase rates Gamma(r, alpha), dropout probabilities Beta(a, b).
#[derive(Debug, Clone, Copy, PartialEq, serde::Serialize)]
pub struct BgNbdParams {
    pub r: f64,
    pub alpha: f64,
    pub a: f64,
    pub b: f64,
}

/// A fit: the parameters, the log-likelihood (summed over customers, without the penalty)
/// and how the optimiser ended.
#[derive(Debug, Clone, PartialEq)]
pub struct BgNbdFit {
    pub params: BgNbdParams,
    pub log_likelihood: f64,
    pub optimum: Optimum,
}

/// The terms that depend on x alone, for one parameter set.
struct PerX {
    /// ln G(r+x) - ln G(r), and its derivative in r.
    lg_r: f64,
    dg_r: f64,
    /// ln B(a, b+x) - ln B(a, b), and its derivatives in a and b.
    beta: f64,
    d_beta_a: f64,
    d_beta_b: f64,
    /// ln(b + x - 1) and 1 / (b + x - 1), for x > 0.
    ln_bx: f64,
    inv_bx: f64,
}

/// The mean negative log-likelihood over weighted triples, plus `penalizer` times the sum of
/// the squared parameters (as in the Python lifetimes package).
struct Likelihood<'a> {
    triples: &'a [Triple],
    /// The distinct values of t_x and T, ascending, and per triple the places of its t_x
    /// and T among them: the logarithms and reciprocals of alpha + t are computed once per
    /// value rather than once per triple (summaries from daily data share a few hundred).
    times: Vec<f64>,
    places: Vec<(u32, u32)>,
    max_x: u32,
    total_weight: f64,
    penalizer: f64,
}

/// Triples per parallel task: fixed, so sums add up in the same order on any machine.
const CHUNK: usize = 4096;

impl Likelihood<'_> {
    fn per_x(&self, p: &BgNbdParams) -> Vec<PerX> {
        let (lr, dr) = (ln_gamma(p.r), digamma(p.r));
        let (lab, dab) = (ln_gamma(p.a + p.b), digamma(p.a + p.b));
        let (lb, db) = (ln_gamma(p.b), digamma(p.b));
        (0..=self.max_x)
            .map(|x| {
                let x = x as f64;
                let (labx, dabx) = (ln_gamma(p.a + p.b + x), digamma(p.a + p.b + x));
                PerX {
                    lg_r: ln_gamma(p.r + x) - lr,
                    dg_r: digamma(p.r + x) - dr,
                    beta: lab + ln_gamma(p.b + x) - lb - labx,
                    d_beta_a: dab - dabx,
                    d_beta_b: dab + digamma(p.b + x) - db - dabx,
                    ln_bx: (p.b + x - 1.0).ln(),
                    inv_bx: 1.0 / (p.b + x - 1.0),
                }
            })
            .collect()
    }

    /// Summed log-likelihood and its gradient in (r, alpha, a, b).
    fn sum(&self, p: &BgNbdParams) -> Option<(f64, [f64; 4])> {
        let per_x = self.per_x(p);
        let (ln_alpha, ln_a) = (p.alpha.ln(), p.a.ln());
        // ln(alpha + t) and 1 / (alpha + t) of every distinct time.
        let ln_at: Vec<f64> = self.times.iter().map(|t| (p.alpha + t).ln()).collect();
        let inv_at: Vec<f64> = self.times.iter().map(|t| 1.0 / (p.alpha + t)).collect();
        let partial: Vec<(f64, [f64; 4])> = self
            .triples
            .par_chunks(CHUNK)
            .zip(self.places.par_chunks(CHUNK))
            .map(|(chunk, places)| {
                let mut ll = 0.0;
                let mut g = [0.0; 4];
                for (t, &(ptx, pt)) in chunk.iter().zip(places) {
                    let px = &per_x[t.x as usize];
                    let x = t.x as f64;
                    let rx = p.r + x;
                    let (l_t, i_t) = (ln_at[pt as usize], inv_at[pt as usize]);
                    let a3 = -rx * l_t;
                    let w = t.weight;
                    let common = px.lg_r + p.r * ln_alpha + px.beta;
                    g[2] += w * px.d_beta_a;
                    if t.x == 0 {
                        // Alive for sure: only the "still alive" branch.
                        ll += w * (common + a3);
                        g[0] += w * (px.dg_r + ln_alpha - l_t);
                        g[1] += w * (p.r / p.alpha - rx * i_t);
                        g[3] += w * px.d_beta_b;
                        continue;
                    }
                    let (l_tx, i_tx) = (ln_at[ptx as usize], inv_at[ptx as usize]);
                    let a4 = ln_a - px.ln_bx - rx * l_tx;
                    // ln(e^a3 + e^a4) and the weight s4 of the "dropped out after the last
                    // purchase" branch, from one exponential.
                    let d = a3 - a4;
                    let e = (-d.abs()).exp();
                    let mix = a3.max(a4) + e.ln_1p();
                    let s4 = if d > 0.0 {
                        e / (1.0 + e)
                    } else {
                        1.0 / (1.0 + e)
                    };
                    let s3 = 1.0 - s4;
                    ll += w * (common + mix);
                    g[0] += w * (px.dg_r + ln_alpha - s3 * l_t - s4 * l_tx);
                    g[1] += w * (p.r / p.alpha - rx * (s3 * i_t + s4 * i_tx));
                    g[2] += w * s4 / p.a;
                    g[3] += w * (px.d_beta_b - s4 * px.inv_bx);
                }
                (ll, g)
            })
            .collect();
        total(partial)
    }
}

fn params_of(log: &[f64]) -> BgNbdParams {
    BgNbdParams {
        r: log[0].exp(),
        alpha: log[1].exp(),
        a: log[2].exp(),
        b: log[3].exp(),
    }
}

impl Objective for Likelihood<'_> {
    fn value_and_gradient(&self, log: &[f64]) -> Option<(f64, Vec<f64>)> {
        let p = params_of(log);
        let values = [p.r, p.alpha, p.a, p.b];
        if !positive(&values) {
            return None;
        }
        let sum = self.sum(&p)?;
        Some(penalised(values, sum, self.total_weight, self.penalizer))
    }
}

/// The summed log-likelihood of `triples` at `params` (the figure papers and packages quote).
pub fn log_likelihood(triples: &[Triple], params: &BgNbdParams) -> Option<f64> {
    likelihood(triples, 0.0).sum(params).map(|(ll, _)| ll)
}

fn likelihood(triples: &[Triple], penalizer: f64) -> Likelihood<'_> {
    let mut times: Vec<f64> = triples.iter().flat_map(|t| [t.t_x, t.t]).collect();
    times.sort_unstable_by(f64::total_cmp);
    times.dedup();
    let place = |v: f64| times.partition_point(|t| *t < v) as u32;
    let places = triples.iter().map(|t| (place(t.t_x), place(t.t))).collect();
    Likelihood {
        triples,
        times,
        places,
        max_x: triples.iter().map(|t| t.x).max().unwrap_or(0),
        total_weight: triples.iter().map(|t| t.weight).sum(),
        penalizer,
    }
}

/// Fits the model by maximum likelihood, starting from r = a = b = 1 and alpha = the mean
/// T (the scale of the time unit), through a fit on an even sample when there are many
/// distinct summaries (`iterations` counts the final fit's).
pub fn fit(triples: &[Triple], penalizer: f64) -> BgNbdFit {
    let objective = likelihood(triples, penalizer);
    let mean_t = triples.iter().map(|t| t.weight * t.t).sum::<f64>() / objective.total_weight;
    let start = vec![0.0, mean_t.max(1e-3).ln(), 0.0, 0.0];
    let start = warm_start(triples, start, |s, start| {
        minimise(&likelihood(s, penalizer), start)
    });
    let optimum = minimise(&objective, start);
    let params = params_of(&optimum.params);
    BgNbdFit {
        log_likelihood: log_likelihood(triples, &params).unwrap_or(f64::NAN),
        params,
        optimum,
    }
}

/// The odds of "dropped out at the last purchase" against "still alive": 0 without repeat
/// purchases. P(alive) = 1 / (1 + odds).
fn dropout_odds(p: &BgNbdParams, x: u32, t_x: f64, t: f64) -> f64 {
    if x == 0 {
        return 0.0;
    }
    let x = x as f64;
    (p.a / (p.b + x - 1.0)) * ((p.alpha + t) / (p.alpha + t_x)).powf(p.r + x)
}

/// P(alive) of a customer with summary (x, t_x, T).
pub fn p_alive(p: &BgNbdParams, x: u32, t_x: f64, t: f64) -> f64 {
    1.0 / (1.0 + dropout_odds(p, x, t_x, t))
}

/// The part of the conditional expectation that does not depend on t_x: the expected
/// purchases in each of `horizons` (time units after T) of a customer with `x` repeat
/// purchases and age `t`, were it certainly alive at T. Dividing by 1 + odds gives
/// E[X(h) | x, t_x, T] (Fader, Hardie & Lee 2005, eq. 10).
pub fn alive_expected_purchases(
    p: &BgNbdParams,
    x: u32,
    t: f64,
    horizons: &[f64],
) -> Result<Vec<f64>, Hyp2f1Error> {
    let xf = x as f64;
    let (hr, hb, hc) = (p.r + xf, p.b + xf, p.a + p.b + xf - 1.0);
    let zs: Vec<f64> = horizons.iter().map(|h| h / (p.alpha + t + h)).collect();
    let f = hyp2f1_many(hr, hb, hc, &zs)?;
    Ok(zs
        .iter()
        .zip(f)
        .map(|(z, f)| hc / (p.a - 1.0) * (1.0 - (1.0 - z).powf(hr) * f))
        .collect())
}

/// E[X(h) | x, t_x, T]: the purchases expected in the `h` time units after T.
pub fn expected_purchases(
    p: &BgNbdParams,
    h: f64,
    x: u32,
    t_x: f64,
    t: f64,
) -> Result<f64, Hyp2f1Error> {
    Ok(alive_expected_purchases(p, x, t, &[h])?[0] / (1.0 + dropout_odds(p, x, t_x, t)))
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Fader, Hardie & Lee's CDNOW estimates.
    pub const CDNOW: BgNbdParams = BgNbdParams {
        r: 0.2426,
        alpha: 4.4136,
        a: 0.7929,
        b: 2.4259,
    };

    #[test]
    fn published_conditional_expectation_and_p_alive() {
        // The lifetimes package's test: x = 2, t_x = 30.43, T = 38.86 weeks, 39 weeks ahead.
        let e = expected_purchases(&CDNOW, 39.0, 2, 30.43, 38.86).unwrap();
        assert!((e - 1.226).abs() < 0.001, "{e}");
        // A customer without repeat purchases is alive for sure (the model's premise).
        assert_eq!(p_alive(&CDNOW, 0, 0.0, 38.86), 1.0);
        // By hand: 1 / (1 + a/(b+1) ((alpha+T)/(alpha+t_x))^(r+2)).
        let odds = 0.7929 / 3.4259 * ((4.4136f64 + 38.86) / (4.4136 + 30.43)).powf(2.2426);
        let want = 1.0 / (1.0 + odds);
        assert!((p_alive(&CDNOW, 2, 30.43, 38.86) - want).abs() < 1e-15);
    }

    #[test]
    fn expectation_grows_with_the_horizon_and_starts_at_zero() {
        let v = alive_expected_purchases(&CDNOW, 3, 20.0, &[0.0, 1.0, 10.0, 52.0, 520.0]).unwrap();
        assert!(v[0].abs() < 1e-12, "{v:?}");
        assert!(v.windows(2).all(|w| w[0] < w[1]), "{v:?}");
    }

    #[test]
    fn a_warm_start_reaches_the_optimum_of_a_cold_one() {
        // The CDNOW summaries, each 30 times with its times stretched a little: 70,710
        // distinct summaries, past the warm-start size.
        let path = concat!(
            env!("CARGO_MANIFEST_DIR"),
            "/tests/fixtures/cdnow/cdnow_sample_summary.csv"
        );
        let text = std::fs::read_to_string(path).unwrap();
        let mut triples = Vec::new();
        for line in text.lines().skip(1) {
            let f: Vec<f64> = line.split(',').map(|v| v.parse().unwrap()).collect();
            for k in 0..30 {
                let s = 1.0 + k as f64 * 1e-3;
                triples.push(Triple {
                    x: f[1] as u32,
                    t_x: f[2] * s,
                    t: f[3] * s,
                    weight: 1.0,
                });
            }
        }
        let warm = fit(&triples, 0.0);
        let mean_t = triples.iter().map(|t| t.weight * t.t).sum::<f64>()
            / triples.iter().map(|t| t.weight).sum::<f64>();
        let cold = minimise(&likelihood(&triples, 0.0), vec![0.0, mean_t.ln(), 0.0, 0.0]);
        assert!(warm.optimum.converged && cold.converged);
        let cold_iterations = cold.iterations;
        let cold = params_of(&cold.params);
        for (w, c) in [
            (warm.params.r, cold.r),
            (warm.params.alpha, cold.alpha),
            (warm.params.a, cold.a),
            (warm.params.b, cold.b),
        ] {
            assert!(
                (w - c).abs() < 1e-5 * c.abs().max(1.0),
                "{warm:?} against {cold:?}"
            );
        }
        // The final fit starts near the optimum: fewer passes over the full data.
        assert!(
            warm.optimum.iterations < cold_iterations,
            "{} against {cold_iterations}",
            warm.optimum.iterations
        );
    }

    #[test]
    fn gradient_matches_finite_differences() {
        let triples = [
            Triple {
                x: 0,
                t_x: 0.0,
                t: 30.0,
                weight: 3.0,
            },
            Triple {
                x: 2,
                t_x: 10.0,
                t: 25.0,
                weight: 1.0,
            },
            Triple {
                x: 5,
                t_x: 20.5,
                t: 21.0,
                weight: 2.0,
            },
        ];
        let l = likelihood(&triples, 0.01);
        let at = [0.3f64.ln(), 4.0f64.ln(), 0.8f64.ln(), 2.5f64.ln()];
        let (_, g) = l.value_and_gradient(&at).unwrap();
        for k in 0..4 {
            let h = 1e-6;
            let mut up = at;
            up[k] += h;
            let mut down = at;
            down[k] -= h;
            let fd = (l.value_and_gradient(&up).unwrap().0
                - l.value_and_gradient(&down).unwrap().0)
                / (2.0 * h);
            assert!(
                (fd - g[k]).abs() < 1e-7,
                "parameter {k}: {fd} against {}",
                g[k]
            );
        }
    }
}
