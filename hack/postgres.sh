#!/usr/bin/env bash
# Makes sure the PostgreSQL server binaries (initdb, postgres) are on this
# machine for the tests that run Plan.SQL against a real database, and
# prints their directory. Installs the Debian package `postgresql` with
# apt-get when they are missing (root only); fails loudly otherwise. The
# tests start their own server as an unprivileged user in a temporary data
# directory; the package's own cluster service is not used.
set -euo pipefail

find_bin() {
  local d
  for d in $(ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V -r); do
    if [ -x "$d/initdb" ] && [ -x "$d/postgres" ]; then
      echo "$d"
      return 0
    fi
  done
  return 1
}

if dir=$(find_bin); then
  echo "$dir"
  exit 0
fi

if [ "$(id -u)" != 0 ]; then
  echo "postgres: PostgreSQL server binaries not found under /usr/lib/postgresql/*/bin and not running as root;" >&2
  echo "postgres: install the Debian package as root: apt-get install -y postgresql" >&2
  exit 1
fi
if ! command -v apt-get >/dev/null 2>&1; then
  echo "postgres: PostgreSQL server binaries not found and apt-get is not available; install PostgreSQL (initdb, postgres) under /usr/lib/postgresql/<version>/bin" >&2
  exit 1
fi

echo "postgres: installing the Debian package postgresql (apt-get)" >&2
export DEBIAN_FRONTEND=noninteractive
# policy-rc.d 101: do not start the packaged cluster service during install.
policy=/usr/sbin/policy-rc.d
created_policy=
if [ ! -e "$policy" ]; then
  printf '#!/bin/sh\nexit 101\n' >"$policy"
  chmod +x "$policy"
  created_policy=1
fi
cleanup() { if [ -n "$created_policy" ]; then rm -f "$policy"; fi; }
trap cleanup EXIT
apt-get update -qq >&2
apt-get install -y -qq --no-install-recommends postgresql >&2

if dir=$(find_bin); then
  echo "$dir"
  exit 0
fi
echo "postgres: apt-get installed postgresql but no initdb/postgres was found under /usr/lib/postgresql/*/bin" >&2
exit 1
