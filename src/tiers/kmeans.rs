//! k-means clusters of customers: feature scaling, k-means++ fits with linfa, choice of k and
//! value-ordered cluster numbering. Pure computation on ndarray: no IO, no printing, no clock,
//! no polars; every random draw comes from `KMeansParams::seed`, so the same input and seed
//! give the same result.

use std::fmt;
use std::ops::RangeInclusive;

use linfa::traits::Fit;
use linfa::DatasetBase;
use linfa_clustering::{KMeans, KMeansError, KMeansInit};
use ndarray::{Array2, ArrayView2, Axis};
use rand::SeedableRng;
use rand_xoshiro::Xoshiro256PlusPlus;
use rayon::prelude::*;
use serde::{Deserialize, Serialize};
use thiserror::Error;

use super::distance::{assign, nearest_two, sq_dist};
use super::metrics;
use crate::stats::quantile;

/// Defaults of every k-means setting, here only: `KMeansParams::default()` and the
/// pipeline file's `[clustering]` section both take them from here.
/// Default range of k tried with `k = "auto"`.
pub const DEFAULT_K_RANGE: (usize, usize) = (2, 8);
/// Default number of k-means++ restarts per k.
pub const DEFAULT_RUNS: usize = 10;
/// Default cap on Lloyd iterations per restart.
pub const DEFAULT_MAX_ITER: u64 = 300;
/// Default convergence threshold on centroid movement.
pub const DEFAULT_TOLERANCE: f64 = 1e-4;
/// Default seed.
pub const DEFAULT_SEED: u64 = 42;
/// Default row count above which k-means is fitted on a sample.
pub const DEFAULT_FIT_SAMPLE: usize = 20_000;
/// Default number of rows the silhouette is computed on.
pub const DEFAULT_SILHOUETTE_SAMPLE: usize = 2_000;
/// Default winsorising quantiles (lower, upper).
pub const DEFAULT_WINSOR: (f64, f64) = (0.01, 0.99);

/// How k is chosen.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum KChoice {
    /// Exactly this many clusters.
    Fixed(usize),
    /// Every k in `min..=max` is fitted and scored; the best by [`SelectBy`] wins.
    Auto { min: usize, max: usize },
}

impl KChoice {
    /// Every k tried.
    pub fn range(self) -> RangeInclusive<usize> {
        match self {
            KChoice::Fixed(k) => k..=k,
            KChoice::Auto { min, max } => min..=max,
        }
    }
}

/// The score that picks k under [`KChoice::Auto`].
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum SelectBy {
    /// Highest mean silhouette (on a sample).
    #[default]
    Silhouette,
    /// Highest Calinski–Harabasz index.
    CalinskiHarabasz,
    /// Lowest Davies–Bouldin index.
    DaviesBouldin,
}

impl fmt::Display for SelectBy {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            SelectBy::Silhouette => "silhouette",
            SelectBy::CalinskiHarabasz => "calinski_harabasz",
            SelectBy::DaviesBouldin => "davies_bouldin",
        })
    }
}

/// Everything [`cluster`] needs besides the data. `Default` gives `Auto { min: 2, max: 8 }`
/// chosen by silhouette and the `DEFAULT_*` constants of this module; fields missing when
/// deserialising take those defaults.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct KMeansParams {
    /// Fixed k or a range to choose from.
    pub k: KChoice,
    /// Score used to choose k in a range (ignored for a fixed k).
    pub select_by: SelectBy,
    /// k-means++ restarts per k; the restart with the lowest inertia on all rows wins.
    pub runs: usize,
    /// Cap on Lloyd iterations of the refinement on all rows and of each restart (which
    /// stops at [`SEED_ITERATIONS`] on a fit sample).
    pub max_iter: u64,
    /// Iterations stop once the centroids move less than this (Frobenius norm of the change of
    /// the centroid matrix, scaled space, as linfa measures it).
    pub tolerance: f64,
    /// Seed of every random draw (samples and k-means++ initialisation).
    pub seed: u64,
    /// With more rows than this, k-means is fitted on a seeded sample of this many rows.
    pub fit_sample: usize,
    /// Rows (at most) the silhouette is computed on; below 2 the silhouette is not computed.
    pub silhouette_sample: usize,
}

impl Default for KMeansParams {
    fn default() -> Self {
        KMeansParams {
            k: KChoice::Auto {
                min: DEFAULT_K_RANGE.0,
                max: DEFAULT_K_RANGE.1,
            },
            select_by: SelectBy::Silhouette,
            runs: DEFAULT_RUNS,
            max_iter: DEFAULT_MAX_ITER,
            tolerance: DEFAULT_TOLERANCE,
            seed: DEFAULT_SEED,
            fit_sample: DEFAULT_FIT_SAMPLE,
            silhouette_sample: DEFAULT_SILHOUETTE_SAMPLE,
        }
    }
}

impl KMeansParams {
    /// Checks the settings alone (the data is checked by [`cluster`]): k at least 1, a
    /// non-empty k range, at least one run and one iteration, a positive tolerance, and a fit
    /// sample that can hold the largest k. The pipeline file's `[clustering]` settings are
    /// checked here too, so each rule lives in one place.
    pub fn check(&self) -> Result<(), ClusterError> {
        let (k_min, k_max) = (*self.k.range().start(), *self.k.range().end());
        if k_min < 1 {
            return Err(ClusterError::KTooSmall { k: k_min });
        }
        if k_min > k_max {
            return Err(ClusterError::KRangeEmpty {
                min: k_min,
                max: k_max,
            });
        }
        let invalid = |name, reason: String| Err(ClusterError::InvalidParam { name, reason });
        if self.runs == 0 {
            return invalid("runs", "must be at least 1, got 0".into());
        }
        if self.max_iter == 0 {
            return invalid("max_iter", "must be at least 1, got 0".into());
        }
        if !(self.tolerance.is_finite() && self.tolerance > 0.0) {
            return invalid(
                "tolerance",
                format!("must be a positive number, got {}", self.tolerance),
            );
        }
        if self.fit_sample < k_max {
            return invalid(
                "fit_sample",
                format!("= {} cannot hold k = {k_max} clusters", self.fit_sample),
            );
        }
        Ok(())
    }
}

/// Why a clustering could not be made. Each variant names the offending value.
#[derive(Debug, Error)]
pub enum ClusterError {
    #[error("k must be at least 1, got {k}")]
    KTooSmall { k: usize },

    #[error("k range {min}..={max} is empty: the minimum is above the maximum")]
    KRangeEmpty { min: usize, max: usize },

    #[error(
        "{rows} rows cannot form {k} clusters: k-means needs at least as many rows as clusters"
    )]
    TooFewRows { rows: usize, k: usize },

    #[error("the feature matrix has no columns")]
    NoColumns,

    #[error("feature column {column} holds a non-finite value ({value}) at row {row}; fill or drop it before clustering")]
    NonFinite {
        row: usize,
        column: usize,
        value: f64,
    },

    #[error("{got} order values for {rows} rows: give one per row")]
    OrderValuesLength { rows: usize, got: usize },

    #[error("order value at row {row} is not finite ({value})")]
    NonFiniteOrderValue { row: usize, value: f64 },

    #[error("{name} {reason}")]
    InvalidParam { name: &'static str, reason: String },

    #[error("{reason}")]
    InvalidTransform { reason: String },

    #[error("{metric} is undefined for every k in {min}..={max} (the data has too few distinct points); choose a fixed k or another selection score")]
    NoSelectableK {
        metric: SelectBy,
        min: usize,
        max: usize,
    },

    #[error("k-means fit with k = {k} failed: {source}")]
    Fit {
        k: usize,
        #[source]
        source: KMeansError,
    },
}

