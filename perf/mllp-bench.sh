#!/usr/bin/env bash
# MLLP throughput and ACK latency: the engine's framing + actor path (journal in memory, no sinks) against a
# raw-socket ACK-only baseline (perf/StreamEngine.LoadGen, System.IO.Pipelines), both driven by the same load
# generator, case by case back to back so that both see the same machine; then the engine on its default SQLite
# journal (fsync) for reference.
#   perf/mllp-bench.sh [seconds-per-case] [rounds]     defaults 8 and 2
set -euo pipefail
cd "$(dirname "$0")/.."
seconds="${1:-8}"
rounds="${2:-2}"
work="$(mktemp -d)"
pids=()
trap 'kill "${pids[@]}" 2>/dev/null || true; rm -rf "$work"' EXIT
. perf/bench-lib.sh

run() { dotnet "$loadgen" run --port "$1" --connections "$2" --window "$3" --seconds "$seconds"; }

dotnet "$loadgen" baseline > "$work/baseline.log" 2>&1 & pids+=($!)
cat > "$work/memory.json" <<JSON
{ "dataDirectory": "$work/mem", "store": { "provider": "memory" }, "listeners": [ { "name": "bench", "port": 0 } ], "sinks": [] }
JSON
dotnet "$host" run --config "$work/memory.json" > "$work/memory.log" 2>&1 & pids+=($!)
cat > "$work/sqlite.json" <<JSON
{ "dataDirectory": "$work/sql", "listeners": [ { "name": "bench", "port": 0 } ], "sinks": [] }
JSON
dotnet "$host" run --config "$work/sqlite.json" > "$work/sqlite.log" 2>&1 & pids+=($!)
baseline=$(port_of "$work/baseline.log"); memory=$(port_of "$work/memory.log"); sqlite=$(port_of "$work/sqlite.log")

for round in $(seq 1 "$rounds"); do
  for spec in "1 1" "4 1" "16 1" "1 16"; do
    set -- $spec
    echo "round $round  baseline       $(run "$baseline" "$1" "$2")"
    echo "round $round  engine/memory  $(run "$memory" "$1" "$2")"
  done
done
for spec in "1 1" "4 1" "16 1" "1 16"; do
  set -- $spec
  echo "engine/sqlite-fsync  $(run "$sqlite" "$1" "$2")"
done
