#!/usr/bin/env bash
# The whole test suite, from a fresh clone: installs what the tests need
# (Debian packages, the Python venv with aioquic, playwright-core) if it is
# missing, then checks formatting and lints, then runs unit, integration and
# interop tests. Tests that need root (network namespaces) say loudly when
# they are skipped; under CI=true a missing tool fails instead of skipping.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."

echo "== installing test dependencies (if missing)"
interop/install-deps.sh

echo "== cargo fmt --check"
cargo fmt --all -- --check

echo "== cargo clippy --all-targets -- -D warnings"
cargo clippy --all-targets --quiet -- -D warnings

echo "== cargo test"
cargo test --all-features -- --test-threads="${TEST_THREADS:-2}"

echo "== fuzz smoke run (fuzz/smoke.sh: every target's corpus and recorded crashes, then 15 s each)"
fuzz/smoke.sh "${FUZZ_SMOKE_SECS:-15}"
