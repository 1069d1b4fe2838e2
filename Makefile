# loadscope — build, test and benchmark.
#
#   make            build build/loadscope (BPF objects, skeletons, binary) and the demo server
#   make demo       install what is missing, build, run `loadscope demo` (README's first command)
#   make test       install what is missing, build, run every test, then again under ASan+UBSan
#   make bench      load generator, tracer overhead and other benchmarks (ratios vs peers)
#   make vmlinux    regenerate vmlinux/vmlinux.h from the running kernel's BTF
#
# Sources are discovered by wildcard: a new userspace/**.c, bpf/*.bpf.c or tests/test_*.c is
# built without touching this file.

BUILD    ?= build
CC       ?= gcc
CLANG    ?= clang
LLVM_STRIP ?= llvm-strip
BPFTOOL  ?= $(shell command -v bpftool 2>/dev/null || echo /usr/sbin/bpftool)
ARCH     := x86

PKGS     := libbpf libcurl libelf zlib sqlite3 libcjson yaml-0.1 libdw
PKG_CFLAGS := $(shell pkg-config --cflags $(PKGS) 2>/dev/null)
PKG_LIBS   := $(shell pkg-config --libs $(PKGS) 2>/dev/null)

WARN     := -Wall -Wextra -Werror -Wshadow -Wstrict-prototypes -Wno-missing-field-initializers
CFLAGS   ?= -O2 -g
CFLAGS   += -std=c11 -D_GNU_SOURCE $(WARN) -pthread -MMD -MP
# bpf/ headers by quote only: bpf/sched.h must not shadow <sched.h> (pulled in by <pthread.h>).
CPPFLAGS += -Iuserspace -Itests -I$(BUILD)/skel -iquote bpf $(PKG_CFLAGS)
LDLIBS   += $(PKG_LIBS) -lm -pthread

SAN_FLAGS := -fsanitize=address,undefined -fno-omit-frame-pointer -fno-sanitize-recover=undefined

# Libraries only the tests use (libxml2 checks that generated SVG is well-formed XML).
TEST_PKGS := libxml-2.0
TEST_CFLAGS := $(shell pkg-config --cflags $(TEST_PKGS) 2>/dev/null)
TEST_LIBS   := $(shell pkg-config --libs $(TEST_PKGS) 2>/dev/null)

