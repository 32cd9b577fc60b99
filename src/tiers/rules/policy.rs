//! Policy columns of the tiers table: each tier's policy values repeated on its customers'
//! rows. Gathering only: policies are read and checked in `params`.

use anyhow::Result;
use polars::prelude::*;

use super::text::gather;
use crate::tiers::params::{GradingParams, PolicyValue};

/// A policy field's value per tier as one type (`None` where unset or of another type).
fn each_tier<'a, T>(
    per_tier: &[Option<&'a PolicyValue>],
    value: impl Fn(&'a PolicyValue) -> Option<T>,
) -> Vec<Option<T>> {
    per_tier.iter().map(|v| v.and_then(&value)).collect()
}

/// One `policy_<field>` column per policy field, for customers of tiers `tier`.
pub(super) fn policy_columns(p: &GradingParams, tier: &[usize]) -> Result<Vec<Column>> {
    let mut out = Vec::new();
    for field in &p.policy_fields {
        // One value per tier (missing where a tier does not set the field), then gathered.
        let per_tier: Vec<Option<&PolicyValue>> = p
            .tier_names
            .iter()
            .map(|name| {
                p.policies
                    .get(name)
                    .and_then(|v| v.iter().find(|(k, _)| k == field).map(|(_, v)| v))
            })
            .collect();
        let name: PlSmallStr = format!("policy_{field}").into();
        let values = match per_tier.iter().flatten().next() {
            Some(PolicyValue::Text(_)) => Series::new(
                name,
                each_tier(&per_tier, |v| match v {
                    PolicyValue::Text(s) => Some(s.as_str()),
                    _ => None,
                }),
            ),
            Some(PolicyValue::Bool(_)) => Series::new(
                name,
                each_tier(&per_tier, |v| match v {
                    PolicyValue::Bool(b) => Some(*b),
                    _ => None,
                }),
            ),
            _ if per_tier
                .iter()
                .flatten()
                .all(|v| matches!(v, PolicyValue::Int(_))) =>
            {
                Series::new(
                    name,
                    each_tier(&per_tier, |v| match v {
                        PolicyValue::Int(i) => Some(*i),
                        _ => None,
                    }),
                )
            }
            _ => Series::new(
                name,
                each_tier(&per_tier, |v| match v {
                    PolicyValue::Int(i) => Some(*i as f64),
                    PolicyValue::Float(f) => Some(*f),
                    _ => None,
                }),
            ),
        };
        out.push(gather(&values, tier.iter().copied())?);
    }
    Ok(out)
}
