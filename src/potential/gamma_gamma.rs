//! The Gamma-Gamma spend model (Fader, Hardie & Lee 2005, "RFM and CLV"; Colombo & Jiang
//! 1999): the mean value of a customer's repeat purchases, its maximum-likelihood fit on the
//! customers with repeat purchases, and the expected value of a purchase per customer. Pure
//! numbers: no frames, no IO.

use rayon::prelude::*;
use statrs::function::gamma::{digamma, ln_gamma};

use super::optimize::{minimise, penalised, positive, total, warm_start, Objective, Optimum};

/// One customer with repeat purchases: `x` repeat purchase days and `zbar` their mean value
/// (positive).
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Spender {
    pub x: u32,
    pub zbar: f64,
}

#[derive(Debug, Clone, Copy, PartialEq, serde::Serialize)]
pub struct GammaGammaParams {
    pub p: f64,
    pub q: f64,
    pub v: f64,
}

#[derive(Debug, Clone, PartialEq)]
pub struct GammaGammaFit {
    pub params: GammaGammaParams,
    pub log_likelihood: f64,
    pub optimum: Optimum,
}

struct Likelihood<'a> {
    spenders: &'a [Spender],
    /// Per spender, ln x and ln zbar (constant during the fit).
    logs: Vec<(f64, f64)>,
    max_x: u32,
    penalizer: f64,
}

const CHUNK: usize = 4096;

impl Likelihood<'_> {
    /// Summed log-likelihood and its gradient in (p, q, v).
    fn sum(&self, g: &GammaGammaParams) -> Option<(f64, [f64; 3])> {
        let (p, q, v) = (g.p, g.q, g.v);
        // Per x: ln G(px+q) - ln G(px) and the digammas.
        let per_x: Vec<(f64, f64, f64)> = (0..=self.max_x)
            .map(|x| {
                let px = p * x as f64;
                if x == 0 {
                    return (0.0, 0.0, 0.0);
                }
                (
                    ln_gamma(px + q) - ln_gamma(px),
                    digamma(px + q),
                    digamma(px),
                )
            })
            .collect();
        let (lq, dq, lv) = (ln_gamma(q), digamma(q), v.ln());
        let partial: Vec<(f64, [f64; 3])> = self
            .spenders
            .par_chunks(CHUNK)
            .zip(self.logs.par_chunks(CHUNK))
            .map(|(chunk, logs)| {
                let mut ll = 0.0;
                let mut d = [0.0; 3];
                for (s, (lx, lm)) in chunk.iter().zip(logs) {
                    let (lg, dpq, dp) = per_x[s.x as usize];
                    let x = s.x as f64;
                    let px = p * x;
                    let xmv = x * s.zbar + v;
                    let lxmv = xmv.ln();
                    ll += lg - lq + q * lv + (px - 1.0) * lm + px * lx - (px + q) * lxmv;
                    d[0] += x * (dpq - dp + lm + lx - lxmv);
                    d[1] += dpq - dq + lv - lxmv;
                    d[2] += q / v - (px + q) / xmv;
                }
                (ll, d)
            })
            .collect();
        total(partial)
    }
}

fn params_of(log: &[f64]) -> GammaGammaParams {
    GammaGammaParams {
        p: log[0].exp(),
        q: log[1].exp(),
        v: log[2].exp(),
    }
}

impl Objective for Likelihood<'_> {
    fn value_and_gradient(&self, log: &[f64]) -> Option<(f64, Vec<f64>)> {
        let g = params_of(log);
        let values = [g.p, g.q, g.v];
        if !positive(&values) {
            return None;
        }
        let sum = self.sum(&g)?;
        Some(penalised(
            values,
            sum,
            self.spenders.len() as f64,
            self.penalizer,
        ))
    }
}

fn likelihood(spenders: &[Spender], penalizer: f64) -> Likelihood<'_> {
    Likelihood {
        spenders,
        logs: spenders
            .iter()
            .map(|s| ((s.x as f64).ln(), s.zbar.ln()))
            .collect(),
        max_x: spenders.iter().map(|s| s.x).max().unwrap_or(0),
        penalizer,
    }
}

/// The summed log-likelihood of `spenders` at `params`.
pub fn log_likelihood(spenders: &[Spender], params: &GammaGammaParams) -> Option<f64> {
    likelihood(spenders, 0.0).sum(params).map(|(ll, _)| ll)
}

/// Fits the model by maximum likelihood, from p = q = 1 and v = the mean `zbar` (the scale of
/// the currency).
pub fn fit(spenders: &[Spender], penalizer: f64) -> GammaGammaFit {
    let objective = likelihood(spenders, penalizer);
    let mean = spenders.iter().map(|s| s.zbar).sum::<f64>() / spenders.len().max(1) as f64;
    let start = vec![0.0, 0.0, mean.max(1e-9).ln()];
    let start = warm_start(spenders, start, |s, start| {
        minimise(&likelihood(s, penalizer), start)
    });
    let optimum = minimise(&objective, start);
    let params = params_of(&optimum.params);
    GammaGammaFit {
        log_likelihood: log_likelihood(spenders, &params).unwrap_or(f64::NAN),
        params,
        optimum,
    }
}

/// The expected value of a purchase of a customer with `x` repeat purchases of mean value
/// `zbar`: p (v + x zbar) / (p x + q - 1). Without repeat purchases (or without a positive
/// mean), the population mean p v / (q - 1). `None` when q <= 1 leaves the mean infinite.
pub fn expected_spend(g: &GammaGammaParams, x: u32, zbar: Option<f64>) -> Option<f64> {
    let (x, zbar) = match zbar {
        Some(m) if x > 0 && m > 0.0 => (x as f64, m),
        _ => (0.0, 0.0),
    };
    let den = g.p * x + g.q - 1.0;
    (den > 0.0).then(|| g.p * (g.v + x * zbar) / den)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn expected_spend_by_hand() {
        let g = GammaGammaParams {
            p: 6.25,
            q: 3.74,
            v: 15.44,
        };
        // 6.25 (15.44 + 2 * 20) / (12.5 + 2.74).
        let e = expected_spend(&g, 2, Some(20.0)).unwrap();
        assert!((e - 6.25 * 55.44 / 15.24).abs() < 1e-12, "{e}");
        // The population mean for x = 0 and for a mean that is not positive.
        let mean = 6.25 * 15.44 / 2.74;
        assert!((expected_spend(&g, 0, None).unwrap() - mean).abs() < 1e-12);
        assert!((expected_spend(&g, 3, Some(-4.0)).unwrap() - mean).abs() < 1e-12);
        // q <= 1: no finite mean.
        let heavy = GammaGammaParams { q: 0.9, ..g };
        assert_eq!(expected_spend(&heavy, 0, None), None);
    }

    #[test]
    fn gradient_matches_finite_differences() {
        let s = [
            Spender { x: 1, zbar: 12.0 },
            Spender { x: 4, zbar: 30.5 },
            Spender { x: 2, zbar: 8.25 },
        ];
        let l = likelihood(&s, 0.0);
        let at = [2.0f64.ln(), 3.0f64.ln(), 10.0f64.ln()];
        let (_, g) = l.value_and_gradient(&at).unwrap();
        for k in 0..3 {
            let h = 1e-6;
            let (mut up, mut down) = (at, at);
            up[k] += h;
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
