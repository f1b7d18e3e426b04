#!/usr/bin/env python3
"""HTTP/3 test client for pushlab, built on aioquic's public API.

Fetches every URL given on the command line concurrently over ONE QUIC
connection (ALPN h3; all URLs must share one authority) and records, per
request: the informational (1xx, e.g. 103 Early Hints) responses with their
headers and arrival times, the final status and headers and when they arrived,
the body length and SHA-256, and the PUSH_PROMISEs received on the request
stream. Per server push: the promised request headers (:path, ...), the pushed
response (status, headers, body length, SHA-256) and timings.

Usage:
    python interop/aioquic_client.py [--insecure] [--ca-certs FILE]
        [--max-push-id N | --no-push] [--cancel-push PATH_SUBSTRING]
        [--priority 'u=1, i'] [--priority-update] [-H 'name: value']
        [--output-dir DIR] [--json] [--timeout SECS] [--push-wait SECS]
        [--qlog-dir DIR] URL [URL ...]

Times are milliseconds. ``*_ms`` fields of a request are relative to the
moment its HEADERS were handed to QUIC; ``sent_at_ms`` and every push time are
relative to the end of the handshake (the "epoch"). Every recorded event also
carries ``seq``, a global arrival counter, so that ordering (103 before 200,
PUSH_PROMISE before the final HEADERS, ...) can be checked independently of
clock resolution.

Exit status: 0 only if every request got a final (non-1xx) response whose body
was received completely (stream ended, not reset); 1 otherwise (timeout,
connection error, reset). 2 for usage errors. Pushes never affect the exit
status: they are only reported.

aioquic specifics (read from aioquic 1.7's h3/connection.py):

* MAX_PUSH_ID: ``H3Connection`` has no parameter for it. A client connection
  sets ``self._max_push_id = 8`` in ``__init__`` and its ``_init_connection()``
  (called at the end of ``__init__``) writes SETTINGS and, if ``_max_push_id``
  is not None, a MAX_PUSH_ID frame on the control stream. ``PushingH3Connection``
  below overrides ``_init_connection`` to set ``_max_push_id`` to the value of
  ``--max-push-id`` (default 8, as aioquic) first. With ``--no-push`` it is
  None: no MAX_PUSH_ID is sent, so any PUSH_PROMISE or push stream from the
  server makes aioquic close the connection with H3_ID_ERROR (RFC 9114 4.6),
  which is reported as ``connection_error``.
* Cancelling a push: aioquic has no API for CANCEL_PUSH (it can neither send
  one nor reports a received one: it silently discards it). For
  ``--cancel-push SUBSTR``, when a PUSH_PROMISE whose :path contains SUBSTR
  arrives, this client
    1. writes a CANCEL_PUSH frame (type 0x3, payload = push ID) on its own
       control stream (``quic.send_stream_data`` on the H3 connection's local
       control stream id), and
    2. if/when the push stream shows up (immediately if it already has),
       aborts reading it with STOP_SENDING carrying H3_REQUEST_CANCELLED
       (0x10c) via ``quic.stop_stream`` (RFC 9114 7.2.3 allows both), and
       ignores any data still arriving on it.
  The push is reported with ``cancelled: true`` plus whatever arrived before.
* A PUSH_PROMISE for a push ID above our MAX_PUSH_ID is a connection error
  (H3_ID_ERROR) raised by aioquic itself.
* ``--priority`` sends the RFC 9218 ``priority`` request header;
  ``--priority-update`` additionally sends a PRIORITY_UPDATE frame (type
  0xF0700) with the same value for each request stream on the control stream,
  right after the request (aioquic has no API for that either: raw frame).
* Incomplete pushes: after all requests finished the client keeps the
  connection open until every promised, non-cancelled push has completed, or
  no push made progress for ``--push-wait`` seconds (aioquic drops a server's
  CANCEL_PUSH, so a push the server abandoned would otherwise wait forever).
"""

from __future__ import annotations

import argparse
import asyncio
import hashlib
import json
import os
import re
import ssl
import sys
import time
from collections.abc import Iterable
from urllib.parse import urlsplit

