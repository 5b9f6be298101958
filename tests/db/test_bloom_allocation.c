/* test_bloom_allocation.c — bloom_allocation=monkey against uniform on one tree of 4+ levels at
 * T = 4: the same filter memory, fewer data blocks read by zero-result lookups (Monkey, SIGMOD
 * 2017); and the per-level lookup counters (runs probed, filter probes, false positives, data
 * blocks) of lamina_get and lamina_multi_get. */
#include "helpers.h"

TestSuite(bloom_allocation, .init = tdb_setup, .fini = tdb_teardown, .timeout = 600);

#define BA_KEYS 200000
#define BA_ABSENT 100000
#define BA_LEVELS 7
#define BA_FLUSH 500

static uint64_t prop_int(lamina_db *db, const char *name)
{
    uint64_t v = 0;
    int rc = lamina_property_int(db, name, &v);
    cr_assert_eq(rc, LAMINA_OK, "%s: %s", name, lamina_errmsg(db));
    return v;
}

static uint64_t prop_level(lamina_db *db, const char *what, int level)
{
    char name[96];
    snprintf(name, sizeof(name), "lamina.%s-at-level%d", what, level);
    return prop_int(db, name);
}

/* Per-level lookup counters: runs probed, filter probes, false positives, blocks. */
struct lookup_figures {
    uint64_t runs[BA_LEVELS], probes[BA_LEVELS], fps[BA_LEVELS], blocks[BA_LEVELS];
    uint64_t lookups, total_blocks;
};

static void figures_read(lamina_db *db, struct lookup_figures *f)
{
    memset(f, 0, sizeof(*f));
    f->lookups = prop_int(db, "lamina.lookups");
    for (int l = 0; l < BA_LEVELS; l++) {
        f->runs[l] = prop_level(db, "lookup-runs", l);
        f->probes[l] = prop_level(db, "filter-probes", l);
        f->fps[l] = prop_level(db, "filter-false-positives", l);
        f->blocks[l] = prop_level(db, "lookup-blocks", l);
        f->total_blocks += f->blocks[l];
    }
}

static void figures_sub(struct lookup_figures *after, const struct lookup_figures *before)
{
    after->lookups -= before->lookups;
    after->total_blocks -= before->total_blocks;
    for (int l = 0; l < BA_LEVELS; l++) {
        after->runs[l] -= before->runs[l];
        after->probes[l] -= before->probes[l];
        after->fps[l] -= before->fps[l];
        after->blocks[l] -= before->blocks[l];
    }
}

/* Sum of the filter bytes and the smallest and largest bloom_bits of the database's tables. */
static void filter_bytes(const char *path, uint64_t *bytes, uint64_t *min_bits, uint64_t *max_bits)
{
    *bytes = 0;
    *min_bits = UINT64_MAX;
    *max_bits = 0;
    DIR *d = opendir(path);
    cr_assert_not_null(d);
    struct dirent *de;
    while ((de = readdir(d))) {
        size_t n = strlen(de->d_name);
        if (n < 5 || strcmp(de->d_name + n - 4, ".sst") != 0) continue;
        char p[600];
        snprintf(p, sizeof(p), "%s/%s", path, de->d_name);
        lamina_sst *sst = NULL;
        cr_assert_eq(lamina_sst_open(p, &sst), LAMINA_OK, "%s: %s", p, lamina_errmsg(NULL));
        lamina_sst_props props = {.struct_size = sizeof(props)};
        cr_assert_eq(lamina_sst_properties(sst, &props), LAMINA_OK);
        *bytes += props.filter_bytes;
        if (props.bloom_bits < *min_bits) *min_bits = props.bloom_bits;
        if (props.bloom_bits > *max_bits) *max_bits = props.bloom_bits;
        cr_assert_eq(props.filter_bytes == 0, props.bloom_bits == 0,
                     "a table has a filter exactly when it records its bits");
        lamina_sst_close(sst);
    }
    closedir(d);
}

struct ba_result {
    struct lookup_figures absent, absent_multi;
    uint64_t filter_bytes, min_bits, max_bits;
    int levels;
};

/* Loads the even keys of [0, 2 BA_KEYS) in a shuffled order into a fresh database at T = 4 with
 * small levels, waits for compaction, then looks up BA_ABSENT odd keys (absent, inside the
 * key range) with lamina_get and again with lamina_multi_get. */
