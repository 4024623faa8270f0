# Shared by the perf/*-bench.sh scripts (sourced, from the repository root): Release builds of the engine and the
# load generator, and the port a started engine or baseline server reports.
# PUBLISHED=1: the engine as deployed (`dotnet publish`, ReadyToRun) instead of the build `dotnet run` uses.
if [ "${PUBLISHED:-0}" = 1 ]; then
  host_dir="${TMPDIR:-/tmp}/streamengine-published"
  rm -rf "$host_dir"
  dotnet publish -c Release src/StreamEngine.Host -o "$host_dir" -v q >/dev/null
  host="$host_dir/streamengine.dll"
else
  dotnet build -c Release src/StreamEngine.Host -v q >/dev/null
  host="src/StreamEngine.Host/bin/Release/net10.0/streamengine.dll"
fi
dotnet build -c Release perf/StreamEngine.LoadGen -v q >/dev/null
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
