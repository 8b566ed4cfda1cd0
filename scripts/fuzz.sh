#!/usr/bin/env bash
# Runs every Fuzz* target of the module, one after the other, for FUZZTIME
# each (30s unless set), and exits non-zero if any failed.
#
# The time is spent in rounds of a fixed number of executions (-fuzztime Nx),
# never with a duration -fuzztime: Go's coordinator (still in Go 1.26) can
# report "context deadline exceeded" as a failure when a duration runs out
# while a worker is busy, with no failing input (golang/go#75804). A count
# has no deadline to race. Every round starts from the corpus the previous
# ones grew (it lives in GOCACHE), so the rounds add up to one run.
#
#   scripts/fuzz.sh                      every target, 30s each
#   FUZZTIME=5m scripts/fuzz.sh          longer
#   scripts/fuzz.sh FuzzName [FuzzName…] only those targets
#
# FUZZPARALLEL sets the number of fuzzing workers (default: one per core).
# A failing input is written by Go to <package>/testdata/fuzz/<FuzzName>/;
# commit it so that `go test` replays it as a regression test from then on.
# The corpus Go generates on the way stays in $(go env GOCACHE)/fuzz.
set -uo pipefail
cd "$(dirname "$0")/.."
root=$(pwd)

fuzztime=${FUZZTIME:-30s}
# budget: FUZZTIME in whole seconds (accepts 45, 45s, 5m, 1h).
case "$fuzztime" in
*h) budget=$((${fuzztime%h} * 3600)) ;;
*m) budget=$((${fuzztime%m} * 60)) ;;
*s) budget=${fuzztime%s} ;;
*) budget=$fuzztime ;;
esac
if ! [[ "$budget" =~ ^[0-9]+$ ]] || [ "$budget" -lt 1 ]; then
  echo "FUZZTIME must be a whole number of seconds, minutes or hours (30s, 5m), not $fuzztime" >&2
  exit 2
fi
parallel=${FUZZPARALLEL:-$(nproc 2>/dev/null || echo 2)}

# Go keeps the generated corpus under GOCACHE; should that be inside the
# tree, send it elsewhere so that only real crashers ever land in the repo.
cacheflag=()
case "$(go env GOCACHE)/" in
"$root"/*) cacheflag=(-args "-test.fuzzcachedir=${TMPDIR:-/tmp}/parley-fuzzcache") ;;
esac

# Find the targets: packages whose test files declare a fuzz function, then
# `go test -list` on just those (it builds each test binary, which fuzzing
# needs anyway, and only lists what really compiles in).
targets=() # "pkgdir Name"
while read -r dir files; do
  [ -n "$files" ] || continue
  if ! (cd "$dir" && grep -qE '^func Fuzz' $files); then continue; fi
  rel=./${dir#"$root"/}
  if ! list=$(go test -list '^Fuzz' "$rel" 2>&1); then
    echo "FAIL listing fuzz targets in $rel:"; echo "$list"; exit 1
  fi
  for name in $(grep -E '^Fuzz[A-Za-z0-9_]*$' <<<"$list"); do
    targets+=("$rel $name")
  done
done < <(go list -f '{{.Dir}} {{join .TestGoFiles " "}} {{join .XTestGoFiles " "}}' ./...)

if [ $# -gt 0 ]; then
  wanted=()
  for arg in "$@"; do
    found=
    for t in "${targets[@]}"; do
      if [ "${t#* }" = "$arg" ]; then wanted+=("$t"); found=1; fi
    done
    if [ -z "$found" ]; then echo "no fuzz target named $arg" >&2; exit 2; fi
  done
  targets=("${wanted[@]}")
fi
if [ ${#targets[@]} -eq 0 ]; then echo "no fuzz targets found" >&2; exit 2; fi

log=$(mktemp)
trap 'rm -f "$log"' EXIT
failed=()
for t in "${targets[@]}"; do
  pkg=${t% *} name=${t#* }
  echo "== $name ($pkg, $fuzztime, $parallel workers)"
  start=$SECONDS
  # The first round is short and not counted against the budget: it builds
  # the instrumented test binary and replays the corpus.
  round=1000 execs=0 rc=0 clock=
  : >"$log"
  while :; do
    t0=$SECONDS
    # -timeout 0: go test's default 10m limit must not end a long round.
    go test -run '^$' -fuzz "^${name}\$" -fuzztime "${round}x" -parallel "$parallel" \
      -timeout 0 "$pkg" "${cacheflag[@]}" >>"$log" 2>&1
    rc=$?
    [ $rc -eq 0 ] || break
    execs=$((execs + round))
    [ -n "$clock" ] || clock=$SECONDS
    left=$((budget - (SECONDS - clock)))
    [ $left -gt 0 ] || break
    # Size the next round to the time left at this round's pace (at least
    # 1,000 executions, at most ten times this round, so one slow patch of
    # the machine does not overshoot the budget by much).
    spent=$((SECONDS - t0))
    [ $spent -gt 0 ] || spent=1
    next=$((round * left / spent))
    [ $next -le $((round * 10)) ] || next=$((round * 10))
    [ $next -ge 1000 ] || next=1000
    round=$next
  done
  took=$((SECONDS - start))
  if [ $rc -eq 0 ]; then
    echo "ok   $name: $execs execs in ${took}s"
    continue
  fi
  failed+=("$name")
  cat "$log"
  echo "FAIL $name after ${took}s"
  # "Failing input written to testdata/fuzz/FuzzName/<hash>"
  crasher=$(sed -nE 's/.*Failing input written to (testdata\/fuzz\/[^ ]+).*/\1/p' "$log" | tail -1)
  if [ -n "$crasher" ]; then
    echo "     crasher: ${pkg#./}/$crasher"
    echo "     keep it as a regression seed: fix the code (or the fuzz model), then commit it,"
    echo "     renamed seed-<what it shows> if you like; re-run with"
    echo "     go test -run '^${name}\$/$(basename "$crasher")\$' $pkg"
  else
    echo "     no new input written: a seed in testdata/fuzz/$name or an f.Add input fails, or the package does not build"
  fi
done

if [ ${#failed[@]} -gt 0 ]; then
  echo "FAILED: ${failed[*]}"
  exit 1
fi
echo "all ${#targets[@]} fuzz targets passed"
