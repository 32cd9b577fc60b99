//! Column names of the normalised transaction frame and of every output table, in one place.

// Normalised transactions (input roles).
pub const CUSTOMER_ID: &str = "customer_id";
pub const INVOICE_ID: &str = "invoice_id";
pub const DATE: &str = "date";
pub const AMOUNT: &str = "amount";
pub const QUANTITY: &str = "quantity";
pub const UNIT_PRICE: &str = "unit_price";
pub const COST: &str = "cost";
pub const DUE_DATE: &str = "due_date";
pub const PAID_DATE: &str = "paid_date";
pub const REGION: &str = "region";
/// Set by cleaning: the line is a return or cancellation (negative amount).
pub const IS_RETURN: &str = "is_return";
/// Set by cleaning: why the row is left out, null when kept.
pub const DROP_REASON: &str = "drop_reason";
/// Set by loading: a 64-bit hash of every column of the input row, and the input file's index,
/// for the exact-duplicate check of the feature pass (duplicates are counted in every mode).
pub const ROW_FINGERPRINT: &str = "__row_fingerprint";
pub const FILE_INDEX: &str = "__file_index";

// customers.parquet
pub const RECENCY_DAYS: &str = "recency_days";
pub const FREQUENCY: &str = "frequency";
pub const PURCHASE_DAYS: &str = "purchase_days";
pub const MONETARY: &str = "monetary";
pub const GROSS_REVENUE: &str = "gross_revenue";
pub const RETURNED_VALUE: &str = "returned_value";
pub const RETURN_RATE: &str = "return_rate";
pub const AVG_ORDER_VALUE: &str = "avg_order_value";
pub const FIRST_PURCHASE: &str = "first_purchase";
pub const LAST_PURCHASE: &str = "last_purchase";
pub const TENURE_DAYS: &str = "tenure_days";
pub const MEAN_DAYS_BETWEEN: &str = "mean_days_between_purchases";
/// The mean value of the purchase days after the first (the Gamma-Gamma model's zbar).
pub const MEAN_REPEAT_VALUE: &str = "mean_repeat_value";
pub const PROFIT: &str = "profit";
pub const MARGIN: &str = "margin";
pub const INVOICES_DUE: &str = "invoices_due";
pub const ON_TIME_RATE: &str = "on_time_payment_rate";
pub const MEAN_DAYS_LATE: &str = "mean_days_late";
pub const OVERDUE_AMOUNT: &str = "overdue_amount";
pub const OVERDUE_INVOICES: &str = "overdue_invoices";
pub const OLDEST_OVERDUE_DAYS: &str = "oldest_overdue_days";
pub const MAIN_REGION: &str = "main_region";
/// Net revenue in the last `period_days` before as_of, and in the period before that.
pub const MONETARY_LAST_PERIOD: &str = "monetary_last_period";
pub const MONETARY_PREV_PERIOD: &str = "monetary_previous_period";

/// The columns of customers.parquet, in order, for the input columns present.
pub fn customer_columns(has_cost: bool, has_due: bool, has_region: bool) -> Vec<&'static str> {
    let mut order = vec![
        CUSTOMER_ID,
        RECENCY_DAYS,
        FREQUENCY,
        PURCHASE_DAYS,
        MONETARY,
        GROSS_REVENUE,
        RETURNED_VALUE,
        RETURN_RATE,
        AVG_ORDER_VALUE,
        FIRST_PURCHASE,
        LAST_PURCHASE,
        TENURE_DAYS,
        MEAN_DAYS_BETWEEN,
        MEAN_REPEAT_VALUE,
        MONETARY_LAST_PERIOD,
        MONETARY_PREV_PERIOD,
    ];
    if has_cost {
        order.extend([PROFIT, MARGIN]);
    }
    if has_due {
        order.extend([
            INVOICES_DUE,
            ON_TIME_RATE,
            MEAN_DAYS_LATE,
            OVERDUE_INVOICES,
            OVERDUE_AMOUNT,
            OLDEST_OVERDUE_DAYS,
        ]);
    }
    if has_region {
        order.push(MAIN_REGION);
    }
    order
}

// potential.parquet (after customer_id): the BG/NBD summary in the time unit, and the models'
// values per customer.
pub const POT_X: &str = "x";
pub const POT_T_X: &str = "t_x";
pub const POT_T: &str = "T";
pub const POT_ZBAR: &str = "zbar";
pub const P_ALIVE: &str = "p_alive";
pub const EXPECTED_PURCHASES: &str = "expected_purchases";
pub const EXPECTED_SPEND: &str = "expected_spend";
pub const CLV: &str = "clv";
/// Spend in the last period against the period before, as a rate.
pub const GROWTH: &str = "growth";
/// The columns of potential.parquet that grading and clustering may read, joined onto the
/// features table.
pub const POTENTIAL_GRADED: [&str; 5] = [P_ALIVE, EXPECTED_PURCHASES, EXPECTED_SPEND, CLV, GROWTH];

