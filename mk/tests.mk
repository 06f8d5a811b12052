# Unit tests (Check): tests/check_*.c, one suite per area, one runner (TEST_SRC, CHECK_CFLAGS
# and CHECK_LIBS are defined in the Makefile: mk/sanitize.mk builds the same suites).
build/tests/check_fi: $(TEST_SRC) $(TEST_HDR) $(LIB_FILES) | $(DEPS_OK)
	@mkdir -p $(@D)
	$(CC) $(USER_CFLAGS) -Itests $(CHECK_CFLAGS) $(DEPS_CFLAGS) -o $@ $(TEST_SRC) \
	    $(USER_LIBS) $(CHECK_LIBS)

.PHONY: check-unit
check-unit: build/tests/check_fi
	./build/tests/check_fi

CHECK_TARGETS += check-unit
