//! The features in one streaming pass. The polars streaming engine reads, normalises and marks
//! the input in batches (each row's first row-rule reason, see `crate::clean`) and hands
//! them, in input order, to `Fold`, which counts rows per (reason, return flag, day) for the
//! quality account and `as_of`, and keeps, for the rows kept:
//! - per customer: sums over lines (revenue, returns, periods, profit, rows) and, per region,
//!   purchase revenue;
//! - per (customer, invoice): the amount, the earliest purchase day, the earliest due date and
//!   the latest paid date, which is all that frequency, purchase days and payments need.
//!
//! Counting and the duplicate check go through each batch in input order. The rows kept are
//! then folded by [`SHARDS`] shards side by side: customers are split by the hash of their
//! ID, and each shard goes through its own customers' rows in input order. The shard count is
//! a constant, so the output does not depend on the number of cores. In a shard, customer IDs
//! are interned to dense `u32` indices (short IDs sit in their hash slot). An invoice is
//! logged as runs of consecutive lines of the shard (lines of other shards' customers in
//! between do not end a run), split by customer into parts that are merged and turned into
//! per-customer figures, in parallel, once the input is read: no hash table the size of all
//! invoices is probed per line. Memory is a few dozen bytes per invoice and per customer,
//! whatever the number of lines. Batches arrive in input order, so sums are added in the same
//! order on every run and the output is identical run to run. `super::reference` states the
//! same formulas as polars expressions; the tests hold the two against each other.

use std::hash::BuildHasher;
use std::sync::{Arc, Mutex};

use anyhow::{anyhow, Result};
use chrono::NaiveDate;
use foldhash::fast::FixedState;
use hashbrown::hash_table::Entry;
use hashbrown::{HashMap, HashTable};
use polars::prelude::*;
use rayon::prelude::*;

use super::{round_sum, FeatureParams, Features};
use crate::clean::{
    epoch_days, latest_day, mark_transactions, settle, CleanParams, DayCounts, DayKey, QualityRow,
};
use crate::columns as c;
use crate::config::{DropKeepError, DropOrKeep};
use crate::par::{build_columns, ColumnJob};

/// "No value yet" for running minimums and maximums of day numbers.
const NO_MIN: i32 = i32::MAX;
const NO_MAX: i32 = i32::MIN;

const DAY: &str = "__day";
const DUE: &str = "__due";
const PAID: &str = "__paid";

/// Keys up to this many bytes are also kept in their hash-table slot, so a lookup costs one
/// cache miss (the slot) instead of three (slot, key offsets, key bytes).
const INLINE: usize = 19;
/// `Slot::len` of a longer key, compared in the arena.
const LONG: u8 = u8::MAX;

/// One hash-table entry: the key's hash (so growing the table never reads keys), its index
/// and, when short, the key itself zero-padded.
#[derive(Clone, Copy)]
struct Slot {
    hash: u64,
    index: u32,
    len: u8,
    inline: [u8; INLINE],
}

/// Key `i` of an interner's arena.
fn key_of<'a>(ends: &[u64], bytes: &'a [u8], i: u32) -> &'a [u8] {
    let i = i as usize;
    let start = if i == 0 { 0 } else { ends[i - 1] as usize };
    &bytes[start..ends[i] as usize]
}

/// The seed of the interners' hash: fixed, so the same input gives the same shards and
/// indices, and so the same output.
const KEY_SEED: u64 = 0x7469_6572;

/// Byte strings to dense indices `0..len`, all keys back to back in `bytes` (key `i` ends at
/// `ends[i]`); short keys are also in their slot.
struct Interner {
    table: HashTable<Slot>,
    ends: Vec<u64>,
    bytes: Vec<u8>,
    hasher: FixedState,
}

impl Interner {
    fn new() -> Self {
        Interner {
            table: HashTable::new(),
            ends: Vec::new(),
            bytes: Vec::new(),
            // A fixed seed: the same input gives the same indices, and so the same output.
            hasher: FixedState::with_seed(KEY_SEED),
        }
    }

    /// Key `i`.
    fn key(&self, i: u32) -> &[u8] {
        key_of(&self.ends, &self.bytes, i)
    }

    /// The index of `key`, and whether it is new.
    fn intern(&mut self, key: &[u8]) -> (u32, bool) {
        self.intern_hashed(key, self.hasher.hash_one(key))
    }

    /// [`Interner::intern`] with the key's hash, `self.hasher.hash_one(key)`, at hand.
    fn intern_hashed(&mut self, key: &[u8], hash: u64) -> (u32, bool) {
        debug_assert_eq!(hash, self.hasher.hash_one(key));
        let short = key.len() <= INLINE;
        let mut padded = [0u8; INLINE];
        if short {
            padded[..key.len()].copy_from_slice(key);
        }
        let Interner {
            table, ends, bytes, ..
        } = self;
        // Short keys compare whole padded arrays (a fixed-size compare, no call); long ones
        // compare in the arena.
        let holds = |s: &Slot| {
            s.hash == hash
                && if short {
                    s.len as usize == key.len() && s.inline == padded
                } else {
                    s.len == LONG && key_of(ends, bytes, s.index) == key
                }
        };
        match table.entry(hash, holds, |s| s.hash) {
            Entry::Occupied(e) => (e.get().index, false),
            Entry::Vacant(v) => {
                let index = ends.len() as u32;
                bytes.extend_from_slice(key);
                ends.push(bytes.len() as u64);
                v.insert(Slot {
                    hash,
                    index,
                    len: if short { key.len() as u8 } else { LONG },
                    inline: padded,
                });
                (index, true)
            }
        }
    }
}

/// The exact-duplicate check of `duplicates = "drop"`. Lines equal in every column have the
/// same invoice number, so a duplicate is looked for only among the lines of the invoice at
/// hand: the block of consecutive lines of one file with its number (without an invoice
/// column, with the same day: files without invoices are mostly in time order, and a
/// customer's lines of a day may lie among others'). Files list an invoice's lines together;
/// an invoice whose lines are split over several blocks is checked block by block.
#[derive(Default)]
struct DuplicateCheck {
    /// Whether duplicates are dropped (`duplicates = "drop"`) or only counted.
    drop: bool,
    /// The block key of the last line of the previous batch (see [`block_key`]).
    last_key: Option<Vec<u8>>,
    /// Fingerprints of the block's lines so far; past [`SEEN_LIST`] also in `set`.
    seen: Vec<u64>,
    set: Option<hashbrown::HashSet<u64, FixedState>>,
    /// Lines dropped, per input file.
    per_file: Vec<u64>,
}

/// Blocks up to this many lines are searched as a list, longer ones through a hash set.
const SEEN_LIST: usize = 32;

impl DuplicateCheck {
    fn new_block(&mut self) {
        self.seen.clear();
        self.set = None;
    }

    /// Whether a line with this fingerprint came earlier in the block; remembers it if not.
    fn repeats(&mut self, fingerprint: u64) -> bool {
        if let Some(set) = &mut self.set {
            return !set.insert(fingerprint);
        }
        if self.seen.contains(&fingerprint) {
            return true;
        }
        self.seen.push(fingerprint);
        if self.seen.len() > SEEN_LIST {
            let mut set = hashbrown::HashSet::with_hasher(FixedState::with_seed(3));
            set.extend(self.seen.iter().copied());
            self.set = Some(set);
        }
        false
    }

    fn count(&mut self, file: usize) {
        if self.per_file.len() <= file {
            self.per_file.resize(file + 1, 0);
        }
        self.per_file[file] += 1;
    }

    /// Whether a line of `block` with this fingerprint came earlier in its block, counting
    /// it if so. `prev` is the block of the batch's line before (`None` for the batch's first
    /// line, which is compared with the previous batch's last).
    #[inline]
    fn repeats_line(
        &mut self,
        prev: Option<Block>,
        block: Block,
        has_invoice: bool,
        fingerprint: u64,
    ) -> bool {
        let same_block = match prev {
            Some(p) => p.same(&block),
            None => self.last_key.as_ref() == Some(&block.key(has_invoice)),
        };
        if !same_block {
            self.new_block();
        }
        let repeats = self.repeats(fingerprint);
        if repeats {
            self.count(block.file.unwrap_or(0) as usize);
        }
        repeats
    }
}

/// What identifies a line's block, for comparing across batches: the file, and the invoice
/// number or (`invoice` is `None`) the day; missing values as their own marker byte.
fn block_key(file: Option<u32>, invoice: Option<Option<&str>>, day: Option<i32>) -> Vec<u8> {
    let mut key = file.unwrap_or(u32::MAX).to_le_bytes().to_vec();
    match invoice {
        Some(number) => push_text(&mut key, number),
        None => match day {
            Some(d) => {
                key.push(1);
                key.extend_from_slice(&d.to_le_bytes());
            }
            None => key.push(0),
        },
    }
    key
}

fn push_text(key: &mut Vec<u8>, text: Option<&str>) {
    match text {
        Some(t) => {
            key.push(1);
            key.extend_from_slice(&(t.len() as u64).to_le_bytes());
            key.extend_from_slice(t.as_bytes());
        }
        None => key.push(0),
    }
}

/// Whether two optional text values are equal (see [`same_text`]).
#[inline]
fn same_opt_text(a: Option<Text>, b: Option<Text>) -> bool {
    match (a, b) {
        (Some(a), Some(b)) => same_text(a, b),
        (a, b) => a.is_none() && b.is_none(),
    }
}

/// A line's block for the duplicate check (see [`DuplicateCheck`]) as read in a batch: its
/// file and its invoice number or, without an invoice column, its day.
#[derive(Clone, Copy)]
struct Block<'a> {
    file: Option<u32>,
    invoice: Option<Text<'a>>,
    day: Option<i32>,
}

impl<'a> Block<'a> {
    #[inline]
    fn at(b: &Batch<'a>, i: usize, has_invoice: bool) -> Self {
        let file = b.file.and_then(|f| f.get(i));
        if has_invoice {
            Block {
                file,
                invoice: b.invoice.and_then(|a| text_at(a, i)),
                day: None,
            }
        } else {
            Block {
                file,
                invoice: None,
                day: b.day.get(i),
            }
        }
    }

    /// Whether two lines of one batch are in the same block, their text compared by views.
    #[inline]
    fn same(&self, other: &Block) -> bool {
        self.file == other.file
            && same_opt_text(self.invoice, other.invoice)
            && self.day == other.day
    }

