#!/usr/bin/env bash
# Usage: ./run_tput.sh -> fan-out and client->server throughput, 100 conns x 5000 frames, 1 warm-up + 3 runs
set -e
cd "$(dirname "$0")"
mkdir -p bin logs
go build -o bin/server ./cmd/server && go build -o bin/client ./cmd/client
ulimit -n 20000
port=${PORT:-9200}
for lib in gorilla coder; do
  for mode in fanout c2s; do
    port=$((port+1))
    ./bin/server -lib $lib -addr 127.0.0.1:$port 2>>logs/server.log &
    spid=$!
    sleep 0.5
    timeout 120 ./bin/client -mode $mode -lib $lib -addr 127.0.0.1:$port -spid $spid -conns 100 -n 5000 -runs 3
    kill $spid; wait $spid 2>/dev/null || true
    sleep 1
  done
done