// potential_fits.parquet and potential_by_tier.parquet
pub const MODEL: &str = "model";
pub const PARAMETER: &str = "parameter";
pub const MEAN_P_ALIVE: &str = "mean_p_alive";
pub const MEAN_EXPECTED_PURCHASES: &str = "mean_expected_purchases";
pub const MEAN_CLV: &str = "mean_clv";
pub const TOTAL_CLV: &str = "total_clv";
pub const CLV_SHARE: &str = "clv_share";

// validation.parquet (tiering validate)
pub const CALIBRATION_REPEATS: &str = "calibration_repeat_purchases";
pub const PREDICTED: &str = "mean_predicted_purchases";
pub const ACTUAL: &str = "mean_actual_purchases";

// data_quality.parquet
pub const DQ_STEP: &str = "step";
pub const DQ_ROWS: &str = "rows";
pub const DQ_SHARE: &str = "share_of_read";
pub const DQ_ACTION: &str = "action";

// Shared by the summary tables (tier_summary, segment_summary, thresholds, cluster_profiles,
// comparison, migration).
pub const CUSTOMERS: &str = "customers";
pub const CUSTOMER_SHARE: &str = "customer_share";
pub const REVENUE: &str = "revenue";
pub const REVENUE_SHARE: &str = "revenue_share";
pub const PROFIT_SHARE: &str = "profit_share";

// tiers.parquet (grading), after the customers.parquet columns.
pub const R_SCORE: &str = "r_score";
pub const F_SCORE: &str = "f_score";
pub const M_SCORE: &str = "m_score";
pub const RFM_CODE: &str = "rfm_code";
pub const SEGMENT: &str = "segment";
pub const SCORE: &str = "score";
pub const TIER_BASE: &str = "tier_before_risk";
pub const RISK: &str = "risk_level";
pub const RISK_REASONS: &str = "risk_reasons";
pub const TIER: &str = "tier";
pub const TIER_RANK: &str = "tier_rank";
pub const DOWNGRADED: &str = "downgraded";
pub const REASON: &str = "reason";

// tier_summary.parquet and segment_summary.parquet (and their means in cluster_profiles)
pub const MEAN_RECENCY_DAYS: &str = "mean_recency_days";
pub const MEAN_FREQUENCY: &str = "mean_frequency";
pub const MEAN_MONETARY: &str = "mean_monetary";
pub const MEAN_SCORE: &str = "mean_score";
pub const CUSTOMERS_BEFORE_RISK: &str = "customers_before_risk";
pub const DOWNGRADED_INTO: &str = "downgraded_into";
/// Customers whose tier a `[[tiers.pin]]` set or capped.
pub const PINNED: &str = "pinned";

// attribute_summary.parquet: attribute, value, group (tier or segment), name, customers,
// customer_share, revenue, revenue_share.
pub const ATTRIBUTE: &str = "attribute";
pub const ATTRIBUTE_VALUE: &str = "value";

// rfm_thresholds.parquet
pub const DIMENSION: &str = "dimension";
pub const ABOVE: &str = "above";
pub const UP_TO: &str = "up_to";
pub const NOTE: &str = "note";

// alerts.parquet
pub const ALERT: &str = "alert";
pub const SEVERITY: &str = "severity";
pub const DETAIL: &str = "detail";

// clusters.parquet
pub const CLUSTER: &str = "cluster";
pub const CLUSTER_TIER: &str = "cluster_tier";
pub const DISTANCE: &str = "distance_to_centroid";

// k_selection.parquet
pub const K: &str = "k";
pub const INERTIA: &str = "inertia";
pub const SILHOUETTE: &str = "silhouette";
pub const CALINSKI_HARABASZ: &str = "calinski_harabasz";
pub const DAVIES_BOULDIN: &str = "davies_bouldin";
pub const CHOSEN: &str = "chosen";

// comparison.parquet, crosstab.parquet, group_profiles.parquet, disagreements.parquet
pub const METRIC: &str = "metric";
pub const VALUE: &str = "value";
pub const MEANING: &str = "meaning";
pub const SHARE_OF_TIER: &str = "share_of_tier";
pub const GAP: &str = "gap";
pub const DIRECTION: &str = "direction";
pub const GROUP: &str = "group";
pub const NAME: &str = "name";

// tier_history.parquet, migration.parquet, movements.parquet, stability.parquet
pub const AS_OF: &str = "as_of";
pub const FROM_AS_OF: &str = "from_as_of";
pub const TO_AS_OF: &str = "to_as_of";
pub const FROM_TIER: &str = "from_tier";
pub const TO_TIER: &str = "to_tier";
pub const CUSTOMERS_IN_BOTH: &str = "customers_in_both";
pub const KEPT_TIER: &str = "kept_tier";
pub const STABILITY: &str = "stability";
pub const UPGRADES: &str = "upgrades";
pub const DOWNGRADES: &str = "downgrades";
pub const NEW_CUSTOMERS: &str = "new";
pub const LEFT_CUSTOMERS: &str = "left";
