# Shared by the perf/*-bench.sh scripts (sourced, from the repository root): Release builds of the engine and the
# load generator, and the port a started engine or baseline server reports.
dotnet build -c Release src/StreamEngine.Host -v q >/dev/null
dotnet build -c Release perf/StreamEngine.LoadGen -v q >/dev/null
host="src/StreamEngine.Host/bin/Release/net10.0/streamengine.dll"
loadgen="perf/StreamEngine.LoadGen/bin/Release/net10.0/StreamEngine.LoadGen.dll"

# port_of LOG: waits (up to 5 minutes) for "Listener <id> ready on 127.0.0.1:N" or "listening on 127.0.0.1:N".
port_of() {
  for _ in $(seq 1 3000); do
    p=$(grep -oE "(Listener \S+ ready on|listening on) 127\.0\.0\.1:[0-9]+" "$1" | grep -oE "[0-9]+$" | head -1)
    [ -n "$p" ] && { echo "$p"; return; }
    sleep 0.1
  done
  echo "no port in $1" >&2
  exit 1
}
