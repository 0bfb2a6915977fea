#!/usr/bin/env bash
# Makes sure a headless Chromium is on this machine for the console's
# browser tests (chromedp), and prints its path. Installs the Debian package
# `chromium` with apt-get when it is missing (root only); fails loudly
# otherwise: a missing browser fails the run, it never skips the tests.
set -euo pipefail

find_browser() {
  local b
  for b in "${GATEHOUSE_CHROMIUM:-}" /usr/bin/chromium /usr/bin/chromium-browser; do
    if [ -n "$b" ] && [ -x "$b" ]; then
      echo "$b"
      return 0
    fi
  done
  return 1
}

if path=$(find_browser); then
  echo "$path"
  exit 0
fi
if [ "$(id -u)" != 0 ]; then
  echo "chromium: no Chromium at /usr/bin/chromium and not running as root;" >&2
  echo "chromium: install the Debian package as root: apt-get install -y chromium" >&2
  exit 1
fi
if ! command -v apt-get >/dev/null 2>&1; then
  echo "chromium: no Chromium found and apt-get is not available; install Chromium and set GATEHOUSE_CHROMIUM to its path" >&2
  exit 1
fi
echo "chromium: installing the Debian package chromium (apt-get)" >&2
export DEBIAN_FRONTEND=noninteractive
apt-get update -qq >&2
apt-get install -y -qq --no-install-recommends chromium fonts-dejavu-core >&2
if path=$(find_browser); then
  echo "$path"
  exit 0
fi
echo "chromium: apt-get installed chromium but no executable was found at /usr/bin/chromium" >&2
exit 1
