#!/usr/bin/env bash
# Same as run_tput.sh but the CLIENT library is held fixed (default gorilla) so only the server library varies.
set -e
cd "$(dirname "$0")"
mkdir -p bin logs
go build -o bin/server ./cmd/server && go build -o bin/client ./cmd/client
ulimit -n 20000
CLIENT=${CLIENT:-gorilla}
port=${PORT:-9400}
for lib in gorilla coder; do
  for mode in fanout c2s; do
    port=$((port+1))
    ./bin/server -lib $lib -addr 127.0.0.1:$port 2>>logs/server.log &
    spid=$!
    sleep 0.5
    echo "# server=$lib client=$CLIENT"
    timeout 120 ./bin/client -mode $mode -lib $CLIENT -addr 127.0.0.1:$port -spid $spid -conns 100 -n 5000 -runs 3 | grep RESULT
    kill $spid; wait $spid 2>/dev/null || true
    sleep 1
  done
done
