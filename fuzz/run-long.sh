#!/usr/bin/env bash
# Long fuzzing runs (development): each target for SECS seconds (default
# 1800), two at a time, in fuzz/corpus/TARGET, then the corpus minimised.
# Crashes land in fuzz/artifacts/TARGET/; each becomes a regression test.
# Usage: fuzz/run-long.sh [SECS] [TARGET...]
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")"
secs=${1:-1800}
shift || true
targets=("$@")
[ ${#targets[@]} -gt 0 ] || mapfile -t targets < <(cargo +nightly fuzz list)
mkdir -p logs
run() {
    local t=$1
    mkdir -p "corpus/$t"
    cargo +nightly fuzz run -O "$t" "corpus/$t" -- -max_total_time="$secs" -rss_limit_mb=2048 \
        -print_final_stats=1 >"logs/$t.log" 2>&1 && echo "$t: clean ($(grep -c . <(ls "corpus/$t")) corpus files)" \
        || echo "$t: FAILED, see fuzz/logs/$t.log and fuzz/artifacts/$t/"
}
for ((i = 0; i < ${#targets[@]}; i += 2)); do
    run "${targets[$i]}" &
    if [ $((i + 1)) -lt ${#targets[@]} ]; then run "${targets[$((i + 1))]}" & fi
    wait
done
