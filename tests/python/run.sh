#!/bin/sh
# check-python: the libfi package's tests, the README's Python snippet and the Python examples,
# first from the source tree (PYTHONPATH=python), then installed: `pip install
# --no-build-isolation` of a copy of python/ into a temporary `python3 -m venv
# --system-site-packages`, where the signature test and the README snippet run again from
# outside the tree.
#
# Needs /usr/bin/python3 (or the python3 on PATH) with numpy and torch, and pip, venv and
# setuptools (Debian: python3-numpy python3-torch python3-pip python3-venv python3-setuptools).
# When they are missing this FAILS, saying what to install; FI_PYTHON_OPTIONAL=1 turns that
# into a loud SKIP of the parts that cannot run.
set -u
cd "$(dirname "$0")/../.."
ROOT=$PWD
optional=${FI_PYTHON_OPTIONAL:-}
status=0

missing() {  # $1: what cannot run, $2: the Debian packages that would make it run
    if [ -n "$optional" ]; then
        echo "SKIP check-python: $1 (FI_PYTHON_OPTIONAL=1); install $2 to run it"
    else
        echo "FAIL check-python: $1; install $2 (or set FI_PYTHON_OPTIONAL=1 to skip)" >&2
        status=1
    fi
}

PY=""
for cand in /usr/bin/python3 python3; do
    if command -v "$cand" >/dev/null 2>&1 && "$cand" -c "import numpy" >/dev/null 2>&1; then
        PY=$cand
        break
    fi
done
if [ -z "$PY" ]; then
    missing "no python3 with numpy (tried /usr/bin/python3, python3)" "python3-numpy"
    exit $status
fi
echo "check-python: using $PY ($("$PY" -c 'import sys, numpy; print(sys.version.split()[0], "numpy", numpy.__version__)'))"
export LIBFI_PATH="$ROOT/lib"

if ! "$PY" -c "import torch" >/dev/null 2>&1; then
    missing "$PY cannot import torch: libfi.torch, its tests and the torch examples" \
            "python3-torch"
    skip_torch=1
else
    skip_torch=""
fi

tests="test_libfi test_loader test_signatures test_readme test_workflow"
[ -z "$skip_torch" ] && tests="$tests test_torch test_workflow_torch test_torch_stream"

echo "== package tests from the source tree (PYTHONPATH=python)"
(cd tests/python && PYTHONPATH="$ROOT/python" "$PY" -m unittest -v $tests) || status=1

for ex in examples/python/cffi_example.py examples/python/torch_fi.py; do
    case $ex in *torch*) [ -n "$skip_torch" ] && continue;; esac
    echo "== $ex"
    PYTHONPATH="$ROOT/python" "$PY" "$ex" || status=1
done

echo "== installed: pip install --no-build-isolation into a python3 -m venv --system-site-packages"
tmp=$(mktemp -d) || exit 1
trap 'rm -rf "$tmp"' EXIT
cp -r python "$tmp/src"
rm -rf "$tmp/src/build" "$tmp/src"/*.egg-info
if "$PY" -m venv --system-site-packages "$tmp/venv" >"$tmp/venv.log" 2>&1 &&
   "$tmp/venv/bin/python" -m pip install --no-build-isolation --no-index --quiet "$tmp/src" \
       >"$tmp/pip.log" 2>&1; then
    # From outside the source tree, with the test modules on the path but not python/.
    (cd "$tmp" && LIBFI_TEST_INSTALLED=1 PYTHONPATH="$ROOT/tests/python" \
        VENV="$tmp/venv" "$tmp/venv/bin/python" -c '
import libfi, os
assert os.path.realpath(libfi.__file__).startswith(os.path.realpath(os.environ["VENV"])), libfi.__file__
print("installed:", libfi.__file__, "package", libfi.__version__, "library", libfi.version())
' && LIBFI_TEST_INSTALLED=1 PYTHONPATH="$ROOT/tests/python" \
        "$tmp/venv/bin/python" -m unittest $tests) || status=1
else
    cat "$tmp/venv.log" "$tmp/pip.log" >&2
    missing "python3 -m venv + pip install --no-build-isolation failed (above)" \
            "python3-venv python3-pip python3-setuptools"
fi
if [ $status = 0 ]; then echo "check-python: OK"; else echo "check-python: FAILED" >&2; fi
exit $status
