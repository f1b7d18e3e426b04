#!/usr/bin/env python3
"""Reads HAR files with haralyzer (an independent HAR reader from PyPI) and
prints what it understood as JSON, for tests/har.rs to check against
pushlab's own records.

Usage: har_check.py FILE.har [FILE.har ...]
Output: {"files": [{"file", "pages": [...], "entries": [...]}, ...]}
"""
import json
import sys

from haralyzer import HarPage, HarParser


def entry(e):
    raw = e.raw_entry
    return {
        "url": e.url,
        "status": e.status,
        "mime": e.response.mimeType,
        "http_version": e.request.raw_entry.get("httpVersion"),
        "time": e.time,
        "start": e.startTime.isoformat(),
        "body_size": e.response.bodySize,
        "timings": e.timings,
        "pushed": raw.get("_pushed"),
        "hinted": raw.get("_hinted"),
        "wasted": raw.get("_wasted"),
        "source": raw.get("_source"),
        "priority": raw.get("_priority"),
        "from_cache": raw.get("_fromCache"),
    }


def main(paths):
    files = []
    for path in paths:
        parser = HarParser.from_file(path)
        pages = []
        for page in parser.pages:
            assert isinstance(page, HarPage)
            pages.append(
                {
                    "id": page.page_id,
                    "title": page.title,
                    "on_load": page.page_load_time,
                    "started": page.startedDateTime,
                    "entries": len(page.entries),
                }
            )
        entries = [entry(e) for p in parser.pages for e in p.entries]
        files.append({"file": path, "creator": parser.creator, "pages": pages, "entries": entries})
    json.dump({"files": files}, sys.stdout)


if __name__ == "__main__":
    main(sys.argv[1:])
