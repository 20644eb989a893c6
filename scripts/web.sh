#!/usr/bin/env bash
# Makes the browser client ready to embed: installs web/node_modules from
# web/package-lock.json when it is missing or older than the lock file, then
# builds web/dist when any of its sources is newer than dist/index.html.
# Running it again with nothing changed does nothing. `make run`, `make build`
# and scripts/test.sh call it before building the binary with -tags webui.
set -euo pipefail
cd "$(dirname "$0")/../web"

if ! command -v npm >/dev/null 2>&1; then
  echo "web: npm not found; install Node.js 20.19 or newer (Debian: apt-get install nodejs npm)" >&2
  exit 1
fi

# npm ci writes node_modules/.package-lock.json last: it is older than the
# lock file, or missing, exactly when node_modules does not match the lock.
if [ ! -f node_modules/.package-lock.json ] || [ package-lock.json -nt node_modules/.package-lock.json ]; then
  echo "web: installing node_modules (npm ci)"
  npm ci --no-audit --no-fund --loglevel=error
fi

# stale: dist/index.html is missing or older than any source of the build.
stale() {
  [ -f dist/index.html ] || return 0
  local src
  for src in src public index.html vite.config.ts tsconfig.json package.json package-lock.json; do
    [ -e "$src" ] || continue
    if [ -n "$(find "$src" -newer dist/index.html -print -quit)" ]; then
      return 0
    fi
  done
  return 1
}

if stale; then
  echo "web: building dist (npm run build)"
  npm run --silent build
fi
