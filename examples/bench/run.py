"""The speed benchmark: nsm against what an analyst would run instead, on the same export.

    python examples/bench/run.py --rows 10000000 [--shapes int,uuid,skewed,offset,epoch]
        [--formats csv,csv.gz,parquet] [--runs 3] [--nsm target/release/nsm]
        [--dir target/bench] [--max-rss-gib 16]

For each shape (generate.py: integer ids, UUID ids, skewed accounts, timestamps with offsets,
epoch milliseconds) and each of its formats, four engines compute the same 19 monthly series:

    nsm             `nsm evaluate --format json`: the whole evaluation (both lead-test lines,
                    the churn test, the account line), not only the series
    DuckDB hand     duckdb_hand.py: a hand-written query (temp table, count(DISTINCT), FILTER)
    polars          polars_series.py: one lazy plan, collect_all on the streaming engine
    DuckDB nsm sql  duckdb_series.py: the SQL of `nsm sql --dialect duckdb` on the file

each as its own process, --runs times, taking turns (so that a slow spell of the shared
machine does not fall on one engine), sampling /proc/PID/status every 10 ms for the peak RSS
(VmHWM) and the peak anonymous memory (RssAnon: allocations, without the page cache of a
memory-mapped input). Before any time is printed, every engine's series are checked equal to
nsm's (counts exact, sums and means within 1e-9 relative; tests/warehouse/compare.py). Prints
one Markdown table per shape: median wall, range, CPU seconds (user + system), peaks, and
nsm's wall over each engine's. Data are generated once per shape and size under --dir.

Needs python with duckdb, polars and numpy (the README's benchmark line installs them), gzip,
and Linux (/proc).
"""
import argparse
import contextlib
import io
import json
import os
import statistics
import subprocess
import sys
import time

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(os.path.dirname(HERE))
sys.path.insert(0, os.path.join(ROOT, "tests", "warehouse"))
import compare  # noqa: E402  (tests/warehouse/compare.py)

# The formats of each shape: timestamps are typed in Parquet, so the timestamp shapes differ
# only as text.
FORMATS = {
    "int": ["csv", "csv.gz", "parquet"],
    "uuid": ["csv", "csv.gz", "parquet"],
    "skewed": ["csv", "parquet"],
    "offset": ["csv"],
    "epoch": ["csv"],
}
ENGINES = ["nsm", "DuckDB hand", "polars", "DuckDB nsm sql"]
SCRIPTS = {
    "DuckDB hand": "duckdb_hand.py",
    "polars": "polars_series.py",
    "DuckDB nsm sql": "duckdb_series.py",
}


def status_kib(pid, field):
    try:
        with open(f"/proc/{pid}/status", encoding="utf-8") as f:
            for line in f:
                if line.startswith(field):
                    return int(line.split()[1])
    except (OSError, ValueError):
        pass
    return 0


def measure(command, stdout, max_rss):
    """Run a command to its end, sampling its memory; stop it past max_rss bytes."""
    started = time.perf_counter()
    with open(stdout or os.devnull, "wb") as out:
        child = subprocess.Popen(command, stdout=out)
    peak_rss = peak_anon = 0
    stopped = False
    while True:
        pid, status, usage = os.wait4(child.pid, os.WNOHANG)
        if pid:
            break
        peak_rss = max(peak_rss, status_kib(child.pid, "VmHWM:"))
        peak_anon = max(peak_anon, status_kib(child.pid, "RssAnon:"))
        if peak_rss * 1024 > max_rss and not stopped:
            stopped = True
            child.kill()
        time.sleep(0.01)
    wall = time.perf_counter() - started
    child.returncode = os.waitstatus_to_exitcode(status)
    if child.returncode != 0 and not stopped:
        sys.exit(f"{' '.join(command)} failed with {child.returncode}")
    return {"wall": wall, "cpu": usage.ru_utime + usage.ru_stime, "peak_rss": peak_rss * 1024,
            "peak_anon": peak_anon * 1024, "stopped": stopped}


