#!/usr/bin/env python3
"""QUIC transport checks against a server, with aioquic's sans-I/O QUIC and
HTTP/3 stacks driven over plain UDP sockets (so the checks control every
datagram). Prints one JSON object.

Checks (--check NAME):
  fetch        GET the URLs over HTTP/3; reports whether a Retry was received,
               the negotiated cipher suite, and each body's length and SHA-256
               (--chacha20: offer only TLS_CHACHA20_POLY1305_SHA256;
                --large-hello: a ClientHello padded to post-quantum size;
                --key-update: request a key update when the first body byte arrives)
  resume       two connections: the second resumes the first's session; with
               --zero-rtt it sends its requests in 0-RTT early data
               (--method POST: the early request's method)
  replay       one session ticket used for two 0-RTT connections: the second
               must not get its early data accepted (tickets are single-use)
  amplification  send the first Initial flight once and never answer: counts
               the bytes the server sends back before validating the address
  migrate      after a transfer, move to a new UDP port, send one small packet
               and never answer: counts what the server sends to the new path
  preferred    GET the URLs; aioquic probes the server's preferred address once
               the handshake is confirmed and moves there when it is validated
               (RFC 9000 section 9.6): reports the paths, the datagrams sent to
               and received from each server address, and each body

Usage: quic_checks.py --check NAME [options] URL [URL ...]
"""

from __future__ import annotations

import argparse
import hashlib
import json
import select
import socket
import sys
import time
from urllib.parse import urlparse

from aioquic.h3.connection import H3_ALPN, H3Connection
from aioquic.h3.events import DataReceived, HeadersReceived
from aioquic.quic import events as qe
from aioquic.quic.configuration import QuicConfiguration
from aioquic.quic.connection import QuicConnection
from aioquic.quic.logger import QuicLogger
from aioquic.tls import CipherSuite, SessionTicket


