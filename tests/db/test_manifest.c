/* test_manifest.c — the MANIFEST's life: it is rolled to a fresh snapshot when it outgrows
 * max_manifest_file_size (by background edits only, never by a WAL record on the writer's
 * path), the snapshot still names the live WALs, and replaying thousands of records (tables
 * added, deleted, moved) gives the version a model predicts, with errors naming file and
 * offset. */
#include <dirent.h>
#include <inttypes.h>
#include <sys/stat.h>
#include <unistd.h>

#include "engine/log.h"
#include "engine/manifest.h"
#include "engine/version_edit.h"
#include "helpers.h"
#include "util/err.h"
#include "util/file.h"
#include "util/ikey.h"

TestSuite(manifest, .init = tdb_setup, .fini = tdb_teardown);

/* Name of the only MANIFEST in dir (fails the test when there are several or none). */
static void manifest_name(const char *dir, char *out, size_t cap)
{
    DIR *d = opendir(dir);
    cr_assert_not_null(d, "%s", dir);
    struct dirent *de;
    int n = 0;
    while ((de = readdir(d)))
        if (strncmp(de->d_name, "MANIFEST-", 9) == 0) {
            snprintf(out, cap, "%s", de->d_name);
            n++;
        }
    closedir(d);
    cr_assert_eq(n, 1, "%d MANIFESTs in %s", n, dir);
}

/* Keys long enough that every table's entry in the MANIFEST takes kilobytes. */
static size_t big_key(char *buf, int i)
{
    int n = sprintf(buf, "key%06d-", i);
    memset(buf + n, 'x', 1500);
    return (size_t)n + 1500;
}

Test(manifest, rolls_at_max_manifest_file_size_and_reopen_sees_every_key, .timeout = 120)
{
    static char k[2048];
    char v[32], first[64], now[64];
    lamina_options o = tdb_small_options();
    o.max_manifest_file_size = 64 << 10; /* its minimum */
    /* Only flushes log edits, so a roll happens in the flush edit right after the switch that
     * created the WAL the tail writes go to: the roll's snapshot must name it. */
    o.compaction_policy = LAMINA_COMPACTION_NONE;
    lamina_db *db = tdb_open(T.path, &o);
    manifest_name(T.path, first, sizeof(first));
    int n = 0, rolls = 0;
    char last[256];
    snprintf(last, sizeof(last), "%s", first);
    for (int r = 0; r < 600 && rolls < 3; r++) {
        for (int j = 0; j < 4; j++, n++) {
            size_t kl = big_key(k, n), vl = (size_t)sprintf(v, "v%d", n);
            tdb_put(db, k, kl, v, vl);
        }
        cr_assert_eq(lamina_flush(db), LAMINA_OK);
        manifest_name(T.path, now, sizeof(now)); /* exactly one: the old one is gone */
        if (strcmp(now, last) != 0) {
            rolls++;
            snprintf(last, sizeof(last), "%s", now);
        }
    }
    cr_assert_geq(rolls, 3, "the MANIFEST rolled %d times over %d flushes", rolls, n / 4);
    char p[600];
    snprintf(p, sizeof(p), "%s/%s", T.path, first);
    cr_assert_neq(access(p, F_OK), 0, "the first MANIFEST is gone");
    /* Unflushed writes go to the WAL the last roll's snapshot had to name. */
    for (int j = 0; j < 50; j++) {
        sprintf(v, "tail%d", j);
        tdb_put(db, v, strlen(v), "t", 1);
    }
    cr_assert_eq(lamina_close(db), LAMINA_OK);

    db = tdb_open(T.path, &o);
    for (int i = 0; i < n; i++) {
        size_t kl = big_key(k, i), vl = (size_t)sprintf(v, "v%d", i);
        tdb_expect(db, NULL, k, kl, v, vl);
    }
    for (int j = 0; j < 50; j++) {
        sprintf(v, "tail%d", j);
        tdb_expect(db, NULL, v, strlen(v), "t", 1);
    }
    cr_assert_eq(lamina_close(db), LAMINA_OK);
}

/* ---- The version set by itself ---------------------------------------------------------- */

static void vs_open_new(struct version_set *vs)
{
    cr_assert_eq(mkdir(T.path, 0755), 0);
    version_set_init(vs, T.path, NULL, 7);
    cr_assert_eq(version_set_create_empty(vs), 0);
    cr_assert_eq(version_set_new_manifest(vs, 0), 0, "%s", err_message());
}

static void edit_add(struct version_edit *e, int level, uint64_t number, uint64_t run)
{
    uint8_t lo[32], hi[32];
    int n = sprintf((char *)lo, "k%08" PRIu64 "a", number);
    sprintf((char *)hi, "k%08" PRIu64 "z", number);
    coding_put_fixed64(lo + n, (number << 8) | IKEY_VALUE);
    coding_put_fixed64(hi + n, (number << 8) | IKEY_VALUE);
    struct edit_file f = {
        .level = level,
        .run = run,
        .file_number = number,
        .file_size = number * 10 + 1,
        .entries = number,
        .smallest = lo,
        .smallest_len = (size_t)n + 8,
        .largest = hi,
        .largest_len = (size_t)n + 8,
        .smallest_seq = number,
        .largest_seq = number,
    };
    cr_assert_eq(version_edit_add_file(e, &f), 0);
}

