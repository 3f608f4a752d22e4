#!/usr/bin/env bash
# Amber's demo: freeze a running counter, restore it, and see it count on from where it was.
# It builds nothing: run `make demo` (which builds first), or `make` and then this script.
set -euo pipefail
cd "$(dirname "$0")/.."

amber() { tools/deno/node_modules/.bin/deno run -A --quiet cli.ts "$@"; }
step() { printf '\n\033[1m== %s\033[0m\n' "$*"; }

out=/tmp/amber-demo.out
images=$(mktemp -d /tmp/amber-demo-XXXXXX)
cleanup() {
  amber kill demo >/dev/null 2>&1 || true
  rm -rf "$images"
}
trap cleanup EXIT

[ -x build/tests/counter ] || { echo "build/tests/counter is missing: run 'make' first" >&2; exit 1; }
amber kill demo >/dev/null 2>&1 || true
rm -f "$out"

step "Launch a counter under Amber (it prints a rising count every 100 ms)"
amber run --detach --name demo --output "$out" -- build/tests/counter
sleep 1
amber ps

step "Its translation table: virtual pids the program sees, system pids behind them"
amber tables demo

step "Snapshot it and stop it"
amber snapshot demo -o "$images/demo.amber" --stop
echo "Last lines before the snapshot:"
tail -n 2 "$out"

step "What the image holds"
amber inspect "$images/demo.amber"

step "Restore it: same virtual pid, new system pid"
amber restore "$images/demo.amber" --detach --name demo --output "$out"
sleep 1
amber ps
amber kill demo

step "The whole output: the count goes on after the restore instead of starting from 0"
cat "$out"
