# Sanitizers and ABI checks (called by .ci/run; not part of plain `make check`).
SAN_TEST_SRC = $(sort $(wildcard tests/check_*.c)) $(wildcard tests/support/*.c)
ASAN_FLAGS := -fsanitize=address,undefined -fno-omit-frame-pointer -fno-sanitize-recover=all

# The whole library and the unit suites in one ASan+UBSan binary, in a build dir of its own,
# with the x86-64 kernel objects too (the suites run them through FI_OPT_ISA).
ASAN_ISA_OBJ := $(if $(ISA_FLAGS_avx2),build/asan/kernels_avx2.o build/asan/kernels_avx512.o)
ASAN_ISA_DEF := $(if $(ISA_FLAGS_avx2),-DFI_HAVE_X86_KERNELS)

build/asan/kernels_%.o: src/kernels.c $(HDR) | deps
	@mkdir -p $(@D)
	$(CC) -std=c11 -D_POSIX_C_SOURCE=200809L -O1 -g $(ASAN_FLAGS) -Iinclude -Isrc \
	    -DFI_BUILDING_LIBRARY $(ASAN_ISA_DEF) $(ISA_FLAGS_$*) $(DEPS_CFLAGS) -c $< -o $@

build/asan/check_fi: $(SRC) $(SAN_TEST_SRC) $(HDR) $(ASAN_ISA_OBJ) | deps
	@mkdir -p $(@D)
	$(CC) -std=c11 -D_POSIX_C_SOURCE=200809L -O1 -g $(ASAN_FLAGS) -Iinclude -Isrc -Itests \
	    -DFI_BUILDING_LIBRARY $(ASAN_ISA_DEF) $(DEPS_CFLAGS) $(CHECK_CFLAGS) -o $@ $(SRC) \
	    $(TEST_SRC) $(ASAN_ISA_OBJ) $(DEPS_LIBS) $(CHECK_LIBS)

.PHONY: check-sanitize check-valgrind check-symbols check-abi abi-baseline
check-sanitize: build/asan/check_fi
	ASAN_OPTIONS=detect_leaks=1:abort_on_error=1 UBSAN_OPTIONS=print_stacktrace=1 \
	    CK_FORK=no ./build/asan/check_fi

check-valgrind: build/tests/check_fi
	CK_FORK=no valgrind -q --error-exitcode=1 --leak-check=full --errors-for-leak-kinds=definite \
	    ./build/tests/check_fi

# Only fi_ symbols are exported, under the version node LIBFI_1.0, and the SONAME is libfi.so.1.
check-symbols: lib
	@bad=$$(nm -D --defined-only $(SHLIB) | awk '$$2 ~ /[TDBR]/ {print $$3}' | grep -v '^fi_' || true); \
	 if [ -n "$$bad" ]; then echo "exported non-fi_ symbols: $$bad"; exit 1; fi
	@readelf -d $(SHLIB) | grep -q 'Library soname: \[$(SONAME)\]' || { echo "SONAME is not $(SONAME)"; exit 1; }
	@n=$$(nm -D --defined-only $(SHLIB) | grep -c ' T fi_'); echo "check-symbols: $$n fi_ functions, SONAME $(SONAME): OK"

# abidiff against the committed baseline of ABI 1.0 (abigail-tools). After a deliberate,
# compatible addition, refresh it with `make abi-baseline` and commit abi/libfi.so.1.abi.
# abidiff's exit status is a bit set: 1 error, 2 usage, 4 an ABI change (additions, such as
# 1.2's new functions, are changes), 8 an incompatible change. Additions pass; the baseline stays
# the released ABI.
check-abi: lib
	@abidiff --headers-dir2 include abi/libfi.so.1.abi $(SHLIB); rc=$$?; \
	 if [ $$((rc & 11)) -ne 0 ]; then echo "check-abi: abidiff status $$rc"; exit 1; fi; \
	 echo "check-abi: no incompatible change against abi/libfi.so.1.abi (abidiff status $$rc)"

abi-baseline: lib
	@mkdir -p abi
	abidw --headers-dir include --no-corpus-path $(SHLIB) > abi/libfi.so.1.abi

CHECK_TARGETS += check-symbols

# ThreadSanitizer: the library compiled in, all suites (incl. several contexts on several
# threads with the library's own workers, tests/check_robust.c).
build/tsan/check_fi: $(SRC) $(SAN_TEST_SRC) include/fi.h src/internal.h | deps
	@mkdir -p $(@D)
	$(CC) -std=c11 -D_POSIX_C_SOURCE=200809L -O1 -g -fsanitize=thread -Iinclude -Isrc -Itests \
	    -DFI_BUILDING_LIBRARY $(DEPS_CFLAGS) $(CHECK_CFLAGS) -o $@ $(SRC) $(TEST_SRC) \
	    $(DEPS_LIBS) $(CHECK_LIBS)

.PHONY: check-tsan
check-tsan: build/tsan/check_fi
	TSAN_OPTIONS=halt_on_error=1 CK_FORK=no OPENBLAS_NUM_THREADS=1 ./build/tsan/check_fi
