#!/bin/sh
# Runs the Python binding tests and the Python examples with an interpreter that has numpy:
# /usr/bin/python3 first (Debian's, with python3-numpy), then the python3 on PATH. Without
# one, says so and skips: never a silent pass.
set -u
cd "$(dirname "$0")/../.."
PY=""
for cand in /usr/bin/python3 python3; do
    if command -v "$cand" >/dev/null 2>&1 && "$cand" -c "import numpy" >/dev/null 2>&1; then
        PY=$cand
        break
    fi
done
if [ -z "$PY" ]; then
    echo "SKIP check-python: no python3 with numpy (tried /usr/bin/python3, python3);" \
         "install python3-numpy to run the Python binding tests"
    exit 0
fi
echo "check-python: using $PY ($("$PY" -c 'import sys, numpy; print(sys.version.split()[0], "numpy", numpy.__version__)'))"
export PYTHONPATH="$PWD/python${PYTHONPATH:+:$PYTHONPATH}"
export LIBFI_PATH="$PWD/lib"
status=0
"$PY" -m unittest discover -s tests/python -p 'test_*.py' -v 2>&1 || status=1
for ex in examples/python/cffi_example.py examples/python/torch_fi.py; do
    echo "== $ex"
    "$PY" "$ex" || status=1
done
exit $status
