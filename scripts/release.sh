#!/usr/bin/env bash
# Cross-compiles the unhidra binary, with the web client embedded, for
# linux, darwin and windows on amd64 and arm64 into dist/, with a
# SHA256SUMS file. Usage: scripts/release.sh [VERSION]
set -euo pipefail
cd "$(dirname "$0")/.."
VERSION="${1:-$(git describe --tags --always --dirty 2>/dev/null || echo dev)}"
OUT=dist
./scripts/web.sh
rm -rf "$OUT"
mkdir -p "$OUT"
for os in linux darwin windows; do
  for arch in amd64 arm64; do
    ext=""
    [ "$os" = windows ] && ext=".exe"
    name="unhidra-$VERSION-$os-$arch$ext"
    echo "release: $name"
    CGO_ENABLED=0 GOOS=$os GOARCH=$arch go build -tags webui -trimpath \
      -ldflags "-s -w -X github.com/unhidra/unhidra.Version=$VERSION" -o "$OUT/$name" ./cmd/unhidra
  done
done
(cd "$OUT" && sha256sum unhidra-* > SHA256SUMS)
echo "release: $OUT/SHA256SUMS"
cat "$OUT/SHA256SUMS"
