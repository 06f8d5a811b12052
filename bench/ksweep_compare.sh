#!/bin/sh
# Before/after table of bench/ksweep.c (docs/performance.md, "Many classes"): each K is run by
# the library in BASE_LIBDIR (a copy of an older lib/) and then by this tree's, in turn, and
# the ns per coordinate and class are printed as "before -> after".
# Usage: sh bench/ksweep_compare.sh BASE_LIBDIR [K ...]   (after make build/bench/ksweep)
set -e
base=${1:?usage: ksweep_compare.sh BASE_LIBDIR [K ...]}
shift
BIN=build/bench/ksweep
out=$(mktemp)
trap 'rm -f "$out"' EXIT
for K in ${*:-4 5 8 10 16 17 24 32 48 64}; do
    LD_LIBRARY_PATH="$base" "$BIN" "$K" | sed -n '3,$p' | sed 's/^/before /' >> "$out"
    "$BIN" "$K" | sed -n '3,$p' | sed 's/^/after /' >> "$out"
done
awk '{ key = $2 " " $3 " " $4; v[$1 " " key] = $7; if ($1 == "after") { f[$2] = $8; ks[$2] = 1 } }
     END {
         print "| K | elements real | elements random | rows real | rows random | columns real | columns random | floor |"
         print "|---|---|---|---|---|---|---|---|"
         n = split("4 5 8 10 16 17 24 32 48 64", order, " ")
         for (j = 1; j <= n; j++) {
             K = order[j]
             if (!(K in ks)) continue
             line = "| " K " |"
             split("elements real,elements random,rows real,rows random,columns real,columns random", c, ",")
             for (i = 1; i <= 6; i++)
                 line = line sprintf(" %.2f → %.2f |", v["before " K " " c[i]], v["after " K " " c[i]])
             print line sprintf(" %.2f |", f[K])
         }
     }' "$out"