// ---------------------------------------------------------------- feature transform

/// Per-feature transform, fitted on the data, recorded so centroids can be shown in original
/// units. Applied in this order: winsorise (clip to the fitted quantiles), signed log1p where
/// asked, standardise to mean 0 and standard deviation 1.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct TransformSpec {
    /// Per column: apply `sign(x) * ln(1 + |x|)` (signed because profit can be negative).
    pub log1p: Vec<bool>,
    /// Lower and upper clipping quantiles, `0 <= lower < 0.5 <= upper <= 1`; `(0, 1)` turns
    /// winsorising off (either bound alone can be off too).
    pub winsor: (f64, f64),
}

impl TransformSpec {
    /// A spec with the given log1p flags and [`DEFAULT_WINSOR`].
    pub fn new(log1p: Vec<bool>) -> Self {
        TransformSpec {
            log1p,
            winsor: DEFAULT_WINSOR,
        }
    }

    /// Checks the spec against a matrix of `columns` columns: one log1p flag per column and
    /// quantiles with `0 <= lower < 0.5 <= upper <= 1`. The one check of these settings: the
    /// pipeline file's are checked here too.
    pub fn validate(&self, columns: usize) -> Result<(), ClusterError> {
        if self.log1p.len() != columns {
            return Err(ClusterError::InvalidTransform {
                reason: format!(
                    "{} log1p flags for {columns} columns: give one per column",
                    self.log1p.len()
                ),
            });
        }
        let (lo, hi) = self.winsor;
        // The lower bound below the median and the upper above it, or the clipping would cut
        // into the middle of the data.
        if !((0.0..0.5).contains(&lo) && (0.5..=1.0).contains(&hi)) {
            return Err(ClusterError::InvalidTransform {
                reason: format!(
                    "winsorize = [{lo}, {hi}]: give [lower, upper] quantiles with 0 <= lower < 0.5 <= upper <= 1 ([0, 1] = off)"
                ),
            });
        }
        Ok(())
    }
}

/// A [`TransformSpec`] fitted on data: the clipping bounds (original units; `-inf`/`+inf`
/// where winsorising is off), and the mean and standard deviation of each column after
/// clipping and log1p. `std` is the divisor actually used: 1 for a constant column.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct FittedTransform {
    pub log1p: Vec<bool>,
    pub lower: Vec<f64>,
    pub upper: Vec<f64>,
    pub mean: Vec<f64>,
    pub std: Vec<f64>,
}

impl FittedTransform {
    /// Fits the transform on `raw` (rows = customers). Quantiles use linear interpolation
    /// (numpy's default); the standard deviation is the population one (as scikit-learn's
    /// `StandardScaler`). Non-finite values are left out of every statistic, so that
    /// [`FittedTransform::apply`] passes them through and [`cluster`] can report where they are.
    ///
    /// # Errors
    /// When `spec` does not fit the matrix or its bounds are out of range (see
    /// [`TransformSpec::validate`]).
    pub fn fit(raw: ArrayView2<f64>, spec: &TransformSpec) -> Result<Self, ClusterError> {
        spec.validate(raw.ncols())?;
        let (qlo, qhi) = spec.winsor;
        let d = raw.ncols();
        let mut out = FittedTransform {
            log1p: spec.log1p.clone(),
            lower: vec![f64::NEG_INFINITY; d],
            upper: vec![f64::INFINITY; d],
            mean: vec![0.0; d],
            std: vec![1.0; d],
        };
        for (j, col) in raw.axis_iter(Axis(1)).enumerate() {
            let mut vals: Vec<f64> = col.iter().copied().filter(|v| v.is_finite()).collect();
            if vals.is_empty() {
                continue;
            }
            // Values equal under `total_cmp` are the same bits, so the parallel sort gives
            // the same order (and the same sums below) as a sequential one.
            vals.par_sort_unstable_by(f64::total_cmp);
            if qlo > 0.0 {
                out.lower[j] = quantile(&vals, qlo);
            }
            if qhi < 1.0 {
                out.upper[j] = quantile(&vals, qhi);
            }
            let t: Vec<f64> = vals.iter().map(|&v| out.forward_unscaled(j, v)).collect();
            // A constant column would otherwise be divided by a rounding-noise deviation.
            if t.iter().all(|&v| v == t[0]) {
                out.mean[j] = t[0];
                continue;
            }
            let n = t.len() as f64;
            let mean = t.iter().sum::<f64>() / n;
            let var = t.iter().map(|v| (v - mean) * (v - mean)).sum::<f64>() / n;
            out.mean[j] = mean;
            out.std[j] = var.sqrt();
        }
        Ok(out)
    }

    /// Transforms `raw` into the scaled space. Non-finite values pass through unchanged.
    ///
    /// # Panics
    /// If `raw` has a different number of columns than the data the transform was fitted on.
    pub fn apply(&self, raw: ArrayView2<f64>) -> Array2<f64> {
        self.apply_owned(raw.to_owned())
    }

    /// [`FittedTransform::apply`] in place: the matrix is transformed where it is, so the
    /// untransformed and the transformed values are never held together (n x d values each:
    /// 350 MB at 100 M transactions).
    ///
    /// # Panics
    /// If `raw` has a different number of columns than the data the transform was fitted on.
    pub fn apply_owned(&self, raw: Array2<f64>) -> Array2<f64> {
        assert_eq!(
            raw.ncols(),
            self.mean.len(),
            "column count differs from fit"
        );
        let mut out = raw;
        for (j, mut col) in out.axis_iter_mut(Axis(1)).enumerate() {
            col.mapv_inplace(|v| {
                if v.is_finite() {
                    (self.forward_unscaled(j, v) - self.mean[j]) / self.std[j]
                } else {
                    v
                }
            });
        }
        out
    }

    /// Maps scaled values (e.g. centroids) back to original units. Winsorising is not
    /// invertible: a value that was clipped comes back as the clipping bound, so the result is
    /// in the units of the clipped data.
    ///
    /// # Panics
    /// If `scaled` has a different number of columns than the data the transform was fitted on.
    pub fn inverse(&self, scaled: ArrayView2<f64>) -> Array2<f64> {
        assert_eq!(
            scaled.ncols(),
            self.mean.len(),
            "column count differs from fit"
        );
        let mut out = scaled.to_owned();
        for (j, mut col) in out.axis_iter_mut(Axis(1)).enumerate() {
            col.mapv_inplace(|v| {
                let t = v * self.std[j] + self.mean[j];
                if self.log1p[j] {
                    t.signum() * t.abs().exp_m1()
                } else {
                    t
                }
            });
        }
        out
    }

    /// Clip and log1p, without standardising.
    fn forward_unscaled(&self, j: usize, v: f64) -> f64 {
        let c = v.clamp(self.lower[j], self.upper[j]);
        if self.log1p[j] {
            c.signum() * c.abs().ln_1p()
        } else {
            c
        }
    }
}

// ---------------------------------------------------------------- clustering

/// Quality scores of the clustering fitted for one k.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct KScore {
    pub k: usize,
    /// Sum of squared distances of all rows to their centroid (scaled space).
    pub inertia: f64,
    /// Mean silhouette on a seeded sample of `silhouette_sample` rows.
    pub silhouette: Option<f64>,
    pub calinski_harabasz: Option<f64>,
    pub davies_bouldin: Option<f64>,
    /// This k is the one returned.
    pub chosen: bool,
}

