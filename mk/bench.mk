# Benchmarks W1-W6 (SPEC section 3) and the real-gradient workloads (issue 16): ratios to the
# memory floor, to random scores of the same shape and to the PyTorch peer. Not part of
# make check, which only compiles the program (check-bench-build) so that it cannot rot.
BENCH_SRC := bench/bench.c bench/real.c bench/timing.c

build/bench/bench: $(BENCH_SRC) bench/bench.h include/fi.h $(LIB_FILES) | $(DEPS_OK)
	@mkdir -p $(@D)
	$(CC) $(USER_CFLAGS) -O2 -o $@ $(BENCH_SRC) $(USER_LIBS)

# The cost by number of classes K = 4 .. 64 (bench/ksweep.c): a path that stops at some K
# shows as a jump in ns/coord/class.
build/bench/ksweep: bench/ksweep.c bench/timing.c bench/bench.h include/fi.h $(LIB_FILES) | $(DEPS_OK)
	@mkdir -p $(@D)
	$(CC) $(USER_CFLAGS) -O2 -o $@ bench/ksweep.c bench/timing.c $(USER_LIBS)

.PHONY: bench check-bench-build
bench: build/bench/bench build/bench/ksweep
	sh bench/run.sh build/bench/bench
	@echo
	build/bench/ksweep

check-bench-build: build/bench/bench build/bench/ksweep

CHECK_TARGETS += check-bench-build
