//! Synthetic B2B transaction history that looks real: Pareto-skewed customer value, seasonality,
//! churned and new customers, credit notes (returns), unit costs, invoice due and paid dates with
//! some chronic late payers. Deterministic for a seed. Used for the embedded sample, tests and
//! benchmarks.

use std::path::Path;

use anyhow::{anyhow, Result};
use chrono::{Datelike, Duration, NaiveDate};
use polars::prelude::*;
use rand::seq::SliceRandom;
use rand::{Rng, SeedableRng};
use rand_xoshiro::Xoshiro256PlusPlus;

use crate::clean::epoch_days;
use crate::output::DataFileWriter;

/// What to generate.
#[derive(Debug, Clone)]
pub struct GenerateParams {
    pub customers: usize,
    pub seed: u64,
    /// Last day of the history.
    pub end: NaiveDate,
    /// Length of the history in days.
    pub days: u32,
    /// Customers per chunk (see [`generate_chunks`]); the rows do not depend on it.
    pub chunk_customers: usize,
    /// The order of the lines in the file (see [`Order`]).
    pub order: Order,
}

/// The order of the lines [`generate_to_file`] writes.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, clap::ValueEnum)]
pub enum Order {
    /// By date, each invoice's lines together, as an ERP export lists them: chunk after chunk
    /// of [`CHUNK_CUSTOMERS`] customers, each chunk sorted by date and invoice.
    #[default]
    Date,
    /// The same lines in a random order (seeded): an invoice's lines lie apart, anywhere in
    /// the file, as in an export partitioned by product. The whole table is held in memory
    /// to shuffle it (about 200 bytes a line).
    Shuffled,
}

impl Default for GenerateParams {
    fn default() -> Self {
        GenerateParams {
            customers: 1000,
            seed: 42,
            end: NaiveDate::from_ymd_opt(2025, 12, 31).expect("valid date"),
            days: 730,
            chunk_customers: CHUNK_CUSTOMERS,
            order: Order::Date,
        }
    }
}

/// Invoice numbers of credit notes start with this prefix.
pub const CREDIT_NOTE_PREFIX: &str = "CR";

const REGIONS: &[(&str, f64)] = &[
    ("East", 0.34),
    ("North", 0.22),
    ("South", 0.2),
    ("West", 0.16),
    ("Central", 0.08),
];
/// Monthly demand relative to the busiest month (year-end peak, summer lull).
const SEASON: [f64; 12] = [
    0.6, 0.6, 0.7, 0.7, 0.75, 0.7, 0.6, 0.6, 0.8, 0.85, 0.95, 1.0,
];
const PRODUCTS: usize = 250;

/// A text column as one buffer and the end of each value: no allocation per row.
#[derive(Default)]
struct Texts {
    bytes: String,
    ends: Vec<usize>,
}

impl Texts {
    fn push(&mut self, value: &str) {
        self.bytes.push_str(value);
        self.ends.push(self.bytes.len());
    }

    fn column(&self, name: &str) -> Column {
        let starts = std::iter::once(0).chain(self.ends.iter().copied());
        let values = starts.zip(&self.ends).map(|(a, b)| &self.bytes[a..*b]);
        StringChunked::from_iter_values(name.into(), values).into_column()
    }
}

#[derive(Default)]
struct Columns {
    invoice_id: Texts,
    date: Vec<i32>,
    customer_id: Texts,
    product_id: Texts,
    quantity: Vec<i64>,
    unit_price: Vec<f64>,
    unit_cost: Vec<f64>,
    due_date: Vec<Option<i32>>,
    paid_date: Vec<Option<i32>>,
    region: Vec<&'static str>,
}

enum Payer {
    Punctual,
    Sometimes,
    Chronic,
}

fn pick_region(rng: &mut Xoshiro256PlusPlus) -> &'static str {
    let mut u: f64 = rng.gen();
    for (name, w) in REGIONS {
        if u < *w {
            return name;
        }
        u -= w;
    }
    REGIONS[0].0
}

