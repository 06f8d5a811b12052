#!/bin/sh
# make bench: the library and the floor (bench/bench.c), then the PyTorch peer in the same run
# where Debian's python3-torch is importable, joined into one table with both ratios.
set -e
BIN=${1:-build/bench/bench}
lib=$(mktemp); peer=$(mktemp)
trap 'rm -f "$lib" "$peer"' EXIT
"$BIN" > "$lib"
PY=/usr/bin/python3
if [ -x "$PY" ] && "$PY" -c 'import torch' 2>/dev/null; then
    "$PY" "$(dirname "$0")/peer_torch.py" 1 > "$peer" || : > "$peer"
else
    echo "(peer skipped: /usr/bin/python3 with torch not found; apt-get install python3-torch)"
fi
echo "machine: $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | sed 's/^ //'), $(nproc) cores, $(free -g | awk '/Mem:/{print $2}') GiB"
printf '%-15s %7s %8s %10s %10s %10s %10s %12s\n' workload threads mode lib_ms floor_ms lib/floor peer_ms peer/lib
while read -r name th mode ms fl ratio; do
    p=$(sed -n "s/^$name peer_ms=//p" "$peer")
    if [ -n "$p" ] && [ "$th" = 1 ] && [ "$mode" != compute ]; then
        speed=$(awk -v a="$p" -v b="$ms" 'BEGIN{printf "%.1fx", a/b}')
    else
        p=-; speed=-
    fi
    printf '%-15s %7s %8s %10s %10s %10s %10s %12s\n' "$name" "$th" "$mode" "$ms" "$fl" "$ratio" "$p" "$speed"
done < "$lib"