static void ba_run(const char *alloc, struct ba_result *res)
{
    char path[400];
    snprintf(path, sizeof(path), "%s/%s", T.dir, alloc);
    lamina_options o;
    lamina_options_init(&o);
    o.create_if_missing = 1;
    o.write_buffer_size = 64 << 10;
    o.target_file_size_base = 64 << 10;
    o.max_bytes_for_level_base = 128 << 10;
    o.level0_file_num_compaction_trigger = 2;
    o.size_ratio = 4;
    o.block_size = 1024;
    o.bloom_bits = 10;
    o.compression_type = LAMINA_COMPRESSION_NONE;
    test_options_apply(&o);
    cr_assert_eq(lamina_options_set(&o, "bloom_allocation", alloc), LAMINA_OK);
    lamina_db *db = tdb_open(path, &o);

    uint64_t *order = malloc(BA_KEYS * sizeof(*order));
    cr_assert_not_null(order);
    for (uint64_t i = 0; i < BA_KEYS; i++)
        order[i] = 2 * i;
    struct rng r;
    rng_seed(&r, 4);
    for (uint64_t i = BA_KEYS - 1; i > 0; i--) {
        uint64_t j = rng_next(&r) % (i + 1), t = order[i];
        order[i] = order[j];
        order[j] = t;
    }
    /* Flushed every BA_FLUSH puts and compacted in full before going on, so that each tree
     * takes one shape whatever the threads' timing (the two differ a little: their filters
     * make their tables' sizes differ). Then all overwritten once more in
     * another order: the tree no longer deepens, and compactions rebuild its tables with the
     * bits of its final shape (a table keeps the bits it was built with until rewritten, and
     * a trivial move keeps them too). */
    char k[32], v[64];
    for (uint64_t i = 0; i < 2 * BA_KEYS; i++) {
        uint64_t key = i < BA_KEYS ? order[i] : order[(i * 7919) % BA_KEYS];
        tdb_put(db, k, tdb_key(k, key), v,
                (size_t)sprintf(v, "%c%030llu", i < BA_KEYS ? 'v' : 'w', (unsigned long long)key));
        if ((i + 1) % BA_FLUSH == 0) {
            cr_assert_eq(lamina_flush(db), LAMINA_OK);
            cr_assert_eq(lamina_wait_for_compactions(db), LAMINA_OK);
        }
    }
    free(order);
    cr_assert_eq(lamina_flush(db), LAMINA_OK);
    cr_assert_eq(lamina_wait_for_compactions(db), LAMINA_OK);
    res->levels = (int)prop_int(db, "lamina.num-levels");

    struct lookup_figures before;
    figures_read(db, &before);
    for (uint64_t i = 0; i < BA_ABSENT; i++) {
        size_t kl = tdb_key(k, 2 * (i * (BA_KEYS / BA_ABSENT)) + 1);
        void *val = NULL;
        size_t vl;
        cr_assert_eq(lamina_get(db, NULL, k, kl, &val, &vl), LAMINA_NOTFOUND);
    }
    figures_read(db, &res->absent);
    figures_sub(&res->absent, &before);

    /* The same keys through lamina_multi_get, 100 at a time. */
    figures_read(db, &before);
    enum { BATCH = 100 };
    char keys[BATCH][32];
    const void *kp[BATCH];
    size_t kl[BATCH], vl[BATCH];
    void *vals[BATCH];
    int st[BATCH];
    for (uint64_t i = 0; i < BA_ABSENT; i += BATCH) {
        for (int j = 0; j < BATCH; j++) {
            kl[j] = tdb_key(keys[j], 2 * ((i + (uint64_t)j) * (BA_KEYS / BA_ABSENT)) + 1);
            kp[j] = keys[j];
        }
        cr_assert_eq(lamina_multi_get(db, NULL, BATCH, kp, kl, vals, vl, st), LAMINA_OK);
        for (int j = 0; j < BATCH; j++)
            cr_assert_eq(st[j], LAMINA_NOTFOUND);
    }
    figures_read(db, &res->absent_multi);
    figures_sub(&res->absent_multi, &before);

    char *text = NULL;
    cr_assert_eq(lamina_property(db, "lamina.lookup-stats", &text), LAMINA_OK);
    cr_log_info("%s, %d levels, stall %llu us:\n%s", alloc, res->levels,
                (unsigned long long)prop_int(db, "lamina.stall-micros"), text);
    lamina_free(text);
    cr_assert_eq(lamina_close(db), LAMINA_OK);
    filter_bytes(path, &res->filter_bytes, &res->min_bits, &res->max_bits);
}

static void check_counters(const struct lookup_figures *f, const char *what)
{
    cr_assert_eq(f->lookups, BA_ABSENT, "%s: every absent key searched the tables", what);
    for (int l = 0; l < BA_LEVELS; l++) {
        /* An absent key: every block a filter let through is a false positive (a block is read
         * only after a probe said maybe; the index may rule the key out without a block). */
        cr_assert_leq(f->blocks[l], f->fps[l], "%s level %d", what, l);
        cr_assert_leq(f->fps[l], f->probes[l], "%s level %d", what, l);
        cr_assert_leq(f->probes[l], f->runs[l] + f->runs[l] / 10, "%s level %d", what, l);
    }
}