fn round2(x: f64) -> f64 {
    (x * 100.0).round() / 100.0
}

/// Customers generated per chunk: bounds memory for any size (about 10-20 rows each).
pub const CHUNK_CUSTOMERS: usize = 50_000;

/// Generates the transactions as one frame, sorted by date and invoice. For large sizes use
/// [`generate_chunks`], which never holds more than one chunk.
pub fn generate_transactions(p: &GenerateParams) -> PolarsResult<DataFrame> {
    let mut out: Option<DataFrame> = None;
    generate_chunks(p, |df| {
        match out.as_mut() {
            Some(o) => {
                o.vstack_mut(&df)?;
            }
            None => out = Some(df),
        }
        Ok(())
    })?;
    let df = out.expect("at least one chunk");
    df.lazy()
        .sort(
            ["invoice_date", "invoice_id"],
            SortMultipleOptions::default().with_maintain_order(true),
        )
        .collect()
}

/// Generates the transactions in chunks of `chunk_customers` customers, each sorted by
/// date and invoice, and hands every chunk to `sink`. The same seed gives the same rows.
pub fn generate_chunks(
    p: &GenerateParams,
    sink: impl FnMut(DataFrame) -> PolarsResult<()>,
) -> PolarsResult<()> {
    generate_chunks_with(p, sink, |_, _| {})
}

/// [`generate_chunks`], and `on_customer` hears each customer drawn (with its index).
fn generate_chunks_with(
    p: &GenerateParams,
    mut sink: impl FnMut(DataFrame) -> PolarsResult<()>,
    mut on_customer: impl FnMut(usize, &Customer),
) -> PolarsResult<()> {
    let mut rng = Xoshiro256PlusPlus::seed_from_u64(p.seed);
    let start = p.end - Duration::days(p.days as i64 - 1);
    let (d0, d1) = (epoch_days(start), epoch_days(p.end));

    // Catalogue: list price and cost ratio per product.
    let catalogue = Catalogue {
        products: (0..PRODUCTS)
            .map(|_| {
                let price = (rng.gen_range(1.5f64..6.5)).exp();
                (round2(price), rng.gen_range(0.55..0.82))
            })
            .collect(),
        ids: (0..PRODUCTS).map(|prod| format!("P{prod:04}")).collect(),
    };

    let mut cols = Columns::default();
    let mut next_invoice = 1u64;
    for i in 0..p.customers {
        if i > 0 && i % p.chunk_customers.max(1) == 0 {
            sink(chunk_frame(std::mem::take(&mut cols))?)?;
        }
        let c = Customer::draw(&mut rng, i, d0, d1);
        on_customer(i, &c);
        let mut day = c.first as f64;
        loop {
            day += -(1.0 - rng.gen::<f64>()).ln() / c.rate;
            if day > c.last as f64 {
                break;
            }
            let d = day as i32;
            let month = (start + Duration::days((d - d0) as i64)).month0() as usize;
            if rng.gen::<f64>() > SEASON[month] {
                continue; // thinning: fewer orders in quiet months
            }
            let invoice = format!("INV-{next_invoice:07}");
            next_invoice += 1;
            c.order(&mut rng, &mut cols, &catalogue, &invoice, d, d1);
        }
    }
    sink(chunk_frame(cols)?)
}

/// The products: (list price, cost ratio) and ID of each.
struct Catalogue {
    products: Vec<(f64, f64)>,
    ids: Vec<String>,
}

/// One invoice line, as written.
#[derive(Clone, Copy)]
struct Line {
    product: usize,
    quantity: i64,
    unit_price: f64,
    unit_cost: f64,
    due: Option<i32>,
    paid: Option<i32>,
}

/// One customer's habits, drawn once.
struct Customer {
    id: String,
    /// Pareto-distributed value: drives quantities, order rate, discounts and terms.
    value: f64,
    /// Orders per day.
    rate: f64,
    first: i32,
    last: i32,
    region: &'static str,
    payer: Payer,
    terms: i32,
}

