//! Clustering quality and agreement measures as pure functions over ndarray views and label
//! slices. No IO, no printing, no clock, no global state: the only randomness (the silhouette
//! sample) comes from the seed the caller passes.
//!
//! Definitions follow scikit-learn so numbers can be checked against it. Labels are cluster
//! indices `0..k`; clusters with no member are ignored by the internal-validity scores, as
//! scikit-learn only ever sees the labels that occur.

use super::distance::sq_dist;
use ndarray::ArrayView2;
use rand::SeedableRng;
use rand_xoshiro::Xoshiro256PlusPlus;

/// Sum over rows of the squared Euclidean distance to the centroid of the row's cluster.
///
/// This is the total (not the mean that linfa's `KMeans::inertia` reports).
///
/// # Panics
/// If `labels.len() != x.nrows()`, the column counts differ, or a label is not a row of
/// `centroids`.
pub fn inertia(x: ArrayView2<f64>, labels: &[usize], centroids: ArrayView2<f64>) -> f64 {
    assert_eq!(labels.len(), x.nrows(), "one label per row of x");
    assert_eq!(
        x.ncols(),
        centroids.ncols(),
        "x and centroids differ in columns"
    );
    x.rows()
        .into_iter()
        .zip(labels)
        .map(|(row, &l)| {
            assert!(l < centroids.nrows(), "label {l} has no centroid");
            row.iter()
                .zip(centroids.row(l))
                .map(|(a, b)| (a - b) * (a - b))
                .sum::<f64>()
        })
        .sum()
}

/// Mean silhouette coefficient over a deterministic sample of at most `sample` rows.
///
/// When `x` has more rows than `sample`, a simple random sample without replacement is drawn
/// with a `Xoshiro256PlusPlus` seeded by `seed`, and, as scikit-learn's
/// `silhouette_score(..., sample_size=...)` does, both the mean intra-cluster distance `a` and
/// the nearest-other-cluster mean distance `b` of a sampled point are computed among the
/// sampled points only. That keeps the cost at `O(sample² · columns)` whatever the row count.
/// A point alone in its cluster (within the sample) scores 0, as in scikit-learn.
///
/// Returns `None` when `k < 2`, when fewer than 2 points are used, or when the points used
/// span fewer than 2 clusters or are all alone in their clusters (scikit-learn rejects those
/// label counts: the coefficient is undefined).
///
/// # Panics
/// If `labels.len() != x.nrows()` or a label is `>= k`.
pub fn silhouette(
    x: ArrayView2<f64>,
    labels: &[usize],
    k: usize,
    sample: usize,
    seed: u64,
) -> Option<f64> {
    assert_eq!(labels.len(), x.nrows(), "one label per row of x");
    check_labels(labels, k);
    let n = x.nrows();
    if k < 2 || n < 2 || sample < 2 {
        return None;
    }
    let rows: Vec<usize> = if n <= sample {
        (0..n).collect()
    } else {
        let mut rng = Xoshiro256PlusPlus::seed_from_u64(seed);
        let mut idx = rand::seq::index::sample(&mut rng, n, sample).into_vec();
        // Sorting makes the result independent of the order the sampler yields indices in.
        idx.sort_unstable();
        idx
    };
    let m = rows.len();
    let d = x.ncols();
    // A contiguous copy keeps the O(m²) loop on plain slices (fast even in debug builds).
    let mut pts = Vec::with_capacity(m * d);
    for &r in &rows {
        pts.extend(x.row(r).iter().copied());
    }
    let lab: Vec<usize> = rows.iter().map(|&r| labels[r]).collect();
    let mut counts = vec![0usize; k];
    for &l in &lab {
        counts[l] += 1;
    }
    let present = counts.iter().filter(|&&c| c > 0).count();
    if present < 2 || present == m {
        return None;
    }

    // sums[i * k + c] = sum of distances from sampled point i to the sampled members of c.
    let mut sums = vec![0.0f64; m * k];
    for i in 0..m {
        let pi = &pts[i * d..(i + 1) * d];
        for j in (i + 1)..m {
            let pj = &pts[j * d..(j + 1) * d];
            let dist = pi
                .iter()
                .zip(pj)
                .map(|(a, b)| (a - b) * (a - b))
                .sum::<f64>()
                .sqrt();
            sums[i * k + lab[j]] += dist;
            sums[j * k + lab[i]] += dist;
        }
    }
    let mut total = 0.0;
    for i in 0..m {
        let own = lab[i];
        if counts[own] < 2 {
            continue; // singleton: s = 0
        }
        let a = sums[i * k + own] / (counts[own] - 1) as f64;
        let b = (0..k)
            .filter(|&c| c != own && counts[c] > 0)
            .map(|c| sums[i * k + c] / counts[c] as f64)
            .fold(f64::INFINITY, f64::min);
        let denom = a.max(b);
        // Coincident points give 0/0; scikit-learn maps that NaN to 0.
        if denom > 0.0 {
            total += (b - a) / denom;
        }
    }
    Some(total / m as f64)
}

