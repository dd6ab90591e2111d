"""DuckDB side of the benchmark: the series query of `nsm sql --dialect duckdb` over a file.

    python duckdb_series.py EVENTS(.csv|.parquet) SERIES_SQL OUT_CSV

The file is read in place through a view (CSV with explicit column types), so the time includes
the scan, as nsm's does.
"""
import sys

import duckdb

events, sql_file, out = sys.argv[1:4]
con = duckdb.connect()
if events.endswith(".parquet"):
    source = f"read_parquet('{events}')"
else:
    source = (
        f"read_csv('{events}', header = true, columns = {{'timestamp': 'TIMESTAMPTZ', "
        "'user_id': 'VARCHAR', 'account_id': 'VARCHAR', 'event': 'VARCHAR', 'value': 'DOUBLE'})"
    )
con.execute(f"CREATE VIEW events AS SELECT * FROM {source}")
with open(sql_file, encoding="utf-8") as f:
    query = f.read().strip().rstrip(";")
con.execute(f"COPY ({query}) TO '{out}' (HEADER, DELIMITER ',')")