    /// The block's [`block_key`], to compare with the next batch's first line.
    fn key(&self, has_invoice: bool) -> Vec<u8> {
        let invoice = has_invoice.then_some(self.invoice.map(|t| t.1));
        block_key(self.file, invoice, self.day)
    }
}

/// `CustomerSums::region` of a customer without a region yet.
const NO_REGION: u32 = u32::MAX;

/// Sums over a customer's lines.
#[derive(Clone)]
struct CustomerSums {
    monetary: f64,
    gross: f64,
    returned: f64,
    last_period: f64,
    prev_period: f64,
    profit: f64,
    rows: u64,
    returns: u64,
    /// The first region the customer bought in, and the purchase revenue there; other
    /// regions go to `Shard::region_revenue`. Most customers have one region, and this line
    /// of memory is at hand already.
    region: u32,
    region_revenue: f64,
}

impl Default for CustomerSums {
    fn default() -> Self {
        CustomerSums {
            monetary: 0.0,
            gross: 0.0,
            returned: 0.0,
            last_period: 0.0,
            prev_period: 0.0,
            profit: 0.0,
            rows: 0,
            returns: 0,
            region: NO_REGION,
            region_revenue: 0.0,
        }
    }
}

/// One (customer, invoice): the amount, the earliest purchase line's day, the earliest due
/// and the latest paid date.
#[derive(Clone)]
struct Invoice {
    customer: u32,
    day: i32,
    due: i32,
    paid: i32,
    amount: f64,
}

impl Invoice {
    /// Folds a later part of the same invoice into this one.
    fn absorb(&mut self, later: &Invoice) {
        self.amount += later.amount;
        self.day = self.day.min(later.day);
        self.due = self.due.min(later.due);
        self.paid = self.paid.max(later.paid);
    }
}

/// A run of consecutive lines of one (customer, invoice), with the key of its invoice number
/// (or day, without an invoice column; see [`invoice_key`]).
struct Run {
    invoice: Invoice,
    key: u64,
}

/// Invoice runs of the customers of one part (see [`part_of`]), in input order.
#[derive(Default)]
struct RunPart {
    runs: Vec<Run>,
}

/// The number of parts of a shard's invoice log, as bits (see [`part_of`]): 8 shards of 32
/// parts.
const PART_BITS: u32 = 5;

/// Customers are split into this many shards by the hash of their ID, and a batch is folded
/// by the shards side by side, one thread each. A constant, not the core count, so that the
/// output does not depend on the machine.
const SHARD_BITS: u32 = 3;
const SHARDS: usize = 1 << SHARD_BITS;

/// The shard of a customer ID with this hash: bits that neither the hash table's bucket index
/// (the low bits) nor its tag (the top seven) use, so each shard's table stays well spread.
fn shard_of(hash: u64) -> usize {
    (hash >> 40) as usize & (SHARDS - 1)
}

/// The part of the invoice log a customer's runs go to. All of a customer's invoices land in
/// one part, so a part can be folded into per-customer figures on its own.
fn part_of(customer: u32) -> usize {
    ((customer as u64).wrapping_mul(0x9e37_79b9_7f4a_7c15) >> (64 - PART_BITS)) as usize
}

/// Per customer, what its invoices give.
#[derive(Clone, Copy)]
struct InvoiceFigures {
    frequency: u32,
    purchase_days: u32,
    first: i32,
    last: i32,
    invoices_due: u32,
    on_time: u32,
    late_n: u32,
    overdue_n: u32,
    oldest: i32,
    late_sum: f64,
    overdue_amount: f64,
    /// The value of the purchase days after the first: the invoices dated after it.
    repeat_value: f64,
}

impl Default for InvoiceFigures {
    fn default() -> Self {
        InvoiceFigures {
            frequency: 0,
            purchase_days: 0,
            first: NO_MIN,
            last: NO_MAX,
            invoices_due: 0,
            on_time: 0,
            late_n: 0,
            overdue_n: 0,
            oldest: 0,
            late_sum: 0.0,
            overdue_amount: 0.0,
            repeat_value: 0.0,
        }
    }
}

/// The key an invoice number is told apart by among its customer's invoices: a number of up
/// to 7 bytes is itself (its bytes, and its length in the top byte); a longer one is a 63-bit
/// hash of it (foldhash's quality variant, which mixes its output fully) with the top bit
/// set. Two longer numbers of one customer share a key with a chance of about n^2 / 2^64 for
/// its n invoices (one in 10^7 for a customer with a million invoices). A key instead of the number's bytes saves the log a dozen bytes per run: 0.5 GB
/// at 100 M lines. Written here because it packs the short numbers no hash map crate would.
fn invoice_key(number: &[u8]) -> u64 {
    const KEYS: foldhash::quality::FixedState = foldhash::quality::FixedState::with_seed(4);
    match number.len() {
        len @ 0..=7 => {
            let mut bytes = [0u8; 8];
            bytes[..len].copy_from_slice(number);
            bytes[7] = len as u8;
            u64::from_le_bytes(bytes)
        }
        _ => KEYS.hash_one(number) | 1 << 63,
    }
}

impl RunPart {
    /// The invoices of this part, each the runs of one key folded in input order.
    fn merge(self, hasher: &FixedState) -> Vec<Invoice> {
        // (hash, customer, invoice key, merged invoice).
        let mut table: HashTable<(u64, u32, u64, u32)> = HashTable::with_capacity(self.runs.len());
        let mut out: Vec<Invoice> = Vec::with_capacity(self.runs.len());
        for r in &self.runs {
            let customer = r.invoice.customer;
            let hash = hasher.hash_one((customer, r.key));
            match table.entry(
                hash,
                |&(h, c, k, _)| h == hash && c == customer && k == r.key,
                |&(h, ..)| h,
            ) {
                Entry::Occupied(e) => out[e.get().3 as usize].absorb(&r.invoice),
                Entry::Vacant(v) => {
                    v.insert((hash, customer, r.key, out.len() as u32));
                    out.push(r.invoice.clone());
                }
            }
        }
        out
    }

    /// The figures of this part's customers, from their merged invoices.
    fn figures(self, hasher: &FixedState, as_of: i32, has_due: bool) -> Vec<(u32, InvoiceFigures)> {
        let invoices = self.merge(hasher);
        let mut local: HashMap<u32, u32, FixedState> =
            HashMap::with_hasher(FixedState::with_seed(3));
        let mut out: Vec<(u32, InvoiceFigures)> = Vec::new();
        // Per customer of `out`, the value of the invoices dated on its first purchase day so
        // far: needed while the part is folded only, so not kept in the figures.
        let mut first_value: Vec<f64> = Vec::new();
        // (customer's place in `out`, day) of every invoice with a purchase.
        let mut days: Vec<(u32, i32)> = Vec::with_capacity(invoices.len());
        for v in &invoices {
            let k = *local.entry(v.customer).or_insert_with(|| {
                out.push((v.customer, InvoiceFigures::default()));
                first_value.push(0.0);
                out.len() as u32 - 1
            });
            let f = &mut out[k as usize].1;
            if v.day != NO_MIN {
                f.frequency += 1;
                // An earlier first day makes the old one a repeat day.
                let first = &mut first_value[k as usize];
                if v.day < f.first {
                    f.repeat_value += *first;
                    *first = v.amount;
                } else if v.day == f.first {
                    *first += v.amount;
                } else {
                    f.repeat_value += v.amount;
                }
                f.first = f.first.min(v.day);
                f.last = f.last.max(v.day);
                days.push((k, v.day));
            }
            // Payments: invoices with a positive amount. A payment dated on or after as_of
            // is not known yet at as_of.
            if !has_due || v.amount <= 0.0 {
                continue;
            }
            let paid = (v.paid != NO_MAX && v.paid < as_of).then_some(v.paid);
            let due = (v.due != NO_MIN).then_some(v.due);
            let due_passed = due.is_some_and(|d| d < as_of);
            if paid.is_some() || due_passed {
                f.invoices_due += 1;
            }
            if let Some(p) = paid {
                if due.is_some_and(|d| p <= d) {
                    f.on_time += 1;
                }
                f.late_sum += match due {
                    Some(d) if p > d => (p - d) as f64,
                    _ => 0.0,
                };
                f.late_n += 1;
            } else if let (true, Some(d)) = (due_passed, due) {
                f.overdue_n += 1;
                f.overdue_amount += v.amount;
                f.oldest = f.oldest.max(as_of - d);
            }
        }
        drop(invoices);
        days.sort_unstable();
        days.dedup();
        for (k, _) in &days {
            out[*k as usize].1.purchase_days += 1;
        }
        out
    }
}

/// The state of the pass.
struct Fold {
    /// The snapshots folded, ascending: each one's window of days.
    windows: Vec<Window>,
    /// Rows dated in `[fold_from, fold_to)` are folded: every window lies inside.
    fold_from: Option<i32>,
    fold_to: i32,
    has_invoice: bool,
    has_cost: bool,
    has_due: bool,
    has_region: bool,
    /// Rows per (row-rule reason code, return flag, day), every row of the input.
    counts: HashMap<DayKey, u64, FixedState>,
    /// Hashes customer IDs (the hash picks the shard, and the shard's table reuses it) and
    /// invoice keys when runs are merged.
    hasher: FixedState,
    shards: Vec<Shard>,
    /// Per shard, the batch's rows to fold there: (row, hash of the customer ID). Kept
    /// between batches for its capacity.
    rows: Vec<Vec<(u32, u64)>>,
    /// The exact-duplicate check, when the rows carry fingerprints.
    duplicates: Option<DuplicateCheck>,
}

/// The customers whose IDs hash to one shard (see [`shard_of`]): their IDs and region names,
/// interned once, and what each snapshot keeps of them.
struct Shard {
    customers: Interner,
    regions: Interner,
    /// One per snapshot, in the order of `Fold::windows`.
    views: Vec<View>,
}

/// What one snapshot keeps per customer of a shard: the lines in its window, folded. Indices
/// are the view's own.
struct View {
    w: Window,
    /// The shard's customer index -> the view's, [`NOT_SEEN`] before the customer's first line
    /// in the window. `None` when the pass folds one snapshot: every line folded is in its
    /// window, so the two indices are the same.
    local: Option<Vec<u32>>,
    /// The view's customer index -> the shard's, with `local`.
    global: Vec<u32>,
    sums: Vec<CustomerSums>,
    /// Invoice runs, split by customer (see [`part_of`]) so that merging the runs of one
    /// invoice works on one cache-sized part at a time (and the parts in parallel) instead of
    /// probing one table the size of all invoices for every run.
    parts: Vec<RunPart>,
    /// Purchase revenue per (customer, region) beyond the customer's first region, keyed
    /// `customer << 32 | region`.
    region_revenue: HashMap<u64, f64, FixedState>,
    /// The run of lines with the same (customer, region) not yet added to `region_revenue`.
    pending_region: Option<(u64, f64)>,
}

