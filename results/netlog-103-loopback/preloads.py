#!/usr/bin/env python3
"""Per request in a Chromium net log: when it was created (REQUEST_ALIVE),
its job started, it was sent, its headers read and it ended, in ms after
the first request's send; and when the navigation read its 103.
Usage: preloads.py NETLOG.json[.gz]
"""
import gzip
import json
import sys

path = sys.argv[1]
text = (gzip.open(path, "rt") if path.endswith(".gz") else open(path)).read()
text = text.rstrip().rstrip(",")
try:
    log = json.loads(text)
except json.JSONDecodeError:
    log = json.loads(text + "]}")
names = {v: k for k, v in log["constants"]["logEventTypes"].items()}
t0 = hint = None
sources = {}
for e in log["events"]:
    n, t = names[e["type"]], float(e["time"])
    d = sources.setdefault(e["source"]["id"], {})
    p = e.get("params", {})
    if n == "HTTP_TRANSACTION_SEND_REQUEST" and e["phase"] == 1:
        t0 = t if t0 is None else t0
        d.setdefault("send", t)
    elif n == "HTTP_TRANSACTION_READ_EARLY_HINTS_RESPONSE_HEADERS" and hint is None:
        hint = t
    elif n == "REQUEST_ALIVE" and e["phase"] == 1:
        d["alive"], d["url"] = t, p.get("url")
    elif n == "URL_REQUEST_START_JOB" and e["phase"] == 1:
        d.setdefault("url", p.get("url"))
        d.setdefault("job", t)
    elif n == "HTTP_TRANSACTION_READ_RESPONSE_HEADERS":
        d.setdefault("headers", t)
    elif n == "REQUEST_ALIVE" and e["phase"] == 2:
        d["end"] = t
print(f"103 read at {hint - t0:.1f} ms" if hint is not None else "no 103")
rows = [d for d in sources.values() if d.get("url", "").startswith("https://127.0.0.1")]
for d in sorted(rows, key=lambda d: d.get("alive", d.get("job", 0))):
    col = lambda k: f"{d[k] - t0:7.1f}" if k in d else "      -"
    print(f"alive {col('alive')} job {col('job')} send {col('send')} "
          f"headers {col('headers')} end {col('end')}  {d['url']}")

# The `priority` header of each request as sent (the net log's request
# headers; a 103 preload is the first request for its URL).
print("\npriority headers sent:")
urls = {}
for e in log["events"]:
    n, p = names[e["type"]], e.get("params", {})
    if n == "URL_REQUEST_START_JOB" and "url" in p:
        urls.setdefault(e["source"]["id"], p["url"])
    if (n.endswith("SEND_REQUEST_HEADERS") and e["source"]["id"] in urls
            and isinstance(p.get("headers"), list)):
        prio = [h for h in p["headers"] if h.lower().startswith("priority")]
        print(f"  {urls[e['source']['id']]}: {prio}")
