/* range_del.h — the range tombstones of a read's or a merge's sources, gathered and fragmented
 * (util/range_del.h): a flush's memtable, a compaction's input runs, an iterator's super
 * version. Point lookups do not use these: each memtable and table applies its own. */
#ifndef ENGINE_RANGE_DEL_H
#define ENGINE_RANGE_DEL_H

#include <stddef.h>

#include "engine/version.h"
#include "memtable/memtable.h"
#include "sst/table.h"
#include "util/range_del.h"

struct super_version;

/* The tombstones of mem in *out, or NULL when it holds none. 0 or LAMINA_ENOMEM. */
int db_range_dels_memtable(memtable *mem, range_del_list **out);
/* The tombstones of every table of runs[0..n) in *out, or NULL when they hold none. Only tables
 * the version marks as holding range tombstones (file_meta range_dels) are opened. 0 or the
 * error of a table that could not be read. */
int db_range_dels_runs(const struct run *runs, size_t n, range_del_list **out);
/* The tombstones an iterator over sv needs: every memtable's, and those of the tables whose key
 * ranges meet ro's bounds (tables outside them hold none covering a key inside). *out NULL when
 * there are none. 0 or an error. */
int db_range_dels_iter(struct super_version *sv, const struct table_read_options *ro,
                       range_del_list **out);
/* Adds every tombstone of l (NULL: none) to table builder b, in the order it asks for. */
int db_range_dels_to_table(const range_del_list *l, table_builder *b);

#endif
