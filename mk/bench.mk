# Benchmarks W1-W6 (SPEC section 3): ratios to the memory floor and to the PyTorch peer.
build/bench/bench: bench/bench.c include/fi.h $(LIB_FILES) | $(DEPS_OK)
	@mkdir -p $(@D)
	$(CC) $(USER_CFLAGS) -O2 -o $@ bench/bench.c $(USER_LIBS)

.PHONY: bench
bench: build/bench/bench
	sh bench/run.sh build/bench/bench
