//! Per-customer features from cleaned transactions. Pure: no IO, no clock; `as_of` is a
//! parameter.
//!
//! Runs use [`fold`]: the polars streaming engine reads, normalises and marks the input (each
//! row's drop reason) in batches, and one pass counts every row for the quality account and
//! folds the kept ones into per-invoice and per-customer state, so the transaction table is
//! never held whole and is read once. `reference` (compiled for tests) states the same
//! formulas as polars expressions, and `crate::clean::clean_transactions` the same cleaning;
//! tests hold the pass against both.
//!
//! Purchases are lines with a positive amount (and, with `nonpositive_price = "keep"`, lines
//! of value 0 that are not returns); returns are the negative lines kept by
//! `returns = "net"`. Dates are compared as day numbers (days since 1970-01-01). Without an
//! invoice column, a customer's lines of one day form one order (and one invoice).

use chrono::NaiveDate;

pub mod fold;
/// The specification the fold is tested against; not part of a run.
#[cfg(test)]
mod reference;

pub use fold::{
    clean_and_fold, clean_and_fold_history, customer_features, CleanFeatures, EarlierFeatures,
};

/// A sum of money rounded to 12 significant digits and at most 6 decimals. Lines added in
/// another order (a shuffled export, the cluster engine) give sums that differ in their last
/// bits; rounded, they are the same number, so ties, ranks and tiers do not depend on the
/// order of the input. Amounts with cents keep every cent up to ten billion.
pub fn round_sum(x: f64) -> f64 {
    let a = x.abs();
    if a == 0.0 || !a.is_finite() || a < f64::MIN_POSITIVE {
        return x;
    }
    // floor(log10(a)) from the binary exponent (off by at most one, then corrected against
    // the power of ten): a float's log10 costs more than the rest together, and this runs
    // for every sum of every customer.
    let binary = ((a.to_bits() >> 52) as i32) - 1023;
    let mut decimal = (binary as f64 * std::f64::consts::LOG10_2).floor() as i32;
    if a >= pow10(decimal + 1) {
        decimal += 1;
    } else if a < pow10(decimal) {
        decimal -= 1;
    }
    // At most six decimals: a customer who returned all it bought nets 0 from sums that
    // leave 1e-13 of noise, which 12 significant digits of the noise would keep.
    let digits = (11 - decimal).min(MAX_DECIMALS);
    if digits >= 0 {
        let scale = pow10(digits);
        // `+ 0.0` turns a rounded -0.0 into 0.0.
        (x * scale).round() / scale + 0.0
    } else if digits < -22 {
        // Beyond 10^33 no sum of money is meant; left as it is.
        x
    } else {
        let scale = pow10(-digits);
        (x / scale).round() * scale
    }
}

/// The decimals a rounded sum keeps at most (millionths of the currency).
const MAX_DECIMALS: i32 = 6;

/// 10^e, exact for the powers a double holds exactly (up to 10^22).
fn pow10(e: i32) -> f64 {
    const TABLE: [f64; 23] = [
        1e0, 1e1, 1e2, 1e3, 1e4, 1e5, 1e6, 1e7, 1e8, 1e9, 1e10, 1e11, 1e12, 1e13, 1e14, 1e15, 1e16,
        1e17, 1e18, 1e19, 1e20, 1e21, 1e22,
    ];
    match usize::try_from(e) {
        Ok(i) if i < TABLE.len() => TABLE[i],
        _ => 10f64.powi(e),
    }
}

/// What the feature step needs to know.
#[derive(Debug, Clone, Copy)]
pub struct FeatureParams {
    pub as_of: NaiveDate,
    /// Length of the two trailing periods compared for a drop in spend.
    pub period_days: u32,
    /// Lines of value 0 that are not returns are purchases (of no value): they date their
    /// invoice and count as purchase days. Set by `[cleaning] nonpositive_price = "keep"`,
    /// the setting that lets zero prices through.
    pub zero_value_purchases: bool,
}

