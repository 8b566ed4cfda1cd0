#!/usr/bin/env bash
# A node killed under load: two nodes on PostgreSQL and Redis, each
# conversation's members on different nodes, 1,000 messages a second for
# 40 s; at t≈15 s node 2 gets SIGKILL, and it is started again 5 s later on
# the same port. Its clients reconnect to it, resend what was not acked
# (same client_id) and catch up; the members on node 1 stay connected
# throughout. Prints acked, stored, delivered, lost, duplicated.
#
#   scripts/fault-node-kill.sh   (RATE, DURATION, DOWN, USERS, CONNS)
source "$(dirname "$0")/fault-lib.sh"
rate=${RATE:-1000} duration=${DURATION:-40s} down=${DOWN:-5}
users=${USERS:-200} conns=${CONNS:-400}

db=$(fresh_db)
args=(-db "$db" -redis "$redis_url" -redis-prefix "$redis_prefix")
node_start 1 18781 "${args[@]}"
node_start 2 18782 "${args[@]}"

load_start -url http://127.0.0.1:18781 -url http://127.0.0.1:18782 \
  -users "$users" -conns "$conns" -rate "$rate" -duration "$duration" -prefix "fk$RANDOM"
wait_sending
sleep 15; node_kill 2
sleep "$down"; echo "== $(date -u +%T) start node 2 again"; node_start 2 18782 "${args[@]}"
load_finish "node SIGKILL, ${down}s down"
