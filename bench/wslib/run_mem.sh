#!/usr/bin/env bash
# Usage: ./run_mem.sh  -> idle-connection memory for every lib/variant
set -e
cd "$(dirname "$0")"
mkdir -p bin logs
go build -o bin/server ./cmd/server && go build -o bin/client ./cmd/client
ulimit -n 20000
port=${PORT:-9100}
VARIANTS=${*:-gorilla:default gorilla:small gorilla:pool gorilla:smallpool coder:default coder:nocomp coder:ctx coder:detach}
for lv in $VARIANTS; do
  lib=${lv%%:*}; var=${lv##*:}; port=$((port+1))
  ./bin/server -lib $lib -variant $var -addr 127.0.0.1:$port 2>>logs/server.log &
  spid=$!
  sleep 0.5
  timeout 120 ./bin/client -mode idle -lib $lib -variant $var -addr 127.0.0.1:$port -spid $spid -steps 1000,10000
  kill $spid; wait $spid 2>/dev/null || true
  sleep 1
done