/// Calinski–Harabasz index (variance ratio criterion), as scikit-learn computes it:
/// `[B / (q - 1)] / [W / (n - q)]` with `q` the number of non-empty clusters, `B` the
/// size-weighted squared distances of cluster means to the overall mean and `W` the squared
/// distances of rows to their cluster mean. Higher is better. Returns 1.0 when `W` is 0.
///
/// Returns `None` unless `2 <= q <= n - 1` (scikit-learn raises there).
///
/// # Panics
/// If `labels.len() != x.nrows()` or a label is `>= k`.
pub fn calinski_harabasz(x: ArrayView2<f64>, labels: &[usize], k: usize) -> Option<f64> {
    let stats = ClusterStats::new(x, labels, k)?;
    let n = x.nrows();
    let d = x.ncols();
    let mut overall = vec![0.0; d];
    for row in x.rows() {
        for (o, v) in overall.iter_mut().zip(row) {
            *o += v;
        }
    }
    overall.iter_mut().for_each(|o| *o /= n as f64);

    let mut between = 0.0;
    for c in stats.present() {
        between += stats.counts[c] as f64 * sq_dist(stats.mean(c), &overall);
    }
    let mut within = 0.0;
    for (row, &l) in x.rows().into_iter().zip(labels) {
        within += row
            .iter()
            .zip(stats.mean(l))
            .map(|(a, b)| (a - b) * (a - b))
            .sum::<f64>();
    }
    let q = stats.n_present as f64;
    if within == 0.0 {
        return Some(1.0);
    }
    Some(between * (n as f64 - q) / (within * (q - 1.0)))
}

/// Davies–Bouldin index, as scikit-learn computes it: the mean over non-empty clusters `i` of
/// `max_{j != i} (s_i + s_j) / d(c_i, c_j)`, where `s_i` is the mean Euclidean distance of
/// members to their cluster mean `c_i`. Lower is better; 0 when every `s_i` or every centroid
/// distance is (close to) 0, and a pair of coinciding means contributes 0 (scikit-learn treats
/// that distance as infinite).
///
/// Returns `None` unless `2 <= q <= n - 1`, `q` the number of non-empty clusters.
///
/// # Panics
/// If `labels.len() != x.nrows()` or a label is `>= k`.
pub fn davies_bouldin(x: ArrayView2<f64>, labels: &[usize], k: usize) -> Option<f64> {
    let stats = ClusterStats::new(x, labels, k)?;
    let mut scatter = vec![0.0; k];
    for (row, &l) in x.rows().into_iter().zip(labels) {
        let s: f64 = row
            .iter()
            .zip(stats.mean(l))
            .map(|(a, b)| (a - b) * (a - b))
            .sum();
        scatter[l] += s.sqrt();
    }
    let present: Vec<usize> = stats.present().collect();
    for &c in &present {
        scatter[c] /= stats.counts[c] as f64;
    }
    // Same closeness test as numpy.allclose(v, 0) (atol 1e-8) that scikit-learn applies.
    let near_zero = |v: f64| v.abs() <= 1e-8;
    if present.iter().all(|&c| near_zero(scatter[c])) {
        return Some(0.0);
    }
    let mut all_centroid_dists_zero = true;
    let mut total = 0.0;
    for &i in &present {
        let mut worst = 0.0f64;
        for &j in &present {
            if i == j {
                continue;
            }
            let dist = sq_dist(stats.mean(i), stats.mean(j)).sqrt();
            if !near_zero(dist) {
                all_centroid_dists_zero = false;
            }
            if dist > 0.0 {
                worst = worst.max((scatter[i] + scatter[j]) / dist);
            }
        }
        total += worst;
    }
    if all_centroid_dists_zero {
        return Some(0.0);
    }
    Some(total / present.len() as f64)
}

