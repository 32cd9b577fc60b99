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
/// Set by loading with `duplicates = "drop"`: a 64-bit hash of every column of the input row,
/// and the input file's index, for the duplicate check of the feature pass.
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

// data_quality.parquet
pub const DQ_STEP: &str = "step";
pub const DQ_ROWS: &str = "rows";
pub const DQ_SHARE: &str = "share_of_read";
pub const DQ_ACTION: &str = "action";
