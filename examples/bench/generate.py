"""Seeded event exports in the shapes analysts bring, for the speed benchmark (run.py).

    python examples/bench/generate.py SHAPE ROWS OUT_DIR

Every shape: ROWS events sorted by time over 36 months from 2022-01-01, ROWS/200 users, about
ten users per account, twelve event names with skewed frequencies (each name 0.75 times as
frequent as the one before), a value (cents) on about 54% of rows; per-customer revenue for
every tenth account; the 19-candidate nsm.toml below. Each shape has its own seed:

    int       integer ids, timestamps 2022-01-01T00:00:09Z                      seed 1
    uuid      UUID ids (36 characters, as Segment and Amplitude carry), Z       seed 2
    skewed    integer ids, account sizes Zipf-like (the largest accounts hold
              most of the events), Z                                            seed 3
    offset    integer ids, Spark's 2022-01-01T01:00:09.123+01:00 (the offset
              of Europe/Berlin at the instant)                                  seed 4
    epoch     integer ids, epoch milliseconds                                   seed 5

Writes OUT_DIR/events.csv, events.csv.gz (gzip -6), events.parquet (timestamp[ms, UTC],
as pandas, Spark, BigQuery and DuckDB write a zoned timestamp), revenue.csv, nsm.toml and
shape.json (what the engines need to know to read the files), then OUT_DIR/complete. The same
arguments give the same files. Needs numpy and polars.
"""
import json
import os
import subprocess
import sys

import numpy as np
import polars as pl

SHAPES = {
    "int": {"seed": 1, "ids": "int", "timestamp": "z"},
    "uuid": {"seed": 2, "ids": "uuid", "timestamp": "z"},
    "skewed": {"seed": 3, "ids": "int", "timestamp": "z", "skewed": True},
    "offset": {"seed": 4, "ids": "int", "timestamp": "offset"},
    "epoch": {"seed": 5, "ids": "int", "timestamp": "epoch_ms"},
}

# Most frequent first.
EVENTS = [
    "page_viewed", "dashboard_viewed", "meeting_booked", "search_run", "comment_added",
    "file_uploaded", "report_exported", "settings_changed", "invite_sent", "export_scheduled",
    "signed_up", "integration_added",
]

# strptime formats of the text shapes (polars and DuckDB read them with these).
TIMESTAMP_FORMATS = {"z": "%Y-%m-%dT%H:%M:%SZ", "offset": "%Y-%m-%dT%H:%M:%S%.3f%:z"}


def config():
    """The 19 candidates: events, events per name, active users and accounts, value sum,
    users with a signup, registered users, accounts with 5+ meetings in an ISO week."""
    blocks = [("events", "event_count", {})]
    blocks += [(f"n_{e}", "event_count", {"event": e}) for e in EVENTS]
    blocks += [
        ("active_users", "active_entities", {"entity": "user"}),
        ("active_accounts", "active_entities", {"entity": "account"}),
        ("value_total", "value_sum", {}),
        ("signup_users", "active_entities", {"entity": "user", "event": "signed_up"}),
        ("registered_users", "cumulative_entities", {"entity": "user"}),
        ("accounts_5plus_meetings", "threshold_entities",
         {"entity": "account", "event": "meeting_booked", "window": "week", "min_count": 5,
          "rollup": "mean"}),
    ]
    text = "# The 19 candidates of the speed benchmark (examples/bench/generate.py).\n"
    for name, kind, fields in blocks:
        text += f'\n[[candidate]]\nname = "{name}"\nkind = "{kind}"\n'
        for key, value in fields.items():
            text += f"{key} = {json.dumps(value)}\n"
    return text


def uuids(rng, n):
    """n distinct random UUID-like texts (8-4-4-4-12 hex digits)."""
    raw = rng.integers(0, 256, size=(n, 16), dtype=np.uint8)
    hexed = [bytes(row).hex() for row in raw]
    out = [f"{h[:8]}-{h[8:12]}-{h[12:16]}-{h[16:20]}-{h[20:]}" for h in hexed]
    assert len(set(out)) == n
    return out


