//! The names of the files a run writes, in one place.

pub const CUSTOMERS: &str = "customers.parquet";
pub const DATA_QUALITY: &str = "data_quality.parquet";
pub const RUN: &str = "run.json";
pub const TIERS: &str = "tiers.parquet";
/// With `[output] partition_by = "tier"`: `tiers/tier=<name>/part-0.parquet`.
pub const TIERS_DIR: &str = "tiers";
pub const TIER_SUMMARY: &str = "tier_summary.parquet";
pub const SEGMENT_SUMMARY: &str = "segment_summary.parquet";
pub const THRESHOLDS: &str = "rfm_thresholds.parquet";
pub const ALERTS: &str = "alerts.parquet";
/// With `[output] csv = true`: the lists for Excel.
pub const TIERS_CSV: &str = "tiers.csv";
pub const ALERTS_CSV: &str = "alerts.csv";
pub const CLUSTERS: &str = "clusters.parquet";
pub const CENTROIDS: &str = "centroids.parquet";
pub const K_SELECTION: &str = "k_selection.parquet";
pub const CLUSTER_PROFILES: &str = "cluster_profiles.parquet";
pub const COMPARISON: &str = "comparison.parquet";
pub const CROSSTAB: &str = "crosstab.parquet";
pub const DISAGREEMENTS: &str = "disagreements.parquet";
pub const GROUP_PROFILES: &str = "group_profiles.parquet";
pub const REPORT: &str = "report.html";
pub const TIER_HISTORY: &str = "tier_history.parquet";
pub const MIGRATION: &str = "migration.parquet";
pub const MOVEMENTS: &str = "movements.parquet";
pub const STABILITY: &str = "stability.parquet";
pub const CHARTS_DIR: &str = "charts";
pub const POTENTIAL: &str = "potential.parquet";
pub const POTENTIAL_FITS: &str = "potential_fits.parquet";
pub const POTENTIAL_BY_TIER: &str = "potential_by_tier.parquet";
pub const VALIDATION: &str = "validation.parquet";
pub const ATTRIBUTE_SUMMARY: &str = "attribute_summary.parquet";