/// `View::local` of a customer the view has no line of yet.
const NOT_SEEN: u32 = u32::MAX;

type TextArray = <StringType as PolarsDataType>::Array;
type DayArray = <Int32Type as PolarsDataType>::Array;
type CodeArray = <Int32Type as PolarsDataType>::Array;
type FloatArray = <Float64Type as PolarsDataType>::Array;
type FlagArray = <BooleanType as PolarsDataType>::Array;
type FingerprintArray = <UInt64Type as PolarsDataType>::Array;
type FileArray = <UInt32Type as PolarsDataType>::Array;

/// The columns of one batch, each one array.
struct Batch<'a> {
    customer: &'a TextArray,
    day: &'a DayArray,
    amount: &'a FloatArray,
    is_return: &'a FlagArray,
    invoice: Option<&'a TextArray>,
    cost: Option<&'a FloatArray>,
    due: Option<&'a DayArray>,
    paid: Option<&'a DayArray>,
    region: Option<&'a TextArray>,
    /// Read by the counting and the duplicate check only, not by the shards.
    reason: &'a CodeArray,
    fingerprint: Option<&'a FingerprintArray>,
    file: Option<&'a FileArray>,
}

/// The columns of one batch, each rechunked into one contiguous array: read by index, much
/// faster than chunked iterators.
struct BatchColumns {
    reason: Series,
    customer: Series,
    day: Series,
    amount: Series,
    is_return: Series,
    invoice: Option<Series>,
    cost: Option<Series>,
    due: Option<Series>,
    paid: Option<Series>,
    region: Option<Series>,
    fingerprint: Option<Series>,
    file: Option<Series>,
}

impl BatchColumns {
    fn read(df: &DataFrame) -> PolarsResult<Self> {
        let series = |name: &str| -> Option<Series> {
            df.column(name)
                .ok()
                .map(|c| c.as_materialized_series().rechunk())
        };
        let need = |name: &str| series(name).ok_or_else(|| polars_err!(ColumnNotFound: "{name}"));
        Ok(BatchColumns {
            reason: need(c::DROP_REASON)?,
            customer: need(c::CUSTOMER_ID)?,
            day: need(DAY)?,
            amount: need(c::AMOUNT)?,
            is_return: need(c::IS_RETURN)?,
            invoice: series(c::INVOICE_ID),
            cost: series(c::COST),
            due: series(DUE),
            paid: series(PAID),
            region: series(c::REGION),
            fingerprint: series(c::ROW_FINGERPRINT),
            file: series(c::FILE_INDEX),
        })
    }

    fn arrays(&self) -> PolarsResult<Batch<'_>> {
        Ok(Batch {
            customer: self.customer.str()?.downcast_as_array(),
            day: self.day.i32()?.downcast_as_array(),
            amount: self.amount.f64()?.downcast_as_array(),
            is_return: self.is_return.bool()?.downcast_as_array(),
            invoice: array_of::<StringType>(&self.invoice)?,
            cost: array_of::<Float64Type>(&self.cost)?,
            due: array_of::<Int32Type>(&self.due)?,
            paid: array_of::<Int32Type>(&self.paid)?,
            region: array_of::<StringType>(&self.region)?,
            reason: self.reason.i32()?.downcast_as_array(),
            fingerprint: array_of::<UInt64Type>(&self.fingerprint)?,
            file: array_of::<UInt32Type>(&self.file)?,
        })
    }
}

/// A snapshot's window of days: lines dated in `[start, as_of)` are folded into it.
#[derive(Clone, Copy)]
struct Window {
    as_of: i32,
    /// The first day of the lookback window, if any.
    start: Option<i32>,
    /// The first days of the last and of the previous period.
    last_from: i32,
    prev_from: i32,
    has_invoice: bool,
    /// Lines of value 0 that are not returns date their invoice (see `FeatureParams`).
    zero_value_purchases: bool,
}

impl Window {
    #[inline]
    fn holds(&self, day: i32) -> bool {
        day < self.as_of && self.start.is_none_or(|s| day >= s)
    }
}

impl Fold {
    /// A pass that folds a snapshot per `(as_of, start)` of `windows`, ascending.
    fn new(windows: &[(i32, Option<i32>)], schema: &Schema, o: FoldOptions) -> Self {
        let (period, drop_duplicates) = (o.period_days as i32, o.drop_duplicates);
        let has = |n: &str| schema.get(n).is_some();
        let has_invoice = has(c::INVOICE_ID);
        let windows: Vec<Window> = windows
            .iter()
            .map(|&(as_of, start)| Window {
                as_of,
                start,
                last_from: as_of - period,
                prev_from: as_of - 2 * period,
                has_invoice,
                zero_value_purchases: o.zero_value_purchases,
            })
            .collect();
        let fold_to = windows.iter().map(|w| w.as_of).max().unwrap_or(i32::MIN);
        // Without a lookback a window has no first day, and neither has the pass.
        let fold_from = windows.iter().map(|w| w.start).min().unwrap_or(None);
        let single = windows.len() == 1;
        Fold {
            fold_from,
            fold_to,
            shards: (0..SHARDS).map(|_| Shard::new(&windows, single)).collect(),
            windows,
            has_invoice,
            has_cost: has(c::COST),
            has_due: has(c::DUE_DATE),
            has_region: has(c::REGION),
            counts: HashMap::with_hasher(FixedState::with_seed(2)),
            // The interners' hasher, so that a customer's hash is its key's in the table.
            hasher: FixedState::with_seed(KEY_SEED),
            rows: vec![Vec::new(); SHARDS],
            duplicates: has(c::ROW_FINGERPRINT).then(|| DuplicateCheck {
                drop: drop_duplicates,
                ..Default::default()
            }),
        }
    }

    /// Exact duplicate lines dropped, per input file (empty without the check).
    fn duplicates_per_file(&self) -> &[u64] {
        self.duplicates.as_ref().map_or(&[], |d| &d.per_file)
    }

    /// Counts every row of a batch and checks it for duplicates, in input order, then folds
    /// the rows kept, each shard its customers' rows, side by side. The loop runs once per
    /// input row: the steps it calls are `#[inline]`, so it stays one pass over the arrays.
    fn add_batch(&mut self, df: &DataFrame) -> PolarsResult<()> {
        let columns = BatchColumns::read(df)?;
        let b = columns.arrays()?;
        let (customer, day, has_invoice) = (b.customer, b.day, self.has_invoice);
        // The block of the previous line of this batch, its text compared by views.
        let mut prev_block: Option<Block> = None;
        // Lines of one customer are usually next to each other: the last ID's hash is
        // remembered. Text is compared by its 16-byte views first (see `same_text`).
        let mut last_customer: Option<(Text, u64)> = None;
        // Rows of one (reason, return flag, day) usually come together: counted as runs.
        let mut count: Option<(DayKey, u64)> = None;
        for rows in &mut self.rows {
            rows.clear();
        }
        for i in 0..df.height() {
            if let (Some(check), Some(fingerprint)) = (&mut self.duplicates, b.fingerprint) {
                // Duplicates go first, before any rule: they are not counted again.
                let block = Block::at(&b, i, has_invoice);
                let prev = prev_block.replace(block);
                let fingerprint = fingerprint.get(i).unwrap_or(0);
                if check.repeats_line(prev, block, has_invoice, fingerprint) && check.drop {
                    continue;
                }
            }
            let code = b.reason.get(i).unwrap_or(0) as u8;
            let ret = b.is_return.get(i) == Some(true);
            let key = (code, ret, day.get(i));
            match &mut count {
                Some((k, n)) if *k == key => *n += 1,
                run => {
                    if let Some((k, n)) = run.replace((key, 1)) {
                        *self.counts.entry(k).or_insert(0) += n;
                    }
                }
            }
            if code != 0 {
                continue;
            }
            // The row rules drop rows without these.
            let (Some(id), Some(day), true) =
                (text_at(customer, i), day.get(i), b.amount.get(i).is_some())
            else {
                continue;
            };
            if day >= self.fold_to || self.fold_from.is_some_and(|s| day < s) {
                continue;
            }
            let hash = match last_customer {
                Some((prev, h)) if same_text(prev, id) => h,
                _ => {
                    let h = self.hasher.hash_one(id.1.as_bytes());
                    last_customer = Some((id, h));
                    h
                }
            };
            self.rows[shard_of(hash)].push((i as u32, hash));
        }
        if let Some((k, n)) = count {
            *self.counts.entry(k).or_insert(0) += n;
        }
        if let (Some(check), Some(block)) = (&mut self.duplicates, prev_block) {
            check.last_key = Some(block.key(has_invoice));
        }
        self.shards
            .par_iter_mut()
            .zip(&self.rows)
            .try_for_each(|(shard, rows)| shard.add_rows(&b, rows))
    }
}

impl View {
    fn new(w: Window, single: bool) -> Self {
        View {
            w,
            local: (!single).then(Vec::new),
            global: Vec::new(),
            sums: Vec::new(),
            parts: (0..1 << PART_BITS).map(|_| RunPart::default()).collect(),
            region_revenue: HashMap::with_hasher(FixedState::with_seed(1)),
            pending_region: None,
        }
    }

    /// Each customer's main region: the most purchase revenue, ties to the first name, as
    /// (index in `regions`, revenue).
    fn main_regions(&mut self, regions: &Interner) -> Vec<Option<(u32, f64)>> {
        if let Some((k, sum)) = self.pending_region.take() {
            *self.region_revenue.entry(k).or_insert(0.0) += sum;
        }
        let name = |r: u32| regions.key(r);
        let mut main: Vec<Option<(u32, f64)>> = self
            .sums
            .iter()
            .map(|s| (s.region != NO_REGION).then_some((s.region, s.region_revenue)))
            .collect();
        for (key, revenue) in &self.region_revenue {
            let (k, r) = ((key >> 32) as usize, (key & 0xffff_ffff) as u32);
            let better = match main[k] {
                None => true,
                Some((br, bv)) => *revenue > bv || (*revenue == bv && name(r) < name(br)),
            };
            if better {
                main[k] = Some((r, *revenue));
            }
        }
        main
    }

