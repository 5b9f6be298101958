/* filename.h — the names of the files Lamina creates in a database directory. */
#ifndef ENGINE_FILENAME_H
#define ENGINE_FILENAME_H

#include <stddef.h>
#include <stdint.h>

/* "dir/000012.sst" and friends. */
void db_file_name(char *out, size_t cap, const char *dir, uint64_t number, const char *ext);
/* Parses a directory entry: returns 1 and sets *number and *kind for "NNNNNN.log" (kind 'l'),
 * "NNNNNN.sst" ('t'), "MANIFEST-NNNNNN" ('m'), "OPTIONS-NNNNNN" ('o'), names ending ".tmp" ('x');
 * 0 for other names. */
int db_parse_file_name(const char *name, uint64_t *number, char *kind);

/* Parses n decimal digits (1..19) at s into *out; 1 on success, 0 otherwise. */
int db_parse_number(const char *s, size_t n, uint64_t *out);

#endif
