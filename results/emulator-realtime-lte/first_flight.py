#!/usr/bin/env python3
"""Per load of a compare folder: how late the emulator delivered packets
(runs.json emulator), the server's first ACK-spacing samples (the
`RUST_LOG=pushlab::dispersion=debug` lines, gzipped as dispersion.log.gz)
and, for Chromium loads with a net log, when it read the first 12 packets of
the response (ms after its request; the link delivers a packet every 0.8 ms).
Usage: first_flight.py DIR [samples per load]
"""
import datetime
import glob
import gzip
import json
import re
import sys

d = sys.argv[1]
per = int(sys.argv[2]) if len(sys.argv) > 2 else 3
r = json.load(open(f"{d}/runs.json"))
print(f"{d}: emulator_realtime = {r.get('emulator_realtime', False)}")
loads = sorted(
    (x["load"]["started_unix_ms"], r["configs"][x["config"]].get("browser", "emulated"),
     x["run"], x.get("emulator"))
    for x in r["runs"])
lines = [l for l in gzip.open(f"{d}/dispersion.log.gz", "rt") if "DEBUG" in l]


def unix_ms(line):
    t = datetime.datetime.strptime(line.split()[0][:26], "%Y-%m-%dT%H:%M:%S.%f")
    return t.replace(tzinfo=datetime.timezone.utc).timestamp() * 1e3


def first_reads(path):
    """When Chromium read its first 12 packets after sending the request."""
    text = gzip.open(path, "rt").read().rstrip().rstrip(",")
    try:
        v = json.loads(text)
    except json.JSONDecodeError:
        v = json.loads(text + "]}")
    names = {n: k for k, n in v["constants"]["logEventTypes"].items()}
    ev = v["events"]
    t0 = next(float(e["time"]) for e in ev
              if names[e["type"]] == "HTTP_TRANSACTION_SEND_REQUEST")
    rx = [float(e["time"]) - t0 for e in ev if names[e["type"]] == "UDP_BYTES_RECEIVED"]
    return [t for t in rx if t >= 0][:12]


for i, (start, browser, run, emu) in enumerate(loads):
    end = loads[i + 1][0] if i + 1 < len(loads) else float("inf")
    mine = [l for l in lines if start - 200 <= unix_ms(l) < end - 200]
    down = emu["down"] if emu else None
    late = f"{down['late']} of {down['packets']} late, worst {down['max_us'] / 1e3:.1f} ms" if down else "-"
    print(f"{browser} run {run}: emulator down: {late}")
    if browser == "chromium":
        logs = glob.glob(f"{d}/*chromium-run{run}.json.gz")
        if logs:
            print("  Chromium read the first 12 packets at", " ".join(f"{t:.0f}" for t in first_reads(logs[0])))
    for l in mine[:per]:
        m = dict(re.findall(r"(\w+)=(\S+)", l))
        print(f"  {unix_ms(l) - start:6.0f} ms: train {int(m['train_rate']) / 1e3:5.0f} kB/s "
              f"({m['train_bytes']} B over {float(m['train_ms']):.1f} ms, {m['train_events']} ACKs)"
              f" -> floor {int(m['floor']) / 1e3:.0f} kB")
