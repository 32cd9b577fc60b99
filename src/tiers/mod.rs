//! Grading customers: rule-based tiers (`rules`, configured by `params`) and k-means clusters
//! (`kmeans` on ndarray with linfa, `clusters` turning them into tables, `metrics` to score them).

pub mod attribute_rules;
pub mod cluster_params;
pub mod clusters;
pub mod distance;
pub mod kmeans;
pub mod metrics;
pub mod params;
pub mod rules;
