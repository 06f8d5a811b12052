#!/bin/sh
# make bench: the library and the floor (bench/bench.c), then the PyTorch peer in the same run
# where Debian's python3-torch is importable, joined into one table with both ratios; then the
# real-gradient workloads (bench/real.c) beside random scores of the same shape and the peer.
set -e
BIN=${1:-build/bench/bench}
DATA=$(dirname "$BIN")
export FI_BENCH_DATA="$DATA"
lib=$(mktemp); peer=$(mktemp)
trap 'rm -f "$lib" "$peer"' EXIT
PY=/usr/bin/python3
have_torch=0
if [ -x "$PY" ] && "$PY" -c 'import torch' 2>/dev/null; then
    have_torch=1
    # the models' scores, computed once and cached (delete $DATA/torch_*.bin to regenerate)
    "$PY" "$(dirname "$0")/real_models.py" "$DATA" || echo "(PyTorch workloads not generated)"
fi
"$BIN" > "$lib"
if [ "$have_torch" = 1 ]; then
    "$PY" "$(dirname "$0")/peer_torch.py" 1 "$DATA" > "$peer" || : > "$peer"
else
    echo "(peer and PyTorch workloads skipped: /usr/bin/python3 with torch not found; apt-get install python3-torch)"
fi
echo "machine: $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | sed 's/^ //'), $(nproc) cores, $(free -g | awk '/Mem:/{print $2}') GiB"
printf '%-15s %7s %8s %10s %10s %10s %10s %12s\n' workload threads mode lib_ms floor_ms lib/floor peer_ms peer/lib
grep -v '^REAL' "$lib" | while read -r name th mode ms fl ratio; do
    p=$(sed -n "s/^$name peer_ms=//p" "$peer")
    if [ -n "$p" ] && [ "$th" = 1 ] && [ "$mode" != compute ]; then
        speed=$(awk -v a="$p" -v b="$ms" 'BEGIN{printf "%.1fx", a/b}')
    else
        p=-; speed=-
    fi
    printf '%-15s %7s %8s %10s %10s %10s %10s %12s\n' "$name" "$th" "$mode" "$ms" "$fl" "$ratio" "$p" "$speed"
done
echo
echo "real-gradient workloads: float32, 1 thread, checked; rand = uniform scores of the same shape"
echo "and the same P; randW = the same with P proportional to 1..K (the W workloads' P)"
grep '^REAL-SKIPPED' "$lib" | sed 's/^REAL-SKIPPED /(skipped, no cache file: /; s/$/)/' || :
echo "metric_ms: fi_metric_from_scores + fi_compute on the real scores (the class row as target);"
echo "peer/floor: the most any code that reads the scores once could gain on the peer"
printf '%-18s %9s %9s %9s %9s %9s %10s %9s %9s %9s %10s %10s\n' workload coords real_ms rand_ms randW_ms floor_ms real/rand ns/coord peer_ms peer/real peer/floor metric_ms
grep '^REAL ' "$lib" | while read -r _ name n real rnd fl rw mt; do
    p=$(sed -n "s/^$name peer_ms=//p" "$peer")
    if [ -n "$p" ]; then
        speed=$(awk -v a="$p" -v b="$real" 'BEGIN{printf "%.1fx", a/b}')
        ceil=$(awk -v a="$p" -v b="$fl" 'BEGIN{printf "%.1fx", a/b}')
    else
        p=-; speed=-; ceil=-
    fi
    awk -v w="$name" -v n="$n" -v a="$real" -v b="$rnd" -v f="$fl" -v c="$rw" -v p="$p" -v s="$speed" -v m="$mt" -v z="$ceil" \
        'BEGIN{printf "%-18s %9d %9.2f %9.2f %9.2f %9.2f %9.2fx %9.1f %9s %9s %10s %10.2f\n", w, n, a, b, c, f, a/b, a*1e6/n, p, s, z, m}'
done
awk '$1 == "REAL" && $2 == "S-element-K10" {r10 = $4; n10 = $5; c = $3}
     $1 == "REAL" && $2 == "S-element-K4" {r4 = $4; n4 = $5}
     END {if (r4 && r10) printf "K = 10 vs K = 4 elements, per coordinate: %.2fx random, %.2fx real structure\n", n10 / n4, r10 / r4}' "$lib"
