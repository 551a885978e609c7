#!/usr/bin/env bash
# Runs the whole test suite: the README's second command, and what CI runs.
set -euo pipefail
cd "$(dirname "$0")/.."
./scripts/install-deps.sh
if [ ! -d ../shared/corpora ]; then
    echo "casewatch: ../shared (the knowledge base and log corpora) must sit beside the repository" >&2
    exit 2
fi
swift build --build-tests
swift test --skip-build 2>&1 | tee .build/test-output.txt | grep -v '^◇'
exit "${PIPESTATUS[0]}"
