#!/usr/bin/env bash
# Run every Go fuzz target of the repository for FUZZTIME (default 5s) each.
#
# Targets are discovered, not listed: every `func FuzzXxx` in a *_test.go
# file (outside the directories the go tool ignores: testdata, vendor, and
# names starting with . or _), so a new target is picked up without editing
# this script. go test fuzzes one target per invocation, so each runs as
#   go test ./<pkg> -run '^$' -fuzz '^Name$' -fuzztime $FUZZTIME
# from its module's root, targets of one package in a row (the instrumented
# test binary is compiled once per package and then comes from the build
# cache). FUZZTIME takes what -fuzztime takes: a duration (10s) or a count
# of executions (1000x); the time includes replaying the seed corpus and the
# inputs cached under $(go env GOCACHE)/fuzz.
#
# Prints one line per target (result, package, name, time, executions) and
# fails if any target fails or none is found. A failing input is written by
# go test to <pkg>/testdata/fuzz/<Name>/<hash>: commit it as a regression
# seed once the bug is fixed.
set -euo pipefail
cd "$(dirname "$0")/.."
root=$PWD
fuzztime=${FUZZTIME:-5s}

# "dir<TAB>name" for every target, sorted by package directory so a
# package's targets run one after the other. A target's name is Fuzz, then
# nothing or a character that is not a lower-case letter (FuzzX, not Fuzzy).
targets=$(find . \( -name testdata -o -name vendor -o -name '.?*' -o -name '_*' \) -prune -o \
  -name '*_test.go' -type f -print0 |
  xargs -0 grep -HoE '^func Fuzz([^a-z(][A-Za-z0-9_]*)?\(' |
  sed -E 's/^(.*)\/[^/]*:func (Fuzz[A-Za-z0-9_]*)\($/\1\t\2/' | sort -t$'\t' -k1,1 -k2,2 || true)
if [ -z "$targets" ]; then
  echo "fuzz: no fuzz targets found" >&2
  exit 1
fi

# modroot DIR: the nearest directory at or above DIR holding a go.mod.
modroot() {
  local d=$1
  while [ ! -f "$d/go.mod" ]; do
    [ "$d" != . ] || { echo "fuzz: no go.mod above $1" >&2; return 1; }
    d=$(dirname "$d")
  done
  echo "$d"
}

n=0
failed=()
start=$SECONDS
echo "fuzz: $(wc -l <<<"$targets") targets, -fuzztime $fuzztime each"
while IFS=$'\t' read -r dir name; do
  n=$((n + 1))
  mod=$(modroot "$dir")
  rel=${dir#"$mod"}
  rel=${rel#/}
  pkg=./$rel
  t0=$(date +%s.%N)
  rc=0
  out=$(cd "$root/$mod" && go test "$pkg" -run '^$' -fuzz "^${name}\$" -fuzztime "$fuzztime" 2>&1 </dev/null) || rc=$?
  # The fuzzing engine itself can miss its own deadline on a loaded machine
  # ("context deadline exceeded" with no failing input written): that is not
  # a finding, so run the target once more. A crash writes its input under
  # testdata/fuzz and fails both runs.
  if [ "$rc" -ne 0 ] && grep -q 'context deadline exceeded' <<<"$out" && ! grep -q 'Failing input written' <<<"$out"; then
    echo "fuzz: $name: the engine missed its deadline (no failing input); running it again" >&2
    rc=0
    out=$(cd "$root/$mod" && go test "$pkg" -run '^$' -fuzz "^${name}\$" -fuzztime "$fuzztime" 2>&1 </dev/null) || rc=$?
  fi
  took=$(awk -v a="$t0" -v b="$(date +%s.%N)" 'BEGIN { printf "%.1fs", b - a }')
  execs=$(grep -oE 'execs: [0-9]+' <<<"$out" | tail -n1 | cut -d' ' -f2 || true)
  # A name that is not a fuzz test would "pass" without fuzzing anything.
  if [ "$rc" -eq 0 ] && grep -q 'no fuzz tests to fuzz' <<<"$out"; then
    rc=1
    out="$out"$'\n'"fuzz: $name is not a fuzz test of $pkg (func $name(f *testing.F) expected)"
  fi
  note=
  if [ "$rc" -eq 0 ] && ! grep -q 'now fuzzing' <<<"$out"; then
    # FUZZTIME ran out while replaying the seed and cached corpus.
    note="  (corpus replay cut at $(grep -oE 'baseline coverage: [0-9]+/[0-9]+' <<<"$out" | tail -n1 | cut -d' ' -f3 || true), no new inputs)"
  fi
  shown=${mod#./}/$rel
  shown=${shown#./}
  shown=${shown%/}
  [ -n "$shown" ] || shown=.
  if [ "$rc" -eq 0 ]; then
    printf 'ok    %-28s %-30s %7s  %s execs%s\n' "$shown" "$name" "$took" "${execs:-0}" "$note"
  else
    printf 'FAIL  %-28s %-30s %7s  %s execs%s\n' "$shown" "$name" "$took" "${execs:-0}" "$note"
    sed 's/^/    /' <<<"$out"
    failed+=("$shown $name")
  fi
done <<<"$targets"

echo "fuzz: $n targets in $((SECONDS - start))s, ${#failed[@]} failed"
if [ "${#failed[@]}" -gt 0 ]; then
  printf '  FAIL %s\n' "${failed[@]}"
  exit 1
fi