Test(bloom_allocation, monkey_reads_fewer_blocks_for_absent_keys_at_the_same_filter_memory)
{
    struct ba_result u, m;
    ba_run("uniform", &u);
    ba_run("monkey", &m);
    cr_log_info("uniform: %d levels, %llu blocks, filter %llu bytes, bits %llu..%llu", u.levels,
                (unsigned long long)u.absent.total_blocks, (unsigned long long)u.filter_bytes,
                (unsigned long long)u.min_bits, (unsigned long long)u.max_bits);
    cr_log_info("monkey: %d levels, %llu blocks, filter %llu bytes, bits %llu..%llu", m.levels,
                (unsigned long long)m.absent.total_blocks, (unsigned long long)m.filter_bytes,
                (unsigned long long)m.min_bits, (unsigned long long)m.max_bits);
    /* Levels 0..4 at least: level 0 and four levels below it. */
    cr_assert_geq(u.levels, 5, "uniform tree of %d levels", u.levels);
    cr_assert_geq(m.levels, 5, "monkey tree of %d levels", m.levels);
    check_counters(&u.absent, "uniform get");
    check_counters(&m.absent, "monkey get");
    check_counters(&u.absent_multi, "uniform multi_get");
    check_counters(&m.absent_multi, "monkey multi_get");
    /* multi_get walks the same tables with the same filters as get. */
    for (int l = 0; l < BA_LEVELS; l++) {
        cr_assert_eq(u.absent_multi.blocks[l], u.absent.blocks[l], "level %d", l);
        cr_assert_eq(m.absent_multi.fps[l], m.absent.fps[l], "level %d", l);
        cr_assert_eq(m.absent_multi.runs[l], m.absent.runs[l], "level %d", l);
    }
    /* Uniform: every table at bloom_bits. Monkey: more above, fewer at the bottom. */
    cr_assert_eq(u.min_bits, 10);
    cr_assert_eq(u.max_bits, 10);
    cr_assert_lt(m.min_bits, 10);
    cr_assert_gt(m.max_bits, 10);
    /* Each job spends the uniform total over the tree as it will be; tables built for an
     * earlier shape keep their bits, so monkey ends a little under uniform (0.955 on this
     * tree), never over: its fewer blocks are not bought with more memory. */
    double ratio = (double)m.filter_bytes / (double)u.filter_bytes;
    cr_assert(ratio > 0.93 && ratio < 1.02, "monkey's filters are %.3f of uniform's", ratio);
    cr_assert_lt(m.absent.total_blocks, u.absent.total_blocks);
    cr_assert_lt(m.absent_multi.total_blocks, u.absent_multi.total_blocks);
}

/* One table, keys present and absent: the counters of each path. */
Test(bloom_allocation, lookup_counters_count_runs_probes_and_blocks_per_level)
{
    lamina_options o = tdb_small_options();
    lamina_db *db = tdb_open(T.path, &o);
    char k[32], v[64];
    for (uint64_t i = 0; i < 1000; i += 2)
        tdb_put(db, k, tdb_key(k, i), v, tdb_value(v, i, 0));
    cr_assert_eq(lamina_flush(db), LAMINA_OK);
    cr_assert_eq(lamina_wait_for_compactions(db), LAMINA_OK);
    cr_assert_eq(prop_int(db, "lamina.total-runs"), 1);
    int level = (int)prop_int(db, "lamina.num-levels") - 1;
    struct lookup_figures before, after;
    figures_read(db, &before);
    void *val = NULL;
    size_t vl;
    cr_assert_eq(lamina_get(db, NULL, k, tdb_key(k, 10), &val, &vl), LAMINA_OK);
    lamina_free(val);
    figures_read(db, &after);
    figures_sub(&after, &before);
    cr_assert_eq(after.lookups, 1);
    cr_assert_eq(after.runs[level], 1);
    cr_assert_eq(after.probes[level], 1);
    cr_assert_eq(after.fps[level], 0);
    cr_assert_eq(after.blocks[level], 1);
    cr_assert_eq(after.total_blocks, 1);

    /* 499 absent keys inside the table's range: one run and one probe each; blocks only for
     * false positives. (999 lies past the last key: no table's range holds it.) */
    cr_assert_eq(prop_level(db, "num-files", level), 1, "one table");
    figures_read(db, &before);
    for (uint64_t i = 1; i < 1000; i += 2)
        cr_assert_eq(lamina_get(db, NULL, k, tdb_key(k, i), &val, &vl), LAMINA_NOTFOUND);
    figures_read(db, &after);
    figures_sub(&after, &before);
    cr_assert_eq(after.lookups, 500);
    cr_assert_eq(after.runs[level], 499);
    cr_assert_eq(after.probes[level], 499);
    cr_assert_eq(after.blocks[level], after.fps[level]);
    cr_assert_lt(after.fps[level], 499 / 20, "about 1%% false positives at 10 bits per key");

    char *text = NULL;
    cr_assert_eq(lamina_property(db, "lamina.lookup-stats", &text), LAMINA_OK);
    cr_assert_not_null(strstr(text, "lookups 501"), "%s", text);
    lamina_free(text);
    uint64_t x;
    cr_assert_eq(lamina_property_int(db, "lamina.lookup-blocks-at-level99", &x), LAMINA_EINVAL);
    cr_assert_eq(lamina_property_int(db, "lamina.lookup-nonsense", &x), LAMINA_EINVAL);
    cr_assert_eq(lamina_close(db), LAMINA_OK);
}
