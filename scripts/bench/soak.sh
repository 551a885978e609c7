#!/usr/bin/env bash
# Soak (issue #9): `casewatch run` with the journald and files sources under a steady load, its
# RSS, CPU and open file descriptors sampled every minute into a table (docs/PERFORMANCE.md).
#
# A real systemd-journald runs in a private mount namespace (journal-namespace.sh, as the
# journal benchmarks do) and the daemon runs inside it. Two writers share RATE lines/s: half
# kubelet-like entries through `systemd-cat -t kubelet`, half lines appended to a log file
# that logrotate (create mode, compress) rotates once a minute; the file writer reopens its file
# after a rotation, as a daemon does on its postrotate signal. One line in 1,000 is a
# CrashLoopBackOff line of the built-in catalog, so alerts are raised (dedup on, journald sink).
#
# usage: scripts/bench/soak.sh [SECONDS] [RATE] [SAMPLE_SECONDS]
#        (default 1800 s, 5000 lines/s, a sample every 60 s); needs root (unshare, nsenter)
# SOAK_SOURCES=journald or files: only that source and its writer (RATE/2 lines/s), to tell
# which one a growth comes from. CASEWATCH_BIN: the binary to run (default the release build).
set -euo pipefail
cd "$(dirname "$0")/../.."
duration="${1:-1800}"
rate="${2:-5000}"
every="${3:-60}"
# CASEWATCH_SKIP_BUILD=1: use the release binary already built.
[ -n "${CASEWATCH_SKIP_BUILD:-}" ] || swift build -c release --product casewatch >&2
casewatch=${CASEWATCH_BIN:-$(pwd)/.build/release/casewatch}
sources="${SOAK_SOURCES:-journald,files}"

. scripts/bench/journal-namespace.sh
# journal-namespace.sh's cleanup removes $work; the daemon and writers go first.
soak_pids=()
soak_cleanup() {
    for p in "${soak_pids[@]}"; do kill "$p" 2>/dev/null || true; wait "$p" 2>/dev/null || true; done
    cleanup
}
trap soak_cleanup EXIT

mkdir -p "$work/logs" "$work/state"
log="$work/logs/app.log"
: >"$log"
cat >"$work/casewatch.yaml" <<YAML
state_dir: $work/state
sources:
$(case ",$sources," in *,journald,*) echo "  journald: {identifiers: [kubelet]}";; esac)
$(case ",$sources," in *,files,*) printf '  files:\n    - {path: %s}\n' "$log";; esac)
sinks:
  journald: {}
YAML
cat >"$work/logrotate.conf" <<CONF
$log {
    create
    rotate 5
    compress
    missingok
}
CONF
nsenter --target "$holder" --mount -- "$casewatch" run --config "$work/casewatch.yaml" --cache-dir "$work/cache" \
    </dev/null >"$work/run.out" 2>"$work/run.err" 3>&- &
daemon=$!
soak_pids+=("$daemon")
until grep -q "casewatch started" "$work/run.err"; do sleep 0.1; done

# The writers: RATE/2 lines/s each, in 100 ms slices.
writer=$(cat <<'PY'
import os, sys, time
target, rate = sys.argv[1], int(sys.argv[2])
crash = 'E1130 10:00:00.000000    1234 pod_workers.go:965] "Error syncing pod, skipping" err="failed to \\"StartContainer\\" for \\"gateway\\" with CrashLoopBackOff: \\"back-off 5m0s restarting failed container=gateway pod=bk-repo-gateway-0_blueking(8a1b)\\""'
def line(i):
    if i % 1000 == 0: return crash + "\n"
    return 'I1130 04:00:00.%06d    2187 kubelet.go:2457] "SyncLoop (probe)" probe="readiness" status="ready" pod="blueking/bk-web-%06d"\n' % (i % 1000000, i)
out = sys.stdout if target == "-" else None
fd = None
def reopen():
    global fd
    if fd is not None: os.close(fd)
    fd = os.open(target, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o644)
if out is None: reopen()
start, i = time.time(), 0
try:
  while True:
      due = int((time.time() - start) * rate)
      if due > i:
          text = "".join(line(n) for n in range(i, due))
          if out is not None:
              out.write(text); out.flush()
          else:
              try:
                  if os.stat(target).st_ino != os.fstat(fd).st_ino: reopen()
              except FileNotFoundError:
                  pass
              os.write(fd, text.encode())
          i = due
      time.sleep(0.1)
except (BrokenPipeError, KeyboardInterrupt):
    os._exit(0)  # the soak ended: its reader (systemd-cat) went first (no flush at exit)
PY
)
case ",$sources," in *,journald,*)
python3 -c "$writer" - $((rate / 2)) | nsenter --target "$holder" --mount -- systemd-cat -t kubelet 3>&- &
soak_pids+=($!) ;; esac
case ",$sources," in *,files,*)
python3 -c "$writer" "$log" $((rate / 2)) 3>&- &
soak_pids+=($!)
( while sleep 60; do /usr/sbin/logrotate -f -s "$work/logrotate.state" "$work/logrotate.conf" || true; done ) 3>&- &
soak_pids+=($!) ;; esac

hz=$(getconf CLK_TCK)
ticks() { awk '{ print $14 + $15 }' "/proc/$daemon/stat"; }
rss() { awk '/^VmRSS/ { printf "%.1f", $2 / 1024 }' "/proc/$daemon/status"; }
# RssAnon: the heap. RSS also counts the journal files sd-journal maps (tmpfs, RssShmem), which
# grow until journald rotates its file: not a leak.
anon() { awk '/^RssAnon/ { printf "%.1f", $2 / 1024 }' "/proc/$daemon/status"; }
fds() { ls "/proc/$daemon/fd" | wc -l; }
case "$sources" in
    journald,files) load="$rate lines/s ($((rate / 2)) journald, $((rate / 2)) file, logrotate every 60 s)" ;;
    journald) load="$((rate / 2)) lines/s (journald only)" ;;
    files) load="$((rate / 2)) lines/s (file only, logrotate every 60 s)" ;;
esac
echo "load: $load, $duration s, a sample every $every s" >&2
echo "work: $work (sources: $sources, daemon pid $daemon)" >&2
echo "| minute | RSS MB | anon MB | CPU % of one core | open fds | alerts in the journal |"
echo "|---:|---:|---:|---:|---:|---:|"
elapsed=0
before=$(ticks)
while [ "$elapsed" -lt "$duration" ]; do
    sleep "$every"
    elapsed=$((elapsed + every))
    if ! kill -0 "$daemon" 2>/dev/null; then echo "casewatch exited: $(tail -5 "$work/run.err")" >&2; exit 1; fi
    now=$(ticks)
    cpu=$(echo "scale=1; 100 * ($now - $before) / $hz / $every" | bc)
    before=$now
    alerts=$(journalctl -D "$dir" SYSLOG_IDENTIFIER=casewatch -o cat 2>/dev/null | wc -l)
    echo "| $(awk -v e=$elapsed 'BEGIN { printf "%g", e / 60 }') | $(rss) | $(anon) | $cpu | $(fds) | $alerts |"
done
grep -E '^<[0-3]>' "$work/run.err" | sort | uniq -c | head -20 >&2 || true
