# pvio top-level Makefile.
#
#   make              build all userspace programs into build/
#   make modules      build the kernel modules against KDIR (see tools/pvio-kdir)
#   make check        install missing packages, build everything, run all tests
#   make demo         install missing packages, build, run the main demo
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

# The kernel to build modules against: the newest installed headers that
# have a matching /boot/vmlinuz, unless KDIR is given.
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
HEADERS    := $(shell find include ring hypercall front back tests/common -name '*.h' -not -path 'back/backd/*' 2>/dev/null)
# Userspace library code shared by tools and unit tests. Listed by name:
# hypercall/ and back/ also hold kernel sources that must not be built
# here; ring/*.c is the protocol library the kernel modules link too.
LIB_SRCS   := hypercall/ivshmem_server.c hypercall/ivshmem_client.c \
              ring/region.c ring/blk_proto.c ring/handshake.c \
              back/uring_setup.c $(wildcard front/libpvio/*.c)
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

$(BUILD)/pvio-backd: $(BACKD_SRCS) $(HEADERS) $(wildcard back/backd/*.h) $(LIB)
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS_BASE) -Iback/backd $(CFLAGS) $(LDFLAGS) -o $@ $(BACKD_SRCS) $(LIB) $(LDLIBS_BASE) $(LDLIBS)

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
	@test -n "$(KDIR)" || { echo "make: no kernel headers with a matching /boot/vmlinuz; run tools/pvio-deps or pass KDIR=" >&2; exit 1; }
	$(MAKE) -C $(KDIR) M=$(CURDIR) modules

modules-clean:
	@test -z "$(KDIR)" || $(MAKE) -C $(KDIR) M=$(CURDIR) clean

deps:
	@tools/pvio-deps

check: deps
	@tests/run-all

demo: deps all modules
	@KDIR=$(KDIR) tools/pvio-demo

clean: modules-clean
	rm -rf $(BUILD)
