#!/usr/bin/env bash
# `casewatch triage` on a loopback cluster of 500 pods, 50 of them not ready (20 Elasticsearch
# and 15 gateway pods crash-looping, 15 Pending on a claim): the test fiveHundredPodsFiftyNotReady
# of Tests/EndToEndTests/TriageTests.swift, run alone, through the real kubectl 1.33 against
# KubeAPIServer. Prints the wall time of the triage run (kubectl processes included) for each
# number of kubectl processes at once.
#
# usage: scripts/bench/triage.sh [runs per setting, default 3] [concurrency settings, default "1 4 8 16"]
set -euo pipefail
cd "$(dirname "$0")/../.."
runs=${1:-3}
settings=${2:-1 4 8 16}
export CASEWATCH_SHARED=${CASEWATCH_SHARED:-$PWD/../shared}
swift build --build-tests >/dev/null
echo "machine: $(nproc) cores, $(uname -srm)"
for c in $settings; do
    for _ in $(seq "$runs"); do
        CASEWATCH_TRIAGE_CONCURRENCY=$c swift test --skip-build --filter 'TriageTests/fiveHundredPodsFiftyNotReady' 2>&1 \
            | grep -E '^casewatch triage:|✘' || { echo "the run failed" >&2; exit 1; }
    done
done
