#!/usr/bin/env python3
"""Per browser and row of a compare folder: median load time, and when the
server's first ACK-spacing sample came (ms after navigation start) with the
window floor it set, from dispersion.log.gz (the run's
RUST_LOG=pushlab::dispersion=debug lines). Usage: first_samples.py DIR [...]
"""
import datetime
import gzip
import json
import re
import statistics as st
import sys


def unix_ms(line):
    t = datetime.datetime.strptime(line.split()[0][:26], "%Y-%m-%dT%H:%M:%S.%f")
    return t.replace(tzinfo=datetime.timezone.utc).timestamp() * 1e3


for d in sys.argv[1:]:
    r = json.load(open(f"{d}/runs.json"))
    lines = list(gzip.open(f"{d}/dispersion.log.gz", "rt"))
    def label(c):
        return (f"{c['protocol'].lower()} {c['page']} {c['variant']} {c['cache']}, "
                f"{c.get('browser', 'emulated')}")

    loads = sorted((x["load"]["started_unix_ms"], label(r["configs"][x["config"]]),
                    x["load"]["load_ms"]) for x in r["runs"])
    rows = {}
    for i, (start, name, load_ms) in enumerate(loads):
        end = loads[i + 1][0] if i + 1 < len(loads) else float("inf")
        mine = [l for l in lines if start - 200 <= unix_ms(l) < end - 200]
        first = None
        if mine:
            f = dict(re.findall(r"(\w+)=(\S+)", mine[0]))
            first = (unix_ms(mine[0]) - start, int(f["floor"]) / 1e3)
        rows.setdefault(name, []).append((load_ms, first))
    for name, v in sorted(rows.items()):
        at = [f[0] for _, f in v if f]
        floor = [f[1] for _, f in v if f]
        load = st.median(l for l, _ in v)
        if not at:
            print(f"{d}: {name}: load {load:.0f} ms; no ACK-spacing sample (HTTP/2, or none)")
            continue
        print(f"{d}: {name}: load {load:.0f} ms; first sample at "
              f"{st.median(at):.0f} ms, floor {st.median(floor):.0f} kB (medians of {len(at)})")
