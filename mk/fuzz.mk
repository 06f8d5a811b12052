# libFuzzer (clang-14, libclang-rt-14-dev) over the public API; the kept corpus replays in
# `make check` with the ordinary build.
FUZZ_SECONDS ?= 60
FUZZ_CC ?= clang

# The library compiled in with the portable kernels only (one -D for all files).
build/fuzz/fuzz_fi: fuzz/fuzz_fi.c $(SRC) $(wildcard include/*.h src/*.h src/*/*.h) | $(DEPS_OK)
	@mkdir -p $(@D)
	$(FUZZ_CC) -g -O1 -fsanitize=fuzzer,address,undefined -Iinclude -Isrc -DFI_BUILDING_LIBRARY \
	    -DFI_KERNEL_ISA=portable -Wno-psabi \
	    $(DEPS_CFLAGS) -o $@ fuzz/fuzz_fi.c $(SRC) $(DEPS_LIBS)

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