    /// The view's index of the shard's customer `cust`, a new one at the customer's first
    /// line in the view.
    #[inline]
    fn customer(&mut self, cust: u32) -> u32 {
        let Some(local) = &mut self.local else {
            // One snapshot: the shard's indices, new ones in order.
            if cust as usize >= self.sums.len() {
                self.sums.resize(cust as usize + 1, CustomerSums::default());
            }
            return cust;
        };
        if local.len() <= cust as usize {
            local.resize(cust as usize + 1, NOT_SEEN);
        }
        let k = &mut local[cust as usize];
        if *k == NOT_SEEN {
            *k = self.sums.len() as u32;
            self.global.push(cust);
            self.sums.push(CustomerSums::default());
        }
        *k
    }

    /// The shard's index of the view's customer `k`.
    #[inline]
    fn shard_index(&self, k: u32) -> u32 {
        match self.local {
            None => k,
            Some(_) => self.global[k as usize],
        }
    }

    /// Folds row `i` of a batch, a line of the shard's customer `cust` in the view's window:
    /// its sums, its invoice run (`last_run`, the view's run of the shard's previous line in
    /// the window) and, for a purchase with region `region`, its region's revenue.
    #[inline]
    #[allow(clippy::too_many_arguments)]
    fn add_line<'a>(
        &mut self,
        b: &Batch<'a>,
        i: usize,
        cust: u32,
        (day, amount): (i32, f64),
        number: Option<Text<'a>>,
        region: Option<u32>,
        last_run: &mut Option<OpenRun<'a>>,
    ) -> PolarsResult<()> {
        let w = self.w;
        let cust = self.customer(cust);
        self.sums[cust as usize].add_line(b, i, day, amount, w);

        // Without an invoice column a customer's day is the invoice.
        let day_key = if w.has_invoice { 0 } else { day };
        let run = match *last_run {
            Some(r)
                if r.customer == cust && r.day == day_key && same_opt_text(r.number, number) =>
            {
                r
            }
            _ => {
                let (part, run) = self.start_run(cust, number, day, w.has_invoice);
                let r = OpenRun {
                    customer: cust,
                    number,
                    day: day_key,
                    part,
                    run,
                };
                *last_run = Some(r);
                r
            }
        };
        self.parts[run.part].runs[run.run].invoice.add_line(
            b,
            i,
            day,
            amount,
            w.zero_value_purchases,
        );
        if let Some(r) = region {
            self.add_region_revenue(cust, r, amount);
        }
        Ok(())
    }

    /// Logs a new run for a line of `customer` with this invoice number (or day), in the
    /// customer's part; gives (part, run).
    fn start_run(
        &mut self,
        customer: u32,
        number: Option<Text>,
        day: i32,
        has_invoice: bool,
    ) -> (usize, usize) {
        // A missing invoice number is one (null) invoice, as in a group-by; 0xff never
        // occurs in UTF-8, so it cannot meet a real number.
        let day_bytes = day.to_le_bytes();
        let number: &[u8] = match number {
            Some((_, number)) => number.as_bytes(),
            None if has_invoice => &[0xff],
            None => &day_bytes,
        };
        let part = part_of(customer);
        let p = &mut self.parts[part];
        p.runs.push(Run {
            invoice: Invoice {
                customer,
                day: NO_MIN,
                due: NO_MIN,
                paid: NO_MAX,
                amount: 0.0,
            },
            key: invoice_key(number),
        });
        (part, p.runs.len() - 1)
    }

    /// Adds a purchase's revenue to its customer's revenue in region `r`: the first region
    /// in the customer's sums, others through `pending_region` into `region_revenue`.
    #[inline]
    fn add_region_revenue(&mut self, customer: u32, r: u32, amount: f64) {
        let s = &mut self.sums[customer as usize];
        if s.region == r {
            s.region_revenue += amount;
            return;
        }
        if s.region == NO_REGION {
            s.region = r;
            s.region_revenue = amount;
            return;
        }
        let key = ((customer as u64) << 32) | r as u64;
        match &mut self.pending_region {
            Some((k, sum)) if *k == key => *sum += amount,
            pending => {
                if let Some((k, sum)) = pending.replace((key, amount)) {
                    *self.region_revenue.entry(k).or_insert(0.0) += sum;
                }
            }
        }
    }
}

impl Shard {
    fn new(windows: &[Window], single: bool) -> Self {
        Shard {
            customers: Interner::new(),
            regions: Interner::new(),
            views: windows.iter().map(|w| View::new(*w, single)).collect(),
        }
    }

    /// Folds rows of a batch, in input order: (row, hash of its customer ID), every row kept
    /// and with a customer, day and amount, into the views whose window holds it. The loop
    /// runs once per row kept: the per-line steps are `#[inline]`; only a new run (a new
    /// invoice) calls out, to `start_run`.
    fn add_rows(&mut self, b: &Batch, rows: &[(u32, u64)]) -> PolarsResult<()> {
        // Lines of one invoice (and one customer) are usually next to each other: the last
        // lookups are remembered, which saves most hash-table probes. Each view has its own
        // last run: the run of the shard's previous line in its window.
        let mut last_customer: Option<(u64, Text, u32)> = None;
        let mut last_runs: Vec<Option<OpenRun>> = vec![None; self.views.len()];
        let mut last_region: Option<(Text, u32)> = None;
        for &(i, hash) in rows {
            let i = i as usize;
            let (Some(id), Some(day), Some(amount)) =
                (text_at(b.customer, i), b.day.get(i), b.amount.get(i))
            else {
                continue;
            };
            let cust = match last_customer {
                Some((h, prev, k)) if h == hash && same_text(prev, id) => k,
                _ => {
                    let (k, _) = self.customers.intern_hashed(id.1.as_bytes(), hash);
                    last_customer = Some((hash, id, k));
                    k
                }
            };
            let number = b.invoice.and_then(|a| text_at(a, i));
            let region = match (amount > 0.0, b.region.and_then(|a| text_at(a, i))) {
                (true, Some(r)) => Some(match last_region {
                    Some((prev, k)) if same_text(prev, r) => k,
                    _ => {
                        let (k, _) = self.regions.intern(r.1.as_bytes());
                        last_region = Some((r, k));
                        k
                    }
                }),
                _ => None,
            };
            for (view, last_run) in self.views.iter_mut().zip(&mut last_runs) {
                if view.w.holds(day) {
                    view.add_line(b, i, cust, (day, amount), number, region, last_run)?;
                }
            }
        }
        Ok(())
    }
}

/// The run a shard's last line went to: its (customer, invoice number, day) and its place
/// in the invoice log.
#[derive(Clone, Copy)]
struct OpenRun<'a> {
    customer: u32,
    number: Option<Text<'a>>,
    /// The line's day without an invoice column, else 0.
    day: i32,
    part: usize,
    run: usize,
}

impl CustomerSums {
    /// Adds a line of the customer (row `i` of the batch).
    #[inline]
    fn add_line(&mut self, b: &Batch, i: usize, day: i32, amount: f64, w: Window) {
        self.monetary += amount;
        if amount > 0.0 {
            self.gross += amount;
        } else if amount < 0.0 {
            self.returned += amount;
        }
        if day >= w.last_from && day < w.as_of {
            self.last_period += amount;
        } else if day >= w.prev_from && day < w.last_from {
            self.prev_period += amount;
        }
        if let Some(cost) = b.cost.and_then(|a| a.get(i)) {
            self.profit += amount - cost;
        }
        self.rows += 1;
        self.returns += u64::from(b.is_return.get(i) == Some(true));
    }
}

impl Invoice {
    /// Adds a line of the run (row `i` of the batch).
    #[inline]
    fn add_line(&mut self, b: &Batch, i: usize, day: i32, amount: f64, zero_purchases: bool) {
        self.amount += amount;
        // Only purchases date an invoice; with `zero_purchases`, free items (zero value, not
        // a return) too.
        let free = zero_purchases && amount == 0.0 && b.is_return.get(i) != Some(true);
        if amount > 0.0 || free {
            self.day = self.day.min(day);
        }
        if let Some(d) = b.due.and_then(|a| a.get(i)) {
            self.due = self.due.min(d);
        }
        if let Some(p) = b.paid.and_then(|a| a.get(i)) {
            self.paid = self.paid.max(p);
        }
    }
}

/// The one array of an optional column of a batch (rechunked), as type `T`.
fn array_of<T: PolarsPhysicalType>(column: &Option<Series>) -> PolarsResult<Option<&T::Array>> {
    column
        .as_ref()
        .map(|s| s.unpack::<T>().map(|ca| ca.downcast_as_array()))
        .transpose()
}

/// A text value with its view, for [`same_text`].
type Text<'a> = (u128, &'a str);

/// Value `i` of a text array with its view.
#[inline]
fn text_at(a: &TextArray, i: usize) -> Option<Text<'_>> {
    a.get(i).map(|s| (a.views()[i].as_u128(), s))
}

/// Whether two values of one text array are equal, from their 16-byte views where that
/// suffices: equal views hold equal bytes (short text is inline in the view, long text is at
/// the same place of the same buffer), and a different length or first four bytes means
/// different text. Only long values that share both but sit apart are compared byte by byte.
#[inline]
fn same_text(a: Text, b: Text) -> bool {
    a.0 == b.0 || (a.0 as u64 == b.0 as u64 && (a.0 as u32) > 12 && a.1 == b.1)
}

/// `num / den` where `den > 0`, else missing.
pub(crate) fn ratio(num: f64, den: f64) -> Option<f64> {
    (den > 0.0).then(|| num / den)
}

impl Fold {
    /// The row counts per (reason code, return flag, day), sorted.
    fn day_counts(&self) -> DayCounts {
        let mut v: DayCounts = self
            .counts
            .iter()
            .map(|(&(r, b, d), &n)| (r, b, d, n))
            .collect();
        v.sort_unstable();
        v
    }

