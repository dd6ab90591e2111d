"""Events and per-customer revenue for 200,000 paying accounts, for timing the account stage.

    python examples/bench/many_accounts.py N_EVENTS OUT_DIR

Writes OUT_DIR/events.csv (N_EVENTS rows over 36 months from 2022-01-01, 800,000 users, four
per account, twelve event names with skewed frequencies, a value on ~54% of rows) and
OUT_DIR/revenue.csv (every account pays 100-160 a month from a random month for 3-39 months).
Seeded: the same arguments give the same files. Needs numpy and polars.
"""
import os
import sys

import numpy as np
import polars as pl


def main(n, out):
    os.makedirs(out, exist_ok=True)
    rng = np.random.default_rng(7)
    accounts, users = 200_000, 800_000
    start = np.datetime64("2022-01-01T00:00:00", "s")
    seconds = np.sort(rng.integers(0, 36 * 30 * 86400, n))
    user = rng.integers(0, users, n)
    names = np.array(["login", "page_view", "meeting_booked", "task_done", "invite_sent",
                      "report_run", "file_upload", "comment", "search", "export",
                      "settings_change", "signup"])
    weights = np.array([30, 25, 10, 8, 3, 5, 4, 6, 5, 2, 1, 1], float)
    event = rng.choice(len(names), n, p=weights / weights.sum())
    value = np.where(rng.random(n) < 0.54, np.round(rng.random(n) * 10000) / 100, np.nan)
    frame = pl.DataFrame({
        "timestamp": (start + seconds).astype("datetime64[ms]"),
        "user_id": user,
        "account_id": user // 4,
        "event": names[event],
        "value": value,
    }).with_columns(pl.col("timestamp").dt.strftime("%Y-%m-%dT%H:%M:%SZ"),
                    pl.col("value").fill_nan(None))
    frame.write_csv(f"{out}/events.csv")
    first = rng.integers(0, 30, accounts)
    months = rng.integers(3, 40, accounts)
    rows = [(f"{2022 + m // 12:04d}-{m % 12 + 1:02d}-05", a, 100 + a % 7 * 10)
            for a in range(accounts) for m in range(first[a], min(first[a] + months[a], 36))]
    pl.DataFrame(rows, schema=["date", "customer_id", "amount"], orient="row").write_csv(
        f"{out}/revenue.csv")


if __name__ == "__main__":
    if len(sys.argv) != 3:
        sys.exit(__doc__)
    main(int(sys.argv[1]), sys.argv[2])