def gib(n):
    return f"{n / 2**30:.2f} GiB"


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--rows", type=lambda s: int(s.replace("_", "")), default=1_000_000)
    parser.add_argument("--shapes", default=",".join(FORMATS))
    parser.add_argument("--formats", default=None, help="only these formats")
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--nsm", default=os.path.join(ROOT, "target", "release", "nsm"))
    parser.add_argument("--dir", default=os.path.join(ROOT, "target", "bench"))
    parser.add_argument("--max-rss-gib", type=float, default=16.0)
    parser.add_argument("--engines", default=",".join(ENGINES))
    args = parser.parse_args()
    engines = args.engines.split(",")
    max_rss = int(args.max_rss_gib * 2**30)
    if not os.path.exists(args.nsm):
        sys.exit(f"no nsm binary at {args.nsm}: cargo build --release --locked")
    python = sys.executable
    for shape in args.shapes.split(","):
        data = os.path.join(args.dir, f"{shape}-{args.rows}")
        print(f"# generating {data}", file=sys.stderr, flush=True)
        # In its own process: this one stays small (a child's peak counts its parent's pages
        # until it starts its program).
        subprocess.run([python, os.path.join(HERE, "generate.py"), shape, str(args.rows), data],
                       check=True)
        sql = os.path.join(data, "series.sql")
        subprocess.run([args.nsm, "sql", "--dialect", "duckdb", "--table", "events",
                        "--config", os.path.join(data, "nsm.toml"), "--output", sql], check=True)
        formats = FORMATS[shape]
        if args.formats:
            formats = [f for f in formats if f in args.formats.split(",")]
        print(f"\n### Shape `{shape}`, {args.rows:,} events\n")
        print(f"| format | engine | wall (s), median of {args.runs} | range (s) | CPU (s) "
              "| peak RSS | peak RssAnon | nsm / engine |")
        print("|---|---|---|---|---|---|---|---|")
        for fmt in formats:
            events = os.path.join(data, f"events.{fmt}")
            outputs = {e: os.path.join(data, f"out-{e.replace(' ', '-')}-{fmt}.csv")
                       for e in engines}
            nsm_json = os.path.join(data, f"nsm-{fmt}.json")
            runs = {e: [] for e in engines}
            for _ in range(args.runs):
                for engine in engines:
                    if engine == "nsm":
                        command = [args.nsm, "evaluate", "--quiet", "--format", "json",
                                   "--events", events, "--revenue",
                                   os.path.join(data, "revenue.csv"),
                                   "--config", os.path.join(data, "nsm.toml")]
                        stdout = nsm_json
                    else:
                        command = [python, os.path.join(HERE, SCRIPTS[engine]), events, sql,
                                   outputs[engine]]
                        stdout = None
                    runs[engine].append(measure(command, stdout, max_rss))
                    print(f"# {shape} {fmt} {engine}: {runs[engine][-1]['wall']:.2f} s",
                          file=sys.stderr, flush=True)
            if "nsm" in engines:
                for engine in engines[1:] if engines[0] == "nsm" else engines:
                    if engine == "nsm" or any(r["stopped"] for r in runs[engine]):
                        continue
                    report = io.StringIO()
                    with contextlib.redirect_stdout(report):
                        failed = compare.main(outputs[engine], nsm_json)
                    if failed:
                        sys.exit(f"{engine} and nsm disagree on {events}:\n{report.getvalue()}")
            nsm_wall = statistics.median(r["wall"] for r in runs["nsm"]) if "nsm" in runs else None
            for engine in engines:
                measured = runs[engine]
                walls = sorted(r["wall"] for r in measured)
                wall = statistics.median(walls)
                cpu = statistics.median(r["cpu"] for r in measured)
                ratio = "" if engine == "nsm" or nsm_wall is None else f"{nsm_wall / wall:.2f}"
                if any(r["stopped"] for r in measured):
                    wall_text, ratio = f"stopped at {args.max_rss_gib:.0f} GiB", ""
                else:
                    wall_text = f"{wall:.2f}"
                print(f"| {fmt} | {engine} | {wall_text} | {walls[0]:.2f}–{walls[-1]:.2f} | "
                      f"{cpu:.1f} | {gib(max(r['peak_rss'] for r in measured))} | "
                      f"{gib(max(r['peak_anon'] for r in measured))} | {ratio} |", flush=True)
            with open(os.path.join(data, f"runs-{fmt}.json"), "w", encoding="utf-8") as f:
                json.dump(runs, f, indent=1)
    print("\nEvery engine's series equal nsm's (counts exact, sums and means within 1e-9).")


if __name__ == "__main__":
    main()
