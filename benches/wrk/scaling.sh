#!/usr/bin/env bash
# How throughput scales with --workers on this machine: for N = 1 .. nproc,
# the release binary serves the 195-byte index.html of
# ../shared/bench/compare.sh with --workers N, and wrk (N threads, 50
# keep-alive connections) asks for it, plainly and pipelined 16 deep.
# Prints, for each N, req/s, the ratio to one worker, and the CPU time per
# request of the server, split into user space (the server's code) and the
# kernel (from /proc/PID/stat), and of wrk: what an estimate for more
# cores starts from (README, Benchmarks).
#
# usage: benches/wrk/scaling.sh [SECONDS_PER_RUN] [ROUNDS]
#   WORKERS="1 2 4" picks the worker counts (default 1 .. nproc);
#   FLAGS="..." adds server flags (-q: no access log; the default logs, to
#   /dev/null, as run.sh does).
#
# Nothing is pinned: the workers and wrk share every core, so on a machine
# of C cores, N workers compete with wrk's threads for them. The ratio is
# what this machine can show, not what N cores of server alone give.
set -euo pipefail
secs=${1:-5}
rounds=${2:-1}
here=$(cd "$(dirname "$0")" && pwd)
top=$(cd "$here/../.." && pwd)
command -v wrk >/dev/null || { echo "wrk is not installed (apt-get install -y wrk)" >&2; exit 1; }
cores=$(nproc)
counts=${WORKERS:-$(seq -s ' ' 1 "$cores")}

(cd "$top" && cargo build --release --quiet)
bin="$top/target/release/asynchat-httpd"

work=$(mktemp -d)
pid=
cleanup() { [[ -n $pid ]] && kill "$pid" 2>/dev/null || true; rm -rf "$work"; }
trap cleanup EXIT
mkdir "$work/root"
python3 - "$work/root" <<'PY'
import os, sys
body = ("<!doctype html><html><head><title>hello</title></head><body><h1>It works</h1><p>"
        + "lorem ipsum " * 8 + "</p></body></html>\n")
assert len(body) == 195
open(os.path.join(sys.argv[1], "index.html"), "w").write(body)
PY

up() { for _ in $(seq 100); do (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null && return; sleep 0.05; done; echo "nothing listens on $1" >&2; exit 1; }
# The server's user and system CPU time so far, in clock ticks: fields 14
# and 15 of /proc/PID/stat (after the command name, which may hold spaces).
cpu() { sed 's/^.*) //' "/proc/$1/stat" | awk '{ print $12, $13 }'; }
# The ticks every core spent busy so far (all but idle and iowait).
busy() { awk '/^cpu / { print $2 + $3 + $4 + $7 + $8 + $9 }' /proc/stat; }
tick=$(getconf CLK_TCK)

# One wrk run against the server on $port with $2 threads at depth $1:
# prints "req/s requests user_ticks system_ticks wrk_user_secs
# wrk_system_secs busy_ticks" (the last: of every core, whoever was busy).
run() {
  local depth=$1 threads=$2 script=() before after out client b0 b1
  [[ $depth != 1 ]] && script=(-s "$here/pipelined.lua")
  b0=$(busy)
  before=$(cpu "$pid")
  # bash's `time` gives wrk's own user and system seconds.
  out=$( { TIMEFORMAT='wrk-cpu %U %S'; time wrk -t"$threads" -c50 -d"${secs}s" "${script[@]}" \
           "http://127.0.0.1:$port/index.html" -- "$depth"; } 2>&1 )
  after=$(cpu "$pid")
  b1=$(busy)
  if grep -qE "Socket errors|Non-2xx" <<<"$out"; then
    echo "warning: $(grep -E 'Socket errors|Non-2xx' <<<"$out" | tr -s ' ')" >&2
  fi
  awk -v b="$before" -v a="$after" -v busy=$((b1 - b0)) '
    /^Requests\/sec/ { rps = $2 }
    /requests in/ { n = $1 }
    /^wrk-cpu/ { wu = $2; ws = $3 }
    END { split(b, x, " "); split(a, y, " "); print rps, n, y[1] - x[1], y[2] - x[2], wu, ws, busy }' <<<"$out"
}
median() { sort -g | awk '{ v[NR] = $0 } END { print v[int((NR + 1) / 2)] }'; }

# Other work on the machine takes cores from both the server and wrk: the
# header says how busy it was (the 1-minute load average) before the runs.
echo "# $(date -u '+%Y-%m-%d %H:%M UTC'), $cores cores, $(uname -r), load $(cut -d' ' -f1 /proc/loadavg) before; ${secs}s x $rounds rounds, median; server flags: ${FLAGS:-(none)}"
echo "| workers | wrk threads | req/s | / 1 worker | pipelined 16 req/s | / 1 worker | server CPU µs per request (user + kernel) | pipelined | wrk CPU µs per request | pipelined | other programs' cores |"
echo "| --- | --- | --- | --- | --- | --- | --- | --- | --- | --- | --- |"
declare -A plain piped
port=18780
for _ in $(seq "$rounds"); do
  for n in $counts; do
    port=$((port + 1))
    # shellcheck disable=SC2086
    "$bin" "$work/root" --port "$port" --workers "$n" ${FLAGS:-} >/dev/null 2>&1 &
    pid=$!
    up "$port"
    plain[$n]+="$(run 1 "$n")"$'\n'
    piped[$n]+="$(run 16 "$n")"$'\n'
    kill -TERM "$pid"; wait "$pid" || true; pid=
  done
done
# A row's CPU cost: "user + kernel" microseconds per request, of the median
# run, for the server; wrk's in all.
cost() { awk -v t="$tick" '{ printf "%.2f + %.2f", $3 / t * 1e6 / $2, $4 / t * 1e6 / $2 }'; }
client() { awk '{ printf "%.2f", ($5 + $6) * 1e6 / $2 }'; }
# The cores other programs kept busy meanwhile, on average: what took
# cores from the server and wrk (0.0 on a quiet machine).
others() { awk -v t="$tick" -v s="$secs" '{ o = ($7 - $3 - $4) / t / s - ($5 + $6) / s; printf "%.1f", (o > 0 ? o : 0) }'; }
for n in $counts; do
  p=$(sed '/^$/d' <<<"${plain[$n]}" | median)
  q=$(sed '/^$/d' <<<"${piped[$n]}" | median)
  [[ -z ${base_p:-} ]] && { base_p=${p%% *}; base_q=${q%% *}; }
  awk -v n="$n" -v p="${p%% *}" -v q="${q%% *}" -v bp="$base_p" -v bq="$base_q" \
      -v cp="$(cost <<<"$p")" -v cq="$(cost <<<"$q")" -v wp="$(client <<<"$p")" -v wq="$(client <<<"$q")" \
      -v op="$(others <<<"$p")" -v oq="$(others <<<"$q")" \
    'BEGIN { printf "| %d | %d | %.0f | %.2f | %.0f | %.2f | %s | %s | %s | %s | %s, %s |\n", n, n, p, p / bp, q, q / bq, cp, cq, wp, wq, op, oq }'
done
