#!/usr/bin/env python3
"""An upload's throughput, and what it costs everyone else.

usage: benches/upload.py BINARY [BYTES] [RUNS]

Starts BINARY with --upload on a temporary root (on the disk of the system
temp directory, quiet, on a free loopback port), PUTs BYTES (default 1 GiB)
RUNS times (default 3; the first creates the file, the others replace it),
and for each prints the upload's throughput (the response comes after the
fsync and the rename) and the latency of a tiny file fetched over and over
on another connection meanwhile.
"""
import os, socket, subprocess, sys, tempfile, threading, time

def free_port():
    s = socket.socket(); s.bind(("127.0.0.1", 0)); p = s.getsockname()[1]; s.close(); return p

def upload(port, size, result, done):
    chunk = b"\xab" * (1 << 20)
    s = socket.create_connection(("127.0.0.1", port), timeout=300)
    s.sendall(f"PUT /big.bin HTTP/1.1\r\nHost: x\r\nContent-Length: {size}\r\n\r\n".encode())
    started, left = time.perf_counter(), size
    while left:
        n = min(left, len(chunk)); s.sendall(chunk[:n]); left -= n
    status = s.recv(4096).split(b" ")[1].decode()
    result.append((status, time.perf_counter() - started))
    done.set()

def main():
    binary = sys.argv[1]
    size = int(sys.argv[2]) if len(sys.argv) > 2 else 1 << 30
    runs = int(sys.argv[3]) if len(sys.argv) > 3 else 3
    with tempfile.TemporaryDirectory() as root:
        with open(os.path.join(root, "tiny.txt"), "w") as f:
            f.write("tiny\n")
        port = free_port()
        server = subprocess.Popen([binary, "--port", str(port), "--quiet", "--upload", root],
                                  stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        try:
            for _ in range(100):
                try:
                    socket.create_connection(("127.0.0.1", port)).close(); break
                except OSError:
                    time.sleep(0.05)
            for _ in range(runs):
                result, done = [], threading.Event()
                t = threading.Thread(target=upload, args=(port, size, result, done))
                t.start()
                time.sleep(0.05)
                probe, lat = socket.create_connection(("127.0.0.1", port), timeout=60), []
                while not done.is_set():
                    started = time.perf_counter()
                    probe.sendall(b"GET /tiny.txt HTTP/1.1\r\nHost: x\r\n\r\n")
                    buf = b""
                    while not buf.endswith(b"tiny\n"):
                        buf += probe.recv(65536)
                    lat.append((time.perf_counter() - started) * 1000)
                    time.sleep(0.002)
                t.join(); probe.close(); lat.sort()
                status, secs = result[0]
                print(f"PUT of {size} bytes: {status} in {secs:.2f} s = {size / 1e6 / secs:.0f} MB/s; "
                      f"tiny file meanwhile: {len(lat)} requests, median {lat[len(lat) // 2]:.2f} ms, "
                      f"p99 {lat[int(len(lat) * 0.99)]:.2f} ms, worst {lat[-1]:.2f} ms")
        finally:
            server.terminate(); server.wait()

if __name__ == "__main__":
    main()
