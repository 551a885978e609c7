#!/usr/bin/env bash
# Installs the Debian 12 packages casewatch builds and tests with. Idempotent.
#
# The Hyperscan-API library: on x86_64 Debian's libhyperscan-dev 5.4.0, because the engine
# parity test fails with libvectorscan-dev 5.4.9 there (a multi-pattern database misses a line
# PCRE2 and the pattern alone both match; see README "Engine"). Elsewhere (arm64...) only
# Vectorscan exists. The two packages conflict: the one not wanted is removed.
set -euo pipefail

if [ "$(id -u)" -ne 0 ]; then SUDO=sudo; else SUDO=; fi
export DEBIAN_FRONTEND=noninteractive

case "$(uname -m)" in
    x86_64) want=libhyperscan-dev; other='libvectorscan-dev libvectorscan5' ;;
    *) want=libvectorscan-dev; other='libhyperscan-dev libhyperscan5' ;;
esac

# systemd: systemd-journald and systemd-cat, which the journal tests start and use.
# prometheus-alertmanager: the webhook tests start a real Alertmanager on 127.0.0.1;
# openssl: an independent HMAC for the DingTalk / Feishu signature test;
# logrotate: the file source's rotation tests run the real one.
packages=("$want" libpcre2-dev libsystemd-dev zlib1g-dev pkg-config gzip systemd prometheus-alertmanager openssl logrotate)
# Extra packages a caller asks for (the comparison script: ripgrep fail2ban).
packages+=("$@")

missing=()
for p in "${packages[@]}"; do
    dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if [ ${#missing[@]} -gt 0 ]; then
    $SUDO apt-get update -qq
    for p in $other; do
        if dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed"; then
            $SUDO apt-get remove -y -qq "$p" >/dev/null
        fi
    done
    $SUDO apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
fi
echo "casewatch: dependencies installed ($want $(pkg-config --modversion libhs))"
# kubectl: the Kubernetes tests run the real kubectl.1.27 and kubectl.1.33, which Google Cloud
# SDK's `kubectl` package installs beside its dispatcher (apt repository packages.cloud.google.com,
# not Debian's: it is not installed from here, and the build machines have it). Said now, not as
# a dozen failing tests later.
kubectl_dir=$(dirname "$(readlink -f "$(command -v kubectl 2>/dev/null || echo /nonexistent)")")
for v in 1.27 1.33; do
    [ -x "$kubectl_dir/kubectl.$v" ] || echo "casewatch: kubectl.$v not found beside kubectl: the Kubernetes tests will fail (install Google Cloud SDK's kubectl package)" >&2
done