/// The result of [`cluster`].
#[derive(Debug, Clone, PartialEq)]
pub struct Clustering {
    pub k: usize,
    /// Cluster of each row, 0-based and numbered by value: 0 is the cluster whose members have
    /// the highest mean order value, 1 the next, and so on (ties: larger cluster first, then
    /// the cluster holding the lowest row index; empty clusters last).
    pub labels: Vec<usize>,
    /// Euclidean distance of each row to its centroid (scaled space).
    pub distances: Vec<f64>,
    /// Centroids in the scaled space, one row per cluster in the numbering of `labels`.
    pub centroids: Array2<f64>,
    /// Members per cluster, in the numbering of `labels`.
    pub sizes: Vec<usize>,
    /// One entry per k tried, ascending (a single entry for a fixed k).
    pub scores: Vec<KScore>,
    /// Rows k-means was fitted on (the sample size when `sampled`).
    pub fit_rows: usize,
    /// k-means was fitted on a sample; every row was then assigned to its nearest centroid.
    pub sampled: bool,
}

// Independent random streams derived from the one user seed.
const STREAM_FIT_SAMPLE: u64 = 1;
const STREAM_SILHOUETTE: u64 = 2;
const STREAM_KMEANS: u64 = 3;

/// Clusters the rows of `x` with k-means.
///
/// `x`: scaled data (rows = customers), e.g. from [`FittedTransform::apply`]. `order_values`:
/// per row, e.g. monetary, used only to number clusters by value.
///
/// For each k tried, `runs` restarts of linfa's k-means (k-means++ initialisation, seeded
/// from `seed` and k) are fitted on all rows or, above `fit_sample` rows, on one seeded sample
/// of `fit_sample` rows. The restart whose centroids give the lowest inertia on all rows is
/// refined by Lloyd iterations on all rows (at most `max_iter`, until no row changes cluster or
/// the centroids move less than `tolerance`; an emptied cluster is moved to the row farthest
/// from its centroid), so every row ends with its nearest centroid and each centroid is, up to
/// `tolerance`, its members' mean. Scores are computed on that final assignment of all rows,
/// the silhouette on one seeded sample shared by every k.
///
/// Same input, order values and parameters give the same result. Cluster numbering depends
/// only on the partition and `order_values`, so another seed that finds the same partition
/// gives the same labels.
///
/// # Errors
/// Invalid parameters, fewer rows than k, a non-finite value in `x` or `order_values`, or an
/// order-value count that differs from the row count; see [`ClusterError`].
pub fn cluster(
    x: ArrayView2<f64>,
    order_values: &[f64],
    p: &KMeansParams,
) -> Result<Clustering, ClusterError> {
    validate(x, order_values, p)?;
    let n = x.nrows();
    // The assignment loops run on plain slices; this copies only a non-standard layout.
    let x = x.as_standard_layout();
    let x = x.view();

    let sampled = n > p.fit_sample;
    let sample = sampled.then(|| {
        let mut rng = Xoshiro256PlusPlus::seed_from_u64(derive_seed(p.seed, STREAM_FIT_SAMPLE, 0));
        let mut idx = rand::seq::index::sample(&mut rng, n, p.fit_sample).into_vec();
        idx.sort_unstable();
        x.select(Axis(0), &idx)
    });
    let fit_x = sample.as_ref().map_or(x, Array2::view);
    let silhouette_seed = derive_seed(p.seed, STREAM_SILHOUETTE, 0);

    let mut scores = Vec::new();
    let mut best: Option<(usize, KFit)> = None;
    for k in p.k.range() {
        let fit = fit_k(x, fit_x, k, p)?;
        let score = KScore {
            k,
            inertia: metrics::inertia(x, &fit.labels, fit.centroids.view()),
            silhouette: metrics::silhouette(
                x,
                &fit.labels,
                k,
                p.silhouette_sample,
                silhouette_seed,
            ),
            calinski_harabasz: metrics::calinski_harabasz(x, &fit.labels, k),
            davies_bouldin: metrics::davies_bouldin(x, &fit.labels, k),
            chosen: false,
        };
        let better = match (&best, selection_value(&score, p)) {
            // A fixed k is chosen even when its scores are undefined.
            (None, _) if matches!(p.k, KChoice::Fixed(_)) => true,
            (_, None) => false,
            (None, Some(_)) => true,
            // Strictly better only, so ties keep the smaller k.
            (Some((i, _)), Some(v)) => {
                v > selection_value(&scores[*i], p).expect("best has a value")
            }
        };
        if better {
            best = Some((scores.len(), fit));
        }
        scores.push(score);
    }

    let Some((best_idx, fit)) = best else {
        let range = p.k.range();
        return Err(ClusterError::NoSelectableK {
            metric: p.select_by,
            min: *range.start(),
            max: *range.end(),
        });
    };

    scores[best_idx].chosen = true;

    let k = fit.centroids.nrows();
    let order = value_order(&fit.labels, order_values, k);
    let mut rank = vec![0; k];
    for (new, &old) in order.iter().enumerate() {
        rank[old] = new;
    }
    let labels: Vec<usize> = fit.labels.iter().map(|&l| rank[l]).collect();
    let centroids = fit.centroids.select(Axis(0), &order);
    let mut sizes = vec![0; k];
    for &l in &labels {
        sizes[l] += 1;
    }
    Ok(Clustering {
        k,
        labels,
        distances: fit.sq_dists.iter().map(|v| v.sqrt()).collect(),
        centroids,
        sizes,
        scores,
        fit_rows: fit_x.nrows(),
        sampled,
    })
}

/// One k's final partition of all rows.
struct KFit {
    labels: Vec<usize>,
    sq_dists: Vec<f64>,
    centroids: Array2<f64>,
}

fn validate(
    x: ArrayView2<f64>,
    order_values: &[f64],
    p: &KMeansParams,
) -> Result<(), ClusterError> {
    p.check()?;
    let k_max = *p.k.range().end();
    if x.ncols() == 0 {
        return Err(ClusterError::NoColumns);
    }
    if x.nrows() < k_max {
        return Err(ClusterError::TooFewRows {
            rows: x.nrows(),
            k: k_max,
        });
    }
    if order_values.len() != x.nrows() {
        return Err(ClusterError::OrderValuesLength {
            rows: x.nrows(),
            got: order_values.len(),
        });
    }
    for (row, r) in x.rows().into_iter().enumerate() {
        if let Some((column, &value)) = r.iter().enumerate().find(|(_, v)| !v.is_finite()) {
            return Err(ClusterError::NonFinite { row, column, value });
        }
    }
    if let Some((row, &value)) = order_values
        .iter()
        .enumerate()
        .find(|(_, v)| !v.is_finite())
    {
        return Err(ClusterError::NonFiniteOrderValue { row, value });
    }
    Ok(())
}

/// The chosen score oriented so that larger is better.
fn selection_value(s: &KScore, p: &KMeansParams) -> Option<f64> {
    match p.select_by {
        SelectBy::Silhouette => s.silhouette,
        SelectBy::CalinskiHarabasz => s.calinski_harabasz,
        SelectBy::DaviesBouldin => s.davies_bouldin.map(|v| -v),
    }
}

