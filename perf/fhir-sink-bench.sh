#!/usr/bin/env bash
# FHIR sink client throughput against the loopback FHIR server (tests/peers/fhir-server.mjs, @medplum/fhir-router),
# with 1 and 8 concurrent requests, against a bare HttpClient loop posting the same bundles in the same run.
# Bundles: every golden message's transaction, repeated to 2,000 (repeats are upserts). Needs: npm ci --prefix tests/peers.
# Usage: perf/fhir-sink-bench.sh [count]
set -euo pipefail
cd "$(dirname "$0")/.."
source perf/bench-lib.sh
count=${1:-2000}
work=$(mktemp -d)
trap 'kill $(jobs -p) 2>/dev/null || true; rm -rf "$work"' EXIT
dotnet "$host" convert tests/StreamEngine.Fhir.Tests/TestData/*/*.hl7 > "$work/bundles.ndjson"
(cd tests/peers && node fhir-server.mjs 0 > "$work/server.log" 2>&1) &
for _ in $(seq 1 300); do grep -q listening "$work/server.log" && break; sleep 0.1; done
port=$(grep -oE '"listening":[0-9]+' "$work/server.log" | grep -oE '[0-9]+$')
url="http://127.0.0.1:$port/"
echo "$(date -u +%FT%TZ) commit $(git rev-parse --short HEAD), $(wc -l < "$work/bundles.ndjson") distinct bundles, $count per run"
for concurrency in 1 8; do
  for client in raw sink; do
    curl -s -X POST "${url}\$reset" > /dev/null
    dotnet "$loadgen" fhir-post --url "$url" --file "$work/bundles.ndjson" --concurrency "$concurrency" --client "$client" --count 200 > /dev/null # warm-up
    curl -s -X POST "${url}\$reset" > /dev/null
    dotnet "$loadgen" fhir-post --url "$url" --file "$work/bundles.ndjson" --concurrency "$concurrency" --client "$client" --count "$count"
  done
done
