# SPDX-License-Identifier: GPL-2.0-or-later
# portfw: make, make test, make check, make install [PREFIX=/usr/local] [DESTDIR=]

PREFIX ?= /usr/local
BINDIR ?= $(PREFIX)/bin
SBINDIR ?= $(PREFIX)/sbin
MANDIR ?= $(PREFIX)/share/man
DATADIR ?= $(PREFIX)/share
DOCDIR ?= $(DATADIR)/doc/portfw
# systemd's directories: under PREFIX, so PREFIX=/usr gives the Debian ones
# and a /usr/local install stays out of the package manager's way.
UNITDIR ?= $(PREFIX)/lib/systemd/system
SYSUSERSDIR ?= $(PREFIX)/lib/sysusers.d
TMPFILESDIR ?= $(PREFIX)/lib/tmpfiles.d
COMPLETIONDIR ?= $(PREFIX)/share/bash-completion/completions
DESTDIR ?=

BUILD ?= build
CC ?= cc
CFLAGS ?= -O2 -g
SANITIZE ?= 0
WERROR ?= 1

WARN := -std=gnu17 -Wall -Wextra -Wshadow -Wpointer-arith -Wstrict-prototypes \
	-Wmissing-prototypes -Wformat=2 -Wno-format-nonliteral
ifeq ($(WERROR),1)
WARN += -Werror
endif
# SANITIZE=1: AddressSanitizer + UndefinedBehaviorSanitizer; SANITIZE=thread:
# ThreadSanitizer (it cannot be combined with ASan). The flags are added to
# the user's CFLAGS and LDFLAGS; only the Makefile's own default optimisation
# (-O2) gives way to -O1, for faster builds and usable stacks.
ifeq ($(SANITIZE),1)
SAN_FLAGS := -fsanitize=address,undefined -fno-sanitize-recover=undefined
else ifeq ($(SANITIZE),thread)
SAN_FLAGS := -fsanitize=thread
else ifneq ($(SANITIZE),0)
$(error SANITIZE=$(SANITIZE): use 0, 1 (ASan + UBSan) or thread (TSan))
endif
ifneq ($(SAN_FLAGS),)
ifeq ($(origin CFLAGS),file)
CFLAGS := -O1 -g
endif
override CFLAGS += -fno-omit-frame-pointer $(SAN_FLAGS)
override LDFLAGS += $(SAN_FLAGS)
endif

PKG_CFLAGS := $(shell pkg-config --cflags jansson libnftables libnetfilter_conntrack libmnl libmicrohttpd libcares 2>/dev/null)
PKG_LIBS := $(shell pkg-config --libs jansson 2>/dev/null || echo -ljansson)
CAPNG_LIBS := $(shell pkg-config --libs libcap-ng 2>/dev/null || echo -lcap-ng)
# The status server (pfd_http.c): the daemon only.
MHD_LIBS := $(shell pkg-config --libs libmicrohttpd 2>/dev/null || echo -lmicrohttpd)
# The resolver of backend names (pfd_resolve.c): the daemon only.
CARES_LIBS := $(shell pkg-config --libs libcares 2>/dev/null || echo -lcares)
KERNEL_LIBS := $(shell pkg-config --libs libnftables libnetfilter_conntrack libmnl 2>/dev/null || \
	echo -lnftables -lnetfilter_conntrack -lmnl)
ALL_CFLAGS = $(WARN) -D_GNU_SOURCE -MMD -MP $(PKG_CFLAGS) $(CFLAGS)
LIBS = $(PKG_LIBS) -lpthread

