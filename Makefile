# pvio top-level Makefile.
#
#   make              build all userspace programs into build/
#   make modules      build the kernel modules against KDIR (see tools/pvio-kdir)
#   make check        install missing packages, build everything, run all tests
#   make demo         install missing packages, build, run the main demo
#   make deb          Debian packages pvio-tools and pvio-dkms in build/deb/
#   make clean
#
# Variables: KDIR=/path/to/kernel/build  W=1  C=1 (sparse)  V=1
#            SAN=tsan|asan builds userspace into build/SAN/ with sanitizers

BUILD      ?= build
CC         ?= cc
CXX        ?= c++
CFLAGS_BASE = -std=gnu11 -O2 -g -Wall -Wextra -Werror -D_GNU_SOURCE \
              -Iinclude -Iring -Ihypercall -Ifront -Iback
LDLIBS_BASE = -luring -lpthread

ifeq ($(SAN),tsan)
override BUILD := $(BUILD)/tsan
CFLAGS_BASE += -fsanitize=thread -O1 -DPVIO_UNDER_TSAN
LDFLAGS    += -fsanitize=thread
else ifeq ($(SAN),asan)
override BUILD := $(BUILD)/asan
CFLAGS_BASE += -fsanitize=address,undefined -fno-omit-frame-pointer -fno-sanitize-recover=all
LDFLAGS    += -fsanitize=address,undefined
endif

# The kernel to build modules against, unless KDIR is given: the newest
# guest kernel in the cache tools/pvio-deps fills (build/kernels, or
# $PVIO_KERNELS), else the newest installed headers with a matching
# /boot/vmlinuz (tools/pvio-kdir).
KDIR ?= $(shell tools/pvio-kdir)

