#!/usr/bin/env bash
# Quarterly review of the example data: one report at each of four quarter ends, each compared
# with the quarter before (rank moves, score changes, verdict flips, new candidates).
#
#   examples/quarterly-review.sh [OUT_DIR] [html|markdown]
#
# Writes OUT_DIR/<quarter end>.html (or .md) and the JSON each next report compares with.
# NSM=path/to/nsm uses that binary instead of building the release one.
set -euo pipefail
cd "$(dirname "$0")/.."
out="${1:-quarterly-review}"
format="${2:-html}"
case "$format" in
  html) ext=html ;;
  markdown) ext=md ;;
  *) echo "format must be html or markdown, not '$format'" >&2; exit 2 ;;
esac
if [ -z "${NSM:-}" ]; then
  cargo build --release --locked --quiet
  NSM=target/release/nsm
fi
mkdir -p "$out"
previous=""
for end in 2024-09-30 2024-12-31 2025-03-31 2025-06-30; do
  args=(
    --events examples/saas/events.csv.gz
    --revenue examples/saas/revenue.csv
    --config examples/saas/nsm.toml
    --as-of "$end"
    --format "$format"
    --json "$out/$end.json"
    --output "$out/$end.$ext"
    --quiet
  )
  if [ -n "$previous" ]; then
    args+=(--compare "$previous")
  fi
  "$NSM" report "${args[@]}"
  echo "$out/$end.$ext${previous:+ (compared with $previous)}"
  previous="$out/$end.json"
done
