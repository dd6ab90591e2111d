#!/usr/bin/env bash
# Run the SQL of `nsm sql --dialect postgres` on a real PostgreSQL server and compare every
# series with nsm's own evaluation of the same events.
#
#   examples/warehouse/check_postgres.sh [DATA_DIR] [month|week]
#
# DATA_DIR holds events.csv, revenue.csv and nsm.toml (default: the demo dataset, written by
# `nsm demo --write-data`). Connects with psql's usual environment (PGHOST, PGUSER, PGDATABASE,
# ...). NSM=path/to/nsm uses that binary instead of building the release one.
set -euo pipefail
cd "$(dirname "$0")/../.."
if [ -z "${NSM:-}" ]; then
  cargo build --release --locked --quiet
  NSM=target/release/nsm
fi
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
data="${1:-$work/demo}"
period="${2:-month}"
[ -n "${1:-}" ] || "$NSM" demo --quiet --write-data "$data" > /dev/null
"$NSM" sql --dialect postgres --config "$data/nsm.toml" --table nsm_check.events \
  --period "$period" > "$work/series.sql"
psql -v ON_ERROR_STOP=1 -q <<SQL
DROP SCHEMA IF EXISTS nsm_check CASCADE;
CREATE SCHEMA nsm_check;
CREATE TABLE nsm_check.events ("timestamp" TIMESTAMPTZ, user_id TEXT, account_id TEXT, event TEXT, value DOUBLE PRECISION);
\copy nsm_check.events FROM '$data/events.csv' WITH (FORMAT csv, HEADER true)
SQL
start=$(date +%s.%N)
psql -v ON_ERROR_STOP=1 -q -c "\copy ($(sed 's/;$//' "$work/series.sql" | grep -v '^--' | tr '\n' ' ')) TO '$work/series.csv' WITH (FORMAT csv, HEADER true)"
end=$(date +%s.%N)
echo "PostgreSQL ran the series query in $(echo "$end - $start" | bc) s"
"$NSM" evaluate --events "$data/events.csv" --revenue "$data/revenue.csv" --config "$data/nsm.toml" \
  --period "$period" --format json --quiet > "$work/nsm.json"
psql -q -c "DROP SCHEMA nsm_check CASCADE"
python3 tests/warehouse/compare.py "$work/series.csv" "$work/nsm.json" "$period"
