#!/usr/bin/env bash
# Runs the side-by-side comparison (docs/PERFORMANCE.md): builds what it needs first.
set -euo pipefail
cd "$(dirname "$0")/../.."
./scripts/install-deps.sh ripgrep fail2ban
python3 scripts/bench/make_inputs.py >/dev/null
gcc -O2 -o .build/bench/pcre2loop scripts/bench/pcre2loop.c $(pkg-config --cflags --libs libpcre2-8)
swift build -c release --product casewatch
python3 scripts/bench/compare.py "$@"
