#!/bin/bash
# Installs, upgrades (reinstalls) and purges the casewatch .deb with the real dpkg, in a private
# mount namespace whose /usr, /etc and /var are overlays over the host's (upper layers on a
# tmpfs thrown away at the end) and whose /run is an empty tmpfs (so the maintainer scripts see
# no running systemd, as in a chroot or an image build). The host is not changed.
#
# Checks: the package's runtime libraries all come from packages it depends on (no /opt/swift);
# after install the files are where dpkg -L says, the unit and the config are in place, the unit
# is enabled but not started, the conffile is registered, `casewatch validate` passes on the
# installed config and `casewatch --version` runs; after purge nothing of casewatch is left.
#
#   scripts/deb-test.sh [PATH.deb]     (default: the newest .build/deb/casewatch_*.deb; needs root)
set -euo pipefail

deb=${1:-$(ls -t .build/deb/casewatch_*.deb 2>/dev/null | head -1)}
[ -n "$deb" ] && [ -f "$deb" ] || { echo "deb-test: no .deb (run make deb first)" >&2; exit 2; }
deb=$(readlink -f "$deb")
[ "$(id -u)" = 0 ] || { echo "deb-test: needs root (unshare, mount, dpkg)" >&2; exit 2; }

if [ "${DEB_TEST_INSIDE:-}" != 1 ]; then
    scratch=$(mktemp -d /tmp/casewatch-deb-test.XXXXXX)
    status=0
    unshare --mount --propagation private env DEB_TEST_INSIDE=1 DEB_TEST_SCRATCH="$scratch" "$0" "$deb" || status=$?
    rmdir "$scratch"
    exit "$status"
fi

scratch=$DEB_TEST_SCRATCH
mount -t tmpfs tmpfs "$scratch"
for d in usr etc var; do
    mkdir -p "$scratch/$d.upper" "$scratch/$d.work"
    mount -t overlay overlay -o "lowerdir=/$d,upperdir=$scratch/$d.upper,workdir=$scratch/$d.work" "/$d"
done
mount -t tmpfs tmpfs /run
mkdir -p /run/lock

failures=0
check() {  # check DESCRIPTION COMMAND...
    if "${@:2}"; then echo "ok   $1"; else echo "FAIL $1"; failures=$((failures + 1)); fi
}

# The binary's libraries: each resolved, none from the Swift toolchain, each owned by a package
# the control file depends on (or by libc6, libstdc++6, libgcc-s1, which it names too).
tmp=$scratch/extract
dpkg-deb -x "$deb" "$tmp"
depends=$(dpkg-deb -f "$deb" Depends)
libs=$(ldd "$tmp/usr/bin/casewatch" | awk '/=>/ {print $3}')
check "no library is missing" bash -c "! ldd '$tmp/usr/bin/casewatch' | grep -q 'not found'"
check "nothing from /opt/swift" bash -c "! grep -q /opt/swift <<< '$libs'"
for lib in $(ldd "$tmp/usr/bin/casewatch" | awk '/=>/ {print $1}'); do
    # Only the directly needed ones must be declared: the rest come with them.
    readelf -d "$tmp/usr/bin/casewatch" | grep -q "Shared library: \[$lib\]" || continue
    path=$(ldd "$tmp/usr/bin/casewatch" | awk -v l="$lib" '$1 == l {print $3}')
    pkg=$(dpkg -S "$(readlink -f "$path")" 2>/dev/null | head -1 | cut -d: -f1 || true)
    [ -n "$pkg" ] || pkg=$(dpkg -S "$path" 2>/dev/null | head -1 | cut -d: -f1 || true)
    check "$lib comes from $pkg, in Depends" grep -qxF "$pkg" <<< "$(tr ',|' '\n\n' <<< "$depends" | awk '{print $1}')"
done

# What exists before: a shared directory such as /usr/share/man stays after a purge.
dpkg-deb -c "$deb" | awk '{print $6}' | sed -e 's|^\./|/|' -e 's|/$||' | grep -v '^$' > "$scratch/contents"
while read -r f; do [ -e "$f" ] && echo "$f"; done < "$scratch/contents" > "$scratch/before" || true

