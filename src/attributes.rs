//! The customer master beside the features: each graded customer's attributes (null for
//! customers the master lacks), `credit_utilisation` where a credit limit and overdue
//! receivables exist, and the counts of customers found on one side only. Pure: frames in,
//! a frame and counts out.

use anyhow::Result;
use polars::prelude::*;

use crate::columns as c;
use crate::config::attributes::{AttributesParams, CREDIT_LIMIT, CREDIT_UTILISATION};

/// Customers found on one side only.
#[derive(Debug, Clone, Copy, Default, serde::Serialize)]
pub struct MasterMatch {
    /// Rows of the master (one per customer).
    pub master_customers: u64,
    /// Customers of the master without a purchase in the window: not graded.
    pub master_only: u64,
    /// Graded customers the master does not list: their attributes are empty.
    pub missing_from_master: u64,
}

/// `customers` (the graded table, sorted by ID) with the master's attribute columns, in the
/// customers' order, and `credit_utilisation` when `payments` gives overdue amounts.
pub fn attach_attributes(
    customers: &DataFrame,
    master: &DataFrame,
    a: &AttributesParams,
    payments: bool,
) -> Result<(DataFrame, MasterMatch)> {
    let ids = customers.column(c::CUSTOMER_ID)?.str()?;
    let master_ids = master.column(c::CUSTOMER_ID)?.str()?;
    let row_of: std::collections::HashMap<&str, usize> = master_ids
        .iter()
        .enumerate()
        .filter_map(|(i, id)| id.map(|id| (id, i)))
        .collect();
    // Per customer, its master row.
    let rows: Vec<Option<IdxSize>> = ids
        .iter()
        .map(|id| id.and_then(|id| row_of.get(id)).map(|r| *r as IdxSize))
        .collect();
    let found = rows.iter().filter(|r| r.is_some()).count() as u64;
    let take = IdxCa::from_iter_options("rows".into(), rows.into_iter());
    let mut out = customers.clone();
    for (name, _) in &a.numeric {
        out.with_column(master.column(name)?.take(&take)?)?;
    }
    for name in &a.categorical {
        out.with_column(master.column(name)?.take(&take)?)?;
    }
    if a.has_utilisation(payments) {
        let limit = out.column(CREDIT_LIMIT)?.f64()?.clone();
        let overdue = out.column(c::OVERDUE_AMOUNT)?.cast(&DataType::Float64)?;
        let overdue = overdue.f64()?;
        let u: Float64Chunked = limit
            .iter()
            .zip(overdue.iter())
            .map(|(l, o)| match (l, o) {
                (Some(l), Some(o)) if l > 0.0 => Some(o / l),
                _ => None,
            })
            .collect();
        out.with_column(u.with_name(CREDIT_UTILISATION.into()).into_column())?;
    }
    let graded = customers.height() as u64;
    Ok((
        out,
        MasterMatch {
            master_customers: master.height() as u64,
            master_only: master.height() as u64 - found,
            missing_from_master: graded - found,
        },
    ))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::attributes::RawAttributes;

    #[test]
    fn attributes_join_by_id_and_utilisation_divides_overdue_by_limit() {
        let customers = df!(
            c::CUSTOMER_ID => ["c1", "c2", "c3"],
            c::OVERDUE_AMOUNT => [500.0, 0.0, 100.0]
        )
        .unwrap();
        // c3 is not in the master; m9 has no transactions.
        let master = df!(
            c::CUSTOMER_ID => ["m9", "c2", "c1"],
            "credit_limit" => [Some(1.0), Some(0.0), Some(2000.0)],
            "credit_rating" => ["A", "B", "D"]
        )
        .unwrap();
        let a: RawAttributes = toml::from_str(
            "paths = \"m.csv\"\ncustomer_id = \"id\"\nnumeric = { credit_limit = \"higher_is_better\" }\ncategorical = [\"credit_rating\"]",
        )
        .unwrap();
        let a = a.check(std::path::Path::new(".")).unwrap();
        let (out, m) = attach_attributes(&customers, &master, &a, true).unwrap();
        let rating: Vec<Option<&str>> = out
            .column("credit_rating")
            .unwrap()
            .str()
            .unwrap()
            .iter()
            .collect();
        assert_eq!(rating, [Some("D"), Some("B"), None]);
        let u: Vec<Option<f64>> = out
            .column(CREDIT_UTILISATION)
            .unwrap()
            .f64()
            .unwrap()
            .iter()
            .collect();
        // 500 / 2000; a limit of 0 gives none; no master row gives none.
        assert_eq!(u, [Some(0.25), None, None]);
        assert_eq!(
            (m.master_customers, m.master_only, m.missing_from_master),
            (3, 1, 1)
        );
    }
}
