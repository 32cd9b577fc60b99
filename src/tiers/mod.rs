//! Grading customers: rule-based tiers (`rules`, configured by `params`).

pub mod params;
pub mod rules;
