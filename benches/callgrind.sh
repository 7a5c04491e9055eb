#!/usr/bin/env bash
# Instructions per request on the hot path, counted by valgrind's callgrind:
# repeatable for the same binary and inputs, whatever else the machine does.
#
# usage: benches/callgrind.sh [BINARY ...]
#   default BINARY: target/profiling/asynchat-httpd (built here); give older
#   builds too, to compare before and after side by side.
#   REQUESTS=N (default 20000) requests in the long run; FLAGS="..." extra
#   server flags for every run.
#
# For each binary, two runs serve a 195-byte index.html from a temporary root
# (access log on, to /dev/null, then off with -q): one run answers 16
# requests, the other 16 + REQUESTS, sent as 16-deep pipelined batches on one
# keep-alive connection. The difference of the two totals, divided by
# REQUESTS, is the cost of one request with start-up and shutdown taken out.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
top=$(cd "$here/.." && pwd)
requests=${REQUESTS:-20000}
command -v valgrind >/dev/null || { echo "valgrind is not installed" >&2; exit 1; }
if [ $# -eq 0 ]; then
  (cd "$top" && cargo build --profile profiling --quiet)
  set -- "$top/target/profiling/asynchat-httpd"
fi

work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
mkdir "$work/root"
python3 - "$work/root" <<'PY'
import os, sys
page = "<!doctype html><html><head><title>bench</title></head><body><p>%s</p></body></html>\n"
body = page % ("x" * (195 - len(page % "")))
open(os.path.join(sys.argv[1], "index.html"), "w").write(body)
PY

# Sends N requests in batches of 16 and waits for every response.
cat >"$work/client.py" <<'PY'
import socket, sys, time
port, n = int(sys.argv[1]), int(sys.argv[2])
deadline = time.time() + 30
while True:
    try:
        s = socket.create_connection(("127.0.0.1", port))
        break
    except OSError:
        if time.time() > deadline:
            sys.exit("server never listened")
        time.sleep(0.1)
# The request wrk sends (`wrk.format()` in ../shared/bench/pipeline.lua).
req = b"GET /index.html HTTP/1.1\r\nHost: 127.0.0.1:%d\r\n\r\n" % port
seen, tail = 0, b""
for sent in range(16, n + 1, 16):
    s.sendall(req * 16)
    while seen < sent:
        data = s.recv(1 << 16)
        if not data:
            sys.exit("server closed")
        buf = tail + data
        seen += buf.count(b"HTTP/1.1 200 ")
        tail = buf[-16:]
s.close()
PY

port=18590
count() { # binary, flags..., requests -> total instructions
  local bin=$1 n=$2; shift 2
  port=$((port + 1))
  valgrind --tool=callgrind --callgrind-out-file="$work/out.%p" \
    "$bin" "$work/root" --port "$port" "$@" >/dev/null 2>"$work/vg.log" &
  local vg=$!
  python3 "$work/client.py" "$port" "$n"
  kill -TERM "$vg"; wait "$vg" || true
  grep -h '^summary:' "$work"/out.* | awk '{print $2}'
  rm -f "$work"/out.*
}

echo "| binary | access log | instructions per request |"
echo "| --- | --- | --- |"
for bin in "$@"; do
  for log in on off; do
    flags=(${FLAGS:-})
    [ "$log" = off ] && flags+=(-q)
    short=$(count "$bin" 16 "${flags[@]}")
    long=$(count "$bin" $((16 + requests)) "${flags[@]}")
    echo "| $bin | $log | $(( (long - short) / requests )) |"
  done
done
