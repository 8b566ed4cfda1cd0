#!/usr/bin/env bash
# PostgreSQL stall under load: as fault-pg-cut.sh, but the proxy stops
# forwarding (SIGSTOP) for 10 s instead of closing: the database's
# connections stay open and nothing answers. With a deadline on every
# database call (-db-timeout, 5 s by default) sends are answered
# `unavailable` instead of hanging. Prints acked, stored, delivered, lost,
# duplicated.
#
#   scripts/fault-pg-stall.sh    (RATE, DURATION, OUTAGE, USERS, CONNS, DB_TIMEOUT)
source "$(dirname "$0")/fault-lib.sh"
rate=${RATE:-1000} duration=${DURATION:-40s} outage=${OUTAGE:-10}
users=${USERS:-200} conns=${CONNS:-400} db_timeout=${DB_TIMEOUT:-5s}

db=$(fresh_db)
proxy_start pg 15433 "$(hostport "$db")"
via=$(with_hostport "$db" 127.0.0.1:15433)
node_start 1 18781 -db "$via" -db-timeout "$db_timeout" -redis "$redis_url" -redis-prefix "$redis_prefix"
node_start 2 18782 -db "$via" -db-timeout "$db_timeout" -redis "$redis_url" -redis-prefix "$redis_prefix"

load_start -url http://127.0.0.1:18781 -url http://127.0.0.1:18782 \
  -users "$users" -conns "$conns" -rate "$rate" -duration "$duration" -prefix "fs$RANDOM"
wait_sending
sleep 15; proxy_stall pg
sleep "$outage"; proxy_unstall pg
load_finish "PostgreSQL stalled ${outage}s"
