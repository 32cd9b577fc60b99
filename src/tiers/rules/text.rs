//! Text for grading tables: money, fixed-point numbers and percentages written without
//! allocating, and text or label columns built from them. Formatting only: no grading
//! decisions are made here.

use std::fmt::{self, Write as _};

use anyhow::Result;
use polars::prelude::*;
use rayon::prelude::*;

/// Money with thousands separators and cents ("1,234.50"), written without allocating.
pub(super) struct Money(f64);

impl fmt::Display for Money {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let scaled = (self.0.abs() * 100.0).round();
        // Cents past u64 (amounts from about 1.8e17) would saturate: the standard formatter
        // writes those, and the digits are grouped from its text.
        if scaled.is_nan() || scaled >= u64::MAX as f64 {
            return write_grouped(f, &format!("{:.2}", self.0));
        }
        let cents = scaled as u64;
        if self.0 < 0.0 {
            f.write_char('-')?;
        }
        let mut digits = [0u8; 20];
        let (mut len, mut rest) = (0, cents / 100);
        loop {
            digits[len] = b'0' + (rest % 10) as u8;
            len += 1;
            rest /= 10;
            if rest == 0 {
                break;
            }
        }
        for i in (0..len).rev() {
            f.write_char(digits[i] as char)?;
            if i > 0 && i % 3 == 0 {
                f.write_char(',')?;
            }
        }
        write!(f, ".{:02}", cents % 100)
    }
}

pub(super) fn money(x: f64) -> Money {
    Money(x)
}

/// Writes a number as text (`-123456789.50`, `inf`) with its integer digits grouped by
/// thousands.
fn write_grouped(f: &mut fmt::Formatter<'_>, text: &str) -> fmt::Result {
    let (sign, rest) = match text.strip_prefix('-') {
        Some(r) => ("-", r),
        None => ("", text),
    };
    let (int, frac) = rest.split_at(rest.find('.').unwrap_or(rest.len()));
    if !int.bytes().all(|b| b.is_ascii_digit()) {
        return f.write_str(text);
    }
    f.write_str(sign)?;
    for (i, ch) in int.chars().enumerate() {
        if i > 0 && (int.len() - i) % 3 == 0 {
            f.write_char(',')?;
        }
        f.write_char(ch)?;
    }
    f.write_str(frac)
}

/// `x` with `decimals` digits after the point, exactly as `format!("{x:.decimals$}")` writes
/// it. The standard formatter takes an exact (big-number) path for most values; grading writes
/// millions of them. Here a non-negative value far enough from a rounding boundary is scaled
/// and rounded as an integer: the scaling's rounding error (below 0.0003 under 10^12) cannot
/// move it across the boundary. Everything else (negative values, ties, huge values) goes to
/// the standard formatter.
pub(super) struct Fixed(f64, usize);

impl fmt::Display for Fixed {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        const SCALE: [f64; 3] = [1.0, 10.0, 100.0];
        let Fixed(x, decimals) = *self;
        let y = x * SCALE[decimals];
        let r = y.round();
        if !(x >= 0.0 && !x.is_sign_negative() && y < 1e12 && (y - r).abs() <= 0.499) {
            return write!(f, "{x:.decimals$}");
        }
        let (r, unit) = (r as u64, SCALE[decimals] as u64);
        if decimals == 0 {
            write!(f, "{r}")
        } else {
            write!(f, "{}.{:0decimals$}", r / unit, r % unit)
        }
    }
}

/// See [`Fixed`]; `decimals` is 0, 1 or 2.
pub(super) fn fixed(x: f64, decimals: usize) -> Fixed {
    Fixed(x, decimals)
}

/// A share as a percentage with one decimal ("12.5%").
pub(super) struct Pct(f64);

impl fmt::Display for Pct {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}%", fixed(self.0 * 100.0, 1))
    }
}

pub(super) fn pct(x: f64) -> Pct {
    Pct(x)
}

/// A text column built row by row through one reused buffer: no allocation per row.
struct TextColumn {
    buf: String,
    out: StringChunkedBuilder,
}

impl TextColumn {
    fn new(name: &str, rows: usize) -> Self {
        TextColumn {
            buf: String::new(),
            out: StringChunkedBuilder::new(name.into(), rows),
        }
    }

