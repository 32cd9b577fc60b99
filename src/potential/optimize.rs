//! Maximum likelihood with argmin's L-BFGS: the models state their mean negative
//! log-likelihood and its gradient over the logarithms of their parameters (so every
//! parameter stays positive), this module runs the optimiser and reports how it ended.

use std::sync::Mutex;

use argmin::core::{CostFunction, Error, Executor, Gradient, State, TerminationReason};
use argmin::solver::linesearch::MoreThuenteLineSearch;
use argmin::solver::quasinewton::LBFGS;

/// A model's objective over log-parameters: the mean negative log-likelihood (plus the L2
/// penalty) and its gradient, or `None` where it is not finite.
pub trait Objective: Sync {
    fn value_and_gradient(&self, log_params: &[f64]) -> Option<(f64, Vec<f64>)>;
}

/// How a fit ended.
#[derive(Debug, Clone, PartialEq)]
pub struct Optimum {
    pub params: Vec<f64>,
    /// The objective at `params` (mean negative log-likelihood plus penalty).
    pub value: f64,
    pub iterations: u64,
    /// The gradient's norm at `params` fell below [`CONVERGED_GRADIENT`].
    pub converged: bool,
    pub gradient_norm: f64,
    /// argmin's word on why it stopped.
    pub stop: String,
}

/// A fit counts as converged when the gradient of the mean log-likelihood, over
/// log-parameters, is this small: parameters are then settled to far better than the
/// published three decimals.
pub const CONVERGED_GRADIENT: f64 = 1e-6;
const MAX_ITERATIONS: u64 = 1000;

/// The objective as argmin sees it. argmin asks for the cost and the gradient at a point
/// separately, and one pass over the data gives both: the last point's are kept.
struct Problem<'a, O: Objective> {
    objective: &'a O,
    last: Mutex<Option<Evaluation>>,
}

/// A point and what the objective gave there.
type Evaluation = (Vec<f64>, Option<(f64, Vec<f64>)>);

impl<O: Objective> Problem<'_, O> {
    fn at(&self, p: &[f64]) -> Option<(f64, Vec<f64>)> {
        let mut last = self.last.lock().unwrap_or_else(|e| e.into_inner());
        if let Some((q, v)) = last.as_ref() {
            if q == p {
                return v.clone();
            }
        }
        let v = self.objective.value_and_gradient(p);
        *last = Some((p.to_vec(), v.clone()));
        v
    }
}

impl<O: Objective> CostFunction for Problem<'_, O> {
    type Param = Vec<f64>;
    type Output = f64;
    fn cost(&self, p: &Vec<f64>) -> Result<f64, Error> {
        // Outside the region where the likelihood is finite, an infinite cost sends the line
        // search back.
        Ok(self.at(p).map_or(f64::INFINITY, |(v, _)| v))
    }
}

impl<O: Objective> Gradient for Problem<'_, O> {
    type Param = Vec<f64>;
    type Gradient = Vec<f64>;
    fn gradient(&self, p: &Vec<f64>) -> Result<Vec<f64>, Error> {
        self.at(p)
            .map(|(_, g)| g)
            .ok_or_else(|| Error::msg("the likelihood is not finite at these parameters"))
    }
}

/// Minimises `objective` from `start` (log-parameters). Never fails: a run that stops early
/// comes back with `converged = false`, which the caller reports.
pub fn minimise<O: Objective>(objective: &O, start: Vec<f64>) -> Optimum {
    let problem = Problem {
        objective,
        last: Mutex::new(None),
    };
    let fallback = |stop: String, params: Vec<f64>, iterations| {
        let (value, norm) = match objective.value_and_gradient(&params) {
            Some((v, g)) => (v, norm(&g)),
            None => (f64::NAN, f64::INFINITY),
        };
        let converged = norm < CONVERGED_GRADIENT;
        // argmin's "converged" on a stalled cost is not ours when the gradient is still large.
        let stop = if !converged && stop == TerminationReason::SolverConverged.text() {
            "no further progress".to_string()
        } else {
            stop
        };
        Optimum {
            converged,
            params,
            value,
            iterations,
            gradient_norm: norm,
            stop,
        }
    };
    let solver = LBFGS::new(MoreThuenteLineSearch::new(), 10)
        .with_tolerance_grad(CONVERGED_GRADIENT * 1e-3)
        // Also stop when an iteration gains less than this in the mean log-likelihood:
        // sums over many customers carry noise near 1e-14, and chasing the gradient tolerance
        // below it costs dozens of line searches for nothing. Convergence is judged by the
        // gradient at the end either way.
        .and_then(|s| s.with_tolerance_cost(1e-12));
    let solver = match solver {
        Ok(s) => s,
        Err(e) => return fallback(e.to_string(), start, 0),
    };
    let run = Executor::new(problem, solver)
        .configure(|state| state.param(start.clone()).max_iters(MAX_ITERATIONS))
        .run();
    match run {
        Ok(res) => {
            let state = res.state();
            let params = state
                .get_best_param()
                .cloned()
                .unwrap_or_else(|| start.clone());
            let stop = state
                .get_termination_reason()
                .map_or("stopped", TerminationReason::text)
                .to_string();
            fallback(stop, params, state.get_iter())
        }
        // A failed line search ends the run where it stands; the gradient there decides.
        Err(e) => fallback(e.to_string(), start, 0),
    }
}

