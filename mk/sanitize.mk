# Sanitizers and ABI checks (called by .ci/run; not part of plain `make check`).
ASAN_FLAGS := -fsanitize=address,undefined -fno-omit-frame-pointer -fno-sanitize-recover=all
TSAN_FLAGS := -fsanitize=thread
SAN_CFLAGS  = -std=c11 -D_POSIX_C_SOURCE=200809L -O1 -g -Iinclude -Itests $(CHECK_CFLAGS) \
              -DFI_TEST_LIBRARY_COMPILED_IN

# The whole library (with every ISA's kernels: the suites run them through FI_OPT_ISA) and the
# unit suites in one binary per sanitizer, each in a build directory of its own.
ASAN_OBJ := $(call lib_objs,build/asan)
TSAN_OBJ := $(call lib_objs,build/tsan)
$(call lib_rules,build/asan,-O1 $(ASAN_FLAGS))
$(call lib_rules,build/tsan,-O1 $(TSAN_FLAGS))
-include $(ASAN_OBJ:.o=.d) $(TSAN_OBJ:.o=.d)

build/asan/check_fi: $(ASAN_OBJ) $(TEST_SRC) $(TEST_HDR) | $(DEPS_OK)
	$(CC) $(SAN_CFLAGS) $(ASAN_FLAGS) -o $@ $(TEST_SRC) $(ASAN_OBJ) $(DEPS_LIBS) $(CHECK_LIBS)

build/tsan/check_fi: $(TSAN_OBJ) $(TEST_SRC) $(TEST_HDR) | $(DEPS_OK)
	$(CC) $(SAN_CFLAGS) $(TSAN_FLAGS) -o $@ $(TEST_SRC) $(TSAN_OBJ) $(DEPS_LIBS) $(CHECK_LIBS)

.PHONY: check-sanitize check-valgrind check-symbols check-abi abi-baseline
check-sanitize: build/asan/check_fi
	ASAN_OPTIONS=detect_leaks=1:abort_on_error=1 UBSAN_OPTIONS=print_stacktrace=1 \
	    CK_FORK=no ./build/asan/check_fi

check-valgrind: build/tests/check_fi
	CK_FORK=no valgrind -q --error-exitcode=1 --leak-check=full --errors-for-leak-kinds=definite \
	    ./build/tests/check_fi

# Only fi_ symbols are exported, under the version node LIBFI_1.0, and the SONAME is libfi.so.1.
check-symbols: $(LIB_FILES)
	@bad=$$(nm -D --defined-only $(SHLIB) | awk '$$2 ~ /[TDBR]/ {print $$3}' | grep -v '^fi_' || true); \
	 if [ -n "$$bad" ]; then echo "exported non-fi_ symbols: $$bad"; exit 1; fi
	@readelf -d $(SHLIB) | grep -q 'Library soname: \[$(SONAME)\]' || { echo "SONAME is not $(SONAME)"; exit 1; }
	@n=$$(nm -D --defined-only $(SHLIB) | grep -c ' T fi_'); echo "check-symbols: $$n fi_ functions, SONAME $(SONAME): OK"

# abidiff against the committed baseline of the released ABI (abigail-tools).
# abidiff's exit status is a bit set: 1 error, 2 usage, 4 an ABI change (additions, such as
# 1.2's new functions, are changes), 8 an incompatible change. Additions pass; the baseline stays
# the released ABI.
check-abi: $(LIB_FILES)
	@abidiff --headers-dir2 include abi/libfi.so.1.abi $(SHLIB); rc=$$?; \
	 if [ $$((rc & 11)) -ne 0 ]; then echo "check-abi: abidiff status $$rc"; exit 1; fi; \
	 echo "check-abi: no incompatible change against abi/libfi.so.1.abi (abidiff status $$rc)"

abi-baseline: $(LIB_FILES)
	@mkdir -p abi
	abidw --headers-dir include --no-corpus-path $(SHLIB) > abi/libfi.so.1.abi

CHECK_TARGETS += check-symbols

# ThreadSanitizer: all suites (incl. several contexts on several threads with the library's
# own workers, tests/check_robust.c).
.PHONY: check-tsan
check-tsan: build/tsan/check_fi
	TSAN_OPTIONS=halt_on_error=1 CK_FORK=no OPENBLAS_NUM_THREADS=1 ./build/tsan/check_fi
