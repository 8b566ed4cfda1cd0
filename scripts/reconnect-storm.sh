#!/usr/bin/env bash
# Reconnect storms. Two modes (MODE):
#
# restart (the default): CONNS signed-in WebSockets (19,000; direct
# conversations, SQLite) over PROCS parley-load processes (each process
# may hold 20,000 open files; by default one per 9,500 connections) send
# at RATE messages/s in all (100: a direct conversation's two users hold
# CONNS_PER_USER connections each, so a message makes 2·19−1 deliveries); once every process is sending and WARM
# seconds have passed, the server is restarted (SIGNAL, TERM by default,
# or KILL) on the same address and database. Every connection reconnects,
# catches up on what it missed and resends what was not acked; each
# process reports the outage, from its first connection's drop to its
# last one reconnected and caught up, and verifies at the end that every
# acked message reached every connection exactly once (duplicates
# counted) and is stored once. Prints the time to all caught up over
# every process: from the first drop anywhere to the last connection
# caught up anywhere.
#
#   scripts/reconnect-storm.sh (CONNS, PROCS, CONNS_PER_USER, RATE, WARM,
#     DURATION, SIGNAL, DIAL_CONC, PORT, WORK_PREFIX, KEEP; SERVER_BIN: a
#     server binary to use instead of building ./cmd/parley)
#
# client: 5,000 signed-in WebSockets (500 users) vanish at once (their
# client is killed) and a new client opens them all again from the same
# session cookies, ROUNDS times. Reports, per round, the session rows the
# storm rewrote (rows of the sessions table whose expiry or data changed)
# and the server's RSS before, at the peak during, and 30 s after the
# storm (as it is, then after a forced GC), with the Go heap's figures
# after the last round. With BASE=<commit> the same run is made with that
# commit's server first, for comparison.
#
#   MODE=client scripts/reconnect-storm.sh (CONNS, USERS, ROUNDS, AFTER, BASE)
set -euo pipefail
cd "$(dirname "$0")/.."
mode=${MODE:-restart}
work=$(mktemp -d "${WORK_PREFIX:-${TMPDIR:-/tmp}/reconnect-storm}.XXXXXX")
server= load=
loads=()
cleanup() {
  kill $load "${loads[@]}" $server 2>/dev/null || true
  if [ -n "${KEEP:-}" ]; then echo "kept $work"; else rm -rf "$work"; fi
}
trap cleanup EXIT
if [ -n "${SERVER_BIN:-}" ]; then cp "$SERVER_BIN" "$work/parley"; else go build -o "$work/parley" ./cmd/parley; fi
go build -o "$work/parley-load" ./cmd/parley-load
if [ "$mode" = client ]; then
  conns=${CONNS:-5000} users=${USERS:-500} rounds=${ROUNDS:-3} after=${AFTER:-30}
fi
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
  "$1" -addr "$addr" -db "$2" -register-rate 1000000 -message-rate 1000000 -message-burst 1000000 -log-level warn \
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

# CPU time in clock ticks (1/100 s) of a process, from /proc/PID/stat.
ticks() { awk '{print $14 + $15}' "/proc/$1/stat" 2>/dev/null || echo 0; }
# Each second, until killed: the CPU the server and the load processes
# used in it, as % of one core ("server/load0+load1").
sample_cpu() {
  local prev_s prev_l now_s now_l p
  prev_s=$(ticks "$server"); prev_l=$(for p in "${loads[@]}"; do ticks "$p"; done | paste -sd+ | bc)
  while sleep 1; do # sample interval
    for p in "${loads[@]}"; do kill -0 "$p" 2>/dev/null || return 0; done
    now_s=$(ticks "$server"); now_l=$(for p in "${loads[@]}"; do ticks "$p"; done | paste -sd+ | bc)
    echo "$((now_s - prev_s))/$((now_l - prev_l))" >>"$work/cpu.log"
    prev_s=$now_s prev_l=$now_l
  done
}

