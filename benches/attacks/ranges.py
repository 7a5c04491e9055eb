#!/usr/bin/env python3
"""Finding 1 of the trust review: range requests to a client that never
reads must not pin memory.

usage: benches/attacks/ranges.py BINARY [CONNECTIONS] [REQUESTS]

Serves a 32 KiB file from a temporary root with BINARY (quiet, a free
loopback port). CONNECTIONS clients (default 200) each pipeline REQUESTS
(default 400) `GET /small.bin` with a Range and never read. Two rounds: a
single range (`bytes=1-`), then 32 small ranges per request, each round
against a fresh server. For each it
prints the server's RSS growth once it levels off with the clients still
connected, and after they have all gone.
"""
import os, socket, subprocess, sys, tempfile, time

def free_port():
    s = socket.socket(); s.bind(("127.0.0.1", 0)); p = s.getsockname()[1]; s.close(); return p

def rss_kib(pid):
    for line in open(f"/proc/{pid}/status"):
        if line.startswith("VmRSS:"):
            return int(line.split()[1])

def settled(pid, limit=30):
    """RSS once two readings 0.5 s apart agree within 512 KiB."""
    last, end = rss_kib(pid), time.time() + limit
    while time.time() < end:
        time.sleep(0.5)
        now = rss_kib(pid)
        if abs(now - last) < 512:
            return now
        last = now
    return last

def attack(pid, port, conns, requests, range_value):
    req = (f"GET /small.bin HTTP/1.1\r\nHost: x\r\nRange: {range_value}\r\n\r\n").encode()
    burst = req * requests
    before = settled(pid)
    socks = []
    for _ in range(conns):
        s = socket.create_connection(("127.0.0.1", port))
        s.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
        s.setblocking(False)
        socks.append([s, memoryview(burst)])
    # Send what the kernel takes, round robin, for a few seconds.
    end = time.time() + 5
    while time.time() < end and any(len(m) for _, m in socks):
        for pair in socks:
            s, m = pair
            if len(m):
                try:
                    n = s.send(m)
                    pair[1] = m[n:]
                except BlockingIOError:
                    pass
        time.sleep(0.01)
    sent = sum(len(burst) - len(m) for _, m in socks)
    peak = settled(pid)
    for s, _ in socks:
        s.close()
    time.sleep(3)
    after = settled(pid)
    print(f"{range_value[:40]!r}: {conns} x {requests} requests "
          f"({sent // 1024} KiB sent): RSS +{(peak - before) / 1024:.1f} MiB with the "
          f"clients connected, +{(after - before) / 1024:.1f} MiB after they left")

def main():
    binary = sys.argv[1]
    conns = int(sys.argv[2]) if len(sys.argv) > 2 else 200
    requests = int(sys.argv[3]) if len(sys.argv) > 3 else 400
    with tempfile.TemporaryDirectory() as root:
        with open(os.path.join(root, "small.bin"), "wb") as f:
            f.write(os.urandom(32 * 1024))
        many = ",".join(f"{i * 1000}-{i * 1000 + 9}" for i in range(32))
        for range_value in ["bytes=1-", "bytes=" + many]:
            # A fresh server for each round, so neither sees the other's heap.
            port = free_port()
            server = subprocess.Popen([binary, root, "--port", str(port), "-q"],
                                      stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
            try:
                time.sleep(0.5)
                socket.create_connection(("127.0.0.1", port)).close()
                attack(server.pid, port, conns, requests, range_value)
            finally:
                server.terminate(); server.wait()

main()
