/* helpers.c — fixtures of the sst tests (see helpers.h): temporary directories, the reference
 * model of a table's entries, and writing a model out as a table. */
#include <criterion/criterion.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "helpers.h"
#include "tdir.h"
#include "util/err.h"
#include "util/file.h"
#include "util/rng.h"

char *tmpdir_create(void)
{
    char dir[64];
    tdir_make(dir, sizeof(dir), "sst");
    return strdup(dir);
}

void tmpdir_remove(char *dir)
{
    tdir_remove(dir);
    free(dir);
}

char *path_join(const char *dir, const char *name)
{
    static _Thread_local char p[4096];
    snprintf(p, sizeof(p), "%s/%s", dir, name);
    return p;
}

/* Key i: a shared prefix per thousand, a NUL byte in every seventh key, a length that
 * varies. Ordered like i because the fixed-width decimal part decides first. */
size_t model_user_key(char *dst, size_t i)
{
    size_t n = (size_t)sprintf(dst, "user/%04zu/%08zu", i / 1000, i * 2);
    if (i % 7 == 0) dst[n++] = '\0';
    for (size_t j = 0; j < i % 5; j++)
        dst[n++] = (char)('a' + j);
    return n;
}

/* Absent keys sort between present ones (odd numbers) or outside the range. */
size_t model_absent_key(char *dst, size_t i)
{
    if (i % 10 == 9) return (size_t)sprintf(dst, "zzz/%08zu", i);
    if (i % 10 == 8) return (size_t)sprintf(dst, "a/%08zu", i);
    return (size_t)sprintf(dst, "user/%04zu/%08zu", i / 1000, i * 2 + 1);
}

static int model_cmp(const void *a, const void *b)
{
    const struct model_entry *x = a, *y = b;
    return ikey_cmp(x->ikey, x->ilen, y->ikey, y->ilen);
}

void model_build(struct model *m, size_t n, uint64_t seed)
{
    rng r;
    rng_seed(&r, seed);
    m->e = calloc(n + 3, sizeof(*m->e));
    cr_assert_not_null(m->e);
    m->n = 0;
    m->max_seq = 0;
    for (size_t i = 0; m->n < n; i++) {
        char uk[64];
        size_t ulen = model_user_key(uk, i);
        int versions = 1 + (int)(i % 3);
        uint64_t seqs[3];
        for (int v = 0; v < versions; v++) {
        again:
            seqs[v] = 1 + rng_uniform(&r, 1000000);
            for (int w = 0; w < v; w++)
                if (seqs[w] == seqs[v]) goto again;
        }
        for (int v = 0; v < versions && m->n < n + 3; v++) {
            struct model_entry *e = &m->e[m->n++];
            int type = rng_uniform(&r, 6) == 0 ? IKEY_DELETION : IKEY_VALUE;
            e->ilen = ulen + IKEY_TRAILER;
            e->ikey = malloc(e->ilen);
            ikey_encode(e->ikey, uk, ulen, seqs[v], type);
            if (seqs[v] > m->max_seq) m->max_seq = seqs[v];
            if (type == IKEY_VALUE) {
                e->vlen = rng_uniform(&r, 8) == 0 ? 0 : 1 + rng_uniform(&r, 60);
                e->val = malloc(e->vlen + 1);
                for (size_t j = 0; j < e->vlen; j++)
                    e->val[j] = (uint8_t)rng_next(&r);
            }
        }
    }
    qsort(m->e, m->n, sizeof(*m->e), model_cmp);
}

void model_free(struct model *m)
{
    for (size_t i = 0; i < m->n; i++) {
        free(m->e[i].ikey);
        free(m->e[i].val);
    }
    free(m->e);
    m->e = NULL;
    m->n = 0;
}

size_t model_lower_bound(const struct model *m, const uint8_t *key, size_t len)
{
    size_t lo = 0, hi = m->n;
    while (lo < hi) {
        size_t mid = lo + (hi - lo) / 2;
        if (ikey_cmp(m->e[mid].ikey, m->e[mid].ilen, key, len) < 0)
            lo = mid + 1;
        else
            hi = mid;
    }
    return lo;
}

void model_write_table(const struct model *m, const char *path, uint64_t file_number,
                       const struct table_options *o, struct table_meta *meta)
{
    wfile *f;
    cr_assert_eq(wfile_create(path, &f), 0, "%s", path);
    table_builder *b = table_builder_create(f, file_number, o);
    cr_assert_not_null(b);
    for (size_t i = 0; i < m->n; i++)
        cr_assert_eq(table_builder_add(b, m->e[i].ikey, m->e[i].ilen, m->e[i].val, m->e[i].vlen),
                     0);
    cr_assert_eq(table_builder_entries(b), m->n);
    cr_assert_eq(table_builder_finish(b, meta), 0, "%s", err_message());
    table_builder_destroy(b);
    cr_assert_eq(wfile_close(f), 0);
}

uint8_t *file_slurp(const char *path, size_t *len)
{
    uint8_t *p;
    cr_assert_eq(file_read_all(path, &p, len), 0, "%s", path);
    return p;
}

void file_spit(const char *path, const uint8_t *p, size_t len)
{
    cr_assert_eq(file_write_all(path, p, len, 0), 0, "%s", path);
}

void file_copy(const char *from, const char *to)
{
    size_t len;
    uint8_t *p = file_slurp(from, &len);
    file_spit(to, p, len);
    free(p);
}

void index_file_open(struct index_file *x, const char *path, uint64_t number)
{
    size_t len;
    uint8_t *p = file_slurp(path, &len);
    cr_assert_geq(len, TABLE_FOOTER_SIZE);
    cr_assert_eq(table_footer_decode(p + len - TABLE_FOOTER_SIZE, path, &x->ft), 0);
    free(p);
    cr_assert_eq(rfile_open(path, &x->f), 0);
    x->src = (struct block_source){x->f, path, number, len - TABLE_FOOTER_SIZE};
    cr_assert_eq(index_open(&x->r, &x->src, NULL, &x->ft, 0), 0, "%s", err_message());
}

void index_file_close(struct index_file *x)
{
    index_close(&x->r);
    rfile_close(x->f);
}
