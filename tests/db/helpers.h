/* helpers.h — shared fixtures of the db suite: a temporary database directory, small-buffer
 * options, key formatting and whole-database checks through the public API. */
#ifndef TESTS_DB_HELPERS_H
#define TESTS_DB_HELPERS_H

#include <criterion/criterion.h>
#include <dirent.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "fixture.h"
#include "lamina.h"
#include "tdir.h"
#include "util/rng.h"

/* mkdtemp directory for one test; the database goes in <dir>/db. */
struct tdb {
    char dir[256];
    char path[300];
};

static inline void tdb_init(struct tdb *t)
{
    tdir_make(t->dir, sizeof(t->dir), "db");
    snprintf(t->path, sizeof(t->path), "%s/db", t->dir);
}

static inline void tdb_cleanup(struct tdb *t)
{
    tdir_remove(t->dir);
}

/* The directory of the running test: each suite is TestSuite(name, .init = tdb_setup,
 * .fini = tdb_teardown) and opens T.path. */
static struct tdb T;
static inline void tdb_setup(void)
{
    tdb_init(&T);
}
static inline void tdb_teardown(void)
{
    tdb_cleanup(&T);
}

static inline lamina_db *tdb_open(const char *path, const lamina_options *o)
{
    lamina_db *db = NULL;
    int rc = lamina_open(path, o, &db);
    cr_assert_eq(rc, LAMINA_OK, "open: %s: %s", lamina_strerror(rc), lamina_errmsg(NULL));
    return db;
}

static inline void tdb_put(lamina_db *db, const void *k, size_t kl, const void *v, size_t vl)
{
    int rc = lamina_put(db, NULL, k, kl, v, vl);
    cr_assert_eq(rc, LAMINA_OK, "put: %s: %s", lamina_strerror(rc), lamina_errmsg(db));
}

/* Asserts that key maps to exactly value (vl bytes), or is absent when value is NULL. */
static inline void tdb_expect(lamina_db *db, const lamina_read_options *ro, const void *k,
                              size_t kl, const void *value, size_t vl)
{
    void *got = NULL;
    size_t gl = 0;
    int rc = lamina_get(db, ro, k, kl, &got, &gl);
    if (!value) {
        cr_assert_eq(rc, LAMINA_NOTFOUND, "expected NOTFOUND for %.*s, got %s (%s)", (int)kl,
                     (const char *)k, lamina_strerror(rc), lamina_errmsg(db));
        cr_assert_null(got);
        return;
    }
    cr_assert_eq(rc, LAMINA_OK, "get %.*s: %s: %s", (int)kl, (const char *)k, lamina_strerror(rc),
                 lamina_errmsg(db));
    cr_assert_eq(gl, vl, "length of %.*s: %zu != %zu", (int)kl, (const char *)k, gl, vl);
    cr_assert_eq(memcmp(got, value, vl), 0, "value of %.*s differs", (int)kl, (const char *)k);
    cr_assert_eq(((char *)got)[gl], 0, "value not NUL-terminated");
    lamina_free(got);
}

/* One random write of a model test: key i = rng_uniform(r, nkeys) is deleted one time in
 * del_one_in (model[i] = -1), else put with generation op (model[i] = op). */
static inline void tdb_random_write(lamina_db *db, rng *r, int *model, int nkeys,
                                    uint64_t del_one_in, int op)
{
    char k[32], v[96];
    int i = (int)rng_uniform(r, (uint64_t)nkeys);
    size_t kl = tdb_key(k, (uint64_t)i);
    if (rng_uniform(r, del_one_in) == 0) {
        cr_assert_eq(lamina_delete(db, NULL, k, kl), LAMINA_OK);
        model[i] = -1;
    } else {
        size_t vl = tdb_value(v, (uint64_t)i, (uint64_t)op);
        tdb_put(db, k, kl, v, vl);
        model[i] = op;
    }
}

static inline uint64_t tdb_prop(lamina_db *db, const char *name)
{
    uint64_t v = 0;
    int rc = lamina_property_int(db, name, &v);
    cr_assert_eq(rc, LAMINA_OK, "property %s: %s", name, lamina_errmsg(db));
    return v;
}

/* Number of keys a full forward scan sees. */
static inline size_t tdb_count(lamina_db *db, const lamina_read_options *ro)
{
    lamina_iter *it;
    cr_assert_eq(lamina_iter_create(db, ro, &it), LAMINA_OK);
    size_t n = 0;
    for (lamina_iter_seek_to_first(it); lamina_iter_valid(it); lamina_iter_next(it))
        n++;
    cr_assert_eq(lamina_iter_status(it), LAMINA_OK, "scan: %s", lamina_errmsg(db));
    lamina_iter_destroy(it);
    return n;
}

/* Puts keys from..to-1 (tdb_key) with generation gen's values (tdb_value); wo may be NULL. */
static inline void tdb_put_range(lamina_db *db, const lamina_write_options *wo, int from, int to,
                                 int gen)
{
    char k[32], v[96];
    for (int i = from; i < to; i++) {
        size_t kl = tdb_key(k, (uint64_t)i), vl = tdb_value(v, (uint64_t)i, (uint64_t)gen);
        int rc = lamina_put(db, wo, k, kl, v, vl);
        cr_assert_eq(rc, LAMINA_OK, "put: %s: %s", lamina_strerror(rc), lamina_errmsg(db));
    }
}

/* Asserts keys from..to-1 hold generation gen's values, or are absent when gen < 0. */
static inline void tdb_expect_range(lamina_db *db, int from, int to, int gen)
{
    char k[32], v[96];
    for (int i = from; i < to; i++) {
        size_t kl = tdb_key(k, (uint64_t)i), vl = tdb_value(v, (uint64_t)i, (uint64_t)gen);
        tdb_expect(db, NULL, k, kl, gen < 0 ? NULL : v, vl);
    }
}

/* XORs the byte at off of the file at path with mask (damage for recovery tests). */
static inline void tdb_flip(const char *path, long off, int mask)
{
    FILE *f = fopen(path, "r+b");
    cr_assert_not_null(f, "%s", path);
    cr_assert_eq(fseek(f, off, SEEK_SET), 0);
    int c = fgetc(f);
    cr_assert_neq(c, EOF, "%s is shorter than %ld", path, off);
    cr_assert_eq(fseek(f, off, SEEK_SET), 0);
    fputc(c ^ mask, f);
    fclose(f);
}

/* Path of the file in the database directory dir whose name ends with (or, with prefix,
 * starts with) pattern, the largest name winning; "" when there is none. */
static inline void tdb_find_file(const char *dir, const char *pattern, int prefix, char *out,
                                 size_t cap)
{
    DIR *d = opendir(dir);
    cr_assert_not_null(d, "%s", dir);
    char best[256] = "";
    size_t m = strlen(pattern);
    for (struct dirent *e; (e = readdir(d));) {
        size_t n = strlen(e->d_name);
        int match = prefix ? strncmp(e->d_name, pattern, m) == 0
                           : n > m && strcmp(e->d_name + n - m, pattern) == 0;
        if (match && strcmp(e->d_name, best) > 0) snprintf(best, sizeof(best), "%s", e->d_name);
    }
    closedir(d);
    if (best[0])
        snprintf(out, cap, "%s/%s", dir, best);
    else
        out[0] = 0;
}

#endif
