#!/usr/bin/env bash
# Coverage-guided fuzzing of the HL7 v2 library with SharpFuzz + AFL++ (Debian's afl++).
#   perf/fuzz.sh [seconds]      default 600
# Seeds: the corpus under tests/StreamEngine.TestKit/TestData (small files only). Findings: perf/fuzz-out/.
set -euo pipefail
cd "$(dirname "$0")/.."
seconds="${1:-600}"
command -v afl-fuzz >/dev/null || { apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq afl++ >/dev/null; }
tools="$PWD/perf/.tools"
[ -x "$tools/sharpfuzz" ] || dotnet tool install SharpFuzz.CommandLine --version 2.3.0 --tool-path "$tools" >/dev/null
out="$PWD/perf/fuzz-build"
rm -rf "$out"
dotnet publish perf/StreamEngine.Fuzz -c Release -o "$out" >/dev/null
"$tools/sharpfuzz" "$out/StreamEngine.Hl7v2.dll"
seeds="$PWD/perf/fuzz-seeds"
rm -rf "$seeds" "$PWD/perf/fuzz-out" && mkdir -p "$seeds"
find tests/StreamEngine.TestKit/TestData/corpus tests/StreamEngine.TestKit/TestData/bench -name '*.hl7' -size -4k -exec cp {} "$seeds/" \;
# dotnet itself is not instrumented; the managed StreamEngine.Hl7v2.dll is (by sharpfuzz), and SharpFuzz speaks the fork-server protocol.
export AFL_SKIP_BIN_CHECK=1 AFL_SKIP_CPUFREQ=1 AFL_I_DONT_CARE_ABOUT_MISSING_CRASHES=1 AFL_NO_UI=1
timeout --preserve-status "$seconds" afl-fuzz -i "$seeds" -o "$PWD/perf/fuzz-out" -t 10000 -m none -- dotnet "$out/StreamEngine.Fuzz.dll" || true
echo "crashes: $(find perf/fuzz-out -path '*crashes/id*' | wc -l)   hangs: $(find perf/fuzz-out -path '*hangs/id*' | wc -l)"
stats=perf/fuzz-out/default/fuzzer_stats
[ -f "$stats" ] || { echo "fuzzing did not start (see above)"; exit 1; }
grep -hE "execs_done|execs_per_sec|corpus_count|saved_crashes|saved_hangs|run_time|bitmap_cvg" "$stats"
[ "$(find perf/fuzz-out -path "*crashes/id*" | wc -l)" -eq 0 ]
