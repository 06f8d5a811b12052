# make check must not pass without running a suite it is meant to run: scripts/deps.sh test
# checks (as root on Debian: installs) what the suites need beyond the build (python3 with
# numpy, a C++ compiler); a missing one fails the check, saying what to install, unless
# ALLOW_SKIP=1 (then it is a loud skip, and the suite skips itself).
.PHONY: check-prereqs
check-prereqs:
	@if CXX="$(CXX)" sh scripts/deps.sh test; then \
	     echo "check-prereqs: every suite of make check can run"; \
	 elif [ -n "$$FI_ALLOW_SKIP" ]; then \
	     echo "SKIP (ALLOW_SKIP=1): the suites above that cannot run here skip" >&2; \
	 else \
	     echo "check-prereqs: FAIL (make check ALLOW_SKIP=1 to skip what cannot run)" >&2; exit 1; \
	 fi

CHECK_TARGETS += check-prereqs
