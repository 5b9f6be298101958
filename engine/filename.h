/* filename.h — the names of the files Lamina creates in a database directory, and the names
 * that mark a directory as another engine's (RocksDB, LevelDB). */
#ifndef ENGINE_FILENAME_H
#define ENGINE_FILENAME_H

#include <stddef.h>
#include <stdint.h>

/* Extension of Lamina's temporary files ("NNNNNN.dbtmp", a fresh file number each): what is
 * written there is renamed over its real name (CURRENT, OPTIONS-NNNNNN) once synced. */
#define DB_TEMP_EXT "dbtmp"

/* "dir/000012.sst" and friends. */
void db_file_name(char *out, size_t cap, const char *dir, uint64_t number, const char *ext);
/* Parses a directory entry: returns 1 and sets *number and *kind for "NNNNNN.log" (kind 'l'),
 * "NNNNNN.sst" ('t'), "MANIFEST-NNNNNN" ('m'), "OPTIONS-NNNNNN" ('o'), "NNNNNN.dbtmp" ('x');
 * 0 for other names (CURRENT, LOCK, LOG and LOG.old.* included: see db_is_fixed_name). Whether a
 * parsed name is Lamina's also depends on its number (db.c's sweep and lamina_destroy). */
int db_parse_file_name(const char *name, uint64_t *number, char *kind);
/* 1 for the names Lamina uses outside the numbered files: CURRENT, LOCK, LOG and the earlier
 * info logs (db_parse_old_log). */
int db_is_fixed_name(const char *name);
/* The earlier info logs: a writer's open renames LOG to "LOG.old.<microseconds since the
 * epoch>" (RocksDB's naming); "LOG.old" is an older Lamina's single one. Returns 1 and sets
 * *micros (0 for "LOG.old") for such a name, else 0. */
#define DB_OLD_LOG "LOG.old"
int db_parse_old_log(const char *name, uint64_t *micros);
/* 1 for a name only RocksDB or LevelDB make: "IDENTITY" (RocksDB) or "*.ldb" (LevelDB tables). */
int db_is_foreign_marker(const char *name);

/* Subdirectory where recovery and repair keep files they cannot account for or read, instead
 * of deleting them (LevelDB's repairer does the same). */
#define DB_LOST_DIR "lost"
/* Moves dir/name into dir/lost/ (created if missing; an existing file of that name there gets
 * a ".N" suffix), then fsyncs both directories. 0 or a LAMINA_E* code with the message set. */
int db_move_to_lost(const char *dir, const char *name);

/* Parses n decimal digits (1..19) at s into *out; 1 on success, 0 otherwise. */
int db_parse_number(const char *s, size_t n, uint64_t *out);

#endif
