#!/usr/bin/env python3
"""Counts, per row, the requests Chromium's network-service ResourceScheduler
held (RESOURCE_SCHEDULER_REQUEST_STARTED events) in the net logs of a
`compare --netlog-dir DIR` run: python3 held.py DIR"""
import collections
import glob
import json
import sys

held = collections.defaultdict(collections.Counter)
loads = collections.Counter()
for f in sorted(glob.glob(sys.argv[1] + "/*.json")):
    row = f.split("/")[-1].split("-chromium-run")[0]
    d = json.load(open(f))
    types = d["constants"]["logEventTypes"]
    started = types["RESOURCE_SCHEDULER_REQUEST_STARTED"]
    url = {}
    for e in d["events"]:
        p = e.get("params") or {}
        if "url" in p and e["source"]["id"] not in url:
            url[e["source"]["id"]] = p["url"]
    loads[row] += 1
    for e in d["events"]:
        if e["type"] == started:
            name = url.get(e["source"]["id"], "?").split("/")[-1]
            held[row][f"{name} ({e['params'].get('trigger')})"] += 1
for row in sorted(loads):
    print(f"{row}: {loads[row]} loads, held {dict(held[row]) or 'nothing'}")
