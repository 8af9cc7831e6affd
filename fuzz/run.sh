#!/usr/bin/env bash
# Fuzzes each reader of untrusted input with AFL++ through SharpFuzz, each for a bounded time, then prints the
# executions, run time, paths found, crashes and hangs per harness. Not part of CI: a few minutes per harness.
#
# Usage: fuzz/run.sh [SECONDS-PER-HARNESS] [HARNESS...]      (default: 120 s; harnesses: image safetensors pth model-json cases-json onnx)
# Needs: afl-fuzz (Debian: apt-get install afl++); installs the sharpfuzz tool into fuzz/.tools if missing.
# Findings land in fuzz/.findings/HARNESS/default/{crashes,hangs}; replay one with
#   dotnet fuzz/.build/RelevanceSharp.Fuzz.dll HARNESS FILE
set -euo pipefail
cd "$(dirname "$0")/.."

seconds="${1:-120}"
shift || true
harnesses=("$@")
if [ ${#harnesses[@]} -eq 0 ]; then
    harnesses=(image safetensors pth model-json cases-json onnx)
fi

if ! command -v afl-fuzz >/dev/null 2>&1; then
    echo "error: afl-fuzz is not installed (Debian: apt-get install afl++)" >&2
    exit 1
fi
if [ ! -x fuzz/.tools/sharpfuzz ]; then
    dotnet tool install SharpFuzz.CommandLine --version 2.3.0 --tool-path fuzz/.tools >/dev/null
fi

# Build, copy the output, and instrument the libraries in the copy (the harness itself stays uninstrumented).
dotnet build fuzz/RelevanceSharp.Fuzz -c Release -v quiet -nologo >/dev/null
rm -rf fuzz/.build
cp -r fuzz/RelevanceSharp.Fuzz/bin/Release/net10.0 fuzz/.build
fuzz/.tools/sharpfuzz fuzz/.build/RelevanceSharp.dll >/dev/null
fuzz/.tools/sharpfuzz fuzz/.build/RelevanceSharp.Onnx.dll >/dev/null

export AFL_SKIP_BIN_CHECK=1 AFL_NO_UI=1 AFL_I_DONT_CARE_ABOUT_MISSING_CRASHES=1 AFL_SKIP_CPUFREQ=1
# The guard's notice and libtorch must not write into the fuzzer's view of the target.
export RELEVANCESHARP_CPU_GUARD="${RELEVANCESHARP_CPU_GUARD:-auto}"

printf '%-12s %12s %10s %8s %8s %8s\n' harness executions seconds paths crashes hangs
for harness in "${harnesses[@]}"; do
    out="fuzz/.findings/$harness"
    rm -rf "$out"
    mkdir -p fuzz/.findings
    # -t: 10 s per input (the first run loads libtorch); -m none: libtorch maps far more than AFL's default limit.
    afl-fuzz -V "$seconds" -t 10000 -m none -i "fuzz/corpus/$harness" -o "$out" -- \
        dotnet fuzz/.build/RelevanceSharp.Fuzz.dll "$harness" >"$out.log" 2>&1 || true
    stats="$out/default/fuzzer_stats"
    if [ ! -f "$stats" ]; then
        echo "error: afl-fuzz did not start for $harness; see $out.log" >&2
        continue
    fi
    value() { awk -F' *: *' -v k="$1" '$1 == k { print $2 }' "$stats"; }
    printf '%-12s %12s %10s %8s %8s %8s\n' "$harness" "$(value execs_done)" "$(value run_time)" "$(value corpus_count)" \
        "$(value saved_crashes)" "$(value saved_hangs)"
done
