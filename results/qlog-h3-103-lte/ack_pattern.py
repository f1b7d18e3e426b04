#!/usr/bin/env python3
"""The client's ACK pattern as pushlab's server saw it, from quinn's qlog.

quinn's qlog names packets, not frames, so a client packet here is (almost
always, for a page load) an ACK. Usage: ack_pattern.py FILE.sqlog [...]
"""
import json
import sys


def events(path):
    out = []
    for rec in open(path).read().split("\x1e"):
        rec = rec.strip()
        if rec:
            try:
                out.append(json.loads(rec))
            except json.JSONDecodeError:
                pass
    return out


def times(ev, name):
    return [e["time"] for e in ev
            if e.get("name") == name and e["data"]["header"].get("packet_type") == "1RTT"]


for path in sys.argv[1:]:
    ev = events(path)
    rx = times(ev, "transport:packet_received")
    tx = times(ev, "transport:packet_sent")
    early_rx = [t for t in rx if t < 400]
    early_tx = [t for t in tx if t < 400]
    # The first train of client packets after the request's round trip:
    # those within 10 ms of each other from the first past 100 ms.
    first = [t for t in rx if t > 100]
    train = first[:1]
    for t in first[1:]:
        if t - train[-1] > 10:
            break
        train.append(t)
    nxt = first[len(train)] if len(first) > len(train) else None
    print(f"{path}: server packets {len(tx)}, client packets {len(rx)} "
          f"(one per {len(tx) / max(1, len(rx)):.2f}); before 400 ms: {len(early_tx)} / "
          f"{len(early_rx)}; first ACK train after 100 ms: {len(train)} packets over "
          f"{train[-1] - train[0]:.1f} ms from {train[0]:.1f} ms, the next at "
          f"{nxt if nxt is None else round(nxt, 1)} ms")
