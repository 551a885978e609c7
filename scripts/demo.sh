#!/usr/bin/env bash
# Installs the dependencies, builds casewatch (release) and scans the bundled example log:
# the first command of the README.
set -euo pipefail
cd "$(dirname "$0")/.."
./scripts/install-deps.sh
swift build -c release --product casewatch
echo
echo "== casewatch scan docs/examples/bkce7-base-install.log"
echo
status=0
./.build/release/casewatch scan docs/examples/bkce7-base-install.log || status=$?
# grep's convention: 0 = cases found, 1 = none, 2 = error. The example has cases.
[ "$status" -eq 0 ]
