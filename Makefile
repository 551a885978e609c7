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