impl Customer {
    /// Draws customer `i` whose history may run from day `d0` to `d1`.
    fn draw(rng: &mut Xoshiro256PlusPlus, i: usize, d0: i32, d1: i32) -> Customer {
        // Pareto(alpha = 1.16) gives the classic 80/20 split of value.
        let value = (1.0 - rng.gen::<f64>()).powf(-1.0 / 1.16).min(300.0);
        let orders_per_year = (1.5 + 3.0 * value.powf(0.55)) * rng.gen_range(0.6..1.4);
        let first = if rng.gen_bool(0.7) {
            d0
        } else {
            rng.gen_range(d0..d1)
        };
        let last = if rng.gen_bool(0.22) {
            rng.gen_range(first..=d1)
        } else {
            d1
        };
        let region = pick_region(rng);
        let payer = match rng.gen::<f64>() {
            u if u < 0.12 => Payer::Chronic,
            u if u < 0.3 => Payer::Sometimes,
            _ => Payer::Punctual,
        };
        Customer {
            id: format!("CUST-{:05}", i + 1),
            value,
            rate: orders_per_year / 365.0,
            first,
            last,
            region,
            payer,
            terms: if value > 20.0 { 60 } else { 30 },
        }
    }

    /// Writes one order on day `d` (invoice `invoice`), its payment, and now and then a
    /// credit note for part of it.
    fn order(
        &self,
        rng: &mut Xoshiro256PlusPlus,
        cols: &mut Columns,
        catalogue: &Catalogue,
        invoice: &str,
        d: i32,
        d1: i32,
    ) {
        let due = d + self.terms;
        // Late probability and lateness by habit: punctual payers slip now and then,
        // chronic late payers almost always and by weeks.
        let (p_late, max_late) = match self.payer {
            Payer::Punctual => (0.05, 5),
            Payer::Sometimes => (0.3, 20),
            Payer::Chronic => (0.85, 90),
        };
        let paid = if rng.gen_bool(p_late) {
            due + rng.gen_range(1..=max_late)
        } else {
            due - rng.gen_range(0..=12)
        };
        // Some invoices of chronic late payers are never paid; payments after the end of
        // the history are not known yet.
        let paid = if matches!(self.payer, Payer::Chronic) && rng.gen_bool(0.08) || paid > d1 {
            None
        } else {
            Some(paid)
        };
        let lines = rng.gen_range(1..=4);
        let mut first_line = None;
        let mut picked = Vec::with_capacity(lines);
        while picked.len() < lines {
            let prod = rng.gen_range(0..PRODUCTS);
            if picked.contains(&prod) {
                continue; // one line per product and invoice
            }
            picked.push(prod);
            let (price, cost_ratio) = catalogue.products[prod];
            let qty = ((self.value.powf(0.45) * rng.gen_range(1.0f64..12.0)).ceil() as i64).max(1);
            let discount = if self.value > 30.0 { 0.9 } else { 1.0 };
            let unit_price = round2(price * discount);
            let unit_cost = round2(price * cost_ratio);
            let line = Line {
                product: prod,
                quantity: qty,
                unit_price,
                unit_cost,
                due: Some(due),
                paid,
            };
            self.push(cols, catalogue, invoice, d, &line);
            first_line.get_or_insert(line);
        }
        // About 4 % of orders come back in part, as a credit note a few days later.
        if let (true, Some(first)) = (rng.gen_bool(0.04), first_line) {
            let back = rng.gen_range(1..=first.quantity);
            let rd = (d + rng.gen_range(2..20)).min(d1);
            let number = format!("{CREDIT_NOTE_PREFIX}-{}", &invoice["INV-".len()..]);
            let credit = Line {
                quantity: -back,
                due: None,
                paid: None,
                ..first
            };
            self.push(cols, catalogue, &number, rd, &credit);
        }
    }

