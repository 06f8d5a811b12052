# libfi - build, install, test. `make help` lists the targets.
# The version lives in include/fi.h only; the Makefile reads it from there.
VERSION      := $(shell sed -n 's/^\#define FI_VERSION_STRING "\(.*\)"/\1/p' include/fi.h)
SOVERSION    := $(shell sed -n 's/^\#define FI_VERSION_MAJOR \([0-9][0-9]*\)/\1/p' include/fi.h)
PREFIX       ?= /usr/local
LIBDIR       ?= $(PREFIX)/lib
INCLUDEDIR   ?= $(PREFIX)/include
PKGCONFIGDIR ?= $(LIBDIR)/pkgconfig
DESTDIR      ?=

CC      ?= cc
AR      ?= ar
# Recursive (=) on purpose: pkg-config is asked when a recipe runs, after the dependency check
# (build/deps.ok) may have installed what it asks about.
DEPS_CFLAGS = $(shell pkg-config --cflags lapacke openblas 2>/dev/null)
DEPS_LIBS   = $(shell pkg-config --libs lapacke openblas 2>/dev/null) -lpthread -lm
WARN       := -Wall -Wextra -Wshadow -Wstrict-prototypes -Wmissing-prototypes
OPT        ?= -O3
CFLAGS     ?= $(OPT) -g
LIB_CFLAGS  = -std=c11 -D_POSIX_C_SOURCE=200809L $(WARN) $(CFLAGS) -Iinclude -Isrc \
              -fvisibility=hidden -DFI_BUILDING_LIBRARY $(DEPS_CFLAGS)

