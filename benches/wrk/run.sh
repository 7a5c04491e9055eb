#!/usr/bin/env bash
# The throughput and memory rows of the README's Benchmarks table, measured
# side by side: asynchat-httpd, and nginx (one worker) and lighttpd when they
# are installed (apt-get install -y wrk nginx-light lighttpd).
#
# usage: benches/wrk/run.sh [SECONDS_PER_RUN] [ROUNDS]
#        ROWS_FROM=N benches/wrk/run.sh ...   skips the first N throughput rows
#        (ROWS_FROM=4: only the idle-connection memory row)
#        SCRIPTED=1 benches/wrk/run.sh ...   every row through pipelined.lua
#        BASELINE=/path/to/asynchat-httpd benches/wrk/run.sh ...   also runs
#        that binary (an earlier build, say) as the server "baseline", so a
#        change is measured side by side with what it changed
#
# Every server serves the same files from a temporary root on 127.0.0.1 and
# is pinned to core 0; wrk (one thread) is pinned to core 1. Rounds alternate
# between servers and the median is printed. asynchat-httpd runs with its
# defaults, access log included (to /dev/null); the anchors log nothing.
set -euo pipefail
secs=${1:-5}
rounds=${2:-3}
here=$(cd "$(dirname "$0")" && pwd)
top=$(cd "$here/../.." && pwd)
command -v wrk >/dev/null || { echo "wrk is not installed (apt-get install -y wrk)" >&2; exit 1; }

(cd "$top" && cargo build --release --quiet)
bin="$top/target/release/asynchat-httpd"

work=$(mktemp -d)
chmod 755 "$work"
pids=()
cleanup() { for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done; rm -rf "$work"; }
trap cleanup EXIT
mkdir -p "$work/root" "$work/logs"
python3 - "$work/root" <<'PY'
import os, sys
root = sys.argv[1]
page = "<!doctype html><html><head><title>bench</title></head><body><p>%s</p></body></html>\n"
body = page % ("x" * (195 - len(page % "")))
assert len(body) == 195
open(os.path.join(root, "index.html"), "w").write(body)
for name, size in (("64k.bin", 64 << 10), ("1m.bin", 1 << 20)):
    with open(os.path.join(root, name), "wb") as f:
        f.write(os.urandom(size))
PY
chmod -R a+rX "$work/root"

