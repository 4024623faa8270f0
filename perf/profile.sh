#!/usr/bin/env bash
# Where the engine's CPU goes, by region of the code: `perf record` of the engine (SQLite fsync, 64 stop-and-wait
# connections, 1,000 patients) and the share of samples by the first region on each sample's stack (the sink's lanes
# mapping and serialising, the thread pool's spinning, the listener, the ingest journal, the runtime, the kernel alone...).
#   perf/profile.sh e2e      the load with an NDJSON sink (4 lanes) attached
#   perf/profile.sh ingest   the same load, no sinks
#   perf/profile.sh replay   a warm replay of ~12 s of journaled load (SQLite os) to the NDJSON sink
# Needs Linux `perf` (apt-get install linux-perf). The engine runs with DOTNET_PerfMapEnabled=1 and
# DOTNET_EnableWriteXorExecute=0 so that perf can name JIT-compiled code. Prints the engine's CPU per message too
# (user + system from /proc, perf's own sampling included).
set -euo pipefail
cd "$(dirname "$0")/.."
mode="${1:-e2e}"
case "$mode" in e2e|ingest|replay) ;; *) echo "usage: perf/profile.sh e2e|ingest|replay" >&2; exit 2 ;; esac
command -v perf >/dev/null || { echo "perf is not installed (apt-get install linux-perf)" >&2; exit 2; }
. perf/bench-lib.sh
work="$(mktemp -d /tmp/se-profile.XXXXXX)"
epid=""
trap '[ -n "$epid" ] && kill $epid 2>/dev/null; rm -rf "$work"' EXIT
sinks='[ { "id": "fhir", "type": "ndjson", "path": "'"$work"'/out", "lanes": "4" } ]'
durability=fsync
[ "$mode" = ingest ] && sinks='[]'
[ "$mode" = replay ] && durability=os
cat > "$work/e.json" <<JSON
{ "dataDirectory": "$work/data", "store": { "provider": "sqlite", "durability": "$durability" }, "admin": { "port": 0 },
  "listeners": [ { "id": "bench", "port": 0 } ], "sinks": $sinks }
JSON
DOTNET_PerfMapEnabled=1 DOTNET_EnableWriteXorExecute=0 dotnet "$host" run --config "$work/e.json" > "$work/e.log" 2>&1 & epid=$!
port=$(port_of "$work/e.log")
cpu() { awk '{print $14+$15}' "/proc/$epid/stat"; }
load() { dotnet "$loadgen" run --port "$port" --connections 64 --window 1 --seconds "$1" --patients 1000; }
if [ "$mode" = replay ]; then
  load 12 >/dev/null
  replay() { dotnet "$host" replay --json --sink fhir --from-seq 1 -c "$work/e.json"; }
  replay >/dev/null # warm
  c0=$(cpu)
  perf record -F 499 -g -p "$epid" -o "$work/perf.data" >/dev/null 2>&1 & ppid=$!
  r=$(replay)
  kill -INT $ppid; wait $ppid 2>/dev/null || true
  n=$(echo "$r" | python3 -c "import json,sys; d=json.load(sys.stdin)['results'][0]; print(d['messages'])")
  echo "$r" | python3 -c "import json,sys; d=json.load(sys.stdin)['results'][0]; print('replay: %d messages, %.0f msgs/s' % (d['messages'], d['messages'] / d['seconds']))"
else
  load 10 >/dev/null # warm-up: the JIT settles
  c0=$(cpu)
  load 12 > "$work/load.txt" & lpid=$!
  sleep 2
  perf record -F 499 -g -p "$epid" -o "$work/perf.data" -- sleep 8 >/dev/null 2>&1
  wait $lpid
  cat "$work/load.txt"
  n=$(grep -oE "\(([0-9]+) in" "$work/load.txt" | grep -oE "[0-9]+")
fi
echo "engine CPU: $(( ($(cpu) - c0) * 10000 / n )) us per message (user + system)"
perf script -i "$work/perf.data" 2>/dev/null > "$work/perf.txt"
python3 perf/profile-regions.py "$work/perf.txt"
