#!/usr/bin/env bash
# The whole daemon's delay from a `systemd-cat` write to the alert in the journal, and its CPU
# while the journal is quiet (docs/PERFORMANCE.md, "The daemon").
#
# A private journald as in journal.sh (journal-namespace.sh); `casewatch run` runs inside its
# namespace, as the end-to-end tests run it: it reads the namespace's journal (identifier
# kubelet), matches with the built-in catalog plus one operator case that fires on every
# written line, dedup off (every hit is an alert), and writes each alert to the same journal
# (sinks.journald). Lines `casewatch-latency <phase> <n>` are written through one systemd-cat
# stream per phase: FLOWING lines one every 20 ms, then SPARSE lines one every 3 s (each after a
# quiet spell). The delay of each is the alert entry's __REALTIME_TIMESTAMP minus the written
# entry's, both stamped by journald, read back with `journalctl -o json`, paired by the line
# (the alert's MATCHED_LINE). Then nothing is written for IDLE seconds and the daemon's CPU
# (utime + stime of every thread, /proc/<pid>/stat) is read before and after.
#
# usage: scripts/bench/journal-alert-latency.sh [FLOWING] [SPARSE] [IDLE_SECONDS]
#        (default 1000 writes 20 ms apart, 20 writes 3 s apart, 60 s idle)
set -euo pipefail
cd "$(dirname "$0")/../.."
flowing="${1:-1000}"
sparse="${2:-20}"
idle="${3:-60}"
swift build -c release --product casewatch >&2
casewatch=$(pwd)/.build/release/casewatch

. scripts/bench/journal-namespace.sh

daemon=""
stop_daemon() {
    if [ -n "$daemon" ]; then kill -TERM "$daemon" 2>/dev/null; wait "$daemon" 2>/dev/null || true; daemon=""; fi
}
trap 'stop_daemon; cleanup' EXIT

mkdir -p "$work/daemon/patterns.d"
cat >"$work/daemon/casewatch.yaml" <<CONF
state_dir: $work/daemon/state
patterns: {builtin: true, dirs: [$work/daemon/patterns.d]}
dedup: {enabled: false}
sources:
  journald: {identifiers: [kubelet]}
sinks:
  journald: {}
CONF
cat >"$work/daemon/patterns.d/latency.yaml" <<'CASE'
id: latency-probe
title: {en: "Latency probe", zh: "延迟探针"}
severity: warning
source: {seed: bench, heading: bench}
symptoms:
  - id: probe
    regex: 'casewatch-latency (?<phase>[a-z]+) (?<n>[0-9]+)'
diagnosis: {en: "Probe {n} was written.", zh: "写入了探针 {n}。"}
fix: {en: "Nothing to do.", zh: "无需处理。"}
examples: {match: ['casewatch-latency flowing 17']}
CASE
"$casewatch" validate --config "$work/daemon/casewatch.yaml" >&2

# Its own log is kept in .build/bench/journal-alert-latency.daemon.log.
mkdir -p .build/bench
log=$(pwd)/.build/bench/journal-alert-latency.daemon.log
# Started directly inside the namespace (nsenter execs it: $! is the daemon's pid).
nsenter --target "$holder" --mount -- "$casewatch" run --config "$work/daemon/casewatch.yaml" \
    --cache-dir "$work/daemon/cache" </dev/null >"$work/daemon/out" 2>"$log" 3>&- &
daemon=$!

alerts() { journalctl -D "$dir" -o json SYSLOG_IDENTIFIER=casewatch CASE_ID=latency-probe 2>/dev/null | wc -l; }
# Wait for the alert of each of `want` lines in all (or 60 s).
await_alerts() {
    local want=$1
    for _ in $(seq 600); do
        [ "$(alerts)" -ge "$want" ] && return 0
        sleep 0.1
    done
    echo "only $(alerts) of $want alerts after 60 s; the daemon said:" >&2
    cat "$log" >&2
    return 1
}
# The daemon reads from "now" on once started: a warm-up line until its alert comes back.
for i in $(seq 100); do
    echo "casewatch-latency warmup $i" | inside systemd-cat -t kubelet
    sleep 0.5
    [ "$(alerts)" -ge 1 ] && break
done
[ "$(alerts)" -ge 1 ] || { echo "the daemon raised no alert; it said:" >&2; cat "$log" >&2; exit 1; }
sleep 1
base=$(alerts)

# N lines, one every GAP seconds, through one systemd-cat stream.
writes() {
    for i in $(seq "$2"); do
        echo "casewatch-latency $1 $i"
        sleep "$3"
    done | inside systemd-cat -t kubelet
}
echo "flowing: $flowing writes 20 ms apart..." >&2
writes flowing "$flowing" 0.02
await_alerts $((base + flowing))
sleep 3  # past the source's 2 s of short waits: the next write comes after a quiet spell
echo "sparse: $sparse writes 3 s apart..." >&2
writes sparse "$sparse" 3
await_alerts $((base + flowing + sparse))

echo "idle: $idle s without a write..." >&2
sleep 5
ticks() { awk '{ print $14 + $15 }' "/proc/$daemon/stat"; }
before=$(ticks)
sleep "$idle"
after=$(ticks)
hz=$(getconf CLK_TCK)
threads=$(ls "/proc/$daemon/task" | wc -l)
rss=$(awk '/^VmRSS/ { print $2 " " $3 }' "/proc/$daemon/status")
stop_daemon

journalctl -D "$dir" -o json SYSLOG_IDENTIFIER=kubelet >"$work/written.json"
journalctl -D "$dir" -o json SYSLOG_IDENTIFIER=casewatch CASE_ID=latency-probe >"$work/alerts.json"
echo "casewatch run, $(date +%F), $(nproc) cores, load $(cut -d' ' -f1-3 /proc/loadavg)"
python3 - "$work/written.json" "$work/alerts.json" <<'PY'
import json, sys
written = {}
for line in open(sys.argv[1]):
    e = json.loads(line)
    if isinstance(e.get("MESSAGE"), str) and e["MESSAGE"].startswith("casewatch-latency "):
        written[e["MESSAGE"]] = int(e["__REALTIME_TIMESTAMP"])
delays = {}
for line in open(sys.argv[2]):
    e = json.loads(line)
    m = e.get("MATCHED_LINE")
    if m in written:
        delays.setdefault(m.split()[1], []).append((int(e["__REALTIME_TIMESTAMP"]) - written[m]) / 1000)
print("| writes | alerts | p50 | p90 | p99 | max |")
print("|---|---:|---:|---:|---:|---:|")
for phase, label in (("flowing", "one every 20 ms (entries flowing)"), ("sparse", "one every 3 s (each after a quiet spell)")):
    d = sorted(delays.get(phase, []))
    n = sum(1 for m in written if m.split()[1] == phase)
    if not d:
        print("| %d, %s | 0 | | | | |" % (n, label))
        continue
    q = lambda p: d[min(len(d) - 1, int(p * len(d)))]
    print("| %d, %s | %d | %.1f ms | %.1f ms | %.1f ms | %.1f ms |" % (n, label, len(d), q(0.5), q(0.9), q(0.99), d[-1]))
PY
echo "idle: $((after - before)) clock ticks of CPU in $idle s ($(echo "scale=4; 100 * ($after - $before) / $hz / $idle" | bc) %), $threads threads, RSS $rss"