/// Contingency table of two labellings: `table[i][j]` counts rows with `a == i` and `b == j`.
/// The table has `max(a) + 1` rows and `max(b) + 1` columns (empty for empty input), so labels
/// should be small cluster indices.
///
/// # Panics
/// If the slices differ in length.
pub fn contingency(a: &[usize], b: &[usize]) -> Vec<Vec<u64>> {
    assert_eq!(a.len(), b.len(), "labellings differ in length");
    let rows = a.iter().max().map_or(0, |&m| m + 1);
    let cols = b.iter().max().map_or(0, |&m| m + 1);
    let mut table = vec![vec![0u64; cols]; rows];
    for (&i, &j) in a.iter().zip(b) {
        table[i][j] += 1;
    }
    table
}

/// Adjusted Rand index of two labellings (scikit-learn's pair-counting formula). 1.0 for
/// identical partitions whatever the label names, about 0 for independent ones; 1.0 when
/// there are no disagreeing pairs at all (including empty or single-row input).
///
/// # Panics
/// If the slices differ in length.
pub fn adjusted_rand_index(a: &[usize], b: &[usize]) -> f64 {
    let table = contingency(a, b);
    let n = a.len() as u128;
    // Ordered-pair counts, as in scikit-learn's pair_confusion_matrix; u128 because the
    // products below exceed u64 from about 65k rows.
    let sum_sq: u128 = table.iter().flatten().map(|&v| (v as u128).pow(2)).sum();
    let row_sq: u128 = table
        .iter()
        .map(|r| (r.iter().sum::<u64>() as u128).pow(2))
        .sum();
    let cols = table.first().map_or(0, Vec::len);
    let col_sq: u128 = (0..cols)
        .map(|j| (table.iter().map(|r| r[j]).sum::<u64>() as u128).pow(2))
        .sum();
    let tp = sum_sq - n;
    let fp = col_sq - sum_sq; // together in b, apart in a
    let fn_ = row_sq - sum_sq; // together in a, apart in b
    let tn = n * n - fp - fn_ - sum_sq;
    if fp == 0 && fn_ == 0 {
        return 1.0;
    }
    let num = 2.0 * (tp as f64 * tn as f64 - fn_ as f64 * fp as f64);
    let den = (tp + fn_) as f64 * (fn_ + tn) as f64 + (tp + fp) as f64 * (fp + tn) as f64;
    num / den
}