# Every tools/*.c is one program; every tests/unit/**/test_*.c one test.
TOOL_SRCS  := $(wildcard tools/*.c)
TOOLS      := $(patsubst tools/%.c,$(BUILD)/%,$(TOOL_SRCS))
UNIT_SRCS  := $(shell find tests/unit -name 'test_*.c' 2>/dev/null | sort)
UNIT_TESTS := $(patsubst %.c,$(BUILD)/%,$(UNIT_SRCS))
# Helper programs that integration tests run (tests/progs/*.c).
PROG_SRCS  := $(wildcard tests/progs/*.c)
PROGS      := $(patsubst %.c,$(BUILD)/%,$(PROG_SRCS))
# LD_PRELOAD shims that make this machine look like another (tests/shims).
SHIM_SRCS  := $(wildcard tests/shims/*.c)
PROGS      += $(patsubst %.c,$(BUILD)/%.so,$(SHIM_SRCS))
HEADERS    := $(shell find include ring hypercall front back tests/common tests/progs tools/lib -name '*.h' -not -path 'back/backd/*' 2>/dev/null)
# Userspace library code shared by tools and unit tests. Listed by name:
# hypercall/ and back/ also hold kernel sources that must not be built
# here; ring/*.c is the protocol library the kernel modules link too.
LIB_SRCS   := hypercall/ivshmem_server.c hypercall/ivshmem_client.c \
              ring/region.c ring/blk_proto.c ring/net_proto.c ring/handshake.c \
              back/uring_setup.c $(wildcard front/libpvio/*.c) \
              tools/lib/machine.c
LIB_SRCS   := $(wildcard $(LIB_SRCS))
LIB_OBJS   := $(patsubst %.c,$(BUILD)/lib/%.o,$(LIB_SRCS))
LIB        := $(BUILD)/lib/libpvio-user.a

.PHONY: all tools unit progs modules modules-clean check demo deps clean

all: tools unit progs

# Multi-file programs: the block backend daemon and the IO benchmark.
BACKD_SRCS := $(wildcard back/backd/*.c)
BENCH_SRCS := $(wildcard tools/bench/*.c)
TOOLS      += $(if $(BACKD_SRCS),$(BUILD)/pvio-backd) $(if $(BENCH_SRCS),$(BUILD)/pvio-bench)

tools: $(TOOLS)
unit: $(UNIT_TESTS)
progs: $(PROGS)

$(BUILD)/lib/%.o: %.c $(HEADERS)
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS_BASE) $(CFLAGS) -c -o $@ $<

$(LIB): $(LIB_OBJS)
	@mkdir -p $(dir $@)
	rm -f $@
	$(AR) rcs $@ $^

$(BUILD)/%: tools/%.c $(HEADERS) $(LIB)
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS_BASE) $(CFLAGS) $(LDFLAGS) -o $@ $< $(LIB) $(LDLIBS_BASE) $(LDLIBS)

# pvio-backd serves NBD exports through libnbd (back/backd/store_nbd.c):
# without its development files the build stops and says what to install.
$(BUILD)/pvio-backd: $(BACKD_SRCS) $(HEADERS) $(wildcard back/backd/*.h) $(LIB)
	@mkdir -p $(dir $@)
	@pkg-config --exists libnbd || { echo "pvio-backd needs libnbd (Debian: libnbd-dev) for NBD backing stores: run tools/pvio-deps" >&2; exit 1; }
	$(CC) $(CFLAGS_BASE) -Iback/backd $(CFLAGS) $(LDFLAGS) -o $@ $(BACKD_SRCS) $(LIB) $(LDLIBS_BASE) -lnbd $(LDLIBS)

$(BUILD)/pvio-bench: $(BENCH_SRCS) $(HEADERS) $(wildcard tools/bench/*.h) $(LIB)
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS_BASE) -Itools/bench $(CFLAGS) $(LDFLAGS) -o $@ $(BENCH_SRCS) $(LIB) $(LDLIBS_BASE) $(LDLIBS)

$(BUILD)/tests/progs/%: tests/progs/%.c $(HEADERS) $(LIB)
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS_BASE) $(CFLAGS) $(LDFLAGS) -o $@ $< $(LIB) $(LDLIBS_BASE) $(LDLIBS)

$(BUILD)/tests/shims/%.so: tests/shims/%.c
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS_BASE) $(CFLAGS) -fPIC -shared -o $@ $< -ldl

$(BUILD)/tests/unit/%: tests/unit/%.c $(HEADERS) $(LIB)
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS_BASE) $(CFLAGS) $(LDFLAGS) -o $@ $< $(LIB) -lcmocka $(LDLIBS_BASE) $(LDLIBS)

modules:
	@test -n "$(KDIR)" || { echo "make: no guest kernel headers; run tools/pvio-deps or pass KDIR=" >&2; exit 1; }
	$(MAKE) -C $(KDIR) M=$(CURDIR) modules

modules-clean:
	@test -z "$(KDIR)" || $(MAKE) -C $(KDIR) M=$(CURDIR) clean

deps:
	@tools/pvio-deps

# Installation: the daemon and the benchmark with their manual pages, the
# systemd unit (its ExecStart points at SBINDIR), an example of its
# configuration, and the kernel modules' sources with their dkms.conf in
# DKMS_SRCDIR (dkms add/build/install pvio/PVIO_VERSION). The other tools
# run from the tree.
# DESTDIR stages a package; nothing under it is run.
PREFIX        ?= /usr/local
BINDIR        ?= $(PREFIX)/bin
# pvio-backd, a daemon (manual section 8): the Debian package puts it in
# /usr/sbin; by default it goes with the rest.
SBINDIR       ?= $(BINDIR)
SYSCONFDIR    ?= /etc
SYSTEMDUNITDIR ?= $(PREFIX)/lib/systemd/system
MANDIR        ?= $(PREFIX)/share/man
PVIO_VERSION  := 0.1
# DKMS looks for module sources in /usr/src, whatever the PREFIX.
DKMS_SRCDIR   ?= /usr/src/pvio-$(PVIO_VERSION)
# What the kernel modules are built from (the Kbuild's files).
DKMS_FILES := Kbuild $(wildcard include/pvio/*.h ring/*.c ring/*.h \
	hypercall/kernel/*.c hypercall/kernel/*.h front/pvblk/*.c \
	front/pvnet/*.c back/pvblkback/*.c back/pvblkback/*.h)
DKMS_FILES := $(filter-out %.mod.c,$(DKMS_FILES))
INSTALLED = $(DESTDIR)$(SBINDIR)/pvio-backd $(DESTDIR)$(BINDIR)/pvio-bench \
	$(DESTDIR)$(SYSTEMDUNITDIR)/pvio-backd@.service \
	$(DESTDIR)$(SYSCONFDIR)/pvio/example.conf \
	$(DESTDIR)$(MANDIR)/man8/pvio-backd.8 $(DESTDIR)$(MANDIR)/man1/pvio-bench.1 \
	$(addprefix $(DESTDIR)$(DKMS_SRCDIR)/,$(DKMS_FILES) dkms.conf)

# Manual pages of every program and tool, from their --help (tools/pvio-man):
# pvio-backd in section 8, the rest in 1.
MAN_TOOLS := pvio-vm pvio-kbench pvio-restart-bench pvio-demo pvio-fuzz \
	pvio-deps pvio-kdir pvio-initramfs pvio-man pvio-netbench
.PHONY: man
man: $(BUILD)/pvio-backd $(BUILD)/pvio-bench $(BUILD)/pvio-ringbench
	@mkdir -p $(BUILD)/man
	tools/pvio-man --section 8 $(BUILD)/pvio-backd >$(BUILD)/man/pvio-backd.8
	tools/pvio-man $(BUILD)/pvio-bench >$(BUILD)/man/pvio-bench.1
	tools/pvio-man $(BUILD)/pvio-ringbench >$(BUILD)/man/pvio-ringbench.1
	for t in $(MAN_TOOLS); do tools/pvio-man tools/$$t >$(BUILD)/man/$$t.1 || exit 1; done

# The measuring programs name the version and the commit they were built
# from in their JSON output (tools/lib/machine.c).
PVIO_GIT := $(shell git describe --always --dirty 2>/dev/null)
$(BUILD)/lib/tools/lib/machine.o: CFLAGS_BASE += -DPVIO_VERSION='"$(PVIO_VERSION)"' \
	$(if $(PVIO_GIT),-DPVIO_GIT='"$(PVIO_GIT)"')

.PHONY: version
version:
	@echo $(PVIO_VERSION)

.PHONY: install uninstall
install: $(BUILD)/pvio-backd $(BUILD)/pvio-bench man
	install -d $(DESTDIR)$(BINDIR) $(DESTDIR)$(SBINDIR) $(DESTDIR)$(SYSTEMDUNITDIR) \
		$(DESTDIR)$(SYSCONFDIR)/pvio $(DESTDIR)$(MANDIR)/man1 $(DESTDIR)$(MANDIR)/man8
	install -m 0755 $(BUILD)/pvio-backd $(DESTDIR)$(SBINDIR)/
	install -m 0755 $(BUILD)/pvio-bench $(DESTDIR)$(BINDIR)/
	install -m 0644 $(BUILD)/man/pvio-backd.8 $(DESTDIR)$(MANDIR)/man8/
	install -m 0644 $(BUILD)/man/pvio-bench.1 $(DESTDIR)$(MANDIR)/man1/
	for f in $(DKMS_FILES); do install -D -m 0644 $$f $(DESTDIR)$(DKMS_SRCDIR)/$$f || exit 1; done
	sed 's|@VERSION@|$(PVIO_VERSION)|g' tools/dkms/dkms.conf.in >$(DESTDIR)$(DKMS_SRCDIR)/dkms.conf
	sed 's|@BINDIR@|$(SBINDIR)|g; s|/etc/pvio/|$(SYSCONFDIR)/pvio/|g' \
		tools/systemd/pvio-backd@.service.in >$(DESTDIR)$(SYSTEMDUNITDIR)/pvio-backd@.service
	chmod 0644 $(DESTDIR)$(SYSTEMDUNITDIR)/pvio-backd@.service
	install -m 0644 tools/systemd/example.conf $(DESTDIR)$(SYSCONFDIR)/pvio/example.conf

# Removes what install put there; configurations an administrator wrote
# (SYSCONFDIR/pvio/NAME.conf) stay.
uninstall:
	rm -f $(INSTALLED)
	-rmdir $(DESTDIR)$(SYSCONFDIR)/pvio 2>/dev/null
	-cd $(DESTDIR)$(DKMS_SRCDIR) 2>/dev/null && find . -depth -type d -empty -delete
	-rmdir $(DESTDIR)$(DKMS_SRCDIR) 2>/dev/null

# Debian packages (tools/debian/, built with debhelper and dh-dkms; the
# build dependencies come with tools/pvio-deps): pvio-tools (the daemon,
# the benchmark, their manual pages, the systemd unit, the example
# configuration) and pvio-dkms (the module sources, registered with DKMS
# on installation). The files git tracks, as they are in the working tree,
# and tools/debian/ as debian/ are staged in DEB_STAGE and built there;
# the .debs land in $(BUILD)/deb/. Only $(BUILD)/deb/ is written. The
# package's version is that of the newest entry of tools/debian/changelog,
# which must be PVIO_VERSION.
DEB_STAGE := $(BUILD)/deb/pvio-$(PVIO_VERSION)
.PHONY: deb
deb:
	@v=$$(dpkg-parsechangelog -l tools/debian/changelog -S Version) || exit 1; \
	[ "$$v" = "$(PVIO_VERSION)" ] || { echo "make deb: tools/debian/changelog is at $$v," \
		"PVIO_VERSION is $(PVIO_VERSION): add a changelog entry (dch -c tools/debian/changelog -v $(PVIO_VERSION))" >&2; exit 1; }
	@[ "$$(git rev-parse --show-toplevel 2>/dev/null)" = "$(CURDIR)" ] || \
		{ echo "make deb: $(CURDIR) is not a git checkout: the package is built from the files git tracks" >&2; exit 1; }
	rm -rf $(BUILD)/deb
	mkdir -p $(DEB_STAGE)
	@# A tracked file deleted in the working tree is listed twice; leave it out.
	git ls-files -z --cached --deleted | sort -z | uniq -z -u | \
		tar --null --no-recursion -T - -cf - | tar -C $(DEB_STAGE) -xf -
	cp -R tools/debian $(DEB_STAGE)/debian
	@# The package's make must not inherit this one's command line (BUILD=...).
	cd $(DEB_STAGE) && env -u MAKEFLAGS -u MFLAGS -u MAKELEVEL \
		dpkg-buildpackage -us -uc -b -Jauto
	@echo "make deb: packages:"; for d in $(BUILD)/deb/*.deb; do echo "    $$d"; done

# libFuzzer targets (tests/fuzz/, FUZZING.md): FUZZ_SECONDS=N per target.
.PHONY: fuzz
fuzz: deps
	@tools/pvio-fuzz --build $(BUILD)

check: deps
	@tests/run-all

demo: deps all modules
	@KDIR=$(KDIR) tools/pvio-demo

# The guest kernel cache (build/kernels) survives: fetching it takes minutes.
clean: modules-clean
	rm -rf $(filter-out build/kernels,$(wildcard $(BUILD)/* $(BUILD)/.[!.]*))
