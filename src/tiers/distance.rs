//! Squared Euclidean distances and nearest-centroid assignment, in one place for k-means,
//! its quality scores and the placing of other snapshots' customers. Rows and centroids are
//! row-major slices of `d` values each.

use rayon::prelude::*;

/// Rows per parallel task of [`assign`]: enough to amortise a task, small enough to spread.
const ROWS_PER_TASK: usize = 4096;

/// The squared Euclidean distance between two points.
pub fn sq_dist(a: &[f64], b: &[f64]) -> f64 {
    a.iter().zip(b).map(|(x, y)| (x - y) * (x - y)).sum()
}

/// The nearest centroid to `row` (lowest index on ties, like linfa) with its squared
/// distance, and the squared distance to the second nearest.
#[inline]
pub fn nearest_two(row: &[f64], cents: &[f64], d: usize) -> ((usize, f64), f64) {
    let mut best = (0, f64::INFINITY);
    let mut second = f64::INFINITY;
    for (c, cent) in cents.chunks_exact(d).enumerate() {
        let s = sq_dist(row, cent);
        if s < best.1 {
            second = best.1;
            best = (c, s);
        } else if s < second {
            second = s;
        }
    }
    (best, second)
}

/// Assigns each row of `data` to its nearest centroid (lowest index on ties), writing its
/// label and squared distance; returns how many rows changed label. Rows are independent,
/// so blocks of them run in parallel and the result does not depend on the number of threads.
pub fn assign(
    data: &[f64],
    d: usize,
    cents: &[f64],
    labels: &mut [usize],
    sq: &mut [f64],
) -> usize {
    data.par_chunks(ROWS_PER_TASK * d)
        .zip(labels.par_chunks_mut(ROWS_PER_TASK))
        .zip(sq.par_chunks_mut(ROWS_PER_TASK))
        .map(|((rows, labels), sq)| {
            let mut changed = 0;
            for ((row, label), dist) in rows.chunks_exact(d).zip(labels.iter_mut()).zip(sq) {
                let ((best, s), _) = nearest_two(row, cents, d);
                if *label != best {
                    changed += 1;
                    *label = best;
                }
                *dist = s;
            }
            changed
        })
        .sum()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn nearest_with_ties_to_the_lowest_index() {
        // Centroids at 0, 2 and 2 (a tie between 1 and 2), in one dimension.
        let cents = [0.0, 2.0, 2.0];
        assert_eq!(nearest_two(&[1.5], &cents, 1), ((1, 0.25), 0.25));
        assert_eq!(nearest_two(&[0.5], &cents, 1), ((0, 0.25), 2.25));
        let data = [0.5, 1.5, 3.0, -1.0];
        let mut labels = vec![0, 0, 0, 0];
        let mut sq = vec![0.0; 4];
        assert_eq!(assign(&data, 1, &cents, &mut labels, &mut sq), 2);
        assert_eq!(labels, [0, 1, 1, 0]);
        assert_eq!(sq, [0.25, 0.25, 1.0, 1.0]);
        assert_eq!(sq_dist(&[1.0, 2.0], &[4.0, 6.0]), 25.0);
    }
}
