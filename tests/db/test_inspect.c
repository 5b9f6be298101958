/* test_inspect.c — the inspection API: lamina_approximate_sizes (grows with the range, adds up
 * over adjacent ranges, covers the live tables whole, counts memtable entries exactly),
 * lamina_live_tables (matches the per-level properties and the files on disk), and the MANIFEST
 * and WAL readers (their records say what was written, read beside an open handle). */
#include <math.h>
#include <sys/stat.h>

#include "helpers.h"

TestSuite(inspect, .init = tdb_setup, .fini = tdb_teardown, .timeout = 240);

#define NKEYS 20000

static lamina_range range_of(const char *from, const char *to)
{
    return (lamina_range){from, from ? strlen(from) : 0, to, to ? strlen(to) : 0};
}

static uint64_t approx(lamina_db *db, const char *from, const char *to, unsigned flags)
{
    lamina_range r = range_of(from, to);
    uint64_t size = UINT64_MAX;
    int rc = lamina_approximate_sizes(db, 1, &r, flags, &size);
    cr_assert_eq(rc, LAMINA_OK, "approximate_sizes: %s: %s", lamina_strerror(rc),
                 lamina_errmsg(db));
    return size;
}

/* A tree over several levels: NKEYS keys in 64 KiB memtables, compacted as far as the policy
 * goes. */
static lamina_db *open_filled(void)
{
    lamina_options o = tdb_small_options();
    lamina_db *db = tdb_open(T.path, &o);
    tdb_put_range(db, NULL, 0, NKEYS, 0);
    cr_assert_eq(lamina_flush(db), LAMINA_OK, "%s", lamina_errmsg(db));
    cr_assert_eq(lamina_wait_for_compactions(db), LAMINA_OK, "%s", lamina_errmsg(db));
    return db;
}

static const char *key_at(char *buf, uint64_t i)
{
    tdb_key(buf, i);
    return buf;
}

Test(inspect, approximate_sizes_grow_with_the_range_and_cover_the_live_tables)
{
    lamina_db *db = open_filled();
    uint64_t live = tdb_prop(db, "lamina.live-bytes");
    cr_assert_gt(live, 0);
    /* Every table lies wholly inside the unbounded range: its file size counts whole. */
    cr_expect_eq(approx(db, NULL, NULL, LAMINA_SIZE_FILES), live);
    char a[32], b[32];
    uint64_t prev = 0;
    for (int i = 1; i <= 4; i++) {
        uint64_t s =
            approx(db, key_at(a, 0), key_at(b, (uint64_t)i * NKEYS / 4), LAMINA_SIZE_FILES);
        cr_expect_gt(s, prev, "[0, %d/4) gives %llu, not above the smaller range's %llu", i,
                     (unsigned long long)s, (unsigned long long)prev);
        /* Keys are spread evenly over the bytes. A cut table is off by at most the block the
         * bound falls in plus its meta blocks (index, filter, properties: a few KiB for a 64 KiB
         * table), one cut table per level and bound, so a handful of KiB out of the ~1.5 MB
         * live: 5% of live is a generous bound. */
        double want = (double)live * i / 4.0;
        cr_expect_lt(fabs((double)s - want), 0.05 * (double)live,
                     "[0, %d/4) gives %llu bytes, want about %.0f of %llu", i,
                     (unsigned long long)s, want, (unsigned long long)live);
        prev = s;
    }
    /* Adjacent ranges add up exactly: both ends come from the same index offsets. */
    char c[32];
    uint64_t left = approx(db, key_at(a, 1000), key_at(b, 7777), LAMINA_SIZE_FILES);
    uint64_t right = approx(db, b, key_at(c, 15000), LAMINA_SIZE_FILES);
    cr_expect_eq(left + right, approx(db, a, c, LAMINA_SIZE_FILES));
    lamina_close(db);
}

