//! The cluster's queries, as SQL text for DataFusion: the input normalised as `crate::load`
//! does, each line's first row rule as `crate::clean` marks it, and the two group-bys of the
//! features' specification (`features/reference.rs`: lines -> invoices -> customers), for
//! every snapshot in one query. Pure: the pipeline and the tables' columns in, text out.
//!
//! Where SQL and polars differ, the queries spell out polars' behaviour: a sum with nothing to
//! add is 0 (`COALESCE(SUM(..), 0)`), a `CASE` whose condition is null takes the `ELSE`.

use crate::columns as c;
use crate::config::{CostColumn, DropKeepError, DropOrKeep, Pipeline, ReturnPolicy, ValueColumns};
pub use crate::features::{RETURNS, ROWS};

/// What a raw column holds, as far as normalising it goes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    Text,
    Float,
    Integer,
    Date,
    Timestamp,
    Other,
}

/// One registered input table: `lines_<index>` with these columns.
#[derive(Debug, Clone)]
pub struct Source {
    pub table: String,
    pub columns: Vec<(String, Kind)>,
    /// CSV: `[input.csv] null_values` apply to its text.
    pub csv: bool,
}

/// Everything the queries depend on.
pub struct Spec<'a> {
    pub p: &'a Pipeline,
    pub sources: &'a [Source],
    /// Date format per date role (`None`: the column is typed).
    pub date_formats: &'a [(String, Option<String>)],
    /// `today` as a day number (future dates).
    pub today: i32,
}

/// Names of the columns of `marked` beyond the normalised ones.
pub const SRC: &str = "__src";
pub const DUP: &str = "__dup";
pub const REASON: &str = "__reason";
pub const DAY: &str = "__day";
const DUE: &str = "__due";
const PAID: &str = "__paid";
pub const SNAP: &str = "__snap";

/// A quoted identifier (DataFusion folds unquoted names to lower case).
pub fn q(name: &str) -> String {
    format!("\"{}\"", name.replace('"', "\"\""))
}

/// A SQL string literal.
pub fn lit(text: &str) -> String {
    format!("'{}'", text.replace('\'', "''"))
}

/// Whitespace trimmed as the local reader trims it (spaces, tabs, line ends).
fn trim(x: &str) -> String {
    format!("btrim({x}, ' \t\r\n')")
}

