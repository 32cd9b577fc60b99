//! Statistics over customer columns, in one place: columns read as `f64`, quantiles, percentile
//! ranks, means and medians, most common values, and per-group summaries. Pure functions;
//! definitions follow numpy and scikit-learn so figures can be checked against them.

use crate::columns as c;
use anyhow::{Context, Result};
use polars::prelude::*;
use rayon::prelude::*;

/// A numeric column of a customer table read in place as `f64`s: the column's own buffer
/// when it is `f64` in one chunk already, else one cast copy. `get` is `None` where the value
/// is missing. Grading reads a dozen columns of every customer; copies into
/// `Vec<Option<f64>>` took 16 bytes per customer and column.
#[derive(Clone)]
pub struct Floats(<Float64Type as PolarsDataType>::Array);

impl Floats {
    /// The column `name`, naming it when it is missing.
    pub fn of(df: &DataFrame, name: &str) -> Result<Floats> {
        let s = df
            .column(name)
            .map_err(anyhow::Error::from)
            .with_context(|| format!("customer table has no column {name}"))?
            .as_materialized_series()
            .cast(&DataType::Float64)?
            .rechunk();
        Ok(Floats(s.f64()?.downcast_as_array().clone()))
    }

    /// The column `name` when the table has it.
    pub fn maybe(df: &DataFrame, name: &str) -> Result<Option<Floats>> {
        match df.schema().get(name) {
            Some(_) => Ok(Some(Floats::of(df, name)?)),
            None => Ok(None),
        }
    }

    pub fn new(values: impl IntoIterator<Item = Option<f64>>) -> Floats {
        Floats(values.into_iter().collect())
    }

    #[inline]
    pub fn get(&self, i: usize) -> Option<f64> {
        self.0.get(i)
    }

    pub fn len(&self) -> usize {
        self.0.len()
    }

    pub fn is_empty(&self) -> bool {
        self.0.len() == 0
    }

    pub fn iter(&self) -> impl Iterator<Item = Option<f64>> + '_ {
        self.0.iter().map(|v| v.copied())
    }
}

/// Value at quantile `q` of sorted values, with linear interpolation between order
/// statistics (numpy's default); where `q` falls on an order statistic, that value itself.
/// NaN for no values.
pub fn quantile(sorted: &[f64], q: f64) -> f64 {
    if sorted.is_empty() {
        return f64::NAN;
    }
    let pos = q * (sorted.len() - 1) as f64;
    let lo = pos.floor() as usize;
    let frac = pos - lo as f64;
    match sorted.get(lo + 1) {
        Some(&next) if frac > 0.0 => sorted[lo] + frac * (next - sorted[lo]),
        _ => sorted[lo],
    }
}

/// [`quantile`] of values in any order, found by selection instead of a sort (the same
/// order statistics, so the same value). Reorders `values`.
pub fn quantile_unsorted(values: &mut [f64], q: f64) -> f64 {
    if values.is_empty() {
        return f64::NAN;
    }
    let pos = q * (values.len() - 1) as f64;
    let lo = pos.floor() as usize;
    let hi = pos.ceil() as usize;
    let (_, at_lo, above) = values.select_nth_unstable_by(lo, f64::total_cmp);
    let at_lo = *at_lo;
    if hi == lo {
        return at_lo;
    }
    // The next order statistic is the least of the values above.
    let at_hi = above
        .iter()
        .copied()
        .min_by(f64::total_cmp)
        .unwrap_or(at_lo);
    at_lo + (pos - lo as f64) * (at_hi - at_lo)
}

/// Mean and median of the values (`None` for none).
pub fn mean_and_median(values: impl Iterator<Item = f64>) -> (Option<f64>, Option<f64>) {
    let mut x: Vec<f64> = values.collect();
    if x.is_empty() {
        return (None, None);
    }
    x.par_sort_unstable_by(f64::total_cmp);
    (
        Some(x.iter().sum::<f64>() / x.len() as f64),
        Some(quantile(&x, 0.5)),
    )
}

