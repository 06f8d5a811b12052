#!/bin/sh
# Installs libfi into a temporary DESTDIR with PREFIX=/usr, builds tests/consumer/app.c
# against the installed copy through pkg-config, shared and static, runs both, checks what
# was installed (SONAME, symlinks, files), then uninstalls and checks that nothing is left.
#
# The staged tree is seen through PKG_CONFIG_SYSROOT_DIR, pkg-config's mechanism for exactly
# this (libfi.pc keeps saying /usr, its -I/-L come out under the staging root). For the static
# link, libfi's own fields are taken from the staged libfi.pc and its Requires.private
# (lapacke, openblas) from this system, where they are really installed.
set -eu
cd "$(dirname "$0")/../.."
MAKE=${MAKE:-make}
CC=${CC:-cc}
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
root=$tmp/root
libdir=$root/usr/lib
fail() { echo "check-consumer: FAIL: $*" >&2; exit 1; }

$MAKE --no-print-directory install DESTDIR="$root" PREFIX=/usr >"$tmp/install.log" 2>&1 ||
    { cat "$tmp/install.log" >&2; fail "make install"; }

# What install put there.
version=$(sed -n 's/^#define FI_VERSION_STRING "\(.*\)"/\1/p' include/fi.h)
for f in usr/include/fi.h usr/lib/libfi.so.$version usr/lib/libfi.a usr/lib/pkgconfig/libfi.pc; do
    [ -f "$root/$f" ] || fail "$f not installed"
done
[ "$(readlink "$libdir/libfi.so.1")" = "libfi.so.$version" ] || fail "libfi.so.1 -> libfi.so.$version"
[ "$(readlink "$libdir/libfi.so")" = libfi.so.1 ] || fail "libfi.so -> libfi.so.1"
soname=$(readelf -d "$libdir/libfi.so.$version" | sed -n 's/.*(SONAME).*\[\(.*\)\]/\1/p')
[ "$soname" = libfi.so.1 ] || fail "SONAME is '$soname', expected libfi.so.1"
grep -q '^prefix=/usr$' "$libdir/pkgconfig/libfi.pc" || fail "libfi.pc prefix is not /usr"
echo "installed: fi.h, libfi.so.$version (SONAME $soname), libfi.so.1, libfi.so, libfi.a, libfi.pc"

export PKG_CONFIG_PATH="$libdir/pkgconfig"
stage() { PKG_CONFIG_SYSROOT_DIR="$root" pkg-config "$@"; }
stage --exists libfi || fail "pkg-config does not find the staged libfi.pc"
[ "$(stage --modversion libfi)" = "$version" ] ||
    fail "pkg-config --modversion libfi"

# Shared: exactly what a user types.
flags=$(stage --cflags --libs libfi)
echo "shared: cc app.c $flags"
# shellcheck disable=SC2086
$CC -std=c11 -Wall -Werror -o "$tmp/app_shared" tests/consumer/app.c $flags
readelf -d "$tmp/app_shared" | grep -q 'NEEDED.*\[libfi\.so\.1\]' ||
    fail "app_shared does not need libfi.so.1"
where=$(LD_LIBRARY_PATH="$libdir" ldd "$tmp/app_shared" | sed -n 's/.*libfi\.so\.1 => \([^ ]*\).*/\1/p')
[ "$where" = "$libdir/libfi.so.1" ] || fail "app_shared resolves libfi.so.1 to '$where'"
LD_LIBRARY_PATH="$libdir" "$tmp/app_shared" || fail "app_shared run"

# Static: libfi.a, its Libs.private, and its Requires.private.
own=$(stage --static --maximum-traverse-depth=2 --cflags --libs libfi)
deps=$(pkg-config --static --libs $(stage --print-requires-private libfi))
own=$(echo "$own" | sed 's/\(^\| \)-lfi\( \|$\)/\1-Wl,-Bstatic -lfi -Wl,-Bdynamic\2/')
echo "static: cc app.c $own $deps"
# shellcheck disable=SC2086
$CC -std=c11 -Wall -Werror -o "$tmp/app_static" tests/consumer/app.c $own $deps
if readelf -d "$tmp/app_static" | grep -q 'NEEDED.*libfi'; then
    fail "app_static still needs libfi.so"
fi
if ldd "$tmp/app_static" | grep -q libfi; then fail "ldd: app_static loads libfi"; fi
"$tmp/app_static" || fail "app_static run"

# Uninstall removes every file and link that install made.
$MAKE --no-print-directory uninstall DESTDIR="$root" PREFIX=/usr >"$tmp/uninstall.log" 2>&1 ||
    { cat "$tmp/uninstall.log" >&2; fail "make uninstall"; }
left=$(find "$root" ! -type d)
[ -z "$left" ] || fail "left after uninstall: $left"
echo "check-consumer: OK (install, pkg-config shared + static, SONAME, symlinks, uninstall)"
