# Tiny transformer example (examples/transformer, docs/transformer.md): a decoder-only
# transformer trained in C on a synthetic multiple-choice task, and what FI finds in it.
# Built against the freshly built library the way a user links. `make demo-transformer`
# runs it (not part of `make demo`, which is the MLP); `make check` runs its tests.
TF_DIR    := examples/transformer
TF_COMMON := $(TF_DIR)/tf_model.c $(TF_DIR)/tf_task.c $(TF_DIR)/tf_train.c \
             $(TF_DIR)/tf_probe.c $(TF_DIR)/tf_fi.c $(TF_DIR)/tf_seq.c \
             $(TF_DIR)/tf_sparsify.c $(TF_DIR)/tf_runs.c
TF_HDR    := $(wildcard $(TF_DIR)/*.h) include/fi.h

.PHONY: demo-transformer check-transformer experiments-transformer

build/examples/transformer_demo: $(TF_DIR)/transformer_demo.c $(TF_COMMON) $(TF_HDR) \
                                 $(LIB_FILES)
	@mkdir -p $(@D)
	$(CC) $(USER_CFLAGS) $(EX_OPT) -I$(TF_DIR) -o $@ $(filter %.c,$^) $(USER_LIBS)

build/tests/check_transformer: $(TF_DIR)/check_transformer.c $(TF_DIR)/check_tf_claims.c \
                               $(TF_COMMON) $(TF_HDR) $(LIB_FILES)
	@mkdir -p $(@D)
	$(CC) $(USER_CFLAGS) $(EX_OPT) -I$(TF_DIR) -o $@ $(filter %.c,$^) $(USER_LIBS)

# The sparsification experiments over 5 training seeds (docs/transformer.md's tables).
build/examples/tf_experiments: $(TF_DIR)/tf_experiments.c $(TF_COMMON) $(TF_HDR) \
                               $(LIB_FILES)
	@mkdir -p $(@D)
	$(CC) $(USER_CFLAGS) $(EX_OPT) -I$(TF_DIR) -o $@ $(filter %.c,$^) $(USER_LIBS)

demo-transformer: build/examples/transformer_demo
	./build/examples/transformer_demo
	@for t in zeroing generation claims top_tensors; do \
	    printf '\n== docs/tables/tf_%s.md (5 training seeds, `make experiments`)\n' $$t; \
	    grep -v '^<!--' docs/tables/tf_$$t.md; done

# About 2 minutes: five transformers trained and sparsified.
experiments-transformer: build/examples/tf_experiments
	@mkdir -p docs/tables
	./build/examples/tf_experiments docs/tables
	python3 scripts/example_tables.py --write

check-transformer: build/tests/check_transformer
	./build/tests/check_transformer

CHECK_TARGETS += check-transformer
experiments: experiments-transformer