/// Lloyd iterations of each restart on a fit sample, at most. A restart on a sample only
/// seeds the refinement on all rows, which runs to `max_iter` and `tolerance`. On 10 million
/// generated transactions (872,005 customers, k = 2..8), 20 instead of 300 left every final
/// inertia within 0.01 % and halved the time of the restarts. Without a sample the restarts
/// run on all rows to `max_iter`: there they are cheap, and they pick the local optimum.
const SEED_ITERATIONS: u64 = 20;

/// Runs `runs` k-means++ restarts for one k, each a linfa fit on `fit_x` (of at most
/// [`SEED_ITERATIONS`] when `fit_x` is a sample); the restart whose centroids give the lowest
/// inertia on all rows of `x` (standard layout) wins (the first on ties) and is then refined on
/// all rows.
///
/// Restarts are judged on all rows rather than by linfa's own choice on the fit rows: on a
/// sample, the restart that fits the sample best is often not the best on all rows
/// (overlapping clusters leave many near-equal optima), which cost more than 1 % of inertia in
/// tests. Judging takes one pass over the rows for all restarts; only the winner gets the
/// (longer) refinement.
fn fit_k(
    x: ArrayView2<f64>,
    fit_x: ArrayView2<f64>,
    k: usize,
    p: &KMeansParams,
) -> Result<KFit, ClusterError> {
    let d = x.ncols();
    let data = x.as_slice().expect("standard layout");
    let dataset = DatasetBase::from(fit_x);
    let iterations = if fit_x.nrows() < x.nrows() {
        p.max_iter.min(SEED_ITERATIONS)
    } else {
        p.max_iter
    };
    // Restarts are independent: they run in parallel, and are judged in run order.
    let fits: Vec<Array2<f64>> = (0..p.runs as u64)
        .into_par_iter()
        .map(|run| {
            let seed = derive_seed(p.seed, STREAM_KMEANS, ((k as u64) << 32) | run);
            let model = KMeans::params_with_rng(k, Xoshiro256PlusPlus::seed_from_u64(seed))
                .init_method(KMeansInit::KMeansPlusPlus)
                .n_runs(1)
                .max_n_iterations(iterations)
                .tolerance(p.tolerance)
                .fit(&dataset)
                .map_err(|source| ClusterError::Fit { k, source })?;
            Ok(model.centroids().as_standard_layout().into_owned())
        })
        .collect::<Result<_, ClusterError>>()?;
    let mut best: Option<(f64, Array2<f64>)> = None;
    for (inertia, centroids) in inertias(data, d, &fits).into_iter().zip(fits) {
        if best.as_ref().is_none_or(|(b, _)| inertia < *b) {
            best = Some((inertia, centroids));
        }
    }
    let (_, centroids) = best.expect("runs >= 1 was validated");
    Ok(lloyd(x, centroids, p.max_iter, p.tolerance))
}

/// Rows per block of the parallel passes. Partial sums are added in block order, so
/// [`lloyd`] and its specification must use the same blocks to agree bit for bit.
const BLOCK: usize = 4096;

/// Plain Lloyd iterations on all rows from the given centroids, until no row changes cluster,
/// the centroids move less than `tolerance` (Frobenius norm, as linfa measures it) or
/// `max_iter` passes. It ends on an assignment pass, so every row is with its nearest
/// centroid. This is needed because linfa's update treats the old centroid as one more member
/// and stops on the movement threshold, so its centroids are only close to the members'
/// means, and a sample fit has to be carried over to the other rows.
///
/// Passes skip rows that cannot have changed cluster (Hamerly's bounds): each row keeps an
/// upper bound on the distance to its centroid and a lower bound on the distance to any other,
/// both moved by how far the centroids moved. A row is looked at again only when the bounds
/// overlap, with a safety margin for rounding, so the labels, sums and centroids are those of
/// the full passes ([`lloyd_plain`], kept as the specification for the tests). After a few
/// passes most rows are skipped; the last pass is a full one, which gives every row's exact
/// squared distance.
fn lloyd(x: ArrayView2<f64>, mut centroids: Array2<f64>, max_iter: u64, tolerance: f64) -> KFit {
    let (n, d) = x.dim();
    let k = centroids.nrows();
    let data = x.as_slice().expect("standard layout");
    let mut labels = vec![usize::MAX; n];
    // Upper bound on the distance to the row's own centroid, lower bound to any other.
    let mut upper = vec![f64::INFINITY; n];
    let mut lower = vec![0.0f64; n];
    let mut sq = vec![0.0; n];
    // Whether the loop ended on a pass, whose labels are then final.
    let mut settled = false;
    for iter in 1.. {
        let cents = centroids.as_slice().expect("owned");
        let half = half_gaps(cents, k, d);
        let parts: Vec<(usize, Vec<f64>, Vec<usize>)> = data
            .par_chunks(BLOCK * d)
            .zip(labels.par_chunks_mut(BLOCK))
            .zip(upper.par_chunks_mut(BLOCK))
            .zip(lower.par_chunks_mut(BLOCK))
            .map(|(((rows, labels), upper), lower)| {
                bounded_block(rows, labels, upper, lower, cents, &half, d)
            })
            .collect();
        let (changed, sums, counts) = merge_parts(parts, k, d);
        if changed == 0 || iter >= max_iter {
            settled = true;
            break;
        }
        let old = centroids.clone();
        let cents = centroids.as_slice_mut().expect("owned");
        let mut shift = move_to_means(cents, d, &sums, &counts);
        if counts.contains(&0) {
            // The farthest row needs every row's exact distance to its centroid.
            let before = old.as_slice().expect("owned");
            sq.par_chunks_mut(BLOCK)
                .zip(data.par_chunks(BLOCK * d))
                .zip(labels.par_chunks(BLOCK))
                .for_each(|((sq, rows), labels)| {
                    for ((s, row), &l) in sq.iter_mut().zip(rows.chunks_exact(d)).zip(labels) {
                        *s = sq_dist(row, &before[l * d..(l + 1) * d]);
                    }
                });
        }
        shift += relocate_empty(data, d, cents, &counts, &mut sq);
        // The last move: the full pass below assigns the rows to where the centroids ended
        // (a bounded pass first would find the same labels, and its sums would go unused).
        if shift.sqrt() < tolerance || iter + 1 >= max_iter {
            break;
        }
        move_bounds(
            old.as_slice().expect("owned"),
            cents,
            d,
            &labels,
            &mut upper,
            &mut lower,
        );
    }
    // One full pass: the nearest centroids and the exact squared distances.
    let moved = assign(
        data,
        d,
        centroids.as_slice().expect("owned"),
        &mut labels,
        &mut sq,
    );
    debug_assert!(
        !settled || moved == 0,
        "the bounds skipped a row that changed cluster"
    );
    KFit {
        labels,
        sq_dists: sq,
        centroids,
    }
}