dpkg -i "$deb" > "$scratch/install.log" 2>&1 || { cat "$scratch/install.log"; exit 1; }
check "dpkg says installed" bash -c "dpkg-query -W -f='\${Status}' casewatch | grep -q 'install ok installed'"
dpkg -L casewatch > "$scratch/files"
missing=0
while read -r f; do [ -e "$f" ] || { echo "  missing: $f"; missing=1; }; done < "$scratch/files"
check "every file dpkg -L lists exists" test "$missing" = 0
for f in /usr/bin/casewatch /usr/lib/systemd/system/casewatch.service /etc/casewatch/casewatch.yaml \
    /usr/lib/systemd/catalog/casewatch.catalog /usr/share/doc/casewatch/copyright /usr/share/casewatch/patterns; do
    check "$f in place" test -e "$f"
done
check "the config is a conffile" bash -c "dpkg-query -W -f='\${Conffiles}' casewatch | grep -q /etc/casewatch/casewatch.yaml"
check "the unit is enabled" test -L /etc/systemd/system/multi-user.target.wants/casewatch.service
check "the unit names the installed binary" grep -q '^ExecStart=/usr/bin/casewatch run' /usr/lib/systemd/system/casewatch.service
check "the unit was not started (no systemd here, nothing in /run)" test ! -e /run/systemd/units
check "casewatch --version runs" /usr/bin/casewatch --version
# No CASEWATCH_PATTERNS: the binary finds /usr/share/casewatch/patterns beside itself.
check "casewatch validate passes on the installed config" \
    env -u CASEWATCH_PATTERNS /usr/bin/casewatch validate --config /etc/casewatch/casewatch.yaml --cache-dir "$scratch/cache"

# An upgrade (the same package again: postinst configure with the old version) keeps an
# operator's edit of the conffile and the enablement.
echo "# edited by the operator" >> /etc/casewatch/casewatch.yaml
dpkg -i --force-confold "$deb" > "$scratch/upgrade.log" 2>&1 || { cat "$scratch/upgrade.log"; exit 1; }
check "an upgrade keeps the edited config" grep -q "edited by the operator" /etc/casewatch/casewatch.yaml
check "an upgrade keeps the unit enabled" test -L /etc/systemd/system/multi-user.target.wants/casewatch.service

# State and cache as the running unit would leave them (DynamicUser: under private/).
mkdir -p /var/lib/private/casewatch /var/cache/private/casewatch
ln -sfn private/casewatch /var/lib/casewatch
ln -sfn private/casewatch /var/cache/casewatch
echo '{}' > /var/lib/private/casewatch/state.json

dpkg --purge casewatch > "$scratch/purge.log" 2>&1 || { cat "$scratch/purge.log"; exit 1; }
check "dpkg no longer knows casewatch" bash -c "! dpkg-query -W casewatch >/dev/null 2>&1 || dpkg-query -W -f='\${Status}' casewatch | grep -q 'not-installed'"
left=0
while read -r f; do
    case "$f" in /.|/) continue ;; esac
    grep -qxF "$f" "$scratch/before" && continue
    [ -e "$f" ] && { echo "  left: $f"; left=1; }
done < <(cat "$scratch/files" "$scratch/contents" | sort -u)
for f in /etc/casewatch /var/lib/casewatch /var/lib/private/casewatch /var/cache/casewatch /var/cache/private/casewatch \
    /etc/systemd/system/multi-user.target.wants/casewatch.service /var/lib/systemd/deb-systemd-helper-enabled/casewatch.service; do
    [ -e "$f" ] || [ -L "$f" ] && { echo "  left: $f"; left=1; }
done
check "nothing of casewatch is left after purge" test "$left" = 0

if [ "$failures" = 0 ]; then echo "deb-test: all checks passed"; else echo "deb-test: $failures check(s) failed"; exit 1; fi
