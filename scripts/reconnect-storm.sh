#!/usr/bin/env bash
# A reconnect storm: 5,000 signed-in WebSockets (500 users, SQLite) vanish
# at once (their client is killed) and a new client opens them all again
# from the same session cookies, ROUNDS times. Reports, per round, the
# session rows the storm rewrote (rows of the sessions table whose expiry
# or data changed) and the server's RSS before, at the peak during, and 30
# s after the storm (as it is, then after a forced GC), with the Go heap's
# figures after the last round. With BASE=<commit> the same run is made
# with that commit's server first, for comparison.
#
#   scripts/reconnect-storm.sh (CONNS, USERS, ROUNDS, AFTER, BASE)
set -euo pipefail
cd "$(dirname "$0")/.."
conns=${CONNS:-5000} users=${USERS:-500} rounds=${ROUNDS:-3} after=${AFTER:-30}
work=$(mktemp -d)
server= load=
trap 'kill $load $server 2>/dev/null || true; rm -rf "$work"' EXIT
go build -o "$work/parley" ./cmd/parley
go build -o "$work/parley-load" ./cmd/parley-load
if [ -n "${BASE:-}" ]; then
  mkdir "$work/base"
  git archive "$BASE" | tar -x -C "$work/base"
  (cd "$work/base" && go build -o "$work/parley-base" ./cmd/parley)
fi
addr=127.0.0.1:${PORT:-18796}
debug=127.0.0.1:${DEBUG_PORT:-18797}
ulimit -n 20000

start_server() { # binary db
  if curl -fs "http://$addr/healthz" >/dev/null 2>&1; then echo "something already serves $addr"; exit 1; fi
  "$1" -addr "$addr" -db "$2" -register-rate 1000000 -log-level warn \
    -max-conns-per-user 20 -debug-addr "$debug" >>"$work/server.log" 2>&1 &
  server=$!
  for _ in $(seq 100); do curl -fs "http://$addr/healthz" >/dev/null 2>&1 && return 0; sleep 0.1; done
  echo "server did not start"; tail "$work/server.log"; exit 1
}
stop_server() { kill "$server"; wait "$server" 2>/dev/null || true; server=; }
rss() { awk '/VmRSS/ {print int($2/1024)}' "/proc/$server/status"; }
rss_gc() { curl -fs "http://$debug/debug/pprof/heap?gc=1" >/dev/null; sleep 1; rss; }
fds() { ls "/proc/$server/fd" | wc -l; }
session_rows() { sqlite3 "file:$1?mode=ro" "SELECT token || ' ' || expiry || ' ' || length(data) || ' ' || substr(hex(data), 1, 64) FROM sessions ORDER BY 1" >"$2"; }
open_all() { # the clients' process, holding every connection
  "$work/parley-load" -url "http://$addr" -idle -prefix storm -users "$users" -conns "$conns" -duration 1h \
    -dial-concurrency 1000 -progress=false -sessions "$work/sess.json" >>"$work/load.log" 2>&1 &
  load=$!
}
wait_open() { # descriptors
  for _ in $(seq 1200); do
    [ "$(fds)" -ge "$1" ] && return 0
    sleep 0.1
  done
  echo "only $(fds) descriptors open, want $1"; exit 1
}

run() { # name binary
  local db="$work/$1.db"
  # Sign everyone in once (argon2 is costly), keeping the cookies.
  rm -f "$work/sess.json"
  start_server "$2" "$db"
  "$work/parley-load" -url "http://$addr" -idle -prefix storm -users "$users" -conns 1 -duration 1s \
    -progress=false -sessions "$work/sess.json" >/dev/null
  stop_server
  # A fresh server, so that sign-up garbage does not count.
  start_server "$2" "$db"
  local base; base=$(fds)
  echo "== $1: $(date -u +%T) server idle: RSS $(rss) MiB"
  open_all; wait_open $((base + conns)); sleep 5
  for r in $(seq "$rounds"); do
    local before peak=0 t0 t1
    before=$(rss)
    session_rows "$db" "$work/rows0"
    kill -9 "$load"; wait "$load" 2>/dev/null || true
    t0=$(date +%s.%N)
    open_all
    while [ "$(fds)" -lt $((base + conns)) ]; do
      local now; now=$(rss); [ "$now" -gt "$peak" ] && peak=$now
      sleep 0.2
    done
    t1=$(date +%s.%N)
    local now; now=$(rss); [ "$now" -gt "$peak" ] && peak=$now
    session_rows "$db" "$work/rows1"
    local changed; changed=$(comm -13 "$work/rows0" "$work/rows1" | wc -l)
    sleep "$after"
    printf '%s round %d: %d connections back in %.1f s; session rows rewritten %d of %d; RSS MiB before %d, peak %d, %ds after %d, after a GC %d\n' \
      "$1" "$r" "$conns" "$(echo "$t1 - $t0" | bc)" "$changed" "$(wc -l <"$work/rows1")" "$before" "$peak" "$after" "$(rss)" "$(rss_gc)"
  done
  echo "== $1: Go runtime after the last round (after a GC):"
  curl -fs "http://$debug/debug/pprof/heap?gc=1&debug=1" | grep -E '^# (HeapAlloc|HeapSys|HeapInuse|HeapIdle|HeapReleased|Stack|Sys|NextGC) '
  curl -fs "http://$debug/debug/pprof/goroutine?debug=1" | head -1
  curl -fs "http://$debug/debug/pprof/heap" >"$work/$1.heap"
  go tool pprof -sample_index=inuse_space -top -nodecount=12 "$work/$1.heap" 2>/dev/null | sed -n '1,20p' || true
  kill -9 "$load"; wait "$load" 2>/dev/null || true; load=
  stop_server
}

if [ -n "${BASE:-}" ]; then run "base-${BASE:0:8}" "$work/parley-base"; fi
run head "$work/parley"
