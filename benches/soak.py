#!/usr/bin/env python3
"""Soak test: mixed, partly hostile traffic against asynchat-httpd for a
while, then a check that the server's memory and descriptors came back.

usage: benches/soak.py [--seconds 600] [--binary target/release/asynchat-httpd]
                       [--timeout 5] [--rss-tolerance-kib 4096]
                       [--rss-tolerance-pct 10] [--fd-tolerance 0]

Python 3 standard library only; loopback only. Build the server first
(`cargo build --release`). The script makes a temporary root, starts the
binary on 127.0.0.1 with a free port, `-q` (no access log) and
`--timeout SECS` (body, keep-alive and send timeout; the header timeout is
the same, capped at 10 s), and runs these workers side by side:

  normal      keep-alive GET/HEAD/OPTIONS, conditional and range requests,
              a listing, a redirect, a 404 and a path-traversal 400, each
              answer checked (status, length, and bytes for small files)
  pipelined   bursts of 8-64 requests in one write, answers checked in order
  malformed   framing errors, oversized heads, bad versions and methods,
              control bytes, random garbage: a 4xx/5xx is expected
  slow        a pool of non-blocking connections trickling heads a byte at a
              time: short heads fast enough to be served (200), long ones
              (slowloris) that must be cut by the header timeout (408/close)
  resets      RST (SO_LINGER 0) mid-response, mid-request and after pipelined
              requests; plain closes mid-sendfile; connect-and-go
  stalled     pipelined large files never read: must be cut by the send
              timeout
  slowread    a large file read slowly but steadily: must complete
  idle        batches of keep-alive connections left idle: must be closed by
              the keep-alive timeout

Phases: a warm-up of the same traffic (a tenth of the run, 3-15 s), a wait
for the timeouts to pass, the baseline; the run, with a progress line every
--report-every seconds; a wait for the timeouts to pass, the end
measurement. Before each measurement one probe connection fetches every
file once and closes, so the server's file cache holds the same
descriptors both times, and the script waits for the descriptor count to
settle.

It prints throughput, outcomes and errors by kind, and the server's RSS and
open descriptors (/proc/PID/status, /proc/PID/fd) at the baseline and at
the end. Exit status:

  0  RSS within max(--rss-tolerance-kib, --rss-tolerance-pct of baseline)
     of the baseline, descriptors within --fd-tolerance (default 0: exactly
     back), no unexpected client error, server alive and stopped cleanly
  1  any of these failed (each reason is printed)
"""

import argparse
import collections
import os
import random
import select
import shutil
import signal
import socket
import struct
import subprocess
import sys
import tempfile
import threading
import time

HOST = "127.0.0.1"

SMALL = b"hello from the soak test\n" * 3
MEDIUM_LEN = 64 * 1024
LARGE_LEN = 8 * 1024 * 1024


