#!/usr/bin/env python3
"""Drives examples/websocket_chat with a client that no one here wrote: the
`websockets` package from PyPI (its synchronous client).

usage: websocket_client.py PORT [MAX_MESSAGE]

Run by tests/websocket.rs against a server on 127.0.0.1:PORT started with
--max-message MAX_MESSAGE (default 1 MiB). Checks the handshake (websockets
verifies Sec-WebSocket-Accept itself), broadcast between two clients,
fragmented and large messages, ping/pong, the normal close, and the close
codes the server sends for each violation: 1002 (protocol error), 1003
(binary), 1007 (invalid UTF-8), 1008 (bad name), 1009 (too big). Prints
one line per check, "ok: ..." or "FAILED: ...", and exits 1 if any failed.
Every wait is bounded (5 s), and the whole run takes well under a second
when all is well.
"""

import contextlib
import struct
import sys

import websockets
from websockets.exceptions import ConnectionClosed
from websockets.sync.client import connect

PORT = int(sys.argv[1])
MAX_MESSAGE = int(sys.argv[2]) if len(sys.argv) > 2 else 1 << 20
URI = f"ws://127.0.0.1:{PORT}/"
WAIT = 5
failures = []
# Every connection is opened as a context manager, as websockets wants, and
# closed (if the server has not) when the run ends.
OPEN = contextlib.ExitStack()


def open_ws():
    return OPEN.enter_context(
        connect(URI, max_size=None, open_timeout=WAIT, close_timeout=WAIT, proxy=None)
    )


def client(name):
    """A client that has joined as `name`, with its welcome read."""
    ws = open_ws()
    ws.send(name)
    welcome = ws.recv(timeout=WAIT)
    assert welcome.startswith(f"* welcome, {name}"), welcome
    return ws


def check(what):
    def run(f):
        try:
            detail = f()
            print(f"ok: {what}" + (f": {detail}" if detail else ""))
        except Exception as e:  # noqa: BLE001 - every failure is reported
            failures.append(what)
            print(f"FAILED: {what}: {type(e).__name__}: {e}")
        return f

    return run


def closed_by_server(ws, *messages, raw=None):
    """Sends `messages` (or raw bytes straight to the socket), then returns
    the close code and reason the server sent."""
    for m in messages:
        ws.send(m)
    if raw is not None:
        ws.socket.sendall(raw)
    try:
        extra = ws.recv(timeout=WAIT)
        raise AssertionError(f"expected a close, got {extra!r}")
    except ConnectionClosed as e:
        assert e.rcvd is not None, f"no close frame received: {e}"
        return e.rcvd.code, e.rcvd.reason


def masked(first_byte, payload, mask=b"\x01\x02\x03\x04"):
    """A masked client frame with a 7-bit length, written by hand."""
    body = bytes(b ^ mask[i % 4] for i, b in enumerate(payload))
    return bytes([first_byte, 0x80 | len(payload)]) + mask + body


alice = bob = None


@check("handshake (Sec-WebSocket-Accept verified by the client)")
def _():
    global alice, bob
    alice = client("alice")
    assert alice.response.status_code == 101, alice.response.status_code
    bob = client("bob")
    joined = alice.recv(timeout=WAIT)
    assert joined == "* bob joined", joined
    return f"websockets {websockets.__version__}, 101 Switching Protocols"


@check("broadcast to the others")
def _():
    alice.send("hello, bob")
    got = bob.recv(timeout=WAIT)
    assert got == "alice: hello, bob", got


@check("fragmented message reassembled")
def _():
    alice.send(["frag", "ment", "ed ☃"])
    got = bob.recv(timeout=WAIT)
    assert got == "alice: fragmented ☃", got
    return "3 fragments"


@check("large message at the limit")
def _():
    text = "é" * ((MAX_MESSAGE - 1) // 2) + "x" * ((MAX_MESSAGE - 1) % 2 + 1)
    assert len(text.encode()) == MAX_MESSAGE
    alice.send(text)
    got = bob.recv(timeout=WAIT)
    assert got == "alice: " + text, f"{len(got)} characters"
    return f"{MAX_MESSAGE} bytes"


@check("ping answered with pong")
def _():
    pong = alice.ping(b"are you there?")
    assert pong.wait(WAIT), "no pong"


@check("normal close (1000)")
def _():
    bob.close()
    assert bob.close_code == 1000, bob.close_code
    left = alice.recv(timeout=WAIT)
    assert left == "* bob left", left
    alice.close()
    return f"code {bob.close_code}"


def violation(name, code, *messages, raw=None):
    @check(f"close {code}: {name}")
    def _():
        ws = client("carol")
        got, reason = closed_by_server(ws, *messages, raw=raw)
        assert got == code, f"code {got} ({reason!r})"
        return repr(reason)


violation("unmasked frame", 1002, raw=b"\x81\x02hi")
violation("reserved bit set", 1002, raw=masked(0xC1, b"hi"))
violation("ping over 125 bytes", 1002, raw=bytes([0x89, 0xFE]) + struct.pack("!H", 126) + b"\0" * 130)
violation("continuation without a message", 1002, raw=masked(0x80, b"x"))
violation("binary message", 1003, b"\x00\x01")
violation("message over the limit", 1009, "x" * (MAX_MESSAGE + 1))


@check("close 1007: invalid UTF-8")
def _():
    ws = client("dave")
    ws.send(b"caf\xff", text=True)
    got, reason = closed_by_server(ws)
    assert got == 1007, f"code {got} ({reason!r})"
    return repr(reason)


@check("close 1008: empty name")
def _():
    ws = open_ws()
    got, reason = closed_by_server(ws, "   ")
    assert got == 1008, f"code {got} ({reason!r})"
    return repr(reason)


OPEN.close()
print(f"{len(failures)} failed")
sys.exit(1 if failures else 0)
