#!/bin/sh
# Builds pushlab with quinn's pacer switchable (`--quic-pacing off`), for
# the pacing ablation of issue 13: quinn has no option to turn pacing off.
#
# What it does, without touching the repository's files:
#   1. copies the locked quinn-proto's source from cargo's registry
#      (downloaded by cargo as usual; not committed) to target/patched/;
#   2. applies patches/quinn-proto-pacing-switch.patch: a process-wide
#      switch, `quinn_proto::pacing_switch::set_pacing`, checked where the
#      pacer would delay a datagram;
#   3. builds with `--cfg pushlab_pacing_switch` (RUSTFLAGS), patching
#      crates.io's quinn-proto with the copy, into target/pacing-switch/
#      (Cargo.lock is restored afterwards: the patch changes where
#      quinn-proto comes from, not its version).
#
# Output: target/pacing-switch/release/pushlab (its path is printed last).
set -eu
cd "$(dirname "$0")/.."
want=0.11.19
meta=$(cargo metadata --format-version 1 --locked)
version=$(printf '%s' "$meta" | python3 -c '
import json, sys
d = json.load(sys.stdin)
print(next(p["version"] for p in d["packages"] if p["name"] == "quinn-proto"))')
if [ "$version" != "$want" ]; then
    echo "the patch is for quinn-proto $want; Cargo.lock has $version: refresh the patch" >&2
    exit 1
fi
src=$(printf '%s' "$meta" | python3 -c '
import json, os, sys
d = json.load(sys.stdin)
print(os.path.dirname(next(p["manifest_path"] for p in d["packages"] if p["name"] == "quinn-proto")))')
dst="$PWD/target/patched/quinn-proto-$version"
rm -rf "$dst"
mkdir -p "$(dirname "$dst")"
cp -r "$src" "$dst"
patch -s -d "$dst" -p1 < patches/quinn-proto-pacing-switch.patch
cp Cargo.lock target/patched/Cargo.lock.orig
trap 'cp target/patched/Cargo.lock.orig Cargo.lock' EXIT
RUSTFLAGS="${RUSTFLAGS:-} --cfg pushlab_pacing_switch" \
cargo build --release --target-dir target/pacing-switch \
    --config "patch.crates-io.quinn-proto.path=\"$dst\"" >&2
echo "$PWD/target/pacing-switch/release/pushlab"
