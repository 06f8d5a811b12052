# The reference MLP on the UCI digits (the README's demo) and its tests.
MLP_SRC := examples/mlp/digits.c examples/mlp/mlp.c examples/mlp/study.c

build/examples/mlp_digits: examples/mlp/main.c $(MLP_SRC) $(wildcard examples/mlp/*.h) lib | deps
	@mkdir -p $(@D)
	$(CC) $(USER_CFLAGS) -Iexamples/mlp -o $@ examples/mlp/main.c $(MLP_SRC) $(USER_LIBS)

build/tests/check_mlp: examples/mlp/check_mlp.c $(MLP_SRC) $(wildcard examples/mlp/*.h) lib | deps
	@mkdir -p $(@D)
	$(CC) $(USER_CFLAGS) -Iexamples/mlp -o $@ examples/mlp/check_mlp.c $(MLP_SRC) $(USER_LIBS)

.PHONY: demo-mlp check-mlp
demo-mlp: build/examples/mlp_digits
	./build/examples/mlp_digits examples/data/digits.csv.gz build/examples/pixel_fi.pgm

check-mlp: build/tests/check_mlp
	./build/tests/check_mlp examples/data/digits.csv.gz

DEMO_TARGETS += demo-mlp
CHECK_TARGETS += check-mlp