Test(manifest, wal_records_never_roll_but_a_background_edit_does)
{
    struct version_set vs;
    vs_open_new(&vs);
    vs.max_manifest_size = 1024; /* below the option's minimum, to keep the test small */
    uint64_t m0 = vs.manifest_number;
    pthread_mutex_lock(&vs.manifest_mu);
    for (uint64_t w = 10; w < 110; w++)
        cr_assert_eq(version_set_log_wal(&vs, w, 0), 0);
    pthread_mutex_unlock(&vs.manifest_mu);
    cr_assert_eq(vs.manifest_number, m0, "a WAL record never rolls the MANIFEST");
    cr_assert_gt(wfile_size(vs.manifest_file), 1024u);

    /* A flush's edit: WALs below 100 are obsolete (and their files are gone). */
    struct version_edit e;
    version_edit_init(&e);
    e.has_log_number = 1;
    e.log_number = 100;
    edit_add(&e, 0, 500, 1);
    version_set_mark_file_used(&vs, 500);
    pthread_mutex_lock(&vs.manifest_mu);
    cr_assert_eq(version_set_log_edit(&vs, &e, 42), 0, "%s", err_message());
    pthread_mutex_unlock(&vs.manifest_mu);
    version_edit_free(&e);
    cr_assert_neq(vs.manifest_number, m0, "the background edit rolled it");
    char name[256], want[300];
    manifest_name(T.path, name, sizeof(name));
    snprintf(want, sizeof(want), "MANIFEST-%06" PRIu64, vs.manifest_number);
    cr_assert_str_eq(name, want, "CURRENT's MANIFEST is the only one");
    version_set_close(&vs);

    /* The snapshot holds the edit's table and the live WALs (100..109). */
    version_set_init(&vs, T.path, NULL, 7);
    uint64_t seq;
    cr_assert_eq(version_set_recover(&vs, &seq), 0, "%s", err_message());
    cr_assert_eq(seq, 42);
    cr_assert_eq(vs.log_number, 100);
    cr_assert(vs.wals_tracked);
    cr_assert_eq(vs.nwals, 10, "%zu WALs recorded", vs.nwals);
    for (size_t i = 0; i < vs.nwals; i++)
        cr_assert_eq(vs.wals[i], 100 + i);
    cr_assert_eq(vs.current->levels[0].nfiles, 1);
    cr_assert_eq(vs.current->levels[0].runs[0].files[0]->number, 500);
    cr_assert_gt(atomic_load(&vs.next_file), 500);
    version_set_close(&vs);
}

/* A MANIFEST written record by record, and what replaying it must give. */
struct model {
    int level[8192]; /* -1: not live */
    uint64_t run[8192];
    uint64_t next;
};

static uint64_t model_pick_live(const struct model *m, rng *r)
{
    for (int tries = 0; tries < 64; tries++) {
        uint64_t x = 2 + rng_uniform(r, m->next - 2);
        if (m->level[x] >= 0) return x;
    }
    return 0;
}

