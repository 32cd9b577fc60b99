//! The polars side of clustering: customer features -> row-major matrix -> `kmeans::cluster`
//! -> readable tables (clusters numbered by value, mapped to tier names, centroids in original
//! units, k-selection scores, profiles). Pure: frames in, frames out.

use anyhow::{Context, Result};
use ndarray::{Array2, ArrayView2};
use polars::prelude::*;

use super::cluster_params::ClusteringParams;
use super::distance;
use super::kmeans::{cluster, Clustering, FittedTransform, KChoice, KScore};
use crate::columns as c;
use crate::stats::{mean_and_median, quantile_unsorted, Floats};

/// What clustering produced.
pub struct ClusterOutput {
    pub k: usize,
    /// Cluster of each customer (row order of the customer table), 0 = most valuable.
    pub labels: Vec<usize>,
    /// Display names: "1" .. "k".
    pub names: Vec<String>,
    /// Tier name of each cluster when the cluster count equals the tier count.
    pub tier_of_cluster: Option<Vec<String>>,
    pub scores: Vec<KScore>,
    pub sampled: bool,
    pub fit_rows: usize,
    /// clusters.parquet
    pub assignments: DataFrame,
    /// centroids.parquet
    pub centroids: DataFrame,
    /// k_selection.parquet
    pub k_selection: DataFrame,
    /// cluster_profiles.parquet
    pub profiles: DataFrame,
    /// For run.json: the fitted transform and what was imputed.
    pub metadata: serde_json::Value,
    /// The fitted model, to assign customers of other snapshots to the same clusters.
    pub model: ClusterModel,
}

/// A fitted clustering that can place new customers: imputation, transform, centroids.
#[derive(Debug, Clone)]
pub struct ClusterModel {
    pub features: Vec<String>,
    pub medians: Vec<f64>,
    pub transform: FittedTransform,
    /// Scaled centroids in the numbering by value (row 0 = cluster 1).
    pub centroids: Array2<f64>,
}

impl ClusterModel {
    /// Cluster index (0 = most valuable) of every customer of `customers`: nearest centroid.
    pub fn assign(&self, customers: &DataFrame) -> Result<Vec<usize>> {
        let raw = feature_matrix(customers, &self.features, Some(&self.medians))?.0;
        let x = self.transform.apply_owned(raw);
        let d = x.ncols();
        let data = x.as_slice().context("the scaled matrix is row-major")?;
        let cents = self.centroids.as_standard_layout();
        let cents = cents.as_slice().context("the centroids are row-major")?;
        let mut labels = vec![usize::MAX; x.nrows()];
        let mut sq = vec![0.0; x.nrows()];
        distance::assign(data, d, cents, &mut labels, &mut sq);
        Ok(labels)
    }
}

/// Row-major feature matrix; missing values imputed with `medians` or, when not given, with
/// each feature's median (returned, with the count imputed per feature).
fn feature_matrix(
    customers: &DataFrame,
    features: &[String],
    medians: Option<&[f64]>,
) -> Result<(Array2<f64>, Vec<f64>, Vec<usize>)> {
    let n = customers.height();
    let mut raw = Array2::<f64>::zeros((n, features.len()));
    let mut used = Vec::with_capacity(features.len());
    let mut missing = Vec::with_capacity(features.len());
    for (j, f) in features.iter().enumerate() {
        let v = Floats::of(customers, f)?;
        let median = match medians {
            Some(m) => m[j],
            None => {
                let mut present: Vec<f64> = v.iter().flatten().filter(|x| x.is_finite()).collect();
                // A feature with no value at all is imputed with 0, not NaN.
                if present.is_empty() {
                    0.0
                } else {
                    quantile_unsorted(&mut present, 0.5)
                }
            }
        };
        missing.push(v.iter().filter(|x| !x.is_some_and(f64::is_finite)).count());
        for (i, x) in v.iter().enumerate() {
            raw[[i, j]] = x.filter(|x| x.is_finite()).unwrap_or(median);
        }
        used.push(median);
    }
    Ok((raw, used, missing))
}

/// Why clustering did not run, for data too small for the k asked.
pub enum Clustered {
    Done(Box<ClusterOutput>),
    Skipped(String),
}

/// The choice of k for `n` customers: the range is capped below `n` (a cluster per customer
/// says nothing); `None` when there are too few customers for the k asked.
fn k_choice(p: &ClusteringParams, n: usize) -> Option<KChoice> {
    let (kmin, kmax) = match p.k {
        Some(k) => (k, k),
        None => (p.k_range[0], p.k_range[1].min(n.saturating_sub(1))),
    };
    if n < 3 || kmin > kmax || kmin > n {
        return None;
    }
    Some(match p.k {
        Some(k) => KChoice::Fixed(k),
        None => KChoice::Auto {
            min: kmin,
            max: kmax,
        },
    })
}

