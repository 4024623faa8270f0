#!/usr/bin/env bash
# Replay only, two engine settings alternated on the same journal: journals ~15 s of 64-connection load once (1,000
# patients, SQLite os, an NDJSON sink), then for each round starts an engine on a copy of that data with ENV_A, then
# with ENV_B (environment variables for the engine only), and times two replays of the whole stream in each: the first
# after the start (cold), the second warm.
#   ENV_A="DOTNET_GCgen0size=0" ENV_B="X=1" [ROUNDS=3] perf/replay-ab.sh
set -euo pipefail
cd "$(dirname "$0")/.."
work="$(mktemp -d /tmp/se-replay-ab.XXXXXX)"
pids=()
trap 'kill "${pids[@]}" 2>/dev/null || true; rm -rf "$work"' EXIT
. perf/bench-lib.sh
cat > "$work/seed.json" <<JSON
{ "dataDirectory": "$work/seed", "store": { "provider": "sqlite", "durability": "os" }, "admin": { "port": 0 },
  "listeners": [ { "id": "bench", "port": 0 } ], "sinks": [ { "id": "fhir", "type": "ndjson", "path": "$work/seed-out", "lanes": "4" } ] }
JSON
dotnet "$host" run --config "$work/seed.json" > "$work/seed.log" 2>&1 & pids+=($!)
dotnet "$loadgen" run --port "$(port_of "$work/seed.log")" --connections 64 --window 1 --seconds 15 --patients 1000 >/dev/null
kill "${pids[0]}"; wait "${pids[0]}" 2>/dev/null || true
rate() { dotnet "$host" replay --json --sink fhir --from-seq 1 -c "$work/run.json" \
  | python3 -c "import json,sys; d=json.load(sys.stdin)['results'][0]; print('%d messages, %.0f msgs/s' % (d['messages'], d['messages'] / d['seconds']))"; }
echo "# $(date -u +%FT%TZ) commit $(git rev-parse --short HEAD), $(nproc) cores"
for round in $(seq 1 "${ROUNDS:-3}"); do
  for v in A B; do
    settings="ENV_$v"
    rm -rf "$work/run" "$work/run-out"; cp -r "$work/seed" "$work/run"
    sed "s|$work/seed|$work/run|g" "$work/seed.json" > "$work/run.json"
    env ${!settings:-X=1} dotnet "$host" run --config "$work/run.json" > "$work/run.log" 2>&1 & epid=$!; pids+=($epid)
    port=$(port_of "$work/run.log")
    echo "$v (${!settings:-}): cold $(rate); warm $(rate)"
    kill $epid; wait $epid 2>/dev/null || true
  done
done
