#!/bin/sh
# The accuracy suite (make check-accuracy): class scores of real PyTorch models in float32 and
# float64 (real_scores.py), then FI from both with default options (accuracy.c). Needs
# Debian's python3-torch; as root on Debian it is installed when missing (FI_NO_AUTO_INSTALL=1
# to only be told). Without torch the suite FAILS, unless FI_CHECK_NO_TORCH=1: then the torch
# half is skipped, loudly, and the C half (the suite's own C model) still runs.
# Usage: run.sh ACCURACY_BINARY OUTDIR
set -u
bin=$1 out=$2
mkdir -p "$out"
PY=/usr/bin/python3
have_torch() { [ -x "$PY" ] && "$PY" -c "import torch" >/dev/null 2>&1; }
if ! have_torch && [ -z "${FI_CHECK_NO_TORCH:-}" ] && [ "$(id -u)" = 0 ] && \
   command -v apt-get >/dev/null 2>&1 && [ -z "${FI_NO_AUTO_INSTALL:-}" ]; then
    echo "check-accuracy: installing python3-torch (Debian) for the real-gradient suite" >&2
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends \
        python3-torch python3-numpy >/dev/null 2>&1 || \
        { apt-get update -qq >/dev/null 2>&1 && DEBIAN_FRONTEND=noninteractive apt-get install \
          -y -qq --no-install-recommends python3-torch python3-numpy >/dev/null 2>&1; }
fi
if have_torch; then
    "$PY" tests/accuracy/real_scores.py "$out" || exit 1
    exec "$bin" --torch "$out" --table "$out/table.md"
fi
if [ -n "${FI_CHECK_NO_TORCH:-}" ]; then
    echo "SKIP check-accuracy, torch half: $PY cannot import torch (FI_CHECK_NO_TORCH is set);" \
         "the C half runs alone"
    exec "$bin" --table "$out/table.md"
fi
echo "check-accuracy: $PY cannot import torch: apt-get install python3-torch," \
     "or set FI_CHECK_NO_TORCH=1 to run the C half alone" >&2
exit 1
