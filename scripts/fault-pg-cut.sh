#!/usr/bin/env bash
# PostgreSQL cut under load: two nodes reach their database through a proxy
# (Redis directly); parley-load sends 1,000 messages a second for 40 s with
# each conversation's members on different nodes; at t≈15 s the proxy is
# cut (every database connection closes, new ones are refused) for 10 s,
# then mended. Sends meanwhile are answered `unavailable` and resent with
# the same client_id. Prints acked, stored, delivered, lost, duplicated.
#
#   scripts/fault-pg-cut.sh      (RATE, DURATION, OUTAGE, USERS, CONNS)
source "$(dirname "$0")/fault-lib.sh"
rate=${RATE:-1000} duration=${DURATION:-40s} outage=${OUTAGE:-10}
users=${USERS:-200} conns=${CONNS:-400}

db=$(fresh_db)
proxy_start pg 15433 "$(hostport "$db")"
via=$(with_hostport "$db" 127.0.0.1:15433)
node_start 1 18781 -db "$via" -redis "$redis_url" -redis-prefix "$redis_prefix"
node_start 2 18782 -db "$via" -redis "$redis_url" -redis-prefix "$redis_prefix"

load_start -url http://127.0.0.1:18781 -url http://127.0.0.1:18782 \
  -users "$users" -conns "$conns" -rate "$rate" -duration "$duration" -prefix "fc$RANDOM"
wait_sending
sleep 15; proxy_cut pg
sleep "$outage"; proxy_mend pg
load_finish "PostgreSQL cut ${outage}s"
