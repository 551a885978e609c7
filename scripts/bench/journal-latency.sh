#!/usr/bin/env bash
# The journald source's delay from a write to delivery, and its CPU while the journal is quiet
# (docs/PERFORMANCE.md). A private journald as in journal.sh; `casewatch journal-read --latency`
# times each `casewatch-latency <µs since the epoch>` entry from the moment `date` printed it,
# through systemd-cat and journald, to the moment the source delivered it.
#
# usage: scripts/bench/journal-latency.sh [FLOWING_WRITES] [SPARSE_WRITES] [IDLE_SECONDS]
#        (default 1000 writes 20 ms apart, 20 writes 3 s apart, 60 s idle)
set -euo pipefail
cd "$(dirname "$0")/../.."
flowing="${1:-1000}"
sparse="${2:-20}"
idle="${3:-60}"
swift build -c release --product casewatch >&2
casewatch=$(pwd)/.build/release/casewatch

. scripts/bench/journal-namespace.sh

# Writes N timed entries, one every GAP seconds, through one systemd-cat stream.
writes() {
    for _ in $(seq "$1"); do
        echo "casewatch-latency $(date +%s%6N)"
        sleep "$2"
    done | inside systemd-cat -t latency
}
# Reads N timed entries from now on while `writes N GAP` runs.
measure() {
    "$casewatch" journal-read --directory "$dir" --identifier latency --latency --count "$1" >"$work/out" &
    local reader=$!
    sleep 1  # the reader opens the journal and seeks to its end first
    writes "$1" "$2"
    wait "$reader"
    tail -1 "$work/out"
}
echo "flowing, $flowing writes 20 ms apart: $(measure "$flowing" 0.02)"
echo "sparse, $sparse writes 3 s apart:     $(measure "$sparse" 3)"

# CPU over a quiet stretch: nothing is written while the source waits.
"$casewatch" journal-read --directory "$dir" --identifier latency >/dev/null &
reader=$!
sleep 3  # past the source's 2 s of short waits after start
ticks() { awk '{ print $14 + $15 }' "/proc/$reader/stat"; }
before=$(ticks)
sleep "$idle"
after=$(ticks)
kill "$reader"
wait "$reader" 2>/dev/null || true
hz=$(getconf CLK_TCK)
echo "idle: $((after - before)) clock ticks of CPU in $idle s ($(echo "scale=4; 100 * ($after - $before) / $hz / $idle" | bc) %)"
