//! RFM scores: cut points per dimension, each customer's 1..=bins score, the thresholds table
//! that shows the cuts, RFM codes and the segments the rules name. Scores only: tiers, risk
//! and text of reasons are decided elsewhere.

use crate::columns as c;
use anyhow::Result;
use polars::prelude::*;
use rayon::prelude::*;

use super::attributes::AttributeInputs;
use super::text::pct;
use crate::stats::{most_common, quantile, Floats};
use crate::tiers::params::{GradingParams, RfmCuts};

/// Score 1..=bins from ascending cut points: more is better unless `reverse` (recency).
/// A value equal to a cut point falls in the lower bin, so tied values always share a score.
pub fn score_with_cuts(x: f64, cuts: &[f64], reverse: bool) -> u8 {
    let above = cuts.iter().filter(|t| **t < x).count() as u8;
    if reverse {
        cuts.len() as u8 + 1 - above
    } else {
        above + 1
    }
}

/// One RFM dimension: its name in the thresholds table, and whether less is better.
struct Dimension {
    name: &'static str,
    reverse: bool,
}

/// Recency, frequency and monetary, in the order of [`RfmScores::scores`].
const DIMENSIONS: [Dimension; 3] = [
    Dimension {
        name: "recency",
        reverse: true,
    },
    Dimension {
        name: "frequency",
        reverse: false,
    },
    Dimension {
        name: "monetary",
        reverse: false,
    },
];

/// One line of `rfm_thresholds.parquet`: dimension, score, above, up to, customers, note.
pub(super) struct ThresholdRow {
    dimension: &'static str,
    score: u8,
    /// The bin's lower cut point (values equal to it are in the bin below).
    above: Option<f64>,
    up_to: Option<f64>,
    customers: u64,
    note: String,
}

/// The R, F and M scores of every customer, with what the cut points were and what went
/// wrong with them.
pub(super) struct RfmScores {
    pub scores: [Vec<u8>; 3],
    pub thresholds: Vec<ThresholdRow>,
    /// Things a person should know about the cut points (collapsed bins).
    pub notes: Vec<String>,
}

/// Scores recency, frequency and monetary (`features`, in that order).
pub(super) fn rfm_scores(features: [&Floats; 3], p: &GradingParams) -> RfmScores {
    let mut rfm = RfmScores {
        scores: Default::default(),
        thresholds: Vec::new(),
        notes: Vec::new(),
    };
    for (d, values) in features.into_iter().enumerate() {
        rfm.scores[d] = score_dimension(d, values, p, &mut rfm);
    }
    rfm
}

/// Dimension `d`'s scores; its threshold rows and note go to `rfm`.
fn score_dimension(d: usize, values: &Floats, p: &GradingParams, rfm: &mut RfmScores) -> Vec<u8> {
    let Dimension { name, reverse } = DIMENSIONS[d];
    let bins = p.bins as usize;
    let mut sorted: Vec<f64> = values.iter().flatten().collect();
    sorted.par_sort_unstable_by(f64::total_cmp);
    let cuts: Vec<f64> = match &p.rfm_cuts {
        RfmCuts::Quantile => (1..bins)
            .map(|i| quantile(&sorted, i as f64 / bins as f64))
            .collect(),
        RfmCuts::Thresholds(t) => t[d].clone(),
    };
    let s: Vec<u8> = values
        .iter()
        .map(|v| score_with_cuts(v.unwrap_or(f64::NAN), &cuts, reverse))
        .collect();
    let mut counts = vec![0u64; bins + 1];
    for x in &s {
        counts[*x as usize] += 1;
    }
    let note = empty_levels_note(name, &counts, &sorted, &cuts, values.len());
    if !note.is_empty() {
        rfm.notes.push(note.clone());
    }
    for level in 1..=bins as u8 {
        // Bin k (1-based from the bottom of the value range) is (cut[k-2], cut[k-1]].
        let k = if reverse {
            bins as u8 + 1 - level
        } else {
            level
        } as usize;
        let lower = if k >= 2 { Some(cuts[k - 2]) } else { None };
        let upper = if k <= cuts.len() {
            Some(cuts[k - 1])
        } else {
            None
        };
        rfm.thresholds.push(ThresholdRow {
            dimension: name,
            score: level,
            above: lower,
            up_to: upper,
            customers: counts[level as usize],
            note: note.clone(),
        });
    }
    s
}

/// The note on score levels no customer has (empty when every level has some), from the
/// customers per level (`counts[level]`) of `n` customers and their sorted values.
fn empty_levels_note(name: &str, counts: &[u64], sorted: &[f64], cuts: &[f64], n: usize) -> String {
    let empty: Vec<u8> = (1..counts.len())
        .filter(|l| counts[*l] == 0)
        .map(|l| l as u8)
        .collect();
    if empty.is_empty() || n == 0 {
        return String::new();
    }
    // Heavy ties make quantile cut points coincide; say so instead of hiding it.
    let (mode, mode_n) = most_common(sorted);
    format!(
        "{name}: score level(s) {} have no customers; {} of customers share the value {} (cut points {})",
        join(&empty),
        pct(mode_n as f64 / sorted.len() as f64),
        mode,
        cuts.iter().map(|x| format!("{x}")).collect::<Vec<_>>().join(", ")
    )
}

fn join(levels: &[u8]) -> String {
    levels
        .iter()
        .map(|l| l.to_string())
        .collect::<Vec<_>>()
        .join(", ")
}

