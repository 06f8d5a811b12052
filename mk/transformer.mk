# Tiny transformer example (examples/transformer, docs/transformer.md): a decoder-only
# transformer trained in C on a synthetic multiple-choice task, and what FI finds in it.
# Built against the freshly built library the way a user links. `make demo-transformer`
# runs it (not part of `make demo`, which is the MLP); `make check` runs its tests.
TF_DIR    := examples/transformer
TF_COMMON := $(TF_DIR)/tf_model.c $(TF_DIR)/tf_task.c $(TF_DIR)/tf_train.c \
             $(TF_DIR)/tf_probe.c $(TF_DIR)/tf_fi.c $(TF_DIR)/tf_seq.c
TF_HDR    := $(wildcard $(TF_DIR)/*.h) include/fi.h

.PHONY: demo-transformer check-transformer

build/examples/transformer_demo: $(TF_DIR)/transformer_demo.c $(TF_COMMON) $(TF_HDR) \
                                 $(LIB_FILES)
	@mkdir -p $(@D)
	$(CC) $(USER_CFLAGS) -I$(TF_DIR) -o $@ $(filter %.c,$^) $(USER_LIBS)

build/tests/check_transformer: $(TF_DIR)/check_transformer.c $(TF_COMMON) $(TF_HDR) \
                               $(LIB_FILES)
	@mkdir -p $(@D)
	$(CC) $(USER_CFLAGS) -I$(TF_DIR) -o $@ $(filter %.c,$^) $(USER_LIBS)

demo-transformer: build/examples/transformer_demo
	./build/examples/transformer_demo

check-transformer: build/tests/check_transformer
	./build/tests/check_transformer

CHECK_TARGETS += check-transformer