Test(inspect, approximate_sizes_of_a_range_without_keys_are_about_zero)
{
    lamina_db *db = open_filled();
    /* Past every key: no table meets the range. */
    cr_expect_eq(approx(db, "zzz", "zzzz", LAMINA_SIZE_FILES), 0);
    cr_expect_eq(approx(db, NULL, "a", LAMINA_SIZE_FILES), 0);
    /* Between two adjacent keys: at most the one data block (block_size 1 KiB) each table
     * holding both neighbours counts, and there is at most one such table per level. */
    char a[40], b[40];
    key_at(a, 4321);
    key_at(b, 4321);
    strcat(a, "a");
    strcat(b, "b");
    cr_expect_leq(approx(db, a, b, LAMINA_SIZE_FILES), 7 * 1100);
    /* An empty or reversed range is 0. */
    cr_expect_eq(approx(db, b, a, LAMINA_SIZE_FILES), 0);
    cr_expect_eq(approx(db, a, a, LAMINA_SIZE_FILES), 0);
    lamina_close(db);
}

Test(inspect, approximate_sizes_count_memtable_entries)
{
    lamina_options o = tdb_small_options();
    o.write_buffer_size = 4 << 20; /* nothing is flushed */
    lamina_db *db = tdb_open(T.path, &o);
    uint64_t want = 0;
    for (int i = 0; i < 100; i++) {
        char k[32], v[96];
        size_t kl = tdb_key(k, (uint64_t)i), vl = tdb_value(v, (uint64_t)i, 0);
        tdb_put(db, k, kl, v, vl);
        if (i >= 10 && i < 60) want += kl + 8 + vl; /* key, sequence trailer, value */
    }
    char a[32], b[32];
    key_at(a, 10);
    key_at(b, 60);
    cr_expect_eq(approx(db, a, b, LAMINA_SIZE_FILES), 0, "no table yet");
    cr_expect_eq(approx(db, a, b, LAMINA_SIZE_MEMTABLES), want);
    cr_expect_eq(approx(db, a, b, LAMINA_SIZE_FILES | LAMINA_SIZE_MEMTABLES), want);
    uint64_t size;
    lamina_range r = range_of(a, b);
    cr_expect_eq(lamina_approximate_sizes(db, 1, &r, 0, &size), LAMINA_EINVAL);
    cr_expect_eq(lamina_approximate_sizes(db, 1, NULL, LAMINA_SIZE_FILES, &size), LAMINA_EINVAL);
    cr_expect_eq(lamina_approximate_sizes(db, 0, NULL, LAMINA_SIZE_FILES, NULL), LAMINA_OK);
    lamina_close(db);
}

/* ---- live tables ----------------------------------------------------------------------- */

struct tables {
    const char *dir;
    size_t n, files[20];
    uint64_t bytes, entries;
    uint64_t numbers[4096];
    int order_ok;
    int prev_level;
    uint64_t prev_run;
    char prev_largest[64];
    size_t prev_largest_len;
};

static int collect_table(void *ctx, const lamina_table_info *t)
{
    struct tables *s = ctx;
    cr_assert_geq(t->struct_size, sizeof(*t));
    cr_assert(t->level >= 0 && t->level < 20);
    s->files[t->level]++;
    s->bytes += t->file_size;
    s->entries += t->entries;
    cr_assert_lt(s->n, 4096);
    s->numbers[s->n++] = t->file_number;
    /* The key range is in order, and a run's tables follow each other without overlap. */
    cr_expect_leq(memcmp(t->smallest_key, t->largest_key, 15), 0);
    cr_expect_leq(t->smallest_seq, t->largest_seq);
    if (s->prev_level == t->level && s->prev_run == t->run && s->prev_largest_len &&
        memcmp(s->prev_largest, t->smallest_key, 15) >= 0)
        s->order_ok = 0;
    s->prev_level = t->level;
    s->prev_run = t->run;
    s->prev_largest_len = t->largest_key_len < 64 ? t->largest_key_len : 64;
    memcpy(s->prev_largest, t->largest_key, s->prev_largest_len);
    /* The file is on disk with the size the version records. */
    char p[512];
    struct stat st;
    snprintf(p, sizeof(p), "%s/%06llu.sst", s->dir, (unsigned long long)t->file_number);
    cr_expect_eq(stat(p, &st), 0, "%s is missing", p);
    cr_expect_eq((uint64_t)st.st_size, t->file_size, "%s", p);
    return 0;
}