    /// Appends one line of invoice `invoice` dated `day`.
    fn push(&self, cols: &mut Columns, catalogue: &Catalogue, invoice: &str, day: i32, l: &Line) {
        cols.invoice_id.push(invoice);
        cols.date.push(day);
        cols.customer_id.push(&self.id);
        cols.product_id.push(&catalogue.ids[l.product]);
        cols.quantity.push(l.quantity);
        cols.unit_price.push(l.unit_price);
        cols.unit_cost.push(l.unit_cost);
        cols.due_date.push(l.due);
        cols.paid_date.push(l.paid);
        cols.region.push(self.region);
    }
}

/// Generates the transactions into `out` (CSV or Parquet, by extension; see
/// [`DataFileWriter`]) in the order `p.order` and returns the rows written. `on_chunk` hears
/// the number of chunks generated so far.
pub fn generate_to_file(
    p: &GenerateParams,
    out: &Path,
    on_chunk: impl FnMut(usize),
) -> Result<u64> {
    match p.order {
        Order::Date => generate_in_date_order(p, out, on_chunk),
        Order::Shuffled => generate_shuffled(p, out, on_chunk),
    }
}

/// Seeds the customer master's draws, with the generator's seed and the customer's index:
/// not the stream the transactions are drawn from, which stays as it is.
const MASTER_SEED: u64 = 0x4d41_5354_4552_0000;

const INDUSTRIES: &[(&str, f64)] = &[
    ("Manufacturing", 0.28),
    ("Wholesale", 0.22),
    ("Retail", 0.2),
    ("Construction", 0.12),
    ("Logistics", 0.1),
    ("Services", 0.08),
];

/// The customer master of the customers [`generate_chunks`] draws for `p`, as a CRM export
/// has it: `customer_no`, `credit_rating` (A..D, worse for late payers), `credit_score`,
/// `debt_ratio`, `credit_limit`, `industry`, `key_account` (Y for the largest accounts).
/// About 2 % of the customers are missing from it, and it lists 1 % more prospects
/// (`PROS-...`) who never bought.
pub fn generate_master(p: &GenerateParams) -> PolarsResult<DataFrame> {
    let mut rows = MasterRows::default();
    generate_chunks_with(p, |_| Ok(()), |i, c| rows.push(p.seed, i, c))?;
    let prospects = (p.customers / 100).max(1);
    for k in 0..prospects {
        let mut rng =
            Xoshiro256PlusPlus::seed_from_u64(p.seed ^ MASTER_SEED ^ (k as u64 + 1) << 32);
        let c = Customer {
            id: format!("PROS-{:05}", k + 1),
            value: 1.0,
            rate: 0.0,
            first: 0,
            last: 0,
            region: pick_region(&mut rng),
            payer: Payer::Punctual,
            terms: 30,
        };
        rows.add(&mut rng, &c);
    }
    rows.frame()
}

#[derive(Default)]
struct MasterRows {
    id: Vec<String>,
    rating: Vec<&'static str>,
    score: Vec<i64>,
    debt: Vec<f64>,
    limit: Vec<f64>,
    industry: Vec<&'static str>,
    key: Vec<&'static str>,
}

impl MasterRows {
    /// Customer `i` of the run seeded `seed`, unless it is one of those the master lacks.
    fn push(&mut self, seed: u64, i: usize, c: &Customer) {
        let mut rng = Xoshiro256PlusPlus::seed_from_u64(seed ^ MASTER_SEED ^ i as u64);
        if rng.gen_bool(0.02) {
            return;
        }
        self.add(&mut rng, c);
    }

