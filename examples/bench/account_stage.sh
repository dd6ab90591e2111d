#!/bin/sh
# What the account line adds to a run: the same evaluation with and without it, interleaved.
#
#   python examples/bench/many_accounts.py 50000000 /tmp/many50     # numpy and polars
#   examples/bench/account_stage.sh /tmp/many50 3 [target/release/nsm]
#
# Runs `nsm evaluate` on DIR/events.csv and DIR/revenue.csv RUNS times with the account line
# and RUNS times with NSM_SKIP_ACCOUNT_LINE=1 (a benchmark switch: everything else, including
# the per-customer churn test, stays), alternating, and prints each run's wall and CPU seconds
# and peak RSS, then the medians and their ratio. Needs GNU time (/usr/bin/time) and awk.
set -eu
dir=$1
runs=${2:-3}
nsm=${3:-target/release/nsm}
out=$(mktemp -d)
trap 'rm -rf "$out"' EXIT
run() {
    label=$1
    shift
    env "$@" /usr/bin/time -f "%e %U %S %M" -o "$out/time" "$nsm" evaluate \
        --events "$dir/events.csv" --revenue "$dir/revenue.csv" --format json --quiet \
        --output "$out/$label.json"
    read -r wall user sys rss < "$out/time"
    cpu=$(awk -v u="$user" -v s="$sys" 'BEGIN {print u + s}')
    echo "$label $wall $cpu $rss" | tee -a "$out/runs"
}
i=0
while [ "$i" -lt "$runs" ]; do
    run with NSM_TIMINGS=0
    run without NSM_SKIP_ACCOUNT_LINE=1
    i=$((i + 1))
done
median() {
    grep "^$1 " "$out/runs" | awk -v c="$2" '{print $c}' | sort -n | awk '{v[NR]=$1} END {print (NR % 2) ? v[(NR+1)/2] : (v[NR/2]+v[NR/2+1])/2}'
}
for label in with without; do
    echo "median $label: wall $(median $label 2) s, cpu $(median $label 3) s, peak RSS $(median $label 4) KB"
done
awk -v a="$(median with 2)" -v b="$(median without 2)" 'BEGIN {printf "wall ratio with/without: %.3f\n", a / b}'
