# Callers outside C: Python (ctypes, cffi, torch), C++, pkg-config consumers, API docs.
#   check-python    tests/python (unittest) + the Python examples, with a python3 that has numpy
#   check-cpp       fi.h as C++11 under -Werror -pedantic, the RAII example, FI_NODISCARD
#   check-consumer  make install into a temporary DESTDIR, build + run against it, uninstall
#   check-docs      every public symbol of fi.h and of libfi.so is documented in docs/api.md
#   check-embedding examples/embedding/stream_channels.c: streamed = one-shot
#   python-demo     the torch and cffi examples, verbose (optional, not part of `make demo`)
CXX          ?= g++
CPP_WARN     := -Wall -Wextra -Werror -pedantic -Wold-style-cast -Wzero-as-null-pointer-constant \
                -Wconversion -Wshadow
CPP_CXXFLAGS  = -std=c++11 $(CPP_WARN) -O1 -g -Iinclude
PYTHON_DOCS  ?= python3

.PHONY: check-python check-cpp check-consumer check-docs check-embedding python-demo

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