try:
    import aioquic
    from aioquic.asyncio.client import connect
    from aioquic.asyncio.protocol import QuicConnectionProtocol
    from aioquic.buffer import encode_uint_var
    from aioquic.h3.connection import H3_ALPN, ErrorCode, FrameType, H3Connection
    from aioquic.h3.events import DataReceived, HeadersReceived, PushPromiseReceived
    from aioquic.quic.configuration import QuicConfiguration
    from aioquic.quic.events import ConnectionTerminated, HandshakeCompleted, QuicEvent, StreamReset
except ImportError as exc:  # pragma: no cover
    sys.stderr.write(
        f"aioquic_client: cannot import aioquic ({exc}); run interop/install-deps.sh "
        "and use .venv/bin/python\n"
    )
    sys.exit(2)

H3_REQUEST_CANCELLED = int(ErrorCode.H3_REQUEST_CANCELLED)  # 0x10c
PRIORITY_UPDATE_REQUEST = 0xF0700  # RFC 9218 section 7.1
USER_AGENT = f"pushlab-aioquic-client (aioquic/{aioquic.__version__})"


def now() -> float:
    return time.monotonic()


def ms(t: float | None, base: float | None) -> float | None:
    if t is None or base is None:
        return None
    return round((t - base) * 1000.0, 3)


def hdr_list(headers: Iterable[tuple[bytes, bytes]]) -> list[list[str]]:
    return [[k.decode("latin-1"), v.decode("latin-1")] for k, v in headers]


def hdr_get(headers: Iterable[tuple[bytes, bytes]], name: bytes) -> str | None:
    for k, v in headers:
        if k == name:
            return v.decode("latin-1")
    return None


def hdr_all(headers: Iterable[tuple[bytes, bytes]], name: bytes) -> list[str]:
    return [v.decode("latin-1") for k, v in headers if k == name]


def safe_basename(path: str, default: str = "index.html") -> str:
    p = urlsplit(path).path
    base = p.rsplit("/", 1)[-1] or default
    base = re.sub(r"[^A-Za-z0-9._-]", "_", base)
    if base in (".", ".."):
        base = default
    return base


class Body:
    """Streams a body into a SHA-256, a byte count and optionally a file."""

    def __init__(self) -> None:
        self.sha = hashlib.sha256()
        self.length = 0
        self.file = None
        self.saved_as: str | None = None

    def open(self, path: str) -> None:
        self.file = open(path, "wb")
        self.saved_as = path

    def feed(self, data: bytes) -> None:
        if data:
            self.sha.update(data)
            self.length += len(data)
            if self.file is not None:
                self.file.write(data)

    def close(self) -> None:
        if self.file is not None:
            self.file.close()
            self.file = None


class Exchange:
    def __init__(self, url: str, path: str, request_headers: list[tuple[bytes, bytes]]):
        self.url = url
        self.path = path
        self.request_headers = request_headers
        self.stream_id: int | None = None
        self.t_sent: float | None = None
        self.informational: list[dict] = []
        self.status: int | None = None
        self.headers: list[tuple[bytes, bytes]] | None = None
        self.t_headers: float | None = None
        self.seq_headers: int | None = None
        self.t_first_data: float | None = None
        self.t_end: float | None = None
        self.trailers: list[tuple[bytes, bytes]] | None = None
        self.body = Body()
        self.ended = False
        self.reset_code: int | None = None
        self.push_ids: list[int] = []
        self.save_name: str | None = None

    @property
    def complete(self) -> bool:
        return self.status is not None and self.ended and self.reset_code is None

    @property
    def finished(self) -> bool:
        return self.ended or self.reset_code is not None

    def to_json(self, epoch: float) -> dict:
        return {
            "url": self.url,
            "path": self.path,
            "stream_id": self.stream_id,
            "request_headers": hdr_list(self.request_headers),
            "sent_at_ms": ms(self.t_sent, epoch),
            "informational": self.informational,
            "status": self.status,
            "headers": hdr_list(self.headers) if self.headers is not None else None,
            "headers_at_ms": ms(self.t_headers, self.t_sent),
            "headers_seq": self.seq_headers,
            "first_data_at_ms": ms(self.t_first_data, self.t_sent),
            "end_at_ms": ms(self.t_end, self.t_sent),
            "trailers": hdr_list(self.trailers) if self.trailers is not None else None,
            "body_length": self.body.length,
            "sha256": self.body.sha.hexdigest() if self.ended else None,
            "saved_as": self.body.saved_as,
            "complete": self.complete,
            "reset_code": self.reset_code,
            "push_ids": self.push_ids,
        }


