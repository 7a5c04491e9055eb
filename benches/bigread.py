#!/usr/bin/env python3
"""A load generator that is cheap per byte, for the file rows.

wrk reads 8 KiB at a time and asks FIONREAD after every read, so on a
2-core machine it is the bottleneck when it downloads large files, and the
server's speed does not show. This client keeps CONNS keep-alive connections
on one URL, each with one request in flight, and reads with recv_into into
a 4 MiB buffer, so it spends its time copying bytes rather than making
system calls, and a server that is slow per byte shows it.

usage: python3 benches/bigread.py PORT PATH [CONNS] [SECONDS]
       (127.0.0.1 only; pin it with taskset -c 1 and the server with -c 0)

Prints requests per second and GB/s. Every response is checked for its
exact length (the Content-Length of a first exchange); a short or long
response, or a closed connection, stops the run with an error.
"""

import selectors
import socket
import sys
import time


def response_length(port, request):
    """The length of one whole response (head and body) to `request`."""
    with socket.create_connection(("127.0.0.1", port), timeout=5) as s:
        s.sendall(request)
        data = b""
        while b"\r\n\r\n" not in data:
            chunk = s.recv(65536)
            if not chunk:
                sys.exit("the server closed the connection before a whole head")
            data += chunk
    head = data.split(b"\r\n\r\n", 1)[0]
    status = head.split(b"\r\n", 1)[0]
    if not status.startswith(b"HTTP/1.1 200"):
        sys.exit(f"expected a 200, got {status!r}")
    for line in head.split(b"\r\n")[1:]:
        name, _, value = line.partition(b":")
        if name.strip().lower() == b"content-length":
            return len(head) + 4 + int(value)
    sys.exit("the response has no Content-Length")


def main():
    if len(sys.argv) < 3:
        sys.exit(__doc__)
    port, path = int(sys.argv[1]), sys.argv[2]
    conns = int(sys.argv[3]) if len(sys.argv) > 3 else 10
    secs = float(sys.argv[4]) if len(sys.argv) > 4 else 5.0
    request = f"GET {path} HTTP/1.1\r\nHost: bench\r\n\r\n".encode()
    whole = response_length(port, request)

    buf = memoryview(bytearray(4 << 20))
    sel = selectors.DefaultSelector()
    received = {}
    for _ in range(conns):
        c = socket.create_connection(("127.0.0.1", port), timeout=5)
        c.setblocking(False)
        c.send(request)
        received[c] = 0
        sel.register(c, selectors.EVENT_READ)

    start = time.monotonic()
    done = total = 0
    while time.monotonic() - start < secs:
        for key, _ in sel.select(timeout=5):
            c = key.fileobj
            while True:
                try:
                    n = c.recv_into(buf)
                except BlockingIOError:
                    break
                if n == 0:
                    sys.exit("the server closed a keep-alive connection")
                total += n
                received[c] += n
                if received[c] > whole:
                    sys.exit("a response was longer than its Content-Length")
                if received[c] == whole:
                    received[c] = 0
                    done += 1
                    c.send(request)
    elapsed = time.monotonic() - start
    for c in received:
        c.close()
    print(f"{done / elapsed:.0f} req/s {total / elapsed / 1e9:.2f} GB/s")


if __name__ == "__main__":
    main()
