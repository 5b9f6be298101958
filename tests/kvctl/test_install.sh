#!/usr/bin/env bash
# test_install.sh — `meson install --destdir` into a scratch directory installs the shared and
# static library, lamina.h, lamina.pc, kvctl, experiments and kvctl.1; a small program compiled
# against the installed header and pkg-config file, once shared and once static, opens a
# database, writes and reads a key.
set -euo pipefail
bld=${LAMINA_BUILD_ROOT:?run through meson test}
dest=$(mktemp -d /tmp/lamina-install-XXXXXX)
trap 'rm -rf "$dest"' EXIT
meson install -C "$bld" --no-rebuild --quiet --destdir "$dest" >"$dest/install.log" 2>&1 || {
  cat "$dest/install.log" >&2
  exit 1
}
pc=$(find "$dest" -name lamina.pc)
[ -n "$pc" ] || { echo "no lamina.pc installed" >&2; exit 1; }
libdir=$(dirname "$(dirname "$pc")")
for f in "$libdir/liblamina.a" "$libdir/liblamina.so"; do
  [ -e "$f" ] || { echo "$f was not installed" >&2; exit 1; }
done
for name in lamina.h kvctl experiments kvctl.1; do
  [ -n "$(find "$dest" -name "$name")" ] || { echo "$name was not installed" >&2; exit 1; }
done
# (grep without -q: under pipefail, -q stopping early would fail the writer with SIGPIPE)
nm -D --defined-only "$libdir/liblamina.so" | grep ' T lamina_open$' >/dev/null ||
  { echo "liblamina.so does not export lamina_open" >&2; exit 1; }

# pkg-config as after a real install, with the destdir as the root
export PKG_CONFIG_PATH=$libdir/pkgconfig PKG_CONFIG_SYSROOT_DIR=$dest
cat >"$dest/t.c" <<'EOF'
#include <stdio.h>
#include <string.h>

#include <lamina.h>

int main(int argc, char **argv)
{
    lamina_options o;
    lamina_options_init(&o);
    o.create_if_missing = 1;
    lamina_db *db;
    if (argc < 2 || lamina_open(argv[1], &o, &db) != LAMINA_OK) return 1;
    void *v = NULL;
    size_t n = 0;
    int ok = lamina_put(db, NULL, "k", 1, "value", 5) == LAMINA_OK &&
             lamina_get(db, NULL, "k", 1, &v, &n) == LAMINA_OK && n == 5 && !memcmp(v, "value", 5);
    lamina_free(v);
    printf("%s\n", ok ? "ok" : "wrong");
    return lamina_close(db) == LAMINA_OK && ok ? 0 : 1;
}
EOF
cc=${CC:-cc}
# shared: the plain pkg-config line
# shellcheck disable=SC2046
"$cc" -std=c11 -Wall -Werror "$dest/t.c" -o "$dest/t-shared" $(pkg-config --cflags --libs lamina)
# static: the archive by name, and the private dependencies of --static
# shellcheck disable=SC2046
"$cc" -std=c11 -Wall -Werror "$dest/t.c" -o "$dest/t-static" \
  $(pkg-config --static --cflags --libs lamina | sed 's/-llamina/-l:liblamina.a/')
if ldd "$dest/t-static" | grep liblamina >/dev/null; then
  echo "the static program links liblamina.so" >&2
  exit 1
fi
[ "$(LD_LIBRARY_PATH=$libdir "$dest/t-shared" "$dest/db1")" = ok ] ||
  { echo "the shared program failed" >&2; exit 1; }
LD_LIBRARY_PATH=$libdir ldd "$dest/t-shared" | grep "$libdir/liblamina.so" >/dev/null ||
  { echo "the shared program does not use the installed liblamina.so" >&2; exit 1; }
[ "$("$dest/t-static" "$dest/db2")" = ok ] || { echo "the static program failed" >&2; exit 1; }
echo "installed: shared and static library, header, pkg-config file, programs, man page"