class Push:
    def __init__(self, push_id: int):
        self.push_id = push_id
        self.promises: list[dict] = []  # one per PUSH_PROMISE (duplicates allowed)
        self.request_headers: list[tuple[bytes, bytes]] | None = None
        self.path: str | None = None
        self.stream_id: int | None = None
        self.status: int | None = None
        self.informational: list[dict] = []
        self.headers: list[tuple[bytes, bytes]] | None = None
        self.t_stream: float | None = None
        self.t_headers: float | None = None
        self.seq_headers: int | None = None
        self.t_end: float | None = None
        self.body = Body()
        self.ended = False
        self.reset_code: int | None = None
        self.cancelled = False
        self.cancel_push_sent = False
        self.stop_sending_sent = False

    @property
    def finished(self) -> bool:
        return self.ended or self.reset_code is not None or self.cancelled

    def to_json(self, epoch: float) -> dict:
        return {
            "push_id": self.push_id,
            "path": self.path,
            "promised_headers": hdr_list(self.request_headers) if self.request_headers else None,
            "promises": self.promises,
            "push_stream_id": self.stream_id,
            "stream_at_ms": ms(self.t_stream, epoch),
            "informational": self.informational,
            "status": self.status,
            "headers": hdr_list(self.headers) if self.headers is not None else None,
            "headers_at_ms": ms(self.t_headers, epoch),
            "headers_seq": self.seq_headers,
            "end_at_ms": ms(self.t_end, epoch),
            "body_length": self.body.length,
            "sha256": self.body.sha.hexdigest() if self.ended and not self.cancelled else None,
            "saved_as": self.body.saved_as,
            "complete": self.ended and self.reset_code is None and not self.cancelled,
            "reset_code": self.reset_code,
            "cancelled": self.cancelled,
            "cancel_push_sent": self.cancel_push_sent,
            "stop_sending_sent": self.stop_sending_sent,
        }


class PushingH3Connection(H3Connection):
    """H3Connection whose MAX_PUSH_ID is configurable (None: no MAX_PUSH_ID)."""

    def __init__(self, quic, max_push_id: int | None):
        self._pushlab_max_push_id = max_push_id
        super().__init__(quic)
        if self._max_push_id != max_push_id:  # aioquic internals changed?
            raise RuntimeError("could not set MAX_PUSH_ID on this aioquic version")

    def _init_connection(self) -> None:
        # H3Connection.__init__ sets _max_push_id = 8 for clients, then calls this,
        # which sends SETTINGS and MAX_PUSH_ID(_max_push_id) on the control stream.
        self._max_push_id = self._pushlab_max_push_id
        super()._init_connection()

    def send_control_frame(self, frame_type: int, payload: bytes) -> None:
        """Write a raw frame on our control stream (CANCEL_PUSH, PRIORITY_UPDATE)."""
        self._quic.send_stream_data(
            self._local_control_stream_id,
            encode_uint_var(frame_type) + encode_uint_var(len(payload)) + payload,
        )


class Recorder:
    """Holds the state of one run; fed by the protocol's events."""

    def __init__(self, args: argparse.Namespace):
        self.args = args
        self.epoch: float | None = None
        self.t_start = now()
        self.seq = 0
        self.exchanges: dict[int, Exchange] = {}
        self.pushes: dict[int, Push] = {}
        self.push_stream_ids: dict[int, int] = {}  # push stream id -> push id
        self.connection_error: dict | None = None
        self.alpn: str | None = None
        self.changed = asyncio.Event()
        self.last_push_progress = now()
        self.used_names: set[str] = set()
        self.local_close = False

    def next_seq(self) -> int:
        self.seq += 1
        return self.seq

    def _unique_name(self, name: str) -> str:
        cand, i = name, 1
        while cand in self.used_names:
            cand = f"{i}-{name}"
            i += 1
        self.used_names.add(cand)
        return cand

    def open_output(self, body: Body, name: str) -> None:
        if self.args.output_dir:
            body.open(os.path.join(self.args.output_dir, self._unique_name(name)))

    def all_requests_finished(self) -> bool:
        return all(ex.finished for ex in self.exchanges.values())

    def pending_pushes(self) -> list[Push]:
        return [p for p in self.pushes.values() if not p.finished]