Test(inspect, live_tables_match_the_files_at_each_level)
{
    lamina_db *db = open_filled();
    struct tables s = {.dir = T.path, .order_ok = 1, .prev_level = -1};
    cr_assert_eq(lamina_live_tables(db, collect_table, &s), LAMINA_OK);
    cr_expect(s.order_ok, "a run's tables overlap or are out of order");
    cr_expect_eq(s.bytes, tdb_prop(db, "lamina.live-bytes"));
    int deepest = -1;
    for (int l = 0; l < 7; l++) {
        char name[64];
        snprintf(name, sizeof(name), "lamina.num-files-at-level%d", l);
        cr_expect_eq(s.files[l], tdb_prop(db, name), "level %d", l);
        if (s.files[l]) deepest = l;
    }
    cr_expect_geq(deepest, 1, "the tree should reach level 1 or deeper");
    cr_expect_geq(s.entries, NKEYS, "every key is in some table");
    cr_expect_eq(lamina_live_tables(db, NULL, NULL), LAMINA_EINVAL);
    lamina_close(db);
}

static int stop_at_first(void *ctx, const lamina_table_info *t)
{
    (void)t;
    (*(int *)ctx)++;
    return 1;
}

Test(inspect, live_tables_stop_when_the_callback_says_so)
{
    lamina_db *db = open_filled();
    int calls = 0;
    cr_expect_eq(lamina_live_tables(db, stop_at_first, &calls), LAMINA_OK);
    cr_expect_eq(calls, 1);
    lamina_close(db);
}

/* ---- MANIFEST reader ------------------------------------------------------------------- */

/* The table set the edits leave live, folded in order, and the statistics they carry. */
struct folded {
    uint64_t live[4096];
    size_t n;
    uint64_t edits, flushes, flush_bytes, last_seq, last_offset;
    int first_has_identity;
};

static void fold_remove(struct folded *f, uint64_t number)
{
    for (size_t i = 0; i < f->n; i++)
        if (f->live[i] == number) {
            f->live[i] = f->live[--f->n];
            return;
        }
    cr_expect_fail("edit deletes table %llu that no earlier edit added",
                   (unsigned long long)number);
}

static int fold_edit(void *ctx, const lamina_manifest_edit *e)
{
    struct folded *f = ctx;
    cr_assert_geq(e->struct_size, sizeof(*e));
    cr_expect_eq(e->index, f->edits);
    if (f->edits == 0) f->first_has_identity = e->has_identity;
    if (f->edits > 0) cr_expect_gt(e->offset, f->last_offset, "offsets increase");
    f->last_offset = e->offset;
    f->edits++;
    for (size_t i = 0; i < e->ndeleted; i++)
        fold_remove(f, e->deleted_numbers[i]);
    for (size_t i = 0; i < e->nadded; i++) {
        cr_assert_lt(f->n, 4096);
        f->live[f->n++] = e->added[i].file_number;
    }
    if (e->has_last_sequence && e->last_sequence > f->last_seq) f->last_seq = e->last_sequence;
    if (e->has_stats) {
        f->flushes += e->flush_count;
        f->flush_bytes += e->flush_bytes;
        /* Level 0's work is the flushes. */
        if (e->nlevels > 0) cr_expect_eq(e->levels[0].bytes_written, e->flush_bytes);
    }
    return 0;
}

static int u64_cmp(const void *a, const void *b)
{
    uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;
    return x < y ? -1 : x > y;
}

Test(inspect, manifest_reader_names_the_live_tables_beside_an_open_handle)
{
    lamina_db *db = open_filled();
    struct tables s = {.dir = T.path, .order_ok = 1, .prev_level = -1};
    cr_assert_eq(lamina_live_tables(db, collect_table, &s), LAMINA_OK);
    static struct folded f;
    memset(&f, 0, sizeof(f));
    int rc = lamina_manifest_read(T.path, NULL, fold_edit, &f);
    cr_assert_eq(rc, LAMINA_OK, "%s: %s", lamina_strerror(rc), lamina_errmsg(NULL));
    cr_expect(f.first_has_identity, "a MANIFEST's first record says it is Lamina's");
    cr_assert_eq(f.n, s.n, "the edits leave %zu tables, the version has %zu", f.n, s.n);
    qsort(f.live, f.n, sizeof(f.live[0]), u64_cmp);
    qsort(s.numbers, s.n, sizeof(s.numbers[0]), u64_cmp);
    cr_expect_arr_eq(f.live, s.numbers, s.n * sizeof(s.numbers[0]));
    cr_expect_eq(f.last_seq, tdb_prop(db, "lamina.sequence"));
    /* The first record carries the totals, later ones the deltas: their sum is the total. */
    cr_expect_eq(f.flushes, tdb_prop(db, "lamina.flushes"));
    cr_expect_eq(f.flush_bytes, tdb_prop(db, "lamina.bytes-flushed"));
    lamina_close(db);
}

