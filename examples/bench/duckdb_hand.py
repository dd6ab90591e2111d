"""DuckDB side of the speed benchmark, as an analyst writes it by hand: one temp table of the
events with their UTC day, then one query of CTEs with count(DISTINCT) and FILTER.

    python duckdb_hand.py EVENTS(.csv|.csv.gz|.parquet) SERIES_SQL OUT_CSV

SERIES_SQL is ignored (the same arguments as duckdb_series.py); the file's shape (id type,
timestamp shape) is read from shape.json beside it. Writes the 19 series of the benchmark's
nsm.toml as period,candidate,value. Definitions as nsm's: UTC days, ISO weeks (Monday to
Sunday) belonging to the month of their Thursday, a weekly series' monthly value the mean over
those weeks.
"""
import json
import os
import sys

import duckdb

events, _, out = sys.argv[1:4]
with open(os.path.join(os.path.dirname(events), "shape.json"), encoding="utf-8") as f:
    shape = json.load(f)
con = duckdb.connect()
con.execute("SET TimeZone = 'UTC'")
ids = "BIGINT" if shape["ids"] == "int" else "VARCHAR"
if events.endswith(".parquet"):
    source, day = f"read_parquet('{events}')", "CAST(timestamp AS DATE)"
else:
    epoch = shape["timestamp"] == "epoch_ms"
    ts_type = "BIGINT" if epoch else "TIMESTAMPTZ"
    source = (
        f"read_csv('{events}', header = true, columns = {{'timestamp': '{ts_type}', "
        f"'user_id': '{ids}', 'account_id': '{ids}', 'event': 'VARCHAR', 'value': 'DOUBLE'}})"
    )
    day = "CAST(epoch_ms(timestamp) AS DATE)" if epoch else "CAST(timestamp AS DATE)"
con.execute(
    f"CREATE TEMP TABLE e AS SELECT {day} AS day, user_id, "
    f"coalesce(account_id, user_id) AS account_id, event, value FROM {source}"
)
per_name = ",\n    ".join(
    f"count(*) FILTER (event = '{name}') AS n_{name}" for name in shape["events"]
)
series = ["events"] + [f"n_{name}" for name in shape["events"]] + [
    "active_users", "active_accounts", "value_total", "signup_users", "registered_users",
    "accounts_5plus_meetings",
]
query = f"""
WITH monthly AS (
  SELECT date_trunc('month', day) AS period,
    count(*) AS events,
    {per_name},
    count(DISTINCT user_id) AS active_users,
    count(DISTINCT account_id) AS active_accounts,
    sum(value) AS value_total,
    count(DISTINCT user_id) FILTER (event = 'signed_up') AS signup_users
  FROM e GROUP BY ALL
),
first_seen AS (
  SELECT date_trunc('month', min(day)) AS period FROM e GROUP BY user_id
),
registered AS (
  SELECT m.period, count(f.period) AS new_users FROM monthly m
  LEFT JOIN first_seen f ON f.period = m.period GROUP BY ALL
),
power_weeks AS (
  SELECT date_trunc('week', day) AS week FROM e WHERE event = 'meeting_booked'
  GROUP BY week, account_id HAVING count(*) >= 5
),
weekly AS (
  SELECT date_trunc('month', week + INTERVAL 3 DAY) AS period, count(*) AS accounts
  FROM power_weeks GROUP BY ALL
),
thursdays AS (
  SELECT date_trunc('month', d) AS period, count(*) AS weeks
  FROM generate_series((SELECT date_trunc('month', min(day)) FROM e),
    (SELECT date_trunc('month', max(day)) + INTERVAL 1 MONTH - INTERVAL 1 DAY FROM e),
    INTERVAL 1 DAY) t(d)
  WHERE isodow(d) = 4 GROUP BY ALL
)
SELECT m.*,
  sum(r.new_users) OVER (ORDER BY m.period) AS registered_users,
  coalesce(w.accounts, 0) / t.weeks AS accounts_5plus_meetings
FROM monthly m
JOIN registered r USING (period)
LEFT JOIN weekly w USING (period)
LEFT JOIN thursdays t USING (period)
"""
columns = ", ".join(f"CAST({name} AS DOUBLE) AS {name}" for name in series)
con.execute(
    f"COPY (UNPIVOT (SELECT period, {columns} FROM ({query})) ON {', '.join(series)} "
    f"INTO NAME candidate VALUE value) TO '{out}' (HEADER, DELIMITER ',')"
)