/// `rfm_thresholds.parquet`.
pub(super) fn thresholds_table(rows: &[ThresholdRow]) -> Result<DataFrame> {
    Ok(DataFrame::new(
        rows.len(),
        vec![
            Column::new(
                c::DIMENSION.into(),
                rows.iter().map(|t| t.dimension).collect::<Vec<_>>(),
            ),
            Column::new(
                c::SCORE.into(),
                rows.iter().map(|t| t.score as i32).collect::<Vec<_>>(),
            ),
            Column::new(
                c::ABOVE.into(),
                rows.iter().map(|t| t.above).collect::<Vec<_>>(),
            ),
            Column::new(
                c::UP_TO.into(),
                rows.iter().map(|t| t.up_to).collect::<Vec<_>>(),
            ),
            Column::new(
                c::CUSTOMERS.into(),
                rows.iter().map(|t| t.customers as i64).collect::<Vec<_>>(),
            ),
            Column::new(
                c::NOTE.into(),
                rows.iter().map(|t| t.note.clone()).collect::<Vec<_>>(),
            ),
        ],
    )?)
}

/// Each customer's value as an index into a short table of the values' names (RFM codes,
/// segments): a label per customer without a string per customer.
pub(super) struct Coded {
    pub names: Vec<String>,
    pub index: Vec<u16>,
}

/// Codes "111".."555" as indices into a table of all of them.
pub(super) fn rfm_codes(scores: &[Vec<u8>; 3], bins: usize) -> Coded {
    let [r, f, m] = scores;
    let b1 = bins + 1;
    let names: Vec<String> = (0..b1 * b1 * b1)
        .map(|x| format!("{}{}{}", x / (b1 * b1), x / b1 % b1, x % b1))
        .collect();
    let index: Vec<u16> = (0..r.len())
        .map(|i| ((r[i] as usize * b1 + f[i] as usize) * b1 + m[i] as usize) as u16)
        .collect();
    Coded { names, index }
}

/// Each customer's segment: the first rule its scores match, else "Others".
pub(super) fn segments(scores: &[Vec<u8>; 3], p: &GradingParams, attrs: &AttributeInputs) -> Coded {
    let [r, f, m] = scores;
    // Segment names (each once, in rule order, then "Others"), and each rule's name.
    let mut segment_names: Vec<&str> = Vec::new();
    for s in p.segments.iter().map(|s| s.name.as_str()).chain(["Others"]) {
        if !segment_names.contains(&s) {
            segment_names.push(s);
        }
    }
    let name_of_rule: Vec<usize> = p
        .segments
        .iter()
        .map(|s| segment_names.iter().position(|x| *x == s.name).unwrap_or(0))
        .collect();
    let others = segment_names
        .iter()
        .position(|x| *x == "Others")
        .expect("pushed above");
    let index: Vec<u16> = (0..r.len())
        .map(|i| {
            p.segments
                .iter()
                .position(|s| {
                    (s.r.0..=s.r.1).contains(&r[i])
                        && (s.f.0..=s.f.1).contains(&f[i])
                        && (s.m.0..=s.m.1).contains(&m[i])
                        && s.attribute
                            .as_ref()
                            .is_none_or(|(a, values)| attrs.is_one_of(a, values, i))
                })
                .map(|k| name_of_rule[k])
                .unwrap_or(others) as u16
        })
        .collect();
    Coded {
        names: segment_names.iter().map(|s| s.to_string()).collect(),
        index,
    }
}

#[cfg(test)]
mod tests {
    use super::super::fixtures::{params, tied_customers};
    use super::super::{assign_rule_tiers, Rows};
    use super::*;

    #[test]
    fn scores_at_every_boundary() {
        let cuts = [10.0, 20.0, 30.0, 40.0];
        assert_eq!(score_with_cuts(5.0, &cuts, false), 1);
        assert_eq!(
            score_with_cuts(10.0, &cuts, false),
            1,
            "equal to a cut: lower bin"
        );
        assert_eq!(score_with_cuts(10.5, &cuts, false), 2);
        assert_eq!(score_with_cuts(40.0, &cuts, false), 4);
        assert_eq!(score_with_cuts(41.0, &cuts, false), 5);
        // Recency: fewer days is better.
        assert_eq!(score_with_cuts(5.0, &cuts, true), 5);
        assert_eq!(score_with_cuts(41.0, &cuts, true), 1);
    }

    #[test]
    fn heavy_ties_are_reported_not_hidden() {
        let g = assign_rule_tiers(&tied_customers(), &params("")).unwrap();
        // Frequency quantiles at 20/40/60/80 %: 1, 1, 1 and 2.2 (position 7.2 between 2 and 3).
        // Frequency 2 lies above three cuts (score 4), 3 and 9 above all four (score 5).
        assert_eq!(g.notes.len(), 1, "{:?}", g.notes);
        assert!(
            g.notes[0].starts_with("frequency: score level(s) 2, 3 have no customers; 70.0% of customers share the value 1 (cut points 1, 1, 1, 2.2)"),
            "{}",
            g.notes[0]
        );
        let f: Vec<i32> = g
            .rows
            .frame(Rows::All)
            .unwrap()
            .column("f_score")
            .unwrap()
            .i32()
            .unwrap()
            .into_no_null_iter()
            .collect();
        assert_eq!(f, [1, 1, 1, 1, 1, 1, 1, 4, 5, 5]);
    }
}