/// Customer features, and the customers left out because they have no purchase (only
/// returns) in the window.
pub struct Features {
    pub customers: polars::prelude::DataFrame,
    pub no_purchase_customers: u64,
    /// Their transaction rows, and how many of those are returns.
    pub no_purchase_rows: u64,
    pub no_purchase_returns: u64,
}

/// The helper columns of a table with every customer (buyers or not): each customer's
/// transaction rows and returns, which [`Features::from_all`] counts for those left out.
pub const ROWS: &str = "__rows";
pub const RETURNS: &str = "__returns";

impl Features {
    /// From one row per customer with [`ROWS`] and [`RETURNS`], as the specification and the
    /// cluster compute them: the buyers (`frequency` > 0) kept, the others counted.
    pub fn from_all(all: polars::prelude::DataFrame) -> anyhow::Result<Features> {
        use polars::prelude::{ChunkCompareIneq, DataType};
        let buyers = all.column(crate::columns::FREQUENCY)?.i64()?.gt(0);
        let rows = all.column(ROWS)?.cast(&DataType::UInt64)?;
        let returns = all.column(RETURNS)?.cast(&DataType::UInt64)?;
        let (rows, returns) = (rows.u64()?, returns.u64()?);
        let (mut n, mut r, mut ret) = (0u64, 0u64, 0u64);
        for i in 0..all.height() {
            if buyers.get(i) != Some(true) {
                n += 1;
                r += rows.get(i).unwrap_or(0);
                ret += returns.get(i).unwrap_or(0);
            }
        }
        let customers = all.filter(&buyers)?.drop_many([ROWS, RETURNS]);
        Ok(Features {
            customers,
            no_purchase_customers: n,
            no_purchase_rows: r,
            no_purchase_returns: ret,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::clean::{clean_transactions, CleanParams};

    /// Sums of the same cents in two orders differ in their last bits; rounded they agree,
    /// and values with cents keep them.
    #[test]
    fn sums_round_to_the_same_number_in_any_order() {
        let lines = [0.1, 0.2, 0.3];
        let forward: f64 = lines.iter().sum();
        let backward: f64 = lines.iter().rev().sum();
        assert_eq!((forward, backward), (0.6000000000000001, 0.6));
        assert_eq!(round_sum(forward), 0.6);
        assert_eq!(round_sum(backward), 0.6);
        assert_eq!(round_sum(1000017.3599999999), 1000017.36);
        assert_eq!(round_sum(1247663.9699999995), 1247663.97);
        assert_eq!(round_sum(-0.30000000000000004), -0.3);
        assert_eq!(round_sum(9_999_999_999.99), 9_999_999_999.99);
        assert_eq!(round_sum(0.0), 0.0);
        assert!(round_sum(f64::NAN).is_nan());
        // Around powers of ten, where the decimal exponent changes.
        assert_eq!(round_sum(99_999.999_999_99), 100_000.0);
        assert_eq!(round_sum(100_000.000_000_01), 100_000.0);
        assert_eq!(round_sum(0.001_234_567_890_123_4), 0.001_235);
        // Everything bought was returned: what is left is noise, in either order.
        let lines = [3.3, 1.1, 2.2, -1.1, -3.3, -2.2];
        let forward: f64 = lines.iter().sum();
        let backward: f64 = lines.iter().rev().sum();
        assert!(forward != 0.0 || backward != 0.0, "{forward} {backward}");
        assert_eq!(round_sum(forward).to_bits(), 0.0f64.to_bits());
        assert_eq!(round_sum(backward).to_bits(), 0.0f64.to_bits());
        assert_eq!(round_sum(-4e-7).to_bits(), 0.0f64.to_bits());
        assert_eq!(round_sum(-123_456_789_012_345.6), -123_456_789_012_000.0);
        assert_eq!(round_sum(1e300), 1e300);
        // The same as rounding the decimal digits directly (12 significant, 6 decimals).
        for x in [
            1.234_567_890_123_4f64,
            7.0,
            12_345.678_901_234_5,
            9.999_999_999_999,
        ] {
            let digits = (11 - x.log10().floor() as i32).min(6);
            let scale = 10f64.powi(digits);
            assert_eq!(round_sum(x), (x * scale).round() / scale, "{x}");
        }
    }

    use crate::columns as c;
    use crate::config::{DropKeepError, Pipeline};
    use crate::generate::{generate_transactions, GenerateParams};
    use crate::load::load_transactions;
    use polars::prelude::*;
    use reference::reference_features;

    /// Writes `df` as Parquet in `dir`, its lines shuffled with `shuffle_seed` if given, with a
    /// pipeline file of the given `[features]` keys, column mapping and further sections, and
    /// loads it.
    fn write_and_load(
        dir: &std::path::Path,
        mut df: DataFrame,
        shuffle_seed: Option<u64>,
        features: &str,
        columns: &str,
        rest: &str,
    ) -> (Pipeline, crate::load::Loaded) {
        if let Some(seed) = shuffle_seed {
            use rand::seq::SliceRandom;
            use rand::SeedableRng;
            let mut order: Vec<IdxSize> = (0..df.height() as IdxSize).collect();
            order.shuffle(&mut rand_xoshiro::Xoshiro256PlusPlus::seed_from_u64(seed));
            df = df.take(&IdxCa::from_vec("i".into(), order)).unwrap();
        }
        let data = dir.join("tx.parquet");
        ParquetWriter::new(std::fs::File::create(&data).unwrap())
            .finish(&mut df)
            .unwrap();
        let text = format!(
            "name = \"t\"\n[features]\n{features}\n[input]\npaths = {data:?}\n[input.columns]\n{columns}\n{rest}\n"
        );
        let toml = dir.join("p.toml");
        std::fs::write(&toml, &text).unwrap();
        let p = Pipeline::load(&toml).unwrap();
        let loaded = load_transactions(&p).unwrap();
        (p, loaded)
    }

    /// Generated history (returns, late and unpaid invoices, regions) graded mid-way, so
    /// payments due after as_of and lines after it are exercised; `columns` is the mapping.
    fn both(
        columns: &str,
        cleaning: &str,
        as_of: &str,
        region_nulls: bool,
        shuffle: bool,
    ) -> (Features, Features) {
        let dir = tempfile::tempdir().unwrap();
        let mut df = generate_transactions(&GenerateParams {
            customers: 400,
            seed: 7,
            ..Default::default()
        })
        .unwrap();
        if region_nulls {
            // Every third line loses its region: main_region must skip missing names.
            let n = df.height();
            let mask = BooleanChunked::from_iter_values("m".into(), (0..n).map(|i| i % 3 == 0));
            let region = df
                .column("region")
                .unwrap()
                .as_materialized_series()
                .clone();
            let nulls = Series::full_null("region".into(), n, &DataType::String);
            let mixed = nulls.zip_with(&mask, &region).unwrap();
            df.replace("region", mixed.into_column()).unwrap();
        }
        // Shuffled: invoices come in many runs, and the customers of every shard of the fold
        // take turns.
        let (p, loaded) = write_and_load(
            dir.path(),
            df,
            shuffle.then_some(11),
            "lookback_days = 400",
            columns,
            cleaning,
        );
        let params = CleanParams {
            cleaning: &p.cleaning,
            as_of: Some(crate::config::parse_iso_date(as_of).unwrap()),
            lookback_days: p.features.lookback_days,
            today: chrono::NaiveDate::from_ymd_opt(2030, 1, 1).unwrap(),
            rows_read: loaded.rows_read(),
        };
        let cleaned = clean_transactions(loaded.transactions, &params).unwrap();
        let fp = FeatureParams {
            as_of: cleaned.as_of,
            period_days: 90,
            zero_value_purchases: p.cleaning.nonpositive_price == DropKeepError::Keep,
        };
        let fold = customer_features(cleaned.transactions.clone(), &fp).unwrap();
        let reference = reference_features(cleaned.transactions, &fp).unwrap();
        (fold, reference)
    }

    /// The mapping of every generated column, and the generator's credit-note prefix.
    const EVERY_COLUMN: &str = "customer_id = \"customer_id\"\ndate = \"invoice_date\"\ninvoice_id = \"invoice_id\"\nquantity = \"quantity\"\nunit_price = \"unit_price\"\nunit_cost = \"unit_cost\"\ndue_date = \"due_date\"\npaid_date = \"paid_date\"\nregion = \"region\"";
    const RETURNS_BY_PREFIX: &str = "[cleaning]\nreturn_invoice_prefix = \"CR\"";

    fn assert_same(fold: &Features, reference: &Features) {
        let (a, b) = (&fold.customers, &reference.customers);
        assert!(
            a.height() > 100,
            "too few customers to compare: {}",
            a.height()
        );
        assert_eq!(a.get_column_names(), b.get_column_names());
        assert_eq!(a.height(), b.height());
        for (x, y) in a.columns().iter().zip(b.columns()) {
            assert_eq!(x.dtype(), y.dtype(), "{}", x.name());
            if x.dtype() == &DataType::Float64 {
                for (i, (u, v)) in x
                    .f64()
                    .unwrap()
                    .iter()
                    .zip(y.f64().unwrap().iter())
                    .enumerate()
                {
                    let same = match (u, v) {
                        (Some(u), Some(v)) => (u - v).abs() <= 1e-9 * (1.0 + v.abs()),
                        (None, None) => true,
                        _ => false,
                    };
                    assert!(same, "{} row {i}: fold {u:?}, reference {v:?}", x.name());
                }
            } else {
                assert!(
                    x.as_materialized_series()
                        .equals_missing(y.as_materialized_series()),
                    "{}: fold {:?}, reference {:?}",
                    x.name(),
                    x.head(Some(5)),
                    y.head(Some(5))
                );
            }
        }
        assert_eq!(fold.no_purchase_customers, reference.no_purchase_customers);
        assert_eq!(fold.no_purchase_rows, reference.no_purchase_rows);
        assert_eq!(fold.no_purchase_returns, reference.no_purchase_returns);
    }

    /// Every snapshot of a history folded in one pass against a pass per date: the same
    /// features to the bit, with a lookback window on lines in date order and without one on
    /// shuffled lines; a snapshot before every line is the same error as a run at its date.
    #[test]
    fn zero_value_lines_are_purchases_only_when_asked() {
        // a: 10 on Jan 1st, a free item (0, not a return) on Jan 5th; b: a return of 0.
        let day = |d: u32| NaiveDate::from_ymd_opt(2024, 1, d).unwrap();
        let tx = df!(
            c::CUSTOMER_ID => ["a", "a", "b", "b"],
            c::DATE => [day(1), day(5), day(2), day(6)],
            c::AMOUNT => [10.0, 0.0, 7.0, 0.0],
            c::IS_RETURN => [false, false, false, true]
        )
        .unwrap();
        for (zero, days_a) in [(false, 1), (true, 2)] {
            let p = FeatureParams {
                as_of: day(10),
                period_days: 30,
                zero_value_purchases: zero,
            };
            let fold = customer_features(tx.clone().lazy(), &p).unwrap().customers;
            let spec = reference_features(tx.clone().lazy(), &p).unwrap().customers;
            for f in [&fold, &spec] {
                let days: Vec<Option<i64>> = f
                    .column(c::PURCHASE_DAYS)
                    .unwrap()
                    .i64()
                    .unwrap()
                    .iter()
                    .collect();
                // b's return of 0 is never a purchase.
                assert_eq!(
                    days,
                    [Some(days_a), Some(1)],
                    "zero_value_purchases = {zero}"
                );
                let recency: Vec<Option<i64>> = f
                    .column(c::RECENCY_DAYS)
                    .unwrap()
                    .i64()
                    .unwrap()
                    .iter()
                    .collect();
                assert_eq!(recency[0], Some(if zero { 5 } else { 9 }));
            }
        }
    }

    #[test]
    fn one_pass_history_matches_a_pass_per_date() {
        use crate::features::{clean_and_fold, clean_and_fold_history};
        let date = |s: &str| crate::config::parse_iso_date(s).unwrap();
        for (lookback, shuffle) in [("lookback_days = 120", false), ("", true)] {
            let dir = tempfile::tempdir().unwrap();
            let df = generate_transactions(&GenerateParams {
                customers: 300,
                seed: 9,
                ..Default::default()
            })
            .unwrap();
            let (p, loaded) = write_and_load(
                dir.path(),
                df,
                shuffle.then_some(5),
                lookback,
                EVERY_COLUMN,
                RETURNS_BY_PREFIX,
            );
            let cp = |as_of: Option<chrono::NaiveDate>| CleanParams {
                cleaning: &p.cleaning,
                as_of,
                lookback_days: p.features.lookback_days,
                today: chrono::NaiveDate::from_ymd_opt(2030, 1, 1).unwrap(),
                rows_read: loaded.rows_read(),
            };
            let dates = [
                "2023-06-01",
                "2024-03-01",
                "2024-09-15",
                "2025-01-01",
                "2025-06-30",
            ]
            .map(date);
            let tx = &loaded.transactions;
            let all =
                clean_and_fold_history(tx.clone(), &cp(None), 90, &|_| dates.to_vec()).unwrap();
            let alone = clean_and_fold(tx.clone(), &cp(None), 90).unwrap();
            assert_eq!(all.as_of, date("2026-01-01"));
            assert_eq!(all.as_of, alone.as_of);
            assert_eq!(all.quality, alone.quality);
            assert!(all
                .features
                .customers
                .equals_missing(&alone.features.customers));
            assert_eq!(all.earlier.len(), dates.len());
            // Before the first line: no row in the window, the same error as a run then.
            let first = &all.earlier[0];
            assert_eq!(first.as_of, dates[0]);
            let (Err(one), Err(other)) = (
                &first.features,
                clean_and_fold(tx.clone(), &cp(Some(dates[0])), 90).map(|f| f.features),
            ) else {
                panic!("a snapshot before the first line has features");
            };
            assert_eq!(format!("{one:#}"), format!("{other:#}"));
            for (e, d) in all.earlier.iter().zip(dates).skip(1) {
                assert_eq!(e.as_of, d);
                let f = e.features.as_ref().unwrap();
                let at = clean_and_fold(tx.clone(), &cp(Some(d)), 90)
                    .unwrap()
                    .features;
                assert!(f.customers.height() > 50, "{d}: {}", f.customers.height());
                assert!(f.customers.equals_missing(&at.customers), "{d} {lookback}");
                assert_eq!(
                    (
                        f.no_purchase_customers,
                        f.no_purchase_rows,
                        f.no_purchase_returns
                    ),
                    (
                        at.no_purchase_customers,
                        at.no_purchase_rows,
                        at.no_purchase_returns
                    ),
                    "{d}"
                );
            }
            // Later snapshots know more customers (without a lookback nobody leaves).
            let heights: Vec<usize> = all.earlier[1..]
                .iter()
                .map(|e| e.features.as_ref().unwrap().customers.height())
                .collect();
            if lookback.is_empty() {
                assert!(heights.windows(2).all(|h| h[0] < h[1]), "{heights:?}");
            }
        }
    }

    #[test]
    fn fold_matches_the_reference_with_every_column() {
        let (fold, reference) = both(EVERY_COLUMN, RETURNS_BY_PREFIX, "2025-07-01", true, false);
        assert_same(&fold, &reference);
    }

    #[test]
    fn fold_matches_the_reference_on_shuffled_lines() {
        let (fold, reference) = both(EVERY_COLUMN, RETURNS_BY_PREFIX, "2025-07-01", true, true);
        assert_same(&fold, &reference);
    }

    #[test]
    fn fold_matches_the_reference_without_invoices_or_payments() {
        let columns = "customer_id = \"customer_id\"\ndate = \"invoice_date\"\nquantity = \"quantity\"\nunit_price = \"unit_price\"\ndue_date = \"due_date\"";
        let (fold, reference) = both(columns, "", "2025-10-15", false, false);
        assert_same(&fold, &reference);
    }

    /// The one-pass run against clean-then-fold on rows every rule drops, with the latest
    /// day's only row missing its customer, so the first guess of `as_of` is wrong and the
    /// features are folded again.
    #[test]
    fn one_pass_matches_clean_then_fold_on_messy_rows() {
        use crate::clean::account_no_purchase;
        use crate::features::clean_and_fold;
        use chrono::NaiveDate;

        let d = |s: &str| {
            Some(crate::clean::epoch_days(
                crate::config::parse_iso_date(s).unwrap(),
            ))
        };
        // (customer, date, invoice, amount, unit price, quantity)
        type Line<'a> = (Option<&'a str>, Option<i32>, &'a str, f64, f64, f64);
        let rows: [Line; 9] = [
            (Some("a"), d("2024-01-05"), "I1", 10.0, 5.0, 2.0),
            (Some("a"), d("2024-01-06"), "I2", -4.0, 2.0, -2.0),
            (Some("b"), d("2024-01-07"), "I3", 0.0, 0.0, 1.0),
            (Some("b"), d("2024-01-08"), "I4", 6.0, 3.0, 2.0),
            (Some("c"), d("2023-06-01"), "I0", 9.0, 9.0, 1.0),
            (Some("d"), d("2024-01-09"), "I5", -3.0, 3.0, -1.0),
            (None, d("2024-01-20"), "I6", 5.0, 5.0, 1.0),
            (Some("e"), d("2030-01-01"), "I7", 5.0, 5.0, 1.0),
            (Some("e"), None, "I8", 5.0, 5.0, 1.0),
        ];
        let tx = DataFrame::new(
            rows.len(),
            vec![
                Column::new(c::CUSTOMER_ID.into(), rows.map(|r| r.0)),
                Column::new(c::DATE.into(), rows.map(|r| r.1))
                    .cast(&DataType::Date)
                    .unwrap(),
                Column::new(c::INVOICE_ID.into(), rows.map(|r| r.2)),
                Column::new(c::AMOUNT.into(), rows.map(|r| r.3)),
                Column::new(c::UNIT_PRICE.into(), rows.map(|r| r.4)),
                Column::new(c::QUANTITY.into(), rows.map(|r| r.5)),
            ],
        )
        .unwrap()
        .lazy();
        let cleaning = crate::clean::drop_everything();
        let cp = CleanParams {
            cleaning: &cleaning,
            as_of: None,
            lookback_days: Some(90),
            today: NaiveDate::from_ymd_opt(2025, 1, 1).unwrap(),
            rows_read: 9,
        };
        let one = clean_and_fold(tx.clone(), &cp, 30).unwrap();
        let two = clean_transactions(tx, &cp).unwrap();
        let two_features = customer_features(
            two.transactions,
            &FeatureParams {
                as_of: two.as_of,
                period_days: 30,
                zero_value_purchases: cleaning.nonpositive_price == DropKeepError::Keep,
            },
        )
        .unwrap();
        // The day after d's return, the last row no rule drops.
        assert_eq!(one.as_of, NaiveDate::from_ymd_opt(2024, 1, 10).unwrap());
        assert_eq!(two.as_of, one.as_of);
        assert_eq!(one.quality, two.quality);
        let count = |step: &str| {
            let mut q = one.quality.clone();
            account_no_purchase(
                &mut q,
                one.features.no_purchase_rows,
                one.features.no_purchase_returns,
            );
            q.iter().find(|r| r.step == step).unwrap().rows
        };
        for (step, rows) in [
            ("missing_customer_id", 1),
            ("missing_date", 1),
            ("nonpositive_price", 1),
            ("future_date", 1),
            ("before_lookback", 1),
            ("after_as_of", 0),
            ("customer_without_purchase", 1),
            ("return_netted", 1),
            ("kept", 3),
        ] {
            assert_eq!(count(step), rows, "{step}");
        }
        assert!(one
            .features
            .customers
            .equals_missing(&two_features.customers));
        let ids = crate::testing::texts(&one.features.customers, c::CUSTOMER_ID);
        assert_eq!(ids, ["a", "b"]);
        assert_eq!(one.features.no_purchase_customers, 1);
        assert_eq!(two_features.no_purchase_rows, 1);
    }
}
