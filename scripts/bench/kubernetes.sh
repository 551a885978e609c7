#!/bin/sh
# The Kubernetes source's costs (docs/PERFORMANCE.md, "The Kubernetes source"): `casewatch run`
# following 200 pod streams (transport kubectl-logs: one `kubectl logs -f` each; kubectl-proxy:
# one `kubectl proxy`, 200 HTTP streams through it) against the test
# suite's loopback API server, 1,000 lines/s in total, one line in 100 an alert: the daemon's RSS,
# its kubectl children's PSS summed, CPU, and the write-to-alert latency.
#   scripts/bench/kubernetes.sh [1.27|1.33] [kubectl-logs|kubectl-proxy]
#                                    (env: CASEWATCH_BENCH_PODS, _RATE, _SECONDS)
set -eu
cd "$(dirname "$0")/../.."
export CASEWATCH_BENCH_KUBERNETES=1 CASEWATCH_BENCH_KUBECTL="${1:-1.33}" CASEWATCH_BENCH_TRANSPORT="${2:-kubectl-logs}"
swift build -c release --product casewatch >/dev/null
export CASEWATCH_BENCH_BINARY="$(swift build -c release --show-bin-path)/casewatch"
export CASEWATCH_SHARED="${CASEWATCH_SHARED:-$(pwd)/../shared}"
swift build --build-tests >/dev/null
swift test --skip-build --filter KubernetesBenchmark 2>&1 | grep 'KUBERNETES-BENCH' | sed 's/^ *KUBERNETES-BENCH //'
