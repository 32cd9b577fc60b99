//! The Gaussian hypergeometric function 2F1(a, b; c; z) for 0 <= z < 1, which the BG/NBD
//! conditional expectation needs. Written here because no maintained Rust crate evaluates it
//! for real parameters (statrs and special-functions crates stop at the gamma and beta
//! families); the method is the textbook series with Euler's transformation, and every value
//! comes with a convergence check instead of a fixed number of terms.

use thiserror::Error;

/// More terms than this and the series is reported as not converged (z very close to 1).
const MAX_TERMS: usize = 2_000_000;

/// Relative precision of a converged value.
const EPS: f64 = 1e-14;

#[derive(Debug, Error, PartialEq)]
pub enum Hyp2f1Error {
    #[error(
        "2F1({a}, {b}; {c}; z) needs 0 <= z < 1 and c not a negative integer or zero (z = {z})"
    )]
    OutOfDomain { a: f64, b: f64, c: f64, z: f64 },
    #[error("2F1({a}, {b}; {c}; {z}) did not converge within {MAX_TERMS} terms")]
    NoConvergence { a: f64, b: f64, c: f64, z: f64 },
}

/// 2F1(a, b; c; z) for one `z` in [0, 1).
pub fn hyp2f1(a: f64, b: f64, c: f64, z: f64) -> Result<f64, Hyp2f1Error> {
    Ok(hyp2f1_many(a, b, c, &[z])?[0])
}

/// 2F1(a, b; c; z) for every `z` of `zs` (each in [0, 1)), sharing the series' coefficients:
/// one pass over the terms serves all of them.
///
/// The terms of the series behave like n^(a+b-c-1) z^n. When a + b > c they first grow, and
/// the series is slow near z = 1; Euler's transformation
/// 2F1(a, b; c; z) = (1-z)^(c-a-b) 2F1(c-a, c-b; c; z) turns the exponent into c-a-b-1 < -1,
/// whose terms fall from the start. The sum stops when the next term and a bound on all the
/// rest are below the precision, never after a fixed count.
pub fn hyp2f1_many(a: f64, b: f64, c: f64, zs: &[f64]) -> Result<Vec<f64>, Hyp2f1Error> {
    let bad_c = c <= 0.0 && c.fract() == 0.0;
    if let Some(&z) = zs
        .iter()
        .find(|z| !(0.0..1.0).contains(*z) || !a.is_finite() || !b.is_finite() || bad_c)
    {
        return Err(Hyp2f1Error::OutOfDomain { a, b, c, z });
    }
    let euler = a + b > c;
    let (sa, sb) = if euler { (c - a, c - b) } else { (a, b) };
    let sums = series(sa, sb, c, zs).map_err(|z| Hyp2f1Error::NoConvergence { a, b, c, z })?;
    Ok(if euler {
        zs.iter()
            .zip(sums)
            .map(|(z, s)| (1.0 - z).powf(c - a - b) * s)
            .collect()
    } else {
        sums
    })
}

/// The plain series sum_n (a)_n (b)_n / ((c)_n n!) z^n for every z, or the first z that did
/// not converge.
fn series(a: f64, b: f64, c: f64, zs: &[f64]) -> Result<Vec<f64>, f64> {
    let mut sums = vec![1.0; zs.len()];
    // Per z: its power times the coefficient, i.e. the current term.
    let mut terms = vec![1.0; zs.len()];
    let mut done = vec![false; zs.len()];
    let mut left = zs.len();
    let mut coef_ratio;
    for n in 0..MAX_TERMS {
        if left == 0 {
            return Ok(sums);
        }
        let nf = n as f64;
        // A polynomial series: a or b a non-positive integer ends it.
        coef_ratio = (a + nf) * (b + nf) / ((c + nf) * (nf + 1.0));
        for (k, &z) in zs.iter().enumerate() {
            if done[k] {
                continue;
            }
            let ratio = coef_ratio * z;
            let term = terms[k] * ratio;
            terms[k] = term;
            sums[k] += term;
            // Bound on the rest: the terms' ratio tends to z; from above it is at most the
            // current ratio, from below at most z.
            let rho = ratio.abs().max(z);
            let tail = if rho < 1.0 {
                term.abs() * rho / (1.0 - rho)
            } else {
                f64::INFINITY
            };
            let settled = tail <= EPS * sums[k].abs() || term == 0.0;
            // Growing terms (the ratio above 1) are not settled whatever their size.
            if settled && ratio.abs() < 1.0 {
                done[k] = true;
                left -= 1;
            }
        }
    }
    match zs.iter().zip(&done).find(|(_, d)| !**d) {
        Some((z, _)) => Err(*z),
        None => Ok(sums),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn close(x: f64, y: f64, rel: f64) -> bool {
        (x - y).abs() <= rel * y.abs().max(1e-300)
    }

    #[test]
    fn closed_forms() {
        // 2F1(1, 1; 2; z) = -ln(1-z)/z.
        for z in [0.0001, 0.3, 0.9, 0.999] {
            let want: f64 = -(1.0f64 - z).ln() / z;
            let got = hyp2f1(1.0, 1.0, 2.0, z).unwrap();
            assert!(close(got, want, 1e-12), "z = {z}: {got} against {want}");
        }
        // 2F1(a, b; b; z) = (1-z)^-a: here a + b > c, the Euler branch.
        for z in [0.2, 0.95] {
            let got = hyp2f1(2.5, 3.0, 3.0, z).unwrap();
            assert!(close(got, (1.0f64 - z).powf(-2.5), 1e-12), "{got}");
        }
        // 2F1(1/2, 1; 3/2; z^2) = atanh(z) / z.
        let z: f64 = 0.8;
        let got = hyp2f1(0.5, 1.0, 1.5, z * z).unwrap();
        assert!(close(got, z.atanh() / z, 1e-12), "{got}");
        // A polynomial: 2F1(-2, 3; 4; z) = 1 - 3/2 z + 3/5 z^2.
        let got = hyp2f1(-2.0, 3.0, 4.0, 0.5).unwrap();
        assert!(close(got, 1.0 - 0.75 + 0.15, 1e-14), "{got}");
        assert_eq!(hyp2f1(3.0, 4.0, 5.0, 0.0).unwrap(), 1.0);
    }

    #[test]
    fn many_equals_one_by_one() {
        let zs = [0.1, 0.5, 0.93, 0.0];
        let many = hyp2f1_many(2.24, 4.43, 5.22, &zs).unwrap();
        for (z, m) in zs.iter().zip(many) {
            assert_eq!(hyp2f1(2.24, 4.43, 5.22, *z).unwrap(), m);
        }
    }

    #[test]
    fn out_of_domain_and_no_convergence_are_errors() {
        assert!(matches!(
            hyp2f1(1.0, 1.0, 2.0, 1.0),
            Err(Hyp2f1Error::OutOfDomain { .. })
        ));
        assert!(matches!(
            hyp2f1(1.0, 1.0, -2.0, 0.5),
            Err(Hyp2f1Error::OutOfDomain { .. })
        ));
        // Terms that fall like 1/n (c = a + b + 0.000001): the tail is never below the
        // precision within the cap at z this close to 1.
        assert!(matches!(
            hyp2f1(0.5, 0.5, 1.000001, 1.0 - 1e-9),
            Err(Hyp2f1Error::NoConvergence { .. })
        ));
    }
}