class H3ClientProtocol(QuicConnectionProtocol):
    def __init__(self, *args, rec: Recorder, max_push_id: int | None, **kwargs):
        super().__init__(*args, **kwargs)
        self.rec = rec
        # Created before the handshake (as aioquic's own examples do) so that no
        # stream data arriving together with the handshake's end is missed.
        self.h3 = PushingH3Connection(self._quic, max_push_id=max_push_id)

    # -- sending ---------------------------------------------------------------

    def send_request(self, ex: Exchange) -> None:
        stream_id = self._quic.get_next_available_stream_id()
        ex.stream_id = stream_id
        self.rec.exchanges[stream_id] = ex
        self.h3.send_headers(stream_id, ex.request_headers, end_stream=True)
        if self.rec.args.priority is not None and self.rec.args.priority_update:
            self.h3.send_control_frame(
                PRIORITY_UPDATE_REQUEST,
                encode_uint_var(stream_id) + self.rec.args.priority.encode("ascii"),
            )
        ex.t_sent = now()

    def cancel_push(self, push: Push) -> None:
        if not push.cancel_push_sent:
            self.h3.send_control_frame(FrameType.CANCEL_PUSH, encode_uint_var(push.push_id))
            push.cancel_push_sent = True
        push.cancelled = True
        self._stop_push_stream(push)
        self.transmit()

    def _stop_push_stream(self, push: Push) -> None:
        if push.cancelled and push.stream_id is not None and not push.stop_sending_sent:
            if not push.ended and push.reset_code is None:
                try:
                    self._quic.stop_stream(push.stream_id, H3_REQUEST_CANCELLED)
                    push.stop_sending_sent = True
                except ValueError:
                    pass  # stream already gone
            push.body.close()
            if push.body.saved_as and os.path.exists(push.body.saved_as):
                os.unlink(push.body.saved_as)
                push.body.saved_as = None

    # -- receiving -------------------------------------------------------------

    def quic_event_received(self, event: QuicEvent) -> None:
        rec = self.rec
        if isinstance(event, HandshakeCompleted):
            rec.alpn = event.alpn_protocol
            rec.epoch = now()
        elif isinstance(event, ConnectionTerminated) and not rec.local_close:
            rec.connection_error = {
                "error_code": event.error_code,
                "frame_type": event.frame_type,
                "reason": event.reason_phrase,
            }
            rec.changed.set()
        elif isinstance(event, StreamReset):
            self._stream_reset(event.stream_id, event.error_code)
        for h3_event in self.h3.handle_event(event):
            self._h3_event(h3_event)
        rec.changed.set()

    def _stream_reset(self, stream_id: int, code: int) -> None:
        rec = self.rec
        t = now()
        if stream_id in rec.exchanges:
            ex = rec.exchanges[stream_id]
            if not ex.ended:
                ex.reset_code = code
                ex.t_end = t
                ex.body.close()
        elif stream_id in rec.push_stream_ids:
            push = rec.pushes[rec.push_stream_ids[stream_id]]
            if not push.ended:
                push.reset_code = code
                push.t_end = t
                push.body.close()
                rec.last_push_progress = t

    def _push(self, push_id: int) -> Push:
        push = self.rec.pushes.get(push_id)
        if push is None:
            push = self.rec.pushes[push_id] = Push(push_id)
        return push

    def _h3_event(self, event) -> None:
        rec = self.rec
        t = now()
        if isinstance(event, PushPromiseReceived):
            push = self._push(event.push_id)
            ex = rec.exchanges.get(event.stream_id)
            path = hdr_get(event.headers, b":path")
            promise = {
                "request_stream_id": event.stream_id,
                "request_path": ex.path if ex else None,
                "at_ms": ms(t, ex.t_sent if ex else rec.epoch),
                "seq": rec.next_seq(),
                "before_final_headers": bool(ex and ex.status is None),
            }
            push.promises.append(promise)
            if push.request_headers is None:
                push.request_headers = list(event.headers)
                push.path = path
            if ex is not None and event.push_id not in ex.push_ids:
                ex.push_ids.append(event.push_id)
            rec.last_push_progress = t
            if (
                not push.cancelled
                and path is not None
                and any(s in path for s in rec.args.cancel_push)
            ):
                self.cancel_push(push)
            return

        push_id = getattr(event, "push_id", None)
        if push_id is not None:
            self._push_stream_event(self._push(push_id), event, t)
            return

        if not isinstance(event, (HeadersReceived, DataReceived)):
            return
        ex = rec.exchanges.get(event.stream_id)
        if ex is None:
            return
        if isinstance(event, HeadersReceived):
            status_s = hdr_get(event.headers, b":status")
            status = int(status_s) if status_s and status_s.isdigit() else None
            if ex.status is None and status is not None and 100 <= status < 200:
                ex.informational.append(
                    {
                        "status": status,
                        "headers": hdr_list(event.headers),
                        "link": hdr_all(event.headers, b"link"),
                        "at_ms": ms(t, ex.t_sent),
                        "seq": rec.next_seq(),
                    }
                )
            elif ex.status is None:
                ex.status = status
                ex.headers = list(event.headers)
                ex.t_headers = t
                ex.seq_headers = rec.next_seq()
                rec.open_output(ex.body, ex.save_name)
            else:
                ex.trailers = list(event.headers)
        elif isinstance(event, DataReceived):
            if event.data and ex.t_first_data is None:
                ex.t_first_data = t
            ex.body.feed(event.data)
        if event.stream_ended:
            ex.ended = True
            ex.t_end = t
            ex.body.close()

    def _push_stream_event(self, push: Push, event, t: float) -> None:
        rec = self.rec
        rec.last_push_progress = t
        if push.stream_id is None:
            push.stream_id = event.stream_id
            push.t_stream = t
            rec.push_stream_ids[event.stream_id] = push.push_id
            if push.cancelled:
                self._stop_push_stream(push)
        # A cancelled push still records what arrives (headers, byte count) but
        # saves nothing: its Body has no file any more.
        if isinstance(event, HeadersReceived):
            status_s = hdr_get(event.headers, b":status")
            status = int(status_s) if status_s and status_s.isdigit() else None
            if push.status is None and status is not None and 100 <= status < 200:
                push.informational.append(
                    {"status": status, "headers": hdr_list(event.headers),
                     "at_ms": ms(t, rec.epoch), "seq": rec.next_seq()}
                )
            elif push.status is None:
                push.status = status
                push.headers = list(event.headers)
                push.t_headers = t
                push.seq_headers = rec.next_seq()
                if not push.cancelled:
                    rec.open_output(
                        push.body, f"push-{push.push_id}-{safe_basename(push.path or '')}"
                    )
        elif isinstance(event, DataReceived):
            push.body.feed(event.data)
        if event.stream_ended:
            push.ended = True
            push.t_end = t
            push.body.close()


