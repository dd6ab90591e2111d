"""Compare a series CSV written by a warehouse (from `nsm sql`) with nsm's own evaluation.

    python compare.py SERIES_CSV EVALUATION_JSON [week]

Counts must agree exactly; sums, ratios and weekly means within 1e-9 relative. Prints one line
per candidate and exits 1 on any difference. Standard library only.
"""
import csv
import datetime
import json
import sys


def label(text, week):
    date = datetime.date.fromisoformat(text[:10])
    if week:
        year, number, _ = date.isocalendar()
        return f"{year:04d}-W{number:02d}"
    return date.strftime("%Y-%m")


def main(series_csv, evaluation_json, week=False):
    theirs = {}
    with open(series_csv, newline="", encoding="utf-8") as f:
        for row in csv.DictReader(f):
            theirs.setdefault(row["candidate"], {})[label(row["period"], week)] = float(row["value"])
    with open(evaluation_json, encoding="utf-8") as f:
        evaluation = json.load(f)
    failures = 0
    for candidate in evaluation["candidates"]:
        if candidate["kind"] == "revenue":
            continue
        name = candidate["name"]
        sums = candidate["kind"] in ("value_sum", "ratio") or "(mean over the period)" in candidate["description"]
        worst = 0.0
        for point in candidate["series"]:
            ours = point["value"]
            other = theirs.get(name, {}).get(point["period"], 0.0)
            if sums:
                scale = max(abs(ours), abs(other), 1e-300)
                worst = max(worst, abs(ours - other) / scale)
            elif ours != other:
                worst = float("inf")
                print(f"  {name} {point['period']}: nsm {ours}, warehouse {other}")
        ok = worst <= 1e-9
        failures += not ok
        how = "max relative difference %.1e" % worst if sums else "exact"
        print(f"{'ok  ' if ok else 'FAIL'} {name}: {len(candidate['series'])} periods, {how}")
    print(f"{failures} candidate(s) differ")
    return 1 if failures else 0


if __name__ == "__main__":
    if len(sys.argv) not in (3, 4):
        sys.exit(__doc__)
    sys.exit(main(sys.argv[1], sys.argv[2], len(sys.argv) == 4 and sys.argv[3] == "week"))
