//! The grading rules that test customer-master attributes: risk rules (`[[risk.rules]]`),
//! pinned tiers (`[[tiers.pin]]`) and segment conditions, raw and checked against the
//! attributes `[attributes]` declares. Checking only: the rules are applied in
//! `tiers::rules`.

use anyhow::{bail, Result};
use serde::Deserialize;

/// The master's columns grading may use.
#[derive(Debug, Clone, Default, PartialEq, serde::Serialize)]
pub struct AttributeNames {
    /// (column, higher is better): the declared numeric attributes, and `credit_utilisation`
    /// when it is computed.
    pub numeric: Vec<(String, bool)>,
    pub categorical: Vec<String>,
}

impl AttributeNames {
    fn is_numeric(&self, name: &str) -> bool {
        self.numeric.iter().any(|(n, _)| n == name)
    }

    fn is_categorical(&self, name: &str) -> bool {
        self.categorical.iter().any(|n| n == name)
    }

    /// Every attribute name, for messages.
    fn known(&self) -> String {
        let names: Vec<&str> = self
            .numeric
            .iter()
            .map(|(n, _)| n.as_str())
            .chain(self.categorical.iter().map(String::as_str))
            .collect();
        if names.is_empty() {
            "none: declare them in [attributes]".into()
        } else {
            names.join(", ")
        }
    }
}

/// A test on one attribute: a text value in a list, or a number above or below a bound.
#[derive(Debug, Clone, PartialEq, serde::Serialize)]
pub enum AttributeTest {
    /// The categorical value is one of these.
    In(Vec<String>),
    /// The number is above this (strictly).
    Above(f64),
    /// The number is below this (strictly).
    Below(f64),
}

/// A value in the pipeline file that may be written as text or as a number
/// (`equals = "Y"`, `equals = 1`).
#[derive(Debug, Clone, Deserialize)]
#[serde(untagged)]
pub enum TextOrNumber {
    Text(String),
    Int(i64),
    Float(f64),
    Bool(bool),
}

impl TextOrNumber {
    fn text(&self) -> String {
        match self {
            TextOrNumber::Text(s) => s.clone(),
            TextOrNumber::Int(i) => i.to_string(),
            TextOrNumber::Float(f) => f.to_string(),
            TextOrNumber::Bool(b) => b.to_string(),
        }
    }
}

/// The test keys shared by risk rules and pins, as written.
#[derive(Debug, Clone)]
struct RawTest<'a> {
    in_: &'a Option<Vec<TextOrNumber>>,
    equals: &'a Option<TextOrNumber>,
    above: Option<f64>,
    below: Option<f64>,
}

impl<'a> RawTest<'a> {
    /// The test keys of a rule or pin.
    fn of(
        in_: &'a Option<Vec<TextOrNumber>>,
        equals: &'a Option<TextOrNumber>,
        above: Option<f64>,
        below: Option<f64>,
    ) -> Self {
        RawTest {
            in_,
            equals,
            above,
            below,
        }
    }

    /// The one test given, checked against the attribute's kind; `what` names the rule.
    fn check(&self, attribute: &str, attrs: &AttributeNames, what: &str) -> Result<AttributeTest> {
        let given = [
            self.in_.is_some(),
            self.equals.is_some(),
            self.above.is_some(),
            self.below.is_some(),
        ]
        .iter()
        .filter(|g| **g)
        .count();
        if given != 1 {
            bail!(
                "{what}: give exactly one of in = [...], equals = ..., above = ... or below = ..."
            );
        }
        let numeric = attrs.is_numeric(attribute);
        if !numeric && !attrs.is_categorical(attribute) {
            bail!(
                "{what}: unknown attribute {attribute:?}; known attributes: {}",
                attrs.known()
            );
        }
        match (self.in_, self.equals, self.above, self.below) {
            (_, _, Some(x), _) | (_, _, _, Some(x)) if !numeric || !x.is_finite() => bail!(
                "{what}: above and below compare numbers; {attribute:?} is {}",
                if numeric { "numeric, but the bound is not a number" } else { "categorical: use in = [...] or equals = ..." }
            ),
            (Some(_), _, _, _) | (_, Some(_), _, _) if numeric => bail!(
                "{what}: in and equals compare text; {attribute:?} is numeric: use above = ... or below = ..."
            ),
            (Some(list), ..) if list.is_empty() => bail!("{what}: in = [] matches nothing"),
            (Some(list), ..) => Ok(AttributeTest::In(list.iter().map(TextOrNumber::text).collect())),
            (_, Some(v), ..) => Ok(AttributeTest::In(vec![v.text()])),
            (_, _, Some(x), _) => Ok(AttributeTest::Above(x)),
            (_, _, _, Some(x)) => Ok(AttributeTest::Below(x)),
            _ => unreachable!("exactly one test is given"),
        }
    }
}

