#!/usr/bin/env bash
# fail2ban's systemd backend beside casewatch on the same private journal as journal.sh, with the
# same 50 built-in patterns, in the same run (docs/PERFORMANCE.md, "Reading the journal").
#
# scripts/bench/fail2ban_patterns.py takes, in catalog order, the first 50 distinct symptom
# regexes of the built-in catalog that Python's `re` and fail2ban's filter reader take as they
# are (named groups written (?P<n>...)), and writes them as a fail2ban filter (prefregex with
# <F-CONTENT>: the failregex see MESSAGE alone, as casewatch does) and as a catalog of 50
# one-symptom cases. Before timing anything, both tools scan every example line of the built-in
# catalog with those patterns and must match the same lines.
#
# Then N kubelet-like entries (journal.sh's) are written to a real systemd-journald in a private
# mount namespace, and each reader reads the whole journal from its head, from outside through
# /proc/<holder>/root:
#   - journalctl -D DIR -o cat (for reference),
#   - casewatch journal-read --pipeline with the 50 patterns (--no-builtin --patterns DIR),
#   - casewatch journal-read --pipeline with the built-in catalog,
#   - fail2ban-regex "systemd-journal[journalpath=DIR]" FILTER, end to end (Python's start, the
#     filter's compile, reading, matching; about 20 k entries/s, so the whole journal in a minute),
#     and the same with the first of the 50 patterns only: what reading the journal costs it.
# Needs root (unshare, nsenter), fail2ban and python3-systemd:
#   ./scripts/install-deps.sh fail2ban python3-systemd
#
# usage: scripts/bench/journal-fail2ban.sh [ENTRIES] [RUNS]   (default 1000000 entries, 3 runs)
set -euo pipefail
cd "$(dirname "$0")/../.."
entries="${1:-1000000}"
runs="${2:-3}"

command -v fail2ban-regex >/dev/null && /usr/bin/python3 -c 'import systemd.journal' 2>/dev/null || {
    echo "needs fail2ban and python3-systemd: ./scripts/install-deps.sh fail2ban python3-systemd" >&2
    exit 2
}
swift build -c release --product casewatch >&2
casewatch=$(pwd)/.build/release/casewatch

. scripts/bench/journal-namespace.sh
# The generated filter and catalog are kept for reference (chosen.tsv: which 50).
f2b=$(pwd)/.build/bench/journal-fail2ban
rm -rf "$f2b"
cache="$work/cache"
"$casewatch" cases list --format json | /usr/bin/python3 scripts/bench/fail2ban_patterns.py 50 "$f2b"
echo "patterns: $f2b/chosen.tsv; passed over: $(cut -f1,2 --output-delimiter=/ "$f2b/skipped.tsv" | tr '\n' ' ')" >&2
# Dedup off: every hit is an alert, as every failregex hit is a failure for fail2ban.
printf 'dedup: {enabled: false}\n' >"$work/casewatch.yaml"
fifty=(--config "$work/casewatch.yaml" --no-builtin --patterns "$f2b/patterns" --cache-dir "$cache")
builtin=(--config "$work/casewatch.yaml" --cache-dir "$cache")

# Agreement: every example line of the built-in catalog, the same lines matched by both.
"$casewatch" scan "${fifty[@]}" --no-dedup --format json "$f2b/examples.log" >"$work/scan.json"
fail2ban-regex --datepattern '{NONE}' -o msg "$f2b/examples-fail2ban.log" "$f2b/fail2ban.conf" >"$work/f2b.txt"
/usr/bin/python3 - "$f2b/examples.log" "$work/scan.json" "$work/f2b.txt" <<'PY' >&2
import collections, json, sys
lines = open(sys.argv[1], encoding="utf-8").read().split("\n")
cw = collections.Counter(lines[n - 1] for n in {json.loads(l)["line_number"] for l in open(sys.argv[2])})
fb = collections.Counter(l.rstrip("\n").split(": ", 1)[1] for l in open(sys.argv[3], encoding="utf-8"))
if cw != fb:
    sys.exit("casewatch and fail2ban disagree on the example lines: %r / %r" % (cw - fb, fb - cw))