/// Normalised mutual information with the arithmetic-mean normaliser
/// `MI / ((H(a) + H(b)) / 2)` (scikit-learn's default). 1.0 for identical partitions; when
/// both labellings put everything in one cluster (or are empty) it is 1.0, and when the
/// mutual information is 0 otherwise it is 0.0, both as in scikit-learn.
///
/// # Panics
/// If the slices differ in length.
pub fn normalized_mutual_info(a: &[usize], b: &[usize]) -> f64 {
    let table = contingency(a, b);
    let n = a.len() as f64;
    let row_sums: Vec<u64> = table.iter().map(|r| r.iter().sum()).collect();
    let cols = table.first().map_or(0, Vec::len);
    let col_sums: Vec<u64> = (0..cols)
        .map(|j| table.iter().map(|r| r[j]).sum())
        .collect();
    let classes = row_sums.iter().filter(|&&c| c > 0).count();
    let clusters = col_sums.iter().filter(|&&c| c > 0).count();
    if classes == clusters && classes <= 1 {
        return 1.0;
    }
    let mut mi = 0.0;
    for (i, row) in table.iter().enumerate() {
        for (j, &nij) in row.iter().enumerate() {
            if nij > 0 {
                let nij = nij as f64;
                mi += nij / n * (nij * n / (row_sums[i] as f64 * col_sums[j] as f64)).ln();
            }
        }
    }
    // Rounding can leave a tiny negative MI for independent labellings.
    let mi = mi.max(0.0);
    if mi == 0.0 {
        return 0.0;
    }
    let normaliser = (entropy(&row_sums, n) + entropy(&col_sums, n)) / 2.0;
    mi / normaliser.max(f64::EPSILON)
}

fn entropy(counts: &[u64], n: f64) -> f64 {
    counts
        .iter()
        .filter(|&&c| c > 0)
        .map(|&c| {
            let p = c as f64 / n;
            -p * p.ln()
        })
        .sum()
}

fn check_labels(labels: &[usize], k: usize) {
    if let Some(&bad) = labels.iter().find(|&&l| l >= k) {
        panic!("label {bad} is not below k = {k}");
    }
}

/// Per-cluster sizes and means, shared by the internal-validity scores.
struct ClusterStats {
    counts: Vec<usize>,
    /// Row-major `k × d` means (zeros for empty clusters).
    means: Vec<f64>,
    d: usize,
    n_present: usize,
}

impl ClusterStats {
    /// `None` unless the non-empty cluster count `q` satisfies `2 <= q <= n - 1`.
    fn new(x: ArrayView2<f64>, labels: &[usize], k: usize) -> Option<Self> {
        assert_eq!(labels.len(), x.nrows(), "one label per row of x");
        check_labels(labels, k);
        let d = x.ncols();
        let mut counts = vec![0usize; k];
        let mut means = vec![0.0; k * d];
        for (row, &l) in x.rows().into_iter().zip(labels) {
            counts[l] += 1;
            for (m, v) in means[l * d..(l + 1) * d].iter_mut().zip(row) {
                *m += v;
            }
        }
        let n_present = counts.iter().filter(|&&c| c > 0).count();
        if n_present < 2 || n_present >= x.nrows() {
            return None;
        }
        for (c, &cnt) in counts.iter().enumerate() {
            if cnt > 0 {
                means[c * d..(c + 1) * d]
                    .iter_mut()
                    .for_each(|m| *m /= cnt as f64);
            }
        }
        Some(ClusterStats {
            counts,
            means,
            d,
            n_present,
        })
    }

    fn mean(&self, c: usize) -> &[f64] {
        &self.means[c * self.d..(c + 1) * self.d]
    }

    fn present(&self) -> impl Iterator<Item = usize> + '_ {
        (0..self.counts.len()).filter(|&c| self.counts[c] > 0)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use ndarray::{array, Array2};

    fn close(a: f64, b: f64) -> bool {
        (a - b).abs() < 1e-9
    }

    #[test]
    fn inertia_is_the_sum_of_squared_distances() {
        let x = array![[0.0, 0.0], [2.0, 0.0], [10.0, 10.0]];
        let c = array![[1.0, 0.0], [10.0, 9.0]];
        // 1² + 1² + 1² = 3 (a mean would give 1).
        assert!(close(inertia(x.view(), &[0, 0, 1], c.view()), 3.0));
    }

