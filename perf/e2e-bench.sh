#!/usr/bin/env bash
# End to end on the default store (SQLite, fsync): ACKed msgs/s at 64 stop-and-wait connections with an NDJSON sink
# attached, and when the sink has delivered everything; the durable baseline right before it, same load generator.
# Each engine is warmed up first (a load of WARMUP seconds, default 20, then the sink drains): under this load the
# JIT keeps compiling for the first ~16 s of a fresh process (dotnet-counters, dotnet.jit.compilation.time: 0.25-0.8
# of a core until then, ~0.03 after), which a long-running engine never pays again. Then a replay of the whole
# stream to the sink's replay file. One engine per lane count given (default "1 4").
# The end-to-end rate is the messages delivered from the first frame the load generator sent until the sink has
# nothing in flight (and, for comparison with figures before 2026-12-02, from the load generator's launch: that
# includes its own .NET start-up, when the engine has nothing to do).
# PATIENTS (default 1) spreads the load over that many patients (`loadgen run --patients`). With one patient every
# message waits for the one before it at the sink (order per patient), so its lanes run one message at a time; a
# Trust's feed carries many patients, as PATIENTS=1000 does.
# ENGINE_ENV="NAME=value ..." sets environment variables for the engine alone (not the load generator or the baseline).
#   [WARMUP=20] [PATIENTS=1] [ENGINE_ENV=...] perf/e2e-bench.sh [seconds] [lanes...]
set -euo pipefail
cd "$(dirname "$0")/.."
seconds="${1:-8}"; shift || true
lanes=("${@:-1 4}"); [ $# -eq 0 ] && lanes=(1 4)
work="$(mktemp -d /tmp/se-e2e.XXXXXX)"
pids=()
cleanup() { kill "${pids[@]}" 2>/dev/null || true; rm -rf "$work"; }
trap cleanup EXIT
. perf/bench-lib.sh
patients="${PATIENTS:-1}"
run() { dotnet "$loadgen" run --port "$1" --connections "$2" --window 1 --seconds "$seconds" --patients "$patients"; }
# The engine's status straight from its admin endpoint (what `streamengine status --json` prints): a CLI process for
# each poll (a .NET start-up, ~0.3 s of CPU) took a core from the engine it measured. STATUS=cli polls through the CLI.
status() {
  if [ "${STATUS:-http}" = cli ]; then dotnet "$host" status --json -c "$1"; return; fi
  local data; data="$(python3 -c "import json,sys; print(json.load(open(sys.argv[1]))['dataDirectory'])" "$1")"
  curl -sf -H "Authorization: Bearer $(cat "$data/admin.token")" "$(cat "$data/admin.endpoint")/status"
}
field() { python3 -c "import json,sys; d=json.load(sys.stdin); print(d$1)"; }
# drained CONFIG: waits until the sink has nothing in flight; prints that status. One process polls every 0.05 s (a
# python and a curl started per poll took ~0.2 of a core from the engine draining).
drained() {
  if [ "${STATUS:-http}" = cli ]; then
    local s; while s=$(status "$1"); [ "$(echo "$s" | field '["sinks"][0]["inFlight"]')" != 0 ]; do sleep 0.1; done; echo "$s"; return
  fi
  python3 - "$1" <<'PY'
import json, sys, time, urllib.request
data = json.load(open(sys.argv[1]))["dataDirectory"]
request = urllib.request.Request(open(data + "/admin.endpoint").read().strip() + "/status",
                                 headers={"Authorization": "Bearer " + open(data + "/admin.token").read().strip()})
while True:
    body = urllib.request.urlopen(request).read().decode()
    if json.loads(body)["sinks"][0]["inFlight"] == 0:
        print(body)
        break
    time.sleep(0.05)
PY
}

echo "# $(date -u +%FT%TZ) commit $(git rev-parse --short HEAD), $(nproc) cores, ${seconds}s load, 64 connections, 1 KB ADT^A01 for $patients patient(s), SQLite fsync"
for l in "${lanes[@]}"; do
  name="e2e$l"
  cat > "$work/$name.json" <<JSON
{ "dataDirectory": "$work/$name", "store": { "provider": "sqlite", "durability": "fsync" }, "admin": { "port": 0 },
  "listeners": [ { "id": "bench", "port": 0 } ],
  "sinks": [ { "id": "fhir", "type": "ndjson", "path": "$work/$name-out", "lanes": "$l" } ] }
JSON
  dotnet "$loadgen" baseline --durable "$work/$name.bin" > "$work/$name-baseline.log" 2>&1 & bpid=$!
  echo "lanes $l  baseline-durable  $(run "$(port_of "$work/$name-baseline.log")" 64)"
  kill $bpid; wait $bpid 2>/dev/null || true
  env ${ENGINE_ENV:-} dotnet "$host" run --config "$work/$name.json" > "$work/$name.log" 2>&1 & epid=$!; pids+=($epid)
  port=$(port_of "$work/$name.log")
  dotnet "$loadgen" run --port "$port" --connections 64 --window 1 --seconds "${WARMUP:-20}" --patients "$patients" >/dev/null
  while [ "$(status "$work/$name.json" | field '["sinks"][0]["inFlight"]')" != 0 ]; do sleep 0.1; done
  before=$(status "$work/$name.json" | field '["sinks"][0]["counts"]["delivered"]')
  start=$(date +%s.%N)
  out=$(run "$port" 64)
  echo "lanes $l  engine ACKs  $out"
  first=$(echo "$out" | grep -oE "first frame sent at unix [0-9.]+" | grep -oE "[0-9.]+$")
  s=$(drained "$work/$name.json")
  end=$(date +%s.%N)
  delivered=$(( $(echo "$s" | field '["sinks"][0]["counts"]["delivered"]') - before ))
  python3 -c "print(f'lanes $l  delivered {$delivered} in {$end-$first:.1f} s from the first frame ({$seconds} s load + 2 s warm-up, then the drain): {$delivered/($end-$first):.0f} msgs/s end to end ({$delivered/($end-$start):.0f} from the load generator\'s launch)')"
  r=$(dotnet "$host" replay --json --sink fhir --from-seq 1 -c "$work/$name.json")
  echo "$r" | python3 -c "import json,sys; d=json.load(sys.stdin)['results'][0]; print(f'lanes $l  replay  {d[\"messages\"]} messages in {d.get(\"seconds\", 0):.2f} s inside the engine: {d[\"messages\"]/max(d.get(\"seconds\", 1e-9), 1e-9):.0f} msgs/s')"
  kill $epid; wait $epid 2>/dev/null || true
done
