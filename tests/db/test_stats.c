/* test_stats.c — the compaction statistics a tuner reads (lamina.w-amp, per-level work,
 * user bytes written) are kept in the MANIFEST: they survive reopening and MANIFEST rolls, an
 * older MANIFEST without them opens with zeros, and an older reader skips their field. */
#include <inttypes.h>
#include <math.h>

#include "engine/log.h"
#include "engine/version_edit.h"
#include "helpers.h"
#include "util/coding.h"
#include "util/file.h"

TestSuite(stats, .init = tdb_setup, .fini = tdb_teardown, .timeout = 240);

#define STATS_LEVELS 7 /* num_levels of the options used here */

/* Every persisted figure, read through lamina_property. */
struct figures {
    uint64_t read[STATS_LEVELS], written[STATS_LEVELS], count[STATS_LEVELS];
    uint64_t micros[STATS_LEVELS];
    uint64_t user_bytes, flushed, flushes, compactions, comp_read, comp_written, all_written;
    double w_amp;
};

static double prop_ratio(lamina_db *db, const char *name)
{
    char *text = NULL;
    cr_assert_eq(lamina_property(db, name, &text), LAMINA_OK, "%s: %s", name, lamina_errmsg(db));
    double v = strtod(text, NULL);
    lamina_free(text);
    return v;
}

static void figures_read(lamina_db *db, struct figures *f)
{
    char name[96];
    memset(f, 0, sizeof(*f));
    for (int l = 0; l < STATS_LEVELS; l++) {
        snprintf(name, sizeof(name), "lamina.compaction-bytes-read-at-level%d", l);
        f->read[l] = tdb_prop(db, name);
        snprintf(name, sizeof(name), "lamina.compaction-bytes-written-at-level%d", l);
        f->written[l] = tdb_prop(db, name);
        snprintf(name, sizeof(name), "lamina.compaction-count-at-level%d", l);
        f->count[l] = tdb_prop(db, name);
        snprintf(name, sizeof(name), "lamina.compaction-micros-at-level%d", l);
        f->micros[l] = tdb_prop(db, name);
    }
    f->user_bytes = tdb_prop(db, "lamina.user-bytes-written");
    f->flushed = tdb_prop(db, "lamina.bytes-flushed");
    f->flushes = tdb_prop(db, "lamina.flushes");
    f->compactions = tdb_prop(db, "lamina.compactions");
    f->comp_read = tdb_prop(db, "lamina.compaction-bytes-read");
    f->comp_written = tdb_prop(db, "lamina.compaction-bytes-written");
    f->all_written = tdb_prop(db, "lamina.bytes-written");
    f->w_amp = prop_ratio(db, "lamina.w-amp");
}

static void figures_expect_equal(const struct figures *a, const struct figures *b)
{
    for (int l = 0; l < STATS_LEVELS; l++) {
        cr_expect_eq(a->read[l], b->read[l], "bytes read into level %d", l);
        cr_expect_eq(a->written[l], b->written[l], "bytes written into level %d", l);
        cr_expect_eq(a->count[l], b->count[l], "jobs into level %d", l);
        cr_expect_eq(a->micros[l], b->micros[l], "micros of level %d", l);
    }
    cr_expect_eq(a->user_bytes, b->user_bytes);
    cr_expect_eq(a->flushed, b->flushed);
    cr_expect_eq(a->flushes, b->flushes);
    cr_expect_eq(a->compactions, b->compactions);
    cr_expect_eq(a->comp_read, b->comp_read);
    cr_expect_eq(a->comp_written, b->comp_written);
    cr_expect(a->w_amp == b->w_amp, "w_amp %f, then %f", a->w_amp, b->w_amp);
}