class Client:
    """One QUIC connection over a UDP socket, driven by hand."""

    def __init__(self, host: str, port: int, config: QuicConfiguration, tickets: list):
        self.addr = (socket.gethostbyname(host), port)
        self.authority = f"{host}:{port}"
        self.sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        self.sock.bind(("0.0.0.0", 0))
        self.sock.setblocking(False)
        self.quic = QuicConnection(
            configuration=config, session_ticket_handler=tickets.append
        )
        self.hq = config.alpn_protocols == ["hq-interop"]
        self.h3 = None if self.hq else H3Connection(self.quic)
        self.sent = 0
        self.received = 0
        self.handshake: qe.HandshakeCompleted | None = None
        self.terminated: qe.ConnectionTerminated | None = None
        self.streams: dict[int, dict] = {}
        self.first_data_hook = None
        # Datagrams per server address, both ways ("ip:port" keys).
        self.sent_to: dict[str, int] = {}
        self.received_from: dict[str, int] = {}

    def connect(self) -> None:
        self.quic.connect(self.addr, now=time.time())
        self.flush()

    def flush(self) -> None:
        # To the address aioquic chose: the server's, or its preferred one.
        for data, addr in self.quic.datagrams_to_send(now=time.time()):
            self.sock.sendto(data, addr)
            self.sent += len(data)
            key = f"{addr[0]}:{addr[1]}"
            self.sent_to[key] = self.sent_to.get(key, 0) + 1

    def _track(self, sid: int, path: str) -> int:
        """Records a request just sent on stream `sid` and sends it."""
        self.streams[sid] = {
            "path": path,
            "status": None,
            "hash": hashlib.sha256(),
            "len": 0,
            "done": False,
            "sent_at": time.time(),
        }
        self.flush()
        return sid

    def request_hq(self, path: str) -> int:
        """An hq-interop (HTTP/0.9) request: the request line, then FIN."""
        sid = self.quic.get_next_available_stream_id()
        self.quic.send_stream_data(sid, f"GET {path}\r\n".encode(), end_stream=True)
        return self._track(sid, path)

    def request(self, path: str, method: str = "GET") -> int:
        if self.hq:
            return self.request_hq(path)
        sid = self.quic.get_next_available_stream_id()
        self.h3.send_headers(
            sid,
            [
                (b":method", method.encode()),
                (b":scheme", b"https"),
                (b":authority", self.authority.encode()),
                (b":path", path.encode()),
            ],
            end_stream=True,
        )
        return self._track(sid, path)

    def step(self, timeout: float = 0.05) -> None:
        timer = self.quic.get_timer()
        wait = timeout if timer is None else max(0.0, min(timeout, timer - time.time()))
        r, _, _ = select.select([self.sock], [], [], wait)
        if r:
            while True:
                try:
                    data, addr = self.sock.recvfrom(65536)
                except BlockingIOError:
                    break
                self.received += len(data)
                key = f"{addr[0]}:{addr[1]}"
                self.received_from[key] = self.received_from.get(key, 0) + 1
                self.quic.receive_datagram(data, addr, now=time.time())
        timer = self.quic.get_timer()
        if timer is not None and time.time() >= timer:
            self.quic.handle_timer(now=time.time())
        self.events()
        self.flush()

    def events(self) -> None:
        while (ev := self.quic.next_event()) is not None:
            if isinstance(ev, qe.HandshakeCompleted):
                self.handshake = ev
            elif isinstance(ev, qe.ConnectionTerminated):
                self.terminated = ev
            if self.hq:
                if isinstance(ev, qe.StreamDataReceived) and ev.stream_id in self.streams:
                    s = self.streams[ev.stream_id]
                    if s["len"] == 0 and ev.data and self.first_data_hook:
                        self.first_data_hook()
                        self.first_data_hook = None
                    s["hash"].update(ev.data)
                    s["len"] += len(ev.data)
                    if ev.end_stream:
                        s["done"] = True
                        s["done_at"] = time.time()
                        s["status"] = 200
            for h in (self.h3.handle_event(ev) if self.h3 else []):
                s = self.streams.get(h.stream_id)
                if s is None:
                    continue
                if isinstance(h, HeadersReceived):
                    for n, v in h.headers:
                        if n == b":status":
                            s["status"] = int(v)
                    if h.stream_ended:
                        s["done"] = True
                        s["done_at"] = time.time()
                elif isinstance(h, DataReceived):
                    if s["len"] == 0 and h.data and self.first_data_hook:
                        self.first_data_hook()
                        self.first_data_hook = None
                    s["hash"].update(h.data)
                    s["len"] += len(h.data)
                    if h.stream_ended:
                        s["done"] = True
                        s["done_at"] = time.time()
            if isinstance(ev, qe.StreamReset) and ev.stream_id in self.streams:
                self.streams[ev.stream_id]["done"] = True
                self.streams[ev.stream_id]["reset"] = ev.error_code

    def run_until(self, pred, timeout: float) -> bool:
        end = time.time() + timeout
        while time.time() < end:
            if pred():
                return True
            if self.terminated is not None:
                return pred()
            self.step()
        return pred()

    def all_done(self) -> bool:
        return all(s["done"] for s in self.streams.values())

    def close(self) -> None:
        self.quic.close()
        self.flush()
        self.sock.close()

    def results(self) -> list[dict]:
        return [
            {
                "path": s["path"],
                "status": s["status"],
                "length": s["len"],
                "sha256": s["hash"].hexdigest(),
                "complete": s["done"] and "reset" not in s,
                # From the request sent to its last byte.
                "transfer_ms": (s["done_at"] - s["sent_at"]) * 1e3 if "done_at" in s else None,
                "reset": s.get("reset"),
            }
            for s in self.streams.values()
        ]


def config(args, alpn=None) -> QuicConfiguration:
    alpn = alpn or (["hq-interop"] if args.alpn == "hq-interop" else H3_ALPN)
    c = QuicConfiguration(is_client=True, alpn_protocols=alpn)
    # Room for many concurrent streams (the multiplexing case).
    c.max_stream_data = 4 * 1024 * 1024
    c.max_data = 64 * 1024 * 1024
    c.verify_mode = 0  # CERT_NONE: self-signed test servers
    c.server_name = "localhost"
    c.quic_logger = QuicLogger()
    if args.chacha20:
        c.cipher_suites = [CipherSuite.CHACHA20_POLY1305_SHA256]
    if args.aes_only:
        c.cipher_suites = [CipherSuite.AES_128_GCM_SHA256, CipherSuite.AES_256_GCM_SHA384]
    if args.large_hello:
        c.quantum_readiness_test = True
    return c


def retries(c: QuicConfiguration) -> int:
    n = 0
    for trace in c.quic_logger.to_dict().get("traces", []):
        for ev in trace.get("events", []):
            data = ev.get("data", {})
            if ev.get("name") == "transport:packet_received" and data.get("header", {}).get("packet_type") == "retry":
                n += 1
    return n


def cipher(client: Client) -> str | None:
    ks = getattr(client.quic.tls, "key_schedule", None)
    suite = getattr(ks, "cipher_suite", None)
    return suite.name if suite is not None else None


