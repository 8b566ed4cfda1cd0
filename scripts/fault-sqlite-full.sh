#!/usr/bin/env bash
# SQLite's disk full under load: one node with its database on a small
# tmpfs; parley-load sends 500 messages a second for 40 s; at t≈15 s a
# ballast file fills the disk for 10 s, then is deleted. Sends meanwhile
# are answered `unavailable` and resent with the same client_id; /readyz
# is sampled during and after. Prints acked, stored, delivered, lost,
# duplicated. Needs root (mount -t tmpfs).
#
#   scripts/fault-sqlite-full.sh (RATE, DURATION, OUTAGE, USERS, CONNS, SIZE)
source "$(dirname "$0")/fault-lib.sh"
rate=${RATE:-500} duration=${DURATION:-40s} outage=${OUTAGE:-10}
users=${USERS:-100} conns=${CONNS:-200} size=${SIZE:-256m}

disk="$work/disk"
mkdir "$disk"
if ! mount -t tmpfs -o "size=$size" tmpfs "$disk" 2>/dev/null; then
  echo "cannot mount a tmpfs (needs root): run as root, or put the database on a small loop-mounted file system"
  exit 1
fi
cleanups=("umount '$disk'" "${cleanups[@]}")
node_start 1 18781 -db "$disk/parley.db"

ready() { curl -s -o /dev/null -w '%{http_code}' http://127.0.0.1:18781/readyz; }
load_start -url http://127.0.0.1:18781 -users "$users" -conns "$conns" -rate "$rate" -duration "$duration" -prefix "fd$RANDOM"
wait_sending
sleep 15
echo "== $(date -u +%T) fill the disk"
dd if=/dev/zero of="$disk/ballast" bs=1M status=none 2>/dev/null || true
df -h "$disk" | tail -1
sleep 2; echo "== /readyz with the disk full: $(ready)"
sleep $((outage - 2))
rm -f "$disk/ballast"
echo "== $(date -u +%T) space freed"
sleep 2; echo "== /readyz after: $(ready)"
load_finish "SQLite disk full ${outage}s"
