# connbroker build.  `make` builds everything, `make test` runs the tests,
# `make demo` runs the end-to-end demo, `make bench` prints measured figures.
# V=1 shows the commands.

CLANG    ?= clang
BPFTOOL  ?= bpftool
CC       ?= cc
ARCH     := $(shell uname -m | sed 's/x86_64/x86/;s/aarch64/arm64/')

OUT      := build
WERROR   ?= $(if $(CI),-Werror,)
CFLAGS   ?= -O2 -g
CFLAGS   += -Wall -Wextra -Wno-unused-parameter $(WERROR) -std=gnu11 -D_GNU_SOURCE \
            -Iinclude -I$(OUT) -Ibpf -Iuser -MMD -MP $(CPPFLAGS)
BPF_CFLAGS := -g -O2 -target bpf -mcpu=v3 -D__TARGET_ARCH_$(ARCH) -Wall -Wno-unused-function $(WERROR) \
              -I. -Iinclude -Ibpf -MMD -MP
LDLIBS   := -lxdp -lbpf -lelf -lz -lmicrohttpd -linih -lssl -lcrypto

BPF_PROGS := cb_xdp cb_tc cb_ctl
BPF_OBJS  := $(BPF_PROGS:%=$(OUT)/%.bpf.o)
SKELS     := $(BPF_PROGS:%=$(OUT)/%.skel.h)

