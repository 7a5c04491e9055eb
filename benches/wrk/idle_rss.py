#!/usr/bin/env python3
"""Memory cost of idle keep-alive connections on a running server.

usage: idle_rss.py PORT PID [CONNECTIONS]

Opens CONNECTIONS (default 2000) connections to 127.0.0.1:PORT. Half of them
make one request for /index.html first and read the whole response (so the
server has set up and then parked a keep-alive connection); the other half
never send. It checks that every request was answered and that the server
holds one descriptor per connection (so none are still waiting in the
backlog), then prints the growth of VmRSS per connection held.
"""
import os
import socket
import sys
import time


def rss_kib(pid):
    with open(f"/proc/{pid}/status") as f:
        for line in f:
            if line.startswith("VmRSS:"):
                return int(line.split()[1])
    sys.exit(f"no VmRSS for pid {pid}")


def fds(pid):
    return len(os.listdir(f"/proc/{pid}/fd"))


def read_response(s):
    """Reads one response with a Content-Length body; returns its status."""
    data = b""
    while b"\r\n\r\n" not in data:
        chunk = s.recv(65536)
        if not chunk:
            sys.exit("connection closed before the response")
        data += chunk
    head, _, body = data.partition(b"\r\n\r\n")
    length = 0
    for line in head.split(b"\r\n")[1:]:
        name, _, value = line.partition(b":")
        if name.strip().lower() == b"content-length":
            length = int(value)
    while len(body) < length:
        body += s.recv(65536)
    return int(head.split(b" ")[1])


def main():
    port, pid = int(sys.argv[1]), int(sys.argv[2])
    n = int(sys.argv[3]) if len(sys.argv) > 3 else 2000
    # Warm up: the first request builds caches that are not per connection.
    with socket.create_connection(("127.0.0.1", port), timeout=5) as s:
        s.sendall(b"GET /index.html HTTP/1.1\r\nHost: bench\r\n\r\n")
        read_response(s)
    # Let connections from earlier runs finish closing, so the baseline
    # counts only what the server keeps.
    settled = fds(pid)
    for _ in range(50):
        time.sleep(0.1)
        now = fds(pid)
        if now == settled:
            break
        settled = now
    before, fds_before = rss_kib(pid), fds(pid)
    socks = []
    for i in range(n):
        s = socket.create_connection(("127.0.0.1", port), timeout=5)
        if i % 2 == 0:
            s.sendall(b"GET /index.html HTTP/1.1\r\nHost: bench\r\n\r\n")
            status = read_response(s)
            if status != 200:
                sys.exit(f"request {i} answered {status}")
        socks.append(s)
    deadline = time.time() + 5
    while fds(pid) - fds_before < n and time.time() < deadline:
        time.sleep(0.05)
    held = fds(pid) - fds_before
    # A server that never accepted (connections left in the backlog) would
    # hold none; a few closed by the server's own policies do not matter.
    if held < n * 0.98:
        sys.exit(f"the server holds {held} of {n} connections")
    time.sleep(0.5)
    after = rss_kib(pid)
    per = (after - before) * 1024 / held
    print(f"RSS {before} KiB -> {after} KiB with {n} idle connections "
          f"({held} descriptors): {per:.0f} bytes per connection")
    for s in socks:
        s.close()


if __name__ == "__main__":
    main()