    /// Per snapshot, in the order of the windows, the per-customer rows from the folded state:
    /// buyers only, sorted by customer ID. Two snapshots are finished side by side (each
    /// keeps only part of the cores busy), and a snapshot's state is handed back once its
    /// table is built.
    fn finish(mut self) -> Result<Vec<Features>> {
        // Per snapshot, its view of every shard; the shards keep the interned IDs and regions.
        let mut snapshots: Vec<Vec<View>> = self.windows.iter().map(|_| Vec::new()).collect();
        for shard in &mut self.shards {
            for (v, view) in std::mem::take(&mut shard.views).into_iter().enumerate() {
                snapshots[v].push(view);
            }
        }
        let mut out = Vec::with_capacity(snapshots.len());
        let mut todo = snapshots.into_iter().enumerate();
        while let Some((v, views)) = todo.next() {
            match todo.next() {
                Some((w, other)) => {
                    let (a, b) =
                        rayon::join(|| self.finish_view(v, views), || self.finish_view(w, other));
                    out.extend([a?, b?]);
                }
                None => out.push(self.finish_view(v, views)?),
            }
        }
        Ok(out)
    }

    /// The features of snapshot `v` from its `views`, one per shard (see [`Fold::finish`]).
    fn finish_view(&self, v: usize, mut views: Vec<View>) -> Result<Features> {
        let figures = self.invoice_figures(v, &mut views);
        // Per shard, each customer's main region: (the shard's region index, revenue).
        let main_region: Vec<Vec<Option<(u32, f64)>>> = if self.has_region {
            views
                .par_iter_mut()
                .zip(&self.shards)
                .map(|(view, s)| view.main_regions(&s.regions))
                .collect()
        } else {
            Vec::new()
        };
        let sums: Vec<Vec<CustomerSums>> = views
            .iter_mut()
            .map(|view| std::mem::take(&mut view.sums))
            .collect();
        let (buyers, left_out) = buyers(&figures, &sums);
        let order = sorted_by_id(&self.shards, &views, buyers);
        let values = BuyerValues::gather(
            &order,
            &sums,
            &figures,
            self.windows[v].as_of,
            self.has_cost,
            self.has_due,
        );
        drop((figures, sums));
        let columns = self.columns(&views, &order, values, &main_region)?;
        drop(views);
        Ok(Features {
            customers: DataFrame::new(order.len(), columns)?,
            no_purchase_customers: left_out.customers,
            no_purchase_rows: left_out.rows,
            no_purchase_returns: left_out.returns,
        })
    }

    /// Per shard, what each customer of snapshot `v` gets from its invoices, from the
    /// snapshot's invoice log in its `views` (which is handed back).
    fn invoice_figures(&self, v: usize, views: &mut [View]) -> Vec<Vec<InvoiceFigures>> {
        let (as_of, has_due, hasher) = (self.windows[v].as_of, self.has_due, self.hasher);
        // Parts fold in parallel, each its own customers' invoices in input order, so the
        // result does not depend on the thread count. A shard at a time, its log handed back
        // after it: the log of the shards not done yet and the figures of those done are
        // resident together, not the whole log and the figures.
        let mut parts: Vec<(usize, Vec<(u32, InvoiceFigures)>)> = Vec::new();
        for (k, view) in views.iter_mut().enumerate() {
            let logs = std::mem::take(&mut view.parts);
            parts.par_extend(
                logs.into_par_iter()
                    .map(|p| (k, p.figures(&hasher, as_of, has_due))),
            );
        }
        let mut figures: Vec<Vec<InvoiceFigures>> = views
            .iter()
            .map(|view| vec![InvoiceFigures::default(); view.sums.len()])
            .collect();
        // Each shard's parts lie together, in shard order.
        figures
            .par_iter_mut()
            .zip(parts.par_chunks(1 << PART_BITS))
            .enumerate()
            .for_each(|(k, (shard, parts))| {
                for (of, part) in parts {
                    debug_assert_eq!(*of, k);
                    for (c, f) in part {
                        shard[*c as usize] = *f;
                    }
                }
            });
        drop(parts);
        figures
    }

    /// The feature columns of the buyers in `order` of the snapshot of `views`, in the table's
    /// order.
    fn columns(
        &self,
        views: &[View],
        order: &[u64],
        values: BuyerValues,
        main_region: &[Vec<Option<(u32, f64)>>],
    ) -> Result<Vec<Column>> {
        let (has_cost, has_due, has_region) = (self.has_cost, self.has_due, self.has_region);
        let mut columns = self.computed_columns(views, order, &values, main_region)?;
        values.into_columns(&mut columns, has_cost, has_due);
        // In the table's order, every column built placed once.
        let ordered = c::customer_columns(has_cost, has_due, has_region)
            .into_iter()
            .map(|name| {
                let at = columns
                    .iter()
                    .position(|c| c.name() == name)
                    .ok_or_else(|| anyhow!("the feature column {name} was not built"))?;
                Ok(columns.swap_remove(at))
            })
            .collect::<Result<Vec<_>>>()?;
        if let Some(extra) = columns.first() {
            return Err(anyhow!("the feature column {} is not listed", extra.name()));
        }
        Ok(ordered)
    }

    /// The columns that are more than one buyer value (the IDs, ratios, main regions), side
    /// by side, one task each.
    fn computed_columns(
        &self,
        views: &[View],
        order: &[u64],
        values: &BuyerValues,
        main_region: &[Vec<Option<(u32, f64)>>],
    ) -> Result<Vec<Column>> {
        let (f, i, d) = (&values.f, &values.i, &values.d);
        let n = order.len();
        let shards = &self.shards;
        let ratios = |name: &'static str, of: RatioOf| -> ColumnJob {
            Box::new(move || {
                let values = (0..n).map(|r| {
                    let (num, den) = of(f, i, d, r);
                    ratio(num, den)
                });
                Ok(vec![
                    Float64Chunked::from_iter_options(name.into(), values).into_column()
                ])
            })
        };
        let mut builds: Vec<ColumnJob> = vec![
            Box::new(|| {
                let ids = StringChunked::from_iter_values(
                    c::CUSTOMER_ID.into(),
                    order.iter().map(|g| {
                        // Keys were interned from `&str`, so they are UTF-8.
                        std::str::from_utf8(id_of(shards, views, *g)).unwrap_or_default()
                    }),
                );
                Ok(vec![ids.into_column()])
            }),
            ratios(c::RETURN_RATE, |f, _, _, r| {
                (f[v::RETURNED][r], f[v::GROSS][r])
            }),
            ratios(c::AVG_ORDER_VALUE, |f, i, _, r| {
                (f[v::MONETARY][r], i[v::FREQUENCY][r] as f64)
            }),
            ratios(c::MEAN_DAYS_BETWEEN, |_, i, d, r| {
                (
                    (d[v::LAST][r] - d[v::FIRST][r]) as f64,
                    i[v::PURCHASE_DAYS][r] as f64 - 1.0,
                )
            }),
            ratios(c::MEAN_REPEAT_VALUE, |f, i, _, r| {
                (f[v::REPEAT_VALUE][r], i[v::PURCHASE_DAYS][r] as f64 - 1.0)
            }),
        ];
        if self.has_cost {
            builds.push(ratios(c::MARGIN, |f, _, _, r| {
                (f[v::PROFIT][r], f[v::MONETARY][r])
            }));
        }
        if self.has_due {
            builds.extend([
                ratios(c::ON_TIME_RATE, |_, i, _, r| {
                    (i[v::ON_TIME][r] as f64, i[v::INVOICES_DUE][r] as f64)
                }),
                ratios(c::MEAN_DAYS_LATE, |f, i, _, r| {
                    (f[v::LATE_SUM][r], i[v::LATE_N][r] as f64)
                }),
            ]);
        }
        if self.has_region {
            builds.push(Box::new(move || {
                let names = StringChunked::from_iter_options(
                    c::MAIN_REGION.into(),
                    order.iter().map(|g| {
                        let (k, i) = buyer_at(*g);
                        main_region[k][i].map(|(r, _)| {
                            std::str::from_utf8(shards[k].regions.key(r)).unwrap_or_default()
                        })
                    }),
                );
                Ok(vec![names.into_column()])
            }));
        }
        build_columns(builds)
    }
}

/// Customers without a purchase in the window: left out of the features, their rows counted.
#[derive(Default)]
struct LeftOut {
    customers: u64,
    rows: u64,
    returns: u64,
}

/// The buyers, shard by shard, and the customers left out. A buyer is `shard << 32 | index
/// in the shard`.
fn buyers(figures: &[Vec<InvoiceFigures>], sums: &[Vec<CustomerSums>]) -> (Vec<u64>, LeftOut) {
    let mut left_out = LeftOut::default();
    let mut order: Vec<u64> = Vec::new();
    for (k, (figs, shard)) in figures.iter().zip(sums).enumerate() {
        for (i, (f, sums)) in figs.iter().zip(shard).enumerate() {
            if f.frequency > 0 {
                order.push((k as u64) << 32 | i as u64);
            } else {
                left_out.customers += 1;
                left_out.rows += sums.rows;
                left_out.returns += sums.returns;
            }
        }
    }
    (order, left_out)
}

/// A buyer (see [`buyers`]) as (shard, index in the shard).
#[inline]
fn buyer_at(g: u64) -> (usize, usize) {
    ((g >> 32) as usize, g as u32 as usize)
}

/// The customer ID of a buyer of the snapshot of `views` (one per shard).
fn id_of<'a>(shards: &'a [Shard], views: &[View], g: u64) -> &'a [u8] {
    let (k, i) = buyer_at(g);
    shards[k].customers.key(views[k].shard_index(i as u32))
}

/// The buyers of the snapshot of `views` sorted by customer ID.
fn sorted_by_id(shards: &[Shard], views: &[View], buyers: Vec<u64>) -> Vec<u64> {
    let key = |g: u64| id_of(shards, views, g);
    // IDs are unique across shards, so the order is total. Each buyer carries its ID's
    // first 16 bytes as a number in the same order, which settles most comparisons
    // without looking the IDs up (two cache misses each); ties compare the whole IDs.
    let mut keyed: Vec<(u128, u64)> = buyers.par_iter().map(|&g| (prefix(key(g)), g)).collect();
    drop(buyers);
    keyed.par_sort_unstable_by(|a, b| a.0.cmp(&b.0).then_with(|| key(a.1).cmp(key(b.1))));
    keyed.into_par_iter().map(|(_, g)| g).collect()
}

/// The first 16 bytes of `key`, zero-padded, as a big-endian number: where two keys'
/// numbers differ, they order the keys as their bytes do.
fn prefix(key: &[u8]) -> u128 {
    let mut first = [0u8; 16];
    let n = key.len().min(16);
    first[..n].copy_from_slice(&key[..n]);
    u128::from_be_bytes(first)
}

/// Buyers per block of the pass that writes their values (see [`BuyerValues`]).
const VALUE_BLOCK: usize = 1 << 14;

