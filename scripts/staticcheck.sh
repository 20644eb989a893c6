#!/usr/bin/env bash
# Runs staticcheck over the module. The tool is installed once, with `go
# install`, under ~/.cache/unhidra-tools/ keyed by its version, so a warm
# machine does not rebuild it (a cold install takes about half a minute).
set -euo pipefail
cd "$(dirname "$0")/.."
VERSION=v0.8.2
dir="${UNHIDRA_TOOLS:-$HOME/.cache/unhidra-tools}/staticcheck-$VERSION"
if [ ! -x "$dir/staticcheck" ]; then
  echo "staticcheck: installing $VERSION into $dir"
  mkdir -p "$dir"
  GOBIN="$dir" go install "honnef.co/go/tools/cmd/staticcheck@$VERSION"
fi
"$dir/staticcheck" ./...
