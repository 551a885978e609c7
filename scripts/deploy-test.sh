#!/bin/bash
# The DaemonSet's image, as far as it can be checked without a container engine: a Debian 12
# root made with debootstrap (what `FROM debian:12-slim` starts from), the casewatch .deb
# installed into it with apt (so its declared dependencies are what resolves them, as in
# deploy/Containerfile), then `casewatch validate` run inside it on the ConfigMap's
# configuration from deploy/daemonset.yaml, with NODE_NAME set as the downward API would.
# Slow (debootstrap downloads a base system): CI runs it; DEBOOTSTRAP_CACHE=DIR keeps the
# downloaded packages between runs.
#
#   scripts/deploy-test.sh [PATH.deb]     (default: the newest .build/deb/casewatch_*.deb; needs root)
set -euo pipefail
cd "$(dirname "$0")/.."

deb=${1:-$(ls -t .build/deb/casewatch_*.deb 2>/dev/null | head -1)}
[ -n "$deb" ] && [ -f "$deb" ] || { echo "deploy-test: no .deb (run make deb first)" >&2; exit 2; }
deb=$(readlink -f "$deb")
[ "$(id -u)" = 0 ] || { echo "deploy-test: needs root (debootstrap, chroot)" >&2; exit 2; }
command -v debootstrap >/dev/null || { echo "deploy-test: needs debootstrap (scripts/install-deps.sh debootstrap)" >&2; exit 2; }

scratch=$(mktemp -d /tmp/casewatch-deploy-test.XXXXXX)
root=$scratch/root
cleanup() {
    for m in proc dev; do umount -l "$root/$m" 2>/dev/null || true; done
    rm -rf "$scratch"
}
trap cleanup EXIT

mirror=${DEBIAN_MIRROR:-http://deb.debian.org/debian}
cache=()
if [ -n "${DEBOOTSTRAP_CACHE:-}" ]; then mkdir -p "$DEBOOTSTRAP_CACHE"; cache=(--cache-dir="$(readlink -f "$DEBOOTSTRAP_CACHE")"); fi
echo "deploy-test: debootstrap bookworm (minbase) from $mirror"
debootstrap --variant=minbase "${cache[@]}" bookworm "$root" "$mirror" > "$scratch/debootstrap.log" 2>&1 \
    || { tail -20 "$scratch/debootstrap.log" >&2; exit 1; }

# The ConfigMap's casewatch.yaml: the block under `casewatch.yaml: |`, unindented.
awk '/^  casewatch.yaml: \|/ {on = 1; next} on && /^---/ {exit} on {sub(/^    /, ""); print}' \
    deploy/daemonset.yaml > "$root/etc/casewatch-configmap.yaml"
[ -s "$root/etc/casewatch-configmap.yaml" ] || { echo "deploy-test: no casewatch.yaml in the ConfigMap" >&2; exit 1; }

cp "$deb" "$root/tmp/casewatch.deb"
mount -t proc proc "$root/proc"
mount --bind /dev "$root/dev"
cp /etc/resolv.conf "$root/etc/resolv.conf" 2>/dev/null || true
chroot "$root" apt-get update -qq > "$scratch/apt.log" 2>&1 || { cat "$scratch/apt.log" >&2; exit 1; }
DEBIAN_FRONTEND=noninteractive chroot "$root" apt-get install -y -qq --no-install-recommends /tmp/casewatch.deb \
    >> "$scratch/apt.log" 2>&1 || { tail -30 "$scratch/apt.log" >&2; exit 1; }

failures=0
check() {  # check DESCRIPTION COMMAND...
    if "${@:2}"; then echo "ok   $1"; else echo "FAIL $1"; failures=$((failures + 1)); fi
}
check "casewatch runs in the image" chroot "$root" /usr/bin/casewatch --version
check "the ConfigMap's configuration validates" \
    chroot "$root" env NODE_NAME=node-1 /usr/bin/casewatch validate --config /etc/casewatch-configmap.yaml
check "the installed default configuration validates" chroot "$root" /usr/bin/casewatch validate
[ "$failures" = 0 ] || { echo "deploy-test: $failures check(s) failed" >&2; exit 1; }
echo "deploy-test: ok"
