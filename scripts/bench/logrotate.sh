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
# usage: scripts/bench/logrotate.sh [SECONDS]      (needs the test build: swift build --build-tests)
set -euo pipefail
cd "$(dirname "$0")/../.."
export CASEWATCH_ROTATE_SECONDS="${1:-60}" CASEWATCH_ROTATE_VARIANTS=all
export CASEWATCH_SHARED="${CASEWATCH_SHARED:-$(cd .. && pwd)/shared}"
swift build --build-tests >&2
swift test --skip-build --filter 'FileSourceTests/logrotateEverySecond' 2>&1 | grep -E '^logrotate |✘|✔ Test run|failed'
