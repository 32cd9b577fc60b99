//! The sentences of reasons (tiers.parquet `reason`, `risk_reasons`), alert details and
//! movements, one method per sentence. The numbers arrive formatted (money, percentages,
//! days); each language only orders them and adds its words. Written into a reused buffer,
//! without allocating: grading writes one or more per customer.

use std::fmt::{Display, Result, Write};

use super::Language::{self, En, Zh};

/// Where a customer lies against a cumulative-share cut: within it or beyond it.
pub enum Cut<D> {
    Within(D),
    Beyond(D),
}

impl Language {
    /// Between two risk reasons, or between the tier reason and the risk.
    pub fn separator(self) -> &'static str {
        match self {
            En => "; ",
            Zh => "；",
        }
    }

    /// A risk level (`low`, `medium`, `high`) in words.
    pub fn risk_level(self, level: &str) -> &str {
        match (self, level) {
            (Zh, "low") => "低",
            (Zh, "medium") => "中",
            (Zh, "high") => "高",
            _ => level,
        }
    }

    /// "score 81.20 >= 75 -> A" (`at_least`) or "score 20.00 < 35 -> D".
    pub fn score_cut(
        self,
        out: &mut impl Write,
        score: impl Display,
        at_least: bool,
        cut: impl Display,
        tier: &str,
    ) -> Result {
        let op = if at_least { ">=" } else { "<" };
        match self {
            En => write!(out, "score {score} {op} {cut} -> {tier}"),
            Zh => write!(out, "得分 {score} {op} {cut} -> {tier}"),
        }
    }

    /// "score 81.20, 12.5% of customers score higher (A: top 20.0%) -> A"; `top` is `None` for
    /// the last tier ("the rest").
    pub fn score_share(
        self,
        out: &mut impl Write,
        score: impl Display,
        higher: impl Display,
        top: Option<impl Display>,
        tier: &str,
    ) -> Result {
        match (self, top) {
            (En, Some(top)) => write!(
                out,
                "score {score}, {higher} of customers score higher ({tier}: top {top}) -> {tier}"
            ),
            (En, None) => write!(
                out,
                "score {score}, {higher} of customers score higher ({tier}: the rest) -> {tier}"
            ),
            (Zh, Some(top)) => write!(
                out,
                "得分 {score}，{higher} 的客户得分更高（{tier}：前 {top}）-> {tier}"
            ),
            (Zh, None) => write!(
                out,
                "得分 {score}，{higher} 的客户得分更高（{tier}：其余）-> {tier}"
            ),
        }
    }

    /// "revenue" or "profit", the value a Pareto rule ranks by.
    pub fn pareto_value(self, profit: bool) -> &'static str {
        match (self, profit) {
            (En, true) => "profit",
            (En, false) => "revenue",
            (Zh, true) => "利润",
            (Zh, false) => "收入",
        }
    }

    /// "revenue -5.00 <= 0 -> C".
    pub fn pareto_nothing(
        self,
        out: &mut impl Write,
        label: &str,
        value: impl Display,
        tier: &str,
    ) -> Result {
        match self {
            En => write!(out, "{label} {value} <= 0 -> {tier}"),
            Zh => write!(out, "{label} {value} <= 0 -> {tier}"),
        }
    }

    /// "profit 1,200.00: larger customers hold 10.0% of profit, within the first 80.0% -> A"
    /// or "... beyond 95.0% -> C".
    pub fn pareto_share<D: Display>(
        self,
        out: &mut impl Write,
        label: &str,
        value: impl Display,
        before: impl Display,
        cut: Cut<D>,
        tier: &str,
    ) -> Result {
        match (self, cut) {
            (En, Cut::Within(cut)) => write!(
                out,
                "{label} {value}: larger customers hold {before} of {label}, within the first {cut} -> {tier}"
            ),
            (En, Cut::Beyond(cut)) => write!(
                out,
                "{label} {value}: larger customers hold {before} of {label}, beyond {cut} -> {tier}"
            ),
            (Zh, Cut::Within(cut)) => write!(
                out,
                "{label} {value}：更大的客户占{label}的 {before}，在前 {cut} 之内 -> {tier}"
            ),
            (Zh, Cut::Beyond(cut)) => write!(
                out,
                "{label} {value}：更大的客户占{label}的 {before}，超出 {cut} -> {tier}"
            ),
        }
    }

    /// "high" or "low", a level of value or potential.
    pub fn level(self, high: bool) -> &'static str {
        match (self, high) {
            (En, true) => "high",
            (En, false) => "low",
            (Zh, true) => "高",
            (Zh, false) => "低",
        }
    }

    /// "value: score 60.00 >= 50 (high); potential: ".
    pub fn grid_value(
        self,
        out: &mut impl Write,
        score: impl Display,
        high: bool,
        cut: impl Display,
    ) -> Result {
        let op = if high { ">=" } else { "<" };
        let level = self.level(high);
        match self {
            En => write!(
                out,
                "value: score {score} {op} {cut} ({level}); potential: "
            ),
            Zh => write!(out, "价值：得分 {score} {op} {cut}（{level}）；潜力："),
        }
    }

    /// "lifetime value 5,000.00, rank 72.5 >= 50 (high)", or without a lifetime value
    /// (`clv` `None`) "no lifetime value, counted as rank 50 (high)".
    pub fn grid_potential(
        self,
        out: &mut impl Write,
        clv: Option<impl Display>,
        rank: impl Display,
        high: bool,
        cut: impl Display,
    ) -> Result {
        let op = if high { ">=" } else { "<" };
        let level = self.level(high);
        match (self, clv) {
            (En, Some(v)) => write!(out, "lifetime value {v}, rank {rank} {op} {cut} ({level})"),
            (En, None) => write!(out, "no lifetime value, counted as rank 50 ({level})"),
            (Zh, Some(v)) => write!(out, "生命周期价值 {v}，排名 {rank} {op} {cut}（{level}）"),
            (Zh, None) => write!(out, "无生命周期价值，按排名 50 计（{level}）"),
        }
    }

    /// " -> B" after a reason.
    pub fn arrow(self, out: &mut impl Write, tier: &str) -> Result {
        write!(out, " -> {tier}")
    }

    /// "pinned: " before the attribute that set a tier (`[[tiers.pin]]`).
    pub fn pinned(self, out: &mut impl Write) -> Result {
        match self {
            En => out.write_str("pinned: "),
            Zh => out.write_str("指定："),
        }
    }

    /// ", at most C" after a pin that caps the tier.
    pub fn at_most(self, out: &mut impl Write, tier: &str) -> Result {
        match self {
            En => write!(out, ", at most {tier}"),
            Zh => write!(out, "，最高为 {tier}"),
        }
    }

    /// "; high risk: " between the tier reason and the risk reasons.
    pub fn risk_intro(self, out: &mut impl Write, level: &str) -> Result {
        match self {
            En => write!(out, "; {level} risk: "),
            Zh => write!(out, "；{}风险：", self.risk_level(level)),
        }
    }

    /// "45 days overdue (1,200.00 outstanding)".
    pub fn days_overdue(
        self,
        out: &mut impl Write,
        days: impl Display,
        amount: impl Display,
    ) -> Result {
        match self {
            En => write!(out, "{days} days overdue ({amount} outstanding)"),
            Zh => write!(out, "逾期 {days} 天（未付 {amount}）"),
        }
    }

    /// "late on 40.0% of 5 invoices".
    pub fn late_invoices(
        self,
        out: &mut impl Write,
        late: impl Display,
        invoices: impl Display,
    ) -> Result {
        match self {
            En => write!(out, "late on {late} of {invoices} invoices"),
            Zh => write!(out, "{invoices} 张发票中 {late} 逾期付款"),
        }
    }

    /// "no purchase for 120 days, 4.0x the usual 30".
    pub fn no_purchase(
        self,
        out: &mut impl Write,
        days: impl Display,
        ratio: impl Display,
        usual: impl Display,
    ) -> Result {
        match self {
            En => write!(
                out,
                "no purchase for {days} days, {ratio}x the usual {usual}"
            ),
            Zh => write!(out, "{days} 天未购买，是通常间隔 {usual} 天的 {ratio} 倍"),
        }
    }

    /// "1,200.00 overdue, oldest 45 days past due".
    pub fn overdue_alert(
        self,
        out: &mut impl Write,
        amount: impl Display,
        days: impl Display,
    ) -> Result {
        match self {
            En => write!(out, "{amount} overdue, oldest {days} days past due"),
            Zh => write!(out, "逾期金额 {amount}，最早一笔已逾期 {days} 天"),
        }
    }

    /// "spend fell 85.7%: 10.00 in the last period vs 70.00 in the one before".
    pub fn spend_drop(
        self,
        out: &mut impl Write,
        drop: impl Display,
        last: impl Display,
        before: impl Display,
    ) -> Result {
        match self {
            En => write!(
                out,
                "spend fell {drop}: {last} in the last period vs {before} in the one before"
            ),
            Zh => write!(out, "消费下降 {drop}：最近一期 {last}，前一期 {before}"),
        }
    }

    /// One change of a movement: "score 40.00 -> 60.00", "recency 2 -> 4".
    pub fn change(
        self,
        out: &mut impl Write,
        what: &str,
        from: impl Display,
        to: impl Display,
    ) -> Result {
        let what = match (self, what) {
            (Zh, "score") => "得分",
            (Zh, "revenue") => "收入",
            (Zh, "profit") => "利润",
            (Zh, "recency") => "最近购买",
            (Zh, "frequency") => "购买频次",
            (Zh, "monetary") => "消费金额",
            (Zh, "risk") => "风险",
            _ => what,
        };
        write!(out, "{what} {from} -> {to}")
    }

    /// Why a customer appears in a history: "first graded at 2025-04-01: score 62.50".
    pub fn first_graded(
        self,
        out: &mut impl Write,
        date: impl Display,
        score: impl Display,
    ) -> Result {
        match self {
            En => write!(out, "first graded at {date}: score {score}"),
            Zh => write!(out, "{date} 首次评级：得分 {score}"),
        }
    }

    /// Why a customer left a history.
    pub fn left_window(self) -> &'static str {
        match self {
            En => "no purchase in the window at the later date",
            Zh => "较晚日期的时间窗内无购买",
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn text(f: impl Fn(&mut String) -> Result) -> String {
        let mut s = String::new();
        f(&mut s).unwrap();
        s
    }

    /// The English sentences are those tiers.parquet has always had.
    #[test]
    fn english_sentences_are_unchanged() {
        assert_eq!(
            text(|o| En.score_cut(o, "81.20", true, 75, "A")),
            "score 81.20 >= 75 -> A"
        );
        assert_eq!(
            text(|o| En.score_share(o, "50.00", "30.0%", None::<&str>, "C")),
            "score 50.00, 30.0% of customers score higher (C: the rest) -> C"
        );
        assert_eq!(
            text(|o| En.pareto_share(o, "profit", "1,200.00", "10.0%", Cut::Within("80.0%"), "A")),
            "profit 1,200.00: larger customers hold 10.0% of profit, within the first 80.0% -> A"
        );
        assert_eq!(
            text(|o| En.no_purchase(o, 120, "4.0", 30)),
            "no purchase for 120 days, 4.0x the usual 30"
        );
        assert_eq!(text(|o| En.risk_intro(o, "high")), "; high risk: ");
    }

    #[test]
    fn chinese_sentences_keep_every_number() {
        assert_eq!(
            text(|o| Zh.days_overdue(o, 45, "1,200.00")),
            "逾期 45 天（未付 1,200.00）"
        );
        assert_eq!(
            text(|o| Zh.spend_drop(o, "85.7%", "10.00", "70.00")),
            "消费下降 85.7%：最近一期 10.00，前一期 70.00"
        );
        assert_eq!(text(|o| Zh.risk_intro(o, "high")), "；高风险：");
        assert_eq!(text(|o| Zh.change(o, "risk", "低", "高")), "风险 低 -> 高");
        assert_eq!(
            text(|o| Zh.first_graded(o, "2025-04-01", "62.50")),
            "2025-04-01 首次评级：得分 62.50"
        );
    }
}
