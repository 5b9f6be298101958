#!/usr/bin/env bash
# test_readme.sh — README.md's kvctl examples run verbatim, and the docs point at what exists.
# The fenced sh blocks after the line "<!-- tests/kvctl/test_readme.sh runs this -->" run in
# a scratch directory that has build/tools (this build's) and data/ (the source's), under
# `bash -eu`: a command that fails fails the test (not pipefail: `xz -dc | head` ends xz with
# SIGPIPE). A command ending in `# => TEXT` must print TEXT as its first line. Then every relative link ](path) in README.md and docs/*.md
# and every `docs/...`-like path in backquotes (and docs/... in the man pages) must name a file
# of the source or build tree.
set -euo pipefail
src=${LAMINA_SOURCE_ROOT:?run through meson test}
bld=${LAMINA_BUILD_ROOT:?run through meson test}
work=$(mktemp -d /tmp/lamina-readme-XXXXXX)
trap '[ -n "${KEEP:-}" ] || rm -rf "$work"' EXIT
mkdir "$work/build" "$work/tmp"
ln -s "$bld/tools" "$work/build/tools"
ln -s "$src/data" "$work/data"

# The marked blocks as one script; `cmd # => want` becomes a check of cmd's first line.
awk -v q="'" '
  function sq(s) { gsub(q, q "\\" q q, s); return q s q }
  /^<!-- tests\/kvctl\/test_readme.sh runs this -->$/ { armed = 1; next }
  armed && /^```sh$/ { inblock = 1; armed = 0; blocks++; next }
  inblock && /^```$/ { inblock = 0; next }
  inblock {
    i = index($0, "# => ")
    if (i == 0) { print; next }
    cmd = substr($0, 1, i - 1); want = substr($0, i + 5)
    sub(/[ \t]+$/, "", cmd)
    printf "got=$(%s)\n", cmd
    printf "if [ \"${got%%%%$%s\\n%s*}\" != %s ]; then\n", q, q, sq(want)
    printf "  echo %s >&2; exit 1\nfi\n", sq("README.md line " NR ": `" cmd "` does not print `" want "` first")
  }
  END { if (blocks == 0) { print "echo \"no marked sh block in README.md\" >&2; exit 1" } }
' "$src/README.md" >"$work/readme.sh"
(cd "$work" && TMPDIR="$work/tmp" bash -eu readme.sh >"$work/out" 2>"$work/err") || {
  echo "README.md's kvctl examples failed:" >&2
  cat "$work/err" >&2
  exit 1
}
echo "README.md's examples ran ($(grep -c . "$work/readme.sh") script lines)"

# Links and paths in the docs.
bad=0
for f in "$src/README.md" "$src"/docs/*.md; do
  dir=$(dirname "$f")
  while IFS= read -r target; do
    case $target in http://* | https://* | mailto:* | '#'*) continue ;; esac
    target=${target%%#*}
    if [ ! -e "$dir/$target" ]; then
      echo "${f#"$src"/}: the link ($target) points nowhere" >&2
      bad=1
    fi
  done < <(grep -oE '\]\([^) ]+\)' "$f" | sed -E 's/^\]\((.*)\)$/\1/')
  while IFS= read -r path; do
    if [ ! -e "$src/$path" ] && [ ! -e "$bld/$path" ]; then
      echo "${f#"$src"/}: \`$path\` names nothing in the source or build tree" >&2
      bad=1
    fi
  done < <(grep -oE '`(docs|bench|scripts|data|include|tools|tests)/[A-Za-z0-9_./-]+`' "$f" |
    tr -d '`' | sort -u)
done
# the man pages name files of the tree as .I docs/format.md and the like
for f in "$src"/docs/*.1; do
  while IFS= read -r path; do
    if [ ! -e "$src/$path" ]; then
      echo "${f#"$src"/}: $path names nothing in the source tree" >&2
      bad=1
    fi
  done < <(grep -oE '(^|[ (])(docs|bench|scripts)/[A-Za-z0-9_.-]+[A-Za-z0-9_]' "$f" |
    sed -E 's/^[ (]//' | sort -u)
done
[ "$bad" -eq 0 ]
echo "README.md, docs/*.md and docs/*.1: links and paths all exist"
