"""Run nsm's generated SQL on DuckDB over CSV exports, writing each result as CSV.

    python run_duckdb.py EVENTS_CSV REVENUE_CSV SQL_FILE OUT_CSV [SQL_FILE OUT_CSV ...]

The events CSV becomes table `events` (timestamp as TIMESTAMPTZ, value as DOUBLE, every other column as
text) and the revenue CSV table `revenue`, in a session whose zone is New York. Used by tests/warehouse.rs.
"""
import sys

import duckdb


def main(argv):
    events, revenue, *pairs = argv
    if not pairs or len(pairs) % 2:
        sys.exit(__doc__)
    con = duckdb.connect()
    # A session zone far from UTC: the queries must bucket TIMESTAMPTZ instants in UTC anyway.
    con.execute("SET TimeZone = 'America/New_York'")
    con.execute(
        """CREATE TABLE events AS SELECT * FROM read_csv(?, header = true, quote = '"', escape = '"',
             all_varchar = true, types = {'timestamp': 'TIMESTAMPTZ', 'value': 'DOUBLE'})""",
        [events],
    )
    con.execute(
        "CREATE TABLE revenue AS SELECT * FROM read_csv(?, header = true, all_varchar = true)",
        [revenue],
    )
    for sql_file, out in zip(pairs[0::2], pairs[1::2]):
        with open(sql_file, encoding="utf-8") as f:
            query = f.read().strip().rstrip(";")
        con.execute(f"COPY ({query}) TO '{out}' (HEADER, DELIMITER ',')")


if __name__ == "__main__":
    main(sys.argv[1:])
