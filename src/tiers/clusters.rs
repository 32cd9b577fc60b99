//! The polars side of clustering: customer features -> row-major matrix -> `kmeans::cluster`
//! -> readable tables (clusters numbered by value, mapped to tier names, centroids in original
//! units, k-selection scores, profiles). Pure: frames in, frames out.

use anyhow::Result;
use ndarray::Array2;
use polars::prelude::*;

use super::kmeans::{
    cluster, FittedTransform, KChoice, KMeansParams, KScore, SelectBy, TransformSpec,
};
use super::params::ClusteringParams;
use crate::columns as c;
use crate::stats::{mean_and_median, quantile_unsorted, Floats};

/// Output column names.
pub mod cols {
    pub const CLUSTER: &str = "cluster";
    pub const CLUSTER_TIER: &str = "cluster_tier";
    pub const DISTANCE: &str = "distance_to_centroid";
}

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
        let x = self.transform.apply(raw.view());
        Ok(x.rows()
            .into_iter()
            .map(|row| {
                let mut best = (0, f64::INFINITY);
                for (j, c) in self.centroids.rows().into_iter().enumerate() {
                    let d: f64 = row
                        .iter()
                        .zip(c.iter())
                        .map(|(a, b)| (a - b) * (a - b))
                        .sum();
                    if d < best.1 {
                        best = (j, d);
                    }
                }
                best.0
            })
            .collect())
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