/// Places in [`BuyerValues`].
mod v {
    // f
    pub const MONETARY: usize = 0;
    pub const GROSS: usize = 1;
    pub const RETURNED: usize = 2;
    pub const LAST_PERIOD: usize = 3;
    pub const PREV_PERIOD: usize = 4;
    pub const PROFIT: usize = 5;
    pub const OVERDUE_AMOUNT: usize = 6;
    pub const LATE_SUM: usize = 7;
    pub const REPEAT_VALUE: usize = 8;
    // i
    pub const RECENCY: usize = 0;
    pub const FREQUENCY: usize = 1;
    pub const PURCHASE_DAYS: usize = 2;
    pub const TENURE: usize = 3;
    pub const INVOICES_DUE: usize = 4;
    pub const OVERDUE_N: usize = 5;
    pub const OLDEST: usize = 6;
    pub const ON_TIME: usize = 7;
    pub const LATE_N: usize = 8;
    // d
    pub const FIRST: usize = 0;
    pub const LAST: usize = 1;
}

/// The buyers' values in output order, by type, at the places of [`v`]: each a feature
/// column or a part of one. Values the input has no column for are left empty.
struct BuyerValues {
    f: [Vec<f64>; 9],
    i: [Vec<i64>; 9],
    d: [Vec<i32>; 2],
}

impl BuyerValues {
    fn new(n: usize, has_cost: bool, has_due: bool) -> Self {
        let (cost, due) = (if has_cost { n } else { 0 }, if has_due { n } else { 0 });
        let f = std::array::from_fn(|j| match j {
            v::PROFIT => vec![0.0; cost],
            v::OVERDUE_AMOUNT | v::LATE_SUM => vec![0.0; due],
            _ => vec![0.0; n],
        });
        let i = std::array::from_fn(|j| match j {
            v::INVOICES_DUE | v::OVERDUE_N | v::OLDEST | v::ON_TIME | v::LATE_N => vec![0; due],
            _ => vec![0; n],
        });
        BuyerValues {
            f,
            i,
            d: std::array::from_fn(|_| vec![0; n]),
        }
    }

    /// The values of the buyers in `order`. Each buyer's sums and figures are read once for
    /// all of its values (a pass per column would read them once per column), blocks of
    /// buyers in parallel.
    fn gather(
        order: &[u64],
        sums: &[Vec<CustomerSums>],
        figures: &[Vec<InvoiceFigures>],
        as_of: i32,
        has_cost: bool,
        has_due: bool,
    ) -> Self {
        let n = order.len();
        let mut values = BuyerValues::new(n, has_cost, has_due);
        let blocks = n.div_ceil(VALUE_BLOCK);
        let f = blocks_of(&mut values.f, VALUE_BLOCK, blocks);
        let i = blocks_of(&mut values.i, VALUE_BLOCK, blocks);
        let d = blocks_of(&mut values.d, VALUE_BLOCK, blocks);
        order.par_chunks(VALUE_BLOCK).zip(f).zip(i).zip(d).for_each(
            |(((order, mut f), mut i), mut d)| {
                for (r, g) in order.iter().enumerate() {
                    let (k, x) = buyer_at(*g);
                    let (s, v) = (&sums[k][x], &figures[k][x]);
                    // Money sums rounded (see `round_sum`); days late are whole numbers.
                    let fs = [
                        round_sum(s.monetary),
                        round_sum(s.gross),
                        round_sum(s.returned.abs()),
                        round_sum(s.last_period),
                        round_sum(s.prev_period),
                        round_sum(s.profit),
                        round_sum(v.overdue_amount),
                        v.late_sum,
                        round_sum(v.repeat_value),
                    ];
                    let is = [
                        (as_of - v.last) as i64,
                        v.frequency as i64,
                        v.purchase_days as i64,
                        (as_of - v.first) as i64,
                        v.invoices_due as i64,
                        v.overdue_n as i64,
                        v.oldest as i64,
                        v.on_time as i64,
                        v.late_n as i64,
                    ];
                    put(&mut f, r, fs);
                    put(&mut i, r, is);
                    put(&mut d, r, [v.first, v.last]);
                }
            },
        );
        values
    }

    /// Moves the values that are a column each into columns of their own, for the columns
    /// the input gives.
    fn into_columns(self, columns: &mut Vec<Column>, has_cost: bool, has_due: bool) {
        let BuyerValues {
            f: mut fv,
            i: mut iv,
            d: mut dv,
        } = self;
        let floats = [
            (c::MONETARY, v::MONETARY, true),
            (c::GROSS_REVENUE, v::GROSS, true),
            (c::RETURNED_VALUE, v::RETURNED, true),
            (c::MONETARY_LAST_PERIOD, v::LAST_PERIOD, true),
            (c::MONETARY_PREV_PERIOD, v::PREV_PERIOD, true),
            (c::PROFIT, v::PROFIT, has_cost),
            (c::OVERDUE_AMOUNT, v::OVERDUE_AMOUNT, has_due),
        ];
        take_columns(columns, &mut fv, &floats);
        let integers = [
            (c::RECENCY_DAYS, v::RECENCY, true),
            (c::FREQUENCY, v::FREQUENCY, true),
            (c::PURCHASE_DAYS, v::PURCHASE_DAYS, true),
            (c::TENURE_DAYS, v::TENURE, true),
            (c::INVOICES_DUE, v::INVOICES_DUE, has_due),
            (c::OVERDUE_INVOICES, v::OVERDUE_N, has_due),
            (c::OLDEST_OVERDUE_DAYS, v::OLDEST, has_due),
        ];
        take_columns(columns, &mut iv, &integers);
        for (name, j) in [(c::FIRST_PURCHASE, v::FIRST), (c::LAST_PURCHASE, v::LAST)] {
            let days = Int32Chunked::from_vec(name.into(), std::mem::take(&mut dv[j]));
            columns.push(days.into_date().into_column());
        }
    }
}

/// Moves the vectors at the places of `list`, (column, place, whether the input gives it),
/// into columns of their own, for the columns the input gives.
fn take_columns<T>(columns: &mut Vec<Column>, vectors: &mut [Vec<T>], list: &[(&str, usize, bool)])
where
    Series: NamedFrom<Vec<T>, [T]>,
{
    for &(name, place, given) in list {
        if given {
            columns.push(Column::new(
                name.into(),
                std::mem::take(&mut vectors[place]),
            ));
        }
    }
}

/// A ratio column's numerator and denominator for buyer `r`, from the buyer values.
type RatioOf = fn(&[Vec<f64>; 9], &[Vec<i64>; 9], &[Vec<i32>; 2], usize) -> (f64, f64);

/// Block `b` of every one of `columns`, for each of the `blocks` blocks of `size` rows (an
/// empty column gives empty blocks).
fn blocks_of<T>(columns: &mut [Vec<T>], size: usize, blocks: usize) -> Vec<Vec<&mut [T]>> {
    let mut chunks: Vec<_> = columns.iter_mut().map(|c| c.chunks_mut(size)).collect();
    (0..blocks)
        .map(|_| {
            chunks
                .iter_mut()
                .map(|c| c.next().unwrap_or_default())
                .collect()
        })
        .collect()
}

/// Writes `values` at row `r` of the blocks, skipping empty ones.
#[inline]
fn put<T: Copy, const N: usize>(blocks: &mut [&mut [T]], r: usize, values: [T; N]) {
    for (block, value) in blocks.iter_mut().zip(values) {
        if let Some(slot) = block.get_mut(r) {
            *slot = value;
        }
    }
}

/// Folds marked transactions (see [`mark_transactions`]) in one streaming pass: every row is
/// counted, and rows without a reason dated in `[start, as_of)` are folded.
/// What a pass is told besides its windows.
#[derive(Clone, Copy)]
struct FoldOptions {
    period_days: u32,
    drop_duplicates: bool,
    /// See `FeatureParams::zero_value_purchases`.
    zero_value_purchases: bool,
}

fn run_fold(marked: LazyFrame, windows: &[(i32, Option<i32>)], o: FoldOptions) -> Result<Fold> {
    let mut tx = marked;
    let schema = tx.collect_schema()?;
    let has = |n: &str| schema.get(n).is_some();
    let text = |n: &str| col(n).cast(DataType::String);
    let days = |n: &str| col(n).cast(DataType::Int32);
    let mut exprs = vec![
        col(c::DROP_REASON).cast(DataType::Int32),
        text(c::CUSTOMER_ID),
        days(c::DATE).alias(DAY),
        col(c::AMOUNT).cast(DataType::Float64),
        col(c::IS_RETURN),
    ];
    if has(c::INVOICE_ID) {
        exprs.push(text(c::INVOICE_ID));
    }
    if has(c::COST) {
        exprs.push(col(c::COST).cast(DataType::Float64));
    }
    if has(c::DUE_DATE) {
        exprs.push(days(c::DUE_DATE).alias(DUE));
        if has(c::PAID_DATE) {
            exprs.push(days(c::PAID_DATE).alias(PAID));
        }
    }
    if has(c::REGION) {
        exprs.push(text(c::REGION));
    }
    if has(c::ROW_FINGERPRINT) {
        exprs.push(col(c::ROW_FINGERPRINT));
        exprs.push(col(c::FILE_INDEX));
    }
    let fold = Arc::new(Mutex::new(Some(Fold::new(windows, &schema, o))));
    let sink = fold.clone();
    let callback = move |df: DataFrame| -> PolarsResult<bool> {
        let mut guard = sink
            .lock()
            .map_err(|_| polars_err!(ComputeError: "poisoned"))?;
        if let Some(f) = guard.as_mut() {
            f.add_batch(&df)?;
        }
        // false: keep sending batches.
        Ok(false)
    };
    tx.select(exprs)
        .sink_batches(
            PlanCallback::Rust(SpecialEq::new(Arc::new(callback))),
            // In input order, so sums add up in the same order on every run.
            true,
            None,
        )?
        .collect_with_engine(Engine::Streaming)?;
    let state = fold
        .lock()
        .map_err(|_| anyhow!("the feature pass failed"))?
        .take()
        .ok_or_else(|| anyhow!("the feature pass left no state"))?;
    Ok(state)
}

