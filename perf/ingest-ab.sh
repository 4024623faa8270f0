#!/usr/bin/env bash
# Durable ingest against its ceiling, one case: the durable baseline server (file append + one fsync per group), then
# the engine with no sinks (SQLite, DUR = fsync | os), each driven by the same load generator for SECS seconds at CONNS
# stop-and-wait connections, the engine after a 10 s warm-up. The quick form of perf/durability-bench.sh's matrix.
#   [CONNS=64] [SECS=8] [DUR=fsync] [ENGINE_ENV="NAME=value ..."] perf/ingest-ab.sh
set -euo pipefail
cd "$(dirname "$0")/.."
. perf/bench-lib.sh
work="$(mktemp -d /tmp/se-ingest-ab.XXXXXX)"; epid=""; bpid=""
trap '[ -n "$epid" ] && kill $epid 2>/dev/null; [ -n "$bpid" ] && kill $bpid 2>/dev/null; rm -rf "$work"' EXIT
conns=${CONNS:-64}; secs=${SECS:-8}
cat > "$work/e.json" <<JSON
{ "dataDirectory": "$work/data", "store": { "provider": "sqlite", "durability": "${DUR:-fsync}" }, "admin": { "port": 0 },
  "listeners": [ { "id": "bench", "port": 0 } ], "sinks": [] }
JSON
echo "# $(date -u +%FT%TZ) commit $(git rev-parse --short HEAD), $(nproc) cores, $conns connections, ${secs}s, SQLite ${DUR:-fsync}"
dotnet "$loadgen" baseline --durable "$work/b.bin" > "$work/b.log" 2>&1 & bpid=$!
echo "baseline-durable  $(dotnet "$loadgen" run --port "$(port_of "$work/b.log")" --connections "$conns" --window 1 --seconds "$secs")"
kill $bpid; wait $bpid 2>/dev/null || true; bpid=""
env ${ENGINE_ENV:-} dotnet "$host" run --config "$work/e.json" > "$work/e.log" 2>&1 & epid=$!
port=$(port_of "$work/e.log")
dotnet "$loadgen" run --port "$port" --connections "$conns" --window 1 --seconds 10 >/dev/null
echo "engine            $(dotnet "$loadgen" run --port "$port" --connections "$conns" --window 1 --seconds "$secs")"