/// `[[risk.rules]]` as written: `{ attribute = "credit_rating", in = ["C", "D"], level = "high" }`.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawRiskRule {
    pub attribute: String,
    #[serde(rename = "in")]
    pub in_: Option<Vec<TextOrNumber>>,
    pub equals: Option<TextOrNumber>,
    pub above: Option<f64>,
    pub below: Option<f64>,
    pub level: RiskLevel,
}

#[derive(Debug, Clone, Copy, Deserialize, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "lowercase")]
pub enum RiskLevel {
    Medium,
    High,
}

/// A checked risk rule: customers whose attribute passes `test` are at `level` (1 medium,
/// 2 high) at least.
#[derive(Debug, Clone, PartialEq, serde::Serialize)]
pub struct RiskRule {
    pub attribute: String,
    pub test: AttributeTest,
    pub level: u8,
}

impl RawRiskRule {
    pub fn check(&self, attrs: &AttributeNames) -> Result<RiskRule> {
        let what = format!("[[risk.rules]] attribute = {:?}", self.attribute);
        let test = RawTest::of(&self.in_, &self.equals, self.above, self.below);
        Ok(RiskRule {
            test: test.check(&self.attribute, attrs, &what)?,
            attribute: self.attribute.clone(),
            level: match self.level {
                RiskLevel::Medium => 1,
                RiskLevel::High => 2,
            },
        })
    }
}

/// `[[tiers.pin]]` as written: `{ attribute = "key_account", equals = "Y", tier = "A" }` or
/// `{ attribute = "credit_rating", equals = "D", at_most = "C" }`.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawPin {
    pub attribute: String,
    #[serde(rename = "in")]
    pub in_: Option<Vec<TextOrNumber>>,
    pub equals: Option<TextOrNumber>,
    pub above: Option<f64>,
    pub below: Option<f64>,
    /// Sets the tier.
    pub tier: Option<String>,
    /// Caps the tier: never better than this one.
    pub at_most: Option<String>,
}

/// What a pin does to the tier of the customers it matches.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
pub enum PinAction {
    /// This tier (index into the tier names), whatever score and risk say.
    Set(u16),
    /// No better than this tier.
    AtMost(u16),
}

#[derive(Debug, Clone, PartialEq, serde::Serialize)]
pub struct Pin {
    pub attribute: String,
    pub test: AttributeTest,
    pub action: PinAction,
}

impl RawPin {
    pub fn check(&self, attrs: &AttributeNames, tier_names: &[String]) -> Result<Pin> {
        let what = format!("[[tiers.pin]] attribute = {:?}", self.attribute);
        let tier = |name: &str| -> Result<u16> {
            match tier_names.iter().position(|t| t == name) {
                Some(i) => Ok(i as u16),
                None => bail!("{what}: no tier is called {name:?}; the tiers are {tier_names:?}"),
            }
        };
        let action = match (&self.tier, &self.at_most) {
            (Some(t), None) => PinAction::Set(tier(t)?),
            (None, Some(t)) => PinAction::AtMost(tier(t)?),
            _ => bail!("{what}: give either tier = \"<name>\" (sets the tier) or at_most = \"<name>\" (caps it)"),
        };
        let test = RawTest::of(&self.in_, &self.equals, self.above, self.below);
        Ok(Pin {
            test: test.check(&self.attribute, attrs, &what)?,
            attribute: self.attribute.clone(),
            action,
        })
    }
}