/// Clusters the customers of the feature table.
pub fn fit_clusters(
    customers: &DataFrame,
    p: &ClusteringParams,
    tier_names: &[String],
) -> Result<Clustered> {
    let n = customers.height();
    let Some(choice) = k_choice(p, n) else {
        return Ok(Clustered::Skipped(format!(
            "clustering skipped: {n} customers are too few for k = {}",
            match p.k {
                Some(k) => k.to_string(),
                None => format!("{}..{}", p.k_range[0], p.k_range[1]),
            }
        )));
    };
    // Missing values (e.g. no second purchase yet) are imputed with the feature's median.
    let (raw, medians, missing) = feature_matrix(customers, &p.features, None)?;
    let transform = FittedTransform::fit(raw.view(), &p.transform)
        .map_err(|e| anyhow::anyhow!("[clustering] {e}"))?;
    // The untransformed matrix is not read again: transformed in place.
    let x = transform.apply_owned(raw);
    let order: Vec<f64> = Floats::of(customers, &p.order_by)?
        .iter()
        .map(|v| v.filter(|x| x.is_finite()).unwrap_or(0.0))
        .collect();
    let params = p.kmeans(choice);
    let mut fit =
        cluster(x.view(), &order, &params).map_err(|e| anyhow::anyhow!("k-means: {e}"))?;
    if let (Some(k), true) = (p.k, n <= p.fit_sample) {
        fit.scores = scores_over_the_range(x.view(), &order, p, k, n, &fit.scores);
    }
    let k = fit.k;
    let tier_of_cluster = (k == tier_names.len()).then(|| tier_names.to_vec());
    let assignments = assignments(customers, &mut fit, tier_of_cluster.as_deref())?;
    let centroids = centroids(p, &transform, &fit, tier_of_cluster.as_deref())?;
    let k_selection = k_selection(&fit.scores)?;
    let profiles = profiles(customers, p, &fit.labels, k, tier_of_cluster.as_deref())?;
    let metadata = serde_json::json!({
        "k": k,
        "k_chosen_by": if p.k.is_some() { "fixed in the pipeline file".to_string() } else { p.select_by.to_string() },
        "sampled": fit.sampled,
        "fit_rows": fit.fit_rows,
        "customers": n,
        "features": p.features,
        "transform": &transform,
        "imputed": imputed(p, &medians, &missing),
        "numbering": format!("clusters numbered by mean {} of their members, highest first", p.order_by),
    });
    Ok(Clustered::Done(Box::new(ClusterOutput {
        k,
        labels: fit.labels,
        names: (1..=k).map(|i| i.to_string()).collect(),
        tier_of_cluster,
        scores: fit.scores,
        sampled: fit.sampled,
        fit_rows: fit.fit_rows,
        assignments,
        centroids,
        k_selection,
        profiles,
        metadata,
        model: ClusterModel {
            features: p.features.clone(),
            medians,
            transform,
            centroids: fit.centroids.clone(),
        },
    })))
}

/// With a fixed k the elbow and silhouette curves are still worth seeing: on data small
/// enough to fit without sampling, the whole range is scored too (the fixed k stays chosen).
/// Returns the scores to keep: `fixed` alone when the range cannot be fitted.
fn scores_over_the_range(
    x: ArrayView2<f64>,
    order: &[f64],
    p: &ClusteringParams,
    k: usize,
    n: usize,
    fixed: &[KScore],
) -> Vec<KScore> {
    let (lo, hi) = (p.k_range[0], p.k_range[1].min(n - 1));
    if lo > hi {
        return fixed.to_vec();
    }
    let range = p.kmeans(KChoice::Auto { min: lo, max: hi });
    let Ok(all) = cluster(x, order, &range) else {
        return fixed.to_vec();
    };
    let mut scores: Vec<KScore> = all.scores.into_iter().filter(|s| s.k != k).collect();
    scores.extend(fixed.iter().cloned());
    for s in &mut scores {
        s.chosen = s.k == k;
    }
    scores.sort_by_key(|s| s.k);
    scores
}

/// What run.json says was imputed: per feature with missing values, how many and with what.
fn imputed(p: &ClusteringParams, medians: &[f64], missing: &[usize]) -> Vec<serde_json::Value> {
    p.features
        .iter()
        .zip(medians)
        .zip(missing)
        .filter(|(_, m)| **m > 0)
        .map(|((f, med), m)| serde_json::json!({"feature": f, "missing": m, "imputed_with": med}))
        .collect()
}

/// clusters.parquet: every customer's cluster, its tier name, and its distance to the
/// centroid (taken from the fit: not needed again).
fn assignments(
    customers: &DataFrame,
    fit: &mut Clustering,
    tier_of_cluster: Option<&[String]>,
) -> Result<DataFrame> {
    let n = customers.height();
    let ids = customers.column(c::CUSTOMER_ID)?.clone();
    Ok(DataFrame::new(
        n,
        vec![
            ids,
            Column::new(
                c::CLUSTER.into(),
                fit.labels.iter().map(|l| *l as i32 + 1).collect::<Vec<_>>(),
            ),
            // Gathered from the k names, not a string per customer.
            match tier_of_cluster {
                Some(t) => Series::new(c::CLUSTER_TIER.into(), t)
                    .take(&IdxCa::from_vec(
                        "".into(),
                        fit.labels.iter().map(|l| *l as IdxSize).collect(),
                    ))?
                    .into_column(),
                None => Column::full_null(c::CLUSTER_TIER.into(), n, &DataType::String),
            },
            Column::new(c::DISTANCE.into(), std::mem::take(&mut fit.distances)),
        ],
    )?)
}

