# The reference MLP on the UCI digits (examples/mlp, docs/examples.md): the README's demo,
# its multi-seed experiments and its tests. Built against the freshly built library the way a
# user links (USER_CFLAGS, USER_LIBS: -Iinclude, -lfi), so it sees nothing but include/fi.h.
# The heat maps are written with libpng (Debian libpng-dev): the example needs it, the
# library does not.
MLP_DIR  := examples/mlp
MLP_SRC  := $(MLP_DIR)/digits.c $(MLP_DIR)/mlp.c $(MLP_DIR)/train.c $(MLP_DIR)/setup.c \
            $(MLP_DIR)/criteria.c $(MLP_DIR)/channels.c $(MLP_DIR)/zeroing.c $(MLP_DIR)/quantize.c \
            $(MLP_DIR)/masking.c $(MLP_DIR)/patches.c $(MLP_DIR)/runs.c $(MLP_DIR)/tables.c \
            $(MLP_DIR)/heatmap.c $(MLP_DIR)/heatmap_png.c
MLP_HDR  := $(wildcard $(MLP_DIR)/*.h) include/fi.h
MLP_DATA := examples/data/digits.csv.gz
PNG_CFLAGS := $(shell pkg-config --cflags libpng 2>/dev/null)
PNG_LIBS   := $(shell pkg-config --libs libpng 2>/dev/null || echo -lpng)
# The experiments run 5 training seeds; -O2 whatever OPT says, so `make experiments` and the
# tests stay quick on a -O1 build of the library.
EX_OPT := -O2

build/examples/mlp_digits: $(MLP_DIR)/main.c $(MLP_SRC) $(MLP_HDR) $(LIB_FILES) | $(DEPS_OK)
	@mkdir -p $(@D)
	$(CC) $(USER_CFLAGS) $(EX_OPT) $(PNG_CFLAGS) -I$(MLP_DIR) -o $@ $(MLP_DIR)/main.c $(MLP_SRC) \
	    $(USER_LIBS) $(PNG_LIBS)

# The tests are a Check program of their own: they need the example's model code, which the
# one-runner unit tests (tests/check_*.c) do not link.
build/tests/check_mlp: $(MLP_DIR)/check_mlp.c $(MLP_SRC) $(MLP_HDR) $(LIB_FILES) | $(DEPS_OK)
	@mkdir -p $(@D)
	$(CC) $(USER_CFLAGS) $(EX_OPT) $(PNG_CFLAGS) -I$(MLP_DIR) \
	    $(shell pkg-config --cflags check 2>/dev/null) -o $@ $(MLP_DIR)/check_mlp.c $(MLP_SRC) \
	    $(USER_LIBS) $(PNG_LIBS) $(shell pkg-config --libs check 2>/dev/null)

.PHONY: demo-mlp check-mlp experiments-mlp check-example-tables
# The demo: one training seed, then the saved multi-seed tables (docs/tables, from
# `make experiments`).
demo-mlp: build/examples/mlp_digits
	./build/examples/mlp_digits $(MLP_DATA) build/examples
	@printf '\nThe same experiments over 5 training seeds (docs/tables, `make experiments`):\n'
	@for t in zeroing quantization masking patches claims; do \
	    printf '\n== docs/tables/mlp_%s.md\n' $$t; grep -v '^<!--' docs/tables/mlp_$$t.md; done

# Regenerates every table of docs/examples.md and its picture, then splices the tables into
# the docs (scripts/example_tables.py).
experiments-mlp: build/examples/mlp_digits
	@mkdir -p docs/tables docs/img
	./build/examples/mlp_digits --experiments $(MLP_DATA) docs/tables
	./build/examples/mlp_digits $(MLP_DATA) docs/img > docs/tables/mlp_demo_seed0.txt
	python3 scripts/example_tables.py --write

check-mlp: build/tests/check_mlp
	./build/tests/check_mlp $(MLP_DATA)

# The docs show exactly the saved tables.
check-example-tables:
	python3 scripts/example_tables.py --check

DEMO_TARGETS  += demo-mlp
CHECK_TARGETS += check-mlp check-example-tables
.PHONY: experiments
experiments: experiments-mlp
