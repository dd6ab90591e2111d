"""Run the SQL of `nsm sql --dialect spark` on a local Spark and compare every series with nsm's
own evaluation of the same events.

    pip install pyspark            # Java 17 on the PATH
    python examples/warehouse/check_spark.py [DATA_DIR] [month|week]

DATA_DIR holds events.csv, revenue.csv and nsm.toml (default: the demo dataset, written by
`nsm demo --write-data`). NSM=path/to/nsm uses that binary (default: target/release/nsm).
"""
import csv
import os
import pathlib
import subprocess
import sys
import tempfile
import time

from pyspark.sql import SparkSession
from pyspark.sql.types import DoubleType, StringType, StructField, StructType, TimestampType

ROOT = pathlib.Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT / "tests" / "warehouse"))
import compare  # noqa: E402


def main():
    nsm = os.environ.get("NSM", str(ROOT / "target" / "release" / "nsm"))
    period = sys.argv[2] if len(sys.argv) > 2 else "month"
    work = pathlib.Path(tempfile.mkdtemp())
    data = pathlib.Path(sys.argv[1]) if len(sys.argv) > 1 else work / "demo"
    if len(sys.argv) < 2:
        subprocess.run([nsm, "demo", "--quiet", "--write-data", str(data)], check=True, stdout=subprocess.DEVNULL)
    query = subprocess.run(
        [nsm, "sql", "--dialect", "spark", "--config", str(data / "nsm.toml"), "--table", "events", "--period", period],
        check=True, capture_output=True, text=True,
    ).stdout
    with open(work / "nsm.json", "w") as f:
        subprocess.run(
            [nsm, "evaluate", "--events", str(data / "events.csv"), "--revenue", str(data / "revenue.csv"),
             "--config", str(data / "nsm.toml"), "--period", period, "--format", "json", "--quiet"],
            check=True, stdout=f,
        )
    spark = (SparkSession.builder.master("local[2]").appName("nsm-check")
             .config("spark.sql.session.timeZone", "UTC").config("spark.ui.enabled", "false").config("spark.ui.showConsoleProgress", "false").getOrCreate())
    spark.sparkContext.setLogLevel("ERROR")
    schema = StructType([
        StructField("timestamp", TimestampType()), StructField("user_id", StringType()),
        StructField("account_id", StringType()), StructField("event", StringType()),
        StructField("value", DoubleType()),
    ])
    events = spark.read.csv(str(data / "events.csv"), header=True, schema=schema, escape='"', multiLine=True)
    events.createOrReplaceTempView("events")
    start = time.time()
    rows = spark.sql(query.strip().rstrip(";")).collect()
    print(f"Spark {spark.version} ran the series query in {time.time() - start:.1f} s ({len(rows)} rows)")
    with open(work / "series.csv", "w", newline="") as f:
        out = csv.writer(f)
        out.writerow(["period", "candidate", "value"])
        for row in rows:
            out.writerow([row["period"].isoformat(), row["candidate"], repr(row["value"])])
    spark.stop()
    return compare.main(str(work / "series.csv"), str(work / "nsm.json"), period == "week")


if __name__ == "__main__":
    sys.exit(main())
