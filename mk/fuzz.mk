# libFuzzer (clang-14, libclang-rt-14-dev) over the public API; the kept corpus replays in
# `make check` with the ordinary build.
FUZZ_SECONDS ?= 60
FUZZ_CC ?= clang

# The library compiled in with the portable kernels only (one -D for all files), one object per
# file so that `make -j2 fuzz` compiles in parallel and a touched file recompiles alone.
# UBSan aborts on its first finding (-fno-sanitize-recover), so that libFuzzer records it.
# The kernels get ASan without UBSan: clang 14 needs more than 3 minutes per kernel file
# (each K-specialized, unrolled always-inline body instrumented; measured on columns.c) with
# UBSan at -O1, against 27 s with ASan; check-sanitize runs them under gcc's UBSan.
FUZZ_FLAGS := -g -O1 -Iinclude -Isrc -DFI_BUILDING_LIBRARY -DFI_KERNEL_ISA=portable -Wno-psabi \
              -fno-sanitize-recover=all $(DEPS_CFLAGS)
FUZZ_OBJ := $(CORE_SRC:src/%.c=build/fuzz/obj/%.o) $(KERNEL_SRC:src/%.c=build/fuzz/obj/%.o)
FUZZ_HDR := $(wildcard include/*.h src/*.h src/*/*.h)

build/fuzz/obj/kernels/%.o: src/kernels/%.c $(FUZZ_HDR) | $(DEPS_OK)
	@mkdir -p $(@D)
	$(FUZZ_CC) $(FUZZ_FLAGS) -fsanitize=fuzzer-no-link,address -c -o $@ $<

build/fuzz/obj/%.o: src/%.c $(FUZZ_HDR) | $(DEPS_OK)
	@mkdir -p $(@D)
	$(FUZZ_CC) $(FUZZ_FLAGS) -fsanitize=fuzzer-no-link,address,undefined -c -o $@ $<

build/fuzz/fuzz_fi: fuzz/fuzz_fi.c $(FUZZ_OBJ) | $(DEPS_OK)
	$(FUZZ_CC) $(FUZZ_FLAGS) -fsanitize=fuzzer,address,undefined -o $@ fuzz/fuzz_fi.c \
	    $(FUZZ_OBJ) $(DEPS_LIBS)

build/fuzz/replay: fuzz/fuzz_fi.c include/fi.h $(LIB_FILES) | $(DEPS_OK)
	@mkdir -p $(@D)
	$(CC) $(USER_CFLAGS) -DFI_FUZZ_REPLAY -o $@ fuzz/fuzz_fi.c $(USER_LIBS)

.PHONY: fuzz check-fuzz-corpus
# New interesting inputs land in fuzz/corpus/: commit the ones worth keeping.
fuzz: build/fuzz/fuzz_fi
	./build/fuzz/fuzz_fi -max_total_time=$(FUZZ_SECONDS) -max_len=4096 fuzz/corpus

check-fuzz-corpus: build/fuzz/replay
	./build/fuzz/replay fuzz/corpus/*

CHECK_TARGETS += check-fuzz-corpus
