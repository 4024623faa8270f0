#!/usr/bin/env bash
# The kill -9 crash test at full size: 5,000 ADT, ORU and SIU messages (500 patients, 4 connections, lost ACKs, 3 SIGKILLs) on
# SQLite in fsync and os modes, and on PostgreSQL when STREAMENGINE_TEST_POSTGRES names one (.ci/run shows how to
# start a throw-away cluster). STREAMENGINE_CRASH_SEED=N replays a failing run's kill points.
#   perf/crash-test.sh [messages]      default 5000; KILLS=N kills per run (default 3); TERM_FIRST=1 makes each kill a
#                                      SIGTERM then a SIGKILL 0-400 ms later, inside the engine's own shutdown
set -euo pipefail
cd "$(dirname "$0")/.."
export STREAMENGINE_CRASH_MESSAGES="${1:-5000}"
export STREAMENGINE_CRASH_KILLS="${KILLS:-3}"
export STREAMENGINE_CRASH_TERM_FIRST="${TERM_FIRST:-0}"
filter="FullyQualifiedName~CrashTests"
[ -n "${STREAMENGINE_TEST_POSTGRES:-}" ] || filter="$filter&DisplayName~sqlite"
dotnet test tests/StreamEngine.IntegrationTests --filter "$filter" --logger "console;verbosity=normal"
