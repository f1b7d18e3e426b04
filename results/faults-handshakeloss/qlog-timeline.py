#!/usr/bin/env python3
"""Prints a quinn qlog (JSON-SEQ) as a timeline: packets sent and received,
packets declared lost, and each change of the PTO count with the smoothed
RTT at that moment. Usage: qlog-timeline.py FILE.sqlog [...]"""
import json
import sys


def events(path):
    with open(path) as f:
        for line in f:
            line = line.strip("\x1e\n ")
            if not line:
                continue
            try:
                yield json.loads(line)
            except json.JSONDecodeError:
                continue


def main():
    for path in sys.argv[1:]:
        print("==", path)
        pto = None
        for e in events(path):
            name, d, t = e.get("name"), e.get("data", {}), e.get("time", 0.0) / 1000
            if name in ("transport:packet_sent", "transport:packet_received"):
                h = d.get("header", {})
                way = "SENT" if name.endswith("sent") else "RECV"
                print(f"{t:8.3f} {way} {h.get('packet_type')} pn={h.get('packet_number')}")
            elif name == "recovery:metrics_updated" and "pto_count" in d:
                if d["pto_count"] != pto:
                    pto = d["pto_count"]
                    print(f"{t:8.3f} pto_count={pto} smoothed_rtt={d.get('smoothed_rtt')}")
            elif name == "recovery:packet_lost":
                h = d.get("header", {})
                print(f"{t:8.3f} LOST {h.get('packet_type')} pn={h.get('packet_number')}")


if __name__ == "__main__":
    try:
        main()
    except BrokenPipeError:
        pass
