#!/bin/sh
# Runs the TypeScript client's type check and tests against a real
# `gatehouse serve` (built from this repository with go, or GATEHOUSE_BIN).
# Fails, never skips, when node or npm is missing.
set -eu
cd "$(dirname "$0")"
for tool in node npm; do
	if ! command -v "$tool" >/dev/null 2>&1; then
		echo "clients/typescript/test.sh: $tool not found: install Node.js 20 or later" >&2
		exit 1
	fi
done
major=$(node -p 'process.versions.node.split(".")[0]')
if [ "$major" -lt 20 ]; then
	echo "clients/typescript/test.sh: Node.js $(node --version) is too old: 20 or later is needed" >&2
	exit 1
fi
if [ -z "${GATEHOUSE_BIN:-}" ] && ! command -v go >/dev/null 2>&1; then
	echo "clients/typescript/test.sh: go not found and GATEHOUSE_BIN not set: cannot build gatehouse serve" >&2
	exit 1
fi
npm ci --no-audit --no-fund
npm test