def fetch(args, urls, keep_open: bool = False) -> dict:
    host, port, paths = urls
    cfg = config(args)
    tickets: list[SessionTicket] = []
    c = Client(host, port, cfg, tickets)
    t0 = time.time()
    c.connect()
    ok = c.run_until(lambda: c.handshake is not None, args.timeout)
    key_updates = 0
    if ok:
        if args.key_update:
            def upd():
                nonlocal key_updates
                c.quic.request_key_update()
                key_updates += 1
            c.first_data_hook = upd
        pending = list(paths)
        def more() -> bool:
            # Open streams as the server's stream credit allows.
            while pending:
                try:
                    c.request(pending[0])
                except Exception:
                    break
                pending.pop(0)
            return not pending and c.all_done()
        ok = c.run_until(more, args.timeout)
    out = {
        "check": "fetch",
        "handshake": c.handshake is not None,
        "alpn": c.handshake.alpn_protocol if c.handshake else None,
        "retries": retries(cfg),
        "cipher_suite": cipher(c),
        "key_updates_requested": key_updates,
        "duration_ms": (time.time() - t0) * 1e3,
        "responses": c.results(),
        "error": None if ok else (c.terminated.reason_phrase if c.terminated else "timeout"),
    }
    if keep_open:
        out["client"] = c
    else:
        c.close()
    return out


def preferred(args, urls) -> dict:
    out = fetch(args, urls, keep_open=True)
    c = out.pop("client")
    paths = [
        {"addr": f"{p.addr[0]}:{p.addr[1]}", "validated": p.is_validated}
        for p in c.quic._network_paths
    ]
    out.update(
        check="preferred",
        server=f"{c.addr[0]}:{c.addr[1]}",
        paths=paths,
        primary=paths[0]["addr"] if paths else None,
        sent_to=c.sent_to,
        received_from=c.received_from,
    )
    c.close()
    return out


def first_visit(args, host, port, path) -> list[SessionTicket]:
    """A full handshake and one request; the session tickets it left."""
    tickets: list[SessionTicket] = []
    first = Client(host, port, config(args), tickets)
    first.connect()
    first.run_until(lambda: first.handshake is not None, args.timeout)
    first.request(path)
    first.run_until(first.all_done, args.timeout)
    first.run_until(lambda: len(tickets) > 0, 1.0)
    first.close()
    return tickets


def resume(args, urls) -> dict:
    host, port, paths = urls
    tickets = first_visit(args, host, port, paths[0])
    if not tickets:
        return {"check": "resume", "error": "no session ticket received", "tickets": 0}
    cfg = config(args)
    cfg.session_ticket = tickets[-1]
    second = Client(host, port, cfg, [])
    second.connect()
    if args.zero_rtt:
        # Before the handshake completes: these go out in 0-RTT packets.
        for p in paths:
            second.request(p, method=args.method)
    second.run_until(lambda: second.handshake is not None, args.timeout)
    if not args.zero_rtt:
        for p in paths:
            second.request(p, method=args.method)
    ok = second.run_until(second.all_done, args.timeout)
    h = second.handshake
    out = {
        "check": "resume",
        "tickets": len(tickets),
        "max_early_data": tickets[-1].max_early_data_size,
        "session_resumed": bool(h and h.session_resumed),
        "early_data_accepted": bool(h and h.early_data_accepted),
        "responses": second.results(),
        "error": None if ok else (second.terminated.reason_phrase if second.terminated else "timeout"),
    }
    second.close()
    return out


def replay(args, urls) -> dict:
    host, port, paths = urls
    tickets = first_visit(args, host, port, paths[0])
    if not tickets:
        return {"check": "replay", "error": "no session ticket received"}
    ticket = tickets[-1]
    results = []
    for _ in range(2):
        cfg = config(args)
        cfg.session_ticket = ticket
        c = Client(host, port, cfg, [])
        c.connect()
        for p in paths:
            c.request(p)
        c.run_until(lambda: c.handshake is not None, args.timeout)
        ok = c.run_until(c.all_done, args.timeout)
        h = c.handshake
        results.append(
            {
                "session_resumed": bool(h and h.session_resumed),
                "early_data_accepted": bool(h and h.early_data_accepted),
                "responses": c.results(),
                "error": None if ok else "incomplete",
            }
        )
        c.close()
    return {"check": "replay", "connections": results, "error": None}


def amplification(args, urls) -> dict:
    host, port, _ = urls
    c = Client(host, port, config(args), [])
    c.connect()  # sends the Initial flight once
    sent = c.sent
    end = time.time() + args.listen
    received = 0
    datagrams = 0
    while time.time() < end:
        r, _, _ = select.select([c.sock], [], [], 0.05)
        if r:
            try:
                data, _ = c.sock.recvfrom(65536)
            except BlockingIOError:
                continue
            received += len(data)
            datagrams += 1
    c.sock.close()
    return {
        "check": "amplification",
        "client_sent": sent,
        "server_sent": received,
        "server_datagrams": datagrams,
        "ratio": received / sent if sent else None,
        "error": None,
    }


