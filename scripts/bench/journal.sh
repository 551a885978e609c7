#!/usr/bin/env bash
# Reading a journal: the journald source beside `journalctl -o cat` and a minimal C loop, on the
# same private journal in the same run (docs/PERFORMANCE.md).
#
# A real systemd-journald runs in a private mount namespace (its files on tmpfs, the host's
# journal untouched), N kubelet-like entries of ~127 bytes are written to it through
# systemd-cat, and each reader reads the whole journal from outside through
# /proc/<holder>/root. Needs root (unshare, nsenter).
#
# usage: scripts/bench/journal.sh [ENTRIES] [RUNS]     (default 1000000 entries, 3 runs each)
set -euo pipefail
cd "$(dirname "$0")/../.."
entries="${1:-1000000}"
runs="${2:-3}"

mkdir -p .build/bench
gcc -O2 -o .build/bench/journalloop scripts/bench/journalloop.c $(pkg-config --cflags --libs libsystemd)
swift build -c release --product casewatch >&2
casewatch=.build/release/casewatch

. scripts/bench/journal-namespace.sh

echo "writing $entries entries..." >&2
start=$(date +%s.%N)
write_kubelet_entries "$entries"
end=$(date +%s.%N)
total=$(journalctl -D "$dir" -o cat | wc -l)
size=$(du -sh "$dir" | cut -f1)
echo "journal: $total entries ($size on tmpfs), written in $(echo "$end - $start" | bc) s" >&2

seconds() { local s e; s=$(date +%s.%N); "$@" >/dev/null; e=$(date +%s.%N); echo "$e - $s" | bc; }
rate() { echo "$1 / $2" | bc; }
echo "| reader | run | seconds | entries/s |"
echo "|---|---:|---:|---:|"
for run in $(seq "$runs"); do
    t=$(seconds journalctl -D "$dir" -o cat)
    echo "| \`journalctl -D DIR -o cat >/dev/null\` | $run | $t | $(rate "$total" "$t") |"
    t=$(seconds .build/bench/journalloop "$dir")
    echo "| C loop: \`sd_journal_next\` + \`sd_journal_get_data(\"MESSAGE\")\` | $run | $t | $(rate "$total" "$t") |"
    t=$(seconds .build/bench/journalloop "$dir" enumerate)
    echo "| C loop: \`sd_journal_next\` + every field (\`SD_JOURNAL_FOREACH_DATA\`) | $run | $t | $(rate "$total" "$t") |"
    out=$($casewatch journal-read --directory "$dir" --head --until-caught-up)
    echo "| \`casewatch journal-read --directory DIR --head --until-caught-up\` (the source alone) | $run | $(sed 's/.*seconds=\([^ ]*\).*/\1/' <<<"$out") | $(sed 's/.*records\/s=\([0-9]*\).*/\1/' <<<"$out") |"
    out=$($casewatch journal-read --directory "$dir" --head --until-caught-up --pipeline)
    echo "| \`casewatch journal-read ... --pipeline\` (source, matcher, correlator, alert book; built-in catalog) | $run | $(sed 's/.*seconds=\([^ ]*\).*/\1/' <<<"$out") | $(sed 's/.*records\/s=\([0-9]*\).*/\1/' <<<"$out") |"
done