    fn add(&mut self, rng: &mut Xoshiro256PlusPlus, c: &Customer) {
        let grade = match c.payer {
            Payer::Punctual => usize::from(rng.gen_bool(0.4)),
            Payer::Sometimes => 1 + usize::from(rng.gen_bool(0.5)),
            Payer::Chronic => 2 + usize::from(rng.gen_bool(0.6)),
        };
        let (scores, debts) = [
            ((720, 850), (0.1, 0.45)),
            ((640, 720), (0.3, 0.6)),
            ((560, 640), (0.5, 0.85)),
            ((450, 560), (0.7, 1.2)),
        ][grade];
        let mut u: f64 = rng.gen();
        let mut industry = INDUSTRIES[0].0;
        for (name, w) in INDUSTRIES {
            if u < *w {
                industry = name;
                break;
            }
            u -= w;
        }
        self.id.push(c.id.clone());
        self.rating.push(["A", "B", "C", "D"][grade]);
        self.score.push(rng.gen_range(scores.0..scores.1));
        self.debt.push(round2(rng.gen_range(debts.0..debts.1)));
        // Limits follow the account's size, in thousands.
        self.limit
            .push(((c.value.powf(0.8) * 20.0).round() * 1000.0).max(5000.0));
        self.industry.push(industry);
        self.key.push(if c.value > 25.0 { "Y" } else { "N" });
    }

    fn frame(self) -> PolarsResult<DataFrame> {
        DataFrame::new_infer_height(vec![
            Column::new("customer_no".into(), self.id),
            Column::new("credit_rating".into(), self.rating),
            Column::new("credit_score".into(), self.score),
            Column::new("debt_ratio".into(), self.debt),
            Column::new("credit_limit".into(), self.limit),
            Column::new("industry".into(), self.industry),
            Column::new("key_account".into(), self.key),
        ])
    }
}

/// Seeds the shuffle, with the generator's seed: not the stream the rows are drawn from.
const SHUFFLE_SEED: u64 = 0x5348_5546_464c_4544;

/// Lines per write of a shuffled file: about one chunk's.
const SHUFFLED_WRITE_ROWS: usize = 500_000;

/// The lines of [`Order::Date`], all of them generated first, then written in a random
/// order (a permutation seeded by `p.seed`), [`SHUFFLED_WRITE_ROWS`] at a time.
fn generate_shuffled(
    p: &GenerateParams,
    out: &Path,
    mut on_chunk: impl FnMut(usize),
) -> Result<u64> {
    let mut file = DataFileWriter::new(out)?;
    let mut all: Option<DataFrame> = None;
    let mut chunks = 0;
    generate_chunks(p, |df| {
        match all.as_mut() {
            Some(a) => {
                a.vstack_mut(&df)?;
            }
            None => all = Some(df),
        }
        chunks += 1;
        on_chunk(chunks);
        Ok(())
    })?;
    let mut all = all.ok_or_else(|| anyhow!("no chunk generated"))?;
    all.rechunk_mut_par();
    let mut order: Vec<IdxSize> = (0..all.height() as IdxSize).collect();
    order.shuffle(&mut Xoshiro256PlusPlus::seed_from_u64(
        p.seed ^ SHUFFLE_SEED,
    ));
    for rows in order.chunks(SHUFFLED_WRITE_ROWS) {
        let part = all.take(&IdxCa::from_vec("row".into(), rows.to_vec()))?;
        file.write(&part)?;
    }
    file.finish()
}

/// [`Order::Date`]: chunks are generated on this thread while a writer thread encodes the
/// one before, so the two overlap. `on_chunk` hears the number of chunks handed to the
/// writer, which may not have written the last one or two yet. The file is the one writing
/// each chunk in turn gives.
fn generate_in_date_order(
    p: &GenerateParams,
    out: &Path,
    mut on_chunk: impl FnMut(usize),
) -> Result<u64> {
    let mut file = DataFileWriter::new(out)?;
    // One chunk waits while another is written: memory stays at a few chunks.
    let (send, receive) = std::sync::mpsc::sync_channel::<DataFrame>(1);
    std::thread::scope(|scope| {
        let writer = scope.spawn(move || -> Result<DataFileWriter> {
            for df in receive {
                file.write(&df)?;
            }
            Ok(file)
        });
        let mut chunks = 0;
        let generated = generate_chunks(p, |df| {
            // Fails only when the writer stopped: its error is the one reported.
            send.send(df)
                .map_err(|_| polars_err!(ComputeError: "the file writer stopped"))?;
            chunks += 1;
            on_chunk(chunks);
            Ok(())
        });
        drop(send);
        let file = writer
            .join()
            .map_err(|_| anyhow!("the file writer thread panicked"))??;
        generated?;
        file.finish()
    })
}