# user/<module>/*.c: cli, ctl, datapath, repair, util (docs/architecture.md)
USER_SRCS := $(wildcard user/*/*.c)
USER_OBJS := $(USER_SRCS:user/%.c=$(OUT)/user/%.o)
LIB_OBJS  := $(filter-out $(OUT)/user/cli/main.o,$(USER_OBJS))

TEST_SRCS := $(wildcard tests/unit/*.c)
TEST_OBJS := $(TEST_SRCS:tests/unit/%.c=$(OUT)/tests/%.o)
TEST_BIN  := $(OUT)/unit-tests

ifeq ($(V),1)
Q :=
msg :=
else
Q := @
msg = @printf '  %-8s %s\n' "$(1)" "$(2)";
endif

.DELETE_ON_ERROR:
.PHONY: deb all deps test unit-test net-test demo bench clean fuzz fuzz-smoke install

# `make install [PREFIX=/usr/local] [DESTDIR=]`: where things go
PREFIX  ?= /usr/local
BINDIR  ?= $(PREFIX)/sbin
LIBDIR  ?= $(PREFIX)/lib
INCDIR  ?= $(PREFIX)/include
MANDIR  ?= $(PREFIX)/share/man
DOCDIR  ?= $(PREFIX)/share/doc/connbroker
UNITDIR ?= $(PREFIX)/lib/systemd/system
VERSION := $(shell sed -n 's/^#define CB_VERSION "\(.*\)".*/\1/p' include/connbroker/version.h)
# libconnbroker's ABI: the soname's number (docs/app-protocol.md)
SOMAJOR := 2
SONAME  := libconnbroker.so.$(SOMAJOR)
SOFILE  := libconnbroker.so.$(SOMAJOR).1.0

# test-topology BPF helpers (tests/net/*.bpf.c: XDP_PASS for veth peers,
# impairment), not part of the product
NET_BPF := $(patsubst tests/net/%.bpf.c,$(OUT)/%.bpf.o,$(wildcard tests/net/*.bpf.c))

all: $(OUT)/connbroker $(NET_BPF) $(OUT)/libconnbroker.a $(OUT)/libconnbroker.so \
     $(OUT)/http_app $(OUT)/libconnbroker-preload.so $(OUT)/connbroker.8 $(OUT)/connbroker.conf.5 \
     $(OUT)/connbroker.bash

# libconnbroker: the application side (include/connbroker.h)
$(OUT)/lib/connbroker.o: lib/connbroker.c include/connbroker.h | $(OUT)/lib
	$(call msg,CC,$@)
	$(Q)$(CC) $(CFLAGS) -fPIC -c $< -o $@

$(OUT)/libconnbroker.a: $(OUT)/lib/connbroker.o
	$(call msg,AR,$@)
	$(Q)$(AR) rcs $@ $^

# the real file, its soname link (what programs load) and the link to build with
$(OUT)/$(SOFILE): $(OUT)/lib/connbroker.o
	$(call msg,LINK,$@)
	$(Q)$(CC) $(LDFLAGS) -shared -Wl,-soname,$(SONAME) $^ -o $@

$(OUT)/libconnbroker.so: $(OUT)/$(SOFILE)
	$(Q)ln -sf $(SOFILE) $(OUT)/$(SONAME)
	$(Q)ln -sf $(SONAME) $@

# connbroker(8) from the usage table that also gives every --help
$(OUT)/connbroker.8: $(OUT)/connbroker
	$(call msg,GEN,$@)
	$(Q)$(OUT)/connbroker help --man > $@

# connbroker.conf(5) from the table that also gives `connbroker help config`
$(OUT)/connbroker.conf.5: $(OUT)/connbroker
	$(call msg,GEN,$@)
	$(Q)$(OUT)/connbroker help --man5 > $@

$(OUT)/connbroker.bash: $(OUT)/connbroker
	$(call msg,GEN,$@)
	$(Q)$(OUT)/connbroker help --bash-completion > $@

install: all
	$(Q)install -d $(DESTDIR)$(BINDIR) $(DESTDIR)$(LIBDIR)/pkgconfig $(DESTDIR)$(LIBDIR)/connbroker \
		$(DESTDIR)$(INCDIR) $(DESTDIR)$(MANDIR)/man8 $(DESTDIR)$(MANDIR)/man5 $(DESTDIR)$(DOCDIR)
	$(Q)install -m 0755 $(OUT)/connbroker $(DESTDIR)$(BINDIR)/connbroker
	$(Q)install -m 0644 $(OUT)/$(SOFILE) $(DESTDIR)$(LIBDIR)/$(SOFILE)
	$(Q)ln -sf $(SOFILE) $(DESTDIR)$(LIBDIR)/$(SONAME)
	$(Q)ln -sf $(SONAME) $(DESTDIR)$(LIBDIR)/libconnbroker.so
	$(Q)install -m 0644 $(OUT)/libconnbroker.a $(DESTDIR)$(LIBDIR)/libconnbroker.a
	$(Q)install -m 0644 $(OUT)/libconnbroker-preload.so $(DESTDIR)$(LIBDIR)/connbroker/
	$(Q)install -m 0644 include/connbroker.h $(DESTDIR)$(INCDIR)/connbroker.h
	$(Q)sed -e 's|@PREFIX@|$(PREFIX)|; s|@LIBDIR@|$(LIBDIR)|; s|@INCDIR@|$(INCDIR)|; s|@VERSION@|$(VERSION)|' \
		contrib/pkgconfig/connbroker.pc.in > $(DESTDIR)$(LIBDIR)/pkgconfig/connbroker.pc
	$(Q)install -m 0644 $(OUT)/connbroker.8 $(DESTDIR)$(MANDIR)/man8/connbroker.8
	$(Q)install -m 0644 $(OUT)/connbroker.conf.5 $(DESTDIR)$(MANDIR)/man5/connbroker.conf.5
	$(Q)install -m 0644 examples/connbroker.conf README.md docs/app-protocol.md $(DESTDIR)$(DOCDIR)/
	$(Q)install -d $(DESTDIR)$(PREFIX)/share/bash-completion/completions
	$(Q)install -m 0644 $(OUT)/connbroker.bash $(DESTDIR)$(PREFIX)/share/bash-completion/completions/connbroker
	$(Q)install -d $(DESTDIR)$(UNITDIR)
	$(Q)sed -e 's|@SBINDIR@|$(BINDIR)|g; s|@DOCDIR@|$(DOCDIR)|g' contrib/systemd/connbroker@.service.in \
		> $(DESTDIR)$(UNITDIR)/connbroker@.service
	@echo "installed under $(DESTDIR)$(PREFIX)"

# the LD_PRELOAD shim of `connbroker exec` (lib/preload.c), libconnbroker inside, hidden
$(OUT)/lib/preload.o: lib/preload.c lib/preload.h include/connbroker.h | $(OUT)/lib
	$(call msg,CC,$@)
	$(Q)$(CC) $(CFLAGS) -fPIC -fvisibility=hidden -c $< -o $@

$(OUT)/libconnbroker-preload.so: $(OUT)/lib/preload.o $(OUT)/libconnbroker.a
	$(call msg,LINK,$@)
	$(Q)$(CC) $(LDFLAGS) -shared -Wl,-z,defs -Wl,--exclude-libs,ALL $^ -ldl -lpthread -o $@

$(OUT)/http_app: examples/http_app.c $(OUT)/libconnbroker.a
	$(call msg,CC,$@)
	$(Q)$(CC) $(CFLAGS) $(LDFLAGS) $< $(OUT)/libconnbroker.a -o $@

# a namespace test's client that completes handshakes from raw frames
# (tests/net/handshakes.c: a flow table of a million idle connections)
$(OUT)/handshakes: tests/net/handshakes.c | $(OUT)
	$(call msg,CC,$@)
	$(Q)$(CC) $(CFLAGS) $(LDFLAGS) $< -o $@

# make bench's timer of one XDP run on one frame (tests/bench/prog_time.c)
$(OUT)/prog-time: tests/bench/prog_time.c | $(OUT)
	$(call msg,CC,$@)
	$(Q)$(CC) $(CFLAGS) $(LDFLAGS) $< -lbpf -o $@

# make bench's timer of building a socket in TCP_REPAIR, system calls vs
# io_uring (tests/bench/repair_time.c; liburing is a bench-only dependency)
$(OUT)/repair-time: tests/bench/repair_time.c $(LIB_OBJS) | $(OUT)
	$(call msg,CC,$@)
	$(Q)$(CC) $(CFLAGS) $(LDFLAGS) $< $(LIB_OBJS) $(LDLIBS) -luring -lpthread -o $@

$(NET_BPF): $(OUT)/%.bpf.o: tests/net/%.bpf.c vmlinux.h | $(OUT)
	$(call msg,BPF,$@)
	$(Q)$(CLANG) $(BPF_CFLAGS) -c $< -o $@

deps:
	$(Q)./scripts/install-deps.sh

# Debian packages (debian/) built from a copy of the tree as git sees it
# (tracked and untracked files, not ignored ones), in build/deb/: the work
# tree is not touched.  lintian checks them (`make deb` fails on its errors
# and warnings).
deb:
	$(Q)rm -rf $(OUT)/deb && mkdir -p $(OUT)/deb/src
	$(Q)git ls-files -z -co --exclude-standard | xargs -0 tar cf - | tar xf - -C $(OUT)/deb/src
	$(Q)cd $(OUT)/deb/src && dpkg-buildpackage -us -uc -b -j2 > ../build.log 2>&1 || \
		{ tail -40 ../build.log; exit 1; }
	$(Q)lintian --fail-on error,warning $(OUT)/deb/*.changes
	$(Q)ls $(OUT)/deb/*.deb

$(OUT) $(OUT)/user $(OUT)/tests $(OUT)/lib:
	$(Q)mkdir -p $@

$(OUT)/%.bpf.o: bpf/%.bpf.c vmlinux.h | $(OUT)
	$(call msg,BPF,$@)
	$(Q)$(CLANG) $(BPF_CFLAGS) -c $< -o $@

$(OUT)/%.skel.h: $(OUT)/%.bpf.o
	$(call msg,GEN-SKEL,$@)
	$(Q)$(BPFTOOL) gen skeleton $< name $* > $@

$(USER_OBJS): $(OUT)/user/%.o: user/%.c $(SKELS)
	$(call msg,CC,$@)
	$(Q)mkdir -p $(@D)
	$(Q)$(CC) $(CFLAGS) -c $< -o $@

# where an installed `connbroker exec` finds its shim (also: beside the binary)
$(OUT)/user/cli/cmd_exec.o: CFLAGS += -DCB_PRELOAD_DIR='"$(LIBDIR)/connbroker"'

$(OUT)/connbroker: $(USER_OBJS)
	$(call msg,LINK,$@)
	$(Q)$(CC) $(CFLAGS) $(LDFLAGS) $^ $(LDLIBS) -o $@

$(TEST_OBJS): $(OUT)/tests/%.o: tests/unit/%.c $(SKELS) | $(OUT)/tests
	$(call msg,CC,$@)
	$(Q)$(CC) $(CFLAGS) -c $< -o $@

$(TEST_BIN): $(TEST_OBJS) $(LIB_OBJS) $(OUT)/libconnbroker.a
	$(call msg,LINK,$@)
	$(Q)$(CC) $(CFLAGS) $^ $(LDLIBS) -lcriterion -lpthread -o $@

unit-test: $(TEST_BIN) $(BPF_OBJS) $(OUT)/libconnbroker-preload.so
	$(Q)$(TEST_BIN) --jobs 1

# libFuzzer targets: tests/fuzz/fuzz_<name>.c, its other sources and libraries
# in tests/fuzz/<name>.mk (FUZZ_SRCS_<name>, FUZZ_LIBS_<name>), its seeds in
# tests/fuzz/corpus/<name>.  `make fuzz` runs every target FUZZ_SECONDS each
# (FUZZ=name runs one) and prints executions/s and coverage; new inputs go to
# build/fuzz/corpus/<name>, crashes to build/fuzz/crash-*; the seeds stay in git.
FUZZ_SECONDS ?= 60
FUZZ_NAMES   := $(patsubst tests/fuzz/fuzz_%.c,%,$(wildcard tests/fuzz/fuzz_*.c))
FUZZ_BINS    := $(FUZZ_NAMES:%=$(OUT)/fuzz/fuzz_%)
FUZZ_CFLAGS  := -g -O1 -fsanitize=fuzzer,address,undefined -fno-sanitize-recover=all \
                $(WERROR) -Wall -std=gnu11 -D_GNU_SOURCE -Iinclude -I$(OUT) -Ibpf -Iuser -Itests/unit
include $(wildcard tests/fuzz/*.mk)

.SECONDEXPANSION:
$(FUZZ_BINS): $(OUT)/fuzz/fuzz_%: tests/fuzz/fuzz_%.c $$(FUZZ_SRCS_$$*) $(SKELS)
	$(call msg,FUZZ-CC,$@)
	$(Q)mkdir -p $(@D)
	$(Q)$(CLANG) $(FUZZ_CFLAGS) $(filter %.c,$^) $(FUZZ_LIBS_$*) -o $@

fuzz: $(FUZZ_BINS) $(BPF_OBJS)
	$(Q)./scripts/fuzz.sh $(FUZZ_SECONDS) $(or $(FUZZ),$(FUZZ_NAMES))

fuzz-smoke:
	$(Q)$(MAKE) --no-print-directory fuzz FUZZ_SECONDS=$(or $(FUZZ_SMOKE_SECONDS),20)

net-test: $(OUT)/connbroker $(OUT)/handshakes
	$(Q)./tests/net/run.sh

test: deps
	$(Q)$(MAKE) --no-print-directory all $(TEST_BIN)
	$(Q)$(MAKE) --no-print-directory unit-test
	$(Q)$(MAKE) --no-print-directory fuzz-smoke
	$(Q)$(MAKE) --no-print-directory net-test

demo: deps
	$(Q)$(MAKE) --no-print-directory all
	$(Q)./scripts/demo.sh

bench: deps
	$(Q)$(MAKE) --no-print-directory all $(OUT)/prog-time $(OUT)/repair-time
	$(Q)./scripts/bench.sh

clean:
	$(Q)rm -rf $(OUT)

-include $(wildcard $(OUT)/*.d $(OUT)/user/*/*.d $(OUT)/tests/*.d $(OUT)/lib/*.d)