/// One block of rows of a bounded Lloyd pass (see [`lloyd`]): rows whose bounds show they
/// cannot have changed cluster are only added to their centroid's sums; the others are
/// assigned afresh. Returns the rows changed, and the block's sums and counts per cluster.
fn bounded_block(
    rows: &[f64],
    labels: &mut [usize],
    upper: &mut [f64],
    lower: &mut [f64],
    cents: &[f64],
    half: &[f64],
    d: usize,
) -> (usize, Vec<f64>, Vec<usize>) {
    let k = cents.len() / d;
    let mut changed = 0;
    let mut sums = vec![0.0; k * d];
    let mut counts = vec![0usize; k];
    for (((row, label), u), l) in rows
        .chunks_exact(d)
        .zip(labels.iter_mut())
        .zip(upper.iter_mut())
        .zip(lower.iter_mut())
    {
        if *label != usize::MAX {
            let bound = (*l).max(half[*label]);
            if clearly_below(*u, bound) {
                add_row(&mut sums, &mut counts, d, *label, row);
                continue;
            }
            *u = sq_dist(row, &cents[*label * d..(*label + 1) * d]).sqrt();
            if clearly_below(*u, bound) {
                add_row(&mut sums, &mut counts, d, *label, row);
                continue;
            }
        }
        // Every centroid, lowest index on ties, as in `assign`.
        let (best, second) = nearest_two(row, cents, d);
        if *label != best.0 {
            changed += 1;
            *label = best.0;
        }
        *u = best.1.sqrt();
        *l = second.sqrt();
        add_row(&mut sums, &mut counts, d, best.0, row);
    }
    (changed, sums, counts)
}

/// Half the distance from each centroid to its nearest other centroid: a row closer to its
/// centroid than that cannot be closer to another.
fn half_gaps(cents: &[f64], k: usize, d: usize) -> Vec<f64> {
    (0..k)
        .map(|c| {
            let own = &cents[c * d..(c + 1) * d];
            let near = (0..k)
                .filter(|&o| o != c)
                .map(|o| sq_dist(own, &cents[o * d..(o + 1) * d]))
                .fold(f64::INFINITY, f64::min);
            0.5 * near.sqrt()
        })
        .collect()
}

/// Moves each row's bounds by how far the centroids moved (`before` to `after`): its own
/// centroid moved away by at most its movement, any other came closer by at most the
/// largest movement of the others.
fn move_bounds(
    before: &[f64],
    after: &[f64],
    d: usize,
    labels: &[usize],
    upper: &mut [f64],
    lower: &mut [f64],
) {
    let k = after.len() / d;
    let moved: Vec<f64> = (0..k)
        .map(|c| sq_dist(&before[c * d..(c + 1) * d], &after[c * d..(c + 1) * d]).sqrt())
        .collect();
    let (mut first, mut second) = ((usize::MAX, 0.0f64), 0.0f64);
    for (c, &m) in moved.iter().enumerate() {
        if m > first.1 {
            second = first.1;
            first = (c, m);
        } else if m > second {
            second = m;
        }
    }
    upper
        .par_iter_mut()
        .zip(lower.par_iter_mut())
        .zip(labels.par_iter())
        .for_each(|((u, l), &label)| {
            *u += moved[label];
            *l -= if label == first.0 { second } else { first.1 };
        });
}

/// As scikit-learn does: an empty cluster (`counts` 0) takes the row farthest from its
/// centroid (`sq`: each row's squared distance to its centroid), which lowers the inertia.
/// Rows already at distance 0 gain nothing, so then the cluster stays empty (the data has
/// fewer distinct points than k). Returns the squared movement of the centroids moved.
fn relocate_empty(
    data: &[f64],
    d: usize,
    cents: &mut [f64],
    counts: &[usize],
    sq: &mut [f64],
) -> f64 {
    let mut shift = 0.0;
    for c in (0..counts.len()).filter(|&c| counts[c] == 0) {
        let far = (0..sq.len()).fold(None, |acc: Option<usize>, i| match acc {
            Some(j) if sq[j] >= sq[i] => Some(j),
            _ => Some(i),
        });
        if let Some(i) = far.filter(|&i| sq[i] > 0.0) {
            let row = &data[i * d..(i + 1) * d];
            shift += sq_dist(&cents[c * d..(c + 1) * d], row);
            cents[c * d..(c + 1) * d].copy_from_slice(row);
            sq[i] = 0.0;
        }
    }
    shift
}

/// `a < b` with a margin for the rounding of bounds kept over many passes: a row is skipped
/// only when no rounding could have changed its nearest centroid.
fn clearly_below(a: f64, b: f64) -> bool {
    a * (1.0 + 1e-9) + 1e-12 < b
}

/// Adds the blocks' (rows changed, sums, counts) in block order.
fn merge_parts(
    parts: Vec<(usize, Vec<f64>, Vec<usize>)>,
    k: usize,
    d: usize,
) -> (usize, Vec<f64>, Vec<usize>) {
    let mut total = (0, vec![0.0; k * d], vec![0usize; k]);
    for (changed, sums, counts) in parts {
        total.0 += changed;
        for (t, s) in total.1.iter_mut().zip(sums) {
            *t += s;
        }
        for (t, c) in total.2.iter_mut().zip(counts) {
            *t += c;
        }
    }
    total
}

/// Moves each centroid with members to their mean; returns the squared distance moved.
fn move_to_means(cents: &mut [f64], d: usize, sums: &[f64], counts: &[usize]) -> f64 {
    let mut shift = 0.0;
    for c in (0..counts.len()).filter(|&c| counts[c] > 0) {
        for (dst, s) in cents[c * d..(c + 1) * d].iter_mut().zip(&sums[c * d..]) {
            let new = s / counts[c] as f64;
            shift += (new - *dst) * (new - *dst);
            *dst = new;
        }
    }
    shift
}

fn add_row(sums: &mut [f64], counts: &mut [usize], d: usize, label: usize, row: &[f64]) {
    counts[label] += 1;
    for (s, v) in sums[label * d..(label + 1) * d].iter_mut().zip(row) {
        *s += v;
    }
}

/// The specification of [`lloyd`]: plain Lloyd iterations on all rows from the given centroids, until no row changes cluster,
/// the centroids move less than `tolerance` (Frobenius norm, as linfa measures it) or
/// `max_iter` passes. It ends on an assignment pass, so every row is with its nearest
/// centroid. This is needed because linfa's update treats the old centroid as one more member
/// and stops on the movement threshold, so its centroids are only close to the members'
/// means, and a sample fit has to be carried over to the other rows.
#[cfg(test)]
fn lloyd_plain(
    x: ArrayView2<f64>,
    mut centroids: Array2<f64>,
    max_iter: u64,
    tolerance: f64,
) -> KFit {
    let (n, d) = x.dim();
    let data = x.as_slice().expect("standard layout");
    let mut labels = vec![usize::MAX; n];
    let mut sq = vec![0.0; n];
    let mut converged = false;
    for iter in 1.. {
        let cents = centroids.as_slice_mut().expect("owned");
        let (changed, sums, counts) = assign_and_sum(data, d, cents, &mut labels, &mut sq);
        if changed == 0 || converged || iter >= max_iter {
            break;
        }
        let mut shift = move_to_means(cents, d, &sums, &counts);
        shift += relocate_empty(data, d, cents, &counts, &mut sq);
        converged = shift.sqrt() < tolerance;
    }
    KFit {
        labels,
        sq_dists: sq,
        centroids,
    }
}

/// The inertia on all rows of each set of centroids (standard layout), in one pass over the
/// rows: each block of rows is read once for all sets while it is in cache. Blocks run in
/// parallel and their sums are added in block order, so the result does not depend on the
/// number of threads.
fn inertias(data: &[f64], d: usize, candidates: &[Array2<f64>]) -> Vec<f64> {
    let parts: Vec<Vec<f64>> = data
        .par_chunks(BLOCK * d)
        .map(|rows| {
            candidates
                .iter()
                .map(|c| {
                    let cents = c.as_slice().expect("standard layout");
                    rows.chunks_exact(d)
                        .map(|row| {
                            cents
                                .chunks_exact(d)
                                .map(|cent| sq_dist(row, cent))
                                .fold(f64::INFINITY, f64::min)
                        })
                        .sum()
                })
                .collect()
        })
        .collect();
    let mut total = vec![0.0; candidates.len()];
    for part in parts {
        for (t, v) in total.iter_mut().zip(part) {
            *t += v;
        }
    }
    total
}