/// Computes the features of every customer with a purchase in `tx` (kept transactions, with
/// `is_return`) in one streaming pass, and counts the
/// rows of the customers left out for having none.
pub fn customer_features(tx: LazyFrame, p: &FeatureParams) -> Result<Features> {
    let marked = tx.with_column(lit(0i32).alias(c::DROP_REASON));
    let options = FoldOptions {
        period_days: p.period_days,
        drop_duplicates: true,
        zero_value_purchases: p.zero_value_purchases,
    };
    let mut features = run_fold(marked, &[(epoch_days(p.as_of), None)], options)?.finish()?;
    features
        .pop()
        .ok_or_else(|| anyhow!("the feature pass gave no table"))
}

/// What one pass over the input gives: `as_of`, the account of every row, the features, and
/// the features of the earlier snapshots of a history run.
pub struct CleanFeatures {
    pub as_of: NaiveDate,
    pub quality: Vec<QualityRow>,
    /// Exact duplicate lines found, per input file (files past the last one with duplicates
    /// are left out).
    pub duplicates: Vec<u64>,
    pub features: Features,
    /// The earlier snapshots, ascending, folded in the same pass.
    pub earlier: Vec<EarlierFeatures>,
}

/// An earlier snapshot of a history run.
pub struct EarlierFeatures {
    pub as_of: NaiveDate,
    /// Its features, or why it has none: no row is left in its window.
    pub features: Result<Features>,
}

impl CleanFeatures {
    /// Rows kept after every rule (the quality account's `kept`).
    pub fn rows_kept(&self) -> u64 {
        self.quality
            .iter()
            .find(|q| q.action == "kept")
            .map_or(0, |q| q.rows)
    }
}

/// Cleans the normalised transactions `tx` and computes the features in one streaming pass:
/// what cleaning (`crate::clean::clean_transactions`, the test specification) and
/// [`customer_features`] compute in two.
pub fn clean_and_fold(tx: LazyFrame, cp: &CleanParams, period_days: u32) -> Result<CleanFeatures> {
    clean_and_fold_history(tx, cp, period_days, &|_| Vec::new())
}

/// [`clean_and_fold`], and in the same pass the features of earlier snapshots: those at
/// the dates `earlier` gives for the run's `as_of` (the ones before it count). Each line
/// is folded into every snapshot whose window holds it, in input order, so a snapshot's
/// features are the ones a run at its date alone computes, to the bit.
///
/// Without a given `as_of` the pass starts from the day after the latest date (a scan of the
/// date column alone). That is `as_of` unless every row of the latest days is dropped by
/// another rule; the pass's own counts tell, and the features are then folded once more.
pub fn clean_and_fold_history(
    tx: LazyFrame,
    cp: &CleanParams,
    period_days: u32,
    earlier: &dyn Fn(NaiveDate) -> Vec<NaiveDate>,
) -> Result<CleanFeatures> {
    let marked = mark_transactions(tx.clone(), cp.cleaning, cp.today)?;
    let guess = match cp.as_of {
        Some(d) => epoch_days(d),
        // Without any usable date the pass still counts every row, and `settle` says which
        // rules dropped them.
        None => match latest_day(tx, cp.cleaning, cp.today)? {
            Some(d) => d + 1,
            None => epoch_days(cp.today) + 1,
        },
    };
    let start = |as_of: i32| cp.lookback_days.map(|d| as_of - d as i32);
    // Every snapshot's (as_of, start), ascending, the run's last.
    let windows = |as_of: i32| -> Vec<(i32, Option<i32>)> {
        let mut days: Vec<i32> = earlier(day_date(as_of))
            .into_iter()
            .map(epoch_days)
            .filter(|d| *d < as_of)
            .collect();
        days.push(as_of);
        days.into_iter().map(|d| (d, start(d))).collect()
    };
    let options = FoldOptions {
        period_days,
        drop_duplicates: cp.cleaning.duplicates == DropOrKeep::Drop,
        zero_value_purchases: cp.cleaning.nonpositive_price == DropKeepError::Keep,
    };
    let mut fold = run_fold(marked.clone(), &windows(guess), options)?;
    let counts = fold.day_counts();
    let duplicates: u64 = fold.duplicates_per_file().iter().sum();
    let (as_of, quality) = settle(&counts, cp, duplicates)?;
    let as_of_day = epoch_days(as_of);
    if as_of_day != guess {
        drop(fold);
        fold = run_fold(marked, &windows(as_of_day), options)?;
    }
    let duplicates_per_file = fold.duplicates_per_file().to_vec();
    let mut features = fold.finish()?;
    let main = features
        .pop()
        .ok_or_else(|| anyhow!("the feature pass gave no table"))?;
    // Each earlier snapshot is accounted for as a run at its date would: a snapshot without
    // a row left in its window is an error there.
    let earlier = windows(as_of_day)
        .into_iter()
        .zip(features)
        .map(|((day, _), features)| {
            let at = CleanParams {
                as_of: Some(day_date(day)),
                ..cp.clone()
            };
            EarlierFeatures {
                as_of: day_date(day),
                features: settle(&counts, &at, duplicates).map(|_| features),
            }
        })
        .collect();
    Ok(CleanFeatures {
        as_of,
        quality,
        duplicates: duplicates_per_file,
        features: main,
        earlier,
    })
}

