"""Vendor JSON exports: nsm reading a Segment export directly, against the route an analyst
takes without that (DuckDB converting the JSON to CSV, then nsm on the CSV), and against nsm
on the same events as CSV.

    .venv/bin/pip install duckdb==2.0.1
    cargo build --release --locked
    .venv/bin/python examples/bench/vendor_json.py --rows 2000000 [--runs 3] [--dir target/bench/vendor]

Writes (once per size) a seeded Segment export (JSON lines: track calls with messageId, userId,
context.groupId, properties.duration on every other event) and the same events as CSV; checks
that the two evaluations give the same candidates before timing; prints the median wall time
and peak RSS (GNU time's %M) of each route over interleaved runs.
"""

import argparse
import json
import os
import random
import statistics
import subprocess
import sys
import datetime as dt
from pathlib import Path

NAMES = ["meeting", "view", "message", "signup", "invite", "export"]
CONFIG = """[events]
format = "segment"
value = "duration"
"""


def generate(directory: Path, rows: int):
    jsonl, csv = directory / "segment.jsonl", directory / "events.csv"
    if jsonl.exists() and csv.exists():
        return jsonl, csv
    random.seed(1)
    start = dt.datetime(2022, 1, 1, tzinfo=dt.timezone.utc)
    with open(csv, "w") as c, open(jsonl, "w") as j:
        c.write("timestamp,user_id,account_id,event,value\n")
        for i in range(rows):
            t = start + dt.timedelta(seconds=random.randrange(36 * 30 * 86400))
            ts = t.strftime("%Y-%m-%dT%H:%M:%SZ")
            u = random.randrange(20000)
            a = u // 10
            e = random.choice(NAMES)
            v = round(random.random() * 60, 1) if i % 2 else None
            c.write(f"{ts},u{u},a{a},{e},{'' if v is None else v}\n")
            record = {
                "type": "track", "event": e, "messageId": f"m{i}", "userId": f"u{u}",
                "anonymousId": f"anon{u}", "timestamp": ts, "receivedAt": ts,
                "context": {"groupId": f"a{a}", "library": {"name": "analytics.js", "version": "4.1.0"}, "ip": "1.2.3.4"},
                "properties": {} if v is None else {"duration": v},
            }
            j.write(json.dumps(record, separators=(",", ":")) + "\n")
    with open(directory / "revenue.csv", "w") as r:
        r.write("period,revenue\n")
        for m in range(36):
            r.write(f"{2022 + m // 12}-{m % 12 + 1:02d},{1000 + m * 10 + random.random() * 50:.2f}\n")
    (directory / "segment.toml").write_text(CONFIG)
    return jsonl, csv


def timed(command, stdout):
    """Wall seconds and peak RSS (MiB) of one run."""
    result = subprocess.run(["/usr/bin/time", "-f", "%e %M"] + command, stdout=stdout, stderr=subprocess.PIPE, text=True)
    if result.returncode != 0:
        sys.exit(f"{command[0]} failed: {result.stderr[-2000:]}")
    wall, kib = result.stderr.strip().splitlines()[-1].split()
    return float(wall), int(kib) / 1024


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--rows", type=int, default=2_000_000)
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--dir", default="target/bench/vendor")
    parser.add_argument("--nsm", default="target/release/nsm")
    args = parser.parse_args()
    directory = Path(args.dir) / str(args.rows)
    directory.mkdir(parents=True, exist_ok=True)
    jsonl, csv = generate(directory, args.rows)
    revenue = directory / "revenue.csv"
    converted = directory / "converted.csv"
    common = ["evaluate", "--revenue", str(revenue), "--format", "json", "--quiet"]
    json_route = [args.nsm, *common, "--events", str(jsonl), "--config", str(directory / "segment.toml")]
    csv_route = [args.nsm, *common, "--events", str(csv)]
    convert = [
        sys.executable, "-c",
        "import duckdb,sys; duckdb.sql(\"COPY (SELECT timestamp, userId AS user_id, context.groupId AS account_id, "
        "event, properties.duration AS value FROM read_json('\" + sys.argv[1] + \"', format='newline_delimited')) "
        "TO '\" + sys.argv[2] + \"' (HEADER)\")",
        str(jsonl), str(converted),
    ]
    converted_route = [args.nsm, *common, "--events", str(converted)]
    # The same candidates, whatever the route (data.notes differ: they say how it was read).
    outputs = {}
    for name, command in [("json", json_route), ("csv", csv_route)]:
        outputs[name] = json.loads(subprocess.run(command, capture_output=True, text=True, check=True).stdout)
    subprocess.run(convert, check=True)
    outputs["converted"] = json.loads(subprocess.run(converted_route, capture_output=True, text=True, check=True).stdout)
    for name in ["csv", "converted"]:
        if outputs[name]["candidates"] != outputs["json"]["candidates"]:
            sys.exit(f"the {name} route gives other candidates than the JSON route")
    times = {"nsm on the Segment JSON": [], "DuckDB JSON -> CSV": [], "nsm on that CSV": [], "nsm on the generator's CSV": []}
    with open(os.devnull, "w") as sink:
        for _ in range(args.runs):
            times["nsm on the Segment JSON"].append(timed(json_route, sink))
            times["DuckDB JSON -> CSV"].append(timed(convert, sink))
            times["nsm on that CSV"].append(timed(converted_route, sink))
            times["nsm on the generator's CSV"].append(timed(csv_route, sink))
    print(f"{args.rows:,} events; JSON {jsonl.stat().st_size / 2**20:.0f} MiB, CSV {csv.stat().st_size / 2**20:.0f} MiB; median of {args.runs} interleaved runs")
    print("| route | wall (s) | peak RSS (MiB) |")
    print("|---|---|---|")
    medians = {}
    for name, runs in times.items():
        wall = statistics.median(r[0] for r in runs)
        rss = statistics.median(r[1] for r in runs)
        medians[name] = wall
        print(f"| {name} | {wall:.2f} | {rss:.0f} |")
    by_hand = medians["DuckDB JSON -> CSV"] + medians["nsm on that CSV"]
    print(f"nsm on the JSON / (DuckDB conversion + nsm on its CSV) = {medians['nsm on the Segment JSON'] / by_hand:.2f}")
    print(f"nsm on the JSON / nsm on the same events as CSV = {medians['nsm on the Segment JSON'] / medians['nsm on the generator' + chr(39) + 's CSV']:.2f}")


if __name__ == "__main__":
    main()