/* Puts keys [from, from + n) of generation gen; returns the key + value bytes written. */
static uint64_t load(lamina_db *db, uint64_t from, uint64_t n, uint64_t gen)
{
    char k[64], v[128];
    uint64_t bytes = 0;
    for (uint64_t i = from; i < from + n; i++) {
        uint64_t key = (i * 7919) % 1000003;
        size_t kl = tdb_key(k, key), vl = tdb_value(v, key, gen);
        tdb_put(db, k, kl, v, vl);
        bytes += kl + vl;
    }
    return bytes;
}

Test(stats, survive_reopen_and_w_amp_is_bytes_written_over_bytes_flushed)
{
    lamina_options o = tdb_small_options();
    lamina_db *db = tdb_open(T.path, &o);
    uint64_t user = load(db, 0, 30000, 1);
    cr_assert_eq(lamina_flush(db), LAMINA_OK);
    cr_assert_eq(lamina_wait_for_compactions(db), LAMINA_OK);
    struct figures a, b, c;
    figures_read(db, &a);

    cr_expect_eq(a.user_bytes, user, "user bytes: the key and value bytes put");
    cr_expect_gt(a.flushes, 10);
    cr_expect_gt(a.compactions, 0, "the load compacted");
    cr_expect_eq(a.flushed, a.written[0], "level 0's writes are the flushes");
    cr_expect_eq(a.flushes, a.count[0]);
    cr_expect_eq(a.read[0], 0, "a flush reads no table");
    uint64_t written = 0, read = 0, count = 0;
    for (int l = 0; l < STATS_LEVELS; l++) {
        written += a.written[l];
        read += a.read[l];
        count += a.count[l];
        if (l > 0 && a.count[l]) cr_expect_gt(a.read[l], 0, "level %d's jobs read nothing", l);
    }
    cr_expect_eq(a.all_written, written);
    cr_expect_eq(a.comp_written, written - a.flushed);
    cr_expect_eq(a.comp_read, read);
    cr_expect_eq(a.compactions + a.flushes, count);
    double ratio = (double)written / (double)a.flushed;
    cr_expect_geq(a.w_amp, 1.0, "w_amp %f", a.w_amp);
    cr_expect_gt(ratio, 1.0, "compactions wrote nothing");
    cr_expect(fabs(a.w_amp - ratio) < 0.0006, "w_amp %f, counters' ratio %f", a.w_amp, ratio);
    cr_assert_eq(lamina_close(db), LAMINA_OK);

    db = tdb_open(T.path, &o);
    figures_read(db, &b);
    figures_expect_equal(&a, &b);
    /* The counters go on from the recovered totals. */
    uint64_t more = load(db, 30000, 5000, 2);
    cr_assert_eq(lamina_flush(db), LAMINA_OK);
    cr_assert_eq(lamina_wait_for_compactions(db), LAMINA_OK);
    figures_read(db, &c);
    cr_expect_eq(c.user_bytes, a.user_bytes + more);
    cr_expect_gt(c.flushes, a.flushes);
    cr_expect_gt(c.flushed, a.flushed);
    cr_expect_geq(c.compactions, a.compactions);
    cr_assert_eq(lamina_close(db), LAMINA_OK);
}

/* The number of the MANIFEST that CURRENT names (an older one may still await its deletion,
 * which runs in the background). */
static uint64_t manifest_number(const char *dir)
{
    char path[4096], text[64] = {0};
    snprintf(path, sizeof path, "%s/CURRENT", dir);
    FILE *fp = fopen(path, "r");
    cr_assert_not_null(fp, "%s", path);
    size_t n = fread(text, 1, sizeof text - 1, fp);
    fclose(fp);
    cr_assert(n > 9 && strncmp(text, "MANIFEST-", 9) == 0, "CURRENT holds '%s'", text);
    return strtoull(text + 9, NULL, 10);
}