impl Spec<'_> {
    fn kind(&self, source: &Source, name: &str) -> Kind {
        source
            .columns
            .iter()
            .find(|(n, _)| n == name)
            .map_or(Kind::Other, |(_, k)| *k)
    }

    /// The raw text of a column, with the CSV null markers as null.
    fn raw_text(&self, source: &Source, name: &str) -> String {
        let column = q(name);
        let nulls = &self.p.input.csv.null_values;
        if source.csv && !nulls.is_empty() {
            let list: Vec<String> = nulls.iter().map(|n| lit(n)).collect();
            format!(
                "CASE WHEN {column} IN ({}) THEN NULL ELSE {column} END",
                list.join(", ")
            )
        } else {
            format!("CAST({column} AS VARCHAR)")
        }
    }

    /// `load::id_expr`: trimmed, empty as missing, whole floats (`17850.0`) as integers.
    fn id(&self, source: &Source, name: &str, strip_float: bool) -> String {
        let kind = self.kind(source, name);
        let text = if kind == Kind::Float && strip_float {
            format!("CAST(CAST({} AS BIGINT) AS VARCHAR)", q(name))
        } else {
            self.raw_text(source, name)
        };
        let t = trim(&text);
        let tidy = if strip_float {
            format!("CASE WHEN ends_with({t}, '.0') THEN substr({t}, 1, char_length({t}) - 2) ELSE {t} END")
        } else {
            t
        };
        format!("NULLIF({tidy}, '')")
    }

    /// `load::number_expr`: numbers as they are, text parsed (decimal comma if set).
    pub fn number(&self, source: &Source, name: &str) -> String {
        match self.kind(source, name) {
            Kind::Float | Kind::Integer => format!("CAST({} AS DOUBLE)", q(name)),
            _ => {
                let mut t = trim(&self.raw_text(source, name));
                if self.p.input.csv.decimal_comma {
                    t = format!("replace(replace({t}, '.', ''), ',', '.')");
                }
                format!("TRY_CAST(NULLIF({t}, '') AS DOUBLE)")
            }
        }
    }

    /// `load::date_expr`: typed dates as they are, text parsed with the role's format.
    fn date(&self, source: &Source, name: &str, role: &str) -> String {
        let format = self
            .date_formats
            .iter()
            .find(|(r, _)| r == role)
            .and_then(|(_, f)| f.as_deref());
        match (self.kind(source, name), format) {
            (Kind::Date, _) => q(name),
            (Kind::Timestamp, _) => format!("CAST({} AS DATE)", q(name)),
            (_, Some(f)) => format!(
                "to_date(NULLIF({}, ''), {})",
                trim(&self.raw_text(source, name)),
                lit(f)
            ),
            (_, None) => format!("CAST({} AS DATE)", q(name)),
        }
    }

    /// The normalised columns of one source (`load::normalise`), with its index and the
    /// duplicate flag.
    fn normalised(&self, index: usize, source: &Source) -> String {
        let cols = &self.p.input.columns;
        let norm = self.p.cleaning.normalize_customer_id;
        let mut out = vec![
            format!("{index} AS {}", q(SRC)),
            // An exact duplicate: an earlier line of the file equal in every column. Equal
            // lines share their invoice (and day), so this is the local check of the lines of
            // one invoice, wherever they lie in the files.
            format!(
                "ROW_NUMBER() OVER (PARTITION BY {}) > 1 AS {}",
                source
                    .columns
                    .iter()
                    .map(|(n, _)| q(n))
                    .collect::<Vec<_>>()
                    .join(", "),
                q(DUP)
            ),
            format!(
                "{} AS {}",
                self.id(source, &cols.customer_id, norm),
                q(c::CUSTOMER_ID)
            ),
            format!(
                "{} AS {}",
                self.date(source, &cols.date, c::DATE),
                q(c::DATE)
            ),
        ];
        if let Some(x) = &cols.invoice_id {
            out.push(format!(
                "{} AS {}",
                self.id(source, x, false),
                q(c::INVOICE_ID)
            ));
        }
        let quantity = match &cols.value {
            ValueColumns::Amount { amount, quantity } => {
                out.push(format!(
                    "{} AS {}",
                    self.number(source, amount),
                    q(c::AMOUNT)
                ));
                quantity.as_ref().map(|x| self.number(source, x))
            }
            ValueColumns::QuantityPrice {
                quantity,
                unit_price,
            } => {
                let qn = self.number(source, quantity);
                let u = self.number(source, unit_price);
                out.push(format!("{u} AS {}", q(c::UNIT_PRICE)));
                out.push(format!("({qn}) * ({u}) AS {}", q(c::AMOUNT)));
                Some(qn)
            }
        };
        if let Some(qn) = &quantity {
            out.push(format!("{qn} AS {}", q(c::QUANTITY)));
        }
        let amount = || match &cols.value {
            ValueColumns::Amount { amount, .. } => self.number(source, amount),
            ValueColumns::QuantityPrice {
                quantity,
                unit_price,
            } => format!(
                "({}) * ({})",
                self.number(source, quantity),
                self.number(source, unit_price)
            ),
        };
        match &cols.cost {
            Some(CostColumn::UnitCost(x)) => out.push(format!(
                "({}) * ({}) AS {}",
                quantity.clone().unwrap_or_else(|| "NULL".into()),
                self.number(source, x),
                q(c::COST)
            )),
            Some(CostColumn::LineCost(x)) => {
                out.push(format!("{} AS {}", self.number(source, x), q(c::COST)))
            }
            Some(CostColumn::LineProfit(x)) => out.push(format!(
                "({}) - ({}) AS {}",
                amount(),
                self.number(source, x),
                q(c::COST)
            )),
            None => {}
        }
        for (role, name) in [
            (c::DUE_DATE, &cols.due_date),
            (c::PAID_DATE, &cols.paid_date),
        ] {
            if let Some(x) = name {
                out.push(format!("{} AS {}", self.date(source, x, role), q(role)));
            }
        }
        if let Some(x) = &cols.region {
            out.push(format!("{} AS {}", self.id(source, x, false), q(c::REGION)));
        }
        format!("SELECT {} FROM {}", out.join(", "), q(&source.table))
    }

    fn has_quantity(&self) -> bool {
        match &self.p.input.columns.value {
            ValueColumns::Amount { quantity, .. } => quantity.is_some(),
            ValueColumns::QuantityPrice { .. } => true,
        }
    }

    fn has_unit_price(&self) -> bool {
        matches!(
            self.p.input.columns.value,
            ValueColumns::QuantityPrice { .. }
        )
    }

    /// The common table expressions up to `marked`: every line normalised, signed and marked
    /// with its first row rule (`clean::mark_transactions`), as day numbers.
    pub fn marked(&self) -> String {
        let cols = &self.p.input.columns;
        let cl = &self.p.cleaning;
        let union = self
            .sources
            .iter()
            .enumerate()
            .map(|(i, s)| self.normalised(i, s))
            .collect::<Vec<_>>()
            .join(" UNION ALL ");
        // clean::sign_returns
        let mut is_return = vec![format!("{} < 0", q(c::AMOUNT))];
        if self.has_quantity() {
            is_return.push(format!("{} < 0", q(c::QUANTITY)));
        }
        if let (Some(prefix), Some(_)) = (&cl.return_invoice_prefix, &cols.invoice_id) {
            is_return.push(format!(
                "COALESCE(starts_with({}, {}), false)",
                q(c::INVOICE_ID),
                lit(prefix)
            ));
        }
        let signed = |name: &str| {
            format!(
                "CASE WHEN {r} THEN -abs({n}) ELSE {n} END AS {n}",
                r = q(c::IS_RETURN),
                n = q(name)
            )
        };
        // The normalised columns with amount and cost signed (`fixed`), then as `marked`
        // holds them: dates as day numbers.
        let mut fixed = vec![
            q(SRC),
            q(DUP),
            q(c::CUSTOMER_ID),
            q(c::DATE),
            q(c::IS_RETURN),
        ];
        fixed.push(signed(c::AMOUNT));
        let mut columns = vec![
            q(SRC),
            q(DUP),
            q(c::CUSTOMER_ID),
            format!("CAST({} AS INT) AS {}", q(c::DATE), q(DAY)),
            q(c::IS_RETURN),
            q(c::AMOUNT),
        ];
        if cols.invoice_id.is_some() {
            fixed.push(q(c::INVOICE_ID));
            columns.push(q(c::INVOICE_ID));
        }
        if self.has_quantity() {
            fixed.push(q(c::QUANTITY));
        }
        if self.has_unit_price() {
            fixed.push(q(c::UNIT_PRICE));
        }
        if cols.cost.is_some() {
            fixed.push(signed(c::COST));
            columns.push(q(c::COST));
        }
        if cols.due_date.is_some() {
            fixed.push(q(c::DUE_DATE));
            columns.push(format!("CAST({} AS INT) AS {}", q(c::DUE_DATE), q(DUE)));
        }
        if cols.paid_date.is_some() {
            fixed.push(q(c::PAID_DATE));
            columns.push(format!("CAST({} AS INT) AS {}", q(c::PAID_DATE), q(PAID)));
        }
        if cols.region.is_some() {
            fixed.push(q(c::REGION));
            columns.push(q(c::REGION));
        }
        format!(
            "norm AS ({union}), \
             signed AS (SELECT *, COALESCE({ret}, false) AS {is_return} FROM norm), \
             fixed AS (SELECT {fixed} FROM signed), \
             marked AS (SELECT {columns}, {reason} AS {reason_name} FROM fixed)",
            ret = is_return.join(" OR "),
            is_return = q(c::IS_RETURN),
            fixed = fixed.join(", "),
            columns = columns.join(", "),
            reason = self.reason(),
            reason_name = q(REASON),
        )
    }

    /// `clean::row_rules` as one `CASE`: the code of the first rule a line breaks, else 0.
    /// Reads `fixed`, where returns are signed.
    fn reason(&self) -> String {
        let cl = &self.p.cleaning;
        let mut values = vec![c::AMOUNT];
        if self.has_quantity() {
            values.push(c::QUANTITY);
        }
        if self.has_unit_price() {
            values.push(c::UNIT_PRICE);
        }
        if self.p.input.columns.cost.is_some() {
            values.push(c::COST);
        }
        // NaN, infinities: not amounts (NaN orders above every number in DataFusion).
        let non_finite = values
            .iter()
            .map(|v| {
                let v = q(v);
                format!("({v} IS NOT NULL AND (isnan({v}) OR abs({v}) > 1.7976931348623157e308))")
            })
            .collect::<Vec<_>>()
            .join(" OR ");
        let mut rules: Vec<(String, u8)> = vec![
            (format!("{} IS NULL", q(c::CUSTOMER_ID)), 1),
            (format!("{} IS NULL", q(c::DATE)), 2),
            (format!("{} IS NULL", q(c::AMOUNT)), 3),
            (non_finite, 4),
        ];
        if cl.nonpositive_price != DropKeepError::Keep {
            let bad = if self.has_unit_price() {
                format!("{} <= 0", q(c::UNIT_PRICE))
            } else {
                format!("{} = 0", q(c::AMOUNT))
            };
            rules.push((bad, 5));
        }
        if cl.future_dates != DropKeepError::Keep {
            rules.push((format!("CAST({} AS INT) > {}", q(c::DATE), self.today), 6));
        }
        if cl.returns == ReturnPolicy::Drop {
            rules.push((q(c::IS_RETURN), 7));
        }
        let whens: Vec<String> = rules
            .iter()
            .map(|(cond, code)| format!("WHEN {cond} THEN {code}"))
            .collect();
        format!("CASE {} ELSE 0 END", whens.join(" "))
    }

    /// Whether exact duplicates are left out (else only counted).
    fn drop_duplicates(&self) -> bool {
        self.p.cleaning.duplicates == DropOrKeep::Drop
    }

    /// Rows per (source, duplicate flag, reason, return flag, day): the input of
    /// `clean::settle`, the rows read per source and the duplicates, in one pass.
    pub fn counts(&self) -> String {
        format!(
            "WITH {} SELECT {src}, {dup}, {reason}, {ret}, {day}, COUNT(*) AS n FROM marked \
             GROUP BY {src}, {dup}, {reason}, {ret}, {day}",
            self.marked(),
            src = q(SRC),
            dup = q(DUP),
            reason = q(REASON),
            ret = q(c::IS_RETURN),
            day = q(DAY),
        )
    }

    /// The first line a rule drops (for the error of a rule whose policy is `error`).
    pub fn example(&self, code: u8) -> String {
        format!(
            "WITH {} SELECT *, CAST({} AS DATE) AS {} FROM marked WHERE {} = {code}{} LIMIT 1",
            self.marked(),
            q(DAY),
            q(c::DATE),
            q(REASON),
            if self.drop_duplicates() {
                format!(" AND NOT {}", q(DUP))
            } else {
                String::new()
            }
        )
    }

    /// Per source: rows, and per text column parsed as a number, how many values do not
    /// parse and one of them (`load::check_values`).
    pub fn number_check(&self, source: &Source, names: &[String]) -> String {
        let mut aggs = vec!["COUNT(*) AS nrows".to_string()];
        for (i, name) in names.iter().enumerate() {
            let text = trim(&self.raw_text(source, name));
            let bad = format!(
                "(NULLIF({text}, '') IS NOT NULL AND {} IS NULL)",
                self.number(source, name)
            );
            aggs.push(format!("SUM(CASE WHEN {bad} THEN 1 ELSE 0 END) AS bad{i}"));
            aggs.push(format!("MIN(CASE WHEN {bad} THEN {text} END) AS ex{i}"));
        }
        format!("SELECT {} FROM {}", aggs.join(", "), q(&source.table))
    }

    /// The features of every snapshot `(as_of, start)` (day numbers; `start` of the lookback
    /// window, if any), one row per (snapshot, customer) with `__snap` its index, customers
    /// without a purchase included with their `__rows` and `__returns`.
    pub fn features(&self, windows: &[(i32, Option<i32>)]) -> String {
        let cols = &self.p.input.columns;
        let has_cost = cols.cost.is_some();
        let has_due = cols.due_date.is_some();
        let has_region = cols.region.is_some();
        let period = self.p.features.period_days as i64;
        let values = windows
            .iter()
            .enumerate()
            .map(|(i, (as_of, start))| {
                format!(
                    "({i}, {as_of}, {})",
                    start.map_or(i32::MIN as i64 / 2, |s| s as i64)
                )
            })
            .collect::<Vec<_>>()
            .join(", ");
        let (snap, as_of, day, amount) = (q(SNAP), q("__as_of"), q(DAY), q(c::AMOUNT));
        let key = match &cols.invoice_id {
            Some(_) => q(c::INVOICE_ID),
            None => day.clone(),
        };
        let purchase = if self.p.cleaning.nonpositive_price == DropKeepError::Keep {
            format!(
                "({amount} > 0 OR ({amount} = 0 AND NOT {}))",
                q(c::IS_RETURN)
            )
        } else {
            format!("{amount} > 0")
        };
        let dup = if self.drop_duplicates() {
            format!(" AND NOT m.{}", q(DUP))
        } else {
            String::new()
        };
        let period_sum = |from: String, to: String| {
            format!("SUM(CASE WHEN {day} >= {from} AND {day} < {to} THEN {amount} END)")
        };
        let mut inv = vec![
            format!("SUM({amount}) AS a"),
            format!("SUM(CASE WHEN {amount} > 0 THEN {amount} END) AS g"),
            format!("SUM(CASE WHEN {amount} < 0 THEN {amount} END) AS r"),
            format!("MIN(CASE WHEN {purchase} THEN {day} END) AS d"),
            format!(
                "{} AS lp",
                period_sum(format!("{as_of} - {period}"), as_of.clone())
            ),
            format!(
                "{} AS pp",
                period_sum(
                    format!("{as_of} - {}", 2 * period),
                    format!("{as_of} - {period}")
                )
            ),
            "COUNT(*) AS n".into(),
            format!("SUM(CASE WHEN {} THEN 1 ELSE 0 END) AS nr", q(c::IS_RETURN)),
        ];
        if has_cost {
            inv.push(format!("SUM({amount} - {}) AS pr", q(c::COST)));
        }
        if has_due {
            inv.push(format!("MIN({}) AS due", q(DUE)));
            inv.push(if cols.paid_date.is_some() {
                format!("MAX({}) AS paid", q(PAID))
            } else {
                "CAST(NULL AS INT) AS paid".into()
            });
        }
        let mut cust = vec![
            "COUNT(d) AS frequency".to_string(),
            "COUNT(DISTINCT d) AS purchase_days".into(),
            "COALESCE(SUM(a), 0) AS monetary".into(),
            "COALESCE(SUM(g), 0) AS gross".into(),
            "abs(COALESCE(SUM(r), 0)) AS returned".into(),
            "MIN(d) AS fday".into(),
            "MAX(d) AS lday".into(),
            "COALESCE(SUM(CASE WHEN d > cf THEN a END), 0) AS repeat_value".into(),
            "COALESCE(SUM(lp), 0) AS lp".into(),
            "COALESCE(SUM(pp), 0) AS pp".into(),
            "SUM(n) AS n".into(),
            "SUM(nr) AS nr".into(),
        ];
        if has_cost {
            cust.push("COALESCE(SUM(pr), 0) AS profit".into());
        }
        if has_due {
            // features/reference.rs payment_aggs
            let paid_known = format!("(CASE WHEN paid < {as_of} THEN paid END)");
            let overdue =
                format!("(a > 0 AND {paid_known} IS NULL AND due < {as_of} AND due IS NOT NULL)");
            let assessed = format!("(a > 0 AND ({paid_known} IS NOT NULL OR due < {as_of}))");
            let on_time = format!("(a > 0 AND COALESCE({paid_known} <= due, false))");
            let late =
                format!("(CASE WHEN {paid_known} - due > 0 THEN {paid_known} - due ELSE 0 END)");
            cust.extend([
                format!("SUM(CASE WHEN COALESCE({assessed}, false) THEN 1 ELSE 0 END) AS invoices_due"),
                format!("SUM(CASE WHEN {on_time} THEN 1 ELSE 0 END) AS on_time"),
                format!(
                    "COALESCE(SUM(CASE WHEN a > 0 AND {paid_known} IS NOT NULL THEN CAST({late} AS DOUBLE) END), 0) AS late_sum"
                ),
                format!(
                    "SUM(CASE WHEN a > 0 AND {paid_known} IS NOT NULL THEN 1 ELSE 0 END) AS late_n"
                ),
                format!("SUM(CASE WHEN COALESCE({overdue}, false) THEN 1 ELSE 0 END) AS overdue_invoices"),
                format!("COALESCE(SUM(CASE WHEN COALESCE({overdue}, false) THEN a END), 0) AS overdue_amount"),
                format!(
                    "COALESCE(MAX(CASE WHEN COALESCE({overdue}, false) THEN {as_of} - due END), 0) AS oldest_overdue"
                ),
            ]);
        }
        // Sums and counts; `super::finish_table` rounds the sums and takes the ratios with
        // the local pass's own functions, so both engines give the same numbers.
        let mut out = vec![
            format!("k.{snap}"),
            format!(
                "CAST(k.{} AS VARCHAR) AS {}",
                q(c::CUSTOMER_ID),
                q(c::CUSTOMER_ID)
            ),
            format!("CAST(k.{as_of} AS BIGINT) AS as_of"),
            "CAST(fday AS INT) AS fday".into(),
            "CAST(lday AS INT) AS lday".into(),
            "CAST(frequency AS BIGINT) AS frequency".into(),
            "CAST(purchase_days AS BIGINT) AS purchase_days".into(),
            "CAST(monetary AS DOUBLE) AS monetary".into(),
            "CAST(gross AS DOUBLE) AS gross".into(),
            "CAST(returned AS DOUBLE) AS returned".into(),
            "CAST(repeat_value AS DOUBLE) AS repeat_value".into(),
            "CAST(lp AS DOUBLE) AS lp".into(),
            "CAST(pp AS DOUBLE) AS pp".into(),
        ];
        if has_cost {
            out.push("CAST(profit AS DOUBLE) AS profit".into());
        }
        if has_due {
            out.extend([
                "CAST(invoices_due AS BIGINT) AS invoices_due".to_string(),
                "CAST(on_time AS BIGINT) AS on_time".into(),
                "CAST(late_sum AS DOUBLE) AS late_sum".into(),
                "CAST(late_n AS BIGINT) AS late_n".into(),
                "CAST(overdue_invoices AS BIGINT) AS overdue_invoices".into(),
                "CAST(overdue_amount AS DOUBLE) AS overdue_amount".into(),
                "CAST(oldest_overdue AS BIGINT) AS oldest_overdue".into(),
            ]);
        }
        if has_region {
            out.push(format!("b.{} AS {}", q(c::REGION), q(c::MAIN_REGION)));
        }
        out.push(format!("CAST(n AS BIGINT) AS {}", q(ROWS)));
        out.push(format!("CAST(nr AS BIGINT) AS {}", q(RETURNS)));
        let mut sql = format!(
            "WITH {marked}, \
             snaps AS (SELECT * FROM (VALUES {values}) AS t({snap}, {as_of}, \"__start\")), \
             w AS (SELECT s.{snap}, s.{as_of}, m.* FROM marked m CROSS JOIN snaps s \
                   WHERE m.{reason} = 0{dup} AND m.{day} < s.{as_of} AND m.{day} >= s.\"__start\"), \
             inv AS (SELECT {snap}, {as_of}, {id}, {key}, {inv} FROM w GROUP BY {snap}, {as_of}, {id}, {key}), \
             inv2 AS (SELECT *, MIN(d) OVER (PARTITION BY {snap}, {id}) AS cf FROM inv), \
             k AS (SELECT {snap}, {as_of}, {id}, {cust} FROM inv2 GROUP BY {snap}, {as_of}, {id})",
            marked = self.marked(),
            reason = q(REASON),
            id = q(c::CUSTOMER_ID),
            inv = inv.join(", "),
            cust = cust.join(", "),
        );
        if has_region {
            // reference.rs main_region: the region with the most sales revenue, ties to the
            // first name.
            sql.push_str(&format!(
                ", reg AS (SELECT {snap}, {id}, {region}, SUM({amount}) AS rv FROM w \
                   WHERE {amount} > 0 AND {region} IS NOT NULL GROUP BY {snap}, {id}, {region}), \
                 b AS (SELECT {snap}, {id}, {region} FROM (SELECT *, ROW_NUMBER() OVER \
                   (PARTITION BY {snap}, {id} ORDER BY rv DESC, {region} ASC) AS i FROM reg) WHERE i = 1)",
                id = q(c::CUSTOMER_ID),
                region = q(c::REGION),
            ));
            sql.push_str(&format!(
                " SELECT {} FROM k LEFT JOIN b ON k.{snap} = b.{snap} AND k.{id} = b.{id}",
                out.join(", "),
                id = q(c::CUSTOMER_ID),
            ));
        } else {
            sql.push_str(&format!(" SELECT {} FROM k", out.join(", ")));
        }
        sql
    }
}
