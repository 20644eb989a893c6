#!/usr/bin/env bash
# Development tools the checks need, installed on first use into a cache
# outside the checkout (~/.cache/unhidra-tools/NAME-VERSION), keyed by
# version so that a version bump installs afresh and an unchanged one costs
# nothing. Prints the tool's path on standard output; progress goes to
# standard error.
#
#   scripts/tools.sh helm    # the helm binary the deploy checks use
#
# UNHIDRA_TOOLS_DIR overrides the cache directory.
set -euo pipefail

HELM_VERSION=v3.22.0

cache=${UNHIDRA_TOOLS_DIR:-${XDG_CACHE_HOME:-$HOME/.cache}/unhidra-tools}

case "${1:-}" in
helm)
  dir="$cache/helm-$HELM_VERSION"
  bin="$dir/helm"
  if [ ! -x "$bin" ]; then
    echo "tools.sh: installing helm $HELM_VERSION into $dir (first run only: about a minute)" >&2
    mkdir -p "$dir"
    # go install builds outside any module here, so the project's go.mod
    # does not take part.
    (cd "$dir" && GOBIN="$dir" GOFLAGS=-buildvcs=false GOTOOLCHAIN=local \
      go install "helm.sh/helm/v3/cmd/helm@$HELM_VERSION") >&2
  fi
  echo "$bin"
  ;;
*)
  echo "usage: scripts/tools.sh helm" >&2
  exit 2
  ;;
esac
