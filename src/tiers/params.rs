//! The grading sections of the pipeline file (`[rfm]`, `[score]`, `[tiers]`, `[risk]`,
//! `[alerts]`, `[policies.<tier>]`): raw serde structs and their validation into typed params.
//! Validation knows which features exist (profit needs a cost column, payment behaviour needs
//! due dates) so a rule that can never work is an error before any data is read.

use std::collections::BTreeMap;

use anyhow::{bail, Result};
use serde::Deserialize;

use super::attribute_rules::{
    check_segment_condition, AttributeNames, Pin, RawPin, RawRiskRule, RiskRule, TextOrNumber,
};
use crate::columns as c;

// ---------------------------------------------------------------- raw (as written)

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawRfm {
    /// Score levels per dimension (5 gives scores 1..5).
    #[serde(default = "default_bins")]
    pub bins: u8,
    /// `quantile` (cut points from the data) or `thresholds` (the lists below).
    #[serde(default)]
    pub method: RfmMethod,
    /// Ascending cut points, `bins - 1` each: recency in days, frequency in orders, monetary in
    /// currency. Used with `method = "thresholds"`.
    pub recency_thresholds: Option<Vec<f64>>,
    pub frequency_thresholds: Option<Vec<f64>>,
    pub monetary_thresholds: Option<Vec<f64>>,
    /// Ordered segment rules; the first match wins, unmatched customers are `Others`.
    pub segments: Option<Vec<RawSegment>>,
}

impl Default for RawRfm {
    fn default() -> Self {
        RawRfm {
            bins: default_bins(),
            method: RfmMethod::Quantile,
            recency_thresholds: None,
            frequency_thresholds: None,
            monetary_thresholds: None,
            segments: None,
        }
    }
}

fn default_bins() -> u8 {
    5
}

#[derive(Debug, Clone, Copy, Default, Deserialize, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "lowercase")]
pub enum RfmMethod {
    #[default]
    Quantile,
    Thresholds,
}

/// `name` matches customers whose scores lie in the inclusive ranges given (absent = any).
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawSegment {
    pub name: String,
    pub r: Option<[u8; 2]>,
    pub f: Option<[u8; 2]>,
    pub m: Option<[u8; 2]>,
    /// A categorical attribute the segment also tests, with `in`.
    pub attribute: Option<String>,
    #[serde(rename = "in")]
    pub in_: Option<Vec<TextOrNumber>>,
}

#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawScore {
    /// Component name -> weight. Default: recency, frequency, monetary, and profit and
    /// on-time payment rate where the data has them.
    pub weights: Option<BTreeMap<String, f64>>,
}

#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawTiers {
    /// `abc` (A/B/C), `four_level` (core/key/normal/low_efficiency), `three_level`
    /// (high/mid/low). Default `abc`.
    pub preset: Option<Preset>,
    /// Tier names, best first; overrides the preset's.
    pub names: Option<Vec<String>>,
    /// `score`, `share` or `pareto`; default from the preset.
    pub method: Option<TierMethod>,
    /// method = score: minimum score of each tier but the last, descending (e.g. [80, 50]).
    pub score_cuts: Option<Vec<f64>>,
    /// method = share: share of customers of each tier but the last (e.g. [0.2, 0.3]).
    pub shares: Option<Vec<f64>>,
    /// method = pareto: cumulative value share closing each tier but the last (e.g. [0.8, 0.95]).
    pub pareto_cuts: Option<Vec<f64>>,
    /// method = pareto: `profit` or `monetary` (default profit when there is a cost column).
    pub pareto_value: Option<ParetoValue>,
    /// method = value_potential: the score (0..100) from which current value counts as high.
    pub value_cut: Option<f64>,
    /// method = value_potential: the lifetime value's percentile rank (0..100) from which
    /// potential counts as high.
    pub potential_cut: Option<f64>,
    /// `[[tiers.pin]]`: tiers set or capped by an attribute, after scoring and risk.
    #[serde(default)]
    pub pin: Vec<RawPin>,
}

#[derive(Debug, Clone, Copy, Deserialize, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Preset {
    Abc,
    FourLevel,
    ThreeLevel,
    /// Two axes, current value (the score) and potential (lifetime value): core, develop,
    /// maintain, low.
    ValuePotential,
}

/// What `method = "pareto"` ranks customers by.
#[derive(Debug, Clone, Copy, Deserialize, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "lowercase")]
pub enum ParetoValue {
    Profit,
    #[serde(alias = "revenue")]
    Monetary,
}

