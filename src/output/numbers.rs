//! Numbers as people read them, for the report and the chart axes: shares as percentages,
//! money with thousands separators and no spurious decimals, days as whole numbers. Text
//! only: the values arrive computed. (Reasons in the tables have their own fixed formats.)

use crate::progress::thousands;

/// A whole number with thousands separators: `-1234.6` -> "-1,235".
pub fn whole(x: f64) -> String {
    if !x.is_finite() {
        return x.to_string();
    }
    let r = x.round();
    let digits = thousands(r.abs().min(u64::MAX as f64) as u64);
    if r < 0.0 {
        format!("-{digits}")
    } else {
        digits
    }
}

/// Money: whole units from 100 on ("29,403,279"), else cents unless they are zero ("12.50",
/// "7").
pub fn money(x: f64) -> String {
    if !x.is_finite() || x.abs() >= 100.0 || x.fract() == 0.0 {
        return whole(x);
    }
    let s = format!("{x:.2}");
    match s.strip_suffix(".00") {
        Some(w) => w.to_string(),
        None => s,
    }
}

/// A share (0..1) as a percentage with one decimal: `0.2944` -> "29.4 %". A share that is
/// not zero never reads as zero: "<0.1 %".
pub fn pct(share: f64) -> String {
    if !share.is_finite() {
        return share.to_string();
    }
    let p = share * 100.0;
    if p != 0.0 && p.abs() < 0.05 {
        return if p > 0.0 { "<0.1 %" } else { ">-0.1 %" }.to_string();
    }
    format!("{p:.1} %")
}

/// Days as a whole number.
pub fn days(x: f64) -> String {
    whole(x)
}

/// A number with `decimals` digits after the point and its integer part grouped by thousands.
pub fn decimal(x: f64, decimals: usize) -> String {
    if !x.is_finite() {
        return x.to_string();
    }
    let s = format!("{:.decimals$}", x.abs());
    let (int, frac) = s.split_at(s.find('.').unwrap_or(s.len()));
    let int: u64 = int.parse().unwrap_or(0);
    let sign = if x < 0.0 && s.bytes().any(|b| (b'1'..=b'9').contains(&b)) {
        "-"
    } else {
        ""
    };
    format!("{sign}{}{frac}", thousands(int))
}

/// A tick label on a chart axis: "1,000", "250,000", "1.5 M", "0.25", never "1000000" or
/// "50.0".
pub fn axis(v: f64) -> String {
    if !v.is_finite() {
        return v.to_string();
    }
    let a = v.abs();
    if a >= 1e6 {
        let m = format!("{:.1}", v / 1e6);
        let m = m.strip_suffix(".0").unwrap_or(&m).to_string();
        return format!("{m} M");
    }
    if a >= 100.0 || (v - v.round()).abs() < 1e-9 {
        return whole(v);
    }
    let s = format!("{v:.2}");
    let s = s.trim_end_matches('0');
    s.strip_suffix('.').unwrap_or(s).to_string()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn money_days_and_shares_read_as_people_write_them() {
        assert_eq!(money(29_403_279.4), "29,403,279");
        assert_eq!(money(-1234.5), "-1,235");
        assert_eq!(money(12.5), "12.50");
        assert_eq!(money(7.0), "7");
        assert_eq!(money(0.004), "0");
        assert_eq!(pct(0.2944), "29.4 %");
        assert_eq!(pct(1.0), "100.0 %");
        assert_eq!(pct(0.0), "0.0 %");
        assert_eq!(pct(0.0002), "<0.1 %");
        assert_eq!(days(33.8), "34");
        assert_eq!(days(1234.0), "1,234");
        assert_eq!(decimal(8.594, 2), "8.59");
        assert_eq!(decimal(-12345.678, 1), "-12,345.7");
        assert_eq!(decimal(-0.001, 2), "0.00");
        assert_eq!(whole(f64::NAN), "NaN");
    }

    #[test]
    fn axis_ticks_never_show_raw_digits_or_a_spurious_decimal() {
        assert_eq!(axis(1_000_000.0), "1 M");
        assert_eq!(axis(2_500_000.0), "2.5 M");
        assert_eq!(axis(250_000.0), "250,000");
        assert_eq!(axis(1000.0), "1,000");
        assert_eq!(axis(50.0), "50");
        assert_eq!(axis(0.25), "0.25");
        assert_eq!(axis(0.5), "0.5");
        assert_eq!(axis(-3.0), "-3");
        assert_eq!(axis(0.0), "0");
    }
}
