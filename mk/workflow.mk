# The workflow at scale in miniature (examples/workflow, docs/aggregation.md section 5): class
# streaming, the 16-byte mean and selection across layers, each checked against the in-memory
# path.
build/examples/workflow: examples/workflow/workflow.c include/fi.h lib | deps
	@mkdir -p $(@D)
	$(CC) $(USER_CFLAGS) -o $@ $< $(USER_LIBS)

.PHONY: check-workflow
check-workflow: build/examples/workflow
	./build/examples/workflow

CHECK_TARGETS += check-workflow