    /// Appends the text that `write` produces.
    fn push(&mut self, write: impl FnOnce(&mut String) -> fmt::Result) {
        self.buf.clear();
        write(&mut self.buf).expect("writing to a String cannot fail");
        self.out.append_value(&self.buf);
    }

    fn finish(self) -> StringChunked {
        self.out.finish()
    }
}

/// Rows per block of [`text_column`]: enough to amortise a task, small enough to spread.
const TEXT_BLOCK: usize = 1 << 15;

/// A text column of `n` rows written by `write(i, out)` in parallel blocks. Blocks become the
/// chunks of the column, in row order.
pub(super) fn text_column(
    name: &str,
    n: usize,
    write: impl Fn(usize, &mut String) -> fmt::Result + Sync,
) -> StringChunked {
    let blocks: Vec<StringChunked> = (0..n.div_ceil(TEXT_BLOCK))
        .into_par_iter()
        .map(|b| {
            let rows = b * TEXT_BLOCK..((b + 1) * TEXT_BLOCK).min(n);
            let mut text = TextColumn::new(name, rows.len());
            for i in rows {
                text.push(|out| write(i, out));
            }
            text.finish()
        })
        .collect();
    let mut column = StringChunked::full_null(name.into(), 0);
    for t in blocks {
        column
            .append_owned(t)
            .expect("blocks of one text column have one type");
    }
    column
}

/// `values[idx[i]]` for row `i`: a column of repeated values (a tier's label or policy)
/// gathered from the few distinct ones instead of built row by row.
pub(super) fn gather(values: &Series, idx: impl Iterator<Item = usize>) -> Result<Column> {
    let idx = IdxCa::from_vec("".into(), idx.map(|i| i as IdxSize).collect::<Vec<_>>());
    Ok(values.take(&idx)?.into_column())
}

/// [`gather`] for text labels that are never missing.
pub(super) fn labels<S: AsRef<str>>(
    name: &str,
    labels: &[S],
    idx: impl Iterator<Item = usize>,
) -> Result<Column> {
    let labels: Vec<&str> = labels.iter().map(|s| s.as_ref()).collect();
    gather(&Series::new(name.into(), labels), idx)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Fixed-point text equals the standard formatter's: on boundaries and ties (which take
    /// the standard path), negative values and zero, huge values, and a million values of
    /// the ranges grading writes.
    #[test]
    fn fixed_writes_what_the_standard_formatter_writes() {
        let check = |x: f64| {
            for d in 0..3 {
                assert_eq!(
                    fixed(x, d).to_string(),
                    format!("{x:.d$}"),
                    "{x:e} to {d} places"
                );
            }
        };
        for x in [
            0.0,
            -0.0,
            0.5,
            1.5,
            2.5,
            0.05,
            0.15,
            0.25,
            0.125,
            0.375,
            1.005,
            2.675,
            99.995,
            57.234999999,
            1e11,
            1e12,
            1e13,
            1.23e20,
            -0.01,
            -2.5,
            -3.25159,
            f64::MIN_POSITIVE,
        ] {
            check(x);
        }
        let mut rng = 0x2545_f491_4f6c_dd1du64;
        for i in 0..1_000_000u64 {
            rng ^= rng << 13;
            rng ^= rng >> 7;
            rng ^= rng << 17;
            let u = (rng >> 11) as f64 / (1u64 << 53) as f64;
            let x = match i % 4 {
                // Rounded scores, shares in percent, day counts, ratios.
                0 => (u * 10_000.0).round() / 100.0,
                1 => u * 100.0,
                2 => (u * 2000.0).floor() + (i % 3) as f64 * 0.5,
                _ => u * 1e6,
            };
            check(x);
        }
    }

    #[test]
    fn money_formats_thousands() {
        assert_eq!(money(1234567.891).to_string(), "1,234,567.89");
        assert_eq!(money(-5.0).to_string(), "-5.00");
        assert_eq!(money(999.999).to_string(), "1,000.00");
        assert_eq!(money(0.5).to_string(), "0.50");
        // Past 1.8e17 cents no longer fit a u64; the digits stay right.
        assert_eq!(money(2e17).to_string(), "200,000,000,000,000,000.00");
        assert_eq!(
            money(-3.5e20).to_string(),
            "-350,000,000,000,000,000,000.00"
        );
        assert_eq!(money(1e17).to_string(), "100,000,000,000,000,000.00");
    }
}
