#!/usr/bin/env bash
# Two engine builds side by side: both run at once, each under its own load generator (CONNS stop-and-wait connections,
# SECS seconds per round, ROUNDS rounds after an 8 s warm-up), so that both see the same machine at the same moment.
# On a shared VM whose speed drifts by 10-20% from minute to minute, this pairs the figures a one-at-a-time A/B cannot.
# Usage: perf/pair-bench.sh A/streamengine.dll B/streamengine.dll [rounds]   (env: CONNS=32 SECS=8 ENV_A= ENV_B=)
# Prints per round each engine's ACKed msgs/s and CPU per message, and B's rate over A's. SQLite fsync, no sinks.
# To build the previous commit beside the current one: git worktree add /tmp/prev HEAD~1 && dotnet build -c Release
# /tmp/prev/src/StreamEngine.Host (its dll is then /tmp/prev/src/StreamEngine.Host/bin/Release/net10.0/streamengine.dll).
set -euo pipefail
cd "$(dirname "$0")/.."
. perf/bench-lib.sh
dll_a=$1; dll_b=$2; rounds=${3:-5}; conns=${CONNS:-32}; secs=${SECS:-8}

start() { # dll folder env
  cat > "$2/e.json" <<JSON
{ "dataDirectory": "$2/data", "store": { "provider": "sqlite", "durability": "fsync" }, "admin": { "port": 0 },
  "listeners": [ { "id": "bench", "port": 0 } ], "sinks": [] }
JSON
  env ${3:-} dotnet "$1" run --config "$2/e.json" > "$2/e.log" 2>&1 &
  echo $!
}
cpu() { awk '{print $14+$15}' "/proc/$1/stat"; }
count() { grep -oE "\(([0-9]+) in" "$1" | grep -oE "[0-9]+"; }

wa=$(mktemp -d /tmp/se-pair-a.XXXX); wb=$(mktemp -d /tmp/se-pair-b.XXXX)
pa=$(start "$dll_a" "$wa" "${ENV_A:-}"); pb=$(start "$dll_b" "$wb" "${ENV_B:-}")
trap 'kill $pa $pb 2>/dev/null; wait 2>/dev/null; rm -rf "$wa" "$wb"' EXIT
porta=$(port_of "$wa/e.log"); portb=$(port_of "$wb/e.log")
dotnet "$loadgen" run --port "$porta" --connections "$conns" --window 1 --seconds 8 > /dev/null & lw=$!
dotnet "$loadgen" run --port "$portb" --connections "$conns" --window 1 --seconds 8 > /dev/null
wait $lw
for r in $(seq 1 "$rounds"); do
  ca=$(cpu "$pa"); cb=$(cpu "$pb")
  dotnet "$loadgen" run --port "$porta" --connections "$conns" --window 1 --seconds "$secs" > "$wa/out" & la=$!
  dotnet "$loadgen" run --port "$portb" --connections "$conns" --window 1 --seconds "$secs" > "$wb/out"
  wait $la
  na=$(count "$wa/out"); nb=$(count "$wb/out")
  echo "round $r  A $(grep -oE '[0-9]+ msgs/s' "$wa/out") $(( ($(cpu "$pa") - ca) * 10000 / na )) us/msg" \
       "  B $(grep -oE '[0-9]+ msgs/s' "$wb/out") $(( ($(cpu "$pb") - cb) * 10000 / nb )) us/msg" \
       "  B/A $(awk -v a="$na" -v b="$nb" 'BEGIN { printf "%.3f", b / a }')"
done
