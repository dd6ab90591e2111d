"""polars (Python) side of the speed benchmark: the 19 series of the benchmark's nsm.toml in
one lazy plan, collected with collect_all on the streaming engine.

    python polars_series.py EVENTS(.csv|.csv.gz|.parquet) SERIES_SQL OUT_CSV

SERIES_SQL is ignored (the same arguments as duckdb_series.py); the file's shape (id type,
timestamp shape) is read from shape.json beside it. Definitions as nsm's: UTC days, ISO weeks
(Monday to Sunday) belonging to the month of their Thursday, a weekly series' monthly value
the mean over those weeks.
"""
import json
import os
import sys

import polars as pl

events, _, out = sys.argv[1:4]
with open(os.path.join(os.path.dirname(events), "shape.json"), encoding="utf-8") as f:
    shape = json.load(f)
ids = pl.Int64 if shape["ids"] == "int" else pl.String
if events.endswith(".parquet"):
    lf = pl.scan_parquet(events)
    ts = pl.col("timestamp")
else:
    epoch = shape["timestamp"] == "epoch_ms"
    schema = {"timestamp": pl.Int64 if epoch else pl.String, "user_id": ids,
              "account_id": ids, "event": pl.String, "value": pl.Float64}
    lf = pl.scan_csv(events, schema=schema)
    if epoch:
        ts = pl.from_epoch(pl.col("timestamp"), time_unit="ms")
    else:
        ts = pl.col("timestamp").str.to_datetime(
            shape["timestamp_format"], time_unit="ms", time_zone="UTC")

day = ts.dt.date()
base = lf.select(
    day.alias("day"),
    pl.col("user_id"),
    pl.col("account_id").fill_null(pl.col("user_id")),
    pl.col("event"),
    pl.col("value"),
).with_columns(
    pl.col("day").dt.truncate("1w").alias("week"),
    pl.col("day").dt.truncate("1mo").alias("month"),
).cache()  # one scan for the three outputs below (collect_all does not share it otherwise)


def named(frame, name):
    return frame.select("month", pl.col("value").cast(pl.Float64), candidate=pl.lit(name))


monthly = base.group_by("month").agg(
    [pl.len().alias("events")]
    + [(pl.col("event") == e).sum().alias(f"n_{e}") for e in shape["events"]]
    + [
        pl.col("user_id").n_unique().alias("active_users"),
        pl.col("account_id").n_unique().alias("active_accounts"),
        pl.col("value").sum().alias("value_total"),
        pl.col("user_id").filter(pl.col("event") == "signed_up").n_unique().alias("signup_users"),
    ]
)
firsts = base.group_by("user_id").agg(pl.col("month").min())
registered = (
    monthly.select("month")
    .join(firsts.group_by("month").agg(pl.len().alias("new")), on="month", how="left")
    .fill_null(0)
    .sort("month")
    .select("month", pl.col("new").cum_sum().alias("value"))
)
power_weeks = (
    base.filter(pl.col("event") == "meeting_booked")
    .group_by("week", "account_id").agg(pl.len().alias("n"))
    .filter(pl.col("n") >= 5)
    .group_by("week").agg(pl.len().alias("accounts"))
    .with_columns(month=pl.col("week").dt.offset_by("3d").dt.truncate("1mo"))
    .group_by("month").agg(pl.col("accounts").sum())
)
# Thursdays are the days divisible by 7 since 1970-01-01 (a Thursday); each month's count.
thursdays = ((pl.col("month").dt.offset_by("1mo").cast(pl.Int32) - 1) // 7) - (
    (pl.col("month").cast(pl.Int32) - 1) // 7)
weekly = (
    monthly.select("month")
    .join(power_weeks, on="month", how="left")
    .fill_null(0)
    .select("month", (pl.col("accounts") / thursdays).alias("value"))
)
frames = pl.collect_all([monthly, registered, weekly], engine="streaming")
wide, registered, weekly = frames
series = [c for c in wide.columns if c != "month"]
long = wide.unpivot(index="month", on=series, variable_name="candidate", value_name="value")
result = pl.concat([
    long.select("month", "candidate", pl.col("value").cast(pl.Float64)),
    named(registered, "registered_users").select("month", "candidate", "value"),
    named(weekly, "accounts_5plus_meetings").select("month", "candidate", "value"),
])
result.rename({"month": "period"}).sort("candidate", "period").write_csv(out)