COMMON_SRC := $(wildcard src/common/*.c)
USER_SRC := $(wildcard src/user/*.c)
DAEMON_SRC := $(wildcard src/daemon/*.c)
KERNEL_SRC := $(wildcard src/kernel/*.c)
CLI_SRC := $(wildcard src/cli/*.c)
# Host probes over netlink that the daemon and the client share (libmnl).
SYS_SRC := $(wildcard src/sys/*.c)
UNIT_SRC := $(wildcard tests/unit/test_*.c)

ifeq ($(V),1)
Q :=
else
Q := @
endif

obj = $(patsubst %.c,$(BUILD)/obj/%.o,$(1))

DAEMON_OBJ := $(call obj,$(COMMON_SRC) $(SYS_SRC) $(USER_SRC) $(KERNEL_SRC) $(DAEMON_SRC))
CLI_OBJ := $(call obj,$(COMMON_SRC) $(SYS_SRC) $(CLI_SRC))
UNIT_BIN := $(patsubst tests/unit/%.c,$(BUILD)/tests/%,$(UNIT_SRC))
TOOLS := $(BUILD)/tests/pf_xfer $(BUILD)/tests/pf_udp $(BUILD)/tests/pf_ids

.PHONY: all clean install uninstall test test-unit test-net test-sanitize test-tsan golden fuzz check lint bench bench-kernel bench-gateway soak run

# The client answers also to the classic names (dispatch on argv[0]).
CLASSIC_LINKS := $(BUILD)/ipportfw $(BUILD)/ipmasqadm
# The pure translators of the classic command lines (no jansson, no I/O):
# unit tested and fuzzed with the common code.
CLASSIC_SRC := src/cli/pfc_classic.c src/cli/pfc_ipportfw.c src/cli/pfc_mpfw.c \
	src/cli/pfc_mfw.c src/cli/pfc_autofw.c

all: $(BUILD)/portfwd $(BUILD)/portfw $(CLASSIC_LINKS)

$(CLASSIC_LINKS): $(BUILD)/portfw
	$(Q)ln -sf portfw $@

$(BUILD)/obj/%.o: %.c
	@mkdir -p $(dir $@)
	@$(if $(Q),echo "  CC      $<")
	$(Q)$(CC) $(ALL_CFLAGS) -c -o $@ $<

$(BUILD)/portfwd: $(DAEMON_OBJ)
	@$(if $(Q),echo "  LD      $@")
	$(Q)$(CC) $(LDFLAGS) -o $@ $^ $(LIBS) $(KERNEL_LIBS) $(CAPNG_LIBS) $(MHD_LIBS) $(CARES_LIBS)

# The status page is assembled into the daemon (.incbin), from the source
# tree: make runs at its top.
$(BUILD)/obj/src/daemon/pfd_page.o: src/daemon/pfd_page.html

# The client reads the host for 'explain' (libnftables, libmnl).
$(BUILD)/portfw: $(CLI_OBJ)
	@$(if $(Q),echo "  LD      $@")
	$(Q)$(CC) $(LDFLAGS) -o $@ $^ $(LIBS) $(KERNEL_LIBS)

# Unit tests (cmocka): one binary per file, linked with the common code.
$(BUILD)/tests/test_%: tests/unit/test_%.c $(call obj,$(COMMON_SRC))
	@mkdir -p $(dir $@)
	$(CC) $(ALL_CFLAGS) -Isrc -o $@ $^ $(LDFLAGS) $(LIBS) -lcmocka

$(BUILD)/tests/test_classic: tests/unit/test_classic.c $(call obj,$(COMMON_SRC) $(CLASSIC_SRC))
	@mkdir -p $(dir $@)
	$(CC) $(ALL_CFLAGS) -Isrc -o $@ $^ $(LDFLAGS) $(LIBS) -lcmocka

# The user engine's limits per source, on their own.
$(BUILD)/tests/test_persrc: tests/unit/test_persrc.c $(call obj,$(COMMON_SRC) src/user/pfu_persrc.c)
	@mkdir -p $(dir $@)
	$(CC) $(ALL_CFLAGS) -Isrc -o $@ $^ $(LDFLAGS) $(LIBS) -lcmocka

# The user engine's slabs of flows and sessions, on their own.
$(BUILD)/tests/test_slab: tests/unit/test_slab.c $(call obj,$(COMMON_SRC) src/user/pfu_slab.c)
	@mkdir -p $(dir $@)
	$(CC) $(ALL_CFLAGS) -Isrc -o $@ $^ $(LDFLAGS) $(LIBS) -lcmocka

# explain's pure parts: the report, the walks of nftables' JSON and of
# iptables-legacy-save's text.
EXPLAIN_PURE := src/cli/pfc_explain_report.c src/cli/pfc_explain_rules.c \
	src/cli/pfc_explain_legacy.c
$(BUILD)/tests/test_explain: tests/unit/test_explain.c $(call obj,$(COMMON_SRC) $(EXPLAIN_PURE))
	@mkdir -p $(dir $@)
	$(CC) $(ALL_CFLAGS) -Isrc -o $@ $^ $(LDFLAGS) $(LIBS) -lcmocka

# The kernel engine's renderer is tested on its own: with the kernel objects,
# each case's whole ruleset against its golden file in tests/unit/golden/.
GOLDEN_DIR := $(abspath tests/unit/golden)
$(BUILD)/tests/test_render: tests/unit/test_render.c $(call obj,$(COMMON_SRC) $(SYS_SRC) $(KERNEL_SRC))
	@mkdir -p $(dir $@)
	$(CC) $(ALL_CFLAGS) -Isrc -DPF_GOLDEN_DIR='"$(GOLDEN_DIR)"' -o $@ $^ $(LDFLAGS) $(LIBS) \
		$(KERNEL_LIBS) -lcmocka

# The kernel flow log's reading of conntrack entries, with the kernel objects.
$(BUILD)/tests/test_kflow: tests/unit/test_kflow.c $(call obj,$(COMMON_SRC) $(SYS_SRC) $(KERNEL_SRC))
	@mkdir -p $(dir $@)
	$(CC) $(ALL_CFLAGS) -Isrc -o $@ $^ $(LDFLAGS) $(LIBS) $(KERNEL_LIBS) -lcmocka

$(BUILD)/tests/pf_xfer: tests/tools/pf_xfer.c
	@mkdir -p $(dir $@)
	$(CC) $(ALL_CFLAGS) -o $@ $< $(LDFLAGS) -lcrypto -lpthread

$(BUILD)/tests/pf_udp: tests/tools/pf_udp.c
	@mkdir -p $(dir $@)
	$(CC) $(ALL_CFLAGS) -o $@ $< $(LDFLAGS) -lpthread

$(BUILD)/tests/pf_ids: tests/tools/pf_ids.c
	@mkdir -p $(dir $@)
	$(CC) $(ALL_CFLAGS) -o $@ $< $(LDFLAGS)

test-unit: $(UNIT_BIN)
	@set -e; for t in $(UNIT_BIN); do echo "== $$t"; $$t; done

test-net: all $(TOOLS)
	PORTFW_BUILD=$(abspath $(BUILD)) tests/net/run.sh

test: test-unit test-net

# Rewrites the golden rulesets of test_render from the current rendering
# (after a deliberate change: review 'git diff tests/unit/golden' then).
golden: $(BUILD)/tests/test_render
	PF_GOLDEN_UPDATE=1 $(BUILD)/tests/test_render

# The whole suite again with AddressSanitizer + UndefinedBehaviorSanitizer.
test-sanitize:
	$(MAKE) BUILD=build/asan SANITIZE=1 test

# The whole suite again with ThreadSanitizer: the workers, the health checks
# and the main thread share state.
test-tsan:
	$(MAKE) BUILD=build/tsan SANITIZE=thread test

fuzz:
	tests/fuzz/run.sh $(FUZZ_SECONDS)

check: all lint test test-sanitize test-tsan fuzz

lint:
	clang-tidy --quiet $(COMMON_SRC) $(SYS_SRC) $(USER_SRC) $(KERNEL_SRC) $(DAEMON_SRC) $(CLI_SRC) -- \
		-std=gnu17 -D_GNU_SOURCE $(PKG_CFLAGS)
	cppcheck --quiet --error-exitcode=1 --enable=warning,portability \
		--suppress=missingIncludeSystem --inline-suppr src

run: all
	$(BUILD)/portfwd -c examples/portfw.conf

bench: all $(TOOLS)
	PORTFW_BUILD=$(abspath $(BUILD)) bench/run.sh $(BENCH_MODE)
	PORTFW_BUILD=$(abspath $(BUILD)) bench/kernel.sh $(BENCH_MODE)
	PORTFW_BUILD=$(abspath $(BUILD)) bench/gateway.sh $(BENCH_MODE)

# Long runs that prove nothing leaks (not in CI; bench/README.md, "Soak").
# SOAK_SCALE=0.01 for a quick one.
soak: all $(TOOLS)
	PORTFW_BUILD=$(abspath $(BUILD)) bench/soak.sh

# The kernel engine alone: routing, nft, iptables, portfw at scale, control plane.
bench-kernel: all
	PORTFW_BUILD=$(abspath $(BUILD)) bench/kernel.sh $(BENCH_MODE)

# Where portfw is deployed: client | gateway | server, the NAT setups, both
# engines and the user-space peers on the gateway, as ratios to routing.
bench-gateway: all
	PORTFW_BUILD=$(abspath $(BUILD)) bench/gateway.sh $(BENCH_MODE)

# The unit names the installed daemon: SBINDIR, without DESTDIR (a staging
# root the files are copied out of). Written at each install, so a new
# PREFIX is never left with an old path.
install: all
	install -d $(DESTDIR)$(SBINDIR) $(DESTDIR)$(BINDIR) $(DESTDIR)$(DOCDIR) \
		$(DESTDIR)$(MANDIR)/man5 $(DESTDIR)$(MANDIR)/man8 $(DESTDIR)$(UNITDIR) \
		$(DESTDIR)$(SYSUSERSDIR) $(DESTDIR)$(TMPFILESDIR) $(DESTDIR)$(COMPLETIONDIR) \
		$(DESTDIR)$(DATADIR)/portfw/ha
	install -m 0755 $(BUILD)/portfwd $(DESTDIR)$(SBINDIR)/portfwd
	install -m 0755 $(BUILD)/portfw $(DESTDIR)$(BINDIR)/portfw
	ln -sf portfw $(DESTDIR)$(BINDIR)/ipportfw
	ln -sf portfw $(DESTDIR)$(BINDIR)/ipmasqadm
	install -m 0644 README.md examples/portfw.conf $(DESTDIR)$(DOCDIR)/
	install -d $(DESTDIR)$(DOCDIR)/docs
	install -m 0644 docs/*.md $(DESTDIR)$(DOCDIR)/docs/
	install -m 0644 man/portfw.conf.5 $(DESTDIR)$(MANDIR)/man5/
	install -m 0644 man/portfwd.8 man/portfw.8 $(DESTDIR)$(MANDIR)/man8/
	ln -sf portfw.8 $(DESTDIR)$(MANDIR)/man8/ipportfw.8
	ln -sf portfw.8 $(DESTDIR)$(MANDIR)/man8/ipmasqadm.8
	sed 's|@SBINDIR@|$(SBINDIR)|g' dist/portfwd.service.in > $(DESTDIR)$(UNITDIR)/portfwd.service
	chmod 0644 $(DESTDIR)$(UNITDIR)/portfwd.service
	install -m 0644 dist/portfw.sysusers $(DESTDIR)$(SYSUSERSDIR)/portfw.conf
	install -m 0644 dist/portfw.tmpfiles $(DESTDIR)$(TMPFILESDIR)/portfw.conf
	install -m 0644 dist/portfw.bash-completion $(DESTDIR)$(COMPLETIONDIR)/portfw
	ln -sf portfw $(DESTDIR)$(COMPLETIONDIR)/portfwd
	# The HA recipe (docs/ha.md): keepalived.conf names the notify script
	# where this install puts it.
	install -m 0755 dist/ha/portfw-ha-notify $(DESTDIR)$(DATADIR)/portfw/ha/
	install -m 0644 dist/ha/conntrackd.conf $(DESTDIR)$(DATADIR)/portfw/ha/
	sed 's|/usr/share/portfw/ha/|$(DATADIR)/portfw/ha/|g' dist/ha/keepalived.conf \
		> $(DESTDIR)$(DATADIR)/portfw/ha/keepalived.conf
	chmod 0644 $(DESTDIR)$(DATADIR)/portfw/ha/keepalived.conf

uninstall:
	rm -f $(DESTDIR)$(SBINDIR)/portfwd $(DESTDIR)$(BINDIR)/portfw
	rm -f $(DESTDIR)$(BINDIR)/ipportfw $(DESTDIR)$(BINDIR)/ipmasqadm
	rm -rf $(DESTDIR)$(DOCDIR)
	rm -f $(DESTDIR)$(MANDIR)/man5/portfw.conf.5 $(DESTDIR)$(MANDIR)/man8/portfwd.8 \
		$(DESTDIR)$(MANDIR)/man8/portfw.8 $(DESTDIR)$(MANDIR)/man8/ipportfw.8 \
		$(DESTDIR)$(MANDIR)/man8/ipmasqadm.8
	rm -f $(DESTDIR)$(UNITDIR)/portfwd.service $(DESTDIR)$(SYSUSERSDIR)/portfw.conf \
		$(DESTDIR)$(TMPFILESDIR)/portfw.conf
	rm -f $(DESTDIR)$(COMPLETIONDIR)/portfw $(DESTDIR)$(COMPLETIONDIR)/portfwd
	rm -f $(DESTDIR)$(DATADIR)/portfw/ha/portfw-ha-notify \
		$(DESTDIR)$(DATADIR)/portfw/ha/conntrackd.conf $(DESTDIR)$(DATADIR)/portfw/ha/keepalived.conf
	rmdir $(DESTDIR)$(DATADIR)/portfw/ha $(DESTDIR)$(DATADIR)/portfw 2>/dev/null || true

clean:
	rm -rf build

-include $(shell find $(BUILD)/obj -name '*.d' 2>/dev/null)
