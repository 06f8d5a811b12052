# make check must not pass without running a suite it is meant to run: the interpreters and
# packages the suites need are checked first, and a missing one fails the check, saying what
# to install, unless ALLOW_SKIP=1 (then it is a loud skip, and the suite skips itself).
.PHONY: check-prereqs
check-prereqs:
	@missing=""; \
	 /usr/bin/python3 -c 'import numpy' >/dev/null 2>&1 || python3 -c 'import numpy' >/dev/null 2>&1 \
	     || missing="$$missing python3-numpy (check-python)"; \
	 command -v $(CXX) >/dev/null 2>&1 || missing="$$missing g++ (check-cpp)"; \
	 if [ -z "$$missing" ]; then echo "check-prereqs: every suite of make check can run"; \
	 elif [ -n "$$FI_ALLOW_SKIP" ]; then echo "SKIP (ALLOW_SKIP=1): missing$$missing" >&2; \
	 else echo "check-prereqs: FAIL: missing$$missing; install them, or make check ALLOW_SKIP=1" >&2; \
	      exit 1; fi

CHECK_TARGETS += check-prereqs
