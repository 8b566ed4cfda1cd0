#!/usr/bin/env bash
# Runs every Fuzz* target of the module, one after the other, for FUZZTIME
# each (30s unless set), and exits non-zero if any failed.
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
  # -timeout 0: go test's default 10m limit would end a longer -fuzztime;
  # the fuzzer itself stops at -fuzztime.
  go test -run '^$' -fuzz "^${name}\$" -fuzztime "$fuzztime" -parallel "$parallel" \
    -timeout 0 "$pkg" "${cacheflag[@]}" >"$log" 2>&1
  rc=$?
  took=$((SECONDS - start))
  execs=$(grep -oE 'execs: [0-9]+' "$log" | tail -1 | cut -d' ' -f2)
  if [ $rc -eq 0 ]; then
    echo "ok   $name: ${execs:-?} execs in ${took}s"
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
