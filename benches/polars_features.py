"""Yardstick for the feature step of `tiering`: the per-customer figures of the feature pass,
computed by polars' own streaming engine as a two-level group-by (lines -> invoices ->
customers), written as a data team would.

    pip install polars
    python3 benches/polars_features.py target/bench-data/tx-10000000.parquet 2026-01-01

Reads a file written by `tiering generate` or `tiering bench` (its column names), keeps the
lines with a customer dated before the as-of date, and prints the wall seconds of the query
(reading the file included), the customers found, and the process's peak resident and peak
anonymous memory in MiB (Linux). Compare the seconds with the bench's load+features row."""

import datetime as dt
import sys
import threading
import time

import polars as pl


def status_kib(field):
    with open("/proc/self/status") as f:
        for line in f:
            if line.startswith(field + ":"):
                return int(line.split()[1])
    return 0


class AnonPeak:
    """RssAnon sampled every 10 ms on a thread (the kernel keeps no high-water mark of it)."""

    def __init__(self):
        self.peak = status_kib("RssAnon")
        self.stop = False
        self.thread = threading.Thread(target=self.run, daemon=True)
        self.thread.start()

    def run(self):
        while not self.stop:
            self.peak = max(self.peak, status_kib("RssAnon"))
            time.sleep(0.01)

    def done(self):
        self.stop = True
        self.thread.join()
        return max(self.peak, status_kib("RssAnon")) / 1024


def features(path, as_of, period_days=90):
    day = pl.col("invoice_date")
    amount = pl.col("quantity").cast(pl.Float64) * pl.col("unit_price")
    lines = (
        pl.scan_parquet(path)
        .filter(day < as_of, pl.col("customer_id").is_not_null())
        .with_columns(
            amount=amount,
            cost=pl.col("quantity").cast(pl.Float64) * pl.col("unit_cost"),
        )
    )
    last_from = as_of - dt.timedelta(days=period_days)
    prev_from = as_of - dt.timedelta(days=2 * period_days)
    a = pl.col("amount")
    invoices = lines.group_by("customer_id", "invoice_id").agg(
        amount=a.sum(),
        gross=a.filter(a > 0).sum(),
        returned=a.filter(a < 0).sum(),
        last_period=a.filter(day >= last_from).sum(),
        prev_period=a.filter((day >= prev_from) & (day < last_from)).sum(),
        profit=(a - pl.col("cost")).sum(),
        day=day.filter(a > 0).min(),
        due=pl.col("due_date").min(),
        paid=pl.col("paid_date").max(),
        rows=pl.len(),
    )
    i = pl.col
    paid_known = i("paid").is_not_null() & (i("paid") < as_of)
    due_passed = i("due").is_not_null() & (i("due") < as_of)
    billed = i("amount") > 0
    customers = invoices.group_by("customer_id").agg(
        frequency=i("day").count(),
        purchase_days=i("day").n_unique(),
        first=i("day").min(),
        last=i("day").max(),
        monetary=i("amount").sum(),
        gross=i("gross").sum(),
        returned=i("returned").sum(),
        last_period=i("last_period").sum(),
        prev_period=i("prev_period").sum(),
        profit=i("profit").sum(),
        rows=i("rows").sum(),
        invoices_due=(billed & (paid_known | due_passed)).sum(),
        on_time=(billed & paid_known & (i("paid") <= i("due"))).sum(),
        overdue=(billed & ~paid_known & due_passed).sum(),
        overdue_amount=i("amount").filter(billed & ~paid_known & due_passed).sum(),
    )
    return customers.filter(pl.col("frequency") > 0)


def main():
    path = sys.argv[1]
    as_of = dt.date.fromisoformat(sys.argv[2]) if len(sys.argv) > 2 else dt.date(2026, 1, 1)
    anon = AnonPeak()
    t = time.perf_counter()
    df = features(path, as_of).collect(engine="streaming")
    secs = time.perf_counter() - t
    peak_anon = anon.done()
    print(
        f"{path}: {df.height:,} customers in {secs:.2f} s; "
        f"peak RSS {status_kib('VmHWM') / 1024:.0f} MiB, peak anon {peak_anon:.0f} MiB"
    )


if __name__ == "__main__":
    main()
