# Shared by scripts/fault-*.sh: build the binaries, start nodes, put a TCP
# proxy (socat) between the nodes and a dependency, break it, and run
# parley-load. Everything listens on 127.0.0.1 and stops with the script.
# Sourced, not run.
#
# A proxy is a socat process group: cutting it kills the group (every
# proxied connection closes, new ones are refused), stalling it stops the
# group with SIGSTOP (connections stay open, no byte moves, new ones wait
# in the backlog), mending starts it again or continues it.

set -euo pipefail
cd "$(dirname "$0")/.."

command -v socat >/dev/null || { echo "needs socat (apt-get install socat)"; exit 1; }

work=$(mktemp -d)
pids=()      # nodes and proxies to stop at exit
cleanups=()  # commands to run at exit
cleanup() {
  for p in "${pids[@]}"; do kill -- "-$p" 2>/dev/null || kill "$p" 2>/dev/null || true; done
  for p in "${pids[@]}"; do kill -CONT -- "-$p" 2>/dev/null || true; done
  # Before unmounting or dropping anything, the processes must be gone.
  for p in "${pids[@]}"; do
    for _ in $(seq 100); do
      [ -e "/proc/$p" ] && ! grep -q ') Z ' "/proc/$p/stat" 2>/dev/null || break
      sleep 0.1
    done
    kill -9 -- "-$p" 2>/dev/null || true
  done
  wait 2>/dev/null || true
  for c in "${cleanups[@]}"; do eval "$c" || true; done
  rm -rf "$work"
}
trap cleanup EXIT

go build -o "$work/parley" ./cmd/parley
go build -o "$work/parley-load" ./cmd/parley-load
if rev=$(git rev-parse --short HEAD 2>/dev/null); then
  git diff --quiet HEAD -- cmd internal || rev+=" and uncommitted changes in cmd/ or internal/"
else
  rev="${FAULT_COMMIT:-unknown (not a git checkout)}"
fi
echo "== at commit $rev, load average $(cut -d' ' -f1-3 /proc/loadavg)"

# The shared services of the test environment; only loopback addresses.
pg_base=${PARLEY_TEST_POSTGRES:-postgres://postgres@127.0.0.1:5432/postgres?sslmode=disable}
redis_url=${PARLEY_TEST_REDIS:-redis://127.0.0.1:6379/0}
redis_prefix="parleyfault:$RANDOM$RANDOM:"

# fresh_db: creates a database for this run (dropped at exit) and prints
# its URL.
fresh_db() {
  local name="parley_fault_$RANDOM$RANDOM"
  psql -q "$pg_base" -c "CREATE DATABASE $name" >/dev/null
  cleanups+=("psql -q '$pg_base' -c 'DROP DATABASE IF EXISTS $name WITH (FORCE)' >/dev/null")
  echo "${pg_base/\/postgres\?//$name?}"
}

# hostport URL: the host:port of a URL.
hostport() { local r=${1#*://}; r=${r#*@}; echo "${r%%/*}"; }

# with_hostport URL HOSTPORT: URL with its host:port replaced.
with_hostport() { echo "${1/$(hostport "$1")/$2}"; }

# proxy_start NAME LISTEN TARGET: a proxy from 127.0.0.1:LISTEN to TARGET.
proxy_start() {
  setsid socat "TCP-LISTEN:$2,bind=127.0.0.1,fork,reuseaddr,backlog=512" "TCP:$3" &
  local p=$!
  pids+=("$p")
  eval "proxy_$1=$p proxy_$1_listen=$2 proxy_$1_target=$3"
  for _ in $(seq 50); do socat -u OPEN:/dev/null "TCP:127.0.0.1:$2" 2>/dev/null && return 0; sleep 0.1; done
  echo "proxy $1 did not start"; exit 1
}
proxy_cut() {
  local v="proxy_$1"
  echo "== $(date -u +%T) cut $1"
  kill -- "-${!v}" 2>/dev/null || true
}
proxy_mend() {
  local l="proxy_$1_listen" tg="proxy_$1_target"
  echo "== $(date -u +%T) mend $1"
  proxy_start "$1" "${!l}" "${!tg}"
}
proxy_stall() {
  local v="proxy_$1"
  echo "== $(date -u +%T) stall $1"
  kill -STOP -- "-${!v}"
}
proxy_unstall() {
  local v="proxy_$1"
  echo "== $(date -u +%T) unstall $1"
  kill -CONT -- "-${!v}"
}

# node_start N PORT ARGS…: a node on 127.0.0.1:PORT, its log in
# $work/nodeN.log; waits for /healthz.
node_start() {
  local n=$1 port=$2; shift 2
  setsid "$work/parley" -addr "127.0.0.1:$port" -log-format json \
    -register-rate 1000000 -message-rate 1000000 -message-burst 1000000 "$@" \
    >>"$work/node$n.log" 2>&1 &
  eval "node${n}_pid=$!"
  pids+=("$!")
  for _ in $(seq 100); do
    curl -fs "http://127.0.0.1:$port/healthz" >/dev/null 2>&1 && return 0
    sleep 0.1
  done
  echo "node $n did not start"; tail -20 "$work/node$n.log"; exit 1
}
node_kill() {
  local v="node${1}_pid"
  echo "== $(date -u +%T) SIGKILL node $1 (${!v})"
  kill -9 "${!v}"
  wait "${!v}" 2>/dev/null || true
}

# load_start ARGS…: parley-load in the background, its text report in
# $work/report.txt, progress in $work/load.err.
load_start() {
  "$work/parley-load" -drain "${DRAIN:-120s}" "$@" >"$work/report.txt" 2>"$work/load.err" &
  load_pid=$!
}

# wait_sending: waits (at most 2 min) until parley-load's send phase has
# begun, so that faults land in the middle of traffic.
wait_sending() {
  for _ in $(seq 1200); do
    grep -q '^t=' "$work/load.err" 2>/dev/null && return 0
    kill -0 "$load_pid" 2>/dev/null || break
    sleep 0.1
  done
  echo "parley-load did not start sending"; cat "$work/load.err"; exit 1
}

# load_finish NAME: waits for parley-load, prints its report and a summary
# line, and returns its exit status.
load_finish() {
  local status=0
  wait "$load_pid" || status=$?
  cat "$work/report.txt"
  echo "-- errors by kind and the last progress lines:"
  tail -5 "$work/load.err"
  for f in "$work"/node*.log; do
    echo "-- $(basename "$f"): $(wc -l <"$f") lines; by message:"
    grep -o '"msg":"[^"]*"' "$f" | sort | uniq -c | sort -rn | head -8
  done
  echo "== $1: $(grep '^delivery:' "$work/report.txt" || echo 'no report') (parley-load exit $status)"
  return $status
}