#[cfg(test)]
/// [`assign`], also summing each cluster's rows and counting them (for [`lloyd_plain`]). Blocks of rows run in
/// parallel; their partial sums are added in block order, so the result does not depend on
/// the number of threads.
fn assign_and_sum(
    data: &[f64],
    d: usize,
    cents: &[f64],
    labels: &mut [usize],
    sq: &mut [f64],
) -> (usize, Vec<f64>, Vec<usize>) {
    let k = cents.len() / d;
    let parts: Vec<(usize, Vec<f64>, Vec<usize>)> = data
        .par_chunks(BLOCK * d)
        .zip(labels.par_chunks_mut(BLOCK))
        .zip(sq.par_chunks_mut(BLOCK))
        .map(|((rows, labels), sq)| {
            let changed = assign(rows, d, cents, labels, sq);
            let mut sums = vec![0.0; k * d];
            let mut counts = vec![0usize; k];
            for (row, &l) in rows.chunks_exact(d).zip(labels.iter()) {
                add_row(&mut sums, &mut counts, d, l, row);
            }
            (changed, sums, counts)
        })
        .collect();
    merge_parts(parts, k, d)
}

/// Old cluster indices in their new order: by mean order value (descending), then size
/// (descending), then lowest member row; empty clusters last. Depends only on the partition,
/// never on the seed that found it.
fn value_order(labels: &[usize], order_values: &[f64], k: usize) -> Vec<usize> {
    let mut sum = vec![0.0; k];
    let mut count = vec![0usize; k];
    let mut first = vec![usize::MAX; k];
    for (i, (&l, &v)) in labels.iter().zip(order_values).enumerate() {
        sum[l] += v;
        count[l] += 1;
        first[l] = first[l].min(i);
    }
    let mean: Vec<f64> = (0..k)
        .map(|c| {
            if count[c] > 0 {
                sum[c] / count[c] as f64
            } else {
                f64::NEG_INFINITY
            }
        })
        .collect();
    let mut order: Vec<usize> = (0..k).collect();
    order.sort_by(|&a, &b| {
        (count[b] > 0)
            .cmp(&(count[a] > 0))
            .then(mean[b].total_cmp(&mean[a]))
            .then(count[b].cmp(&count[a]))
            .then(first[a].cmp(&first[b]))
            .then(a.cmp(&b))
    });
    order
}

/// SplitMix64 of the seed mixed with a stream tag and index, so streams are unrelated.
fn derive_seed(seed: u64, stream: u64, index: u64) -> u64 {
    let mut z = seed
        ^ stream.wrapping_mul(0x9E37_79B9_7F4A_7C15)
        ^ index.wrapping_mul(0xD1B5_4A32_D192_ED03);
    z = z.wrapping_add(0x9E37_79B9_7F4A_7C15);
    z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
    z ^ (z >> 31)
}

#[cfg(test)]
mod tests {
    use super::*;
    use ndarray::{array, ShapeBuilder};
    use rand::Rng;

    const CENTERS: [[f64; 3]; 4] = [
        [0.0, 0.0, 0.0],
        [10.0, 0.0, 0.0],
        [0.0, 10.0, 0.0],
        [0.0, 0.0, 10.0],
    ];

    fn normal(rng: &mut Xoshiro256PlusPlus) -> f64 {
        // Box–Muller: rand 0.8 alone has no normal distribution.
        let u1: f64 = 1.0 - rng.gen::<f64>();
        let u2: f64 = rng.gen();
        (-2.0 * u1.ln()).sqrt() * (std::f64::consts::TAU * u2).cos()
    }

    /// `per_blob` points around each of `CENTERS` with standard deviation `sd`, interleaved
    /// so that row order says nothing about the blob. Returns (x, blob of each row).
    fn blobs(per_blob: usize, sd: f64, seed: u64) -> (Array2<f64>, Vec<usize>) {
        let mut rng = Xoshiro256PlusPlus::seed_from_u64(seed);
        let n = per_blob * CENTERS.len();
        let truth: Vec<usize> = (0..n).map(|i| i % CENTERS.len()).collect();
        let x = Array2::from_shape_fn((n, 3), |(i, j)| {
            CENTERS[truth[i]][j] + sd * normal(&mut rng)
        });
        (x, truth)
    }

    /// Blob b is worth about 100·(b+1), so the value order of clusters is blob 3, 2, 1, 0.
    fn order_values(truth: &[usize]) -> Vec<f64> {
        truth
            .iter()
            .enumerate()
            .map(|(i, &b)| 100.0 * (b + 1) as f64 + (i % 7) as f64)
            .collect()
    }

    fn params(k: KChoice, seed: u64) -> KMeansParams {
        KMeansParams {
            k,
            seed,
            ..KMeansParams::default()
        }
    }

    /// The bounded passes skip rows, never results: on overlapping blobs, on integer data
    /// full of duplicate rows and exact ties, and with a centroid no row is near (an empty
    /// cluster), labels, squared distances and centroids equal the full passes' to the bit.
    #[test]
    fn bounded_lloyd_equals_full_passes() {
        let (overlapping, _) = blobs(500, 4.0, 3);
        let mut rng = Xoshiro256PlusPlus::seed_from_u64(5);
        let grid = Array2::from_shape_fn((3000, 3), |_| rng.gen_range(0..4) as f64);
        for (name, x) in [("overlapping", overlapping), ("grid", grid)] {
            for k in [2, 3, 5, 8] {
                let mut start = x.select(Axis(0), &(0..k).map(|i| i * 97).collect::<Vec<_>>());
                if k == 5 {
                    // Far from every row: nothing joins it in the first pass.
                    start.row_mut(4).fill(1e6);
                }
                // Stopping on the pass limit, on a small centroid shift and on no change.
                for (max_iter, tolerance) in [(1, 1e-9), (2, 1e-9), (3, 1e-9), (300, 1e-9)]
                    .into_iter()
                    .chain([(300, 1e-2), (300, 0.5)])
                {
                    let bounded = lloyd(x.view(), start.clone(), max_iter, tolerance);
                    let plain = lloyd_plain(x.view(), start.clone(), max_iter, tolerance);
                    let case = format!("{name}, k = {k}, max_iter = {max_iter}, tol {tolerance}");
                    assert_eq!(bounded.labels, plain.labels, "{case}");
                    assert_eq!(bounded.sq_dists, plain.sq_dists, "{case}");
                    assert_eq!(bounded.centroids, plain.centroids, "{case}");
                }
            }
        }
    }

