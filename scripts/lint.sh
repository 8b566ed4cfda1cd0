#!/usr/bin/env bash
# Static checks: gofmt, go vet, staticcheck and errcheck, the last two at
# pinned versions that the Go module proxy serves (the first run builds them,
# later runs take them from the build cache). Prints every finding of every
# check and exits non-zero if there was any.
#
#   scripts/lint.sh              the whole module
#   scripts/lint.sh ./internal/… only those packages (gofmt still checks every file)
set -uo pipefail

# staticcheck 2026.2.2 is the newest release; it supports Go 1.26.
STATICCHECK_VERSION=v0.8.2
ERRCHECK_VERSION=v1.30.0

cd "$(dirname "$0")/.."
pkgs=("$@")
[ ${#pkgs[@]} -gt 0 ] || pkgs=(./...)
failed=()

echo "== gofmt"
mapfile -t files < <(git ls-files --cached --others --exclude-standard '*.go')
existing=()
for f in "${files[@]}"; do [ -f "$f" ] && existing+=("$f"); done
unformatted=$(gofmt -l "${existing[@]}" 2>&1)
if [ -n "$unformatted" ]; then
  echo "gofmt would change:"; echo "$unformatted"; failed+=(gofmt)
fi

echo "== go vet"
go vet "${pkgs[@]}" || failed+=(vet)

echo "== staticcheck $STATICCHECK_VERSION"
go run "honnef.co/go/tools/cmd/staticcheck@$STATICCHECK_VERSION" "${pkgs[@]}" || failed+=(staticcheck)

# Test files are left out: a test that drops an error fails in other ways.
# errcheck's built-in excludes already cover the writes that cannot fail
# ((*bytes.Buffer).Write, (*strings.Builder).Write, …).
echo "== errcheck $ERRCHECK_VERSION (non-test code)"
go run "github.com/kisielk/errcheck@$ERRCHECK_VERSION" -ignoretests "${pkgs[@]}" || failed+=(errcheck)

if [ ${#failed[@]} -gt 0 ]; then
  echo "lint FAILED: ${failed[*]}"
  exit 1
fi
echo "lint ok"
