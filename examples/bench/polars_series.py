"""polars (Python) side of the benchmark: the 12 series of the benchmark config in one lazy plan,
collected with collect_all on the streaming engine.

    python polars_series.py EVENTS(.csv|.parquet) SERIES_SQL OUT_CSV

SERIES_SQL is ignored (the same arguments as duckdb_series.py). Definitions as nsm's: UTC days,
ISO weeks (Monday to Sunday) belonging to the month of their Thursday, values summed in whole
millionths.
"""
import sys

import polars as pl

events, _, out = sys.argv[1:4]
if events.endswith(".parquet"):
    lf = pl.scan_parquet(events)
    ts = pl.col("timestamp")
else:
    schema = {"timestamp": pl.String, "user_id": pl.String, "account_id": pl.String,
              "event": pl.String, "value": pl.Float64}
    lf = pl.scan_csv(events, schema=schema)
    ts = pl.col("timestamp").str.to_datetime("%Y-%m-%dT%H:%M:%SZ", time_unit="ms", time_zone="UTC")

day = (ts.dt.epoch("s") // 86400).cast(pl.Int32)
base = lf.select(
    day.alias("day"),
    pl.col("user_id"),
    pl.col("account_id").fill_null(pl.col("user_id")),
    pl.col("event"),
    (pl.col("value") * 1_000_000 + 0.5).floor().alias("micro"),
).with_columns(
    ((pl.col("day") + 3) // 7).alias("week"),
    pl.col("day").cast(pl.Date).dt.truncate("1mo").alias("month"),
)
meet = base.filter(pl.col("event") == "meeting_booked")


def count(frame, name):
    return frame.group_by("month").agg(pl.len().cast(pl.Float64).alias("value")).with_columns(candidate=pl.lit(name))


def weekly_mean(weekly, name):
    # Weeks belong to the month of their Thursday (day 7w); divide by that month's Thursdays.
    thursday = (pl.col("week") * 7).cast(pl.Date)
    return (
        weekly.with_columns(month=thursday.dt.truncate("1mo"))
        .group_by("month")
        .agg(pl.col("value").sum())
        .with_columns(
            # Thursdays are the days divisible by 7 (1970-01-01 was one).
            value=pl.col("value") / (
                ((pl.col("month").dt.offset_by("1mo").cast(pl.Int32) - 1) // 7)
                - ((pl.col("month").cast(pl.Int32) - 1) // 7)
            ),
            candidate=pl.lit(name),
        )
    )


firsts = base.group_by("user_id").agg(pl.col("month").min())
new_users = firsts.group_by("month").agg(pl.len().cast(pl.Float64).alias("value"))
plans = [
    count(base, "events"),
    count(meet, "meetings"),
    count(base.filter(pl.col("event") == "page_viewed"), "page_views"),
    count(base.filter(pl.col("event") == "signed_up"), "signups"),
    base.group_by("month").agg(pl.col("user_id").n_unique().cast(pl.Float64).alias("value")).with_columns(candidate=pl.lit("active_users")),
    base.group_by("month").agg(pl.col("account_id").n_unique().cast(pl.Float64).alias("value")).with_columns(candidate=pl.lit("active_accounts")),
    meet.group_by("month").agg((pl.col("micro").sum() / 1_000_000).alias("value")).with_columns(candidate=pl.lit("meeting_minutes")),
    base.group_by("month").agg((pl.col("micro").sum() / 1_000_000).alias("value")).with_columns(candidate=pl.lit("value_total")),
    new_users.with_columns(candidate=pl.lit("new_users")),
    # Every month with events, so that months without new users still carry the running count.
    base.select("month").unique().join(new_users, on="month", how="left").fill_null(0.0)
    .sort("month").with_columns(pl.col("value").cum_sum(), candidate=pl.lit("registered_users")),
    weekly_mean(
        meet.group_by("week", "account_id").agg(pl.len().alias("n")).filter(pl.col("n") >= 5)
        .group_by("week").agg(pl.len().cast(pl.Float64).alias("value")),
        "accounts_5plus_meetings",
    ),
    weekly_mean(
        base.group_by("week").agg(pl.col("user_id").n_unique().cast(pl.Float64).alias("value")),
        "weekly_active_users",
    ),
]
frames = pl.collect_all(plans, engine="streaming")
series = pl.concat([f.select("month", "candidate", "value") for f in frames])
series.rename({"month": "period"}).sort("candidate", "period").write_csv(out)
