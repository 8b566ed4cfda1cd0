#!/usr/bin/env bash
# Group commit, before and after: the same parley-load run against the
# server with -group-commit=false, then =true, and the ratio of
# acked messages per second.
set -euo pipefail
cd "$(dirname "$0")/.."
work=$(mktemp -d)
server=
trap 'kill $server 2>/dev/null || true; rm -rf "$work"' EXIT
go build -o "$work/parley" ./cmd/parley
go build -o "$work/parley-load" ./cmd/parley-load
addr=127.0.0.1:${PORT:-18771}
load_args=(-users "${USERS:-400}" -conns "${CONNS:-400}" -rate 0 -window "${WINDOW:-2}" -duration "${DURATION:-20s}" -warmup 3s)
ulimit -n 20000 || true

for mode in false true; do
  rm -f "$work"/gc.db*
  "$work/parley" -addr "$addr" -db "$work/gc.db" -register-rate 1000000 -message-rate 1000000 -message-burst 1000000 \
    -log-level warn -group-commit=$mode >>"$work/server.log" 2>&1 &
  server=$!
  for _ in $(seq 100); do curl -fs "http://$addr/healthz" >/dev/null 2>&1 && break; sleep 0.1; done
  "$work/parley-load" -url "http://$addr" -progress=false -json -signup-concurrency 16 "${load_args[@]}" >"$work/report-$mode.json"
  kill $server; wait $server 2>/dev/null || true; server=
done

python3 - "$work" <<'PY'
import json, sys
w = sys.argv[1]
off, on = (json.load(open(f"{w}/report-{m}.json")) for m in ("false", "true"))
for name, r in (("one commit per send", off), ("group commit", on)):
    a = r["ack_latency_ms"]
    print(f"{name:20s} {r['acked_per_s']:8.0f} acked/s   send→ack p50 {a['p50']:7.1f} ms  p99 {a['p99']:7.1f} ms   {r['verify']['summary'][:2]}")
print(f"ratio {on['acked_per_s'] / off['acked_per_s']:.2f}x")
PY