def build_request_headers(
    url: str, authority: str, path: str, args: argparse.Namespace
) -> list[tuple[bytes, bytes]]:
    headers = [
        (b":method", b"GET"),
        (b":scheme", b"https"),
        (b":authority", authority.encode("ascii")),
        (b":path", path.encode("ascii")),
        (b"user-agent", USER_AGENT.encode("ascii")),
    ]
    if args.priority is not None:
        headers.append((b"priority", args.priority.encode("ascii")))
    for h in args.header:
        name, sep, value = h.partition(":")
        if not sep:
            raise ValueError(f"bad header {h!r}, expected 'name: value'")
        headers.append((name.strip().lower().encode("ascii"), value.strip().encode("latin-1")))
    return headers


async def run(args: argparse.Namespace) -> dict:
    loop = asyncio.get_running_loop()

    def exception_handler(loop, context) -> None:
        # aioquic's connect() leaves the handshake waiter's ConnectionError
        # unretrieved when the handshake fails; we report that failure ourselves.
        if isinstance(context.get("exception"), ConnectionError):
            return
        loop.default_exception_handler(context)

    loop.set_exception_handler(exception_handler)
    parts = [urlsplit(u) for u in args.urls]
    for u, p in zip(args.urls, parts):
        if p.scheme != "https" or not p.hostname:
            raise ValueError(f"not an https URL: {u}")
    authorities = {(p.hostname, p.port or 443) for p in parts}
    if len(authorities) != 1:
        raise ValueError("all URLs must have the same host and port (one connection)")
    host, port = authorities.pop()
    authority = parts[0].netloc

    configuration = QuicConfiguration(is_client=True, alpn_protocols=H3_ALPN)
    configuration.idle_timeout = max(args.timeout, 5.0)
    # aioquic sends no SNI for an IP literal but verifies it against IP SANs
    configuration.server_name = host
    if args.insecure:
        configuration.verify_mode = ssl.CERT_NONE
    if args.ca_certs:
        configuration.load_verify_locations(args.ca_certs)
    if args.qlog_dir:
        from aioquic.quic.logger import QuicFileLogger

        os.makedirs(args.qlog_dir, exist_ok=True)
        configuration.quic_logger = QuicFileLogger(args.qlog_dir)
    if args.output_dir:
        os.makedirs(args.output_dir, exist_ok=True)

    max_push_id = None if args.no_push else args.max_push_id
    rec = Recorder(args)
    result: dict = {
        "client": USER_AGENT,
        "authority": authority,
        "alpn": None,
        "max_push_id": max_push_id,
        "cancel_push": args.cancel_push,
        "priority": args.priority,
        "handshake_ms": None,
        "duration_ms": None,
        "connection_error": None,
        "error": None,
        "requests": [],
        "pushes": [],
        "ok": False,
    }
    exchanges: list[Exchange] = []
    for u, p in zip(args.urls, parts):
        path = p.path or "/"
        if p.query:
            path += "?" + p.query
        ex = Exchange(u, path, build_request_headers(u, authority, path, args))
        ex.save_name = safe_basename(path)
        exchanges.append(ex)

    def make_protocol(*a, **kw) -> H3ClientProtocol:
        return H3ClientProtocol(*a, rec=rec, max_push_id=max_push_id, **kw)

    async def body() -> None:
        async with connect(
            host,
            port,
            configuration=configuration,
            create_protocol=make_protocol,
            wait_connected=True,
        ) as client:
            client: H3ClientProtocol
            if rec.epoch is None:
                rec.epoch = now()
            result["handshake_ms"] = ms(rec.epoch, rec.t_start)
            for ex in exchanges:
                client.send_request(ex)
            client.transmit()

            # wait for every request, then for outstanding pushes
            while rec.connection_error is None:
                if rec.all_requests_finished():
                    if not rec.pending_pushes():
                        break
                    if now() - rec.last_push_progress >= args.push_wait:
                        break
                rec.changed.clear()
                try:
                    await asyncio.wait_for(rec.changed.wait(), timeout=0.05)
                except asyncio.TimeoutError:
                    pass
            if rec.connection_error is None:
                rec.local_close = True
                client.close(error_code=int(ErrorCode.H3_NO_ERROR))

    try:
        await asyncio.wait_for(body(), timeout=args.timeout)
    except asyncio.TimeoutError:
        result["error"] = f"timeout after {args.timeout} s"
    except ConnectionError as exc:
        ce = rec.connection_error
        result["error"] = (
            f"connection failed: error {ce['error_code']:#x} {ce['reason']!r}" if ce
            else f"connection failed: {exc!r}"
        )
    except Exception as exc:  # noqa: BLE001 - report anything as a failed run
        result["error"] = f"{type(exc).__name__}: {exc}"

    for ex in exchanges:
        ex.body.close()
    for p in rec.pushes.values():
        p.body.close()
    epoch = rec.epoch if rec.epoch is not None else rec.t_start
    result["alpn"] = rec.alpn
    result["connection_error"] = rec.connection_error
    result["duration_ms"] = ms(now(), rec.t_start)
    result["requests"] = [ex.to_json(epoch) for ex in exchanges]
    result["pushes"] = [rec.pushes[k].to_json(epoch) for k in sorted(rec.pushes)]
    result["ok"] = bool(exchanges) and all(ex.complete for ex in exchanges)
    return result


