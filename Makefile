# casewatch: build, install, package. `make install` needs root for the default prefixes.
#
#   make                      release build (.build/release/casewatch)
#   make install              PREFIX=/usr/local SYSCONFDIR=/etc, DESTDIR for staging;
#                             CASEWATCH_BIN=path installs a binary already built (no rebuild)
#   make uninstall            removes what install installed, never the configuration or state
#   make deb                  a .deb in .build/deb/ (dpkg-deb), from the same install tree
#
# The installed configuration is never overwritten: an operator's edited
# $(SYSCONFDIR)/casewatch/casewatch.yaml stays, the new default goes beside it as .default.

PREFIX ?= /usr/local
SYSCONFDIR ?= /etc
DESTDIR ?=
BINDIR = $(PREFIX)/bin
UNITDIR = $(PREFIX)/lib/systemd/system
CATALOGDIR = $(PREFIX)/lib/systemd/catalog
SHAREDIR = $(PREFIX)/share/casewatch
DOCDIR = $(PREFIX)/share/doc/casewatch
CONFDIR = $(SYSCONFDIR)/casewatch
CASEWATCH_BIN ?=
BUILT_BIN = .build/release/casewatch
BIN = $(if $(CASEWATCH_BIN),$(CASEWATCH_BIN),$(BUILT_BIN))
VERSION = $(shell sed -n 's/.*string = "\(.*\)".*/\1/p' Sources/CaseCatalog/CasewatchVersion.swift)

.PHONY: all build install uninstall deb clean-deb

all: build

build:
	swift build -c release --product casewatch

$(BUILT_BIN):
	swift build -c release --product casewatch