/// centroids.parquet: per cluster, its size and its centroid in original and scaled units.
fn centroids(
    p: &ClusteringParams,
    transform: &FittedTransform,
    fit: &Clustering,
    tier_of_cluster: Option<&[String]>,
) -> Result<DataFrame> {
    let k = fit.k;
    let original = transform.inverse(fit.centroids.view());
    let mut ccols = vec![
        Column::new(c::CLUSTER.into(), (1..=k as i32).collect::<Vec<_>>()),
        Column::new(
            c::CLUSTER_TIER.into(),
            (0..k)
                .map(|i| tier_of_cluster.map(|t| t[i].clone()))
                .collect::<Vec<_>>(),
        ),
        Column::new(
            c::CUSTOMERS.into(),
            fit.sizes.iter().map(|s| *s as i64).collect::<Vec<_>>(),
        ),
    ];
    for (j, f) in p.features.iter().enumerate() {
        ccols.push(Column::new(f.as_str().into(), original.column(j).to_vec()));
        ccols.push(Column::new(
            format!("{f}_scaled").into(),
            fit.centroids.column(j).to_vec(),
        ));
    }
    Ok(DataFrame::new(k, ccols)?)
}

/// k_selection.parquet: the scores of every k tried.
fn k_selection(scores: &[KScore]) -> Result<DataFrame> {
    Ok(DataFrame::new(
        scores.len(),
        vec![
            Column::new(
                c::K.into(),
                scores.iter().map(|s| s.k as i32).collect::<Vec<_>>(),
            ),
            Column::new(
                c::INERTIA.into(),
                scores.iter().map(|s| s.inertia).collect::<Vec<_>>(),
            ),
            Column::new(
                c::SILHOUETTE.into(),
                scores.iter().map(|s| s.silhouette).collect::<Vec<_>>(),
            ),
            Column::new(
                c::CALINSKI_HARABASZ.into(),
                scores
                    .iter()
                    .map(|s| s.calinski_harabasz)
                    .collect::<Vec<_>>(),
            ),
            Column::new(
                c::DAVIES_BOULDIN.into(),
                scores.iter().map(|s| s.davies_bouldin).collect::<Vec<_>>(),
            ),
            Column::new(
                c::CHOSEN.into(),
                scores.iter().map(|s| s.chosen).collect::<Vec<_>>(),
            ),
        ],
    )?)
}

/// Size, share, revenue share, and mean and median of every feature per cluster.
fn profiles(
    customers: &DataFrame,
    p: &ClusteringParams,
    labels: &[usize],
    k: usize,
    tiers: Option<&[String]>,
) -> Result<DataFrame> {
    let n = labels.len().max(1) as f64;
    let monetary = Floats::of(customers, c::MONETARY)?;
    let total: f64 = monetary.iter().flatten().sum();
    let members = |g: usize| (0..labels.len()).filter(move |i| labels[*i] == g);
    let mut cols_out = vec![
        Column::new(c::CLUSTER.into(), (1..=k as i32).collect::<Vec<_>>()),
        Column::new(
            c::CLUSTER_TIER.into(),
            (0..k)
                .map(|g| tiers.map(|t| t[g].clone()))
                .collect::<Vec<_>>(),
        ),
        Column::new(
            c::CUSTOMERS.into(),
            (0..k)
                .map(|g| members(g).count() as i64)
                .collect::<Vec<_>>(),
        ),
        Column::new(
            c::CUSTOMER_SHARE.into(),
            (0..k)
                .map(|g| members(g).count() as f64 / n)
                .collect::<Vec<_>>(),
        ),
        Column::new(
            c::REVENUE_SHARE.into(),
            (0..k)
                .map(|g| {
                    let r: f64 = members(g).filter_map(|i| monetary.get(i)).sum();
                    if total != 0.0 {
                        r / total
                    } else {
                        0.0
                    }
                })
                .collect::<Vec<_>>(),
        ),
    ];
    let mut features: Vec<&str> = p.features.iter().map(String::as_str).collect();
    if !features.contains(&c::MONETARY) {
        features.push(c::MONETARY);
    }
    for f in features {
        let v = Floats::of(customers, f)?;
        let (means, medians): (Vec<Option<f64>>, Vec<Option<f64>>) = (0..k)
            .map(|g| mean_and_median(members(g).filter_map(|i| v.get(i))))
            .unzip();
        cols_out.push(Column::new(format!("mean_{f}").into(), means));
        cols_out.push(Column::new(format!("median_{f}").into(), medians));
    }
    Ok(DataFrame::new(k, cols_out)?)
}
