#!/usr/bin/env bash
# The fuzz targets' smoke run, part of the test command: builds every
# target (cargo fuzz, nightly), replays its committed corpus and every
# recorded crash (fuzz/regressions/TARGET/), then fuzzes it for SECS
# seconds (default 15). Any crash fails. Without the nightly toolchain or
# cargo-fuzz it says loudly that it skipped, except under CI=true, where it
# fails. Long runs: fuzz/run-long.sh.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")"
secs=${1:-15}
skip() {
    if [ "${CI:-}" = "true" ] || [ "${CI:-}" = "1" ]; then
        echo "fuzz smoke: FAILED: $1 (CI=true, where it must be present)" >&2
        exit 1
    fi
    echo "*** SKIPPED fuzz smoke run: $1 ***" >&2
    exit 0
}
rustup toolchain list 2>/dev/null | grep -q '^nightly' || skip "no nightly toolchain"
cargo +nightly fuzz --version >/dev/null 2>&1 || skip "cargo-fuzz is not installed (interop/install-deps.sh installs it)"
cargo +nightly fuzz build -O >/dev/null 2>build.log || { tail -40 build.log >&2; exit 1; }
rm -f build.log
bin=target/x86_64-unknown-linux-gnu/release
failed=0
for t in $(cargo +nightly fuzz list); do
    mkdir -p "corpus/$t"
    tmp=$(mktemp -d)
    # Replay: the corpus and the recorded crashes, each input once.
    inputs=("corpus/$t")
    [ -d "regressions/$t" ] && inputs+=("regressions/$t")
    if ! "$bin/$t" -runs=0 "${inputs[@]}" >"$tmp/replay.log" 2>&1; then
        echo "fuzz smoke: $t: a committed input crashes" >&2
        tail -30 "$tmp/replay.log" >&2
        failed=1
    fi
    # Then fuzz from the corpus, new inputs kept out of the repository.
    mkdir -p "$tmp/corpus"
    cp -r "corpus/$t/." "$tmp/corpus/" 2>/dev/null || true
    if ! "$bin/$t" -max_total_time="$secs" -rss_limit_mb=2048 -artifact_prefix="$tmp/" \
        -print_final_stats=1 "$tmp/corpus" >"$tmp/run.log" 2>&1; then
        echo "fuzz smoke: $t: crashed within ${secs} s; input in $tmp" >&2
        tail -30 "$tmp/run.log" >&2
        failed=1
        continue
    fi
    runs=$(grep -o '^#[0-9]*[[:space:]]*DONE' "$tmp/run.log" | grep -o '[0-9]*' || echo '?')
    echo "fuzz smoke: $t ok ($runs runs in ${secs} s)"
    rm -rf "$tmp"
done
exit $failed
