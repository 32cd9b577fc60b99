//! The `[clustering]` section of the pipeline file: raw serde struct (enums, not strings, so an
//! unknown value is an error that lists the allowed ones) and its one `check()` into typed
//! params. The defaults and the rules of the k-means settings themselves live in `kmeans`
//! (`DEFAULT_*`, `KMeansParams::check`, `TransformSpec::validate`); this module only adds what
//! depends on the pipeline: which columns exist, and the sizes a pipeline may ask for.

use anyhow::{bail, Result};
use serde::Deserialize;

use super::attribute_rules::AttributeNames;
use super::kmeans::{self, KChoice, KMeansParams, SelectBy, TransformSpec};
use super::params::Available;
use crate::columns as c;

/// `[clustering]` as written.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawClustering {
    #[serde(default = "default_true")]
    pub enabled: bool,
    /// Feature columns of customers.parquet; default recency, frequency, monetary and profit
    /// where present.
    pub features: Option<Vec<String>>,
    /// Features log-transformed (signed log1p) before scaling; default every feature but rates.
    pub log1p: Option<Vec<String>>,
    /// Lower and upper quantiles each feature is clipped to before scaling; [0, 1] = off.
    #[serde(default = "default_winsorize")]
    pub winsorize: [f64; 2],
    /// A number of clusters, or "auto" to choose over `k_range`.
    #[serde(default)]
    pub k: RawK,
    #[serde(default = "default_k_range")]
    pub k_range: [usize; 2],
    #[serde(default)]
    pub select_by: SelectBy,
    #[serde(default = "default_runs")]
    pub runs: usize,
    #[serde(default = "default_max_iter")]
    pub max_iter: u64,
    #[serde(default = "default_tolerance")]
    pub tolerance: f64,
    #[serde(default = "default_seed")]
    pub seed: u64,
    /// Fit on a deterministic sample of this many customers when there are more.
    #[serde(default = "default_fit_sample")]
    pub fit_sample: usize,
    /// Silhouette is O(n^2): evaluated on a deterministic sample of this many customers.
    #[serde(default = "default_silhouette_sample")]
    pub silhouette_sample: usize,
    /// Clusters are numbered by the mean of this feature, highest first.
    #[serde(default = "default_order_by")]
    pub order_by: String,
}

impl Default for RawClustering {
    fn default() -> Self {
        toml::from_str("").expect("defaults deserialize")
    }
}

/// `k = 4` or `k = "auto"`.
#[derive(Debug, Clone, Deserialize, PartialEq)]
#[serde(untagged)]
pub enum RawK {
    Fixed(usize),
    Named(String),
}

impl Default for RawK {
    fn default() -> Self {
        RawK::Named("auto".into())
    }
}

fn default_true() -> bool {
    true
}
fn default_winsorize() -> [f64; 2] {
    [kmeans::DEFAULT_WINSOR.0, kmeans::DEFAULT_WINSOR.1]
}
fn default_k_range() -> [usize; 2] {
    [kmeans::DEFAULT_K_RANGE.0, kmeans::DEFAULT_K_RANGE.1]
}
fn default_runs() -> usize {
    kmeans::DEFAULT_RUNS
}
fn default_max_iter() -> u64 {
    kmeans::DEFAULT_MAX_ITER
}
fn default_tolerance() -> f64 {
    kmeans::DEFAULT_TOLERANCE
}
fn default_seed() -> u64 {
    kmeans::DEFAULT_SEED
}
fn default_fit_sample() -> usize {
    kmeans::DEFAULT_FIT_SAMPLE
}
fn default_silhouette_sample() -> usize {
    kmeans::DEFAULT_SILHOUETTE_SAMPLE
}
fn default_order_by() -> String {
    c::MONETARY.into()
}

/// A pipeline may not ask for a fit sample below this many customers (fewer are fitted whole):
/// a smaller sample would fit the data's noise.
const MIN_FIT_SAMPLE: usize = 100;
/// Nor for a silhouette on fewer customers than this: below it the score is mostly noise.
const MIN_SILHOUETTE_SAMPLE: usize = 10;

/// `[clustering]`, checked.
#[derive(Debug, Clone, PartialEq, serde::Serialize)]
pub struct ClusteringParams {
    pub features: Vec<String>,
    /// One log1p flag per feature, and the winsorising quantiles.
    pub transform: TransformSpec,
    /// `None` = choose over `k_range`.
    pub k: Option<usize>,
    /// With `k = "auto"` the range chosen from; with a fixed k, scored for reference.
    pub k_range: [usize; 2],
    pub select_by: SelectBy,
    pub runs: usize,
    pub max_iter: u64,
    pub tolerance: f64,
    pub seed: u64,
    pub fit_sample: usize,
    pub silhouette_sample: usize,
    pub order_by: String,
}

impl ClusteringParams {
    /// The k-means settings for a choice of k.
    pub fn kmeans(&self, k: KChoice) -> KMeansParams {
        KMeansParams {
            k,
            select_by: self.select_by,
            runs: self.runs,
            max_iter: self.max_iter,
            tolerance: self.tolerance,
            seed: self.seed,
            fit_sample: self.fit_sample,
            silhouette_sample: self.silhouette_sample,
        }
    }
}

