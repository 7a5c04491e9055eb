#!/usr/bin/env bash
# Paired runs: does a change move a benchmark row? Two builds serve the same
# files side by side; for each pair, wrk runs against the old build and then
# the new one, back to back, and the pair's ratio (new / old) is kept. The
# median of the ratios, with its quartiles, says more on this noisy shared
# machine than two medians taken minutes apart.
#
# usage: benches/wrk/paired.sh OLD_BINARY NEW_BINARY [PAIRS] [SECONDS] [ROWS]
#   PAIRS (default 20), SECONDS per run (default 1), ROWS a comma-separated
#   subset of: small, pipelined, 64k, 1m (default small,pipelined).
#   FLAGS="..." adds server flags to both builds.
# Servers are pinned to core 0, wrk (one thread) to core 1, as in run.sh.
set -euo pipefail
old=${1:?usage: paired.sh OLD NEW [PAIRS] [SECONDS] [ROWS]}
new=${2:?usage: paired.sh OLD NEW [PAIRS] [SECONDS] [ROWS]}
pairs=${3:-20}
secs=${4:-1}
rows=${5:-small,pipelined}
here=$(cd "$(dirname "$0")" && pwd)
command -v wrk >/dev/null || { echo "wrk is not installed (apt-get install -y wrk)" >&2; exit 1; }

work=$(mktemp -d)
pids=()
cleanup() { for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done; rm -rf "$work"; }
trap cleanup EXIT
python3 - "$work" <<'PY'
import os, sys
root = sys.argv[1]
page = "<!doctype html><html><head><title>bench</title></head><body><p>%s</p></body></html>\n"
open(os.path.join(root, "index.html"), "w").write(page % ("x" * (195 - len(page % ""))))
for name, size in (("64k.bin", 64 << 10), ("1m.bin", 1 << 20)):
    with open(os.path.join(root, name), "wb") as f:
        f.write(os.urandom(size))
PY

server_cpu=(); client_cpu=()
if command -v taskset >/dev/null; then server_cpu=(taskset -c 0); client_cpu=(taskset -c 1); fi
up() { for _ in $(seq 100); do (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null && return; sleep 0.05; done; echo "nothing listens on $1" >&2; exit 1; }
declare -A port=([old]=18680 [new]=18681)
for which in old new; do
  bin=$old; [ "$which" = new ] && bin=$new
  "${server_cpu[@]}" "$bin" "$work" --port "${port[$which]}" ${FLAGS:-} >/dev/null 2>&1 &
  pids+=($!)
  up "${port[$which]}"
done

declare -A path=([small]=/index.html [pipelined]=/index.html [64k]=/64k.bin [1m]=/1m.bin)
declare -A conns=([small]=50 [pipelined]=50 [64k]=50 [1m]=10)
declare -A depth=([small]=1 [pipelined]=16 [64k]=1 [1m]=1)
rate() { # which row -> requests per second
  local script=()
  [ "${depth[$2]}" != 1 ] && script=(-s "$here/pipelined.lua")
  "${client_cpu[@]}" wrk -t1 -c"${conns[$2]}" -d"${secs}s" "${script[@]}" \
    "http://127.0.0.1:${port[$1]}${path[$2]}" -- "${depth[$2]}" | awk '/^Requests\/sec/ {print $2}'
}

echo "# $(date -u '+%Y-%m-%d %H:%M UTC'): $pairs pairs of ${secs} s runs; new = $new, old = $old"
echo "| row | old req/s (median) | new req/s (median) | new / old: median of pairs | quartiles |"
echo "| --- | --- | --- | --- | --- |"
for row in ${rows//,/ }; do
  : >"$work/ratios"; : >"$work/old"; : >"$work/new"
  for _ in $(seq "$pairs"); do
    a=$(rate old "$row"); b=$(rate new "$row")
    echo "$a" >>"$work/old"; echo "$b" >>"$work/new"
    awk -v a="$a" -v b="$b" 'BEGIN { printf "%.4f\n", b / a }' >>"$work/ratios"
  done
  q() { sort -g "$1" | awk -v p="$2" '{ v[NR] = $1 } END { i = int(p * (NR - 1) + 1.5); print v[i] }'; }
  echo "| $row | $(q "$work/old" 0.5) | $(q "$work/new" 0.5) | $(q "$work/ratios" 0.5) | $(q "$work/ratios" 0.25) to $(q "$work/ratios" 0.75) |"
done
