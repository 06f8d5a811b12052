#!/bin/sh
# Checks the build dependencies (with the argument `test`: also what make check's suites
# need); on a Debian machine, as root, installs what is missing (set FI_NO_AUTO_INSTALL=1 to
# only be told). Prints nothing when all is present. `make` runs it once per build tree
# (the stamp build/deps.ok); `make check` runs `deps.sh test` (check-prereqs).
# check is for the tests and libpng for the examples' heat maps: the library links neither.
PKGS="build-essential pkg-config libopenblas-dev liblapacke-dev check libpng-dev"
missing=""
command -v pkg-config >/dev/null 2>&1 || missing="pkg-config"
if [ -z "$missing" ]; then
    for m in lapacke openblas check libpng; do
        pkg-config --exists "$m" 2>/dev/null || missing="$missing $m"
    done
fi
if [ "${1:-}" = test ]; then
    PKGS="$PKGS python3-numpy"
    /usr/bin/python3 -c 'import numpy' >/dev/null 2>&1 || python3 -c 'import numpy' >/dev/null 2>&1 ||
        missing="$missing python3-numpy"
    command -v "${CXX:-g++}" >/dev/null 2>&1 || missing="$missing ${CXX:-g++}"
fi
[ -z "$missing" ] && exit 0
echo "libfi: missing dependencies:$missing" >&2
if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1 && [ -z "${FI_NO_AUTO_INSTALL:-}" ]; then
    echo "libfi: installing the Debian packages: $PKGS" >&2
    export DEBIAN_FRONTEND=noninteractive
    apt-get update -qq >&2 && apt-get install -y -qq $PKGS >&2 && exit 0
    echo "libfi: apt-get failed" >&2
fi
echo "libfi: install them with:  apt-get install $PKGS" >&2
exit 1
