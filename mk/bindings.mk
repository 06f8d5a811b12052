# Callers outside C: Python (ctypes, cffi, torch), C++, pkg-config consumers, API docs.
#   check-python    tests/python (unittest) + the Python examples, with a python3 that has numpy
#   check-cpp       fi.h as C++11 under -Werror -pedantic, the RAII example, FI_NODISCARD
#   check-consumer  make install into a temporary DESTDIR, build + run against it, uninstall
#   check-docs      every public symbol of fi.h and of libfi.so is documented in docs/api.md
#   check-embedding examples/embedding/stream_channels.c: streamed = one-shot
#   python-demo     the torch and cffi examples, verbose (optional, not part of `make demo`)
#   check-libtorch  examples/libtorch: libfi inside a libtorch C++ program (Debian's libtorch-dev,
#                   installed like scripts/deps.sh installs packages); not in `make check`
#                   (a 2 MB package but a ~30 s compile), .ci/run calls it
CXX          ?= g++
CPP_WARN     := -Wall -Wextra -Werror -pedantic -Wold-style-cast -Wzero-as-null-pointer-constant \
                -Wconversion -Wshadow
CPP_CXXFLAGS  = -std=c++11 $(CPP_WARN) -O1 -g -Iinclude
PYTHON_DOCS  ?= python3

.PHONY: check-python check-cpp check-consumer check-docs check-embedding python-demo \
        libtorch-deps check-libtorch

check-python: lib
	sh tests/python/run.sh

build/cpp/header_test: tests/cpp/header_test.cpp include/fi.h $(LIB_FILES)
	@mkdir -p $(@D)
	$(CXX) $(CPP_CXXFLAGS) -o $@ $< $(USER_LIBS)

build/cpp/raii: examples/cpp/raii.cpp include/fi.h $(LIB_FILES)
	@mkdir -p $(@D)
	$(CXX) $(CPP_CXXFLAGS) -o $@ $< $(USER_LIBS)

check-cpp: build/cpp/header_test build/cpp/raii
	./build/cpp/header_test
	./build/cpp/raii
	@if $(CXX) -std=c++11 -Wall -Werror -Iinclude -c -o /dev/null tests/cpp/nodiscard.cpp \
	    2>/dev/null; then echo "FI_NODISCARD did not warn on an ignored status" >&2; exit 1; fi
	$(CXX) -std=c++11 -Wall -Werror -Iinclude -DFI_NO_NODISCARD -c -o /dev/null tests/cpp/nodiscard.cpp
	@echo "check-cpp: fi.h is C++11-clean, ignored statuses warn, FI_NO_NODISCARD opts out"

check-consumer: lib
	MAKE="$(MAKE)" CC="$(CC)" sh tests/consumer/run.sh

check-docs: $(LIB_FILES)
	$(PYTHON_DOCS) tests/docs/check_api_docs.py

build/examples/stream_channels: examples/embedding/stream_channels.c include/fi.h $(LIB_FILES)
	@mkdir -p $(@D)
	$(CC) $(USER_CFLAGS) -o $@ $< $(USER_LIBS)

check-embedding: build/examples/stream_channels
	./build/examples/stream_channels

python-demo: lib
	@PY=; for p in /usr/bin/python3 python3; do \
	    if $$p -c 'import numpy' 2>/dev/null; then PY=$$p; break; fi; done; \
	if [ -z "$$PY" ]; then echo "python-demo: needs a python3 with numpy (python3-numpy)"; \
	else PYTHONPATH=python LIBFI_PATH=lib $$PY examples/python/torch_fi.py && \
	     PYTHONPATH=python LIBFI_PATH=lib $$PY examples/python/cffi_example.py; fi

CHECK_TARGETS += check-python check-cpp check-consumer check-docs check-embedding

# libfi in a libtorch program. Debian's libtorch-dev ships no pkg-config file: its headers and
# libraries are at fixed places. As root on Debian, installs it when missing (FI_NO_AUTO_INSTALL=1
# to only be told), like scripts/deps.sh and mpi-deps.
LIBTORCH_PKGS  := libtorch-dev
LIBTORCH_INC   ?= /usr/include/torch/csrc/api/include
LIBTORCH_LIBS  ?= -ltorch -ltorch_cpu -lc10
LIBTORCH_FLAGS  = -std=c++17 -O1 -g0 -Wall -Wextra -Wshadow -Werror -Iinclude -isystem $(LIBTORCH_INC)

libtorch-deps:
	@if [ ! -f $(LIBTORCH_INC)/torch/torch.h ]; then \
	    echo "libfi: check-libtorch needs Debian's $(LIBTORCH_PKGS)" >&2; \
	    if [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1 \
	       && [ -z "$${FI_NO_AUTO_INSTALL:-}" ]; then \
	        DEBIAN_FRONTEND=noninteractive apt-get update -qq >&2 \
	        && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends \
	           $(LIBTORCH_PKGS) >&2; \
	    else \
	        echo "libfi: install it with:  apt-get install $(LIBTORCH_PKGS)" >&2; exit 1; \
	    fi; \
	fi

build/libtorch/fi_libtorch: examples/libtorch/fi_libtorch.cpp include/fi.h $(SHLIB) lib/libfi.so \
                            | libtorch-deps
	@mkdir -p $(@D)
	$(CXX) $(LIBTORCH_FLAGS) -o $@ $< -Llib -lfi -Wl,-rpath,$(CURDIR)/lib $(LIBTORCH_LIBS)

check-libtorch: build/libtorch/fi_libtorch
	./build/libtorch/fi_libtorch