    #[test]
    fn silhouette_matches_hand_computation_in_1d() {
        // x = 0, 1 | 3, 4 | 10 (clusters 0, 1, 2)
        // 0:  a = 1, b = min((3+4)/2, 10) = 3.5      s = 2.5/3.5 = 5/7
        // 1:  a = 1, b = min((2+3)/2, 9)  = 2.5      s = 1.5/2.5 = 3/5
        // 3:  a = 1, b = min((3+2)/2, 7)  = 2.5      s = 3/5
        // 4:  a = 1, b = min((4+3)/2, 6)  = 3.5      s = 5/7
        // 10: alone in its cluster                   s = 0
        // mean = (10/7 + 6/5) / 5 = 92/175 (scikit-learn: 0.5257142857142857)
        let x = array![[0.0], [1.0], [3.0], [4.0], [10.0]];
        let labels = [0, 0, 1, 1, 2];
        let s = silhouette(x.view(), &labels, 3, 100, 7).unwrap();
        assert!(close(s, 92.0 / 175.0), "{s}");
    }

    #[test]
    fn silhouette_undefined_cases() {
        let x = array![[0.0], [1.0], [3.0]];
        assert_eq!(silhouette(x.view(), &[0, 0, 0], 1, 10, 0), None);
        assert_eq!(silhouette(x.view(), &[0, 0, 0], 2, 10, 0), None);
        assert_eq!(silhouette(x.view(), &[0, 1, 2], 3, 10, 0), None);
        assert_eq!(
            silhouette(x.slice(ndarray::s![..1, ..]), &[0], 2, 10, 0),
            None
        );
    }

    #[test]
    fn silhouette_sample_is_deterministic_and_full_when_large_enough() {
        let n = 200;
        let x = Array2::from_shape_fn((n, 2), |(i, j)| {
            let base = if i % 2 == 0 { 0.0 } else { 5.0 };
            base + ((i * 7 + j * 3) % 11) as f64 / 11.0
        });
        let labels: Vec<usize> = (0..n).map(|i| i % 2).collect();
        let full = silhouette(x.view(), &labels, 2, n, 1).unwrap();
        assert_eq!(silhouette(x.view(), &labels, 2, 10 * n, 99), Some(full));
        let a = silhouette(x.view(), &labels, 2, 50, 3).unwrap();
        let b = silhouette(x.view(), &labels, 2, 50, 3).unwrap();
        assert_eq!(a, b);
        assert!((a - full).abs() < 0.05, "sample {a} vs full {full}");
    }

    #[test]
    fn calinski_harabasz_by_hand() {
        // x = 0, 2 | 10, 12 | 30; overall mean 54/5 = 10.8; cluster means 1, 11, 30.
        // B = 2·(1-10.8)² + 2·(11-10.8)² + 1·(30-10.8)² = 192.08 + 0.08 + 368.64 = 560.8
        // W = 1 + 1 + 1 + 1 + 0 = 4
        // CH = (560.8 / (3-1)) / (4 / (5-3)) = 280.4 / 2 = 140.2 (scikit-learn: 140.2)
        let x = array![[0.0], [2.0], [10.0], [12.0], [30.0]];
        let ch = calinski_harabasz(x.view(), &[0, 0, 1, 1, 2], 3).unwrap();
        assert!(close(ch, 140.2), "{ch}");
        // An empty cluster index changes nothing.
        let ch4 = calinski_harabasz(x.view(), &[0, 0, 1, 1, 3], 4).unwrap();
        assert!(close(ch4, 140.2));
        assert_eq!(calinski_harabasz(x.view(), &[0; 5], 1), None);
        assert_eq!(calinski_harabasz(x.view(), &[0, 1, 2, 3, 4], 5), None);
        let same = array![[1.0], [1.0], [2.0], [2.0]];
        assert_eq!(calinski_harabasz(same.view(), &[0, 0, 1, 1], 2), Some(1.0));
    }

