#!/usr/bin/env bash
# Memory per idle WebSocket: the server's RSS with 1,000, 10,000 and 19,000
# idle authenticated connections; the figure is the growth from 1,000 to
# 19,000 divided by 18,000. Every process may hold 20,000 open files here,
# so the 19,000 come from three parley-load processes (1,000 + 9,000 +
# 9,000). PROFILE_DIR=dir keeps the heap and goroutine profiles at 19,000
# (and the binary, for go tool pprof).
set -euo pipefail
cd "$(dirname "$0")/.."
work=$(mktemp -d)
pids=()
server=
trap 'kill "${pids[@]}" $server 2>/dev/null || true; rm -rf "$work"' EXIT
go build -o "$work/parley" ./cmd/parley
go build -o "$work/parley-load" ./cmd/parley-load
addr=127.0.0.1:${PORT:-18766}
hold=${HOLD:-600s}
debug=127.0.0.1:${DEBUG_PORT:-18767}

start_server() {
  if curl -fs "http://$addr/healthz" >/dev/null 2>&1; then echo "something already serves $addr"; exit 1; fi
  "$work/parley" -addr "$addr" -db "$state/idle.db" -register-rate 1000000 -log-level warn \
    -max-conns-per-user 20 -debug-addr "$debug" >>"$work/server.log" 2>&1 &
  server=$!
  for _ in $(seq 100); do curl -fs "http://$addr/healthz" >/dev/null 2>&1 && return 0; sleep 0.1; done
  echo "server did not start"; exit 1
}
# RSS after a garbage collection (forced through the profiling endpoint), so
# that the figure is what the connections hold, not garbage not yet swept.
rss() { curl -fs "http://$debug/debug/pprof/heap?gc=1" >/dev/null; sleep 2; awk '/VmRSS/ {print $2}' "/proc/$server/status"; }
settle() { sleep "${SETTLE:-10}"; }

# Sign everyone in once (argon2 is costly), keeping the session cookies.
# STATE_DIR=dir keeps the database and the cookies there for the next run,
# which then skips this (a few minutes).
state=${STATE_DIR:-$work}
mkdir -p "$state"
if [ ! -f "$state/sess-c.json" ]; then
  start_server
  for part in a:0:50 b:50:500 c:550:500; do
    IFS=: read -r name offset users <<<"$part"
    "$work/parley-load" -url "http://$addr" -idle -prefix idle -users "$users" -user-offset "$offset" -conns 1 -duration 1s \
      -progress=false -sessions "$state/sess-$name.json" >/dev/null
  done
  kill "$server"; wait "$server" 2>/dev/null || true
fi

# A fresh server, so that sign-up garbage does not count.
start_server
ulimit -n 20000 || true
open_conns() { # name offset users conns
  "$work/parley-load" -url "http://$addr" -idle -prefix idle -users "$3" -user-offset "$2" -conns "$4" -duration "$hold" \
    -progress=false -sessions "$state/sess-$1.json" >"$work/load-$1.log" 2>&1 &
  pids+=($!)
}
wait_conns() { # total
  for _ in $(seq 600); do
    n=$(ls "/proc/$server/fd" | wc -l)
    [ "$n" -ge "$1" ] && return 0
    sleep 0.5
  done
  echo "only $n descriptors open, want $1"; exit 1
}
base=$(ls "/proc/$server/fd" | wc -l)
settle; rss0=$(rss)
open_conns a 0 50 1000;   wait_conns $((base + 1000));  settle; rss1=$(rss)
open_conns b 50 500 9000;  wait_conns $((base + 10000)); settle; rss10=$(rss)
open_conns c 550 500 9000; wait_conns $((base + 19000)); settle; rss19=$(rss)

echo "Go runtime at 19,000 connections (after a GC):"
curl -fs "http://$debug/debug/pprof/heap?gc=1&debug=1" | grep -E '^# (HeapAlloc|HeapInuse|HeapIdle|HeapReleased|Stack|MSpan|Sys) '
# awk, not head: head would stop reading, and curl's broken pipe would end
# the script (pipefail) before the figures.
curl -fs "http://$debug/debug/pprof/goroutine?debug=1" | awk 'NR == 1'
grep -E 'RssAnon|RssFile' "/proc/$server/status"
if [ -n "${PROFILE_DIR:-}" ]; then # keep the profiles at 19,000 for go tool pprof
  mkdir -p "$PROFILE_DIR"
  curl -fs "http://$debug/debug/pprof/heap?gc=1" -o "$PROFILE_DIR/heap.pb.gz"
  curl -fs "http://$debug/debug/pprof/goroutine?debug=1" -o "$PROFILE_DIR/goroutine.txt"
  cp "$work/parley" "$PROFILE_DIR/parley"
fi
echo "server RSS: idle ${rss0} KiB, 1,000 connections ${rss1} KiB, 10,000 connections ${rss10} KiB, 19,000 connections ${rss19} KiB"
echo "per connection, (RSS at 19,000 - RSS at 1,000) / 18,000: $(( (rss19 - rss1) * 1024 / 18000 )) bytes"
