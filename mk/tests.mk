# Unit tests (Check): tests/check_*.c, one suite per area, one runner.
TEST_SRC   := $(sort $(wildcard tests/check_*.c)) $(wildcard tests/support/*.c)
CHECK_CFLAGS = $(shell pkg-config --cflags check 2>/dev/null)
CHECK_LIBS   = $(shell pkg-config --libs check 2>/dev/null)

build/tests/check_fi: $(TEST_SRC) tests/suites.h $(wildcard tests/support/*.h) lib | deps
	@mkdir -p $(@D)
	$(CC) $(USER_CFLAGS) -Itests $(CHECK_CFLAGS) $(DEPS_CFLAGS) -o $@ $(TEST_SRC) \
	    $(USER_LIBS) $(CHECK_LIBS)

.PHONY: check-unit
check-unit: build/tests/check_fi
	./build/tests/check_fi

CHECK_TARGETS += check-unit