/// Clusters the customers of the feature table.
pub fn fit_clusters(
    customers: &DataFrame,
    p: &ClusteringParams,
    tier_names: &[String],
) -> Result<Clustered> {
    let n = customers.height();
    let (kmin, kmax) = match p.k {
        Some(k) => (k, k),
        None => (p.k_range[0], p.k_range[1].min(n.saturating_sub(1))),
    };
    if n < 3 || kmin > kmax || kmin > n {
        return Ok(Clustered::Skipped(format!(
            "clustering skipped: {n} customers are too few for k = {}",
            match p.k {
                Some(k) => k.to_string(),
                None => format!("{}..{}", p.k_range[0], p.k_range[1]),
            }
        )));
    }

    // Missing values (e.g. no second purchase yet) are imputed with the feature's median.
    let d = p.features.len();
    let (raw, medians, missing) = feature_matrix(customers, &p.features, None)?;
    let imputed: Vec<serde_json::Value> = p
        .features
        .iter()
        .zip(&medians)
        .zip(&missing)
        .filter(|(_, m)| **m > 0)
        .map(|((f, med), m)| serde_json::json!({"feature": f, "missing": m, "imputed_with": med}))
        .collect();
    let spec = TransformSpec {
        log1p: p.log1p.clone(),
        winsor: (p.winsorize[0], p.winsorize[1]),
    };
    spec.validate(d)
        .map_err(|e| anyhow::anyhow!("[clustering] {e}"))?;
    let transform = FittedTransform::fit(raw.view(), &spec);
    let x = transform.apply(raw.view());
    // The untransformed matrix is not read again (n x d values: 350 MB at 100 M transactions).
    drop(raw);
    let order: Vec<f64> = Floats::of(customers, &p.order_by)?
        .iter()
        .map(|v| v.filter(|x| x.is_finite()).unwrap_or(0.0))
        .collect();
    let params = KMeansParams {
        k: match p.k {
            Some(k) => KChoice::Fixed(k),
            None => KChoice::Auto {
                min: kmin,
                max: kmax,
            },
        },
        select_by: match p.select_by.as_str() {
            "calinski_harabasz" => SelectBy::CalinskiHarabasz,
            "davies_bouldin" => SelectBy::DaviesBouldin,
            _ => SelectBy::Silhouette,
        },
        n_runs: p.runs,
        max_iter: p.max_iter,
        tolerance: p.tolerance,
        seed: p.seed,
        fit_sample: p.fit_sample,
        silhouette_sample: p.silhouette_sample,
    };
    let mut fit =
        cluster(x.view(), &order, &params).map_err(|e| anyhow::anyhow!("k-means: {e}"))?;
    // With a fixed k the elbow and silhouette curves are still worth seeing; on data small
    // enough to fit without sampling, score the whole range too (the fixed k stays chosen).
    if let (Some(k), true) = (p.k, n <= p.fit_sample) {
        let (lo, hi) = (p.k_range[0], p.k_range[1].min(n - 1));
        if lo <= hi {
            let range = KMeansParams {
                k: KChoice::Auto { min: lo, max: hi },
                ..params.clone()
            };
            if let Ok(all) = cluster(x.view(), &order, &range) {
                let mut scores: Vec<KScore> = all.scores.into_iter().filter(|s| s.k != k).collect();
                scores.extend(fit.scores.iter().cloned());
                for s in &mut scores {
                    s.chosen = s.k == k;
                }
                scores.sort_by_key(|s| s.k);
                fit.scores = scores;
            }
        }
    }
    let k = fit.k;
    let names: Vec<String> = (1..=k).map(|i| i.to_string()).collect();
    let tier_of_cluster = (k == tier_names.len()).then(|| tier_names.to_vec());

    let ids = customers.column(c::CUSTOMER_ID)?.clone();
    let assignments = DataFrame::new(
        n,
        vec![
            ids,
            Column::new(
                cols::CLUSTER.into(),
                fit.labels.iter().map(|l| *l as i32 + 1).collect::<Vec<_>>(),
            ),
            // Gathered from the k names, not a string per customer.
            match &tier_of_cluster {
                Some(t) => Series::new(cols::CLUSTER_TIER.into(), t)
                    .take(&IdxCa::from_vec(
                        "".into(),
                        fit.labels.iter().map(|l| *l as IdxSize).collect(),
                    ))?
                    .into_column(),
                None => Column::full_null(cols::CLUSTER_TIER.into(), n, &DataType::String),
            },
            Column::new(cols::DISTANCE.into(), std::mem::take(&mut fit.distances)),
        ],
    )?;

    let original = transform.inverse(fit.centroids.view());
    let mut ccols = vec![
        Column::new(cols::CLUSTER.into(), (1..=k as i32).collect::<Vec<_>>()),
        Column::new(
            cols::CLUSTER_TIER.into(),
            (0..k)
                .map(|i| tier_of_cluster.as_ref().map(|t| t[i].clone()))
                .collect::<Vec<_>>(),
        ),
        Column::new(
            "customers".into(),
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
    let centroids = DataFrame::new(k, ccols)?;

    let k_selection = DataFrame::new(
        fit.scores.len(),
        vec![
            Column::new(
                "k".into(),
                fit.scores.iter().map(|s| s.k as i32).collect::<Vec<_>>(),
            ),
            Column::new(
                "inertia".into(),
                fit.scores.iter().map(|s| s.inertia).collect::<Vec<_>>(),
            ),
            Column::new(
                "silhouette".into(),
                fit.scores.iter().map(|s| s.silhouette).collect::<Vec<_>>(),
            ),
            Column::new(
                "calinski_harabasz".into(),
                fit.scores
                    .iter()
                    .map(|s| s.calinski_harabasz)
                    .collect::<Vec<_>>(),
            ),
            Column::new(
                "davies_bouldin".into(),
                fit.scores
                    .iter()
                    .map(|s| s.davies_bouldin)
                    .collect::<Vec<_>>(),
            ),
            Column::new(
                "chosen".into(),
                fit.scores.iter().map(|s| s.chosen).collect::<Vec<_>>(),
            ),
        ],
    )?;

    let profiles = profiles(customers, p, &fit.labels, k, tier_of_cluster.as_deref())?;
    let metadata = serde_json::json!({
        "k": k,
        "k_chosen_by": if p.k.is_some() { "fixed in the pipeline file".to_string() } else { p.select_by.clone() },
        "sampled": fit.sampled,
        "fit_rows": fit.fit_rows,
        "customers": n,
        "features": p.features,
        "transform": &transform,
        "imputed": imputed,
        "numbering": format!("clusters numbered by mean {} of their members, highest first", p.order_by),
    });
    Ok(Clustered::Done(Box::new(ClusterOutput {
        k,
        labels: fit.labels,
        names,
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
        Column::new(cols::CLUSTER.into(), (1..=k as i32).collect::<Vec<_>>()),
        Column::new(
            cols::CLUSTER_TIER.into(),
            (0..k)
                .map(|g| tiers.map(|t| t[g].clone()))
                .collect::<Vec<_>>(),
        ),
        Column::new(
            "customers".into(),
            (0..k)
                .map(|g| members(g).count() as i64)
                .collect::<Vec<_>>(),
        ),
        Column::new(
            "customer_share".into(),
            (0..k)
                .map(|g| members(g).count() as f64 / n)
                .collect::<Vec<_>>(),
        ),
        Column::new(
            "revenue_share".into(),
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
