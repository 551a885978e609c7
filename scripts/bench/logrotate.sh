#!/usr/bin/env bash
# The issue's full figure for the file source under real logrotate: a writer at 10,000
# numbered lines/s, `logrotate -f` every second for SECONDS (default 60), in the four modes
# (create or copytruncate, each with compress and with compress + delaycompress), dedup off and
# a case that fires on every line; counts every alert per line number (docs/PERFORMANCE.md).
# It runs the suite's own test (FileSourceTests.logrotateEverySecondLosesNoLineAndRepeatsNone,
# which runs 8 s and two modes by default) with the full duration and all modes; the test fails
# on any line alerted twice, or missing (create: any line written; copytruncate: any line
# present in some file after the run), and prints one line per mode.
#
# The daemon is the release build (CASEWATCH_BINARY); the suite runs the debug one.
#
# usage: scripts/bench/logrotate.sh [SECONDS] [RATE]     (default 60 s, 10000 lines/s)
set -euo pipefail
cd "$(dirname "$0")/../.."
export CASEWATCH_ROTATE_SECONDS="${1:-60}" CASEWATCH_ROTATE_VARIANTS=all CASEWATCH_ROTATE_RATE="${2:-10000}"
swift build -c release --product casewatch >&2
export CASEWATCH_BINARY="$(pwd)/.build/release/casewatch"
export CASEWATCH_SHARED="${CASEWATCH_SHARED:-$(cd .. && pwd)/shared}"
swift build --build-tests >&2
swift test --skip-build --filter 'FileSourceTests/logrotateEverySecond' 2>&1 | grep -E '^logrotate |✘|✔ Test run|failed'
