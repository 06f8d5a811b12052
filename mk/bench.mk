# Benchmarks W1-W6 (SPEC section 3): ratios to the memory floor and to the PyTorch peer.
build/bench/bench: bench/bench.c lib | deps
	@mkdir -p $(@D)
	$(CC) $(USER_CFLAGS) -O2 -o $@ bench/bench.c $(USER_LIBS)

.PHONY: bench
bench: build/bench/bench
	sh bench/run.sh build/bench/bench
