# The reference MLP on the UCI digits (examples/mlp, docs/examples.md): the README's demo and
# its tests. Built against the freshly built library the way a user links (USER_CFLAGS,
# USER_LIBS: -Iinclude, -lfi), so it sees nothing but include/fi.h.
MLP_DIR  := examples/mlp
MLP_SRC  := $(MLP_DIR)/digits.c $(MLP_DIR)/mlp.c $(MLP_DIR)/train.c $(MLP_DIR)/setup.c \
            $(MLP_DIR)/criteria.c $(MLP_DIR)/channels.c $(MLP_DIR)/zeroing.c $(MLP_DIR)/quantize.c \
            $(MLP_DIR)/masking.c $(MLP_DIR)/heatmap.c
MLP_HDR  := $(wildcard $(MLP_DIR)/*.h) include/fi.h
MLP_DATA := examples/data/digits.csv.gz

build/examples/mlp_digits: $(MLP_DIR)/main.c $(MLP_SRC) $(MLP_HDR) $(LIB_FILES) | $(DEPS_OK)
	@mkdir -p $(@D)
	$(CC) $(USER_CFLAGS) -I$(MLP_DIR) -o $@ $(MLP_DIR)/main.c $(MLP_SRC) $(USER_LIBS)

# The tests are a Check program of their own: they need the example's model code, which the
# one-runner unit tests (tests/check_*.c) do not link.
build/tests/check_mlp: $(MLP_DIR)/check_mlp.c $(MLP_SRC) $(MLP_HDR) $(LIB_FILES) | $(DEPS_OK)
	@mkdir -p $(@D)
	$(CC) $(USER_CFLAGS) -I$(MLP_DIR) $(shell pkg-config --cflags check 2>/dev/null) -o $@ \
	    $(MLP_DIR)/check_mlp.c $(MLP_SRC) $(USER_LIBS) $(shell pkg-config --libs check 2>/dev/null)

.PHONY: demo-mlp check-mlp
demo-mlp: build/examples/mlp_digits
	./build/examples/mlp_digits $(MLP_DATA) build/examples/pixel_fi.pgm

check-mlp: build/tests/check_mlp
	./build/tests/check_mlp $(MLP_DATA)

DEMO_TARGETS  += demo-mlp
CHECK_TARGETS += check-mlp