def main(shape_name, rows, out):
    shape = SHAPES[shape_name]
    if os.path.exists(f"{out}/complete"):
        return
    os.makedirs(out, exist_ok=True)
    rng = np.random.default_rng(shape["seed"])
    users = max(rows // 200, 10)
    accounts = max(users // 10, 1)
    if shape.get("skewed"):
        # Account sizes ~ 1/rank: the largest 1% of accounts hold about half of the users.
        weights = 1.0 / np.arange(1, accounts + 1)
        account_of_user = rng.choice(accounts, users, p=weights / weights.sum())
    else:
        account_of_user = rng.integers(0, accounts, users)
    span_ms = 36 * 30 * 86_400 * 1000
    start_ms = int(np.datetime64("2022-01-01T00:00:00", "ms").astype(np.int64))
    ms = np.sort(rng.integers(0, span_ms, rows)) + start_ms
    if shape["timestamp"] == "z":
        ms -= ms % 1000
    user = rng.integers(0, users, rows)
    p = 0.75 ** np.arange(len(EVENTS))
    event = rng.choice(len(EVENTS), rows, p=p / p.sum())
    value = np.where(rng.random(rows) < 0.54, np.round(rng.random(rows) * 10000) / 100, np.nan)

    if shape["ids"] == "int":
        user_ids = pl.Series("user_id", user + 100_000)
        account_ids = pl.Series("account_id", account_of_user[user] + 1_000)
        customer_ids = [str(a + 1_000) for a in range(accounts)]
    else:
        user_texts = pl.Series("user_id", uuids(rng, users))
        account_texts = pl.Series("account_id", uuids(rng, accounts))
        user_ids = user_texts.gather(user)
        account_ids = account_texts.gather(account_of_user[user])
        customer_ids = account_texts.to_list()
    frame = pl.DataFrame({
        "timestamp": pl.Series(ms).cast(pl.Datetime("ms")).dt.replace_time_zone("UTC"),
        "user_id": user_ids,
        "account_id": account_ids,
        "event": pl.Series(np.array(EVENTS)[event]),
        "value": pl.Series(value).fill_nan(None),
    })
    del user, event, value, ms
    frame.write_parquet(f"{out}/events.parquet", row_group_size=1_000_000)
    if shape["timestamp"] == "epoch_ms":
        ts = pl.col("timestamp").dt.epoch("ms")
    elif shape["timestamp"] == "offset":
        ts = pl.col("timestamp").dt.convert_time_zone("Europe/Berlin").dt.strftime(
            TIMESTAMP_FORMATS["offset"])
    else:
        ts = pl.col("timestamp").dt.strftime(TIMESTAMP_FORMATS["z"])
    frame.with_columns(ts).write_csv(f"{out}/events.csv")
    del frame
    with open(f"{out}/events.csv.gz", "wb") as gz:
        subprocess.run(["gzip", "-6", "-c", f"{out}/events.csv"], stdout=gz, check=True)

    # Every tenth account pays 100-160 a month from a random month for 3-39 months.
    first = rng.integers(0, 30, accounts)
    months = rng.integers(3, 40, accounts)
    with open(f"{out}/revenue.csv", "w", encoding="utf-8") as f:
        f.write("date,customer_id,amount\n")
        for a in range(0, accounts, 10):
            for m in range(first[a], min(first[a] + months[a], 36)):
                f.write(f"{2022 + m // 12:04d}-{m % 12 + 1:02d}-05,{customer_ids[a]},{100 + a % 7 * 10}\n")
    with open(f"{out}/nsm.toml", "w", encoding="utf-8") as f:
        f.write(config())
    with open(f"{out}/shape.json", "w", encoding="utf-8") as f:
        json.dump({"shape": shape_name, "rows": rows, **shape,
                   "timestamp_format": TIMESTAMP_FORMATS.get(shape["timestamp"]),
                   "events": EVENTS}, f, indent=1)
    open(f"{out}/complete", "w").close()


if __name__ == "__main__":
    if len(sys.argv) != 4 or sys.argv[1] not in SHAPES:
        sys.exit(__doc__)
    main(sys.argv[1], int(sys.argv[2].replace("_", "")), sys.argv[3])
