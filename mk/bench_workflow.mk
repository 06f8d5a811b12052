# Workflow benchmarks (issue 13): accumulate, select across arrays, class streaming.
# Figures quoted in docs/performance.md's workflow table come from this program.
build/bench/workflow: bench/workflow.c lib | deps
	@mkdir -p $(@D)
	$(CC) $(USER_CFLAGS) -O2 -o $@ bench/workflow.c $(USER_LIBS)

.PHONY: bench-workflow
bench-workflow: build/bench/workflow
	@echo "machine: $$(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | sed 's/^ //'), $$(nproc) cores"
	./build/bench/workflow

bench: bench-workflow