install: $(if $(CASEWATCH_BIN),,$(BUILT_BIN))
	install -d $(DESTDIR)$(BINDIR) $(DESTDIR)$(UNITDIR) $(DESTDIR)$(CATALOGDIR) \
		$(DESTDIR)$(SHAREDIR)/patterns $(DESTDIR)$(DOCDIR) $(DESTDIR)$(CONFDIR)/patterns.d
	install -m 0755 $(BIN) $(DESTDIR)$(BINDIR)/casewatch
	install -m 0644 Patterns/*.yaml $(DESTDIR)$(SHAREDIR)/patterns/
	sed -e 's|@BINDIR@|$(BINDIR)|g' -e 's|@DOCDIR@|$(DOCDIR)|g' systemd/casewatch.service.in \
		> $(DESTDIR)$(UNITDIR)/casewatch.service
	chmod 0644 $(DESTDIR)$(UNITDIR)/casewatch.service
	CASEWATCH_PATTERNS=$(DESTDIR)$(SHAREDIR)/patterns $(BIN) journal-catalog --no-cache \
		--documentation file://$(DOCDIR)/CASES.md --output $(DESTDIR)$(CATALOGDIR)/casewatch.catalog
	chmod 0644 $(DESTDIR)$(CATALOGDIR)/casewatch.catalog
	install -m 0644 README.md docs/*.md $(DESTDIR)$(DOCDIR)/
	@if [ -e $(DESTDIR)$(CONFDIR)/casewatch.yaml ] && ! cmp -s Config/casewatch.yaml $(DESTDIR)$(CONFDIR)/casewatch.yaml; then \
		install -m 0644 Config/casewatch.yaml $(DESTDIR)$(CONFDIR)/casewatch.yaml.default; \
		echo "casewatch: kept your $(CONFDIR)/casewatch.yaml; the new default is casewatch.yaml.default"; \
	else \
		install -m 0644 Config/casewatch.yaml $(DESTDIR)$(CONFDIR)/casewatch.yaml; \
	fi
	@if [ -z "$(DESTDIR)" ]; then \
		journalctl --update-catalog; \
		if [ -d /run/systemd/system ]; then systemctl daemon-reload; fi; \
	fi

uninstall:
	rm -f $(DESTDIR)$(BINDIR)/casewatch $(DESTDIR)$(UNITDIR)/casewatch.service \
		$(DESTDIR)$(CATALOGDIR)/casewatch.catalog $(DESTDIR)$(CONFDIR)/casewatch.yaml.default
	rm -rf $(DESTDIR)$(SHAREDIR) $(DESTDIR)$(DOCDIR)
	rmdir $(DESTDIR)$(CONFDIR)/patterns.d $(DESTDIR)$(CONFDIR) 2>/dev/null || true
	@if [ -z "$(DESTDIR)" ]; then \
		journalctl --update-catalog; \
		if [ -d /run/systemd/system ]; then systemctl daemon-reload; fi; \
	fi
	@echo "casewatch: kept $(CONFDIR) and the state in /var/lib/casewatch"

# ---- deb: a Debian package from the same install tree ---------------------------------------
# The packaged binary links the Swift runtime statically (--static-swift-stdlib, its own build
# directory), so the package needs only Debian's libraries: see packaging/debian/control.in and
# README "Packages". CASEWATCH_BIN=path packages a binary already built instead (it must be
# linked the same way: scripts/deb-test.sh refuses a binary that needs /opt/swift).
DEB_ARCH = $(shell dpkg --print-architecture)
DEB_DIR = .build/deb
DEB_ROOT = $(DEB_DIR)/root
STATIC_BIN = .build/static/release/casewatch
DEB_BIN = $(if $(CASEWATCH_BIN),$(CASEWATCH_BIN),$(STATIC_BIN))
DEB_FILE = $(DEB_DIR)/casewatch_$(VERSION)_$(DEB_ARCH).deb

.PHONY: static-build

# Always asked (an up-to-date build is a no-op): a package never carries a stale binary.
# Linked with -z now and relro, and its C (the libyaml inside Yams) built with _FORTIFY_SOURCE:
# Debian's hardening for a packaged binary.
static-build:
	swift build -c release --static-swift-stdlib --product casewatch --scratch-path .build/static \
		-Xcc -D_FORTIFY_SOURCE=2 -Xlinker -z -Xlinker now -Xlinker -z -Xlinker relro

deb: $(if $(CASEWATCH_BIN),,static-build)
	rm -rf $(DEB_ROOT)
	$(MAKE) --no-print-directory install DESTDIR=$(abspath $(DEB_ROOT)) PREFIX=/usr SYSCONFDIR=/etc \
		CASEWATCH_BIN=$(abspath $(DEB_BIN))
	strip --strip-unneeded --remove-section=.comment --remove-section=.note $(DEB_ROOT)/usr/bin/casewatch
	install -m 0644 packaging/debian/copyright $(DEB_ROOT)/usr/share/doc/casewatch/copyright
	sed -e 's|@VERSION@|$(VERSION)|' -e "s|@DATE@|$$(date -R -d @$${SOURCE_DATE_EPOCH:-$$(git log -1 --format=%ct 2>/dev/null || date +%s)})|" \
		packaging/debian/changelog.in | gzip -9n > $(DEB_ROOT)/usr/share/doc/casewatch/changelog.gz
	chmod 0644 $(DEB_ROOT)/usr/share/doc/casewatch/changelog.gz
	install -d $(DEB_ROOT)/usr/share/man/man1
	sed -e 's|@VERSION@|$(VERSION)|' packaging/debian/casewatch.1 | gzip -9n > $(DEB_ROOT)/usr/share/man/man1/casewatch.1.gz
	chmod 0644 $(DEB_ROOT)/usr/share/man/man1/casewatch.1.gz
	install -d $(DEB_ROOT)/DEBIAN
	sed -e 's|@VERSION@|$(VERSION)|' -e 's|@ARCH@|$(DEB_ARCH)|' \
		-e "s|@SIZE@|$$(du -sk --exclude=DEBIAN $(DEB_ROOT) | cut -f1)|" \
		packaging/debian/control.in > $(DEB_ROOT)/DEBIAN/control
	install -m 0644 packaging/debian/conffiles $(DEB_ROOT)/DEBIAN/conffiles
	install -m 0755 packaging/debian/postinst packaging/debian/prerm packaging/debian/postrm $(DEB_ROOT)/DEBIAN/
	(cd $(DEB_ROOT) && find . \( -path ./DEBIAN -o -path ./etc \) -prune -o -type f -printf '%P\0' | sort -z | xargs -0 md5sum) > $(DEB_ROOT)/DEBIAN/md5sums
	chmod 0644 $(DEB_ROOT)/DEBIAN/md5sums
	dpkg-deb --root-owner-group -Zxz --build $(DEB_ROOT) $(DEB_FILE)
	@echo "casewatch: built $(DEB_FILE)"

clean-deb:
	rm -rf $(DEB_DIR)