/// Numeric columns of customers.parquet that can be clustered on, given the data: the
/// features table's columns without the ID, the dates and the region name.
pub fn clusterable_columns(available: Available) -> Vec<&'static str> {
    c::customer_columns(available.profit, available.payments, false)
        .into_iter()
        .filter(|n| ![c::CUSTOMER_ID, c::FIRST_PURCHASE, c::LAST_PURCHASE].contains(n))
        .collect()
}

/// Short names users write for the usual features.
fn feature_alias(name: &str) -> &str {
    match name {
        "recency" => c::RECENCY_DAYS,
        "tenure" => c::TENURE_DAYS,
        other => other,
    }
}

impl RawClustering {
    /// Checks the section against the columns the data will have; `None` when clustering is
    /// switched off.
    pub fn check(
        &self,
        available: Available,
        attributes: &AttributeNames,
    ) -> Result<Option<ClusteringParams>> {
        if !self.enabled {
            return Ok(None);
        }
        // The features, the potential models' values and the master's numeric attributes.
        let mut known = clusterable_columns(available);
        if available.potential {
            known.extend(c::POTENTIAL_GRADED);
        }
        known.extend(attributes.numeric.iter().map(|(n, _)| n.as_str()));
        let features = self.check_features(&known, available)?;
        let transform = TransformSpec {
            log1p: self.check_log1p(&features)?,
            winsor: (self.winsorize[0], self.winsorize[1]),
        };
        transform
            .validate(features.len())
            .map_err(|e| anyhow::anyhow!("[clustering] {e}"))?;
        let k = match &self.k {
            RawK::Fixed(k) => Some(*k),
            RawK::Named(s) if s == "auto" => None,
            RawK::Named(s) => {
                bail!("[clustering] k = {s:?}: give a number of clusters or \"auto\"")
            }
        };
        let [kmin, kmax] = self.k_range;
        if kmin < 2 || kmin > kmax {
            bail!(
                "[clustering] k_range = [min, max] with 2 <= min <= max, got {:?}",
                self.k_range
            );
        }
        if self.fit_sample < MIN_FIT_SAMPLE {
            bail!(
                "[clustering] fit_sample must be at least {MIN_FIT_SAMPLE}, got {}",
                self.fit_sample
            );
        }
        if self.silhouette_sample < MIN_SILHOUETTE_SAMPLE {
            bail!(
                "[clustering] silhouette_sample must be at least {MIN_SILHOUETTE_SAMPLE}, got {}",
                self.silhouette_sample
            );
        }
        let order_by = feature_alias(&self.order_by).to_string();
        if !known.contains(&order_by.as_str()) {
            bail!("[clustering] order_by {order_by:?} is not a numeric column of the customers; e.g. \"monetary\"");
        }
        let params = ClusteringParams {
            features,
            transform,
            k,
            k_range: self.k_range,
            select_by: self.select_by,
            runs: self.runs,
            max_iter: self.max_iter,
            tolerance: self.tolerance,
            seed: self.seed,
            fit_sample: self.fit_sample,
            silhouette_sample: self.silhouette_sample,
            order_by,
        };
        let choice = match k {
            Some(k) => KChoice::Fixed(k),
            None => KChoice::Auto {
                min: kmin,
                max: kmax,
            },
        };
        params
            .kmeans(choice)
            .check()
            .map_err(|e| anyhow::anyhow!("[clustering] {e}"))?;
        Ok(Some(params))
    }

    fn check_features(&self, known: &[&str], available: Available) -> Result<Vec<String>> {
        let features: Vec<String> = match &self.features {
            Some(f) => f.iter().map(|x| feature_alias(x).to_string()).collect(),
            None => {
                let mut f = vec![c::RECENCY_DAYS, c::FREQUENCY, c::MONETARY];
                if available.profit {
                    f.push(c::PROFIT);
                }
                f.into_iter().map(String::from).collect()
            }
        };
        if features.is_empty() {
            bail!("[clustering] features is empty; name at least one, e.g. [\"recency_days\", \"frequency\", \"monetary\"]");
        }
        for (i, f) in features.iter().enumerate() {
            if !known.contains(&f.as_str()) {
                bail!(
                    "[clustering] feature {f:?} is not a numeric column of the customers for this data; choose from: {}",
                    known.join(", ")
                );
            }
            if features[..i].contains(f) {
                bail!("[clustering] feature {f:?} is listed twice");
            }
        }
        Ok(features)
    }

    /// One flag per feature: the ones listed, or every feature but the rates.
    fn check_log1p(&self, features: &[String]) -> Result<Vec<bool>> {
        let rates = [c::RETURN_RATE, c::MARGIN, c::ON_TIME_RATE];
        let Some(list) = &self.log1p else {
            return Ok(features
                .iter()
                .map(|f| !rates.contains(&f.as_str()))
                .collect());
        };
        let list: Vec<&str> = list.iter().map(|x| feature_alias(x)).collect();
        for l in &list {
            if !features.iter().any(|f| f == l) {
                bail!(
                    "[clustering] log1p names {l:?}, which is not among the features {features:?}"
                );
            }
        }
        Ok(features
            .iter()
            .map(|f| list.contains(&f.as_str()))
            .collect())
    }
}
