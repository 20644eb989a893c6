#!/usr/bin/env bash
# The whole test suite: what `make test` and CI run. Each package has a time
# budget (-timeout); the suite as a whole stays well under 15 minutes on a
# 2-core machine.
#
# After go test comes the browser client (web/): scripts/web.sh installs its
# node_modules and builds dist, then the TypeScript type check, the Vitest
# unit tests and the Playwright browser tests (Debian's Chromium, installed
# by scripts/chromium.sh when missing, against real `unhidra serve`
# processes) run.
#
# Every step runs even when an earlier one failed, and the summary at the end
# (Go packages passed and failed, the failed packages and their failed tests;
# web checks passed and failed, the failed ones named) is printed on failure
# too. "web:" counts the type check as one, and each Vitest and Playwright
# test as one. The exit status is go test's when it failed, else 1 when vet,
# gofmt, staticcheck or a web check failed, else 0.
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

echo "== staticcheck"
lint=0
./scripts/staticcheck.sh || lint=$?

echo "== tools the tests use (built once per machine, before the packages' time budgets start)"
./scripts/tools.sh helm >/dev/null || echo "tools: helm could not be installed; the deploy checks will say why" >&2

echo "== go test (race detector on; fuzz targets run their seed corpora; coverage)"
cover=$(mktemp "${TMPDIR:-/tmp}/unhidra-cover.XXXXXX")
status=0
# Every package but the multi-node one, two at a time, 8 minutes each at
# most; then the multi-node suite (internal/cluster: real node processes)
# on its own, so its processes never compete with another package's, with a
# budget of 6 minutes. The browser suite runs last, also alone.
cluster_pkg=github.com/unhidra/unhidra/internal/cluster
go test -race -count=1 -timeout 8m -coverprofile="$cover" $(go list ./... | grep -vx "$cluster_pkg") 2>&1 | tee "$log" || status=${PIPESTATUS[0]}
echo "== go test: the multi-node suite, alone"
cover2=$(mktemp "${TMPDIR:-/tmp}/unhidra-cover.XXXXXX")
cstatus=0
go test -race -count=1 -timeout 6m -coverprofile="$cover2" "$cluster_pkg" 2>&1 | tee -a "$log" || cstatus=${PIPESTATUS[0]}
[ "$status" -ne 0 ] || status=$cstatus
tail -n +2 "$cover2" >>"$cover" 2>/dev/null || true
coverage=$(go tool cover -func="$cover" 2>/dev/null | awk '/^total:/ {print $NF}')
rm -f "$cover" "$cover2"

passed=$(grep -c '^ok ' "$log" || true)
failed=$(grep -c $'^FAIL\t' "$log" || true)

# web_counts KIND FILE STATUS: prints "PASSED FAILED" and the names of the
# failed tests (one a line) from a Vitest or Playwright JSON report. A run
# that failed without a failed test in its report (it did not start, a file
# did not load, the global setup failed) counts as one failure.
web_counts() {
  node - "$1" "$2" "$3" <<'JS'
const [kind, file, status] = process.argv.slice(2)
let passed = 0, failed = 0
const names = []
try {
  const r = JSON.parse(require('fs').readFileSync(file, 'utf8'))
  if (kind === 'vitest') {
    passed = r.numPassedTests
    failed = r.numFailedTests
    for (const f of r.testResults ?? []) {
      for (const t of f.assertionResults ?? []) {
        if (t.status === 'failed') names.push(`${require('path').relative(process.cwd(), f.name)}: ${t.fullName}`)
      }
    }
  } else {
    passed = r.stats.expected + r.stats.flaky
    failed = r.stats.unexpected
    const walk = (suite, file) => {
      for (const spec of suite.specs ?? []) {
        for (const t of spec.tests ?? []) {
          if (t.status === 'unexpected') names.push(`web/e2e/${spec.file ?? file}: ${spec.title}`)
        }
      }
      for (const s of suite.suites ?? []) walk(s, s.file ?? file)
    }
    for (const s of r.suites ?? []) walk(s, s.file)
  }
} catch {}
if (status !== '0' && failed === 0) failed = 1
console.log(`${passed} ${failed}`)
for (const n of names) console.log(n)
JS
}

web_passed=0
web_failed=0
web_failures=()
web_detail=()
web_check() { # name status: a check that counts as one
  if [ "$2" -eq 0 ]; then
    web_passed=$((web_passed + 1))
    web_detail+=("$1 ok")
  else
    web_failed=$((web_failed + 1))
    web_detail+=("$1 failed")
    web_failures+=("$1")
  fi
}
web_tests() { # name kind report status: a test run whose tests count one each
  local out p f
  out=$(web_counts "$2" "$3" "$4")
  read -r p f <<<"$(head -n1 <<<"$out")"
  web_passed=$((web_passed + p))
  web_failed=$((web_failed + f))
  web_detail+=("$1 $p passed, $f failed")
  while IFS= read -r line; do
    [ -n "$line" ] && web_failures+=("$line")
  done < <(tail -n +2 <<<"$out")
  if [ "$4" -ne 0 ] && [ "$(tail -n +2 <<<"$out" | grep -c .)" -eq 0 ]; then
    web_failures+=("$1 (see its output above)")
  fi
}

echo "== web: node_modules and dist (scripts/web.sh)"
st=0
./scripts/web.sh || st=$?
if [ "$st" -ne 0 ]; then
  web_check "setup (scripts/web.sh)" "$st"
else
  mkdir -p web/.e2e
  echo "== web: type check"
  st=0
  (cd web && npm run --silent typecheck) || st=$?
  web_check typecheck "$st"

  echo "== web: unit tests (vitest)"
  rm -f web/.e2e/vitest.json
  st=0
  (cd web && npx vitest run --passWithNoTests --reporter=default --reporter=json --outputFile.json=.e2e/vitest.json) || st=$?
  web_tests vitest vitest web/.e2e/vitest.json "$st"

  echo "== web: browser tests (playwright, Chromium)"
  st=0
  ./scripts/chromium.sh || st=$?
  if [ "$st" -ne 0 ]; then
    web_check "chromium (scripts/chromium.sh)" "$st"
  else
    rm -f web/.e2e/results.json
    (cd web && npx playwright test) || st=$?
    web_tests playwright playwright web/.e2e/results.json "$st"
  fi
fi

echo
echo "== summary"
[ "$vet" -eq 0 ] || echo "go vet: failed"
[ -z "$unformatted" ] || echo "gofmt: would change" $unformatted
[ "$lint" -eq 0 ] || echo "staticcheck: findings (above)"
echo "packages: $passed passed, $failed failed"
echo "coverage: ${coverage:-unknown} of statements (go test -cover, each package's own)"
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

detail=""
for d in "${web_detail[@]}"; do
  detail+="${detail:+; }$d"
done
echo "web checks: $detail"
for f in "${web_failures[@]}"; do
  echo "FAIL $f"
done
echo "web: $web_passed passed, $web_failed failed"

if [ "$status" -ne 0 ]; then
  exit "$status"
fi
if [ "$vet" -ne 0 ] || [ -n "$unformatted" ] || [ "$lint" -ne 0 ] || [ "$web_failed" -ne 0 ]; then
  exit 1
fi
