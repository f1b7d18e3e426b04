#!/usr/bin/env python3
"""Fetch URLs over HTTP/3 only with libcurl (ngtcp2 + nghttp3, bundled in
curl_cffi) and print one JSON report per URL: every status line seen
(informational 103 responses included, in arrival order), the final status,
the negotiated HTTP version, the body length and its SHA-256.

Usage: .venv/bin/python interop/curl_h3.py [--insecure] URL [URL ...]
"""

from __future__ import annotations

import argparse
import hashlib
import json
import sys

try:
    from curl_cffi import Curl, CurlHttpVersion, CurlInfo, CurlOpt
except ImportError as exc:  # pragma: no cover
    sys.stderr.write(f"curl_h3: cannot import curl_cffi ({exc}); run interop/install-deps.sh\n")
    sys.exit(2)


def fetch(url: str, insecure: bool, timeout: int) -> dict:
    lines: list[str] = []
    body = hashlib.sha256()
    length = 0

    def on_header(data: bytes) -> None:
        lines.append(data.decode("latin-1").rstrip("\r\n"))

    def on_body(data: bytes) -> None:
        nonlocal length
        body.update(data)
        length += len(data)

    c = Curl()
    try:
        c.setopt(CurlOpt.URL, url.encode())
        c.setopt(CurlOpt.HTTP_VERSION, CurlHttpVersion.V3ONLY)
        c.setopt(CurlOpt.HEADERFUNCTION, on_header)
        c.setopt(CurlOpt.WRITEFUNCTION, on_body)
        c.setopt(CurlOpt.TIMEOUT, timeout)
        if insecure:
            c.setopt(CurlOpt.SSL_VERIFYPEER, 0)
            c.setopt(CurlOpt.SSL_VERIFYHOST, 0)
        error = None
        try:
            c.perform()
        except Exception as e:  # curl_cffi raises CurlError
            error = str(e)
        status = c.getinfo(CurlInfo.RESPONSE_CODE)
        version = c.getinfo(CurlInfo.HTTP_VERSION)
    finally:
        c.close()
    statuses = [ln for ln in lines if ln.startswith("HTTP/")]
    links = [ln.split(":", 1)[1].strip() for ln in lines if ln.lower().startswith("link:")]
    return {
        "url": url,
        "status_lines": statuses,
        "link_headers": links,
        "status": status,
        "http_version": int(version),
        "http3": int(version) == int(CurlHttpVersion.V3),
        "body_length": length,
        "sha256": body.hexdigest(),
        "error": error,
    }


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("-k", "--insecure", action="store_true")
    ap.add_argument("--timeout", type=int, default=20)
    ap.add_argument("urls", nargs="+")
    args = ap.parse_args()
    reports = [fetch(u, args.insecure, args.timeout) for u in args.urls]
    print(json.dumps(reports, indent=2))
    return 0 if all(r["error"] is None and r["status"] for r in reports) else 1


if __name__ == "__main__":
    sys.exit(main())