/// Percentile rank in 0..=1 with average ranks for ties; missing values get 0.5 (neutral).
pub fn percentile_ranks(values: &Floats, higher_is_better: bool) -> Vec<f64> {
    // (value, row) pairs sort without looking values up row by row (cache misses), as one
    // integer each (see `total_key`): the order of `total_cmp`, then of the row.
    let mut keyed: Vec<u128> = values
        .iter()
        .enumerate()
        .filter_map(|(i, v)| v.map(|v| u128::from(total_key(v)) << 64 | i as u128))
        .collect();
    keyed.par_sort_unstable();
    let value = |k: u128| from_total_key((k >> 64) as u64);
    let n = keyed.len();
    let mut out = vec![0.5; values.len()];
    let mut i = 0;
    while i < n {
        // Equal values (by `==`, so 0.0 and -0.0 too) share their average rank.
        let mut j = i;
        while j + 1 < n && value(keyed[j + 1]) == value(keyed[i]) {
            j += 1;
        }
        let avg_rank = (i + j) as f64 / 2.0; // 0-based
        let p = if n > 1 {
            avg_rank / (n - 1) as f64
        } else {
            0.5
        };
        for k in &keyed[i..=j] {
            out[*k as u64 as usize] = if higher_is_better { p } else { 1.0 - p };
        }
        i = j + 1;
    }
    out
}

pub fn most_common(sorted: &[f64]) -> (f64, usize) {
    let mut best = (f64::NAN, 0);
    let mut i = 0;
    while i < sorted.len() {
        // `total_cmp`, not `==`: a NaN equals itself here, so every step moves on.
        let j = sorted[i..]
            .iter()
            .take_while(|x| x.total_cmp(&sorted[i]).is_eq())
            .count();
        if j > best.1 {
            best = (sorted[i], j);
        }
        i += j;
    }
    best
}

/// `x` as an integer in the order of `f64::total_cmp` (the standard library's own mapping,
/// with the sign bit flipped so that unsigned order is that order), so that sorts compare
/// integers instead of calling a comparator.
pub fn total_key(x: f64) -> u64 {
    let bits = x.to_bits() as i64;
    let ordered = bits ^ (((bits >> 63) as u64) >> 1) as i64;
    (ordered as u64) ^ (1 << 63)
}

/// The value of a [`total_key`], bit for bit.
pub fn from_total_key(key: u64) -> f64 {
    let ordered = (key ^ (1 << 63)) as i64;
    f64::from_bits((ordered ^ (((ordered >> 63) as u64) >> 1) as i64) as u64)
}

