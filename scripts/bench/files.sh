#!/usr/bin/env bash
# Following one file written as fast as possible: `casewatch run` with `sources.files` beside
# `tail -F FILE | casewatch scan -` on the same file, in the same run (docs/PERFORMANCE.md).
#
# N kubelet-like lines of ~127 bytes (the journal benchmarks' lines) are prepared, then appended
# to the followed file with one `cat` (as fast as the disk takes them), followed by one marker
# line that an operator case turns into an alert. A reader's time runs from the start of the
# append to the marker's alert in its output; lines/s = (N + 1) / time. Both readers run the
# built-in catalog plus the marker case, console JSON alerts, and are started (and positioned
# at the end of the empty file) before the append.
#
# usage: scripts/bench/files.sh [LINES] [RUNS]     (default 2000000 lines, 3 runs each)
set -euo pipefail
cd "$(dirname "$0")/../.."
lines="${1:-2000000}"
runs="${2:-3}"
# CASEWATCH_SKIP_BUILD=1: use the release binary already built.
[ -n "${CASEWATCH_SKIP_BUILD:-}" ] || swift build -c release --product casewatch >&2
casewatch=$(pwd)/.build/release/casewatch

work=$(mktemp -d /tmp/casewatch-bench-files.XXXXXX)
pids=()
cleanup() {
    for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; wait "$p" 2>/dev/null || true; done
    rm -rf "$work"
}
trap cleanup EXIT
mkdir -p "$work/patterns" "$work/logs"
cat >"$work/patterns/marker.yaml" <<'YAML'
id: bench-marker
title: {en: Benchmark marker, zh: 基准测试标记}
severity: info
source: {seed: bench, heading: bench}
symptoms:
  - id: marker
    regex: 'casewatch-bench-end (?<n>[0-9]+)'
diagnosis: {en: The end of the benchmark input., zh: 基准测试输入结束。}
fix: {en: Nothing to do., zh: 无需处理。}
examples: {match: ["casewatch-bench-end 1"]}
YAML
awk -v n="$lines" 'BEGIN {
    for (i = 1; i <= n; i++)
        printf "I1130 04:%02d:%02d.%06d    2187 kubelet.go:2457] \"SyncLoop (probe)\" probe=\"readiness\" status=\"ready\" pod=\"blueking/bk-web-%06d\"\n", (i / 60000) % 60, (i / 1000) % 60, i % 1000000, i
}' >"$work/input.log"
size=$(du -h "$work/input.log" | cut -f1)
echo "input: $lines lines ($size)" >&2

# Waits until FILE holds the marker of run N; prints the seconds since START.
await_marker() {
    until grep -q "casewatch-bench-end $2" "$1" 2>/dev/null; do sleep 0.01; done
    echo "$(date +%s.%N) - $3" | bc
}

echo "| reader | run | seconds | lines/s |"
echo "|---|---:|---:|---:|"
for run in $(seq "$runs"); do
    # The daemon.
    rm -rf "$work/state" "$work/logs"/* && : >"$work/logs/app.log"
    cat >"$work/casewatch.yaml" <<YAML
state_dir: $work/state
patterns: {dirs: [$work/patterns]}
sources:
  files:
    - {path: $work/logs/app.log}
sinks:
  console: {format: json}
YAML
    "$casewatch" run --config "$work/casewatch.yaml" --cache-dir "$work/cache" >"$work/run.out" 2>"$work/run.err" &
    pids+=($!)
    until grep -q "Following files" "$work/run.err"; do sleep 0.05; done
    start=$(date +%s.%N)
    cat "$work/input.log" >>"$work/logs/app.log"
    echo "casewatch-bench-end $run" >>"$work/logs/app.log"
    t=$(await_marker "$work/run.out" "$run" "$start")
    echo "| \`casewatch run\`, \`sources.files: [{path: FILE}]\` | $run | $t | $(echo "($lines + 1) / $t" | bc) |"
    kill "${pids[-1]}"; wait "${pids[-1]}" 2>/dev/null || true

    # tail -F piped into scan.
    rm -f "$work/logs"/* && : >"$work/logs/app.log"
    ( tail -n 0 -F "$work/logs/app.log" 2>/dev/null | "$casewatch" scan - --patterns "$work/patterns" --cache-dir "$work/cache" --format json >"$work/scan.out" 2>/dev/null ) &
    pids+=($!)
    sleep 1  # tail opens the file and seeks to its end
    start=$(date +%s.%N)
    cat "$work/input.log" >>"$work/logs/app.log"
    echo "casewatch-bench-end $run" >>"$work/logs/app.log"
    t=$(await_marker "$work/scan.out" "$run" "$start")
    echo "| \`tail -F FILE \\| casewatch scan -\` | $run | $t | $(echo "($lines + 1) / $t" | bc) |"
    pkill -P "${pids[-1]}" 2>/dev/null || true
    kill "${pids[-1]}" 2>/dev/null || true; wait "${pids[-1]}" 2>/dev/null || true
done