fn chunk_frame(cols: Columns) -> PolarsResult<DataFrame> {
    let to_date = |v: Vec<Option<i32>>| {
        Column::new("".into(), v)
            .cast(&DataType::Date)
            .expect("i32 casts to Date")
    };
    let df = DataFrame::new_infer_height(vec![
        cols.invoice_id.column("invoice_id"),
        to_date(cols.date.into_iter().map(Some).collect()).with_name("invoice_date".into()),
        cols.customer_id.column("customer_id"),
        cols.product_id.column("product_id"),
        Column::new("quantity".into(), cols.quantity),
        Column::new("unit_price".into(), cols.unit_price),
        Column::new("unit_cost".into(), cols.unit_cost),
        to_date(cols.due_date).with_name("due_date".into()),
        to_date(cols.paid_date).with_name("paid_date".into()),
        Column::new("region".into(), cols.region),
    ])?;
    df.lazy()
        .sort(
            ["invoice_date", "invoice_id"],
            SortMultipleOptions::default().with_maintain_order(true),
        )
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn small() -> GenerateParams {
        GenerateParams {
            customers: 200,
            seed: 7,
            ..Default::default()
        }
    }

    /// The file written with generation and writing overlapped is the file written chunk by
    /// chunk in turn, and holds every row.
    #[test]
    fn generated_file_is_the_chunks_in_order() {
        let dir = tempfile::tempdir().unwrap();
        let p = GenerateParams {
            customers: 1000,
            chunk_customers: 300,
            ..small()
        };
        let overlapped = dir.path().join("overlapped.parquet");
        let mut heard = Vec::new();
        let rows = generate_to_file(&p, &overlapped, |n| heard.push(n)).unwrap();
        assert_eq!(heard, [1, 2, 3, 4]);

        let in_turn = dir.path().join("in_turn.parquet");
        let mut file = DataFileWriter::new(&in_turn).unwrap();
        let mut heights = Vec::new();
        generate_chunks(&p, |df| {
            heights.push(df.height());
            file.write(&df).unwrap();
            Ok(())
        })
        .unwrap();
        assert_eq!(file.finish().unwrap(), rows);
        assert_eq!(heights.len(), 4);
        assert_eq!(heights.iter().sum::<usize>() as u64, rows);
        assert_eq!(
            std::fs::read(&overlapped).unwrap(),
            std::fs::read(&in_turn).unwrap()
        );
        // The same rows as one frame, in another order.
        assert_eq!(generate_transactions(&p).unwrap().height() as u64, rows);
    }

    /// Golden lines of a small history, as the generator wrote them before its text columns
    /// and writer thread changed: a change to the generator shows here.
    #[test]
    fn generated_history_is_pinned() {
        let dir = tempfile::tempdir().unwrap();
        let out = dir.path().join("tx.csv");
        let rows = generate_to_file(&small(), &out, |_| {}).unwrap();
        assert_eq!(rows, 4032);
        let text = std::fs::read_to_string(&out).unwrap();
        let lines: Vec<&str> = text.lines().collect();
        assert_eq!(lines.len(), 4033);
        assert_eq!(
            lines[1],
            "INV-0000351,2024-01-03,CUST-00050,P0216,3,14.35,9.86,2024-02-02,2024-02-01,West"
        );
        assert_eq!(
            lines[4032],
            "CR-0001514,2025-12-31,CUST-00190,P0184,-4,662.16,374.79,,,East"
        );
        let quantity: i64 = lines[1..]
            .iter()
            .map(|l| l.split(',').nth(4).unwrap().parse::<i64>().unwrap())
            .sum();
        assert_eq!(quantity, 65988);
    }

    /// Runs of consecutive lines with the same invoice number (the first field), and the
    /// number of invoices.
    fn invoice_runs(lines: &[&str]) -> (usize, usize) {
        let invoice = |l: &str| l.split(',').next().unwrap().to_string();
        let runs = 1 + lines
            .windows(2)
            .filter(|w| invoice(w[0]) != invoice(w[1]))
            .count();
        let invoices: std::collections::HashSet<String> =
            lines.iter().map(|l| invoice(l)).collect();
        (runs, invoices.len())
    }

    /// Shuffled, the file holds the lines of the date-order file, each invoice's lines apart;
    /// the same seed gives the same file.
    #[test]
    fn shuffled_file_holds_the_same_lines_apart() {
        let dir = tempfile::tempdir().unwrap();
        let write = |name: &str, order| {
            let out = dir.path().join(name);
            let p = GenerateParams {
                order,
                chunk_customers: 60,
                ..small()
            };
            let rows = generate_to_file(&p, &out, |_| {}).unwrap();
            assert_eq!(rows, 4032);
            std::fs::read_to_string(&out).unwrap()
        };
        let date = write("date.csv", Order::Date);
        let shuffled = write("shuffled.csv", Order::Shuffled);
        assert_eq!(write("again.csv", Order::Shuffled), shuffled);
        let d: Vec<&str> = date.lines().collect();
        let s: Vec<&str> = shuffled.lines().collect();
        assert_eq!(d[0], s[0], "the header");
        assert_eq!(d.len(), s.len());
        assert_ne!(d[1..], s[1..]);
        let (mut ds, mut ss) = (d[1..].to_vec(), s[1..].to_vec());
        ds.sort_unstable();
        ss.sort_unstable();
        assert_eq!(ds, ss, "the same lines");
        // In date order each invoice's lines are together: one run each. Shuffled, nearly
        // every line of a multi-line invoice starts a run of its own.
        let (runs, invoices) = invoice_runs(&d[1..]);
        assert_eq!(runs, invoices);
        let (runs, _) = invoice_runs(&s[1..]);
        assert!(
            runs > invoices * 3 / 2,
            "{runs} runs of {invoices} invoices"
        );
    }

    #[test]
    fn same_seed_same_data_other_seed_other_data() {
        let a = generate_transactions(&small()).unwrap();
        let b = generate_transactions(&small()).unwrap();
        assert!(a.equals_missing(&b));
        let c = generate_transactions(&GenerateParams { seed: 8, ..small() }).unwrap();
        assert!(!a.equals_missing(&c));
    }

    #[test]
    fn value_is_pareto_skewed_and_returns_exist() {
        let df = generate_transactions(&GenerateParams {
            customers: 1000,
            ..Default::default()
        })
        .unwrap();
        let rev = df
            .clone()
            .lazy()
            .group_by([col("customer_id")])
            .agg([
                (col("quantity").cast(DataType::Float64) * col("unit_price"))
                    .sum()
                    .alias("r"),
            ])
            .sort(
                ["r"],
                SortMultipleOptions::default().with_order_descending(true),
            )
            .collect()
            .unwrap();
        let r: Vec<f64> = rev
            .column("r")
            .unwrap()
            .f64()
            .unwrap()
            .into_no_null_iter()
            .collect();
        let total: f64 = r.iter().sum();
        let top20: f64 = r.iter().take(r.len() / 5).sum();
        assert!(
            top20 / total > 0.6,
            "top 20 % hold {:.2} of revenue",
            top20 / total
        );
        let returns = df
            .column("quantity")
            .unwrap()
            .i64()
            .unwrap()
            .into_no_null_iter()
            .filter(|q| *q < 0)
            .count();
        assert!(returns > 100, "{returns} returns");
        let unpaid = df.column("paid_date").unwrap().null_count();
        assert!(
            unpaid > returns,
            "unpaid invoices beyond credit notes: {unpaid}"
        );
    }
}
