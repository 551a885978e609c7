#!/usr/bin/env bash
# Alerts per second through a webhook sink's spool to a local receiver, json format
# (docs/PERFORMANCE.md, "Webhooks").
#
# A private journald as in journal.sh (journal-namespace.sh) holds N numbered lines, written
# before the daemon starts; `casewatch run` (inside the namespace) reads them all
# (`since: all`), one operator case fires on each (dedup off: N distinct alerts), and the sink
# appends each to its spool (fdatasync) and POSTs it to a receiver on 127.0.0.1 (Python's
# ThreadingHTTPServer, answering 200 and counting). The figure: N over the time from the
# receiver's first request to its N-th. Also the time from the start to the last alert spooled
# (the hub's side alone), read from the spool's queue file.
#
# usage: sudo scripts/bench/webhook-throughput.sh [N]   (default 5000)
set -euo pipefail
cd "$(dirname "$0")/../.."
n="${1:-5000}"
swift build -c release --product casewatch >&2
casewatch=$(pwd)/.build/release/casewatch

. scripts/bench/journal-namespace.sh

daemon=""
receiver=""
stop_all() {
    if [ -n "$daemon" ]; then kill -TERM "$daemon" 2>/dev/null; wait "$daemon" 2>/dev/null || true; daemon=""; fi
    if [ -n "$receiver" ]; then kill "$receiver" 2>/dev/null; wait "$receiver" 2>/dev/null || true; receiver=""; fi
}
trap 'stop_all; cleanup' EXIT

# The receiver: prints its port, then, once it has N requests, the seconds between the first and
# the N-th.
cat >"$work/receiver.py" <<'PY'
import sys, time, threading
from http.server import ThreadingHTTPServer, BaseHTTPRequestHandler
want = int(sys.argv[1]); lock = threading.Lock(); times = []
class H(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    def do_POST(self):
        self.rfile.read(int(self.headers.get("Content-Length", 0)))
        with lock:
            times.append(time.monotonic())
            if len(times) == want:
                print("%.6f" % (times[-1] - times[0]), flush=True)
        self.send_response(200); self.send_header("Content-Length", "0"); self.end_headers()
    def log_message(self, *a): pass
s = ThreadingHTTPServer(("127.0.0.1", 0), H)
print(s.server_address[1], flush=True)
s.serve_forever()
PY
mkfifo "$work/receiver.out"
python3 "$work/receiver.py" "$n" >"$work/receiver.out" &
receiver=$!
exec 4<"$work/receiver.out"
read -r port <&4

mkdir -p "$work/daemon/patterns.d"
cat >"$work/daemon/patterns.d/probe.yaml" <<'CASE'
id: throughput-probe
title: {en: "Throughput probe", zh: "吞吐探针"}
severity: warning
source: {seed: bench, heading: bench}
symptoms:
  - id: probe
    regex: 'casewatch-throughput (?<n>[0-9]+)'
diagnosis: {en: "Probe {n} was written.", zh: "写入了探针 {n}。"}
fix: {en: "Nothing to do.", zh: "无需处理。"}
examples: {match: ['casewatch-throughput 17']}
CASE
cat >"$work/daemon/casewatch.yaml" <<CONF
state_dir: $work/daemon/state
patterns: {builtin: false, dirs: [$work/daemon/patterns.d]}
dedup: {enabled: false}
sources:
  journald: {identifiers: [probe], since: all}
sinks:
  webhooks:
    - {name: bench, url: "http://127.0.0.1:$port/alerts", format: json}
CONF
"$casewatch" validate --config "$work/daemon/casewatch.yaml" >&2
seq 1 "$n" | sed 's/^/casewatch-throughput /' | inside systemd-cat -t probe
inside journalctl --sync

start=$(date +%s.%N)
nsenter --target "$holder" --mount -- "$casewatch" run --config "$work/daemon/casewatch.yaml" \
    --cache-dir "$work/daemon/cache" </dev/null >"$work/daemon/out" 2>"$work/daemon/log" 3>&- 4<&- &
daemon=$!
read -r seconds <&4
end=$(date +%s.%N)
spooled=$(stat -c %Y.%y "$work/daemon/state/spool/bench/queue" >/dev/null; python3 -c "import os,sys; print(os.stat(sys.argv[1]).st_mtime)" "$work/daemon/state/spool/bench/queue")
python3 - "$n" "$seconds" "$start" "$end" "$spooled" <<'PY'
import sys
n, sec, start, end, spooled = int(sys.argv[1]), float(sys.argv[2]), float(sys.argv[3]), float(sys.argv[4]), float(sys.argv[5])
print(f"{n} alerts: first to last request {sec:.3f} s = {n/sec:,.0f} alerts/s delivered")
print(f"start to last request {end-start:.3f} s; start to last alert spooled {spooled-start:.3f} s = {n/(spooled-start):,.0f} alerts/s spooled (catalog compile and start included)")
PY
