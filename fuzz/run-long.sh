#!/usr/bin/env bash
# Long fuzzing runs (development): each target for SECS seconds (default
# 1800), two at a time at the lowest CPU priority, from fuzz/corpus/TARGET;
# then the corpus is minimised (cargo fuzz cmin with set cover over edges,
# counters off) so that what is committed stays small. Crashes land in
# fuzz/artifacts/TARGET/; each becomes a regression test in
# fuzz/regressions/TARGET/. One line per target goes to fuzz/logs/summary.txt:
# clean or FAILED, executions, seconds, corpus size.
# Usage: fuzz/run-long.sh [SECS] [TARGET...]
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")"
secs=${1:-1800}
shift || true
targets=("$@")
[ ${#targets[@]} -gt 0 ] || mapfile -t targets < <(cargo +nightly fuzz list)
mkdir -p logs
cargo +nightly fuzz build -O >logs/build.log 2>&1
stat_of() { sed -n "s/^stat::$1: *//p" "logs/$2.log" | tail -1; }
run() {
    local t=$1 start status
    mkdir -p "corpus/$t"
    start=$(date +%s)
    if nice -n 19 cargo +nightly fuzz run -O "$t" "corpus/$t" -- -max_total_time="$secs" \
        -rss_limit_mb=2048 -print_final_stats=1 >"logs/$t.log" 2>&1; then
        status=clean
        nice -n 19 cargo +nightly fuzz cmin -O "$t" "corpus/$t" -- -set_cover_merge=1 -use_counters=0 >"logs/$t.cmin.log" 2>&1 || status="clean (cmin failed)"
    else
        status="FAILED, see fuzz/logs/$t.log and fuzz/artifacts/$t/"
    fi
    echo "$(date -u +%FT%TZ) $t: $status; $(stat_of number_of_executed_units "$t") executions" \
        "in $(($(date +%s) - start)) s wall; peak RSS $(stat_of peak_rss_mb "$t") MB;" \
        "corpus $(find "corpus/$t" -type f | wc -l) files" | tee -a logs/summary.txt
}
for ((i = 0; i < ${#targets[@]}; i += 2)); do
    run "${targets[$i]}" &
    if [ $((i + 1)) -lt ${#targets[@]} ]; then run "${targets[$((i + 1))]}" & fi
    wait
done
