#!/usr/bin/env bash
# Usage:
#   ./run_mem.sh                 idle-connection memory of the first comparison (gorilla and coder), 1k -> 10k
#   ./run_mem.sh poller          the poller comparison (gorilla as Parley, nbio, gws), 1k -> 19k, each
#                                variant RUNS times (default 3) silent and after one frame (-hello), then medians
#   ./run_mem.sh lib:variant...  chosen variants (STEPS, HELLO=true, RUNS apply)
# The client spreads connections over child processes of at most 5,000 each: a process may hold
# at most 20,000 open files, and the server holds one per connection.
set -e
cd "$(dirname "$0")"
mkdir -p bin logs
go build -o bin/server ./cmd/server && go build -o bin/client ./cmd/client
ulimit -n 20000
port=${PORT:-9100}
POLLER="gorilla:parley gorilla:parley512 nbio:engine nbio:std gws:default gws:small gws:server"
OLD="gorilla:default gorilla:small gorilla:pool gorilla:smallpool coder:default coder:nocomp coder:ctx coder:detach"
if [ "$*" = poller ]; then
  VARIANTS=$POLLER; STEPS=${STEPS:-1000,19000}; RUNS=${RUNS:-3}; HELLOS=${HELLO:-"false true"}
else
  VARIANTS=${*:-$OLD}; STEPS=${STEPS:-1000,10000}; RUNS=${RUNS:-1}; HELLOS=${HELLO:-false}
fi
out=logs/mem-$(date -u +%Y%m%dT%H%M%SZ).txt
echo "# $(date -u) $(nproc) CPUs, load: $(cut -d' ' -f1-3 /proc/loadavg), steps $STEPS" | tee "$out"
for run in $(seq "$RUNS"); do
  for hello in $HELLOS; do
    for lv in $VARIANTS; do
      lib=${lv%%:*}; var=${lv##*:}; port=$((port+1))
      ./bin/server -lib "$lib" -variant "$var" -addr 127.0.0.1:$port >>logs/server.log 2>&1 &
      spid=$!
      sleep 0.5
      timeout 300 ./bin/client -mode idle -lib "$lib" -variant "$var" -hello=$hello \
        -addr 127.0.0.1:$port -spid $spid -steps "$STEPS" | tee -a "$out"
      kill $spid; wait $spid 2>/dev/null || true
      sleep 1
    done
  done
done
# Medians per lib/variant/hello over the runs.
echo "# medians (load now: $(cut -d' ' -f1-3 /proc/loadavg))" | tee -a "$out"
grep '^RESULT' "$out" | awk '
  { key=$2" "$3" "$4; n[key]++; order[key]=order[key] ? order[key] : ++k; names[k]=key
    for (i=6;i<=NF;i++) { split($i,kv,"="); v[key,kv[1],n[key]]=kv[2]; f[i]=kv[1] } nf=NF }
  function med(key,name,   m,i,j,t,a) { m=n[key]; for(i=1;i<=m;i++) a[i]=v[key,name,i]
    for(i=1;i<=m;i++) for(j=i+1;j<=m;j++) if (a[j]+0<a[i]+0) { t=a[i]; a[i]=a[j]; a[j]=t }
    return m%2 ? a[(m+1)/2] : (a[m/2]+a[m/2+1])/2 }
  END { for (x=1;x<=k;x++) { key=names[x]; line="MEDIAN " key " runs=" n[key]
          for (i=6;i<=nf;i++) line=line " " f[i] "=" med(key,f[i]); print line } }' | tee -a "$out"