def migrate(args, urls) -> dict:
    host, port, paths = urls
    c = Client(host, port, config(args), [])
    c.connect()
    ok = c.run_until(lambda: c.handshake is not None, args.timeout)
    c.request(paths[0])
    ok = ok and c.run_until(c.all_done, args.timeout)
    # Let acknowledgements settle, then move.
    c.run_until(lambda: False, 0.3)
    old = c.sock
    new = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    new.bind(("0.0.0.0", 0))
    new.setblocking(False)
    c.sock = new
    c.sent = 0
    # One small packet from the new port: a PING.
    c.quic.send_ping(1)
    sent_new = 0
    for data, _ in c.quic.datagrams_to_send(now=time.time()):
        new.sendto(data, c.addr)
        sent_new += len(data)
        break  # exactly one datagram
    end = time.time() + args.listen
    received = 0
    datagrams = 0
    while time.time() < end:
        r, _, _ = select.select([new], [], [], 0.05)
        if r:
            try:
                data, _ = new.recvfrom(65536)
            except BlockingIOError:
                continue
            received += len(data)
            datagrams += 1
    old.close()
    new.close()
    return {
        "check": "migrate",
        "transfer_ok": ok,
        "client_sent_on_new_path": sent_new,
        "server_sent_on_new_path": received,
        "server_datagrams_on_new_path": datagrams,
        "ratio": received / sent_new if sent_new else None,
        "error": None,
    }


def retry_token(args, urls) -> dict:
    """Receive a Retry, then answer it from another port (--move) or late
    (--delay): the server must refuse the token (INVALID_TOKEN)."""
    host, port, paths = urls
    cfg = config(args)
    c = Client(host, port, cfg, [])
    c.connect()
    end = time.time() + args.timeout
    while time.time() < end and retries(cfg) == 0:
        r, _, _ = select.select([c.sock], [], [], 0.05)
        if r:
            data, addr = c.sock.recvfrom(65536)
            c.quic.receive_datagram(data, addr, now=time.time())
    if retries(cfg) == 0:
        return {"check": "retry-token", "error": "no Retry received"}
    if args.move:
        c.sock.close()
        c.sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        c.sock.bind(("0.0.0.0", 0))
        c.sock.setblocking(False)
    if args.delay:
        time.sleep(args.delay)
    c.flush()  # the Initial carrying the token
    c.run_until(lambda: c.handshake is not None, 5.0)
    t = c.terminated
    out = {
        "check": "retry-token",
        "handshake": c.handshake is not None,
        "close_code": t.error_code if t else None,
        "close_reason": t.reason_phrase if t else None,
        "error": None,
    }
    c.sock.close()
    return out


def parse_urls(urls: list[str]):
    host = port = None
    paths = []
    for u in urls:
        p = urlparse(u)
        if p.scheme != "https" or not p.hostname:
            raise SystemExit(f"not an https:// URL: {u}")
        h, pt = p.hostname, p.port or 443
        if host is None:
            host, port = h, pt
        elif (h, pt) != (host, port):
            raise SystemExit("all URLs must share one authority")
        paths.append(p.path or "/")
    return host, port, paths


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("urls", nargs="+")
    ap.add_argument("--check", required=True,
                    choices=["fetch", "resume", "replay", "amplification", "migrate", "retry-token",
                             "preferred"])
    ap.add_argument("--move", action="store_true", help="retry-token: answer from another port")
    ap.add_argument("--delay", type=float, default=0.0, help="retry-token: answer this late (s)")
    ap.add_argument("--chacha20", action="store_true")
    ap.add_argument("--aes-only", action="store_true")
    ap.add_argument("--large-hello", action="store_true")
    ap.add_argument("--key-update", action="store_true")
    ap.add_argument("--zero-rtt", action="store_true")
    ap.add_argument("--method", default="GET")
    ap.add_argument("--alpn", default="h3", choices=["h3", "hq-interop"])
    ap.add_argument("--listen", type=float, default=2.0, help="seconds to listen (amplification, migrate)")
    ap.add_argument("--timeout", type=float, default=20.0)
    args = ap.parse_args(argv)
    urls = parse_urls(args.urls)
    fn = {"fetch": fetch, "resume": resume, "replay": replay, "amplification": amplification,
          "migrate": migrate, "retry-token": retry_token, "preferred": preferred}[args.check]
    out = fn(args, urls)
    print(json.dumps(out, indent=2))
    return 0 if out.get("error") is None else 1


if __name__ == "__main__":
    sys.exit(main())