print("agreement: of %d example lines, both match the same %d" % (len(lines) - 1, sum(cw.values())))
PY

echo "writing $entries entries..." >&2
write_kubelet_entries "$entries"
total=$(journalctl -D "$dir" -o cat | wc -l)
echo "journal: $total entries ($(du -sh "$dir" | cut -f1) on tmpfs)" >&2
# Compile both databases into the cache once (journal-read times the reading, not the compile).
"$casewatch" journal-read "${fifty[@]}" --directory "$dir" --head --count 1 --pipeline >/dev/null 2>&1
"$casewatch" journal-read "${builtin[@]}" --directory "$dir" --head --count 1 --pipeline >/dev/null 2>&1

# timed OUT CMD...: runs CMD with its output in OUT; sets wall (seconds) and cpu (user + system
# seconds of the whole process: less sensitive than wall-clock time to other work on the machine).
timed() {
    local o=$1; shift
    /usr/bin/time -f '%e %U %S' -o "$work/time" "$@" >"$o" 2>/dev/null
    wall=$(awk '{ print $1 }' "$work/time")
    cpu=$(awk '{ printf "%.2f", $2 + $3 }' "$work/time")
}
field() { sed -n "s/.*$1=\([^ ]*\).*/\1/p" "$work/last"; }
echo "journal-fail2ban.sh $entries $runs, $(date +%F), $(nproc) cores, load before $(cut -d' ' -f1-3 /proc/loadavg)"
echo
echo "| reader | run | entries | seconds | entries/s | CPU s | entries per CPU s | matched |"
echo "|---|---:|---:|---:|---:|---:|---:|---:|"
row() { echo "| $1 | $run | $2 | $3 | $(echo "$2 / $3" | bc) | $cpu | $(echo "$2 / $cpu" | bc) | $4 |"; }
for run in $(seq "$runs"); do
    timed /dev/null journalctl -D "$dir" -o cat
    row "journalctl -D DIR -o cat" "$total" "$wall" ""
    # journal-read's own seconds: from the first read to the end (the catalog is loaded before).
    timed "$work/last" "$casewatch" journal-read "${fifty[@]}" --directory "$dir" --head --until-caught-up --pipeline
    row "casewatch journal-read --pipeline, the 50 patterns" "$(field records)" "$(field seconds)" "$(field alerts)"
    timed "$work/last" "$casewatch" journal-read "${builtin[@]}" --directory "$dir" --head --until-caught-up --pipeline
    row "casewatch journal-read --pipeline, built-in catalog" "$(field records)" "$(field seconds)" "$(field alerts)"
    # End to end: Python's start, reading the filter, compiling, reading and matching.
    timed "$work/last" fail2ban-regex --print-no-missed --print-no-ignored "systemd-journal[journalpath=$dir]" "$f2b/fail2ban.conf"
    stats=$(grep -o 'Lines: [0-9]* lines, [0-9]* ignored, [0-9]* matched' "$work/last")
    row "fail2ban-regex, systemd backend, the 50 patterns" "$(awk '{ print $2 }' <<<"$stats")" "$wall" "$(awk '{ print $6 }' <<<"$stats")"
    timed "$work/last" fail2ban-regex --print-no-missed --print-no-ignored "systemd-journal[journalpath=$dir]" "$f2b/fail2ban-1.conf"
    stats=$(grep -o 'Lines: [0-9]* lines, [0-9]* ignored, [0-9]* matched' "$work/last")
    row "fail2ban-regex, systemd backend, 1 pattern (its reading cost)" "$(awk '{ print $2 }' <<<"$stats")" "$wall" "$(awk '{ print $6 }' <<<"$stats")"
done
echo
echo "load after $(cut -d' ' -f1-3 /proc/loadavg)"
