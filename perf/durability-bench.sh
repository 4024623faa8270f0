#!/usr/bin/env bash
# Durable ingest: ACKed msgs/s and ACK latency p50/p99 for 1, 16 and 64 stop-and-wait connections, the engine on
# SQLite and PostgreSQL in fsync and os modes, each case run back to back with a durable baseline (System.IO.Pipelines,
# append each frame to one file, one fsync per group, ACK after the fsync covering it) driven by the same load
# generator. Then end to end (ACKed and delivered to NDJSON) and replay from the journal: perf/e2e-bench.sh.
#   perf/durability-bench.sh [seconds-per-case] [rounds]      defaults 8 and 1
# Needs PostgreSQL 15 binaries (/usr/lib/postgresql/15/bin); starts a throw-away cluster on loopback.
set -euo pipefail
cd "$(dirname "$0")/.."
seconds="${1:-8}"
rounds="${2:-1}"
work="$(mktemp -d /tmp/se-bench.XXXXXX)"
pids=()
PGBIN=/usr/lib/postgresql/15/bin
as_pg() { if [ "$(id -u)" = 0 ]; then runuser -u postgres -- "$@"; else "$@"; fi; }
cleanup() {
  kill "${pids[@]}" 2>/dev/null || true
  as_pg "$PGBIN/pg_ctl" -D "$work/pg" -m fast -w stop >/dev/null 2>&1 || true
  rm -rf "$work"
}
trap cleanup EXIT
[ "$(id -u)" = 0 ] && chown postgres "$work"
pgport=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
as_pg "$PGBIN/initdb" -D "$work/pg" -A trust -U postgres -E UTF8 --no-instructions >/dev/null
as_pg "$PGBIN/pg_ctl" -D "$work/pg" -l "$work/pg.log" -w -o "-c listen_addresses=127.0.0.1 -p $pgport -k $work -c max_connections=200" start >/dev/null
pg() { psql -h 127.0.0.1 -p "$pgport" -U postgres -qAtc "$1"; }

. perf/bench-lib.sh
run() { dotnet "$loadgen" run --port "$1" --connections "$2" --window 1 --seconds "$seconds"; }

# name store durability sinks(json)
engine() {
  local name=$1 store=$2 durability=$3 sinks=${4:-[]} storejson
  if [ "$store" = postgresql ]; then
    pg "CREATE DATABASE $name" ; storejson="{ \"provider\": \"postgresql\", \"durability\": \"$durability\", \"connectionString\": \"Host=127.0.0.1;Port=$pgport;Username=postgres;Database=$name\" }"
  else
    storejson="{ \"provider\": \"sqlite\", \"durability\": \"$durability\" }"
  fi
  cat > "$work/$name.json" <<JSON
{ "dataDirectory": "$work/$name", "store": $storejson, "admin": { "port": 0 },
  "listeners": [ { "id": "bench", "port": 0 } ], "sinks": $sinks }
JSON
  dotnet "$host" run --config "$work/$name.json" > "$work/$name.log" 2>&1 & pids+=($!)
}

dotnet "$loadgen" baseline --durable "$work/baseline.log.bin" > "$work/baseline.log" 2>&1 & pids+=($!)
engine sqlite_fsync sqlite fsync
engine sqlite_os sqlite os
engine pg_fsync postgresql fsync
engine pg_os postgresql os
baseline=$(port_of "$work/baseline.log")
declare -A port
for e in sqlite_fsync sqlite_os pg_fsync pg_os; do port[$e]=$(port_of "$work/$e.log"); done

echo "# $(date -u +%FT%TZ) commit $(git rev-parse --short HEAD), $(nproc) cores, ${seconds}s per case, 1 KB ADT^A01, stop-and-wait"
for round in $(seq 1 "$rounds"); do
  for c in 1 16 64; do
    echo "round $round  baseline-durable  $(run "$baseline" "$c")"
    for e in sqlite_fsync sqlite_os pg_fsync pg_os; do
      echo "round $round  $e  $(run "${port[$e]}" "$c")"
    done
  done
done
kill "${pids[@]}" 2>/dev/null || true; pids=()

# End to end (ACKed and delivered to the NDJSON sink, SQLite fsync, 64 connections, a warmed-up engine) and a full replay.
perf/e2e-bench.sh "$seconds" 4

# Recovery time after kill -9 is perf/recovery-bench.sh.