restart_storm() {
  local conns=${CONNS:-19000}
  local procs=${PROCS:-$(( (conns + 9499) / 9500 ))}
  local per_user=${CONNS_PER_USER:-19} rate=${RATE:-100} warm=${WARM:-10} duration=${DURATION:-60s}
  local db="$work/storm.db" i
  echo "== restart storm: $conns connections over $procs processes, $rate messages/s, server restarted with SIG${SIGNAL:-TERM} after ${warm}s of sending"
  start_server "$work/parley" "$db"
  # Process i holds connections [i·conns/procs, (i+1)·conns/procs) over
  # its own users, an even number of them (direct conversations).
  local offset=0
  for i in $(seq 0 $((procs - 1))); do
    local n=$(( (i + 1) * conns / procs - i * conns / procs ))
    local users=$(( (n + per_user - 1) / per_user ))
    users=$(( users + users % 2 ))
    "$work/parley-load" -url "http://$addr" -prefix storm -users "$users" -user-offset "$offset" -conns "$n" \
      -rate "$(echo "$rate * $n / $conns" | bc -l)" -duration "$duration" -drain 30s \
      -dial-concurrency "${DIAL_CONC:-256}" -json >"$work/report-$i.json" 2>"$work/load-$i.log" &
    loads+=($!)
    offset=$((offset + users))
  done
  # Wait for every process to be sending (its progress lines show t=).
  for i in $(seq 0 $((procs - 1))); do
    until grep -qs '^t=' "$work/load-$i.log"; do
      kill -0 "${loads[$i]}" 2>/dev/null || { echo "parley-load $i ended early:"; tail "$work/load-$i.log"; exit 1; }
      sleep 0.5 # poll interval
    done
  done
  echo "$(date -u +%T.%3N) all $procs processes sending; server fds $(fds)"
  sleep "$warm" # the warm-up: let the load run before the restart
  local t_kill; t_kill=$(date +%s.%N)
  echo "$(date -u +%T.%3N) restarting the server (SIG${SIGNAL:-TERM})"
  kill -"${SIGNAL:-TERM}" "$server"; wait "$server" 2>/dev/null || true; server=
  start_server "$work/parley" "$db"
  sample_cpu &
  local sampler=$!
  echo "$(date -u +%T.%3N) server up again after $(echo "$(date +%s.%N) - $t_kill" | bc | xargs printf '%.2f') s"
  local failed=0
  for i in $(seq 0 $((procs - 1))); do
    wait "${loads[$i]}" || failed=1
  done
  loads=()
  kill "$sampler" 2>/dev/null || true; wait "$sampler" 2>/dev/null || true
  echo "CPU after the restart, % of one core each second (server, load processes):"
  awk '{printf "%s%s", (NR > 1 ? " " : ""), $0} END {print ""}' "$work/cpu.log" | fold -s -w 120
  stop_server
  for i in $(seq 0 $((procs - 1))); do
    jq -r --arg i "$i" '"process \($i): \(.conns) connections, \(.acked) acked (send→deliver p50 \(.deliver_latency_ms.p50) ms, p99 \(.deliver_latency_ms.p99) ms), \(.unacked_at_end) unacked at the end, \(.reconnects) reconnects, \(.caught_up_messages) fetched catching up, \(.duplicated_frames) duplicate frames; verify: \(.verify.summary)"
      + ([.outages[]? | "\n  outage: \(.conns) connections dropped, \(if .still_behind then "\(.still_behind) NOT caught up by the end" else "all caught up in \(.seconds) s" end), \(.fetched_missed) missed messages fetched, \(.duplicated_frames) duplicate frames meanwhile (\(.duplicated_after_catch_up) for a seq the catch-up had fetched)"] | join(""))' "$work/report-$i.json" \
      || { echo "process $i: no report"; tail -5 "$work/load-$i.log"; failed=1; }
  done
  # Over every process: the outage that began with the restart, from the
  # first drop anywhere to the last connection caught up anywhere.
  jq -rs --argjson t "$t_kill" '
    [.[] | [.outages[]? | select(.start_unix_ms >= ($t * 1000 - 1000))][0]] as $o
    | if ($o | any(. == null)) then "reconnect storm: a process saw no outage"
      elif ($o | any(.still_behind > 0 or .end_unix_ms == 0)) then "reconnect storm: NOT all caught up by the end of the run"
      else "reconnect storm: \([$o[].conns] | add) connections dropped; all reconnected and caught up \((([$o[].end_unix_ms] | max) - ([$o[].start_unix_ms] | min)) / 1000) s after the first drop (\((([$o[].start_unix_ms] | min) - $t * 1000) / 1000 | . * 1000 | round / 1000) s after the restart began); \([$o[].fetched_missed] | add) missed messages fetched, \([$o[].duplicated_frames] | add) duplicate frames meanwhile (\([$o[].duplicated_after_catch_up] | add) for a seq the catch-up had fetched: the client drops them by seq)"
      end' "$work"/report-*.json
  return $failed
}

if [ "$mode" = restart ]; then
  restart_storm
  exit
fi
if [ -n "${BASE:-}" ]; then run "base-${BASE:0:8}" "$work/parley-base"; fi
run head "$work/parley"
