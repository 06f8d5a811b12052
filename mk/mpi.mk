# MPI examples (examples/mpi, docs/distributed.md): dataset- and parameter-sharded FI.
# `make check-mpi` builds them with mpicc and runs each under mpirun. It is not part of
# `make check` (which must not need MPI); .ci/run calls it.
MPICC    ?= mpicc
MPIRUN   ?= mpirun
MPI_NP   ?= 2
MPI_PKGS := libopenmpi-dev openmpi-bin
# Sandbox- and container-proof: more ranks than cores are fine, root is fine (CI runs as
# root), ranks talk through shared memory only (btl self,vader) and the runtime through
# loopback, no single-copy (CMA needs ptrace rights containers often lack), no binding.
MPIRUN_FLAGS ?= --oversubscribe --allow-run-as-root --bind-to none \
                --mca btl self,vader --mca btl_vader_single_copy_mechanism none \
                --mca oob_tcp_if_include lo
MPIRUN_ENV   := OMPI_ALLOW_RUN_AS_ROOT=1 OMPI_ALLOW_RUN_AS_ROOT_CONFIRM=1 \
                OMPI_MCA_rmaps_base_oversubscribe=1

MPI_COMMON := examples/mpi/model.c examples/mpi/shard.c
MPI_HDR    := $(wildcard examples/mpi/*.h) include/fi.h
MPI_PROGS  := build/mpi/dataset_sharded build/mpi/param_sharded

.PHONY: mpi-deps mpi-examples check-mpi bench-mpi

# Like scripts/deps.sh: as root on Debian, installs Open MPI when mpicc/mpirun are missing.
mpi-deps:
	@if ! command -v $(MPICC) >/dev/null 2>&1 || ! command -v $(MPIRUN) >/dev/null 2>&1; then \
	    echo "libfi: check-mpi needs Open MPI ($(MPI_PKGS))" >&2; \
	    if [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1 \
	       && [ -z "$${FI_NO_AUTO_INSTALL:-}" ]; then \
	        DEBIAN_FRONTEND=noninteractive apt-get update -qq >&2 \
	        && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq $(MPI_PKGS) >&2; \
	    else \
	        echo "libfi: install it with:  apt-get install $(MPI_PKGS)" >&2; exit 1; \
	    fi; \
	fi

build/mpi/dataset_sharded: examples/mpi/dataset_sharded.c examples/mpi/acc_mpi.c $(MPI_COMMON) \
                           $(MPI_HDR) $(SHLIB) lib/libfi.so | mpi-deps
	@mkdir -p $(@D)
	$(MPICC) $(USER_CFLAGS) -o $@ $(filter %.c,$^) $(USER_LIBS)

build/mpi/param_sharded: examples/mpi/param_sharded.c $(MPI_COMMON) $(MPI_HDR) $(SHLIB) \
                         lib/libfi.so | mpi-deps
	@mkdir -p $(@D)
	$(MPICC) $(USER_CFLAGS) -o $@ $(filter %.c,$^) $(USER_LIBS)

build/mpi/allreduce_bench: examples/mpi/allreduce_bench.c examples/mpi/acc_mpi.c $(MPI_COMMON) \
                           $(MPI_HDR) $(SHLIB) lib/libfi.so | mpi-deps
	@mkdir -p $(@D)
	$(MPICC) $(USER_CFLAGS) -o $@ $(filter %.c,$^) $(USER_LIBS)

mpi-examples: $(MPI_PROGS) build/mpi/allreduce_bench

# Not a test: the cost of combining accumulators of 10^6 blocks (docs/distributed.md).
bench-mpi: build/mpi/allreduce_bench
	$(MPIRUN_ENV) $(MPIRUN) -np $(MPI_NP) $(MPIRUN_FLAGS) build/mpi/allreduce_bench 1000000 5

# Each program compares the distributed result with a single-process run of the same
# computation (and with closed forms) and exits non-zero on a mismatch. The extra 3-rank
# runs make the shares uneven (1001 samples, 29 blocks), which 2 ranks do not. The torch
# example is the same pattern over torch.distributed (gloo), when Debian's torch is there.
check-mpi: $(MPI_PROGS)
	$(MPIRUN_ENV) $(MPIRUN) -np $(MPI_NP) $(MPIRUN_FLAGS) build/mpi/dataset_sharded
	$(MPIRUN_ENV) $(MPIRUN) -np $(MPI_NP) $(MPIRUN_FLAGS) build/mpi/param_sharded
	$(MPIRUN_ENV) $(MPIRUN) -np 3 $(MPIRUN_FLAGS) build/mpi/dataset_sharded
	$(MPIRUN_ENV) $(MPIRUN) -np 3 $(MPIRUN_FLAGS) build/mpi/param_sharded
	@if /usr/bin/python3 -c 'import torch' >/dev/null 2>&1; then \
	    echo "LIBFI_PATH=lib /usr/bin/python3 examples/mpi/torch_distributed.py"; \
	    LIBFI_PATH=$(CURDIR)/lib /usr/bin/python3 examples/mpi/torch_distributed.py; \
	else echo "SKIP examples/mpi/torch_distributed.py: /usr/bin/python3 has no torch" \
	          "(python3-torch)"; fi
