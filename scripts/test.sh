#!/usr/bin/env bash
# Runs the whole test suite: the README's second command, and what CI runs.
# The tests that need ../shared (the knowledge base and log corpora; CASEWATCH_SHARED names
# another place) are skipped without it and named at the end; with CI=true they fail instead.
set -euo pipefail
cd "$(dirname "$0")/.."
./scripts/install-deps.sh
shared="${CASEWATCH_SHARED:-../shared}"
if [ ! -d "$shared" ]; then
    if [ "${CI:-}" = true ]; then
        echo "casewatch: $shared (the knowledge base and log corpora) must sit beside the repository in CI" >&2
        exit 2
    fi
    echo "casewatch: $shared not found: the tests that need it are skipped" >&2
fi
swift build --build-tests
# Swift Testing writes its results to test-results-swift-testing.xml beside the path given.
rm -f .build/test-results*.xml
set +e
swift test --skip-build --xunit-output .build/test-results.xml 2>&1 | tee .build/test-output.txt | grep -v '^◇'
status=${PIPESTATUS[0]}
set -e
results=.build/test-results-swift-testing.xml
if [ -f "$results" ]; then
    # <testcase classname="Module.Suite" name="test()" > then <skipped>needs ../shared: ...
    skipped=$(awk '
        /<testcase / {
            match($0, /classname="[^"]*"/); suite = substr($0, RSTART + 11, RLENGTH - 12); sub(/.*\./, "", suite)
            match($0, / name="[^"]*"/); name = substr($0, RSTART + 7, RLENGTH - 8)
        }
        /<skipped>needs \.\.\/shared:/ { printf "%s%s/%s", separator, suite, name; separator = ", " }
    ' "$results")
    if [ -n "$skipped" ]; then
        echo "casewatch: skipped (no ../shared beside the repository): $skipped"
    fi
fi
exit "$status"