    #[test]
    fn recovers_blobs_numbered_by_value() {
        let (x, truth) = blobs(300, 1.0, 1);
        let c = cluster(
            x.view(),
            &order_values(&truth),
            &params(KChoice::Fixed(4), 7),
        )
        .unwrap();
        assert_eq!(c.k, 4);
        assert_eq!(metrics::adjusted_rand_index(&c.labels, &truth), 1.0);
        // Cluster 0 = the most valuable blob (3), and so on down.
        let expected: Vec<usize> = truth.iter().map(|&b| 3 - b).collect();
        assert_eq!(c.labels, expected);
        assert_eq!(c.sizes, vec![300; 4]);
        assert!(!c.sampled);
        assert_eq!(c.fit_rows, 1200);
        assert_eq!(c.scores.len(), 1);
        assert!(c.scores[0].chosen);
        // Centroids are the members' means, in the new numbering.
        for (label, center) in [(0, CENTERS[3]), (3, CENTERS[0])] {
            for (got, want) in c.centroids.row(label).iter().zip(center) {
                assert!((got - want).abs() < 0.2, "{got} vs {want}");
            }
        }
        let means: Vec<f64> = (0..4)
            .map(|l| {
                let v = order_values(&truth);
                let m: Vec<f64> = (0..v.len())
                    .filter(|&i| c.labels[i] == l)
                    .map(|i| v[i])
                    .collect();
                m.iter().sum::<f64>() / m.len() as f64
            })
            .collect();
        assert!(means.windows(2).all(|w| w[0] > w[1]), "{means:?}");
        // Distances and inertia agree.
        let inertia: f64 = c.distances.iter().map(|d| d * d).sum();
        assert!((inertia - c.scores[0].inertia).abs() < 1e-6 * inertia);
    }

    #[test]
    fn auto_picks_four_by_silhouette() {
        let (x, truth) = blobs(300, 1.0, 2);
        let mut p = params(KChoice::Auto { min: 2, max: 8 }, 3);
        p.runs = 3;
        let c = cluster(x.view(), &order_values(&truth), &p).unwrap();
        assert_eq!(c.k, 4);
        let ks: Vec<usize> = c.scores.iter().map(|s| s.k).collect();
        assert_eq!(ks, (2..=8).collect::<Vec<_>>());
        let chosen: Vec<usize> = c.scores.iter().filter(|s| s.chosen).map(|s| s.k).collect();
        assert_eq!(chosen, vec![4]);
        assert_eq!(metrics::adjusted_rand_index(&c.labels, &truth), 1.0);
        for s in &c.scores {
            assert!(s.silhouette.is_some() && s.calinski_harabasz.is_some());
            assert!(s.davies_bouldin.is_some() && s.inertia > 0.0);
        }
        // The other scores agree on these blobs...
        let best_by = |f: fn(&KScore) -> f64| {
            let best = c.scores.iter().map(f).fold(f64::NEG_INFINITY, f64::max);
            c.scores.iter().find(|s| f(s) == best).unwrap().k
        };
        assert_eq!(best_by(|s| s.calinski_harabasz.unwrap()), 4);
        assert_eq!(best_by(|s| -s.davies_bouldin.unwrap()), 4);
        // ...and selecting by one (lower is better) works without a silhouette.
        let (small, small_truth) = blobs(60, 1.0, 2);
        let p = KMeansParams {
            select_by: SelectBy::DaviesBouldin,
            silhouette_sample: 0,
            runs: 2,
            ..p
        };
        let c = cluster(small.view(), &order_values(&small_truth), &p).unwrap();
        assert_eq!(c.k, 4);
        assert!(c.scores.iter().all(|s| s.silhouette.is_none()));
    }

    #[test]
    fn same_seed_same_result_other_seed_same_labels() {
        let (x, truth) = blobs(150, 1.0, 3);
        let v = order_values(&truth);
        let a = cluster(x.view(), &v, &params(KChoice::Fixed(4), 11)).unwrap();
        let b = cluster(x.view(), &v, &params(KChoice::Fixed(4), 11)).unwrap();
        assert_eq!(a, b);
        let other = cluster(x.view(), &v, &params(KChoice::Fixed(4), 12345)).unwrap();
        assert_eq!(a.labels, other.labels);
        assert_eq!(a.sizes, other.sizes);
        for (p, q) in a.centroids.iter().zip(&other.centroids) {
            assert!((p - q).abs() < 1e-9);
        }
    }

    #[test]
    fn sample_path_assigns_every_row() {
        let (x, truth) = blobs(300, 1.0, 4);
        let mut p = params(KChoice::Fixed(4), 5);
        p.fit_sample = 200;
        let c = cluster(x.view(), &order_values(&truth), &p).unwrap();
        assert!(c.sampled);
        assert_eq!(c.fit_rows, 200);
        assert_eq!(c.labels.len(), x.nrows());
        assert_eq!(c.distances.len(), x.nrows());
        assert!(c.labels.iter().all(|&l| l < c.k));
        assert_eq!(metrics::adjusted_rand_index(&c.labels, &truth), 1.0);
        assert_eq!(c.sizes.iter().sum::<usize>(), x.nrows());
    }

    #[test]
    fn inertia_within_one_percent_of_best_full_restarts() {
        // 4 overlapping blobs plus 5 % uniform noise, 5,000 rows; fit on a 1,000-row sample.
        let (blob_x, _) = blobs(1200, 2.5, 6);
        let mut rng = Xoshiro256PlusPlus::seed_from_u64(60);
        let noise = Array2::from_shape_fn((200, 3), |_| rng.gen_range(-5.0..15.0));
        let x = ndarray::concatenate![Axis(0), blob_x, noise];
        let values = vec![1.0; x.nrows()];
        let mut p = params(KChoice::Fixed(4), 9);
        p.fit_sample = 1000;
        let c = cluster(x.view(), &values, &p).unwrap();
        assert!(c.sampled);
        let ours = metrics::inertia(x.view(), &c.labels, c.centroids.view());

        let best = (0..10u64)
            .map(|s| {
                let model = KMeans::params_with_rng(4, Xoshiro256PlusPlus::seed_from_u64(1000 + s))
                    .n_runs(1)
                    .fit(&DatasetBase::from(x.view()))
                    .unwrap();
                let labels = linfa::traits::Predict::predict(&model, &x);
                metrics::inertia(
                    x.view(),
                    labels.as_slice().unwrap(),
                    model.centroids().view(),
                )
            })
            .fold(f64::INFINITY, f64::min);
        assert!(
            ours <= best * 1.01,
            "ours {ours} vs best of 10 restarts {best}"
        );
    }

    #[test]
    fn transform_round_trip_without_winsorising() {
        let raw = array![
            [0.0, -3.5, 1200.0],
            [5.0, 2.0, 15.0],
            [1e4, -250.0, 0.0],
            [42.0, 0.5, 7.25]
        ];
        let spec = TransformSpec {
            log1p: vec![true, true, false],
            winsor: (0.0, 1.0),
        };
        let t = FittedTransform::fit(raw.view(), &spec).unwrap();
        assert!(t.lower.iter().all(|v| *v == f64::NEG_INFINITY));
        assert!(t.upper.iter().all(|v| *v == f64::INFINITY));
        let scaled = t.apply(raw.view());
        for col in scaled.axis_iter(Axis(1)) {
            let mean = col.mean().unwrap();
            let var = col.mapv(|v| (v - mean) * (v - mean)).mean().unwrap();
            assert!(mean.abs() < 1e-12 && (var - 1.0).abs() < 1e-12);
        }
        let back = t.inverse(scaled.view());
        for (a, b) in raw.iter().zip(&back) {
            assert!((a - b).abs() <= 1e-9 * a.abs().max(1.0), "{a} vs {b}");
        }
    }

