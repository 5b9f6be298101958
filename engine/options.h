/* options.h — the engine's side of the options table (LAMINA_OPTIONS_TABLE in lamina.h):
 * validation, the text form "name=value" per line of the OPTIONS-NNNNNN file, and the
 * struct_size rules of the read and write options. */
#ifndef ENGINE_OPTIONS_H
#define ENGINE_OPTIONS_H

#include <stddef.h>
#include <stdint.h>

#include "lamina.h"
#include "util/coding.h"

/* Smallest struct_size accepted: the size of lamina_options in the first release (0.1). A
 * caller built with an older header than the library's would pass a smaller struct. */
#define OPTIONS_MIN_STRUCT_SIZE sizeof(lamina_options)

/* Checks every field against the table's range and the cross-field rules (level-0 triggers
 * ordered compaction <= slowdown <= stop; struct_size >= OPTIONS_MIN_STRUCT_SIZE).
 * 0, or LAMINA_EINVAL with a message naming the option. */
int options_validate(const lamina_options *o);

/* Copies a caller's options into the engine's own struct: src == NULL gives the defaults;
 * fields beyond src->struct_size keep their defaults; dst->struct_size is sizeof(*dst). Then
 * validates. 0 or LAMINA_EINVAL. */
int options_copy(lamina_options *dst, const lamina_options *src);

/* The engine's copy of a caller's read / write options, through which every public call taking
 * them goes: src == NULL gives the defaults (lamina_read_options_init / _write_options_init);
 * a smaller src->struct_size (a caller built against an older header) gives the defaults for
 * the fields past it; a larger one (a newer header) is read only as far as this library knows.
 * LAMINA_EINVAL, naming fn, when struct_size does not even cover the first field after it
 * (0: a struct never passed through its _init). dst->struct_size is sizeof(*dst). */
int options_read_copy(lamina_read_options *dst, const lamina_read_options *src, const char *fn);
int options_write_copy(lamina_write_options *dst, const lamina_write_options *src, const char *fn);

/* The first line of every OPTIONS file (docs/format.md, Part 1 §5). */
#define OPTIONS_FILE_HEADER "# Lamina options in force (name=value)\n"

/* Appends "name=value\n" for every option in table order (enums by choice name) to out.
 * 0 or LAMINA_ENOMEM. */
int options_format(const lamina_options *o, buf *out);

/* Reads the text of options_format back into *o (fields not mentioned are left as they are;
 * blank lines and lines starting with '#' are ignored). 0, or LAMINA_EINVAL naming the line
 * for an unknown name, a line without '=' or a bad value. */
int options_parse_text(lamina_options *o, const uint8_t *text, size_t len);

/* The text form of option i's value in o (as the OPTIONS file writes it: an enum's choice
 * name, true/false, a decimal number) into out (cap bytes, NUL-terminated); returns the
 * length the whole text needs, as snprintf does. */
int options_value_text(const lamina_options *o, size_t i, char *out, size_t cap);
/* Whether option i differs between a and b. */
int options_differ(const lamina_options *a, const lamina_options *b, size_t i);
/* 1 for the options that describe one open call (create_if_missing, error_if_exists): an
 * OPTIONS file's values of them are never loaded. */
int options_is_per_open(size_t i);
/* 1 for the options that shape the tree or new tables (compaction_policy, size_ratio,
 * runs_per_level, runs_last_level, max_bytes_for_level_base, num_levels, index_type,
 * memtable_type, format_version): the open logs a change of them as structural. */
int options_is_structural(size_t i);
/* Reads the OPTIONS file at path into *o, every option but the per-open ones; *o changes only
 * when the whole file reads and validates. 0; LAMINA_ECORRUPT naming the file (no Lamina
 * header, a line that does not parse, a value out of range); LAMINA_EIO; LAMINA_ENOMEM. */
int options_load_file(const char *path, lamina_options *o);

#endif
