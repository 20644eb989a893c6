#!/usr/bin/env bash
# The whole test suite: what `make test` and CI run. Each package has a time
# budget (-timeout); the suite as a whole stays well under 15 minutes on a
# 2-core machine.
#
# Every step runs even when an earlier one failed, and the summary at the end
# (packages passed and failed, the failed packages and their failed tests)
# is printed on failure too. The exit status is go test's when it failed,
# else 1 when vet or gofmt failed, else 0.
set -euo pipefail
cd "$(dirname "$0")/.."

./scripts/services.sh

log=$(mktemp "${TMPDIR:-/tmp}/unhidra-test.XXXXXX")
trap 'rm -f "$log"' EXIT

echo "== go vet"
vet=0
go vet ./... || vet=$?

echo "== gofmt"
unformatted=$(gofmt -l $(git ls-files '*.go' 2>/dev/null || find . -name '*.go'))
if [ -n "$unformatted" ]; then
  echo "gofmt would change:" $unformatted >&2
fi

echo "== go test (race detector on; fuzz targets run their seed corpora)"
status=0
go test -race -count=1 -timeout 8m ./... 2>&1 | tee "$log" || status=${PIPESTATUS[0]}

passed=$(grep -c '^ok ' "$log" || true)
failed=$(grep -c $'^FAIL\t' "$log" || true)
echo
echo "== summary"
[ "$vet" -eq 0 ] || echo "go vet: failed"
[ -z "$unformatted" ] || echo "gofmt: would change" $unformatted
echo "packages: $passed passed, $failed failed"
if [ "$failed" -gt 0 ] || [ "$status" -ne 0 ]; then
  # go test prints each package's output together, ending with its
  # "ok"/"FAIL" line: the failed tests seen since the last such line belong
  # to the package that follows. A package that timed out or panicked names
  # its running tests under "running tests:".
  awk '
    /^[[:space:]]*--- FAIL: / { t = $0; sub(/^[[:space:]]*--- FAIL: /, "", t); sub(/ \(.*$/, "", t); tests = tests "    " t "\n"; next }
    /^[[:space:]]*running tests:/ { running = 1; next }
    running && /^[[:space:]]+Test/ { t = $0; sub(/^[[:space:]]+/, "", t); sub(/ \(.*$/, "", t); tests = tests "    " t " (still running)\n"; next }
    { running = 0 }
    /^FAIL\t/ { print "FAIL " $2 (NF > 2 && $3 ~ /^\[/ ? " " $3 " " $4 : ""); printf "%s", tests; tests = ""; next }
    /^ok / { tests = "" }
  ' "$log"
fi

if [ "$status" -ne 0 ]; then
  exit "$status"
fi
if [ "$vet" -ne 0 ] || [ -n "$unformatted" ]; then
  exit 1
fi
