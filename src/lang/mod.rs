//! The words people read, in the language of `[report] language`: the sentences of reasons,
//! risk reasons, alert details and movements ([`reasons`]), and the headings, labels, legends
//! and chart titles of the report and the charts ([`words`]). Text only: numbers arrive
//! formatted, and nothing here decides a grade. Column names of the tables stay English in
//! every language; only what a person reads changes.

mod reasons;
mod words;

pub use reasons::Cut;
pub use words::{fill, Words};

use serde::{Deserialize, Serialize};

/// The language of the report, the charts and the reasons.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Deserialize, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Language {
    #[default]
    En,
    Zh,
}

impl Language {
    /// The code written in the pipeline file and in `<html lang=..>`.
    pub fn code(self) -> &'static str {
        match self {
            Language::En => "en",
            Language::Zh => "zh",
        }
    }

    /// The labels, headings and titles of the report and the charts.
    pub fn words(self) -> &'static Words {
        match self {
            Language::En => &words::EN,
            Language::Zh => &words::ZH,
        }
    }

    /// A column's heading in the report: the Parquet name in words (`customer_share` ->
    /// "customer share", or "客户占比").
    pub fn column(self, name: &str) -> String {
        match self {
            Language::Zh => match words::zh_column(name) {
                Some(w) => w.to_string(),
                None => name.replace('_', " "),
            },
            Language::En => name.replace('_', " "),
        }
    }

    /// A value that is a code in the tables (`churn_risk`, `high`, `dropped`, a data-quality
    /// step), as the report shows it: in words, or as it is when it is not a known code.
    pub fn value<'a>(self, code: &'a str) -> std::borrow::Cow<'a, str> {
        let known = match self {
            Language::En => words::en_value(code),
            Language::Zh => words::zh_value(code),
        };
        match known {
            Some(w) => w.into(),
            None => code.into(),
        }
    }

    /// What a comparison metric means (comparison.parquet's `meaning`, which stays English
    /// in the file), `None` for a metric without a translation.
    pub fn metric_meaning(self, metric: &str) -> Option<&'static str> {
        match self {
            Language::En => None,
            Language::Zh => words::zh_metric_meaning(metric),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn codes_and_columns_read_as_words() {
        assert_eq!(Language::En.column("customer_share"), "customer share");
        assert_eq!(Language::Zh.column("customer_share"), "客户占比");
        // A column without a translation keeps its name, in words.
        assert_eq!(Language::Zh.column("comp_xyz"), "comp xyz");
        assert_eq!(Language::En.value("churn_risk"), "churn risk");
        assert_eq!(Language::Zh.value("churn_risk"), "流失风险");
        assert_eq!(Language::Zh.value("high"), "高");
        assert_eq!(Language::Zh.value("Acme Ltd"), "Acme Ltd");
    }

    #[test]
    fn the_pipeline_file_spells_the_languages_in_lower_case() {
        #[derive(Deserialize)]
        struct T {
            language: Language,
        }
        let t: T = toml::from_str("language = \"zh\"").unwrap();
        assert_eq!(t.language, Language::Zh);
        let e = toml::from_str::<T>("language = \"fr\"").err().unwrap();
        assert!(e.to_string().contains("expected `en` or `zh`"), "{e}");
    }
}
