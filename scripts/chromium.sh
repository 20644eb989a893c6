#!/usr/bin/env bash
# Makes sure Debian's Chromium is installed at /usr/bin/chromium, where the
# browser tests (web/playwright.config.ts) look for it. Installs the package
# when it is missing; running it again changes nothing.
set -euo pipefail

CHROMIUM=/usr/bin/chromium
# An emoji font, so that the screenshots the tests save show reactions and
# the emoji picker as people see them (the tests do not depend on it).
EMOJI_FONT=/usr/share/fonts/truetype/noto/NotoColorEmoji.ttf
[ -x "$CHROMIUM" ] && [ -f "$EMOJI_FONT" ] && exit 0

. "$(dirname "$0")/lib.sh"

install() {
  as_root env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium fonts-noto-color-emoji >/dev/null
}

echo "chromium: installing Debian's chromium (and an emoji font)"
as_root apt-get update -qq || { sleep 2; as_root apt-get update -qq; }
if ! install; then
  # A stale or half-fetched package list: fetch it once more and retry.
  as_root apt-get update -qq
  install
fi
if [ ! -x "$CHROMIUM" ]; then
  echo "chromium: the chromium package installed no $CHROMIUM" >&2
  exit 1
fi
