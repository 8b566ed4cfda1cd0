#!/usr/bin/env bash
# Redis outage under load: two nodes on one PostgreSQL database reach Redis
# through a proxy; parley-load puts each conversation's two members on
# different nodes and sends 1,000 messages a second for 40 s; at t≈15 s the
# proxy is cut (every Redis connection of both nodes closes, new ones are
# refused) for 10 s, then mended. Prints acked, stored, delivered (live and
# by catch-up), lost and duplicated; exits non-zero if anything acked was
# lost.
#
#   scripts/fault-redis.sh      (RATE, DURATION, OUTAGE, USERS, CONNS to change the run)
source "$(dirname "$0")/fault-lib.sh"
rate=${RATE:-1000} duration=${DURATION:-40s} outage=${OUTAGE:-10}
users=${USERS:-200} conns=${CONNS:-400}

db=$(fresh_db)
proxy_start redis 16379 "$(hostport "$redis_url")"
via=$(with_hostport "$redis_url" 127.0.0.1:16379)
node_start 1 18781 -db "$db" -redis "$via" -redis-prefix "$redis_prefix"
node_start 2 18782 -db "$db" -redis "$via" -redis-prefix "$redis_prefix"

load_start -url http://127.0.0.1:18781 -url http://127.0.0.1:18782 \
  -users "$users" -conns "$conns" -rate "$rate" -duration "$duration" -prefix "fr$RANDOM"
wait_sending
sleep 15; proxy_cut redis
sleep "$outage"; proxy_mend redis
load_finish "Redis cut ${outage}s"
