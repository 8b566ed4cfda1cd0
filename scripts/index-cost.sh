#!/usr/bin/env bash
# The cost of the search index on sends: the same parley-load run (as fast
# as acks allow) against the server built at BASE (a revision without the
# index) and at the working tree, taking turns ROUNDS times so both see the
# same machine, then the medians and their ratio.
#
#   scripts/index-cost.sh                      SQLite, BASE=5baf409, 3 rounds
#   POSTGRES=postgres://…/db scripts/index-cost.sh   PostgreSQL (each run
#                                              empties the database first)
set -euo pipefail
cd "$(dirname "$0")/.."
base=${BASE:-5baf409}
rounds=${ROUNDS:-3}
work=$(mktemp -d)
server=
cleanup() {
  kill $server 2>/dev/null || true
  git worktree remove --force "$work/base-tree" 2>/dev/null || true
  rm -rf "$work"
}
trap cleanup EXIT
git worktree add --detach "$work/base-tree" "$base" >/dev/null 2>&1
(cd "$work/base-tree" && go build -o "$work/parley-base" ./cmd/parley)
go build -o "$work/parley-head" ./cmd/parley
go build -o "$work/parley-load" ./cmd/parley-load
addr=127.0.0.1:${PORT:-18773}
load_args=(-users "${USERS:-400}" -conns "${CONNS:-400}" -rate 0 -window "${WINDOW:-2}" -duration "${DURATION:-20s}" -warmup 3s -body-size "${BODY_SIZE:-120}")
ulimit -n 20000 || true

for round in $(seq "$rounds"); do
  for build in base head; do
    rm -f "$work"/ic.db*
    store=(-db "$work/ic.db")
    if [ -n "${POSTGRES:-}" ]; then
      psql -q "$POSTGRES" -c 'DROP SCHEMA public CASCADE; CREATE SCHEMA public;' >/dev/null
      store=(-db "$POSTGRES")
    fi
    "$work/parley-$build" -addr "$addr" "${store[@]}" -register-rate 1000000 -message-rate 1000000 -message-burst 1000000 \
      -log-level warn >>"$work/server.log" 2>&1 &
    server=$!
    for _ in $(seq 100); do curl -fs "http://$addr/healthz" >/dev/null 2>&1 && break; sleep 0.1; done
    "$work/parley-load" -url "http://$addr" -progress=false -json -signup-concurrency 16 "${load_args[@]}" -body-words >"$work/report-$build-$round.json"
    kill $server; wait $server 2>/dev/null || true; server=
  done
done

python3 - "$work" "$rounds" <<'PY'
import json, statistics, sys
w, rounds = sys.argv[1], int(sys.argv[2])
med = {}
for build in ("base", "head"):
    rs = [json.load(open(f"{w}/report-{build}-{i}.json")) for i in range(1, rounds + 1)]
    for r in rs:
        assert r["verify"]["ok"], r["verify"]
    acked = [r["acked_per_s"] for r in rs]
    p50 = [r["ack_latency_ms"]["p50"] for r in rs]
    p99 = [r["ack_latency_ms"]["p99"] for r in rs]
    med[build] = statistics.median(acked)
    print(f"{build}: acked/s {[round(a) for a in acked]} median {med[build]:.0f}; send→ack p50 median {statistics.median(p50):.1f} ms, p99 median {statistics.median(p99):.1f} ms; all verified")
print(f"ratio head/base {med['head'] / med['base']:.2f}")
PY
