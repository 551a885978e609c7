# Sourced by the journal benchmarks: starts a real systemd-journald in a private mount
# namespace (its files on tmpfs under /run/log/journal, the host's journal untouched), as the
# tests' IsolatedJournald does. Needs root. Sets:
#   holder   the pid owning the namespace      journald  journald's pid
#   dir      the journal directory, seen from outside (/proc/<holder>/root/run/log/journal/<machine-id>)
#   inside CMD...   runs a command inside the namespace
#   write_kubelet_entries N   writes N kubelet-like entries of ~127 bytes (systemd-cat -t kubelet)
# and removes everything on exit.

work=$(mktemp -d /tmp/casewatch-bench-journal.XXXXXX)
holder=""
journald=""
cleanup() {
    if [ -n "$journald" ]; then kill "$journald" 2>/dev/null; wait "$journald" 2>/dev/null || true; fi
    exec 3>&- || true
    if [ -n "$holder" ]; then wait "$holder" 2>/dev/null || true; fi
    rm -rf "$work"
}
trap cleanup EXIT

cat >"$work/journald.conf" <<CONF
[Journal]
Storage=volatile
RuntimeMaxUse=8G
RuntimeMaxFileSize=256M
RateLimitIntervalSec=0
RateLimitBurst=0
ReadKMsg=no
ForwardToSyslog=no
ForwardToWall=no
CONF
mkfifo "$work/hold" "$work/said"
# The holder owns the namespace for the whole run; it ends when this script closes fd 3.
unshare --mount --propagation private -- /bin/sh -c "
    set -e
    mount -t tmpfs -o mode=0755 tmpfs /run/systemd
    mkdir -p /run/systemd/journal /run/systemd/journald.conf.d
    cp '$work/journald.conf' /run/systemd/journald.conf.d/zz-bench.conf
    mount -t tmpfs -o mode=0755 tmpfs /run/log
    mkdir -p /run/log/journal
    if [ -d /var/log/journal ]; then mount -t tmpfs tmpfs /var/log/journal; fi
    echo ready >'$work/said'
    exec cat >/dev/null" <"$work/hold" &
holder=$!
exec 3>"$work/hold"
read -r _ <"$work/said"
inside() { nsenter --target "$holder" --mount -- "$@"; }
# Started directly (not through `inside`, whose subshell would be the pid), without fd 3.
nsenter --target "$holder" --mount -- /lib/systemd/systemd-journald </dev/null >/dev/null 2>&1 3>&- &
journald=$!
until inside journalctl --sync 2>/dev/null; do sleep 0.1; done
dir="/proc/$holder/root/run/log/journal/$(cat /etc/machine-id)"

# N kubelet-like entries of ~127 bytes through one systemd-cat stream; returns once journald has
# written them all.
write_kubelet_entries() {
    awk -v n="$1" 'BEGIN {
        for (i = 1; i <= n; i++)
            printf "I1130 04:%02d:%02d.%06d    2187 kubelet.go:2457] \"SyncLoop (probe)\" probe=\"readiness\" status=\"ready\" pod=\"blueking/bk-web-%06d\"\n", (i / 60000) % 60, (i / 1000) % 60, i % 1000000, i
    }' | inside systemd-cat -t kubelet
    inside journalctl --sync
}