# Servers on core 0, wrk on core 1. taskset execs the program, so `$!` is the
# server's own pid (a shell function here would put a subshell in between).
server_cpu=(); client_cpu=()
if command -v taskset >/dev/null; then server_cpu=(taskset -c 0); client_cpu=(taskset -c 1); fi
up() { for _ in $(seq 100); do (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null && return; sleep 0.05; done; echo "nothing listens on $1" >&2; exit 1; }

declare -A port pid
port[asynchat]=18480
"${server_cpu[@]}" "$bin" "$work/root" --port "${port[asynchat]}" >/dev/null 2>&1 &
pid[asynchat]=$!; pids+=($!)
up "${port[asynchat]}"
servers=(asynchat)

if [[ -n ${BASELINE:-} ]]; then
  port[baseline]=18483
  "${server_cpu[@]}" "$BASELINE" "$work/root" --port "${port[baseline]}" >/dev/null 2>&1 &
  pid[baseline]=$!; pids+=($!)
  up "${port[baseline]}"; servers+=(baseline)
fi

if command -v nginx >/dev/null; then
  port[nginx]=18481
  cat >"$work/nginx.conf" <<CONF
worker_processes 1;
master_process off;
daemon off;
pid $work/nginx.pid;
error_log stderr error;
events { worker_connections 8192; }
http {
  access_log off; sendfile on; tcp_nodelay on;
  keepalive_requests 10000000; keepalive_timeout 60;
  open_file_cache max=1000 inactive=60s;
  types { text/html html; application/octet-stream bin; }
  server { listen 127.0.0.1:${port[nginx]} backlog=4096; root $work/root; }
}
CONF
  "${server_cpu[@]}" nginx -p "$work/" -c "$work/nginx.conf" >/dev/null 2>&1 &
  pid[nginx]=$!; pids+=($!)
  up "${port[nginx]}"; servers+=(nginx)
fi
if command -v lighttpd >/dev/null; then
  port[lighttpd]=18482
  cat >"$work/lighttpd.conf" <<CONF
server.document-root = "$work/root"
server.bind = "127.0.0.1"
server.port = ${port[lighttpd]}
server.max-connections = 8192
server.max-fds = 16384
server.max-keep-alive-requests = 10000000
server.network-backend = "sendfile"
index-file.names = ( "index.html" )
mimetype.assign = ( ".html" => "text/html", ".bin" => "application/octet-stream" )
CONF
  "${server_cpu[@]}" lighttpd -D -f "$work/lighttpd.conf" >/dev/null 2>&1 &
  pid[lighttpd]=$!; pids+=($!)
  up "${port[lighttpd]}"; servers+=(lighttpd)
fi

# name | path | connections | depth | what to report
rows=(
  "195-byte file, 50 keep-alive connections|/index.html|50|1|req/s"
  "same, pipelined 16 deep|/index.html|50|16|req/s"
  "64 KiB file, 50 connections|/64k.bin|50|1|GB/s"
  "1 MiB file, 10 connections|/1m.bin|10|1|GB/s"
)
# Rows without pipelining run wrk as people usually do, with no script;
# SCRIPTED=1 sends every row through pipelined.lua instead (one request per
# write at depth 1), as ../shared/bench/compare.sh does. The script costs
# wrk a Lua call per request, and where wrk is the bottleneck (the file
# rows) that changes the figures; see the README's Benchmarks section.
one_run() { # server path conns depth unit
  local out script=()
  if [[ $4 != 1 || -n ${SCRIPTED:-} ]]; then script=(-s "$here/pipelined.lua"); fi
  out=$("${client_cpu[@]}" wrk -t1 -c"$3" -d"${secs}s" "${script[@]}" "http://127.0.0.1:${port[$1]}$2" -- "$4")
  if grep -qE "Socket errors|Non-2xx" <<<"$out"; then
    echo "warning: $1 $2: $(grep -E 'Socket errors|Non-2xx' <<<"$out" | tr -s ' ')" >&2
  fi
  local rps bytes
  rps=$(awk '/^Requests\/sec/ {print $2}' <<<"$out")
  if [[ $5 == req/s ]]; then printf '%.0f\n' "$rps"; return; fi
  # Transfer/sec is rounded by wrk; total bytes over the run are exact.
  bytes=$(awk '/requests in/ { v=$5; sub(/,$/, "", v); u=substr(v, length(v)-1); n=v+0;
            if (u=="KB") n*=1024; else if (u=="MB") n*=1048576; else if (u=="GB") n*=1073741824; print n }' <<<"$out")
  awk -v b="$bytes" -v s="$secs" 'BEGIN { printf "%.2f\n", b / s / 1e9 }'
}
median() { sort -g | awk '{ v[NR] = $1 } END { print v[int((NR + 1) / 2)] }'; }

echo "# $(date -u '+%Y-%m-%d %H:%M UTC'), $(nproc) cores, $(uname -r); ${secs}s x $rounds rounds, median"
header="| workload |"; rule="| --- |"
for s in "${servers[@]}"; do header+=" $s |"; rule+=" --- |"; done
for s in "${servers[@]:1}"; do header+=" asynchat / $s |"; rule+=" --- |"; done
echo "$header"; echo "$rule"
for row in "${rows[@]:${ROWS_FROM:-0}}"; do
  IFS='|' read -r name path conns depth unit <<<"$row"
  declare -A got=()
  for _ in $(seq "$rounds"); do
    for s in "${servers[@]}"; do got[$s]+="$(one_run "$s" "$path" "$conns" "$depth" "$unit") "; done
  done
  line="| $name ($unit) |"
  declare -A med=()
  for s in "${servers[@]}"; do med[$s]=$(tr ' ' '\n' <<<"${got[$s]}" | sed '/^$/d' | median); line+=" ${med[$s]} |"; done
  for s in "${servers[@]:1}"; do line+=" $(awk -v a="${med[asynchat]}" -v b="${med[$s]}" 'BEGIN { printf "%.2f", a / b }') |"; done
  echo "$line"
  unset got med
done

# Idle keep-alive connections: RSS growth per connection, each server fresh
# from the throughput runs above but measured after a warm-up request.
line="| idle keep-alive connection (RSS bytes) |"
declare -A idle=()
for s in "${servers[@]}"; do
  idle[$s]=$(python3 "$here/idle_rss.py" "${port[$s]}" "${pid[$s]}" 2000 | awk '{ print $(NF-3) }') \
    || idle[$s]="n/a"
  line+=" ${idle[$s]} |"
done
for s in "${servers[@]:1}"; do line+=" |"; done
echo "$line"
