# The layering rules of docs/architecture.md, checked on the includes of src/.
.PHONY: check-layers
check-layers:
	$(PYTHON_DOCS) tests/docs/check_layers.py

CHECK_TARGETS += check-layers
