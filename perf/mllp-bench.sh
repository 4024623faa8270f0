#!/usr/bin/env bash
# MLLP throughput and ACK latency: the engine's framing + actor path (journal in memory, no sinks) against a
# raw-socket ACK-only baseline (perf/StreamEngine.LoadGen, System.IO.Pipelines), both driven by the same load
# generator in the same run, on loopback; then the engine on its default SQLite journal (fsync) for reference.
#   perf/mllp-bench.sh [seconds-per-case]     default 8
set -euo pipefail
cd "$(dirname "$0")/.."
seconds="${1:-8}"
work="$(mktemp -d)"
trap 'kill $(jobs -p) 2>/dev/null || true; rm -rf "$work"' EXIT
dotnet build -c Release src/StreamEngine.Host -v q >/dev/null
dotnet build -c Release perf/StreamEngine.LoadGen -v q >/dev/null
host="src/StreamEngine.Host/bin/Release/net10.0/streamengine.dll"
loadgen="perf/StreamEngine.LoadGen/bin/Release/net10.0/StreamEngine.LoadGen.dll"

port_of() { for _ in $(seq 1 200); do p=$(grep -oE "(ready on|listening on) 127\.0\.0\.1:[0-9]+" "$1" | grep -oE "[0-9]+$" | head -1); [ -n "$p" ] && { echo "$p"; return; }; sleep 0.1; done; echo "no port in $1" >&2; exit 1; }

cases() {
  local port=$1 label=$2
  for c in 1 4 16; do echo "$label  $(dotnet "$loadgen" run --port "$port" --connections "$c" --window 1 --seconds "$seconds")"; done
  echo "$label  $(dotnet "$loadgen" run --port "$port" --connections 1 --window 16 --seconds "$seconds")"
}

dotnet "$loadgen" baseline > "$work/baseline.log" 2>&1 &
pid=$!
cases "$(port_of "$work/baseline.log")" "baseline"
kill "$pid"; wait "$pid" 2>/dev/null || true

cat > "$work/memory.json" <<JSON
{ "dataDirectory": "$work/mem", "store": { "provider": "memory" }, "listeners": [ { "name": "bench", "port": 0 } ], "sinks": [] }
JSON
dotnet "$host" run --config "$work/memory.json" > "$work/memory.log" 2>&1 &
pid=$!
cases "$(port_of "$work/memory.log")" "engine/memory"
kill "$pid"; wait "$pid" 2>/dev/null || true

cat > "$work/sqlite.json" <<JSON
{ "dataDirectory": "$work/sql", "listeners": [ { "name": "bench", "port": 0 } ], "sinks": [] }
JSON
dotnet "$host" run --config "$work/sqlite.json" > "$work/sqlite.log" 2>&1 &
pid=$!
cases "$(port_of "$work/sqlite.log")" "engine/sqlite-fsync"
kill "$pid"; wait "$pid" 2>/dev/null || true