/// Above this many items (distinct summaries, spenders) a fit starts from the optimum on an
/// even sample of them: the full data then needs a few iterations instead of dozens.
const WARM_START_ABOVE: usize = 20_000;

/// The starting point of a fit on `items`: `start`, or, for many items, the optimum that
/// `fit` finds on every k-th of them, when that fit converges.
pub fn warm_start<T: Clone>(
    items: &[T],
    start: Vec<f64>,
    fit: impl Fn(&[T], Vec<f64>) -> Optimum,
) -> Vec<f64> {
    if items.len() <= WARM_START_ABOVE {
        return start;
    }
    let step = items.len() / (WARM_START_ABOVE / 2);
    let sample: Vec<T> = items.iter().step_by(step).cloned().collect();
    let o = fit(&sample, start.clone());
    if o.converged {
        o.params
    } else {
        start
    }
}

/// The per-chunk partial (log-likelihood, gradient) sums added in chunk order; `None` when
/// any is not finite.
pub fn total<const N: usize>(partial: Vec<(f64, [f64; N])>) -> Option<(f64, [f64; N])> {
    let mut ll = 0.0;
    let mut g = [0.0; N];
    for (l, gc) in partial {
        ll += l;
        for k in 0..N {
            g[k] += gc[k];
        }
    }
    (ll.is_finite() && g.iter().all(|v| v.is_finite())).then_some((ll, g))
}

/// The objective a model minimises, from its parameters `values`, the summed log-likelihood
/// `ll` of `n` customers and its gradient `g` in the parameters: the mean negative
/// log-likelihood plus `penalizer` times the squared parameters, and its gradient in the
/// log-parameters (d/d(log v) = v d/dv).
pub fn penalised<const N: usize>(
    values: [f64; N],
    (ll, g): (f64, [f64; N]),
    n: f64,
    penalizer: f64,
) -> (f64, Vec<f64>) {
    let penalty: f64 = values.iter().map(|v| v * v).sum::<f64>() * penalizer;
    let grad = (0..N)
        .map(|k| -values[k] * g[k] / n + 2.0 * penalizer * values[k] * values[k])
        .collect();
    (-ll / n + penalty, grad)
}

/// Every parameter finite and positive.
pub fn positive(values: &[f64]) -> bool {
    values.iter().all(|v| v.is_finite() && *v > 0.0)
}

pub fn norm(g: &[f64]) -> f64 {
    g.iter().map(|x| x * x).sum::<f64>().sqrt()
}

#[cfg(test)]
mod tests {
    use super::*;

    /// (e^u - 3)^2 + (e^v - 0.5)^2: the minimum at log 3, log 0.5.
    struct Bowl;
    impl Objective for Bowl {
        fn value_and_gradient(&self, p: &[f64]) -> Option<(f64, Vec<f64>)> {
            let (x, y) = (p[0].exp(), p[1].exp());
            let v = (x - 3.0).powi(2) + (y - 0.5).powi(2);
            Some((v, vec![2.0 * (x - 3.0) * x, 2.0 * (y - 0.5) * y]))
        }
    }

    #[test]
    fn finds_a_known_minimum() {
        let o = minimise(&Bowl, vec![0.0, 0.0]);
        assert!(o.converged, "{o:?}");
        assert!((o.params[0].exp() - 3.0).abs() < 1e-8, "{o:?}");
        assert!((o.params[1].exp() - 0.5).abs() < 1e-8, "{o:?}");
    }

    /// Nowhere finite: the fit ends unconverged, without a panic.
    struct Nowhere;
    impl Objective for Nowhere {
        fn value_and_gradient(&self, _: &[f64]) -> Option<(f64, Vec<f64>)> {
            None
        }
    }

    #[test]
    fn an_objective_that_is_never_finite_is_not_converged() {
        let o = minimise(&Nowhere, vec![0.0]);
        assert!(!o.converged);
        assert!(o.value.is_nan());
    }
}
