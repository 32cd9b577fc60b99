//! `[potential]` of the pipeline file, checked once into [`PotentialParams`].

use anyhow::{bail, Result};
use serde::Deserialize;

/// The time unit of the models: t_x, T and the horizon are counted in it.
#[derive(Debug, Clone, Copy, Default, Deserialize, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "lowercase")]
pub enum TimeUnit {
    Day,
    #[default]
    Week,
    /// A twelfth of a Julian year, 30.4375 days.
    Month,
}

impl TimeUnit {
    /// Days per unit.
    pub fn days(self) -> f64 {
        match self {
            TimeUnit::Day => 1.0,
            TimeUnit::Week => 7.0,
            TimeUnit::Month => 365.25 / 12.0,
        }
    }

    pub fn periods_per_year(self) -> f64 {
        365.25 / self.days()
    }
}

#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawPotential {
    /// Default true: writing the section turns the models on.
    pub enabled: Option<bool>,
    #[serde(default)]
    pub time_unit: TimeUnit,
    /// Time units ahead for expected purchases and lifetime value.
    pub horizon: Option<f64>,
    /// Annual rate at which future value is discounted.
    pub discount_rate: Option<f64>,
    /// L2 penalty on the parameters (0 = plain maximum likelihood).
    pub penalizer: Option<f64>,
}

/// The checked section.
#[derive(Debug, Clone, PartialEq, serde::Serialize)]
pub struct PotentialParams {
    pub time_unit: TimeUnit,
    /// Whole time units.
    pub horizon: u32,
    pub discount_rate: f64,
    pub penalizer: f64,
}

/// The longest horizon: a hundred years of weeks.
const MAX_HORIZON: f64 = 5_300.0;

impl RawPotential {
    /// `None` when the section turns the models off.
    pub fn check(&self) -> Result<Option<PotentialParams>> {
        if self.enabled == Some(false) {
            return Ok(None);
        }
        let horizon = self.horizon.unwrap_or(52.0);
        if !((1.0..=MAX_HORIZON).contains(&horizon) && horizon.fract() == 0.0) {
            bail!("[potential] horizon is a whole number of time units between 1 and {MAX_HORIZON}, got {horizon} (e.g. horizon = 52 with time_unit = \"week\")");
        }
        let discount_rate = self.discount_rate.unwrap_or(0.1);
        if !(0.0..=10.0).contains(&discount_rate) {
            bail!("[potential] discount_rate is an annual rate such as 0.1 (10 %), between 0 and 10, got {discount_rate}");
        }
        let penalizer = self.penalizer.unwrap_or(0.0);
        if !(penalizer >= 0.0 && penalizer.is_finite()) {
            bail!("[potential] penalizer is a non-negative number (0 = none, 0.001 a light one), got {penalizer}");
        }
        Ok(Some(PotentialParams {
            time_unit: self.time_unit,
            horizon: horizon as u32,
            discount_rate,
            penalizer,
        }))
    }
}

impl PotentialParams {
    /// The discount factor of one time unit: 1 / (1 + rate per unit), the unit's rate
    /// compounding to the annual one.
    pub fn unit_discount(&self) -> f64 {
        (1.0 + self.discount_rate).powf(-1.0 / self.time_unit.periods_per_year())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn raw(text: &str) -> RawPotential {
        toml::from_str(text).unwrap()
    }

    #[test]
    fn defaults_and_discount() {
        let p = raw("").check().unwrap().unwrap();
        assert_eq!(p.time_unit, TimeUnit::Week);
        assert_eq!((p.horizon, p.discount_rate, p.penalizer), (52, 0.1, 0.0));
        // 52.18 weeks of this factor discount by 10 %.
        let year = p.unit_discount().powf(365.25 / 7.0);
        assert!((year - 1.0 / 1.1).abs() < 1e-12, "{year}");
        assert_eq!(raw("enabled = false").check().unwrap(), None);
    }

    #[test]
    fn bad_values_say_what_to_write() {
        for (text, want) in [
            ("horizon = 0", "whole number of time units"),
            ("horizon = 2.5", "whole number of time units"),
            ("discount_rate = -0.1", "annual rate"),
            ("penalizer = -1", "non-negative"),
        ] {
            let e = raw(text).check().unwrap_err().to_string();
            assert!(e.contains(want), "{text}: {e}");
        }
        assert!(toml::from_str::<RawPotential>("time_unit = \"year\"").is_err());
    }
}