def print_summary(result: dict, out=sys.stdout) -> None:
    w = out.write
    w(f"{result['client']} -> {result['authority']} alpn={result['alpn']} "
      f"max_push_id={result['max_push_id']} handshake={result['handshake_ms']} ms\n")
    for r in result["requests"]:
        status = r["status"] if r["status"] is not None else "NO RESPONSE"
        w(f"\nGET {r['path']} (stream {r['stream_id']}) -> {status}"
          f"{'' if r['complete'] else ' [INCOMPLETE]'}\n")
        for inf in r["informational"]:
            w(f"  {inf['status']} at {inf['at_ms']} ms\n")
            for k, v in inf["headers"]:
                if not k.startswith(":"):
                    w(f"      {k}: {v}\n")
        if r["headers"] is not None:
            w(f"  final headers at {r['headers_at_ms']} ms, end at {r['end_at_ms']} ms\n")
            for k, v in r["headers"]:
                w(f"      {k}: {v}\n")
        w(f"  body {r['body_length']} bytes sha256={r['sha256']}"
          f"{' saved as ' + r['saved_as'] if r['saved_as'] else ''}\n")
        if r["reset_code"] is not None:
            w(f"  stream reset, error code {r['reset_code']:#x}\n")
        if r["push_ids"]:
            w(f"  push promises: {', '.join(str(i) for i in r['push_ids'])}\n")
    for p in result["pushes"]:
        state = ("cancelled" if p["cancelled"] else
                 "complete" if p["complete"] else
                 f"reset {p['reset_code']:#x}" if p["reset_code"] is not None else "INCOMPLETE")
        w(f"\nPUSH {p['push_id']} {p['path']} -> {p['status']} [{state}]\n")
        if p["promised_headers"]:
            w("  promised request: " + " ".join(
                f"{k}={v}" for k, v in p["promised_headers"] if k.startswith(":")) + "\n")
        for pr in p["promises"]:
            w(f"  promised on stream {pr['request_stream_id']} ({pr['request_path']}) "
              f"at {pr['at_ms']} ms{'' if pr['before_final_headers'] else ' (after final headers)'}\n")
        if p["headers"] is not None:
            w(f"  headers at {p['headers_at_ms']} ms (since handshake), end at {p['end_at_ms']} ms\n")
            for k, v in p["headers"]:
                w(f"      {k}: {v}\n")
        w(f"  body {p['body_length']} bytes sha256={p['sha256']}"
          f"{' saved as ' + p['saved_as'] if p['saved_as'] else ''}\n")
    if result["connection_error"]:
        ce = result["connection_error"]
        w(f"\nconnection closed: error {ce['error_code']:#x} {ce['reason']!r}\n")
    if result["error"]:
        w(f"\nERROR: {result['error']}\n")
    w(f"\n{'OK' if result['ok'] else 'FAILED'} in {result['duration_ms']} ms\n")


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    ap = argparse.ArgumentParser(
        description="HTTP/3 client (aioquic) recording 103s, pushes and timings.",
    )
    ap.add_argument("urls", nargs="+", metavar="URL", help="https:// URLs, one authority")
    ap.add_argument("-k", "--insecure", action="store_true", help="do not verify the certificate")
    ap.add_argument("--ca-certs", metavar="FILE", help="PEM file of trusted CA certificates")
    g = ap.add_mutually_exclusive_group()
    g.add_argument("--max-push-id", type=int, default=8, metavar="N",
                   help="send MAX_PUSH_ID=N (default 8, as aioquic)")
    g.add_argument("--no-push", action="store_true",
                   help="send no MAX_PUSH_ID: any push is then a connection error")
    ap.add_argument("--cancel-push", action="append", default=[], metavar="PATH_SUBSTRING",
                    help="cancel pushes whose :path contains this (repeatable)")
    ap.add_argument("--priority", metavar="VALUE",
                    help="send the RFC 9218 priority header with this value, e.g. 'u=1, i'")
    ap.add_argument("--priority-update", action="store_true",
                    help="with --priority, also send a PRIORITY_UPDATE frame per request")
    ap.add_argument("-H", "--header", action="append", default=[], metavar="'NAME: VALUE'",
                    help="extra request header (repeatable)")
    ap.add_argument("--output-dir", metavar="DIR", help="save bodies here")
    ap.add_argument("--json", action="store_true", help="print one JSON object")
    ap.add_argument("--timeout", type=float, default=10.0, metavar="SECS",
                    help="overall time limit (default 10)")
    ap.add_argument("--push-wait", type=float, default=1.0, metavar="SECS",
                    help="after all requests finished, wait at most this long without "
                         "push progress for outstanding pushes (default 1)")
    ap.add_argument("--qlog-dir", metavar="DIR", help="write aioquic qlog files here")
    args = ap.parse_args(argv)
    if args.max_push_id < 0:
        ap.error("--max-push-id must be >= 0")
    if args.priority_update and args.priority is None:
        ap.error("--priority-update needs --priority")
    return args


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    try:
        result = asyncio.run(run(args))
    except ValueError as exc:
        sys.stderr.write(f"aioquic_client: {exc}\n")
        return 2
    if args.json:
        json.dump(result, sys.stdout, indent=2)
        sys.stdout.write("\n")
    else:
        print_summary(result)
    return 0 if result["ok"] else 1


if __name__ == "__main__":
    sys.exit(main())
