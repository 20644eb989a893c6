#!/usr/bin/env bash
# The whole test suite: what `make test` and CI run. Each package has a time
# budget (-timeout); the suite as a whole stays well under 15 minutes on a
# 2-core machine.
set -euo pipefail
cd "$(dirname "$0")/.."

./scripts/services.sh

echo "== go vet"
go vet ./...

unformatted=$(gofmt -l $(git ls-files '*.go' 2>/dev/null || find . -name '*.go'))
if [ -n "$unformatted" ]; then
  echo "gofmt would change:" $unformatted >&2
  exit 1
fi

echo "== go test (race detector on; fuzz targets run their seed corpora)"
go test -race -count=1 -timeout 8m ./... 2>&1 | tee /tmp/unhidra-test.$$.log
status=${PIPESTATUS[0]}
passed=$(grep -c '^ok ' /tmp/unhidra-test.$$.log || true)
failed=$(grep -c '^FAIL' /tmp/unhidra-test.$$.log || true)
rm -f /tmp/unhidra-test.$$.log
echo "packages: $passed passed, $failed failed"
exit "$status"
