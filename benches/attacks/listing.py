#!/usr/bin/env python3
"""Finding 4 of the trust review: one large directory listing must not stall
every client.

usage: benches/attacks/listing.py BINARY [ENTRIES]

Makes a directory of ENTRIES (default 10,000) empty files in a temporary
root, starts BINARY on it (quiet, on a free loopback port), and prints:
  - the time of one listing read from the disk, median of 5 requests 1.1 s
    apart (longer than any listing cache keeps it);
  - the time of one listing, median of 20 requests one after the other;
  - the median and 90th-percentile latency of a request for a tiny file
    while four clients loop on the listing (10 s).
"""
import os, socket, statistics, subprocess, sys, tempfile, threading, time

def free_port():
    s = socket.socket(); s.bind(("127.0.0.1", 0)); p = s.getsockname()[1]; s.close(); return p

def request(port, path):
    """One GET on a fresh connection; returns (status, body length)."""
    s = socket.create_connection(("127.0.0.1", port), timeout=30)
    s.sendall(f"GET {path} HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n".encode())
    data = b""
    while True:
        chunk = s.recv(1 << 20)
        if not chunk:
            break
        data += chunk
    s.close()
    head, _, body = data.partition(b"\r\n\r\n")
    return int(head.split()[1]), len(body)

def main():
    binary = sys.argv[1]
    entries = int(sys.argv[2]) if len(sys.argv) > 2 else 10_000
    with tempfile.TemporaryDirectory() as root:
        os.mkdir(os.path.join(root, "big"))
        for i in range(entries):
            open(os.path.join(root, "big", f"file-{i:05}.txt"), "w").close()
        open(os.path.join(root, "tiny.txt"), "w").write("tiny\n")
        port = free_port()
        server = subprocess.Popen([binary, root, "--port", str(port), "-q"],
                                  stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        try:
            for _ in range(100):
                try:
                    request(port, "/tiny.txt"); break
                except OSError:
                    time.sleep(0.05)
            cold = []
            for _ in range(5):
                time.sleep(1.1)
                t = time.perf_counter(); request(port, "/big/")
                cold.append(time.perf_counter() - t)
            print(f"one listing of {entries} entries read from the disk: "
                  f"median {statistics.median(cold) * 1000:.1f} ms")
            times = []
            for _ in range(20):
                t = time.perf_counter(); status, n = request(port, "/big/")
                times.append(time.perf_counter() - t)
                assert status == 200, status
            print(f"one listing of {entries} entries ({n} bytes): "
                  f"median {statistics.median(times) * 1000:.1f} ms")
            stop = time.time() + 10
            def hog():
                while time.time() < stop:
                    request(port, "/big/")
            hogs = [threading.Thread(target=hog) for _ in range(4)]
            for h in hogs: h.start()
            lat = []
            time.sleep(0.5)
            while time.time() < stop - 0.5:
                t = time.perf_counter(); request(port, "/tiny.txt")
                lat.append(time.perf_counter() - t)
                time.sleep(0.02)
            for h in hogs: h.join()
            lat.sort()
            print(f"tiny file while 4 clients loop on the listing: median "
                  f"{statistics.median(lat) * 1000:.1f} ms, 90th percentile "
                  f"{lat[int(len(lat) * 0.9)] * 1000:.1f} ms ({len(lat)} requests)")
        finally:
            server.terminate(); server.wait()

main()
