#!/usr/bin/env python3
"""The third attack's listing finding: pipelined requests cycling through
the twelve views of a large directory (two formats, three columns, two
orders) must not stall every other client.

usage: benches/attacks/listing_views.py BINARY [ENTRIES] [REQUESTS] [METHOD]

Makes a directory of ENTRIES (default 60,000) empty files in a temporary
root, starts BINARY on it (quiet, on a free loopback port), and, for
REQUESTS pipelined METHOD requests (default 240 HEADs) on one connection,
each for the next view, prints how long they took and the median and
worst latency of a tiny file fetched on fresh connections meanwhile.
"""
import os, socket, subprocess, sys, tempfile, threading, time

def free_port():
    s = socket.socket(); s.bind(("127.0.0.1", 0)); p = s.getsockname()[1]; s.close(); return p

VIEWS = [f"?format={f}&sort={s}&order={o}"
         for f in ("html", "json") for s in ("name", "size", "mtime") for o in ("asc", "desc")]

def attack(port, n, method, done, took):
    req = b"".join(f"{method} /big/{VIEWS[i % 12]} HTTP/1.1\r\nHost: x\r\n\r\n".encode()
                   for i in range(n))
    started = time.perf_counter()
    s = socket.create_connection(("127.0.0.1", port), timeout=120)
    threading.Thread(target=s.sendall, args=(req,), daemon=True).start()
    seen, tail = 0, b""
    while seen < n:
        chunk = s.recv(1 << 20)
        if not chunk:
            break
        tail += chunk
        seen += tail.count(b"HTTP/1.1 200")
        tail = tail[-11:]
    took.append((seen, time.perf_counter() - started))
    done.set()

def probe(port):
    s = socket.create_connection(("127.0.0.1", port), timeout=120)
    started = time.perf_counter()
    s.sendall(b"GET /tiny.txt HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
    while s.recv(65536):
        pass
    s.close()
    return (time.perf_counter() - started) * 1000

def main():
    binary = sys.argv[1]
    entries = int(sys.argv[2]) if len(sys.argv) > 2 else 60_000
    n = int(sys.argv[3]) if len(sys.argv) > 3 else 240
    method = sys.argv[4] if len(sys.argv) > 4 else "HEAD"
    with tempfile.TemporaryDirectory() as root:
        os.mkdir(os.path.join(root, "big"))
        for i in range(entries):
            open(os.path.join(root, "big", f"file-{i:06}-with-a-longish-name.txt"), "w").close()
        with open(os.path.join(root, "tiny.txt"), "w") as f:
            f.write("tiny\n")
        port = free_port()
        server = subprocess.Popen([binary, "--port", str(port), "--quiet", root],
                                  stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        try:
            for _ in range(100):
                try:
                    probe(port); break
                except OSError:
                    time.sleep(0.05)
            done, took, lat = threading.Event(), [], []
            t = threading.Thread(target=attack, args=(port, n, method, done, took))
            t.start()
            time.sleep(0.005)
            while not done.is_set():
                lat.append(probe(port))
            t.join()
            lat.sort()
            seen, secs = took[0]
            print(f"{seen}/{n} pipelined {method}s of {entries} entries in {secs:.2f} s; "
                  f"tiny file meanwhile: {len(lat)} fetched, median {lat[len(lat) // 2]:.1f} ms, "
                  f"worst {lat[-1]:.1f} ms")
        finally:
            server.terminate(); server.wait()

if __name__ == "__main__":
    main()