/// The date of a day number (days since 1970-01-01).
fn day_date(day: i32) -> NaiveDate {
    NaiveDate::from_ymd_opt(1970, 1, 1).expect("valid date") + chrono::Duration::days(day as i64)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Invoice numbers of up to 7 bytes are their own keys; longer ones are hashed into keys
    /// that no short number has. Every number here gets a key of its own.
    #[test]
    fn invoice_keys_tell_numbers_apart() {
        let day = 20_000i32.to_le_bytes();
        let numbers: Vec<&[u8]> = vec![
            b"",
            b"\0",
            b"\0\0",
            &[0xff],
            b"536365",
            b"536366",
            b"C536365",
            b"ABCDEFG",
            b"ABCDEFG\0",
            b"ABCDEFGH",
            b"INV-0000001",
            b"INV-0000002",
            b"CN-0000001",
            "发票-1".as_bytes(),
            &day,
        ];
        let keys: Vec<u64> = numbers.iter().map(|n| invoice_key(n)).collect();
        let mut distinct = keys.clone();
        distinct.sort_unstable();
        distinct.dedup();
        assert_eq!(distinct.len(), numbers.len());
        assert_eq!(invoice_key(b""), 0);
        assert_eq!(invoice_key(b"536365"), u64::from_le_bytes(*b"536365\0\x06"));
        for (n, k) in numbers.iter().zip(&keys) {
            assert_eq!(*k >> 63 == 1, n.len() > 7, "{n:?}");
            assert_eq!(invoice_key(n), *k, "the same number, the same key");
        }
    }

    /// Sorting by the 16-byte prefix, then the whole key, is sorting by the bytes: shorter
    /// keys, zero bytes, equal prefixes past 16 bytes, multi-byte text.
    #[test]
    fn id_prefixes_order_as_the_ids() {
        let keys: Vec<&[u8]> = vec![
            b"CUST-00012",
            b"CUST-0001",
            b"CUST-00012\0",
            b"",
            b"\0",
            b"b",
            b"a-very-long-customer-id-2",
            b"a-very-long-customer-id-10",
            b"a-very-long-customer-id",
            b"0123456789abcdef",
            b"0123456789abcdef0",
            b"0123456789abcdee\xff",
            "客户-7".as_bytes(),
            "客户-10".as_bytes(),
        ];
        let mut by_prefix = keys.clone();
        by_prefix.sort_by(|a, b| {
            super::prefix(a)
                .cmp(&super::prefix(b))
                .then_with(|| a.cmp(b))
        });
        let mut by_bytes = keys.clone();
        by_bytes.sort();
        assert_eq!(by_prefix, by_bytes);
        // The prefix alone already orders keys that differ in their first 16 bytes.
        assert!(super::prefix(b"CUST-0001") < super::prefix(b"CUST-00012"));
        assert!(super::prefix(b"0123456789abcdee\xff") < super::prefix(b"0123456789abcdef"));
    }

    /// Blocks split every column at the same rows, the last one short; empty columns give
    /// empty blocks, which `put` skips.
    #[test]
    fn value_blocks_cover_every_row_once() {
        let n = 10;
        let mut columns = [vec![0i64; n], Vec::new(), vec![0i64; n]];
        let blocks = super::blocks_of(&mut columns, 4, n.div_ceil(4));
        assert_eq!(blocks.len(), 3);
        for (b, mut block) in blocks.into_iter().enumerate() {
            let rows = if b == 2 { 2 } else { 4 };
            assert_eq!(
                block.iter().map(|c| c.len()).collect::<Vec<_>>(),
                [rows, 0, rows]
            );
            for r in 0..rows {
                let row = (b * 4 + r) as i64;
                super::put(&mut block, r, [row, -1, 10 * row]);
            }
        }
        assert_eq!(columns[0], (0..10).collect::<Vec<i64>>());
        assert!(columns[1].is_empty());
        assert_eq!(columns[2], (0..10).map(|x| 10 * x).collect::<Vec<i64>>());
    }

    fn day(d: u32) -> i32 {
        epoch_days(NaiveDate::from_ymd_opt(2024, 1, d).unwrap())
    }

    /// Quality rows (step, rows) with rows, duplicates per file, (customer, monetary).
    type Checked = (Vec<(String, u64)>, Vec<u64>, Vec<(String, f64)>);

    /// Grades a CSV written from `lines` (header first) with `duplicates = "drop"`: the
    /// quality rows by step, the duplicates per file, and (customer, monetary) per customer.
    fn with_duplicate_check(lines: &[&str], invoice: bool) -> Checked {
        with_duplicate_check_in(&[lines], invoice)
    }

    /// [`with_duplicate_check`] over several files, `tx0.csv`, `tx1.csv`, ... (one glob).
    fn with_duplicate_check_in(files: &[&[&str]], invoice: bool) -> Checked {
        let dir = tempfile::tempdir().unwrap();
        for (i, lines) in files.iter().enumerate() {
            std::fs::write(dir.path().join(format!("tx{i}.csv")), lines.join("\n")).unwrap();
        }
        let invoice = if invoice {
            "invoice_id = \"inv\"\n"
        } else {
            ""
        };
        let toml = format!(
            "name = \"t\"\n[input]\npaths = \"tx*.csv\"\n[input.columns]\ncustomer_id = \"cust\"\ndate = \"day\"\namount = \"amount\"\n{invoice}[cleaning]\nduplicates = \"drop\"\n"
        );
        std::fs::write(dir.path().join("p.toml"), toml).unwrap();
        let p = crate::config::Pipeline::load(&dir.path().join("p.toml")).unwrap();
        let loaded = crate::load::load_transactions(&p).unwrap();
        let cp = CleanParams {
            cleaning: &p.cleaning,
            as_of: Some(NaiveDate::from_ymd_opt(2024, 2, 1).unwrap()),
            lookback_days: None,
            today: NaiveDate::from_ymd_opt(2030, 1, 1).unwrap(),
            rows_read: loaded.rows_read(),
        };
        let out = clean_and_fold(loaded.transactions, &cp, 30).unwrap();
        let quality = out
            .quality
            .iter()
            .filter(|q| q.rows > 0)
            .map(|q| (q.step.clone(), q.rows))
            .collect();
        let f = out.features.customers;
        let ids = f.column(c::CUSTOMER_ID).unwrap().str().unwrap().clone();
        let monetary = f.column(c::MONETARY).unwrap().f64().unwrap().clone();
        let customers = ids
            .iter()
            .zip(monetary.iter())
            .map(|(i, m)| (i.unwrap().to_string(), m.unwrap()))
            .collect();
        (quality, out.duplicates, customers)
    }

    /// Exact duplicates are the lines repeated within an invoice's block, every column
    /// compared (a column the pipeline does not map included): a repeat is dropped before any
    /// rule (so a repeated line without a customer counts as a duplicate, once), even when
    /// a batch ends inside the block; an equal line in another invoice is not a duplicate.
    /// Hand-computed.
    #[test]
    fn duplicates_within_an_invoice_are_dropped_first() {
        let lines = [
            "inv,cust,day,amount,note",
            "I1,a,2024-01-10,10,x",
            "I1,a,2024-01-10,10,x", // repeat: dropped
            "I1,a,2024-01-10,10,y", // another note: kept
            "I1,,2024-01-10,5,x",   // no customer: dropped by that rule
            "I1,,2024-01-10,5,x",   // its repeat: a duplicate
            "I2,a,2024-01-10,10,x", // same values, other invoice: kept
            "I2,b,2024-01-11,7,x",
            "I2,b,2024-01-11,7,x",  // repeat: dropped
            "I1,a,2024-01-10,10,x", // I1 again, after I2: another block, kept
        ];
        let (quality, per_file, customers) = with_duplicate_check(&lines, true);
        assert_eq!(
            quality,
            [
                ("read".to_string(), 9),
                ("exact_duplicate".to_string(), 3),
                ("missing_customer_id".to_string(), 1),
                ("kept".to_string(), 5),
            ]
        );
        assert_eq!(per_file, [3]);
        assert_eq!(customers, [("a".to_string(), 40.0), ("b".to_string(), 7.0)]);

        // Without an invoice column a block is a day, whoever's lines lie between.
        let lines = [
            "cust,day,amount",
            "a,2024-01-10,10",
            "b,2024-01-10,10",
            "a,2024-01-10,10", // repeat on the same day: dropped
            "a,2024-01-11,10", // another day: kept
            "b,2024-01-11,10", // another customer: kept
        ];
        let (quality, per_file, customers) = with_duplicate_check(&lines, false);
        assert_eq!(quality[1], ("exact_duplicate".to_string(), 1));
        assert_eq!(per_file, [1]);
        assert_eq!(
            customers,
            [("a".to_string(), 20.0), ("b".to_string(), 20.0)]
        );
    }

    /// Duplicates are counted per file, and a file's first invoice is a block of its own even
    /// when the previous file ended with the same lines.
    #[test]
    fn duplicates_are_counted_per_file() {
        let first: &[&str] = &[
            "inv,cust,day,amount",
            "I1,a,2024-01-10,10",
            "I9,b,2024-01-12,4",
        ];
        let second: &[&str] = &[
            "inv,cust,day,amount",
            "I9,b,2024-01-12,4", // as the first file's last line: kept
            "I9,b,2024-01-12,4", // repeat in this file: dropped
            "I9,b,2024-01-12,4", // again: dropped
        ];
        let (quality, per_file, customers) = with_duplicate_check_in(&[first, second], true);
        assert_eq!(quality[1], ("exact_duplicate".to_string(), 2));
        assert_eq!(per_file, [0, 2]);
        assert_eq!(customers, [("a".to_string(), 10.0), ("b".to_string(), 8.0)]);
    }

    /// A block that a batch boundary cuts: the check carries the block over to the next batch
    /// (and starts a new one when the next batch begins with another invoice or file).
    #[test]
    fn duplicate_check_spans_batches() {
        let batch = |inv: &[&str], fp: &[u64], file: u32| {
            let n = inv.len();
            let day = epoch_days(NaiveDate::from_ymd_opt(2024, 1, 10).unwrap());
            DataFrame::new(
                n,
                vec![
                    Column::new(c::DROP_REASON.into(), vec![0i32; n]),
                    Column::new(c::CUSTOMER_ID.into(), vec!["a"; n]),
                    Column::new(DAY.into(), vec![day; n]),
                    Column::new(c::AMOUNT.into(), vec![1.0; n]),
                    Column::new(c::IS_RETURN.into(), vec![false; n]),
                    Column::new(c::INVOICE_ID.into(), inv.to_vec()),
                    Column::new(c::ROW_FINGERPRINT.into(), fp.to_vec()),
                    Column::new(c::FILE_INDEX.into(), vec![file; n]),
                ],
            )
            .unwrap()
        };
        let first = batch(&["I1", "I1"], &[7, 8], 1);
        let as_of = epoch_days(NaiveDate::from_ymd_opt(2024, 2, 1).unwrap());
        let options = FoldOptions {
            period_days: 30,
            drop_duplicates: true,
            zero_value_purchases: false,
        };
        let mut fold = Fold::new(&[(as_of, None)], first.schema(), options);
        fold.add_batch(&first).unwrap();
        // 7 repeats I1's first line; then I2 starts a block where 7 is new.
        fold.add_batch(&batch(&["I1", "I2", "I2"], &[7, 7, 9], 1))
            .unwrap();
        // A batch that begins with another invoice starts a block: 9 is new in I3.
        fold.add_batch(&batch(&["I3"], &[9], 1)).unwrap();
        // The next file starts a block even with the same invoice: 9 is new there too.
        fold.add_batch(&batch(&["I3", "I3"], &[9, 9], 2)).unwrap();
        assert_eq!(fold.duplicates_per_file(), [0, 1, 1]);
        let kept: u64 = fold.day_counts().iter().map(|(.., n)| n).sum();
        assert_eq!(kept, 6);
    }

    /// An invoice that comes back after other lines, a customer ID too long to sit in its
    /// hash slot, the same invoice number at two customers, and a second region that beats
    /// the first: all computed by hand.
    #[test]
    fn split_invoices_long_ids_and_second_regions() {
        let long = "customer-with-a-very-long-identifier";
        // (customer, invoice, day, amount, due day, paid day, region), days of January 2024.
        type Line<'a> = (
            &'a str,
            &'a str,
            u32,
            f64,
            Option<u32>,
            Option<u32>,
            &'a str,
        );
        let rows: [Line; 6] = [
            ("a", "I1", 10, 10.0, None, None, "East"),
            (long, "I1", 15, 3.0, None, None, "West"),
            ("a", "I2", 11, 5.0, None, None, "East"),
            ("c", "I9", 12, 5.0, None, None, "North"),
            ("c", "I9", 12, 8.0, None, None, "South"),
            ("a", "I1", 12, 7.0, Some(20), Some(25), "West"),
        ];
        let date = |v: Vec<Option<i32>>, name: &str| {
            Column::new(name.into(), v).cast(&DataType::Date).unwrap()
        };
        let df = DataFrame::new(
            rows.len(),
            vec![
                Column::new(c::CUSTOMER_ID.into(), rows.map(|r| r.0)),
                Column::new(c::INVOICE_ID.into(), rows.map(|r| r.1)),
                date(rows.map(|r| Some(day(r.2))).to_vec(), c::DATE),
                Column::new(c::AMOUNT.into(), rows.map(|r| r.3)),
                Column::new(c::IS_RETURN.into(), rows.map(|_| false)),
                date(rows.map(|r| r.4.map(day)).to_vec(), c::DUE_DATE),
                date(rows.map(|r| r.5.map(day)).to_vec(), c::PAID_DATE),
                Column::new(c::REGION.into(), rows.map(|r| r.6)),
            ],
        )
        .unwrap();
        let p = FeatureParams {
            as_of: NaiveDate::from_ymd_opt(2024, 2, 1).unwrap(),
            period_days: 30,
            zero_value_purchases: false,
        };
        let f = customer_features(df.lazy(), &p).unwrap().customers;
        let text = |name: &str| -> Vec<String> {
            f.column(name)
                .unwrap()
                .str()
                .unwrap()
                .iter()
                .map(|v| v.unwrap_or("-").to_string())
                .collect()
        };
        let ints = |name: &str| -> Vec<i64> {
            let s = f.column(name).unwrap().cast(&DataType::Int64).unwrap();
            s.i64().unwrap().iter().map(|v| v.unwrap_or(-1)).collect()
        };
        let floats = |name: &str| -> Vec<f64> {
            f.column(name)
                .unwrap()
                .f64()
                .unwrap()
                .iter()
                .map(|v| v.unwrap_or(-1.0))
                .collect()
        };
        assert_eq!(text(c::CUSTOMER_ID), ["a", "c", long]);
        // a: I1 (10 + 7, first bought on the 10th) and I2 (5, the 11th).
        assert_eq!(ints(c::FREQUENCY), [2, 1, 1]);
        assert_eq!(ints(c::PURCHASE_DAYS), [2, 1, 1]);
        assert_eq!(floats(c::MONETARY), [22.0, 13.0, 3.0]);
        assert_eq!(floats(c::AVG_ORDER_VALUE), [11.0, 13.0, 3.0]);
        // An order's day is its first purchase line's: a's last order is I2, on the 11th.
        assert_eq!(ints(c::RECENCY_DAYS), [21, 20, 17]);
        // a: East 15 against West 7; c: South 8 beats the first region, North 5.
        assert_eq!(text(c::MAIN_REGION), ["East", "South", "West"]);
        // a's I1 was due on the 20th and paid on the 25th: one invoice, five days late.
        assert_eq!(ints(c::INVOICES_DUE), [1, 0, 0]);
        assert_eq!(floats(c::ON_TIME_RATE), [0.0, -1.0, -1.0]);
        assert_eq!(floats(c::MEAN_DAYS_LATE), [5.0, -1.0, -1.0]);
    }
}