    #[test]
    fn davies_bouldin_by_hand() {
        // Same data. Scatter s = 1, 1, 0; means 1, 11, 30.
        // R01 = (1+1)/10 = 0.2, R02 = (1+0)/29, R12 = (1+0)/19
        // D0 = 0.2, D1 = max(0.2, 1/19) = 0.2, D2 = max(1/29, 1/19) = 1/19
        // DB = (0.4 + 1/19) / 3 = 8.6/57 = 0.15087719298245614 (scikit-learn: same)
        let x = array![[0.0], [2.0], [10.0], [12.0], [30.0]];
        let db = davies_bouldin(x.view(), &[0, 0, 1, 1, 2], 3).unwrap();
        assert!(close(db, 8.6 / 57.0), "{db}");
        let same = array![[1.0], [1.0], [2.0], [2.0]];
        assert_eq!(davies_bouldin(same.view(), &[0, 0, 1, 1], 2), Some(0.0));
        assert_eq!(davies_bouldin(x.view(), &[0; 5], 1), None);
    }

    #[test]
    fn contingency_counts_pairs() {
        assert_eq!(
            contingency(&[0, 0, 1, 1], &[0, 0, 1, 2]),
            vec![vec![2, 0, 0], vec![0, 1, 1]]
        );
        assert!(contingency(&[], &[]).is_empty());
    }

    #[test]
    fn adjusted_rand_index_values() {
        // Ordered pairs: together in both 2, only in a 2, only in b 0, apart in both 8:
        // 2·(2·8 - 2·0) / ((2+2)(2+8) + (2+0)(0+8)) = 32/56 (scikit-learn: 0.5714285714285715)
        let ari = adjusted_rand_index(&[0, 0, 1, 1], &[0, 0, 1, 2]);
        assert!(close(ari, 4.0 / 7.0), "{ari}");
        assert!(close(
            adjusted_rand_index(&[0, 0, 1, 1], &[1, 1, 0, 0]),
            1.0
        ));
        assert!(close(
            adjusted_rand_index(&[0, 1, 2, 0], &[0, 1, 2, 0]),
            1.0
        ));
        assert!(close(
            adjusted_rand_index(&[2, 2, 0, 1, 1], &[5, 5, 3, 0, 0]),
            1.0
        ));
        assert_eq!(adjusted_rand_index(&[0, 0, 0], &[0, 0, 0]), 1.0);
        assert_eq!(adjusted_rand_index(&[], &[]), 1.0);
        // scikit-learn: adjusted_rand_score([0,0,1,1],[0,1,0,1]) = -0.5
        assert!(close(
            adjusted_rand_index(&[0, 0, 1, 1], &[0, 1, 0, 1]),
            -0.5
        ));
    }

    #[test]
    fn normalized_mutual_info_values() {
        // H(a) = ln 2, H(b) = 1.5 ln 2, MI = ln 2 (b refines a): ln2 / 1.25 ln2 = 0.8
        let nmi = normalized_mutual_info(&[0, 0, 1, 1], &[0, 0, 1, 2]);
        assert!(close(nmi, 0.8), "{nmi}");
        assert!(close(
            normalized_mutual_info(&[0, 0, 1, 1], &[1, 1, 0, 0]),
            1.0
        ));
        assert_eq!(normalized_mutual_info(&[3, 3, 3], &[0, 0, 0]), 1.0);
        assert_eq!(normalized_mutual_info(&[], &[]), 1.0);
        // One side a single cluster, the other not: MI = 0.
        assert_eq!(normalized_mutual_info(&[0, 0, 0, 0], &[0, 0, 1, 1]), 0.0);
        assert_eq!(normalized_mutual_info(&[0, 0, 1, 1], &[0, 1, 0, 1]), 0.0);
    }
}
