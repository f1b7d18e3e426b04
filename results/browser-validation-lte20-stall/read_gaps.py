#!/usr/bin/env python3
"""Chromium's longest pause in reading packets during the first flight of
the response (reads from 50 to 130 ms after its request; the LTE link
delivers a packet every ~0.8 ms then), per HTTP/3 load, from the net logs
that `compare --netlog-dir` kept. Usage: read_gaps.py NETLOG [...]
"""
import gzip
import json
import statistics as st
import sys

gaps = []
for path in sys.argv[1:]:
    text = (gzip.open(path, "rt") if path.endswith(".gz") else open(path)).read()
    text = text.rstrip().rstrip(",")
    try:
        v = json.loads(text)
    except json.JSONDecodeError:
        v = json.loads(text + "]}")
    names = {n: k for k, n in v["constants"]["logEventTypes"].items()}
    ev = v["events"]
    t0 = next(float(e["time"]) for e in ev
              if names[e["type"]] == "HTTP_TRANSACTION_SEND_REQUEST")
    rx = [float(e["time"]) - t0 for e in ev if names[e["type"]] == "UDP_BYTES_RECEIVED"]
    rx = [t for t in rx if 50 <= t <= 130]
    g = max((b - a for a, b in zip(rx, rx[1:])), default=0.0)
    gaps.append(g)
    print(f"{path.split('/')[-1]}: longest read gap {g:.0f} ms over {len(rx)} reads")
if gaps:
    print(f"median {st.median(gaps):.0f} ms, range {min(gaps):.0f}-{max(gaps):.0f} ms, {len(gaps)} loads")
