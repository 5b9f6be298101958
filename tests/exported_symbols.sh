#!/bin/sh
# Only lamina_* symbols may leave liblamina.so (DESIGN.md: hidden visibility + LAMINA_API).
lib=${1:?usage: exported_symbols.sh LIB}
bad=$(nm -D --defined-only "$lib" | awk '$2 ~ /^[TDBRV]$/ && $3 !~ /^lamina_/ {print $3}')
if [ -n "$bad" ]; then
  echo "exported symbols without the lamina_ prefix:"; echo "$bad"; exit 1
fi
n=$(nm -D --defined-only "$lib" | awk '$3 ~ /^lamina_/' | wc -l)
echo "ok: $n lamina_* symbols exported, nothing else"
