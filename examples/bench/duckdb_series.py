"""DuckDB running the SQL that `nsm sql --dialect duckdb` writes, over the benchmark's file
(the route for data that a warehouse holds).

    python duckdb_series.py EVENTS(.csv|.csv.gz|.parquet) SERIES_SQL OUT_CSV

The file is read in place through a view (CSV with explicit column types; epoch milliseconds
as a timestamp, which the SQL expects), so the time includes the scan, as nsm's does. The
file's shape is read from shape.json beside it.
"""
import json
import os
import sys

import duckdb

events, sql_file, out = sys.argv[1:4]
with open(os.path.join(os.path.dirname(events), "shape.json"), encoding="utf-8") as f:
    shape = json.load(f)
con = duckdb.connect()
if events.endswith(".parquet"):
    source = f"SELECT * FROM read_parquet('{events}')"
else:
    ids = "BIGINT" if shape["ids"] == "int" else "VARCHAR"
    epoch = shape["timestamp"] == "epoch_ms"
    ts_type = "BIGINT" if epoch else "TIMESTAMPTZ"
    scan = (
        f"read_csv('{events}', header = true, columns = {{'timestamp': '{ts_type}', "
        f"'user_id': '{ids}', 'account_id': '{ids}', 'event': 'VARCHAR', 'value': 'DOUBLE'}})"
    )
    source = (
        f"SELECT * REPLACE (epoch_ms(timestamp) AS timestamp) FROM {scan}" if epoch
        else f"SELECT * FROM {scan}"
    )
con.execute(f"CREATE VIEW events AS {source}")
with open(sql_file, encoding="utf-8") as f:
    query = f.read().strip().rstrip(";")
con.execute(f"COPY ({query}) TO '{out}' (HEADER, DELIMITER ',')")