Test(inspect, manifest_reader_refuses_what_is_not_a_database)
{
    struct folded f = {0};
    cr_expect_eq(lamina_manifest_read(T.dir, NULL, fold_edit, &f), LAMINA_ENOENT);
    cr_expect_eq(lamina_manifest_read(NULL, NULL, fold_edit, &f), LAMINA_EINVAL);
    cr_expect_eq(lamina_manifest_read(T.dir, NULL, NULL, NULL), LAMINA_EINVAL);
    char p[400];
    snprintf(p, sizeof(p), "%s/MANIFEST-000001", T.dir);
    cr_expect_eq(lamina_manifest_read(NULL, p, fold_edit, &f), LAMINA_ENOENT);
    cr_expect_eq(f.edits, 0);
}

/* ---- WAL reader ------------------------------------------------------------------------ */

struct wal_seen {
    uint64_t records, ops, first_seq[16], wal;
    uint32_t count[16];
    int type[32];
    uint64_t seq[32];
    char key[32][16], value[32][16];
};

static int collect_record(void *ctx, const lamina_wal_record *r)
{
    struct wal_seen *w = ctx;
    cr_assert_geq(r->struct_size, sizeof(*r));
    cr_assert_lt(w->records, 16);
    w->wal = r->wal_number;
    w->first_seq[w->records] = r->sequence;
    w->count[w->records++] = r->count;
    for (uint32_t i = 0; i < r->count; i++) {
        const lamina_wal_op *op = &r->ops[i];
        cr_assert_lt(w->ops, 32);
        cr_assert_lt(op->key_len, 16);
        cr_assert_lt(op->value_len, 16);
        w->type[w->ops] = op->type;
        w->seq[w->ops] = op->seq;
        memcpy(w->key[w->ops], op->key, op->key_len);
        w->key[w->ops][op->key_len] = 0;
        if (op->value_len) memcpy(w->value[w->ops], op->value, op->value_len);
        if (op->type == LAMINA_SST_DELETION) cr_expect_null(op->value, "a delete has no value");
        w->value[w->ops][op->value_len] = 0;
        w->ops++;
    }
    return 0;
}

/* Writes a batch (put a, put b, delete c), then put d and delete e. */
static lamina_db *open_with_wal(uint64_t *seq0)
{
    lamina_options o = tdb_small_options();
    o.write_buffer_size = 4 << 20;
    lamina_db *db = tdb_open(T.path, &o);
    *seq0 = tdb_prop(db, "lamina.sequence");
    lamina_batch *b;
    cr_assert_eq(lamina_batch_create(&b), LAMINA_OK);
    cr_assert_eq(lamina_batch_put(b, "a", 1, "1", 1), LAMINA_OK);
    cr_assert_eq(lamina_batch_put(b, "b", 1, "", 0), LAMINA_OK);
    cr_assert_eq(lamina_batch_delete(b, "c", 1), LAMINA_OK);
    cr_assert_eq(lamina_write(db, NULL, b), LAMINA_OK);
    lamina_batch_destroy(b);
    tdb_put(db, "d", 1, "4\t4", 3);
    cr_assert_eq(lamina_delete(db, NULL, "e", 1), LAMINA_OK);
    return db;
}

static void expect_written(const struct wal_seen *w, uint64_t seq0)
{
    cr_assert_eq(w->records, 3, "one record per write");
    cr_expect_eq(w->count[0], 3);
    cr_expect_eq(w->count[1], 1);
    cr_expect_eq(w->count[2], 1);
    cr_expect_eq(w->first_seq[0], seq0 + 1);
    cr_expect_eq(w->first_seq[1], seq0 + 4);
    cr_expect_eq(w->first_seq[2], seq0 + 5);
    cr_assert_eq(w->ops, 5);
    const char *keys[] = {"a", "b", "c", "d", "e"}, *values[] = {"1", "", "", "4\t4", ""};
    const int types[] = {LAMINA_SST_VALUE, LAMINA_SST_VALUE, LAMINA_SST_DELETION, LAMINA_SST_VALUE,
                         LAMINA_SST_DELETION};
    for (int i = 0; i < 5; i++) {
        cr_expect_str_eq(w->key[i], keys[i]);
        cr_expect_str_eq(w->value[i], values[i]);
        cr_expect_eq(w->type[i], types[i], "op %d", i);
        cr_expect_eq(w->seq[i], seq0 + 1 + (uint64_t)i, "op %d", i);
    }
}