Test(stats, survive_manifest_rolls)
{
    static char k[2048];
    lamina_options o = tdb_small_options();
    o.max_manifest_file_size = 64 << 10; /* its minimum */
    lamina_db *db = tdb_open(T.path, &o);
    uint64_t first = manifest_number(T.path), rolls = 0, last = first;
    /* 1.5 KB keys: each table's entry in the MANIFEST takes kilobytes, so it rolls often. */
    for (int i = 0; i < 6000 && rolls < 3; i++) {
        int n = sprintf(k, "key%06d-", (i * 7919) % 6007);
        memset(k + n, 'x', 1500);
        tdb_put(db, k, (size_t)n + 1500, "v", 1);
        if (i % 100 == 99) {
            cr_assert_eq(lamina_flush(db), LAMINA_OK);
            uint64_t now = manifest_number(T.path);
            if (now != last) rolls++;
            last = now;
        }
    }
    cr_assert_geq(rolls, 3, "the MANIFEST rolled %" PRIu64 " times", rolls);
    cr_assert_eq(lamina_flush(db), LAMINA_OK);
    cr_assert_eq(lamina_wait_for_compactions(db), LAMINA_OK);
    struct figures a, b;
    figures_read(db, &a);
    cr_expect_gt(a.compactions, 0);
    cr_expect_gt(a.flushes, 3 * rolls);
    cr_assert_eq(lamina_close(db), LAMINA_OK);
    db = tdb_open(T.path, &o);
    figures_read(db, &b);
    figures_expect_equal(&a, &b);
    cr_assert_eq(lamina_close(db), LAMINA_OK);
}

/* Rewrites the live MANIFEST of path with every record's statistics field dropped: what a
 * MANIFEST written before the field existed holds. Returns how many records had one. */
static int manifest_strip_stats(const char *path)
{
    char mpath[600];
    snprintf(mpath, sizeof(mpath), "%s/MANIFEST-%06" PRIu64, path, manifest_number(path));
    log_reader *r = NULL;
    cr_assert_eq(log_reader_open(mpath, &r), 0);
    buf rec = {0}, *out = NULL;
    size_t n = 0;
    int with_stats = 0;
    while (log_reader_next(r, &rec) > 0) {
        struct version_edit e;
        cr_assert_eq(version_edit_decode(&e, rec.data, rec.len), 0);
        with_stats += e.has_stats;
        e.has_stats = 0;
        out = realloc(out, (n + 1) * sizeof(*out));
        cr_assert_not_null(out);
        out[n] = (buf){0};
        cr_assert_eq(version_edit_encode(&e, &out[n]), 0);
        n++;
        version_edit_free(&e);
    }
    log_reader_close(r);
    buf_free(&rec);
    wfile *f = NULL;
    cr_assert_eq(wfile_create(mpath, &f), 0);
    log_writer *w = log_writer_create(f, 0);
    cr_assert_not_null(w);
    for (size_t i = 0; i < n; i++) {
        cr_assert_eq(log_writer_add(w, out[i].data, out[i].len, i + 1 == n), 0);
        buf_free(&out[i]);
    }
    free(out);
    log_writer_destroy(w);
    cr_assert_eq(wfile_close(f), 0);
    return with_stats;
}

Test(stats, a_manifest_without_the_field_opens_with_zero_stats)
{
    lamina_options o = tdb_small_options();
    lamina_db *db = tdb_open(T.path, &o);
    load(db, 0, 8000, 1);
    cr_assert_eq(lamina_flush(db), LAMINA_OK);
    cr_assert_eq(lamina_wait_for_compactions(db), LAMINA_OK);
    uint64_t live = tdb_prop(db, "lamina.live-bytes");
    cr_assert_eq(lamina_close(db), LAMINA_OK);
    cr_assert_gt(manifest_strip_stats(T.path), 0, "the MANIFEST carried statistics");

    db = tdb_open(T.path, &o);
    struct figures z, zero;
    figures_read(db, &z);
    memset(&zero, 0, sizeof(zero));
    figures_expect_equal(&z, &zero);
    cr_expect_eq(tdb_prop(db, "lamina.live-bytes"), live, "the tables are all there");
    char k[64], v[128];
    for (uint64_t i = 0; i < 8000; i += 97) {
        uint64_t key = (i * 7919) % 1000003;
        size_t kl = tdb_key(k, key), vl = tdb_value(v, key, 1);
        tdb_expect(db, NULL, k, kl, v, vl);
    }
    /* Counting starts again from zero. */
    uint64_t user = load(db, 8000, 2000, 2);
    cr_assert_eq(lamina_flush(db), LAMINA_OK);
    figures_read(db, &z);
    cr_expect_eq(z.user_bytes, user);
    cr_expect_gt(z.flushes, 0);
    cr_assert_eq(lamina_close(db), LAMINA_OK);
}

