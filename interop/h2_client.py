#!/usr/bin/env python3
"""HTTP/2 test client for pushlab, built on hyper-h2's public API.

Fetches every URL given on the command line concurrently over ONE TLS
connection (ALPN h2; all URLs must share one authority) and records, per
request: the informational (1xx, e.g. 103 Early Hints) responses with their
headers, ``link`` values and arrival times, the final status and headers and
when they arrived, the body length and SHA-256, and the PUSH_PROMISEs received
on the request stream. Per server push: the promised request headers (:path,
...), the pushed response (status, headers, body length, SHA-256), and whether
it completed, was reset, or was cancelled by us.

Usage:
    python interop/h2_client.py [--insecure | --ca-certs FILE] [--no-push]
        [--cancel-push PATH_SUBSTRING]... [--priority 'u=1, i']
        [-H 'name: value']... [--window BYTES] [--frames] [--output-dir DIR]
        [--timeout SECS] [--json] URL [URL ...]

Times are milliseconds. A request's ``*_ms`` fields are relative to the moment
its HEADERS were written to the socket; a push's ``*_ms`` fields are relative
to the moment its parent request was sent; ``sent_at_ms``, ``handshake_ms``
and ``settings_ack_ms`` are relative to the start of the run. Every recorded
event also carries a ``seq`` number from one global counter (in the order
hyper-h2 reported the events, which is the order of the frames on the wire),
so ordering (103 before 200, PUSH_PROMISE before the parent's final HEADERS,
pushed body before the parent's end, ...) can be checked without relying on
clock resolution.

Exit status: 0 only if every request got a final (non-1xx) response whose body
was received completely (END_STREAM, no RST_STREAM); 1 otherwise (timeout,
connection error, reset); 2 for usage errors. Pushes never affect the exit
status, they are only reported (a timeout while only pushes are outstanding
sets ``error`` but leaves ``ok`` true).

Protocol notes (hyper-h2 4.x behaviour this client relies on):

* ``--no-push`` replaces ``H2Connection.local_settings`` before
  ``initiate_connection()`` with a ``Settings`` object whose *initial* value of
  SETTINGS_ENABLE_PUSH is 0, so 0 goes out in the very first SETTINGS frame
  (assigning ``local_settings.enable_push = 0`` would only queue a pending
  change and the first frame would still say 1). A PUSH_PROMISE received
  anyway makes hyper-h2 raise ProtocolError; the client then sends GOAWAY
  (PROTOCOL_ERROR) and reports it in ``error``.
* ``--cancel-push S``: when a PUSH_PROMISE whose :path contains S is reported
  (PushedStreamReceived), the promised stream is reset at once with
  RST_STREAM(CANCEL) and the push is recorded as ``cancelled``. Frames the
  server had already sent on it are still counted (``body_length``) and their
  flow-controlled bytes are acknowledged so the connection window keeps
  moving; nothing is saved for a cancelled push.
* Flow control: every DATA frame's flow-controlled length (padding included)
  is handed back with ``acknowledge_received_data`` as soon as it is seen;
  hyper-h2 turns that into WINDOW_UPDATE frames (connection and stream) once
  half of a window has been consumed, and they are written before the next
  read. ``--window N`` raises SETTINGS_INITIAL_WINDOW_SIZE and the connection
  window (default: the protocol's 65,535).
* A GOAWAY from the server (ConnectionTerminated) ends the run: hyper-h2
  moves the connection to CLOSED on *any* GOAWAY and raises ProtocolError on
  every later frame, so a graceful shutdown (GOAWAY(2^31-1) + PING, then the
  final GOAWAY) cannot be followed and streams below last_stream_id cannot
  finish on this connection. The GOAWAY is reported in ``goaway`` (taken from
  the client's own frame log when hyper-h2 raised before reporting it).
* ``--frames`` adds ``frames``: every frame sent ("out") and received ("in"),
  split from the plaintext byte stream independently of hyper-h2, with time,
  type, stream id, flags, length and a few decoded fields (END_STREAM,
  promised stream id, error codes, WINDOW_UPDATE increment, GOAWAY fields).
* At the end the client sends GOAWAY(NO_ERROR) and closes the socket.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import re
import socket
import ssl
import sys
import time
from collections.abc import Iterable
from urllib.parse import urlsplit

try:
    import h2
    import h2.config
    import h2.connection
    import h2.events
    import h2.exceptions
    import h2.settings
    from h2.errors import ErrorCodes
    from h2.settings import SettingCodes
except ImportError as exc:  # pragma: no cover
    sys.stderr.write(
        f"h2_client: cannot import h2 ({exc}); run interop/install-deps.sh "
        "and use .venv/bin/python\n"
    )
    sys.exit(2)

USER_AGENT = f"pushlab-h2-client (hyper-h2/{h2.__version__})"
READ_SIZE = 65536


def now() -> float:
    return time.monotonic()


def ms(t: float | None, base: float | None) -> float | None:
    if t is None or base is None:
        return None
    return round((t - base) * 1000.0, 3)


def hdr_list(headers: Iterable[tuple[bytes, bytes]] | None) -> list[list[str]] | None:
    if headers is None:
        return None
    return [[k.decode("latin-1"), v.decode("latin-1")] for k, v in headers]


def hdr_get(headers: Iterable[tuple[bytes, bytes]], name: bytes) -> str | None:
    for k, v in headers:
        if k == name:
            return v.decode("latin-1")
    return None


def hdr_all(headers: Iterable[tuple[bytes, bytes]], name: bytes) -> list[str]:
    return [v.decode("latin-1") for k, v in headers if k == name]


def parse_status(headers: Iterable[tuple[bytes, bytes]]) -> int | None:
    s = hdr_get(headers, b":status")
    return int(s) if s is not None and s.isdigit() else None


def safe_basename(path: str, default: str = "index.html") -> str:
    p = urlsplit(path).path
    base = p.rsplit("/", 1)[-1] or default
    base = re.sub(r"[^A-Za-z0-9._-]", "_", base)
    if base in (".", ".."):
        base = default
    return base


def error_name(code: int | None) -> str | None:
    if code is None:
        return None
    try:
        return ErrorCodes(code).name
    except ValueError:
        return f"{code:#x}"


class Body:
    """Streams a body into a SHA-256, a byte count and optionally a file."""

    def __init__(self) -> None:
        self.sha = hashlib.sha256()
        self.length = 0
        self.data_frames = 0
        self.file = None
        self.saved_as: str | None = None

    def open(self, path: str) -> None:
        self.file = open(path, "wb")
        self.saved_as = path

    def feed(self, data: bytes, save: bool = True) -> None:
        self.data_frames += 1
        if data:
            self.sha.update(data)
            self.length += len(data)
            if save and self.file is not None:
                self.file.write(data)

    def close(self) -> None:
        if self.file is not None:
            self.file.close()
            self.file = None


class Response:
    """What arrived on one stream (a request's or a push's)."""

    def __init__(self) -> None:
        self.informational: list[dict] = []
        self.status: int | None = None
        self.headers: list[tuple[bytes, bytes]] | None = None
        self.t_headers: float | None = None
        self.seq_headers: int | None = None
        self.t_first_data: float | None = None
        self.seq_first_data: int | None = None
        self.t_end: float | None = None
        self.seq_end: int | None = None
        self.trailers: list[tuple[bytes, bytes]] | None = None
        self.body = Body()
        self.ended = False
        self.reset_code: int | None = None
        self.reset_by_peer: bool | None = None
        self.t_reset: float | None = None
        self.seq_reset: int | None = None

    @property
    def finished(self) -> bool:
        return self.ended or self.reset_code is not None

    def response_json(self, base: float | None) -> dict:
        return {
            "informational": self.informational,
            "status": self.status,
            "headers": hdr_list(self.headers),
            "headers_at_ms": ms(self.t_headers, base),
            "headers_seq": self.seq_headers,
            "first_data_at_ms": ms(self.t_first_data, base),
            "first_data_seq": self.seq_first_data,
            "end_at_ms": ms(self.t_end, base),
            "end_seq": self.seq_end,
            "trailers": hdr_list(self.trailers),
            "body_length": self.body.length,
            "data_frames": self.body.data_frames,
            "reset_code": self.reset_code,
            "reset_name": error_name(self.reset_code),
            "reset_by_peer": self.reset_by_peer,
            "reset_at_ms": ms(self.t_reset, base),
            "reset_seq": self.seq_reset,
        }


class Exchange(Response):
    def __init__(self, url: str, path: str, request_headers: list[tuple[bytes, bytes]]):
        super().__init__()
        self.url = url
        self.path = path
        self.request_headers = request_headers
        self.stream_id: int | None = None
        self.t_sent: float | None = None
        self.promised_stream_ids: list[int] = []
        self.save_name = safe_basename(path)

    @property
    def complete(self) -> bool:
        return (
            self.status is not None
            and self.status >= 200
            and self.ended
            and self.reset_code is None
        )

    def to_json(self, t_start: float) -> dict:
        d = {
            "url": self.url,
            "path": self.path,
            "stream_id": self.stream_id,
            "request_headers": hdr_list(self.request_headers),
            "sent_at_ms": ms(self.t_sent, t_start),
        }
        d.update(self.response_json(self.t_sent))
        d.update(
            {
                "sha256": self.body.sha.hexdigest() if self.complete else None,
                "saved_as": self.body.saved_as,
                "complete": self.complete,
                "promised_stream_ids": self.promised_stream_ids,
            }
        )
        return d


class Push(Response):
    def __init__(self, promised_stream_id: int, parent: Exchange | None,
                 headers: list[tuple[bytes, bytes]]):
        super().__init__()
        self.promised_stream_id = promised_stream_id
        self.parent = parent
        self.parent_stream_id: int | None = None
        self.request_headers = headers
        self.path = hdr_get(headers, b":path")
        self.t_promise: float | None = None
        self.seq_promise: int | None = None
        self.before_final_headers: bool | None = None
        self.cancelled = False
        self.t_cancel: float | None = None

    @property
    def finished(self) -> bool:
        return self.ended or self.reset_code is not None or self.cancelled

    @property
    def complete(self) -> bool:
        return (
            self.status is not None
            and self.ended
            and self.reset_code is None
            and not self.cancelled
        )

    def to_json(self) -> dict:
        base = self.parent.t_sent if self.parent is not None else None
        d = {
            "promised_stream_id": self.promised_stream_id,
            "parent_stream_id": self.parent_stream_id,
            "parent_path": self.parent.path if self.parent is not None else None,
            "path": self.path,
            "promised_headers": hdr_list(self.request_headers),
            "promise_at_ms": ms(self.t_promise, base),
            "promise_seq": self.seq_promise,
            "before_final_headers": self.before_final_headers,
        }
        d.update(self.response_json(base))
        d.update(
            {
                "sha256": self.body.sha.hexdigest() if self.complete else None,
                "saved_as": self.body.saved_as,
                "complete": self.complete,
                "cancelled": self.cancelled,
                "cancelled_at_ms": ms(self.t_cancel, base),
            }
        )
        return d


class ClientError(Exception):
    """Ends the run with this message in ``error``."""


FRAME_TYPES = {
    0x0: "DATA", 0x1: "HEADERS", 0x2: "PRIORITY", 0x3: "RST_STREAM", 0x4: "SETTINGS",
    0x5: "PUSH_PROMISE", 0x6: "PING", 0x7: "GOAWAY", 0x8: "WINDOW_UPDATE",
    0x9: "CONTINUATION", 0xA: "ALTSVC", 0xC: "ORIGIN", 0x10: "PRIORITY_UPDATE",
}


class FrameLog:
    """Splits one direction's plaintext byte stream into frames (independently of
    hyper-h2) and keeps a compact record of each: kept for ``--frames`` and used
    to report a GOAWAY even when hyper-h2 rejects the frames that follow it."""

    PREFACE = b"PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n"

    def __init__(self, direction: str, sink: list[dict], t0: float, skip_preface: bool):
        self.direction = direction
        self.sink = sink
        self.t0 = t0
        self.buf = bytearray()
        self.skip = len(self.PREFACE) if skip_preface else 0
        self.goaway: dict | None = None

    def feed(self, data: bytes, t: float) -> None:
        if self.skip:
            n = min(self.skip, len(data))
            data = data[n:]
            self.skip -= n
        self.buf += data
        while len(self.buf) >= 9:
            length = int.from_bytes(self.buf[0:3], "big")
            if len(self.buf) < 9 + length:
                break
            ftype, flags = self.buf[3], self.buf[4]
            sid = int.from_bytes(self.buf[5:9], "big") & 0x7FFFFFFF
            payload = bytes(self.buf[9:9 + length])
            del self.buf[:9 + length]
            rec = {
                "dir": self.direction,
                "at_ms": ms(t, self.t0),
                "type": FRAME_TYPES.get(ftype, f"{ftype:#x}"),
                "stream_id": sid,
                "flags": flags,
                "length": length,
            }
            if ftype in (0x0, 0x1) and flags & 0x1:
                rec["end_stream"] = True
            if ftype == 0x5 and length >= 4:
                off = 1 if flags & 0x8 else 0
                rec["promised_stream_id"] = (
                    int.from_bytes(payload[off:off + 4], "big") & 0x7FFFFFFF)
            elif ftype == 0x3 and length >= 4:
                rec["error_code"] = int.from_bytes(payload[0:4], "big")
            elif ftype == 0x8 and length >= 4:
                rec["increment"] = int.from_bytes(payload[0:4], "big") & 0x7FFFFFFF
            elif ftype == 0x7 and length >= 8:
                rec["last_stream_id"] = int.from_bytes(payload[0:4], "big") & 0x7FFFFFFF
                rec["error_code"] = int.from_bytes(payload[4:8], "big")
                rec["additional_data"] = payload[8:].decode("utf-8", "replace")
                if self.goaway is None:
                    self.goaway = {
                        "error_code": rec["error_code"],
                        "error_name": error_name(rec["error_code"]),
                        "last_stream_id": rec["last_stream_id"],
                        "additional_data": rec["additional_data"],
                        "at_ms": rec["at_ms"],
                        "seq": None,
                    }
            self.sink.append(rec)


class H2Client:
    def __init__(self, args: argparse.Namespace, host: str, port: int, authority: str,
                 exchanges: list[Exchange]):
        self.args = args
        self.host = host
        self.port = port
        self.authority = authority
        self.exchanges = exchanges
        self.by_stream: dict[int, Exchange] = {}
        self.pushes: dict[int, Push] = {}
        self.seq = 0
        self.t_start = now()
        self.t_handshake: float | None = None
        self.t_settings_ack: float | None = None
        self.sock: ssl.SSLSocket | None = None
        self.conn: h2.connection.H2Connection | None = None
        self.alpn: str | None = None
        self.tls_version: str | None = None
        self.server_settings: dict[str, int] = {}
        self.goaway: dict | None = None
        self.protocol_error: str | None = None
        self.used_names: set[str] = set()
        self.bytes_in = 0
        self.frames: list[dict] = []
        self.frames_in = FrameLog("in", self.frames, self.t_start, skip_preface=False)
        self.frames_out = FrameLog("out", self.frames, self.t_start, skip_preface=True)

    # -- helpers -----------------------------------------------------------------

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

    def flush(self) -> None:
        data = self.conn.data_to_send()
        if data:
            self.sock.sendall(data)
            self.frames_out.feed(data, now())

    def done(self) -> bool:
        return all(ex.finished for ex in self.exchanges) and all(
            p.finished for p in self.pushes.values()
        )

    # -- connection ----------------------------------------------------------------

    def connect(self, deadline: float) -> None:
        if self.args.insecure:
            ctx = ssl.create_default_context()
            ctx.check_hostname = False
            ctx.verify_mode = ssl.CERT_NONE
        else:
            ctx = ssl.create_default_context(cafile=self.args.ca_certs)
        ctx.set_alpn_protocols(["h2"])
        ctx.minimum_version = ssl.TLSVersion.TLSv1_2  # RFC 9113 9.2
        raw = socket.create_connection(
            (self.host, self.port), timeout=max(0.1, deadline - now())
        )
        raw.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        try:
            # Python sends no SNI for an IP literal but checks it against IP SANs.
            self.sock = ctx.wrap_socket(raw, server_hostname=self.host)
        except BaseException:
            raw.close()
            raise
        self.t_handshake = now()
        self.alpn = self.sock.selected_alpn_protocol()
        self.tls_version = self.sock.version()
        if self.alpn != "h2":
            raise ClientError(f"server did not negotiate h2 (ALPN: {self.alpn!r})")

        config = h2.config.H2Configuration(client_side=True, header_encoding=None)
        self.conn = h2.connection.H2Connection(config=config)
        initial = {
            # hyper-h2's own defaults for a client's first SETTINGS frame
            SettingCodes.MAX_CONCURRENT_STREAMS: 100,
            SettingCodes.MAX_HEADER_LIST_SIZE: self.conn.DEFAULT_MAX_HEADER_LIST_SIZE,
            SettingCodes.ENABLE_PUSH: 0 if self.args.no_push else 1,
        }
        if self.args.window is not None:
            initial[SettingCodes.INITIAL_WINDOW_SIZE] = self.args.window
        self.conn.local_settings = h2.settings.Settings(client=True, initial_values=initial)
        self.conn.initiate_connection()
        if self.args.window is not None and self.args.window > 65535:
            self.conn.increment_flow_control_window(self.args.window - 65535)
        self.flush()

    def send_requests(self) -> None:
        for ex in self.exchanges:
            sid = self.conn.get_next_available_stream_id()
            ex.stream_id = sid
            self.by_stream[sid] = ex
            self.conn.send_headers(sid, ex.request_headers, end_stream=True)
        data = self.conn.data_to_send()
        self.sock.sendall(data)
        t = now()
        self.frames_out.feed(data, t)
        for ex in self.exchanges:
            ex.t_sent = t

    def close(self) -> None:
        if self.conn is not None and self.sock is not None:
            try:
                self.conn.close_connection(error_code=ErrorCodes.NO_ERROR)
                self.flush()
            except Exception:  # noqa: BLE001 - already closed or broken: nothing to say
                pass
        if self.sock is not None:
            try:
                self.sock.close()
            except OSError:
                pass

    def run_loop(self, deadline: float) -> None:
        while not self.done():
            remaining = deadline - now()
            if remaining <= 0:
                raise TimeoutError
            self.sock.settimeout(min(remaining, 0.25))
            try:
                data = self.sock.recv(READ_SIZE)
            except (socket.timeout, TimeoutError):
                continue
            except ssl.SSLWantReadError:
                continue
            if not data:
                raise ClientError("server closed the TCP connection")
            self.bytes_in += len(data)
            t = now()
            self.frames_in.feed(data, t)
            try:
                events = self.conn.receive_data(data)
            except h2.exceptions.ProtocolError as exc:
                self.protocol_error = f"{type(exc).__name__}: {exc}"
                g = self.frames_in.goaway
                if g is not None:
                    # hyper-h2 treats the connection as closed after any GOAWAY
                    # and rejects every later frame (e.g. the PING of a graceful
                    # shutdown), so ConnectionTerminated was never reported.
                    if self.goaway is None:
                        self.goaway = dict(g, seq=self.next_seq())
                    raise ClientError(
                        f"server sent GOAWAY ({g['error_name']}, last_stream_id "
                        f"{g['last_stream_id']}); hyper-h2 cannot process frames after a "
                        f"GOAWAY ({exc})"
                    ) from None
                try:
                    self.conn.close_connection(
                        error_code=getattr(exc, "error_code", ErrorCodes.PROTOCOL_ERROR)
                        or ErrorCodes.PROTOCOL_ERROR,
                        additional_data=str(exc).encode("utf-8", "replace")[:200],
                    )
                    self.flush()
                except Exception:  # noqa: BLE001
                    pass
                raise ClientError(f"protocol error from server: {exc}") from None
            for ev in events:
                self.handle(ev, t)
            self.flush()
            if self.goaway is not None:
                break

    # -- events --------------------------------------------------------------------

    def stream(self, sid: int) -> Response | None:
        return self.by_stream.get(sid) or self.pushes.get(sid)

    def handle(self, ev, t: float) -> None:
        E = h2.events
        if isinstance(ev, E.PushedStreamReceived):
            self.on_push_promise(ev, t)
        elif isinstance(ev, E.InformationalResponseReceived):
            r = self.stream(ev.stream_id)
            if r is not None:
                base = self._base(r)
                r.informational.append(
                    {
                        "status": parse_status(ev.headers),
                        "headers": hdr_list(ev.headers),
                        "link": hdr_all(ev.headers, b"link"),
                        "at_ms": ms(t, base),
                        "seq": self.next_seq(),
                    }
                )
        elif isinstance(ev, E.ResponseReceived):
            r = self.stream(ev.stream_id)
            if r is not None and r.status is None:
                r.status = parse_status(ev.headers)
                r.headers = list(ev.headers)
                r.t_headers = t
                r.seq_headers = self.next_seq()
                if isinstance(r, Exchange):
                    self.open_output(r.body, r.save_name)
                elif not r.cancelled:
                    self.open_output(
                        r.body, f"push-{r.promised_stream_id}-{safe_basename(r.path or '')}"
                    )
        elif isinstance(ev, E.TrailersReceived):
            r = self.stream(ev.stream_id)
            if r is not None:
                r.trailers = list(ev.headers)
        elif isinstance(ev, E.DataReceived):
            # Hand the window back first, whatever the stream's fate.
            if ev.flow_controlled_length:
                self.conn.acknowledge_received_data(ev.flow_controlled_length, ev.stream_id)
            r = self.stream(ev.stream_id)
            if r is not None:
                if r.t_first_data is None and ev.data:
                    r.t_first_data = t
                    r.seq_first_data = self.next_seq()
                cancelled = isinstance(r, Push) and r.cancelled
                r.body.feed(ev.data, save=not cancelled)
        elif isinstance(ev, E.StreamEnded):
            r = self.stream(ev.stream_id)
            if r is not None and not r.ended:
                r.ended = True
                r.t_end = t
                r.seq_end = self.next_seq()
                r.body.close()
        elif isinstance(ev, E.StreamReset):
            r = self.stream(ev.stream_id)
            if r is not None and r.reset_code is None:
                r.reset_code = int(ev.error_code)
                r.reset_by_peer = bool(ev.remote_reset)
                r.t_reset = t
                r.seq_reset = self.next_seq()
                r.body.close()
        elif isinstance(ev, E.RemoteSettingsChanged):
            for code, change in ev.changed_settings.items():
                try:
                    name = SettingCodes(code).name
                except ValueError:
                    name = f"{int(code):#x}"
                self.server_settings[name] = change.new_value
        elif isinstance(ev, E.SettingsAcknowledged):
            if self.t_settings_ack is None:
                self.t_settings_ack = t
        elif isinstance(ev, E.ConnectionTerminated):
            self.goaway = {
                "error_code": int(ev.error_code) if ev.error_code is not None else None,
                "error_name": error_name(ev.error_code),
                "last_stream_id": ev.last_stream_id,
                "additional_data": (ev.additional_data or b"").decode("utf-8", "replace"),
                "at_ms": ms(t, self.t_start),
                "seq": self.next_seq(),
            }

    def _base(self, r: Response) -> float | None:
        if isinstance(r, Exchange):
            return r.t_sent
        return r.parent.t_sent if r.parent is not None else None

    def on_push_promise(self, ev, t: float) -> None:
        parent = self.by_stream.get(ev.parent_stream_id)
        push = Push(ev.pushed_stream_id, parent, list(ev.headers))
        push.parent_stream_id = ev.parent_stream_id
        push.t_promise = t
        push.seq_promise = self.next_seq()
        push.before_final_headers = bool(parent is not None and parent.status is None)
        self.pushes[ev.pushed_stream_id] = push
        if parent is not None:
            parent.promised_stream_ids.append(ev.pushed_stream_id)
        if push.path is not None and any(s in push.path for s in self.args.cancel_push):
            push.cancelled = True
            push.t_cancel = t
            try:
                self.conn.reset_stream(ev.pushed_stream_id, ErrorCodes.CANCEL)
            except h2.exceptions.StreamClosedError:
                pass  # already over (e.g. reset by the server in the same read)


def build_request_headers(authority: str, path: str,
                          args: argparse.Namespace) -> list[tuple[bytes, bytes]]:
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
        if not sep or not name.strip():
            raise ValueError(f"bad header {h!r}, expected 'name: value'")
        headers.append((name.strip().lower().encode("ascii"), value.strip().encode("latin-1")))
    return headers


def run(args: argparse.Namespace) -> dict:
    parts = [urlsplit(u) for u in args.urls]
    for u, p in zip(args.urls, parts):
        if p.scheme != "https" or not p.hostname:
            raise ValueError(f"not an https URL: {u}")
    authorities = {(p.hostname, p.port or 443) for p in parts}
    if len(authorities) != 1:
        raise ValueError("all URLs must have the same host and port (one connection)")
    host, port = authorities.pop()
    authority = parts[0].netloc
    if args.output_dir:
        os.makedirs(args.output_dir, exist_ok=True)

    exchanges: list[Exchange] = []
    for u, p in zip(args.urls, parts):
        path = (p.path or "/") + ("?" + p.query if p.query else "")
        exchanges.append(Exchange(u, path, build_request_headers(authority, path, args)))

    client = H2Client(args, host, port, authority, exchanges)
    deadline = client.t_start + args.timeout
    error: str | None = None
    try:
        client.connect(deadline)
        client.send_requests()
        client.run_loop(deadline)
        if client.goaway is not None and not client.done():
            g = client.goaway
            error = (f"server sent GOAWAY ({g['error_name']}, last_stream_id "
                     f"{g['last_stream_id']}) before everything finished")
    except TimeoutError:
        error = f"timeout after {args.timeout} s"
        pending_p = [p for p in client.pushes.values() if not p.finished]
        if all(ex.finished for ex in exchanges) and pending_p:
            error += f" waiting for {len(pending_p)} push(es)"
    except ClientError as exc:
        error = str(exc)
    except ssl.SSLError as exc:
        error = f"TLS error: {exc}"
    except OSError as exc:
        error = f"{type(exc).__name__}: {exc}"
    finally:
        client.close()
        for ex in exchanges:
            ex.body.close()
        for p in client.pushes.values():
            p.body.close()

    ok = bool(exchanges) and all(ex.complete for ex in exchanges)
    if not ok and error is None:
        error = "some request did not complete"
    return {
        "client": USER_AGENT,
        "authority": authority,
        "alpn": client.alpn,
        "tls_version": client.tls_version,
        "enable_push": 0 if args.no_push else 1,
        "cancel_push": args.cancel_push,
        "priority": args.priority,
        "handshake_ms": ms(client.t_handshake, client.t_start),
        "settings_ack_ms": ms(client.t_settings_ack, client.t_start),
        "duration_ms": ms(now(), client.t_start),
        "server_settings": client.server_settings,
        "goaway": client.goaway,
        "protocol_error": client.protocol_error,
        "bytes_received": client.bytes_in,
        "frames": client.frames if args.frames else None,
        "requests": [ex.to_json(client.t_start) for ex in exchanges],
        "pushes": [client.pushes[k].to_json() for k in sorted(client.pushes)],
        "ok": ok,
        "error": error,
    }


def print_summary(result: dict, out=sys.stdout) -> None:
    w = out.write
    w(f"{result['client']} -> {result['authority']} alpn={result['alpn']} "
      f"{result['tls_version']} enable_push={result['enable_push']} "
      f"handshake={result['handshake_ms']} ms\n")
    if result["server_settings"]:
        w("server SETTINGS: " + ", ".join(
            f"{k}={v}" for k, v in result["server_settings"].items()) + "\n")
    for r in result["requests"]:
        status = r["status"] if r["status"] is not None else "NO RESPONSE"
        w(f"\nGET {r['path']} (stream {r['stream_id']}) -> {status}"
          f"{'' if r['complete'] else ' [INCOMPLETE]'}\n")
        for inf in r["informational"]:
            w(f"  {inf['status']} at {inf['at_ms']} ms (seq {inf['seq']})\n")
            for k, v in inf["headers"]:
                if not k.startswith(":"):
                    w(f"      {k}: {v}\n")
        if r["headers"] is not None:
            w(f"  final headers at {r['headers_at_ms']} ms (seq {r['headers_seq']}), "
              f"end at {r['end_at_ms']} ms\n")
            for k, v in r["headers"]:
                w(f"      {k}: {v}\n")
        w(f"  body {r['body_length']} bytes in {r['data_frames']} DATA frames "
          f"sha256={r['sha256']}{' saved as ' + r['saved_as'] if r['saved_as'] else ''}\n")
        if r["reset_code"] is not None:
            w(f"  stream reset ({r['reset_name']}) by {'server' if r['reset_by_peer'] else 'us'}\n")
        if r["promised_stream_ids"]:
            w(f"  push promises: streams {', '.join(map(str, r['promised_stream_ids']))}\n")
    for p in result["pushes"]:
        state = ("cancelled" if p["cancelled"] else
                 "complete" if p["complete"] else
                 f"reset {p['reset_name']}" if p["reset_code"] is not None else "INCOMPLETE")
        w(f"\nPUSH stream {p['promised_stream_id']} {p['path']} -> {p['status']} [{state}]\n")
        w(f"  promised on stream {p['parent_stream_id']} ({p['parent_path']}) at "
          f"{p['promise_at_ms']} ms (seq {p['promise_seq']})"
          f"{'' if p['before_final_headers'] else ' (after final headers)'}\n")
        if p["headers"] is not None:
            w(f"  headers at {p['headers_at_ms']} ms, end at {p['end_at_ms']} ms\n")
            for k, v in p["headers"]:
                w(f"      {k}: {v}\n")
        w(f"  body {p['body_length']} bytes sha256={p['sha256']}"
          f"{' saved as ' + p['saved_as'] if p['saved_as'] else ''}\n")
    if result.get("frames"):
        w("\nframes:\n")
        for f in result["frames"]:
            extra = " ".join(
                f"{k}={f[k]}" for k in ("promised_stream_id", "error_code", "increment",
                                        "last_stream_id", "end_stream") if k in f)
            w(f"  {f['at_ms']:10.3f} {f['dir']:>3} {f['type']:<13} stream={f['stream_id']} "
              f"flags={f['flags']:#04x} len={f['length']} {extra}\n")
    if result["goaway"]:
        g = result["goaway"]
        w(f"\nGOAWAY from server: {g['error_name']} last_stream_id={g['last_stream_id']} "
          f"{g['additional_data']!r}\n")
    if result["error"]:
        w(f"\nERROR: {result['error']}\n")
    w(f"\n{'OK' if result['ok'] else 'FAILED'} in {result['duration_ms']} ms\n")


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    ap = argparse.ArgumentParser(
        description="HTTP/2 client (hyper-h2) recording 103s, pushes and timings.",
    )
    ap.add_argument("urls", nargs="+", metavar="URL", help="https:// URLs, one authority")
    g = ap.add_mutually_exclusive_group()
    g.add_argument("-k", "--insecure", action="store_true",
                   help="do not verify the certificate")
    g.add_argument("--ca-certs", metavar="FILE", help="PEM file of trusted CA certificates")
    ap.add_argument("--no-push", action="store_true",
                    help="send SETTINGS_ENABLE_PUSH=0 in the first SETTINGS frame")
    ap.add_argument("--cancel-push", action="append", default=[], metavar="PATH_SUBSTRING",
                    help="RST_STREAM(CANCEL) pushes whose :path contains this (repeatable)")
    ap.add_argument("--priority", metavar="VALUE",
                    help="send the RFC 9218 priority header with this value, e.g. 'u=1, i'")
    ap.add_argument("-H", "--header", action="append", default=[], metavar="'NAME: VALUE'",
                    help="extra request header (repeatable)")
    ap.add_argument("--window", type=int, metavar="BYTES",
                    help="SETTINGS_INITIAL_WINDOW_SIZE and connection window "
                         "(default 65535, the protocol's)")
    ap.add_argument("--frames", action="store_true",
                    help="also report every frame sent and received (JSON and summary)")
    ap.add_argument("--output-dir", metavar="DIR", help="save bodies here")
    ap.add_argument("--json", action="store_true", help="print one JSON object")
    ap.add_argument("--timeout", type=float, default=10.0, metavar="SECS",
                    help="overall time limit (default 10)")
    args = ap.parse_args(argv)
    if args.window is not None and not 1 <= args.window <= 2**31 - 1:
        ap.error("--window must be between 1 and 2^31-1")
    if args.timeout <= 0:
        ap.error("--timeout must be > 0")
    return args


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    try:
        result = run(args)
    except ValueError as exc:
        sys.stderr.write(f"h2_client: {exc}\n")
        return 2
    try:
        if args.json:
            json.dump(result, sys.stdout, indent=2)
            sys.stdout.write("\n")
        else:
            print_summary(result)
        sys.stdout.flush()
    except BrokenPipeError:  # e.g. piped into head
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
    return 0 if result["ok"] else 1


if __name__ == "__main__":
    sys.exit(main())