Test(inspect, wal_reader_returns_the_puts_and_deletes_with_their_sequence_numbers)
{
    uint64_t seq0;
    lamina_db *db = open_with_wal(&seq0);
    /* Read beside the open handle: the reader takes no LOCK. */
    struct wal_seen w = {0};
    int rc = lamina_wal_read(T.path, NULL, collect_record, &w);
    cr_assert_eq(rc, LAMINA_OK, "%s: %s", lamina_strerror(rc), lamina_errmsg(NULL));
    expect_written(&w, seq0);
    /* The same records from the file named directly. */
    char p[400];
    snprintf(p, sizeof(p), "%s/%06llu.log", T.path, (unsigned long long)w.wal);
    struct wal_seen w2 = {0};
    cr_assert_eq(lamina_wal_read(NULL, p, collect_record, &w2), LAMINA_OK, "%s",
                 lamina_errmsg(NULL));
    expect_written(&w2, seq0);
    lamina_close(db);
    /* After a reopen the WAL's records are in a table and the live WAL is empty. */
    lamina_options o = tdb_small_options();
    db = tdb_open(T.path, &o);
    struct wal_seen w3 = {0};
    cr_assert_eq(lamina_wal_read(T.path, NULL, collect_record, &w3), LAMINA_OK, "%s",
                 lamina_errmsg(NULL));
    cr_expect_eq(w3.records, 0);
    lamina_close(db);
}

Test(inspect, wal_reader_reports_a_damaged_record_after_the_ones_before_it)
{
    uint64_t seq0;
    lamina_db *db = open_with_wal(&seq0);
    struct wal_seen w = {0};
    cr_assert_eq(lamina_wal_read(T.path, NULL, collect_record, &w), LAMINA_OK);
    cr_assert_eq(lamina_close(db), LAMINA_OK);
    /* Flip a byte of the second record's payload: records are 7-byte headers + batches. */
    char p[400];
    snprintf(p, sizeof(p), "%s/%06llu.log", T.path, (unsigned long long)w.wal);
    /* The first record: its header, the batch header, put a 1 (type, 1+1, 1+1), put b ""
     * (1, 1+1, 1), delete c (1, 1+1). */
    long second = 7 + 12 + 5 + 4 + 3;
    tdb_flip(p, second + 7 + 13, 0x40);
    struct wal_seen w2 = {0};
    int rc = lamina_wal_read(T.path, NULL, collect_record, &w2);
    cr_expect_eq(rc, LAMINA_ECORRUPT, "%s", lamina_strerror(rc));
    cr_expect_neq(strstr(lamina_errmsg(NULL), ".log"), NULL, "%s", lamina_errmsg(NULL));
    cr_expect_eq(w2.records, 1, "the record before the damage was passed on");
}

/* ---- persisted counters ---------------------------------------------------------------- */

Test(inspect, user_bytes_written_survive_a_close_without_a_flush)
{
    lamina_options o = tdb_small_options();
    o.write_buffer_size = 4 << 20; /* nothing is flushed: the WAL replay at reopen does it */
    lamina_db *db = tdb_open(T.path, &o);
    tdb_put(db, "abc", 3, "defgh", 5);
    cr_assert_eq(lamina_delete(db, NULL, "x", 1), LAMINA_OK);
    cr_expect_eq(tdb_prop(db, "lamina.user-bytes-written"), 9);
    cr_assert_eq(lamina_close(db), LAMINA_OK);
    db = tdb_open(T.path, &o);
    cr_expect_eq(tdb_prop(db, "lamina.user-bytes-written"), 9, "the count survives the reopen");
    tdb_put(db, "k", 1, "v", 1);
    cr_assert_eq(lamina_close(db), LAMINA_OK);
    db = tdb_open(T.path, &o);
    cr_expect_eq(tdb_prop(db, "lamina.user-bytes-written"), 11, "and is not counted twice");
    lamina_close(db);
}
