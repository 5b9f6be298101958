/* helpers.h — shared fixtures of the sst tests: a temporary directory, a reference model of a
 * table (sorted internal-key entries with several versions and tombstones), and table
 * building from it. */
#ifndef TESTS_SST_HELPERS_H
#define TESTS_SST_HELPERS_H

#include <stddef.h>
#include <stdint.h>

#include "sst/index.h"
#include "sst/table.h"
#include "test_options.h"
#include "util/ikey.h"

struct model_entry {
    uint8_t *ikey;
    size_t ilen;
    uint8_t *val;
    size_t vlen;
};

struct model {
    struct model_entry *e;
    size_t n;
    uint64_t max_seq;
};

/* A fresh directory under /tmp; tmpdir_remove deletes it and what it holds. */
char *tmpdir_create(void);
void tmpdir_remove(char *dir);
/* dir/name in a static buffer per call site (the caller copies if it keeps it). */
char *path_join(const char *dir, const char *name);

/* Builds a model of about n entries: user keys with shared prefixes, NUL bytes and varying
 * lengths, 1-3 versions each with distinct sequence numbers, some tombstones, some empty
 * values; entries sorted in internal-key order. The user key of key number i is
 * model_user_key(i) and absent keys come from model_absent_key. */
void model_build(struct model *m, size_t n, uint64_t seed);
void model_free(struct model *m);
size_t model_user_key(char *dst, size_t i);
size_t model_absent_key(char *dst, size_t i);
/* Index of the first entry >= key (n if none). */
size_t model_lower_bound(const struct model *m, const uint8_t *key, size_t len);

/* Writes the model as a table at path with options o; fills meta (freed by the caller). */
void model_write_table(const struct model *m, const char *path, uint64_t file_number,
                       const struct table_options *o, struct table_meta *meta);

static inline struct table_options test_table_options(size_t block_size, int compression,
                                                      int bloom_bits)
{
    struct table_options o = {
        .block_size = block_size,
        .restart_interval = 16,
        .compression = compression,
        .zstd_level = 1,
        .bloom_bits = bloom_bits,
        .index_type = test_index_type(),
        .format_version = test_format_version(),
    };
    return o;
}

/* table_get with the lookup's user-key hash computed here, as the engine computes it once per
 * lookup; ilen includes the trailer. */
static inline int table_get_key(table *t, const struct table_read_options *ro, const uint8_t *ikey,
                                size_t ilen, int *type, buf *value)
{
    uint64_t hash = table_key_hash(ikey, ilen >= IKEY_TRAILER ? ilen - IKEY_TRAILER : 0);
    return table_get(t, ro, ikey, ilen, hash, type, value);
}

/* A table file's index opened on its own (no table reader), for tests that walk or damage it:
 * the footer, the file, the block source and the index reader. */
struct index_file {
    struct table_footer ft;
    rfile *f;
    struct block_source src;
    struct index_reader r;
};
void index_file_open(struct index_file *x, const char *path, uint64_t number);
void index_file_close(struct index_file *x);

/* Copies a file, reads it whole, writes it whole. */
void file_copy(const char *from, const char *to);
uint8_t *file_slurp(const char *path, size_t *len);
void file_spit(const char *path, const uint8_t *p, size_t len);

#endif