    #[test]
    fn transform_by_hand() {
        // Column 0, log1p: 0, e-1, -(e-1) -> 0, 1, -1; mean 0, std sqrt(2/3).
        // Column 1, as is: 1, 2, 3; mean 2, std sqrt(2/3).
        // Column 2 is constant: std 1, all scaled values 0.
        let e1 = std::f64::consts::E - 1.0;
        let raw = array![[0.0, 1.0, 5.0], [e1, 2.0, 5.0], [-e1, 3.0, 5.0]];
        let spec = TransformSpec {
            log1p: vec![true, false, false],
            winsor: (0.0, 1.0),
        };
        let t = FittedTransform::fit(raw.view(), &spec).unwrap();
        let s = (2.0f64 / 3.0).sqrt();
        let expect_mean = [0.0, 2.0, 5.0];
        let expect_std = [s, s, 1.0];
        for j in 0..3 {
            assert!((t.mean[j] - expect_mean[j]).abs() < 1e-12);
            assert!((t.std[j] - expect_std[j]).abs() < 1e-12);
        }
        let scaled = t.apply(raw.view());
        let want = array![
            [0.0, -1.0 / s, 0.0],
            [1.0 / s, 0.0, 0.0],
            [-1.0 / s, 1.0 / s, 0.0]
        ];
        for (a, b) in scaled.iter().zip(&want) {
            assert!((a - b).abs() < 1e-12, "{scaled} vs {want}");
        }
        // NaN passes through, so cluster() can say where it is.
        assert!(t.apply(array![[f64::NAN, 1.0, 5.0]].view())[[0, 0]].is_nan());
        let raw = array![[1.0, 2.0, 3.0], [f64::INFINITY, 0.5, 9.0]];
        let (copied, in_place) = (t.apply(raw.view()), t.apply_owned(raw));
        assert_eq!(copied.shape(), in_place.shape());
        for (a, b) in copied.iter().zip(&in_place) {
            assert_eq!(a.to_bits(), b.to_bits());
        }
    }

    #[test]
    fn winsorising_clips_to_quantiles() {
        // 1..=101: the 1 % quantile sits at position 1 (value 2), the 99 % at 99 (value 100).
        let raw = Array2::from_shape_fn((101, 1), |(i, _)| (i + 1) as f64);
        let t = FittedTransform::fit(raw.view(), &TransformSpec::new(vec![false])).unwrap();
        assert_eq!((t.lower[0], t.upper[0]), (2.0, 100.0));
        let back = t.inverse(t.apply(array![[1.0], [50.0], [1000.0]].view()).view());
        let want = [2.0, 50.0, 100.0];
        for (a, b) in back.iter().zip(want) {
            assert!((a - b).abs() < 1e-9, "{a} vs {b}");
        }
        assert!(TransformSpec::new(vec![false]).validate(2).is_err());
        let bad = TransformSpec {
            log1p: vec![false],
            winsor: (0.9, 0.1),
        };
        assert!(matches!(
            bad.validate(1),
            Err(ClusterError::InvalidTransform { .. })
        ));
    }

    #[test]
    fn errors_name_the_problem() {
        let mut x = Array2::from_shape_fn((10, 3), |(i, j)| (i * 3 + j) as f64);
        let v = vec![1.0; 10];
        x[[6, 2]] = f64::NAN;
        let err = cluster(x.view(), &v, &params(KChoice::Fixed(2), 0)).unwrap_err();
        assert!(
            matches!(
                err,
                ClusterError::NonFinite {
                    row: 6,
                    column: 2,
                    ..
                }
            ),
            "{err}"
        );
        assert!(err.to_string().contains("column 2") && err.to_string().contains("row 6"));
        x[[6, 2]] = 0.0;

        let e = |k, x: ArrayView2<f64>, v: &[f64]| cluster(x, v, &params(k, 0)).unwrap_err();
        assert!(matches!(
            e(KChoice::Fixed(0), x.view(), &v),
            ClusterError::KTooSmall { k: 0 }
        ));
        assert!(matches!(
            e(KChoice::Auto { min: 5, max: 3 }, x.view(), &v),
            ClusterError::KRangeEmpty { min: 5, max: 3 }
        ));
        assert!(matches!(
            e(KChoice::Fixed(11), x.view(), &v),
            ClusterError::TooFewRows { rows: 10, k: 11 }
        ));
        assert!(matches!(
            e(KChoice::Fixed(2), x.view(), &v[..9]),
            ClusterError::OrderValuesLength { rows: 10, got: 9 }
        ));
        let mut bad_v = v.clone();
        bad_v[4] = f64::INFINITY;
        assert!(matches!(
            e(KChoice::Fixed(2), x.view(), &bad_v),
            ClusterError::NonFiniteOrderValue { row: 4, .. }
        ));
        let p = KMeansParams {
            runs: 0,
            ..params(KChoice::Fixed(2), 0)
        };
        assert!(matches!(
            cluster(x.view(), &v, &p),
            Err(ClusterError::InvalidParam { name: "runs", .. })
        ));
    }

    #[test]
    fn too_few_distinct_points() {
        // Two distinct points, k = 3: one cluster stays empty and is numbered last.
        let x = array![[0.0], [0.0], [1.0], [1.0]];
        let c = cluster(
            x.view(),
            &[1.0, 1.0, 2.0, 2.0],
            &params(KChoice::Fixed(3), 0),
        )
        .unwrap();
        assert_eq!(c.labels, vec![1, 1, 0, 0]);
        assert_eq!(c.sizes, vec![2, 2, 0]);
        // Every row identical: no k in the range has a silhouette.
        let same = Array2::<f64>::zeros((6, 2));
        let err = cluster(
            same.view(),
            &[0.0; 6],
            &params(KChoice::Auto { min: 2, max: 3 }, 0),
        );
        assert!(matches!(err, Err(ClusterError::NoSelectableK { .. })));
    }

    #[test]
    fn single_cluster_and_layout_independence() {
        let (x, truth) = blobs(40, 1.0, 8);
        let v = order_values(&truth);
        let one = cluster(x.view(), &v, &params(KChoice::Fixed(1), 0)).unwrap();
        assert!(one.labels.iter().all(|&l| l == 0));
        assert_eq!(one.sizes, vec![160]);
        assert!(one.scores[0].chosen && one.scores[0].silhouette.is_none());

        // A column-major copy of the same data gives the same clustering.
        let mut fortran = Array2::zeros(x.raw_dim().f());
        fortran.assign(&x);
        let p = params(KChoice::Fixed(4), 1);
        assert_eq!(
            cluster(x.view(), &v, &p).unwrap(),
            cluster(fortran.view(), &v, &p).unwrap()
        );
    }

    #[test]
    fn params_serde_names_and_defaults() {
        let by = serde_json::to_string(&SelectBy::CalinskiHarabasz).unwrap();
        assert_eq!(by, "\"calinski_harabasz\"");
        let p: KMeansParams = serde_json::from_str(
            r#"{"k": {"auto": {"min": 3, "max": 6}}, "select_by": "davies_bouldin"}"#,
        )
        .unwrap();
        assert_eq!(p.k, KChoice::Auto { min: 3, max: 6 });
        assert_eq!(p.select_by, SelectBy::DaviesBouldin);
        assert_eq!((p.runs, p.max_iter, p.tolerance), (10, 300, 1e-4));
        assert_eq!((p.fit_sample, p.silhouette_sample), (20_000, 2_000));
        let fixed: KChoice = serde_json::from_str(r#"{"fixed": 5}"#).unwrap();
        assert_eq!(fixed, KChoice::Fixed(5));
    }
}