/* An edit holding only statistics: its first byte is the field's tag. */
static void encode_stats_only(buf *out)
{
    struct version_edit e;
    version_edit_init(&e);
    e.has_stats = 1;
    e.stats.user_bytes = 1000;
    e.stats.flush_bytes = 700;
    e.stats.flush_count = 2;
    e.stats.level[0].bytes_written = 700;
    e.stats.level[0].count = 2;
    e.stats.level[3].bytes_read = 5;
    e.stats.level[3].bytes_written = 6;
    e.stats.level[3].count = 1;
    e.stats.level[3].micros = 8;
    cr_assert_eq(version_edit_encode(&e, out), 0);
    version_edit_free(&e);
}

Test(stats, the_field_round_trips_and_a_reader_without_it_skips_it)
{
    buf b = {0};
    encode_stats_only(&b);
    struct version_edit e;
    cr_assert_eq(version_edit_decode(&e, b.data, b.len), 0);
    cr_expect(e.has_stats);
    cr_expect_eq(e.stats.user_bytes, 1000);
    cr_expect_eq(e.stats.flush_bytes, 700);
    cr_expect_eq(e.stats.flush_count, 2);
    cr_expect_eq(e.stats.level[0].bytes_written, 700);
    cr_expect_eq(e.stats.level[3].bytes_read, 5);
    cr_expect_eq(e.stats.level[3].bytes_written, 6);
    cr_expect_eq(e.stats.level[3].count, 1);
    cr_expect_eq(e.stats.level[3].micros, 8);
    cr_expect_eq(e.stats.level[1].count, 0);
    version_edit_free(&e);
    /* A reader that predates the field sees an unknown tag of the safe range (>= 64): with
     * the tag renumbered to one this reader does not know either, the record still decodes. */
    cr_assert_eq(b.data[0], 68, "the statistics tag");
    b.data[0] = 100;
    cr_assert_eq(version_edit_decode(&e, b.data, b.len), 0);
    cr_expect_not(e.has_stats);
    version_edit_free(&e);
    buf_free(&b);
}

Test(stats, a_damaged_field_is_refused_as_corrupt)
{
    buf b = {0};
    encode_stats_only(&b);
    struct version_edit e;
    /* The payload's length byte shortened by one: the last level entry is cut. */
    cr_assert_lt(b.data[1], 128);
    b.data[1]--;
    cr_expect_eq(version_edit_decode(&e, b.data, b.len - 1), LAMINA_ECORRUPT);
    buf_free(&b);
    /* A level beyond any database's. */
    uint8_t rec[] = {68, 9, 0, 0, 0, 0, EDIT_STATS_LEVELS, 1, 1, 1, 1};
    cr_expect_eq(version_edit_decode(&e, rec, sizeof(rec)), LAMINA_ECORRUPT);
    rec[6] = EDIT_STATS_LEVELS - 1;
    cr_expect_eq(version_edit_decode(&e, rec, sizeof(rec)), 0);
    cr_expect_eq(e.stats.level[EDIT_STATS_LEVELS - 1].count, 1);
    version_edit_free(&e);
}