# Every src/**/*.c is part of the library, picked up by the wildcard. The kernel families of
# src/kernels/ are compiled once per instruction set (ISAS) with -DFI_KERNEL_ISA=<isa>; every
# other file once. One set of position-independent objects serves libfi.so and libfi.a.
SRC         := $(sort $(wildcard src/*.c src/*/*.c))
KERNEL_SRC  := $(sort $(wildcard src/kernels/*.c))
CORE_SRC    := $(filter-out $(KERNEL_SRC),$(SRC))
ISAS        := portable
KERNEL_SRC_portable := $(KERNEL_SRC)
ISA_FLAGS_portable  := -DFI_KERNEL_ISA=portable

# On x86-64 the kernels are compiled for AVX2+FMA+F16C too, and the two families that gain from
# AVX-512VL's 32 vector registers (the same 4-double vectors) for it: rows_wide (a wider
# register tile) and pixels (the p x p factorization of four blocks stays in registers). The
# library still runs on any x86-64 CPU: src/solve/dispatch.c chooses at run time.
ifneq ($(findstring x86_64,$(shell $(CC) -dumpmachine)),)
ISAS               += avx2 avx512
KERNEL_SRC_avx2    := $(KERNEL_SRC)
KERNEL_SRC_avx512  := src/kernels/rows_wide.c src/kernels/pixels.c src/kernels/gram_many.c
ISA_FLAGS_avx2     := -mavx2 -mfma -mf16c -ffp-contract=fast -DFI_KERNEL_ISA=avx2
ISA_FLAGS_avx512   := -mavx2 -mfma -mf16c -mavx512f -mavx512vl -mavx512dq -ffp-contract=fast \
                      -DFI_KERNEL_ISA=avx512
LIB_CFLAGS += -DFI_HAVE_X86_KERNELS
endif
# Vectors never cross a call boundary in the kernels (always-inline helpers only), so GCC's
# note that the ABI of 32-byte vector arguments changed in GCC 4.6 says nothing about them.
KERNEL_CFLAGS := -Wno-psabi

# Objects of the library in build directory $(1): the core files, then each ISA's kernels.
lib_objs = $(CORE_SRC:src/%.c=$(1)/%.o) \
           $(foreach isa,$(ISAS),$(KERNEL_SRC_$(isa):src/kernels/%.c=$(1)/kernels/%_$(isa).o))
OBJ      := $(call lib_objs,build/obj)

SONAME   := libfi.so.$(SOVERSION)
SHLIB    := lib/libfi.so.$(VERSION)
STLIB    := lib/libfi.a
# What a program linked against the library needs (real files: a phony prerequisite would
# rebuild them on every run).
LIB_FILES := $(SHLIB) lib/$(SONAME) lib/libfi.so
DEPS_OK  := build/deps.ok

# Programs built against the freshly built library, the way a user links.
USER_CFLAGS = -std=c11 -D_POSIX_C_SOURCE=200809L $(WARN) $(CFLAGS) -Iinclude
USER_LIBS   = -Llib -lfi -Wl,-rpath,$(CURDIR)/lib $(DEPS_LIBS)

# The unit suites (mk/tests.mk; mk/sanitize.mk builds them too).
TEST_SRC     := $(sort $(wildcard tests/check_*.c tests/support/*.c))
TEST_HDR     := $(wildcard tests/*.h tests/support/*.h)
CHECK_CFLAGS  = $(shell pkg-config --cflags check 2>/dev/null)
CHECK_LIBS    = $(shell pkg-config --libs check 2>/dev/null)

# make check fails when a suite it is meant to run cannot run (a missing interpreter or
# package); ALLOW_SKIP=1 makes such suites skip loudly instead (the scripts of the suites read
# FI_ALLOW_SKIP, or their own variable: FI_PYTHON_OPTIONAL, FI_CHECK_NO_TORCH).
ALLOW_SKIP ?=
ifneq ($(ALLOW_SKIP),)
export FI_ALLOW_SKIP := 1
export FI_PYTHON_OPTIONAL := 1
export FI_CHECK_NO_TORCH := 1
endif

CHECK_TARGETS :=
DEMO_TARGETS  :=
CLEAN_EXTRA   :=

.PHONY: all lib deps check demo install uninstall clean help
all: lib

lib: $(LIB_FILES) $(STLIB) libfi.pc

# scripts/deps.sh checks (and as root on Debian installs) the build dependencies; the stamp
# makes that once per build tree, and objects wait for it (order-only: it never rebuilds them).
$(DEPS_OK): scripts/deps.sh
	@sh scripts/deps.sh
	@mkdir -p $(@D) && touch $@

deps:
	@sh scripts/deps.sh

# Object rules of a build directory: $(call lib_rules,dir,extra flags) compiles src/X.c into
# dir/X.o and src/kernels/X.c into dir/kernels/X_<isa>.o for each ISA. -MMD -MP: each object's
# header dependencies in a .d file next to it. mk/sanitize.mk makes its own directories.
define obj_rule
$(1)/%.o: src/%.c | $$(DEPS_OK)
	@mkdir -p $$(@D)
	$$(CC) $$(LIB_CFLAGS) $(2) -MMD -MP -c $$< -o $$@
endef
define kernel_rule
$(1)/kernels/%_$(3).o: src/kernels/%.c | $$(DEPS_OK)
	@mkdir -p $$(@D)
	$$(CC) $$(LIB_CFLAGS) $(2) $$(KERNEL_CFLAGS) $$(ISA_FLAGS_$(3)) -MMD -MP -c $$< -o $$@
endef
lib_rules = $(eval $(call obj_rule,$(1),$(2)))$(foreach isa,$(ISAS),$(eval $(call kernel_rule,$(1),$(2),$(isa))))

$(call lib_rules,build/obj,-fPIC)
-include $(OBJ:.o=.d)

$(SHLIB): $(OBJ) src/libfi.map
	@mkdir -p lib
	$(CC) -shared -Wl,-soname,$(SONAME) -Wl,--version-script=src/libfi.map -Wl,--no-undefined \
	    -o $@ $(OBJ) $(DEPS_LIBS)

lib/$(SONAME): $(SHLIB)
	ln -sf libfi.so.$(VERSION) $@

lib/libfi.so: lib/$(SONAME)
	ln -sf $(SONAME) $@

# The same objects as the shared library: position-independent code costs little on x86-64
# and aarch64, and it halves the build.
$(STLIB): $(OBJ)
	@mkdir -p lib
	rm -f $@
	$(AR) rcs $@ $(OBJ)

# The paths are those of the PREFIX/LIBDIR given now: install writes its own copy, so that
# `make install PREFIX=/usr` after a plain `make` does not install a stale /usr/local file.
PC_SUBST = sed -e 's|@PREFIX@|$(PREFIX)|' -e 's|@LIBDIR@|$(LIBDIR)|' \
	    -e 's|@INCLUDEDIR@|$(INCLUDEDIR)|' -e 's|@VERSION@|$(VERSION)|'

libfi.pc: libfi.pc.in Makefile include/fi.h
	$(PC_SUBST) $< > $@

install: lib
	install -d $(DESTDIR)$(LIBDIR) $(DESTDIR)$(INCLUDEDIR) $(DESTDIR)$(PKGCONFIGDIR)
	install -m 644 include/fi.h $(DESTDIR)$(INCLUDEDIR)/fi.h
	install -m 755 $(SHLIB) $(DESTDIR)$(LIBDIR)/
	ln -sf libfi.so.$(VERSION) $(DESTDIR)$(LIBDIR)/$(SONAME)
	ln -sf $(SONAME) $(DESTDIR)$(LIBDIR)/libfi.so
	install -m 644 $(STLIB) $(DESTDIR)$(LIBDIR)/
	$(PC_SUBST) libfi.pc.in > $(DESTDIR)$(PKGCONFIGDIR)/libfi.pc
	chmod 644 $(DESTDIR)$(PKGCONFIGDIR)/libfi.pc

uninstall:
	rm -f $(DESTDIR)$(INCLUDEDIR)/fi.h $(DESTDIR)$(LIBDIR)/libfi.so.$(VERSION) \
	      $(DESTDIR)$(LIBDIR)/$(SONAME) $(DESTDIR)$(LIBDIR)/libfi.so $(DESTDIR)$(LIBDIR)/libfi.a \
	      $(DESTDIR)$(PKGCONFIGDIR)/libfi.pc

# Each area adds its targets and appends to CHECK_TARGETS / DEMO_TARGETS in mk/<area>.mk.
include $(sort $(wildcard mk/*.mk))

check: $(CHECK_TARGETS)

demo: $(DEMO_TARGETS)

clean:
	rm -rf build lib libfi.pc $(CLEAN_EXTRA)

help:
	@echo "make            build lib/libfi.so.$(VERSION) (SONAME $(SONAME)) and lib/libfi.a"
	@echo "make demo       run the reference MLP example end to end"
	@echo "make check      run the test suites (ALLOW_SKIP=1: a suite that cannot run here skips"
	@echo "                loudly instead of failing)"
	@echo "make bench      run the benchmarks (W1-W6) against the memory floor and the peer"
	@echo "make install    install under DESTDIR/PREFIX (LIBDIR, INCLUDEDIR honoured)"
	@echo "make uninstall  remove what install put there"