# The demo server is a plain C program with no library beyond libc and libm.
DEMO_SRCS := $(wildcard tools/demo-server/*.c)

BPF_SRCS  := $(wildcard bpf/*.bpf.c)
BPF_OBJS  := $(patsubst bpf/%.bpf.c,$(BUILD)/bpf/%.bpf.o,$(BPF_SRCS))
SKELS     := $(patsubst bpf/%.bpf.c,$(BUILD)/skel/%.skel.h,$(BPF_SRCS))

APP_SRCS  := $(shell find userspace -name '*.c' | sort)
APP_ASM   := $(shell find userspace -name '*.S' | sort)
LIB_SRCS  := $(filter-out userspace/main.c,$(APP_SRCS))

TEST_SUPPORT := $(wildcard tests/support/*.c)
TEST_SRCS    := $(wildcard tests/test_*.c)

# Two flavours of every userspace object: plain, and sanitized for the second test pass.
obj     = $(patsubst %.c,$(BUILD)/obj/%.o,$(patsubst %.S,$(BUILD)/obj/%.o,$(1)))
san_obj = $(patsubst %.c,$(BUILD)/san/%.o,$(patsubst %.S,$(BUILD)/san/%.o,$(1)))

LIB_OBJS     := $(call obj,$(LIB_SRCS) $(APP_ASM))
LIB_SAN_OBJS := $(call san_obj,$(LIB_SRCS) $(APP_ASM))
TEST_BINS    := $(patsubst tests/%.c,$(BUILD)/tests/%,$(TEST_SRCS))
TEST_SAN_BINS:= $(patsubst tests/%.c,$(BUILD)/san/tests/%,$(TEST_SRCS))

LOADSCOPE     := $(BUILD)/loadscope
LOADSCOPE_SAN := $(BUILD)/san/loadscope
DEMO_SERVER   := $(if $(DEMO_SRCS),$(BUILD)/loadscope-demo-server)
DEMO_SERVER_SAN := $(if $(DEMO_SRCS),$(BUILD)/san/loadscope-demo-server)

.PHONY: all deps demo test test-plain test-san bench vmlinux clean tests
.DEFAULT_GOAL := all

all: $(LOADSCOPE) $(DEMO_SERVER)

deps:
	@./tools/install-deps.sh

# Sub-makes so pkg-config runs after the packages are installed.
demo: deps
	@$(MAKE) --no-print-directory all
	./$(LOADSCOPE) demo $(DEMO_ARGS)

test: deps
	@$(MAKE) --no-print-directory -j$$(nproc) tests
	@$(MAKE) --no-print-directory test-plain
	@$(MAKE) --no-print-directory test-san

tests: $(LOADSCOPE) $(DEMO_SERVER) $(TEST_BINS) $(LOADSCOPE_SAN) $(DEMO_SERVER_SAN) $(TEST_SAN_BINS)

# Tests run one at a time (--jobs 1): many measure time on a 2-core machine.
# TEST_FILTER=load runs only tests/test_*load*; CRITERION_ARGS passes through (e.g. --verbose).
TEST_FILTER ?=
pick = $(if $(TEST_FILTER),$(foreach t,$(1),$(if $(findstring $(TEST_FILTER),$(notdir $(t))),$(t))),$(1))
run_tests = set -e; for t in $(call pick,$(1)); do \
	echo "== $$t"; \
	LOADSCOPE_BIN=$(abspath $(2)) DEMO_SERVER_BIN=$(abspath $(3)) \
	  $$t --jobs 1 --timeout 600 $(CRITERION_ARGS); done

test-plain: $(TEST_BINS) $(LOADSCOPE) $(DEMO_SERVER)
	@$(call run_tests,$(TEST_BINS),$(LOADSCOPE),$(DEMO_SERVER))

test-san: $(TEST_SAN_BINS) $(LOADSCOPE_SAN) $(DEMO_SERVER_SAN)
	@ASAN_OPTIONS=detect_leaks=1:abort_on_error=1 UBSAN_OPTIONS=print_stacktrace=1 LOADSCOPE_VERDICT_RUNS=3 \
	  $(call run_tests,$(TEST_SAN_BINS),$(LOADSCOPE_SAN),$(DEMO_SERVER_SAN))

bench: all $(BUILD)/skel/hook_floor.skel.h   # bench_trace.sh's yardstick (bpf/hook_floor.bpf.c)
	./tools/bench/run.sh

# ---- BPF: object, then skeleton -------------------------------------------------------------
BPF_CFLAGS := -g -O2 -target bpf -D__TARGET_ARCH_$(ARCH) -Ivmlinux -Ibpf -Wall -Werror \
              -Wno-unused-function

$(BUILD)/bpf/%.bpf.o: bpf/%.bpf.c $(wildcard bpf/*.h) vmlinux/vmlinux.h | $(BUILD)/bpf
	$(CLANG) $(BPF_CFLAGS) -c $< -o $@
	$(LLVM_STRIP) -g $@   # keep BTF, drop DWARF: the skeleton embeds the object

$(BUILD)/skel/%.skel.h: $(BUILD)/bpf/%.bpf.o | $(BUILD)/skel
	$(BPFTOOL) gen skeleton $< name $(subst -,_,$*)_bpf > $@.tmp && mv $@.tmp $@

vmlinux:
	$(BPFTOOL) btf dump file /sys/kernel/btf/vmlinux format c > vmlinux/vmlinux.h.tmp
	mv vmlinux/vmlinux.h.tmp vmlinux/vmlinux.h

# ---- userspace ---------------------------------------------------------------------------------
$(BUILD)/obj/%.o: %.c | $(SKELS)
	@mkdir -p $(dir $@)
	$(CC) $(CPPFLAGS) $(CFLAGS) -c $< -o $@

$(BUILD)/obj/%.o: %.S
	@mkdir -p $(dir $@)
	$(CC) $(CPPFLAGS) -c $< -o $@

$(BUILD)/san/%.o: %.c | $(SKELS)
	@mkdir -p $(dir $@)
	$(CC) $(CPPFLAGS) $(CFLAGS) $(SAN_FLAGS) -c $< -o $@

$(BUILD)/san/%.o: %.S
	@mkdir -p $(dir $@)
	$(CC) $(CPPFLAGS) -c $< -o $@

$(LOADSCOPE): $(call obj,userspace/main.c) $(LIB_OBJS)
	$(CC) $(CFLAGS) $^ -o $@ $(LDLIBS)

$(LOADSCOPE_SAN): $(call san_obj,userspace/main.c) $(LIB_SAN_OBJS)
	$(CC) $(CFLAGS) $(SAN_FLAGS) $^ -o $@ $(LDLIBS)

# The demo server sees no project include path: it uses nothing from userspace/, and
# bpf/sched.h must not shadow <sched.h>.
$(call obj,$(DEMO_SRCS)) $(call san_obj,$(DEMO_SRCS)): CPPFLAGS :=

$(BUILD)/loadscope-demo-server: $(call obj,$(DEMO_SRCS))
	$(CC) $(CFLAGS) $^ -o $@ -lm -pthread

$(BUILD)/san/loadscope-demo-server: $(call san_obj,$(DEMO_SRCS))
	$(CC) $(CFLAGS) $(SAN_FLAGS) $^ -o $@ -lm -pthread

# ---- tests: one Criterion binary per tests/test_*.c, linked with every module but main ------
$(BUILD)/tests/%: $(call obj,tests/%.c) $(call obj,$(TEST_SUPPORT)) $(LIB_OBJS)
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS) $^ -o $@ $(LDLIBS) $(TEST_LIBS) -lcriterion

$(BUILD)/san/tests/%: $(call san_obj,tests/%.c) $(call san_obj,$(TEST_SUPPORT)) $(LIB_SAN_OBJS)
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS) $(SAN_FLAGS) $^ -o $@ $(LDLIBS) $(TEST_LIBS) -lcriterion

$(BUILD)/obj/tests/%.o $(BUILD)/san/tests/%.o: CPPFLAGS += $(TEST_CFLAGS)

# Files embedded with .incbin: rebuild when they change.
$(call obj,userspace/store/schema_sql.S) $(call san_obj,userspace/store/schema_sql.S): userspace/store/schema.sql
HTML_ASSETS := userspace/report/html_template.html userspace/report/html_report.css \
               userspace/report/html_report.js /usr/share/javascript/chart.js/chart.min.js
$(call obj,userspace/report/html_assets.S) $(call san_obj,userspace/report/html_assets.S): $(HTML_ASSETS)
SWEEP_ASSETS := userspace/sweep/sweep_template.html userspace/sweep/sweep_report.css \
                userspace/sweep/sweep_report.js
$(call obj,userspace/sweep/sweep_assets.S) $(call san_obj,userspace/sweep/sweep_assets.S): $(SWEEP_ASSETS)

$(BUILD)/bpf $(BUILD)/skel:
	@mkdir -p $@

clean:
	rm -rf $(BUILD)

.SECONDARY:
-include $(shell find $(BUILD) -name '*.d' 2>/dev/null)