Test(manifest, replay_of_thousands_of_records_matches_a_model)
{
    static struct model m;
    struct version_set vs;
    char mpath[600];
    rng r;
    rng_seed(&r, 7);
    for (size_t i = 0; i < 8192; i++)
        m.level[i] = -1;
    m.next = 2;
    cr_assert_eq(mkdir(T.path, 0755), 0);
    snprintf(mpath, sizeof(mpath), "%s/MANIFEST-000001", T.path);
    wfile *f;
    cr_assert_eq(wfile_create(mpath, &f), 0);
    log_writer *w = log_writer_create(f, 0);
    uint64_t run = 1, log_number = 1, wals = 0, seq = 0;
    const int records = 6000;
    for (int i = 0; i < records; i++) {
        struct version_edit e;
        version_edit_init(&e);
        if (i == 0) e.wals_tracked = 1;
        uint64_t op = rng_uniform(&r, 10), x;
        if (op < 4 && m.next < 8000) { /* a flush: new tables in a new level-0 run */
            for (uint64_t k = 0, n = 1 + rng_uniform(&r, 3); k < n; k++) {
                m.level[m.next] = 0;
                m.run[m.next] = run;
                edit_add(&e, 0, m.next++, run);
            }
            run++;
        } else if (op < 6) { /* a compaction: some tables out, some in at a deeper level */
            int out = 1 + (int)rng_uniform(&r, 5);
            for (uint64_t k = 0, n = 1 + rng_uniform(&r, 4); k < n; k++)
                if ((x = model_pick_live(&m, &r))) {
                    cr_assert_eq(version_edit_delete_file(&e, m.level[x], x), 0);
                    m.level[x] = -1;
                }
            for (uint64_t k = 0, n = rng_uniform(&r, 3); k < n && m.next < 8000; k++) {
                m.level[m.next] = out;
                m.run[m.next] = run;
                edit_add(&e, out, m.next++, run);
            }
            run++;
        } else if (op < 8) { /* a trivial move: the same number deleted and added */
            if ((x = model_pick_live(&m, &r)) && m.level[x] < 6) {
                cr_assert_eq(version_edit_delete_file(&e, m.level[x], x), 0);
                m.level[x]++;
                m.run[x] = run++;
                edit_add(&e, m.level[x], x, m.run[x]);
            }
        } else if (op < 9) { /* a memtable switch */
            cr_assert_eq(version_edit_add_wal(&e, m.next++), 0);
            wals++;
        } else { /* a flush raising the log number; one table deleted twice is harmless */
            e.has_log_number = 1;
            e.log_number = log_number = m.next - 1;
            if ((x = model_pick_live(&m, &r))) {
                cr_assert_eq(version_edit_delete_file(&e, m.level[x], x), 0);
                cr_assert_eq(version_edit_delete_file(&e, m.level[x], x), 0);
                m.level[x] = -1;
            }
        }
        if (i == 0) {
            e.has_log_number = 1;
            e.log_number = log_number;
        }
        e.has_next_file = 1;
        e.next_file_number = m.next;
        e.has_last_seq = 1;
        e.last_sequence = ++seq;
        e.has_next_run = 1;
        e.next_run = run;
        buf rec = {0};
        cr_assert_eq(version_edit_encode(&e, &rec), 0);
        cr_assert_eq(log_writer_add(w, rec.data, rec.len, 0), 0);
        buf_free(&rec);
        version_edit_free(&e);
    }
    log_writer_destroy(w);
    cr_assert_eq(wfile_close(f), 0);
    char cur[600];
    snprintf(cur, sizeof(cur), "%s/CURRENT", T.path);
    cr_assert_eq(file_write_all(cur, "MANIFEST-000001\n", 16, 1), 0);

    version_set_init(&vs, T.path, NULL, 7);
    uint64_t last_seq;
    cr_assert_eq(version_set_recover(&vs, &last_seq), 0, "%s", err_message());
    cr_assert_eq(last_seq, seq);
    cr_assert_eq(vs.log_number, log_number);
    cr_assert_eq(vs.nwals, wals);
    cr_assert_geq(atomic_load(&vs.next_file), m.next);
    cr_assert_geq(vs.next_run, run);
    size_t live = 0, found = 0;
    for (uint64_t x = 2; x < m.next; x++)
        live += m.level[x] >= 0;
    cr_assert_gt(live, 100u, "the model keeps a sizeable version");
    const struct version *v = vs.current;
    for (int l = 0; l < v->num_levels; l++)
        for (size_t ri = 0; ri < v->levels[l].nruns; ri++)
            for (size_t fi = 0; fi < v->levels[l].runs[ri].nfiles; fi++) {
                const struct file_meta *fm = v->levels[l].runs[ri].files[fi];
                cr_assert_lt(fm->number, m.next);
                cr_assert_eq(m.level[fm->number], l, "table %" PRIu64 " at level %d, model %d",
                             fm->number, l, m.level[fm->number]);
                cr_assert_eq(fm->run, m.run[fm->number]);
                cr_assert_eq(fm->size, fm->number * 10 + 1);
                found++;
            }
    cr_assert_eq(found, live, "%zu tables replayed, %zu live in the model", found, live);
    version_set_close(&vs);
}

Test(manifest, replay_error_names_the_manifest_and_the_record_offset)
{
    char mpath[600], cur[600];
    cr_assert_eq(mkdir(T.path, 0755), 0);
    snprintf(mpath, sizeof(mpath), "%s/MANIFEST-000003", T.path);
    wfile *f;
    cr_assert_eq(wfile_create(mpath, &f), 0);
    log_writer *w = log_writer_create(f, 0);
    uint64_t bad_offset = 0;
    for (int i = 0; i < 3; i++) {
        struct version_edit e;
        version_edit_init(&e);
        e.has_log_number = e.has_next_file = 1;
        e.log_number = 1;
        e.next_file_number = 100;
        edit_add(&e, i == 2 ? 9 : 0, 10 + (uint64_t)i, 1);
        buf rec = {0};
        cr_assert_eq(version_edit_encode(&e, &rec), 0);
        if (i == 2) bad_offset = wfile_size(f);
        cr_assert_eq(log_writer_add(w, rec.data, rec.len, 0), 0);
        buf_free(&rec);
        version_edit_free(&e);
    }
    log_writer_destroy(w);
    cr_assert_eq(wfile_close(f), 0);
    snprintf(cur, sizeof(cur), "%s/CURRENT", T.path);
    cr_assert_eq(file_write_all(cur, "MANIFEST-000003\n", 16, 1), 0);
    struct version_set vs;
    version_set_init(&vs, T.path, NULL, 7);
    uint64_t seq;
    cr_assert_eq(version_set_recover(&vs, &seq), LAMINA_EINVAL);
    char want[700];
    snprintf(want, sizeof(want), "%s: record at offset %" PRIu64 ": table 000012 is at level 9",
             mpath, bad_offset);
    cr_assert_not_null(strstr(err_message(), want), "%s", err_message());
    version_set_close(&vs);
}
