#!/usr/bin/env bash
# Login flood: starts the server on loopback, fires COUNT (default 1,000)
# logins at it at once, each with an unknown username from its own address
# (X-Forwarded-For from a trusted 127.0.0.1, so no throttle stops any of
# them: every one asks for an argon2id verification), polls /healthz every
# 0.1 s meanwhile, and reports the server's peak RSS (VmHWM), the login
# statuses and the /healthz answers.
#
#   scripts/login-flood.sh                        this tree's server
#   scripts/login-flood.sh -hash-concurrency 4    extra flags go to the server
#   PARLEY_BIN=/tmp/old/parley COUNT=100 scripts/login-flood.sh
#                                                 another build of the server
#
# COUNT is at most 2,000; each login gets at most 60 s and the whole flood
# 180 s. A server without a bound on hashing holds 19 MiB per login at
# once (1,000 logins: about 19 GiB), so the server is killed if its RSS
# passes MAX_RSS_MIB (default 4096) and the report says so.
set -euo pipefail
cd "$(dirname "$0")/.."
count=${COUNT:-1000}
max_rss_mib=${MAX_RSS_MIB:-4096}
addr=127.0.0.1:${PORT:-18790}
per_curl=250 # curl 7.x runs at most 300 transfers at once
if ! [[ $count =~ ^[0-9]+$ ]] || [ "$count" -lt 1 ] || [ "$count" -gt 2000 ]; then
  echo "COUNT must be 1 to 2000, not $count"; exit 1
fi

work=$(mktemp -d)
server=
poller=
trap 'kill $poller $server 2>/dev/null || true; wait 2>/dev/null || true; rm -rf "$work"' EXIT
bin=${PARLEY_BIN:-}
if [ -z "$bin" ]; then
  go build -o "$work/parley" ./cmd/parley
  bin=$work/parley
fi

if curl -fs "http://$addr/healthz" >/dev/null 2>&1; then echo "something already serves $addr"; exit 1; fi
"$bin" -addr "$addr" -db "$work/flood.db" -trusted-proxies 127.0.0.1 -log-level error "$@" >"$work/server.log" 2>&1 &
server=$!
for _ in $(seq 300); do curl -fs "http://$addr/healthz" >/dev/null 2>&1 && break; sleep 0.1; done
curl -fs "http://$addr/healthz" >/dev/null || { echo "server did not start:"; cat "$work/server.log"; exit 1; }
rss_start=$(awk '/VmRSS/ {print $2}' "/proc/$server/status")

# One curl config per 250 logins.
n_curls=$(( (count + per_curl - 1) / per_curl ))
for ((c = 0; c < n_curls; c++)); do
  for ((i = c * per_curl; i < count && i < (c + 1) * per_curl; i++)); do
    [ "$i" -gt $((c * per_curl)) ] && echo next
    cat <<EOF
url = "http://$addr/api/v1/auth/login"
header = "Content-Type: application/json"
header = "X-Forwarded-For: 10.$((i / 65536 % 256)).$((i / 256 % 256)).$((i % 256))"
data = "{\"username\":\"flood-$i\",\"password\":\"wrong-password\"}"
output = "/dev/null"
write-out = "%{http_code}\n"
max-time = 60
EOF
  done >"$work/curl-$c.cfg"
done

# /healthz every 0.1 s until the flood ends, and the RSS guard.
touch "$work/flooding"
(
  while [ -e "$work/flooding" ]; do
    curl -s -o /dev/null -w '%{http_code} %{time_total}\n' --max-time 5 "http://$addr/healthz" >>"$work/healthz.txt" || true
    rss=$(awk '/VmRSS/ {print $2}' "/proc/$server/status" 2>/dev/null || echo 0)
    if [ "${rss:-0}" -gt $((max_rss_mib * 1024)) ]; then
      echo "RSS passed ${max_rss_mib} MiB: server killed" >"$work/killed"
      kill "$server"
      break
    fi
    sleep 0.1
  done
) &
poller=$!

begin=$(date +%s.%N)
curls=()
for ((c = 0; c < n_curls; c++)); do
  timeout 180 curl -s --parallel --parallel-immediate --parallel-max "$per_curl" -K "$work/curl-$c.cfg" >"$work/status-$c.txt" 2>/dev/null &
  curls+=($!)
done
for p in "${curls[@]}"; do wait "$p" || true; done
end=$(date +%s.%N)
rm -f "$work/flooding"
wait "$poller" || true
poller=

if [ -e "$work/killed" ]; then
  cat "$work/killed"
  hwm="over ${max_rss_mib} MiB (killed)"
else
  hwm="$(awk '/VmHWM/ {printf "%.0f", $2 / 1024}' "/proc/$server/status") MiB"
fi
echo "server: $bin $*"
echo "logins: $count at once, over $(awk -v a="$begin" -v b="$end" 'BEGIN {printf "%.1f", b - a}') s"
echo "peak RSS (VmHWM): $hwm (RSS before the flood: $((rss_start / 1024)) MiB)"
echo "login statuses (count status; 000 = no answer):"
cat "$work"/status-*.txt | sort | uniq -c | sed 's/^/  /'
awk '{n++; if ($1 == "200") ok++; if ($2 > max) max = $2}
  END {printf "/healthz: %d asked during the flood, %d answered 200, slowest %.3f s\n", n, ok, max}' "$work/healthz.txt"