/// A segment's condition on a categorical attribute, as written in `[[rfm.segments]]`:
/// `attribute = "industry"`, `in = ["Retail"]`.
pub fn check_segment_condition(
    segment: &str,
    attribute: &Option<String>,
    values: &Option<Vec<TextOrNumber>>,
    attrs: &AttributeNames,
) -> Result<Option<(String, Vec<String>)>> {
    match (attribute, values) {
        (None, None) => Ok(None),
        (Some(a), Some(v)) => {
            if !attrs.is_categorical(a) {
                bail!(
                    "[[rfm.segments]] {segment:?}: attribute {a:?} is not a categorical attribute; categorical attributes: {}",
                    if attrs.categorical.is_empty() { "none: declare them in [attributes]".to_string() } else { attrs.categorical.join(", ") }
                );
            }
            if v.is_empty() {
                bail!("[[rfm.segments]] {segment:?}: in = [] matches nothing");
            }
            Ok(Some((a.clone(), v.iter().map(TextOrNumber::text).collect())))
        }
        _ => bail!("[[rfm.segments]] {segment:?}: attribute and in go together, e.g. attribute = \"industry\", in = [\"Retail\"]"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn attrs() -> AttributeNames {
        AttributeNames {
            numeric: vec![("debt_ratio".into(), false)],
            categorical: vec!["credit_rating".into(), "key_account".into()],
        }
    }

    fn rule(text: &str) -> Result<RiskRule> {
        toml::from_str::<RawRiskRule>(text).unwrap().check(&attrs())
    }

    #[test]
    fn risk_rules_are_checked_against_the_attributes() {
        let r =
            rule("attribute = \"credit_rating\"\nin = [\"C\", \"D\"]\nlevel = \"high\"").unwrap();
        assert_eq!(r.test, AttributeTest::In(vec!["C".into(), "D".into()]));
        assert_eq!(r.level, 2);
        let r = rule("attribute = \"debt_ratio\"\nabove = 0.8\nlevel = \"medium\"").unwrap();
        assert_eq!((r.test, r.level), (AttributeTest::Above(0.8), 1));
        for (text, want) in [
            ("attribute = \"rating\"\nequals = \"D\"\nlevel = \"high\"", "unknown attribute \"rating\"; known attributes: debt_ratio, credit_rating, key_account"),
            ("attribute = \"credit_rating\"\nabove = 1\nlevel = \"high\"", "is categorical"),
            ("attribute = \"debt_ratio\"\nequals = \"x\"\nlevel = \"high\"", "is numeric"),
            ("attribute = \"debt_ratio\"\nabove = 1\nbelow = 0\nlevel = \"high\"", "exactly one of"),
        ] {
            let e = rule(text).unwrap_err().to_string();
            assert!(e.contains(want), "{text}: {e}");
        }
        assert!(
            toml::from_str::<RawRiskRule>("attribute = \"x\"\nequals = 1\nlevel = \"severe\"")
                .is_err()
        );
    }

    #[test]
    fn pins_name_a_tier_of_the_grading() {
        let names: Vec<String> = ["A", "B", "C"].map(String::from).to_vec();
        let pin = |text: &str| {
            toml::from_str::<RawPin>(text)
                .unwrap()
                .check(&attrs(), &names)
        };
        let p = pin("attribute = \"key_account\"\nequals = \"Y\"\ntier = \"A\"").unwrap();
        assert_eq!(p.action, PinAction::Set(0));
        let p = pin("attribute = \"credit_rating\"\nequals = \"D\"\nat_most = \"C\"").unwrap();
        assert_eq!(
            (p.action, p.test),
            (PinAction::AtMost(2), AttributeTest::In(vec!["D".into()]))
        );
        let e = pin("attribute = \"key_account\"\nequals = \"Y\"\ntier = \"Gold\"").unwrap_err();
        assert!(e.to_string().contains("no tier is called \"Gold\""), "{e}");
        let e = pin("attribute = \"key_account\"\nequals = \"Y\"").unwrap_err();
        assert!(e.to_string().contains("either tier"), "{e}");
    }
}
