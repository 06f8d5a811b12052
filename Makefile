# libfi - build, install, test. `make help` lists the targets.
VERSION      := 1.2.0
SOVERSION    := 1
PREFIX       ?= /usr/local
LIBDIR       ?= $(PREFIX)/lib
INCLUDEDIR   ?= $(PREFIX)/include
PKGCONFIGDIR ?= $(LIBDIR)/pkgconfig
DESTDIR      ?=

CC      ?= cc
AR      ?= ar
# Recursive (=) on purpose: pkg-config is asked when a recipe runs, after `deps` may have
# installed what it asks about.
DEPS_CFLAGS = $(shell pkg-config --cflags lapacke openblas 2>/dev/null)
DEPS_LIBS   = $(shell pkg-config --libs lapacke openblas 2>/dev/null) -lpthread -lm
WARN       := -Wall -Wextra -Wshadow -Wstrict-prototypes -Wmissing-prototypes
OPT        ?= -O3
CFLAGS     ?= $(OPT) -g
LIB_CFLAGS  = -std=c11 -D_POSIX_C_SOURCE=200809L $(WARN) $(CFLAGS) -Iinclude -fvisibility=hidden \
              -DFI_BUILDING_LIBRARY $(DEPS_CFLAGS)

SRC      := $(sort $(wildcard src/*.c))
HDR      := include/fi.h $(wildcard src/*.h)
OBJ_SH   := $(SRC:src/%.c=build/shared/%.o)
OBJ_ST   := $(SRC:src/%.c=build/static/%.o)

# On x86-64 src/kernels.c is compiled twice more, for AVX2+FMA+F16C and for AVX-512 (VL: the same
# 4-double vectors with 32 registers); fi__kernels() chooses at run time, so the library still
# runs on any x86-64 CPU.
ifneq ($(findstring x86_64,$(shell $(CC) -dumpmachine)),)
ISA_FLAGS_avx2   := -mavx2 -mfma -mf16c -ffp-contract=fast -DFI_KERNEL_ISA=avx2
ISA_FLAGS_avx512 := -mavx2 -mfma -mf16c -mavx512f -mavx512vl -mavx512dq -ffp-contract=fast \
                    -DFI_KERNEL_ISA=avx512
LIB_CFLAGS += -DFI_HAVE_X86_KERNELS
OBJ_SH   += build/shared/kernels_avx2.o build/shared/kernels_avx512.o
OBJ_ST   += build/static/kernels_avx2.o build/static/kernels_avx512.o
endif
SONAME   := libfi.so.$(SOVERSION)
SHLIB    := lib/libfi.so.$(VERSION)
STLIB    := lib/libfi.a

# Programs built against the freshly built library, the way a user links.
USER_CFLAGS = -std=c11 -D_POSIX_C_SOURCE=200809L $(WARN) $(CFLAGS) -Iinclude
USER_LIBS   = -Llib -lfi -Wl,-rpath,$(CURDIR)/lib $(DEPS_LIBS)

CHECK_TARGETS :=
DEMO_TARGETS  :=
CLEAN_EXTRA   :=

.PHONY: all lib deps check demo install uninstall clean help
all: lib

lib: $(SHLIB) lib/$(SONAME) lib/libfi.so $(STLIB) libfi.pc

deps:
	@sh scripts/deps.sh

build/shared/%.o: src/%.c $(HDR) | deps
	@mkdir -p $(@D)
	$(CC) $(LIB_CFLAGS) -fPIC -c $< -o $@

build/static/%.o: src/%.c $(HDR) | deps
	@mkdir -p $(@D)
	$(CC) $(LIB_CFLAGS) -c $< -o $@

build/shared/kernels_%.o: src/kernels.c $(HDR) | deps
	@mkdir -p $(@D)
	$(CC) $(LIB_CFLAGS) $(ISA_FLAGS_$*) -fPIC -c $< -o $@

build/static/kernels_%.o: src/kernels.c $(HDR) | deps
	@mkdir -p $(@D)
	$(CC) $(LIB_CFLAGS) $(ISA_FLAGS_$*) -c $< -o $@

$(SHLIB): $(OBJ_SH) src/libfi.map
	@mkdir -p lib
	$(CC) -shared -Wl,-soname,$(SONAME) -Wl,--version-script=src/libfi.map -Wl,--no-undefined \
	    -o $@ $(OBJ_SH) $(DEPS_LIBS)

lib/$(SONAME): $(SHLIB)
	ln -sf libfi.so.$(VERSION) $@

lib/libfi.so: lib/$(SONAME)
	ln -sf $(SONAME) $@

$(STLIB): $(OBJ_ST)
	@mkdir -p lib
	rm -f $@
	$(AR) rcs $@ $(OBJ_ST)

# The paths are those of the PREFIX/LIBDIR given now: install writes its own copy, so that
# `make install PREFIX=/usr` after a plain `make` does not install a stale /usr/local file.
PC_SUBST = sed -e 's|@PREFIX@|$(PREFIX)|' -e 's|@LIBDIR@|$(LIBDIR)|' \
	    -e 's|@INCLUDEDIR@|$(INCLUDEDIR)|' -e 's|@VERSION@|$(VERSION)|'

libfi.pc: libfi.pc.in Makefile
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
	@echo "make check      run the test suites"
	@echo "make bench      run the benchmarks (W1-W6) against the memory floor and the peer"
	@echo "make install    install under DESTDIR/PREFIX (LIBDIR, INCLUDEDIR honoured)"
	@echo "make uninstall  remove what install put there"
