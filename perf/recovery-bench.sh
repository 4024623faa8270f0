#!/usr/bin/env bash
# Recovery time after kill -9 with a large journal: journal N messages (SQLite, os mode, 64 connections, no sinks),
# kill -9 the engine, restart it on the same data and time until the listener is ready again.
#   perf/recovery-bench.sh [messages]     default 1000000
set -euo pipefail
cd "$(dirname "$0")/.."
target="${1:-1000000}"
work="$(mktemp -d /tmp/se-recovery.XXXXXX)"
pids=()
trap 'kill "${pids[@]}" 2>/dev/null || true; rm -rf "$work"' EXIT
. perf/bench-lib.sh
cat > "$work/cfg.json" <<JSON
{ "dataDirectory": "$work/data", "store": { "durability": "os" }, "admin": { "port": 0 }, "listeners": [ { "id": "bench", "port": 0 } ], "sinks": [] }
JSON
dotnet "$host" run --config "$work/cfg.json" > "$work/1.log" 2>&1 & pids+=($!)
port=$(port_of "$work/1.log")
journaled=0
while [ "$journaled" -lt "$target" ]; do
  dotnet "$loadgen" run --port "$port" --connections 64 --seconds 20 --warmup 0 >/dev/null
  journaled=$(dotnet "$host" status --json -c "$work/cfg.json" | python3 -c 'import json,sys; print(json.load(sys.stdin)["streams"][0]["journaled"])')
  echo "journaled $journaled"
done
sleep 2   # let the message index catch up, as it would in service
kill -9 "${pids[0]}"; wait "${pids[0]}" 2>/dev/null || true
echo "# $(date -u +%FT%TZ) commit $(git rev-parse --short HEAD): $journaled messages, $(du -sh "$work/data" | cut -f1) on disk"
start=$(date +%s.%N)
dotnet "$host" run --config "$work/cfg.json" > "$work/2.log" 2>&1 & pids+=($!)
# The listener opens once the journal has recovered and loaded its dedupe keys: time that.
for _ in $(seq 1 6000); do grep -q "dedupe keys in the window" "$work/2.log" && break; sleep 0.05; done
end=$(date +%s.%N)
python3 -c "print(f'recovery after kill -9: journal ready {$end-$start:.2f} s after the process started (runtime start-up included)')"
grep -E "recovered at sequence|dedupe keys in the window" "$work/2.log" | sed 's/.*\] //'