#[derive(Debug, Clone, Copy, Deserialize, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "lowercase")]
pub enum TierMethod {
    Score,
    Share,
    Pareto,
    ValuePotential,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawRisk {
    /// Oldest overdue invoice, in days past due, for medium and high risk.
    #[serde(default = "default_overdue_days")]
    pub overdue_days: [f64; 2],
    /// Share of assessed invoices not paid on time, for medium and high risk.
    #[serde(default = "default_late_rate")]
    pub late_rate: [f64; 2],
    /// Late rates are judged only with at least this many assessed invoices.
    #[serde(default = "default_min_invoices")]
    pub min_invoices: u32,
    /// Recency as a multiple of the customer's mean days between purchases, for medium and high.
    #[serde(default = "default_inactivity")]
    pub inactivity_ratio: [f64; 2],
    /// Tiers dropped at medium and at high risk.
    #[serde(default = "default_downgrade")]
    pub downgrade: RawDowngrade,
    /// `[[risk.rules]]`: risk levels from customer-master attributes.
    #[serde(default)]
    pub rules: Vec<RawRiskRule>,
}

impl Default for RawRisk {
    fn default() -> Self {
        RawRisk {
            overdue_days: default_overdue_days(),
            late_rate: default_late_rate(),
            min_invoices: default_min_invoices(),
            inactivity_ratio: default_inactivity(),
            downgrade: default_downgrade(),
            rules: Vec::new(),
        }
    }
}

#[derive(Debug, Clone, Copy, Deserialize, PartialEq, Eq, serde::Serialize)]
#[serde(deny_unknown_fields)]
pub struct RawDowngrade {
    pub medium: u8,
    pub high: u8,
}

fn default_overdue_days() -> [f64; 2] {
    [15.0, 60.0]
}
fn default_late_rate() -> [f64; 2] {
    [0.25, 0.5]
}
fn default_min_invoices() -> u32 {
    3
}
fn default_inactivity() -> [f64; 2] {
    [2.0, 4.0]
}
fn default_downgrade() -> RawDowngrade {
    RawDowngrade { medium: 0, high: 1 }
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawAlerts {
    /// Alert on overdue receivables at least this many days past due.
    #[serde(default = "default_alert_overdue")]
    pub overdue_days: f64,
    /// Alert on churn risk when recency exceeds this multiple of the purchase rhythm.
    #[serde(default = "default_alert_churn")]
    pub churn_ratio: f64,
    /// ... but only for customers who bought within this many days: longer gone is lost, not
    /// at risk, and belongs in the segments rather than in today's alerts.
    #[serde(default = "default_alert_churn_max")]
    pub churn_max_recency_days: f64,
    /// Alert when spend in the last period fell by at least this share versus the period before.
    #[serde(default = "default_alert_drop")]
    pub spend_drop: f64,
}

impl Default for RawAlerts {
    fn default() -> Self {
        RawAlerts {
            overdue_days: default_alert_overdue(),
            churn_ratio: default_alert_churn(),
            churn_max_recency_days: default_alert_churn_max(),
            spend_drop: default_alert_drop(),
        }
    }
}

fn default_alert_overdue() -> f64 {
    30.0
}
fn default_alert_churn() -> f64 {
    3.0
}
fn default_alert_churn_max() -> f64 {
    365.0
}
fn default_alert_drop() -> f64 {
    0.5
}

// ---------------------------------------------------------------- validated

/// A score component: a feature column and whether more of it is better.
#[derive(Debug, Clone, PartialEq, serde::Serialize)]
pub struct Component {
    /// The name used in the pipeline file and in `comp_<name>` columns.
    pub name: String,
    pub column: String,
    pub higher_is_better: bool,
    /// Normalised weight (weights sum to 1).
    pub weight: f64,
}

/// Components a user can weight: (name, feature column, higher is better, needs).
const COMPONENTS: &[(&str, &str, bool, Needs)] = &[
    ("recency", c::RECENCY_DAYS, false, Needs::Nothing),
    ("frequency", c::FREQUENCY, true, Needs::Nothing),
    ("monetary", c::MONETARY, true, Needs::Nothing),
    ("purchase_days", c::PURCHASE_DAYS, true, Needs::Nothing),
    ("avg_order_value", c::AVG_ORDER_VALUE, true, Needs::Nothing),
    ("tenure", c::TENURE_DAYS, true, Needs::Nothing),
    ("return_rate", c::RETURN_RATE, false, Needs::Nothing),
    ("profit", c::PROFIT, true, Needs::Cost),
    ("margin", c::MARGIN, true, Needs::Cost),
    (
        "on_time_payment_rate",
        c::ON_TIME_RATE,
        true,
        Needs::Payments,
    ),
    ("mean_days_late", c::MEAN_DAYS_LATE, false, Needs::Payments),
    ("overdue_amount", c::OVERDUE_AMOUNT, false, Needs::Payments),
    ("clv", c::CLV, true, Needs::Potential),
    ("p_alive", c::P_ALIVE, true, Needs::Potential),
    (
        "expected_purchases",
        c::EXPECTED_PURCHASES,
        true,
        Needs::Potential,
    ),
    ("growth", c::GROWTH, true, Needs::Potential),
];

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Needs {
    Nothing,
    Cost,
    Payments,
    Potential,
}

/// Which optional feature groups the data has.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
pub struct Available {
    pub profit: bool,
    pub payments: bool,
    /// `[potential]` is on: lifetime value, P(alive), expected purchases and growth exist.
    pub potential: bool,
}

impl Available {
    /// Transactions with customer, date and amount only.
    pub fn none() -> Available {
        Available {
            profit: false,
            payments: false,
            potential: false,
        }
    }
}

#[derive(Debug, Clone, PartialEq, serde::Serialize)]
pub struct Segment {
    pub name: String,
    pub r: (u8, u8),
    pub f: (u8, u8),
    pub m: (u8, u8),
    /// A categorical attribute and the values it must take, if the rule tests one.
    pub attribute: Option<(String, Vec<String>)>,
}

#[derive(Debug, Clone, PartialEq, serde::Serialize)]
pub enum RfmCuts {
    Quantile,
    /// Ascending cut points for recency, frequency, monetary.
    Thresholds([Vec<f64>; 3]),
}

#[derive(Debug, Clone, PartialEq, serde::Serialize)]
pub enum TierRule {
    /// Minimum score per tier but the last, descending.
    Score(Vec<f64>),
    /// Customer share per tier but the last.
    Share(Vec<f64>),
    /// Cumulative value share closing each tier but the last, over `column`.
    Pareto {
        cuts: Vec<f64>,
        column: &'static str,
    },
    /// High value is a score of at least `value_cut`; high potential a lifetime value whose
    /// percentile rank (0..100) is at least `potential_cut`. Tiers: high/high, low value with
    /// high potential, high value with low potential, low/low.
    ValuePotential { value_cut: f64, potential_cut: f64 },
}

#[derive(Debug, Clone, PartialEq, serde::Serialize)]
pub struct Risk {
    pub overdue_days: [f64; 2],
    pub late_rate: [f64; 2],
    pub min_invoices: u32,
    pub inactivity_ratio: [f64; 2],
    /// Tiers dropped at [medium, high].
    pub downgrade: [u8; 2],
    /// Risk levels from attributes.
    pub rules: Vec<RiskRule>,
}

#[derive(Debug, Clone, PartialEq, serde::Serialize)]
pub struct Alerts {
    pub overdue_days: f64,
    pub churn_ratio: f64,
    pub churn_max_recency_days: f64,
    pub spend_drop: f64,
}

/// Everything the rule-based grading needs, validated.
#[derive(Debug, Clone, PartialEq, serde::Serialize)]
pub struct GradingParams {
    pub bins: u8,
    pub rfm_cuts: RfmCuts,
    pub segments: Vec<Segment>,
    pub components: Vec<Component>,
    pub tier_names: Vec<String>,
    pub tier_rule: TierRule,
    pub risk: Risk,
    pub alerts: Alerts,
    /// Per tier name: (field, value as text) pairs, joined as `policy_<field>` columns.
    pub policies: BTreeMap<String, Vec<(String, PolicyValue)>>,
    /// Policy field names over all tiers, sorted.
    pub policy_fields: Vec<String>,
    /// Tiers set or capped by attributes, applied in order after the risk overlay.
    pub pins: Vec<Pin>,
    /// The customer-master columns the rules may read (empty without `[attributes]`).
    pub attributes: AttributeNames,
    /// The language of reasons and alert details (`[report] language`, set by the caller).
    #[serde(skip)]
    pub language: crate::lang::Language,
}

#[derive(Debug, Clone, PartialEq, serde::Serialize)]
pub enum PolicyValue {
    Text(String),
    Int(i64),
    Float(f64),
    Bool(bool),
}

/// The default segment rules on 5 score levels (R and F, and M for `Lost`). Ordered so that no
/// rule hides another: every name is reachable (tested).
pub fn default_segments() -> Vec<Segment> {
    let s = |name: &str, r: (u8, u8), f: (u8, u8), m: (u8, u8)| Segment {
        name: name.into(),
        r,
        f,
        m,
        attribute: None,
    };
    vec![
        s("Champions", (5, 5), (4, 5), (1, 5)),
        s("Loyal Customers", (3, 4), (4, 5), (1, 5)),
        s("Potential Loyalist", (4, 5), (2, 3), (1, 5)),
        s("New Customers", (5, 5), (1, 1), (1, 5)),
        s("Promising", (4, 4), (1, 1), (1, 5)),
        s("Need Attention", (3, 3), (3, 3), (1, 5)),
        s("About To Sleep", (3, 3), (1, 2), (1, 5)),
        s("Can't Lose Them", (1, 2), (5, 5), (1, 5)),
        s("At Risk", (1, 2), (3, 4), (1, 5)),
        s("Lost", (1, 1), (1, 2), (1, 2)),
        s("Hibernating", (1, 2), (1, 2), (1, 5)),
    ]
}

/// Checks the grading sections against the features the data will have, each section on
/// its own ([`RawRfm::check`], [`RawScore::check`], [`RawTiers::check`], ...).
#[allow(clippy::too_many_arguments)] // one argument per section of the file
pub fn validate_grading(
    rfm: &RawRfm,
    score: &RawScore,
    tiers: &RawTiers,
    risk: &RawRisk,
    alerts: &RawAlerts,
    policies: &BTreeMap<String, toml::Table>,
    available: Available,
    attributes: &AttributeNames,
) -> Result<GradingParams> {
    let RfmParams {
        bins,
        rfm_cuts,
        segments,
    } = rfm.check(attributes)?;
    let components = score.check(available, attributes)?;
    let (tier_names, tier_rule) = tiers.check(available)?;
    let (policies, policy_fields) = check_policies(policies, &tier_names)?;
    let pins = tiers
        .pin
        .iter()
        .map(|p| p.check(attributes, &tier_names))
        .collect::<Result<_>>()?;
    Ok(GradingParams {
        bins,
        rfm_cuts,
        segments,
        components,
        tier_names,
        tier_rule,
        risk: risk.check(attributes)?,
        alerts: alerts.check()?,
        policies,
        policy_fields,
        pins,
        attributes: attributes.clone(),
        language: crate::lang::Language::En,
    })
}

/// `[rfm]`, checked.
struct RfmParams {
    bins: u8,
    rfm_cuts: RfmCuts,
    segments: Vec<Segment>,
}

impl RawRfm {
    /// Score levels, cut points and segment rules.
    fn check(&self, attributes: &AttributeNames) -> Result<RfmParams> {
        let rfm = self;
        let bins = rfm.bins;
        if !(2..=10).contains(&bins) {
            bail!("[rfm] bins must be between 2 and 10, got {bins}");
        }
        let rfm_cuts = match rfm.method {
            RfmMethod::Quantile => {
                if rfm.recency_thresholds.is_some()
                    || rfm.frequency_thresholds.is_some()
                    || rfm.monetary_thresholds.is_some()
                {
                    bail!("[rfm] *_thresholds are only used with method = \"thresholds\"; set it or remove them");
                }
                RfmCuts::Quantile
            }
            RfmMethod::Thresholds => {
                let get = |v: &Option<Vec<f64>>, key: &str| -> Result<Vec<f64>> {
                    let Some(v) = v else {
                        bail!(
                            "[rfm] method = \"thresholds\" needs {key} with {} ascending values",
                            bins - 1
                        )
                    };
                    check_ascending(v, &format!("[rfm] {key}"), bins as usize - 1)?;
                    Ok(v.clone())
                };
                RfmCuts::Thresholds([
                    get(&rfm.recency_thresholds, "recency_thresholds")?,
                    get(&rfm.frequency_thresholds, "frequency_thresholds")?,
                    get(&rfm.monetary_thresholds, "monetary_thresholds")?,
                ])
            }
        };
        let segments = match &rfm.segments {
            None if bins == 5 => default_segments(),
            None => bail!(
                "[rfm] the default segments are written for bins = 5; with bins = {bins} list your own [[rfm.segments]]"
            ),
            Some(list) => {
                let mut out = Vec::with_capacity(list.len());
                for s in list {
                    let range = |v: Option<[u8; 2]>, dim: &str| -> Result<(u8, u8)> {
                        match v {
                            None => Ok((1, bins)),
                            Some([lo, hi]) if lo >= 1 && lo <= hi && hi <= bins => Ok((lo, hi)),
                            Some([lo, hi]) => bail!(
                                "[[rfm.segments]] {:?}: {dim} = [{lo}, {hi}] must satisfy 1 <= min <= max <= {bins}",
                                s.name
                            ),
                        }
                    };
                    if s.name.trim().is_empty() {
                        bail!("[[rfm.segments]] every segment needs a name");
                    }
                    out.push(Segment {
                        name: s.name.clone(),
                        r: range(s.r, "r")?,
                        f: range(s.f, "f")?,
                        m: range(s.m, "m")?,
                        attribute: check_segment_condition(
                            &s.name,
                            &s.attribute,
                            &s.in_,
                            attributes,
                        )?,
                    });
                }
                out
            }
        };
        Ok(RfmParams {
            bins,
            rfm_cuts,
            segments,
        })
    }
}

impl RawScore {
    /// The weighted components, weights normalised to sum 1.
    fn check(&self, available: Available, attributes: &AttributeNames) -> Result<Vec<Component>> {
        validate_weights(self, available, attributes)
    }
}

impl RawTiers {
    /// Tier names (best first) and the rule that assigns them: the preset's, with whatever
    /// the section sets instead.
    fn check(&self, available: Available) -> Result<(Vec<String>, TierRule)> {
        let (preset_names, preset_rule) = preset(self.preset.unwrap_or(Preset::Abc), available);
        let tier_names = self.check_names(&preset_names)?;
        let method = self.method.unwrap_or(match preset_rule {
            TierRule::Score(_) => TierMethod::Score,
            TierRule::Share(_) => TierMethod::Share,
            TierRule::Pareto { .. } => TierMethod::Pareto,
            TierRule::ValuePotential { .. } => TierMethod::ValuePotential,
        });
        self.check_keys_apply(method)?;
        if method == TierMethod::ValuePotential {
            return Ok((
                self.check_grid_names(&preset_names)?,
                self.grid_rule(available)?,
            ));
        }
        let tiers = tier_names.len();
        // The cut points given, else the preset's when they fit the number of tiers.
        let (given, key, example) = match method {
            TierMethod::Score => (&self.score_cuts, "score_cuts", "[80, 50]"),
            TierMethod::Share => (&self.shares, "shares", "[0.2, 0.3]"),
            TierMethod::Pareto | TierMethod::ValuePotential => {
                (&self.pareto_cuts, "pareto_cuts", "[0.8, 0.95]")
            }
        };
        let preset_cuts = match (&preset_rule, method) {
            (TierRule::Score(v), TierMethod::Score)
            | (TierRule::Share(v), TierMethod::Share)
            | (TierRule::Pareto { cuts: v, .. }, TierMethod::Pareto) => Some(v),
            _ => None,
        }
        .filter(|v| v.len() == tiers - 1);
        let Some(cuts) = given.clone().or_else(|| preset_cuts.cloned()) else {
            bail!(
                "[tiers] {tiers} tiers need {key} with {} values, e.g. {key} = {example}",
                tiers - 1
            );
        };
        let rule = match method {
            TierMethod::Score => TierRule::Score(check_score_cuts(cuts, tiers)?),
            TierMethod::Share => TierRule::Share(check_shares(cuts, tiers)?),
            TierMethod::Pareto | TierMethod::ValuePotential => TierRule::Pareto {
                cuts: check_pareto_cuts(cuts, tiers)?,
                column: self.pareto_column(available)?,
            },
        };
        Ok((tier_names, rule))
    }

    /// The names given, else the preset's: at least two, distinct, none empty.
    fn check_names(&self, preset_names: &[&str]) -> Result<Vec<String>> {
        let tier_names: Vec<String> = match &self.names {
            Some(n) => n.clone(),
            None => preset_names.iter().map(|s| s.to_string()).collect(),
        };
        if tier_names.len() < 2 {
            bail!("[tiers] names needs at least two tiers, best first");
        }
        for (i, n) in tier_names.iter().enumerate() {
            if n.trim().is_empty() || tier_names[..i].contains(n) {
                bail!("[tiers] names must be distinct and not empty: {tier_names:?}");
            }
        }
        Ok(tier_names)
    }

    /// A key of another method is an error rather than silently unused.
    fn check_keys_apply(&self, method: TierMethod) -> Result<()> {
        let given = [
            ("score_cuts", self.score_cuts.is_some(), TierMethod::Score),
            ("shares", self.shares.is_some(), TierMethod::Share),
            (
                "pareto_cuts",
                self.pareto_cuts.is_some(),
                TierMethod::Pareto,
            ),
        ];
        for (key, present, m) in given {
            if present && m != method {
                bail!("[tiers] {key} does not apply to method = {method:?}; remove it or change the method");
            }
        }
        if self.pareto_value.is_some() && method != TierMethod::Pareto {
            bail!("[tiers] pareto_value only applies to method = \"pareto\"");
        }
        if (self.value_cut.is_some() || self.potential_cut.is_some())
            && method != TierMethod::ValuePotential
        {
            bail!("[tiers] value_cut and potential_cut only apply to method = \"value_potential\" (or preset = \"value_potential\")");
        }
        Ok(())
    }

    /// The four names of the value-by-potential grid: the preset's, or four given.
    fn check_grid_names(&self, preset_names: &[&str]) -> Result<Vec<String>> {
        // `method = "value_potential"` under another preset takes the grid's own names.
        let grid = preset(Preset::ValuePotential, Available::none()).0;
        let names = if self.preset == Some(Preset::ValuePotential) {
            self.check_names(preset_names)?
        } else {
            self.check_names(&grid)?
        };
        if names.len() != 4 {
            bail!("[tiers] method = \"value_potential\" grades into four tiers (high value and potential, high potential, high value, neither); names has {}: {names:?}", names.len());
        }
        Ok(names)
    }

    /// The value-by-potential rule: both cuts in 0..=100, default 50.
    fn grid_rule(&self, available: Available) -> Result<TierRule> {
        if !available.potential {
            bail!("[tiers] method = \"value_potential\" grades on lifetime value: add a [potential] section");
        }
        let cut = |v: Option<f64>, key: &str| -> Result<f64> {
            let v = v.unwrap_or(50.0);
            if !(0.0..=100.0).contains(&v) {
                bail!(
                    "[tiers] {key} is a score between 0 and 100 (50 splits at the median), got {v}"
                );
            }
            Ok(v)
        };
        Ok(TierRule::ValuePotential {
            value_cut: cut(self.value_cut, "value_cut")?,
            potential_cut: cut(self.potential_cut, "potential_cut")?,
        })
    }

    /// The column `method = "pareto"` ranks by: profit where the data has it.
    fn pareto_column(&self, available: Available) -> Result<&'static str> {
        Ok(match self.pareto_value {
            None if available.profit => c::PROFIT,
            None | Some(ParetoValue::Monetary) => c::MONETARY,
            Some(ParetoValue::Profit) if available.profit => c::PROFIT,
            Some(ParetoValue::Profit) => bail!("[tiers] pareto_value = \"profit\" needs a cost column: map unit_cost, cost or profit in [input.columns]"),
        })
    }
}

/// A preset's tier names and rule.
fn preset(preset: Preset, available: Available) -> (Vec<&'static str>, TierRule) {
    match preset {
        Preset::Abc => (
            vec!["A", "B", "C"],
            TierRule::Pareto {
                cuts: vec![0.8, 0.95],
                column: if available.profit {
                    c::PROFIT
                } else {
                    c::MONETARY
                },
            },
        ),
        Preset::FourLevel => (
            vec!["core", "key", "normal", "low_efficiency"],
            TierRule::Score(vec![75.0, 55.0, 35.0]),
        ),
        Preset::ThreeLevel => (vec!["high", "mid", "low"], TierRule::Share(vec![0.2, 0.3])),
        Preset::ValuePotential => (
            vec!["core", "develop", "maintain", "low"],
            TierRule::ValuePotential {
                value_cut: 50.0,
                potential_cut: 50.0,
            },
        ),
    }
}

/// Minimum scores of the tiers but the last: descending, between 0 and 100.
fn check_score_cuts(v: Vec<f64>, tiers: usize) -> Result<Vec<f64>> {
    check_count("score_cuts", &v, tiers, "")?;
    for w in v.windows(2) {
        if w[0] <= w[1] {
            bail!("[tiers] score_cuts overlap: they must be strictly descending (best tier first), got {v:?}");
        }
    }
    if v.iter().any(|x| !(0.0..=100.0).contains(x)) {
        bail!("[tiers] score_cuts are scores between 0 and 100, got {v:?}");
    }
    Ok(v)
}

/// One cut per boundary between tiers: `tiers - 1` values.
fn check_count(key: &str, v: &[f64], tiers: usize, note: &str) -> Result<()> {
    if v.len() != tiers - 1 {
        bail!(
            "[tiers] {key} has {} values; {tiers} tiers need {}{note}",
            v.len(),
            tiers - 1
        );
    }
    Ok(())
}

/// Customer shares of the tiers but the last: positive, summing to less than 1.
fn check_shares(v: Vec<f64>, tiers: usize) -> Result<Vec<f64>> {
    check_count("shares", &v, tiers, " (the last tier takes the rest)")?;
    if v.iter().any(|x| *x <= 0.0) || v.iter().sum::<f64>() >= 1.0 {
        bail!("[tiers] shares must be positive and sum to less than 1 (the last tier takes the rest), got {v:?}");
    }
    Ok(v)
}

/// Cumulative value shares closing the tiers but the last: ascending, strictly within (0, 1).
fn check_pareto_cuts(v: Vec<f64>, tiers: usize) -> Result<Vec<f64>> {
    check_count("pareto_cuts", &v, tiers, "")?;
    for w in v.windows(2) {
        if w[0] >= w[1] {
            bail!("[tiers] pareto_cuts overlap: they must be strictly ascending cumulative shares, got {v:?}");
        }
    }
    if v.iter().any(|x| *x <= 0.0 || *x >= 1.0) {
        bail!("[tiers] pareto_cuts are cumulative shares strictly between 0 and 1, got {v:?}");
    }
    Ok(v)
}

impl RawRisk {
    fn check(&self, attributes: &AttributeNames) -> Result<Risk> {
        let risk = self;
        for pair in [risk.overdue_days, risk.late_rate, risk.inactivity_ratio] {
            if pair[0] > pair[1] || pair.iter().any(|x| *x < 0.0 || !x.is_finite()) {
                bail!(
                    "[risk] thresholds are [medium, high] with 0 <= medium <= high, got {pair:?}"
                );
            }
        }
        if risk.late_rate[1] > 1.0 {
            bail!(
                "[risk] late_rate is a share between 0 and 1, got {:?}",
                risk.late_rate
            );
        }
        let risk = Risk {
            overdue_days: risk.overdue_days,
            late_rate: risk.late_rate,
            min_invoices: risk.min_invoices,
            inactivity_ratio: risk.inactivity_ratio,
            downgrade: [risk.downgrade.medium, risk.downgrade.high],
            rules: risk
                .rules
                .iter()
                .map(|r| r.check(attributes))
                .collect::<Result<_>>()?,
        };
        Ok(risk)
    }
}

impl RawAlerts {
    fn check(&self) -> Result<Alerts> {
        let alerts = self;
        if !(0.0..1.0).contains(&alerts.spend_drop) || alerts.spend_drop == 0.0 {
            bail!(
                "[alerts] spend_drop is a share between 0 and 1 (0.5 = spend halved), got {}",
                alerts.spend_drop
            );
        }
        let alerts = Alerts {
            overdue_days: alerts.overdue_days,
            churn_ratio: alerts.churn_ratio,
            churn_max_recency_days: alerts.churn_max_recency_days,
            spend_drop: alerts.spend_drop,
        };
        Ok(alerts)
    }
}

/// `[policies.<tier>]`: each tier's fields, and every field name (one type per field).
type Policies = (BTreeMap<String, Vec<(String, PolicyValue)>>, Vec<String>);

fn check_policies(
    policies: &BTreeMap<String, toml::Table>,
    tier_names: &[String],
) -> Result<Policies> {
    let mut policy_map = BTreeMap::new();
    let mut fields = std::collections::BTreeSet::new();
    for (tier, table) in policies {
        if !tier_names.contains(tier) {
            bail!("[policies.{tier}] is not a tier; the tiers are {tier_names:?}");
        }
        let mut v = Vec::new();
        for (k, val) in table {
            let pv = match val {
                toml::Value::String(s) => PolicyValue::Text(s.clone()),
                toml::Value::Integer(i) => PolicyValue::Int(*i),
                toml::Value::Float(f) => PolicyValue::Float(*f),
                toml::Value::Boolean(b) => PolicyValue::Bool(*b),
                other => bail!("[policies.{tier}] {k} = {other}: policy fields are text, numbers or true/false"),
            };
            fields.insert(k.clone());
            v.push((k.clone(), pv));
        }
        policy_map.insert(tier.clone(), v);
    }
    let policy_fields: Vec<String> = fields.into_iter().collect();
    // A field must keep one type across tiers so its column has one type.
    for f in &policy_fields {
        let kinds: std::collections::BTreeSet<&str> = policy_map
            .values()
            .flat_map(|v| v.iter().filter(|(k, _)| k == f))
            .map(|(_, v)| match v {
                PolicyValue::Text(_) => "text",
                PolicyValue::Int(_) | PolicyValue::Float(_) => "number",
                PolicyValue::Bool(_) => "true/false",
            })
            .collect();
        if kinds.len() > 1 {
            bail!("[policies] field {f:?} is {kinds:?} in different tiers; give it one type");
        }
    }
    Ok((policy_map, policy_fields))
}

fn check_ascending(v: &[f64], what: &str, len: usize) -> Result<()> {
    if v.len() != len {
        bail!(
            "{what} needs {len} values (one per boundary between score levels), got {}",
            v.len()
        );
    }
    for w in v.windows(2) {
        if w[0] >= w[1] {
            bail!("{what} must be strictly ascending, got {v:?}");
        }
    }
    Ok(())
}

fn validate_weights(
    score: &RawScore,
    available: Available,
    attributes: &AttributeNames,
) -> Result<Vec<Component>> {
    let has = |needs: Needs| match needs {
        Needs::Nothing => true,
        Needs::Cost => available.profit,
        Needs::Payments => available.payments,
        Needs::Potential => available.potential,
    };
    let weights: Vec<(String, f64)> = match &score.weights {
        Some(w) => w.iter().map(|(k, v)| (k.clone(), *v)).collect(),
        None => {
            let mut w = vec![
                ("recency".to_string(), 0.25),
                ("frequency".to_string(), 0.25),
                ("monetary".to_string(), 0.3),
            ];
            if available.profit {
                w.push(("profit".into(), 0.1));
            }
            if available.payments {
                w.push(("on_time_payment_rate".into(), 0.1));
            }
            w
        }
    };
    let mut out = Vec::new();
    for (name, weight) in &weights {
        if !weight.is_finite() || *weight < 0.0 {
            bail!("[score.weights] weight of {name:?} must be a non-negative number, got {weight}");
        }
        // A numeric attribute of the customer master is a component by its own name.
        if let Some((column, higher)) = attributes.numeric.iter().find(|(n, _)| n == name) {
            out.push(Component {
                name: name.clone(),
                column: column.clone(),
                higher_is_better: *higher,
                weight: *weight,
            });
            continue;
        }
        let Some((_, column, higher, needs)) = COMPONENTS.iter().find(|(n, ..)| n == name) else {
            let known: Vec<&str> = COMPONENTS
                .iter()
                .map(|(n, ..)| *n)
                .chain(attributes.numeric.iter().map(|(n, _)| n.as_str()))
                .collect();
            bail!(
                "[score.weights] unknown component {name:?}; known components: {}",
                known.join(", ")
            );
        };
        if !has(*needs) {
            bail!(
                "[score.weights] component {name:?} needs {}",
                match needs {
                    Needs::Cost => "a cost column (unit_cost, cost or profit) in [input.columns]",
                    Needs::Potential => "the potential models: add a [potential] section",
                    _ => "due_date (and paid_date) in [input.columns]",
                }
            );
        }
        out.push(Component {
            name: name.clone(),
            column: column.to_string(),
            higher_is_better: *higher,
            weight: *weight,
        });
    }
    let total: f64 = out.iter().map(|c| c.weight).sum();
    if total <= 0.0 {
        bail!("[score.weights] at least one weight must be above zero");
    }
    for c in &mut out {
        c.weight /= total;
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    const ALL: Available = Available {
        profit: true,
        payments: true,
        potential: true,
    };

    fn grading(tiers: RawTiers, score: RawScore) -> Result<GradingParams> {
        validate_grading(
            &RawRfm::default(),
            &score,
            &tiers,
            &RawRisk::default(),
            &RawAlerts::default(),
            &BTreeMap::new(),
            ALL,
            &AttributeNames::default(),
        )
    }

    fn weights(w: &[(&str, f64)]) -> RawScore {
        RawScore {
            weights: Some(w.iter().map(|(k, v)| (k.to_string(), *v)).collect()),
        }
    }

    #[test]
    fn default_weights_are_normalised() {
        let g = grading(RawTiers::default(), RawScore::default()).unwrap();
        let sum: f64 = g.components.iter().map(|c| c.weight).sum();
        assert!((sum - 1.0).abs() < 1e-12);
        assert_eq!(g.components.len(), 5);
        let w = grading(
            RawTiers::default(),
            weights(&[("recency", 1.0), ("monetary", 3.0)]),
        )
        .unwrap();
        assert_eq!(w.components[0].name, "monetary"); // BTreeMap order
        assert_eq!(w.components[0].weight, 0.75);
        assert!(!w.components[1].higher_is_better);
    }

    #[test]
    fn unknown_component_negative_and_zero_weights() {
        let e = grading(RawTiers::default(), weights(&[("loyalty", 1.0)]))
            .unwrap_err()
            .to_string();
        assert!(e.contains("unknown component \"loyalty\""), "{e}");
        assert!(e.contains("on_time_payment_rate"), "{e}");
        let e = grading(RawTiers::default(), weights(&[("recency", -1.0)]))
            .unwrap_err()
            .to_string();
        assert!(e.contains("non-negative"), "{e}");
        let e = grading(RawTiers::default(), weights(&[("recency", 0.0)]))
            .unwrap_err()
            .to_string();
        assert!(e.contains("above zero"), "{e}");
    }

    #[test]
    fn profit_component_needs_cost() {
        let e = validate_grading(
            &RawRfm::default(),
            &weights(&[("profit", 1.0)]),
            &RawTiers::default(),
            &RawRisk::default(),
            &RawAlerts::default(),
            &BTreeMap::new(),
            Available::none(),
            &AttributeNames::default(),
        )
        .unwrap_err()
        .to_string();
        assert!(e.contains("needs a cost column"), "{e}");
    }

    #[test]
    fn presets_and_their_rules() {
        let g = grading(RawTiers::default(), RawScore::default()).unwrap();
        assert_eq!(g.tier_names, ["A", "B", "C"]);
        assert_eq!(
            g.tier_rule,
            TierRule::Pareto {
                cuts: vec![0.8, 0.95],
                column: c::PROFIT
            }
        );
        let four = RawTiers {
            preset: Some(Preset::FourLevel),
            ..Default::default()
        };
        let g = grading(four, RawScore::default()).unwrap();
        assert_eq!(g.tier_names, ["core", "key", "normal", "low_efficiency"]);
        assert_eq!(g.tier_rule, TierRule::Score(vec![75.0, 55.0, 35.0]));
        let three = RawTiers {
            preset: Some(Preset::ThreeLevel),
            ..Default::default()
        };
        let g = grading(three, RawScore::default()).unwrap();
        assert_eq!(g.tier_rule, TierRule::Share(vec![0.2, 0.3]));
    }

    #[test]
    fn overlapping_and_miscounted_cuts_rejected() {
        let t = |m: TierMethod, f: &dyn Fn(&mut RawTiers)| {
            let mut t = RawTiers {
                method: Some(m),
                ..Default::default()
            };
            f(&mut t);
            grading(t, RawScore::default()).unwrap_err().to_string()
        };
        let e = t(TierMethod::Score, &|t| {
            t.score_cuts = Some(vec![50.0, 80.0])
        });
        assert!(e.contains("score_cuts overlap"), "{e}");
        let e = t(TierMethod::Score, &|t| t.score_cuts = Some(vec![80.0]));
        assert!(e.contains("score_cuts has 1 values; 3 tiers need 2"), "{e}");
        let e = t(TierMethod::Pareto, &|t| {
            t.pareto_cuts = Some(vec![0.9, 0.8])
        });
        assert!(e.contains("pareto_cuts overlap"), "{e}");
        let e = t(TierMethod::Share, &|t| t.shares = Some(vec![0.6, 0.5]));
        assert!(e.contains("sum to less than 1"), "{e}");
        let e = t(TierMethod::Share, &|t| {
            t.score_cuts = Some(vec![80.0, 50.0])
        });
        assert!(e.contains("score_cuts does not apply"), "{e}");
    }

    #[test]
    fn policies_must_name_tiers() {
        let mut p = BTreeMap::new();
        p.insert(
            "Z".to_string(),
            toml::from_str::<toml::Table>("credit_days = 30").unwrap(),
        );
        let e = validate_grading(
            &RawRfm::default(),
            &RawScore::default(),
            &RawTiers::default(),
            &RawRisk::default(),
            &RawAlerts::default(),
            &p,
            ALL,
            &AttributeNames::default(),
        )
        .unwrap_err()
        .to_string();
        assert!(e.contains("[policies.Z] is not a tier"), "{e}");
    }

    #[test]
    fn every_default_segment_is_reachable_and_every_code_is_covered() {
        let segs = default_segments();
        let mut hit = vec![0usize; segs.len()];
        for r in 1..=5u8 {
            for f in 1..=5u8 {
                for m in 1..=5u8 {
                    let first = segs.iter().position(|s| {
                        (s.r.0..=s.r.1).contains(&r)
                            && (s.f.0..=s.f.1).contains(&f)
                            && (s.m.0..=s.m.1).contains(&m)
                    });
                    let i = first.unwrap_or_else(|| panic!("{r}{f}{m} matches no segment"));
                    hit[i] += 1;
                }
            }
        }
        for (s, n) in segs.iter().zip(&hit) {
            assert!(*n > 0, "segment {} is shadowed", s.name);
        }
        assert_eq!(segs.len(), 11);
        // Champions: R 5 and F 4..5, any M: 2 x 5 codes.
        assert_eq!(hit[0], 10);
        // Lost: R 1, F 1..2, M 1..2.
        assert_eq!(hit[9], 4);
    }
}