def pattern(n, seed):
    rng = random.Random(seed)
    return bytes(rng.getrandbits(8) for _ in range(min(n, 4096))) * (n // 4096 + 1)


MEDIUM = pattern(MEDIUM_LEN, 1)[:MEDIUM_LEN]
LARGE = pattern(LARGE_LEN, 2)[:LARGE_LEN]


# ---------------------------------------------------------------------------
# Server process
# ---------------------------------------------------------------------------


def make_root():
    root = tempfile.mkdtemp(prefix="asynchat-soak-")
    with open(os.path.join(root, "small.txt"), "wb") as f:
        f.write(SMALL)
    with open(os.path.join(root, "medium.bin"), "wb") as f:
        f.write(MEDIUM)
    with open(os.path.join(root, "large.bin"), "wb") as f:
        f.write(LARGE)
    os.mkdir(os.path.join(root, "dir"))
    for i in range(20):
        with open(os.path.join(root, "dir", f"file-{i:02}.txt"), "w") as f:
            f.write(f"file {i}\n")
    return root


def rss_kib(pid):
    with open(f"/proc/{pid}/status") as f:
        for line in f:
            if line.startswith("VmRSS:"):
                return int(line.split()[1])
    raise RuntimeError(f"no VmRSS for {pid}")


def fds(pid):
    return len(os.listdir(f"/proc/{pid}/fd"))


def cpu_seconds(pid):
    with open(f"/proc/{pid}/stat") as f:
        stat = f.read()
    fields = stat[stat.rindex(")") + 2 :].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


class Server:
    def __init__(self, binary, root, timeout):
        self.stderr = tempfile.TemporaryFile()
        self.proc = subprocess.Popen(
            [binary, root, "-p", "0", "-q", "--timeout", str(timeout)],
            stdin=subprocess.DEVNULL,
            stdout=subprocess.PIPE,
            stderr=self.stderr,
            env={k: v for k, v in os.environ.items() if k != "RUST_LOG"},
        )
        line = self.proc.stdout.readline().decode()
        if " at http://" not in line:
            self.proc.kill()
            sys.exit(f"soak: no start-up line from {binary}: {line!r}")
        hostport = line.rsplit(" at http://", 1)[1].strip().rstrip("/")
        self.port = int(hostport.rsplit(":", 1)[1])
        self.pid = self.proc.pid

    def alive(self):
        return self.proc.poll() is None

    def stop(self):
        """SIGTERM, then the exit status (killed after 10 s)."""
        if not self.alive():
            return self.proc.returncode
        self.proc.send_signal(signal.SIGTERM)
        try:
            return self.proc.wait(10)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            return "killed (did not exit within 10 s of SIGTERM)"

    def stderr_lines(self):
        self.stderr.seek(0)
        return self.stderr.read().decode(errors="replace").splitlines()


# ---------------------------------------------------------------------------
# Statistics
# ---------------------------------------------------------------------------


class Stats:
    def __init__(self):
        self.lock = threading.Lock()
        self.reset()

    def reset(self):
        self.ok = collections.Counter()  # outcomes that are right
        self.errors = collections.Counter()  # outcomes that are wrong
        self.examples = {}
        self.requests = 0
        self.body_bytes = 0

    def good(self, kind, requests=0, body=0):
        with self.lock:
            self.ok[kind] += 1
            self.requests += requests
            self.body_bytes += body

    def bad(self, kind, detail=""):
        with self.lock:
            self.errors[kind] += 1
            self.examples.setdefault(kind, detail)

    def snapshot(self):
        with self.lock:
            return self.requests, self.body_bytes


STATS = Stats()
STOP = threading.Event()


# ---------------------------------------------------------------------------
# A small HTTP/1.1 client that reads responses exactly as framed
# ---------------------------------------------------------------------------


class Closed(Exception):
    pass


class Conn:
    def __init__(self, port, timeout=15):
        self.s = socket.create_connection((HOST, port), timeout=timeout)
        self.s.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        self.buf = b""

    def send(self, data):
        self.s.sendall(data)

    def _fill(self):
        chunk = self.s.recv(256 * 1024)
        if not chunk:
            raise Closed()
        self.buf += chunk

    def read_head(self):
        while True:
            i = self.buf.find(b"\r\n\r\n")
            if i >= 0:
                break
            if len(self.buf) > 65536:
                raise ValueError("head too long")
            self._fill()
        head, self.buf = self.buf[:i], self.buf[i + 4 :]
        lines = head.split(b"\r\n")
        parts = lines[0].split(b" ", 2)
        if parts[0] != b"HTTP/1.1":
            raise ValueError(f"status line {lines[0]!r}")
        fields = {}
        for line in lines[1:]:
            name, _, value = line.partition(b":")
            fields[name.strip().lower().decode()] = value.strip().decode()
        return int(parts[1]), fields

    def read_body(self, length, keep=True):
        """Reads exactly `length` bytes; returns them (or only the count)."""
        if not keep:
            got = min(length, len(self.buf))
            self.buf = self.buf[got:]
            while got < length:
                chunk = self.s.recv(min(256 * 1024, length - got))
                if not chunk:
                    raise Closed()
                got += len(chunk)
            return got
        while len(self.buf) < length:
            self._fill()
        body, self.buf = self.buf[:length], self.buf[length:]
        return body

    def response(self, method="GET", keep=True):
        status, fields = self.read_head()
        body = b""
        if method != "HEAD" and status >= 200 and status not in (204, 304):
            body = self.read_body(int(fields["content-length"]), keep)
        return status, fields, body

    def is_closed(self):
        """True if the server has closed (end of stream or reset)."""
        try:
            return self.s.recv(1) == b""
        except (ConnectionResetError, BrokenPipeError):
            return True

    def close(self):
        self.s.close()


def req(method, path, fields=""):
    return f"{method} {path} HTTP/1.1\r\nHost: soak\r\n{fields}\r\n".encode()


def rst(s):
    s.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
    s.close()


# What a normal client asks, the status it must get, and a check of the
# body: exact bytes, an exact length, or None (anything).
ETAG = {}


def normal_requests():
    etag = ETAG.get("small", '"none"')
    return [
        (12, "GET", "/small.txt", "", 200, SMALL),
        (6, "GET", "/medium.bin", "", 200, MEDIUM),
        (1, "GET", "/large.bin", "", 200, LARGE_LEN),
        (3, "HEAD", "/large.bin", "", 200, None),
        (2, "GET", "/dir/", "", 200, None),
        (1, "GET", "/dir", "", 301, None),
        (2, "GET", "/missing.txt", "", 404, None),
        (1, "GET", "/../secret", "", 400, None),
        (1, "GET", "/%2e%2e/secret", "", 400, None),
        (1, "OPTIONS", "/", "", 200, None),
        (1, "POST", "/small.txt", "", 405, None),
        (3, "GET", "/small.txt", f"If-None-Match: {etag}\r\n", 304, None),
        (3, "GET", "/medium.bin", "Range: bytes=100-1123\r\n", 206, MEDIUM[100:1124]),
        (1, "GET", "/medium.bin", "Range: bytes=0-0,10-20\r\n", 206, None),
        (1, "GET", "/medium.bin", "Range: bytes=999999-\r\n", 416, None),
    ]


def check(kind, want_status, want_body, status, body):
    if status != want_status:
        STATS.bad(f"{kind}: wrong status", f"{status} instead of {want_status}")
        return False
    if isinstance(want_body, bytes) and body != want_body:
        STATS.bad(f"{kind}: wrong body", f"{len(body)} bytes, expected {len(want_body)}")
        return False
    if isinstance(want_body, int) and (
        (isinstance(body, int) and body != want_body)
        or (isinstance(body, bytes) and len(body) != want_body)
    ):
        STATS.bad(f"{kind}: wrong length", f"{body!r:.40}")
        return False
    return True


def guarded(kind, fn):
    """Runs a worker loop; any exception is an error of its kind and the
    loop goes on with a new connection."""

    def run(port, rng):
        while not STOP.is_set():
            try:
                fn(port, rng)
            except Closed:
                STATS.bad(f"{kind}: closed unexpectedly")
            except socket.timeout:
                STATS.bad(f"{kind}: timeout")
            except (ConnectionResetError, BrokenPipeError) as e:
                STATS.bad(f"{kind}: {type(e).__name__}")
            except OSError as e:
                STATS.bad(f"{kind}: {e.strerror or e}")
            except Exception as e:  # a bug in the response, or in this script
                STATS.bad(f"{kind}: {type(e).__name__}", str(e)[:200])
                time.sleep(0.1)

    return run


# ---------------------------------------------------------------------------
# Workers
# ---------------------------------------------------------------------------


def normal(port, rng):
    table = normal_requests()
    weights = [row[0] for row in table]
    c = Conn(port)
    try:
        for _ in range(rng.randint(1, 200)):
            if STOP.is_set():
                return
            _, method, path, fields, status, body = rng.choices(table, weights)[0]
            if method == "POST":
                raw = req(method, path, "Content-Length: 5\r\n") + b"hello"
            else:
                raw = req(method, path, fields)
            c.send(raw)
            keep = not isinstance(body, int)
            got_status, _, got = c.response(method, keep)
            if check("normal", status, body, got_status, got):
                STATS.good("normal request", 1, got if isinstance(got, int) else len(got))
    finally:
        c.close()


def pipelined(port, rng):
    c = Conn(port)
    try:
        for _ in range(rng.randint(1, 20)):
            if STOP.is_set():
                return
            n = rng.randint(8, 64)
            batch = [
                rng.choice(
                    [
                        ("GET", "/small.txt", 200, SMALL),
                        ("HEAD", "/small.txt", 200, None),
                        ("GET", "/medium.bin", 200, MEDIUM),
                        ("GET", "/missing", 404, None),
                        ("GET", "/dir/", 200, None),
                    ]
                )
                for _ in range(n)
            ]
            c.send(b"".join(req(m, p) for m, p, _, _ in batch))
            for method, _, status, body in batch:
                got_status, _, got = c.response(method)
                if not check("pipelined", status, body, got_status, got):
                    return
            STATS.good("pipelined burst", n, 0)
    finally:
        c.close()


MALFORMED = [
    (b"GET / HTTP/1.1\r\n\r\n", {400}),
    (b"GET / HTTP/1.1\r\nHost: a\r\nHost: b\r\n\r\n", {400}),
    (b"GET / HTTP/2.0\r\nHost: x\r\n\r\n", {505}),
    (b"PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n", {505}),
    (b"GET / HTTP/1.1 extra\r\nHost: x\r\n\r\n", {400}),
    (b"GET  / HTTP/1.1\r\nHost: x\r\n\r\n", {400}),
    (b"FOO / HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n", {501}),
    (b"POST / HTTP/1.1\r\nHost: x\r\nContent-Length: 5\r\nTransfer-Encoding: chunked\r\n\r\n", {400}),
    (b"POST / HTTP/1.1\r\nHost: x\r\nContent-Length: 5\r\nContent-Length: 6\r\n\r\n", {400}),
    (b"POST / HTTP/1.1\r\nHost: x\r\nContent-Length: -1\r\n\r\n", {400}),
    (b"POST / HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: gzip\r\n\r\n", {501}),
    (b"POST / HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\n", {400}),
    (b"POST / HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nhelloXX\r\n", {400}),
    (b"POST / HTTP/1.1\r\nHost: x\r\nContent-Length: 99999999\r\n\r\n", {413}),
    (b"GET /" + b"a" * 20000 + b" HTTP/1.1\r\nHost: x\r\n\r\n", {414}),
    (b"GET / HTTP/1.1\r\nHost: x\r\nX-Big: " + b"b" * 17000 + b"\r\n\r\n", {431}),
    (b"GET / HTTP/1.1\r\nHost: x\r\n" + b"X-F: 1\r\n" * 101 + b"\r\n", {431}),
    (b"GET /%00 HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n", {400}),
    (b"GET /%zz HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n", {400}),
    (b"GET /%c0%ae%c0%ae/ HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n", {400}),
    (b"GET /\xc0\xae HTTP/1.1\r\nHost: x\r\n\r\n", {400}),
    (b"GET / HTTP/1.1\r\nHost: x\r\nBad Name: v\r\n\r\n", {400}),
    (b"GET / HTTP/1.1\r\nHost: x\r\n folded: v\r\n\r\n", {400}),
]


def malformed(port, rng):
    if rng.random() < 0.2:
        # Random garbage, ended so that it is a complete "head".
        # (No LF inside, and not starting with CR: a line that is blank
        # before a request line is skipped, as RFC 9112 allows.)
        raw = bytes(rng.getrandbits(8) for _ in range(rng.randint(1, 300)))
        raw = b"~" + raw.replace(b"\n", b"") + b"\r\n\r\n"
        allowed = None  # any 4xx or 5xx
        kind = "garbage"
    else:
        raw, allowed = rng.choice(MALFORMED)
        kind = "malformed"
    c = Conn(port, timeout=15)
    try:
        try:
            c.send(raw)
        except (ConnectionResetError, BrokenPipeError):
            # The server answered and closed while a long request was
            # still being sent; the answer may be gone with the reset.
            STATS.good(f"{kind}: reset while sending")
            return
        try:
            status, _, _ = c.response()
        except (Closed, ConnectionResetError):
            STATS.bad(f"{kind}: no response", repr(raw[:60]))
            return
        if (allowed is None and 400 <= status < 600) or (allowed and status in allowed):
            STATS.good(f"{kind}: {status}", 1)
        else:
            STATS.bad(f"{kind}: status {status}", repr(raw[:60]))
            return
        if not c.is_closed():
            STATS.bad(f"{kind}: not closed after the error", repr(raw[:60]))
    finally:
        c.close()


def slow_pool(port, rng, header_timeout):
    """Keeps 40 connections trickling heads, a byte per tick each."""
    short = req("GET", "/small.txt")
    long_head = req("GET", "/small.txt", "X-Padding: " + "p" * 400 + "\r\n")

    class Slot:
        def __init__(self):
            self.s = socket.create_connection((HOST, port), timeout=15)
            self.s.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
            self.s.setblocking(False)
            self.loris = rng.random() < 0.5
            self.head = long_head if self.loris else short
            # Short heads finish well within the header timeout; long ones
            # would take 80 s.
            self.period = 0.2 if self.loris else min(2.0, header_timeout / 3) / len(short)
            self.sent = 0
            self.next = time.monotonic()
            self.started = None
            self.got = b""

    slots = []
    while not STOP.is_set():
        while len(slots) < 40:
            slots.append(Slot())
        now = time.monotonic()
        for sl in list(slots):
            done = False
            try:
                while True:
                    chunk = sl.s.recv(65536)
                    if not chunk:
                        done = True
                        break
                    sl.got += chunk
            except BlockingIOError:
                pass
            except (ConnectionResetError, BrokenPipeError):
                done = True
            if not sl.loris and b"\r\n\r\n" in sl.got:
                head, _, body = sl.got.partition(b"\r\n\r\n")
                if head.startswith(b"HTTP/1.1 200 ") and len(body) >= len(SMALL):
                    STATS.good("slow: served", 1)
                    sl.s.close()
                    slots.remove(sl)
                    continue
            if done:
                life = now - (sl.started or now)
                if sl.loris and (sl.got == b"" or sl.got.startswith(b"HTTP/1.1 408 ")):
                    if life < header_timeout - 0.05:
                        STATS.bad("slow: cut before the header timeout", f"{life:.2f}s")
                    elif life > header_timeout * 3 + 1:
                        STATS.bad("slow: cut late", f"{life:.2f}s")
                    else:
                        STATS.good("slow: slowloris cut by the header timeout")
                else:
                    STATS.bad("slow: unexpected close", repr(sl.got[:60]))
                sl.s.close()
                slots.remove(sl)
                continue
            if sl.started and sl.loris and now - sl.started > header_timeout * 3 + 1:
                STATS.bad("slow: slowloris not cut")
                sl.s.close()
                slots.remove(sl)
                continue
            if now >= sl.next and sl.sent < len(sl.head):
                try:
                    if sl.s.send(sl.head[sl.sent : sl.sent + 1]) == 1:
                        sl.started = sl.started or now
                        sl.sent += 1
                except BlockingIOError:
                    pass
                except (ConnectionResetError, BrokenPipeError):
                    pass  # seen as a close on the next round
                sl.next = now + sl.period
        time.sleep(0.01)
    for sl in slots:
        sl.s.close()


def resets(port, rng):
    kind = rng.choice(["mid-response", "mid-request", "pipelined", "vanish", "connect-and-go"])
    s = socket.create_connection((HOST, port), timeout=15)
    if kind == "mid-response":
        s.sendall(req("GET", "/large.bin"))
        got = 0
        want = rng.randint(1, 2 * 1024 * 1024)
        while got < want:
            chunk = s.recv(65536)
            if not chunk:
                raise Closed()
            got += len(chunk)
        rst(s)
    elif kind == "mid-request":
        s.sendall(req("POST", "/small.txt", "Content-Length: 100\r\n")[: rng.randint(1, 60)])
        time.sleep(rng.random() * 0.05)
        rst(s)
    elif kind == "pipelined":
        s.sendall(req("GET", "/medium.bin") * rng.randint(1, 30))
        rst(s)
    elif kind == "vanish":
        s.sendall(req("GET", "/large.bin") * rng.randint(1, 4))
        s.recv(65536)
        s.close()
    else:
        s.close()
    STATS.good(f"reset: {kind}")
    time.sleep(0.002)


def stalled(port, rng, send_timeout):
    """A client that asks for 20 large files and never reads; after the send
    timeout the server must have cut it (draining ends in end of stream
    long before 160 MiB)."""
    c = Conn(port, timeout=send_timeout * 3 + 5)
    try:
        c.send(req("GET", "/large.bin") * 20)
        deadline = time.monotonic() + send_timeout * 2 + 1
        while time.monotonic() < deadline and not STOP.is_set():
            time.sleep(0.1)
        if STOP.is_set():
            return
        got = len(c.buf)
        while True:
            try:
                chunk = c.s.recv(256 * 1024)
            except ConnectionResetError:
                break
            if not chunk:
                break
            got += len(chunk)
            if got >= 20 * LARGE_LEN:
                break
        if got < 20 * LARGE_LEN:
            STATS.good("stalled: cut by the send timeout")
        else:
            STATS.bad("stalled: not cut", f"{got} bytes")
    finally:
        c.close()


def slowread(port, rng):
    c = Conn(port, timeout=30)
    try:
        c.send(req("GET", "/large.bin"))
        status, fields, _ = c.response("HEAD")
        length = int(fields["content-length"])
        got = len(c.buf)
        c.buf = b""
        while got < length:
            if STOP.is_set():
                return
            chunk = c.s.recv(min(64 * 1024, length - got))
            if not chunk:
                raise Closed()
            got += len(chunk)
            time.sleep(0.02)
        if check("slowread", 200, LARGE_LEN, status, got):
            STATS.good("slowread: complete", 1, got)
    finally:
        c.close()


def idle(port, rng, keep_alive):
    """100 keep-alive connections, one request each, then left idle: all
    must be closed by the server within a few times the timeout."""
    conns = []
    try:
        for _ in range(100):
            c = Conn(port)
            c.send(req("GET", "/small.txt"))
            conns.append(c)
        for c in conns:
            status, _, body = c.response()
            check("idle", 200, SMALL, status, body)
        deadline = time.monotonic() + keep_alive * 3 + 2
        open_ = {c.s: c for c in conns}
        while open_ and time.monotonic() < deadline:
            if STOP.is_set():
                return
            readable, _, _ = select.select(list(open_), [], [], 0.2)
            for s in readable:
                if open_[s].is_closed():
                    del open_[s]
                else:
                    STATS.bad("idle: unexpected bytes")
                    del open_[s]
        if open_:
            STATS.bad("idle: not closed by the keep-alive timeout", f"{len(open_)} of 100")
        else:
            STATS.good("idle: batch of 100 closed by the keep-alive timeout", 100)
    finally:
        for c in conns:
            c.close()


# ---------------------------------------------------------------------------
# The run
# ---------------------------------------------------------------------------


def probe(port):
    """Fetches every file once on one connection, then closes it."""
    c = Conn(port)
    try:
        for path in ["/small.txt", "/medium.bin", "/large.bin", "/dir/"]:
            c.send(req("GET", path))
            status, fields, _ = c.response(keep=False)
            if status != 200:
                sys.exit(f"soak: probe {path}: {status}")
            if path == "/small.txt":
                ETAG["small"] = fields["etag"]
    finally:
        c.close()


def settle(server, timeout_s):
    """Waits for the server's timeouts to pass and its descriptor count to
    stop changing, after a probe; returns (rss KiB, fds)."""
    time.sleep(timeout_s + 1.5)
    probe(server.port)
    last, stable_since = fds(server.pid), time.monotonic()
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        time.sleep(0.2)
        n = fds(server.pid)
        if n != last:
            last, stable_since = n, time.monotonic()
        elif time.monotonic() - stable_since >= 1.0:
            break
    return rss_kib(server.pid), fds(server.pid)


def run_traffic(server, seconds, timeout_s, report_every, label):
    STOP.clear()
    header_timeout = min(timeout_s, 10)
    plan = (
        [("normal", guarded("normal", normal))] * 4
        + [("pipelined", guarded("pipelined", pipelined))] * 2
        + [("malformed", guarded("malformed", malformed))] * 2
        + [("resets", guarded("resets", resets))] * 2
        + [("slow", guarded("slow", lambda p, r: slow_pool(p, r, header_timeout)))]
        + [("stalled", guarded("stalled", lambda p, r: stalled(p, r, timeout_s)))] * 2
        + [("slowread", guarded("slowread", slowread))]
        + [("idle", guarded("idle", lambda p, r: idle(p, r, timeout_s)))]
    )
    threads = []
    for i, (name, fn) in enumerate(plan):
        t = threading.Thread(
            target=fn, args=(server.port, random.Random(1000 + i)), name=name, daemon=True
        )
        t.start()
        threads.append(t)
    start = time.monotonic()
    last_t, (last_n, _) = start, STATS.snapshot()
    peak_rss = peak_fds = 0
    while time.monotonic() - start < seconds:
        time.sleep(min(1.0, max(0.0, seconds - (time.monotonic() - start))))
        if not server.alive():
            break
        peak_rss = max(peak_rss, rss_kib(server.pid))
        peak_fds = max(peak_fds, fds(server.pid))
        now = time.monotonic()
        if report_every and now - last_t >= report_every:
            n, _ = STATS.snapshot()
            with STATS.lock:
                errors = sum(STATS.errors.values())
            print(
                f"  [{label} {now - start:5.0f} s] {(n - last_n) / (now - last_t):7.0f} req/s, "
                f"RSS {rss_kib(server.pid):6d} KiB, {fds(server.pid):5d} fds, "
                f"{errors} errors so far",
                flush=True,
            )
            last_t, last_n = now, n
    STOP.set()
    for t in threads:
        t.join(timeout_s * 3 + 20)
    stuck = [t.name for t in threads if t.is_alive()]
    return time.monotonic() - start, peak_rss, peak_fds, stuck


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--seconds", type=float, default=600, help="length of the run (default 600)")
    ap.add_argument("--binary", default="target/release/asynchat-httpd")
    ap.add_argument("--timeout", type=int, default=5, help="the server's --timeout (default 5)")
    ap.add_argument("--report-every", type=float, default=10, help="progress line period, 0 for none")
    ap.add_argument("--rss-tolerance-kib", type=int, default=4096)
    ap.add_argument("--rss-tolerance-pct", type=float, default=10.0)
    ap.add_argument("--fd-tolerance", type=int, default=0)
    args = ap.parse_args()
    if not os.access(args.binary, os.X_OK):
        sys.exit(f"soak: {args.binary} not found; build it with: cargo build --release")

    root = make_root()
    server = Server(args.binary, root, args.timeout)
    print(f"soak: {args.binary} (pid {server.pid}) serving {root} on {HOST}:{server.port}, "
          f"--timeout {args.timeout}; run {args.seconds:.0f} s", flush=True)
    failures = []
    try:
        probe(server.port)
        warm = min(15.0, max(3.0, args.seconds / 10))
        print(f"warm-up: {warm:.0f} s of the same traffic", flush=True)
        run_traffic(server, warm, args.timeout, 0, "warm-up")
        STATS.reset()
        base_rss, base_fds = settle(server, args.timeout)
        base_cpu = cpu_seconds(server.pid)
        print(f"baseline (after warm-up and the timeouts): RSS {base_rss} KiB, {base_fds} descriptors",
              flush=True)

        elapsed, peak_rss, peak_fds, stuck = run_traffic(
            server, args.seconds, args.timeout, args.report_every, "run"
        )
        if not server.alive():
            failures.append(f"the server exited during the run: status {server.proc.returncode}")
            raise SystemExit
        cpu = cpu_seconds(server.pid) - base_cpu
        end_rss, end_fds = settle(server, args.timeout)

        requests, body = STATS.snapshot()
        print(f"\ntraffic: {elapsed:.1f} s, {requests} requests answered and checked "
              f"({requests / elapsed:.0f} req/s), {body / elapsed / 1e6:.1f} MB/s of checked bodies; "
              f"server CPU {cpu:.1f} s ({100 * cpu / elapsed:.0f}% of one core)")
        print("outcomes (expected):")
        for kind, n in sorted(STATS.ok.items()):
            print(f"  {n:9d}  {kind}")
        print("errors (unexpected):" + ("" if STATS.errors else " none"))
        for kind, n in sorted(STATS.errors.items()):
            example = STATS.examples.get(kind)
            print(f"  {n:9d}  {kind}" + (f"  e.g. {example}" if example else ""))
        if stuck:
            failures.append(f"worker threads did not stop: {stuck}")
        if STATS.errors:
            failures.append(f"{sum(STATS.errors.values())} unexpected client errors")

        rss_tol = max(args.rss_tolerance_kib, base_rss * args.rss_tolerance_pct / 100)
        print(f"\nserver RSS:         baseline {base_rss} KiB, peak {peak_rss} KiB, "
              f"end {end_rss} KiB ({end_rss - base_rss:+d} KiB; tolerance +{rss_tol:.0f} KiB)")
        print(f"server descriptors: baseline {base_fds}, peak {peak_fds}, end {end_fds} "
              f"({end_fds - base_fds:+d}; tolerance +{args.fd_tolerance})")
        if end_rss > base_rss + rss_tol:
            failures.append(f"RSS did not come back: {end_rss} KiB vs {base_rss} KiB")
        if end_fds > base_fds + args.fd_tolerance:
            failures.append(f"descriptors did not come back: {end_fds} vs {base_fds}")
    except SystemExit as e:
        if e.code not in (None, 0):
            failures.append(str(e.code))
    finally:
        status = server.stop()
        lines = server.stderr_lines()
        warnings = [l for l in lines if " WARN " in l or " ERROR " in l]
        print(f"server stopped: exit status {status}; stderr: {len(lines)} lines, "
              f"{len(warnings)} warnings/errors")
        for l in warnings[:5]:
            print(f"  {l}")
        if status != 0:
            failures.append(f"server exit status {status}")
        if any("panicked" in l for l in lines):
            failures.append("the server panicked")
        shutil.rmtree(root, ignore_errors=True)
    if failures:
        print("\nFAIL: " + "; ".join(failures))
        sys.exit(1)
    print("\nOK: RSS and descriptors came back to the baseline; no unexpected errors")


if __name__ == "__main__":
    main()
