#!/usr/bin/env bash
# Crash safety: while parley-load sends, the server is killed with SIGKILL
# (twice) and restarted on the same database. Clients reconnect, resend what
# was not acked (same client_id) and catch up; parley-load then verifies
# that no acked message was lost and none is duplicated, and exits non-zero
# if one was.
#
#   scripts/crash-test.sh            # SQLite
#   PARLEY_DB=postgres://… scripts/crash-test.sh
set -euo pipefail
cd "$(dirname "$0")/.."

work=$(mktemp -d)
trap 'kill $(cat "$work/pid" 2>/dev/null) 2>/dev/null || true; rm -rf "$work"' EXIT
go build -o "$work/parley" ./cmd/parley
go build -o "$work/parley-load" ./cmd/parley-load

addr=127.0.0.1:${PORT:-18765}
db=${PARLEY_DB:-$work/crash.db}
users=${USERS:-100}
conns=${CONNS:-200}
rate=${RATE:-1000}
duration=${DURATION:-30s}

start_server() {
  if curl -fs "http://$addr/healthz" >/dev/null 2>&1; then echo "something already serves $addr"; exit 1; fi
  "$work/parley" -addr "$addr" -db "$db" -log-format json \
    -register-rate 1000000 -message-rate 1000000 -message-burst 1000000 \
    >>"$work/server.log" 2>&1 &
  echo $! >"$work/pid"
  for _ in $(seq 100); do
    curl -fs "http://$addr/healthz" >/dev/null 2>&1 && return 0
    sleep 0.1
  done
  echo "server did not start"; tail -20 "$work/server.log"; exit 1
}

kill_server() {
  echo "== SIGKILL $(cat "$work/pid")"
  kill -9 "$(cat "$work/pid")"
  wait "$(cat "$work/pid")" 2>/dev/null || true
}

start_server
"$work/parley-load" -url "http://$addr" -users "$users" -conns "$conns" -rate "$rate" \
  -duration "$duration" -drain 60s -json >"$work/report.json" &
load=$!

sleep 10; kill_server; sleep 1; start_server
sleep 8;  kill_server; sleep 2; start_server

status=0
wait $load || status=$?
cat "$work/report.json"
echo
if [ $status -eq 0 ]; then
  echo "crash test: PASS (no acked message lost, none duplicated)"
else
  echo "crash test: FAIL (parley-load exit $status)"
fi
exit $status