/// Columns describing groups of customers (`group[i]` in `0..k` for customer `i`):
/// `customers`, `customer_share`, then per `totals` entry its sum and `<name>_share` of the
/// total, then per `means` entry the mean over the group's non-missing values. One pass.
pub fn group_columns(
    group: &[u16],
    k: usize,
    totals: &[(&str, &Floats)],
    means: &[(&str, &Floats)],
) -> Vec<Column> {
    let n = group.len().max(1) as f64;
    let mut count = vec![0u64; k];
    for g in group {
        count[*g as usize] += 1;
    }
    let mut out = vec![
        Column::new(
            c::CUSTOMERS.into(),
            count.iter().map(|c| *c as i64).collect::<Vec<_>>(),
        ),
        Column::new(
            c::CUSTOMER_SHARE.into(),
            count.iter().map(|c| *c as f64 / n).collect::<Vec<_>>(),
        ),
    ];
    for (name, v) in totals {
        // `+ 0.0` keeps empty groups at 0 rather than -0 (the start of an f64 sum).
        let mut sum = vec![0.0; k];
        for (g, x) in group.iter().zip(v.iter()) {
            sum[*g as usize] += x.unwrap_or(0.0);
        }
        let total: f64 = sum.iter().sum();
        out.push(Column::new(
            (*name).into(),
            sum.iter().map(|x| x + 0.0).collect::<Vec<_>>(),
        ));
        out.push(Column::new(
            format!("{name}_share").into(),
            sum.iter()
                .map(|x| if total != 0.0 { x / total + 0.0 } else { 0.0 })
                .collect::<Vec<_>>(),
        ));
    }
    for (name, v) in means {
        let mut sum = vec![0.0; k];
        let mut cnt = vec![0u64; k];
        for (g, x) in group.iter().zip(v.iter()) {
            if let Some(x) = x {
                sum[*g as usize] += x;
                cnt[*g as usize] += 1;
            }
        }
        out.push(Column::new(
            (*name).into(),
            (0..k)
                .map(|g| (cnt[g] > 0).then(|| sum[g] / cnt[g] as f64))
                .collect::<Vec<_>>(),
        ));
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Integer keys sort as `total_cmp` does, and give the value back bit for bit.
    #[test]
    fn total_keys_keep_the_order_and_the_bits() {
        let values = [
            -f64::NAN,
            f64::NEG_INFINITY,
            -1e300,
            -1.5,
            -f64::MIN_POSITIVE,
            -0.0,
            0.0,
            f64::MIN_POSITIVE / 2.0,
            1e-300,
            1.5,
            f64::MAX,
            f64::INFINITY,
            f64::NAN,
        ];
        for a in values {
            assert_eq!(from_total_key(total_key(a)).to_bits(), a.to_bits(), "{a}");
            for b in values {
                assert_eq!(total_key(a).cmp(&total_key(b)), a.total_cmp(&b), "{a} {b}");
            }
        }
    }

    #[test]
    fn quantile_by_selection_is_the_sorted_quantile() {
        // Ties, negative zero, odd and even lengths, both interpolation cases.
        let base = [3.0, -1.0, 7.5, 3.0, 0.0, -0.0, 12.25, 3.0, -8.0, 1e300];
        for len in 1..=base.len() {
            let mut sorted = base[..len].to_vec();
            sorted.sort_by(f64::total_cmp);
            for q in [0.0, 0.01, 0.25, 0.5, 0.75, 0.99, 1.0] {
                // Selection's pivots depend on the input order: several orders.
                for turn in 0..len {
                    let mut shuffled: Vec<f64> = base[..len].iter().rev().copied().collect();
                    shuffled.rotate_left(turn);
                    let (a, b) = (quantile(&sorted, q), quantile_unsorted(&mut shuffled, q));
                    assert_eq!(a.to_bits(), b.to_bits(), "len {len}, q {q}: {a} vs {b}");
                }
            }
        }
        assert!(quantile_unsorted(&mut [], 0.5).is_nan());
        assert_eq!(quantile_unsorted(&mut [1.0, 2.0, 3.0, 4.0], 0.5), 2.5);
    }

    #[test]
    fn quantiles_interpolate_like_numpy() {
        let v = [1.0, 2.0, 3.0, 4.0];
        assert_eq!(quantile(&v, 0.0), 1.0);
        assert_eq!(quantile(&v, 0.5), 2.5);
        assert_eq!(quantile(&v, 1.0 / 3.0), 2.0);
    }

    #[test]
    fn percentile_ranks_average_ties_and_neutral_missing() {
        let v = Floats::new([Some(10.0), Some(20.0), Some(20.0), Some(40.0), None]);
        let r = percentile_ranks(&v, true);
        assert_eq!(r, vec![0.0, 0.5, 0.5, 1.0, 0.5]);
        let r = percentile_ranks(&v, false);
        assert_eq!(r, vec![1.0, 0.5, 0.5, 0.0, 0.5]);
        // Negative values first; 0.0 and -0.0 are equal, so they tie.
        let v = Floats::new([Some(0.0), Some(-0.0), Some(-5.0), Some(3.0)]);
        assert_eq!(percentile_ranks(&v, true), vec![0.5, 0.5, 0.0, 1.0]);
    }
}
