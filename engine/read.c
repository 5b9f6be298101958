/* read.c — point lookups: the active memtable, the immutable memtables newest first, then the
 * pinned version's sorted runs newest first; the first entry found decides (LevelDB's
 * DBImpl::Get over a pinned super version, as in RocksDB). */
#include <pthread.h>
#include <stdlib.h>
#include <string.h>

#include "engine/db_impl.h"
#include "engine/options.h"
#include "util/alloc.h"
#include "util/err.h"
#include "util/ikey.h"

/* The lookup key: small keys on the stack, larger ones in a per-thread buffer. */
#define READ_STACK_KEY 256

static pthread_key_t read_tls_key;
static pthread_once_t read_tls_once = PTHREAD_ONCE_INIT;

static void read_tls_free(void *p)
{
    buf *b = p;
    buf_free(&b[0]);
    buf_free(&b[1]);
    mem_free(b);
}

static void read_tls_init(void)
{
    (void)pthread_key_create(&read_tls_key, read_tls_free);
}

/* Per-thread buffers: [0] for values that lamina_get_into copies out, [1] for long lookup
 * keys. */
static buf *read_tls_buf(int slot)
{
    pthread_once(&read_tls_once, read_tls_init);
    buf *b = pthread_getspecific(read_tls_key);
    if (!b) {
        b = mem_calloc(2, sizeof(*b));
        if (!b) return NULL;
        if (pthread_setspecific(read_tls_key, b)) {
            mem_free(b);
            return NULL;
        }
    }
    return &b[slot];
}

/* After a read: a buffer that a large value made grow past DB_THREAD_BUFFER_KEEP is given
 * back, so a thread does not keep the largest value it ever read. */
static void read_tls_trim(buf *b)
{
    if (b->cap > DB_THREAD_BUFFER_KEEP) buf_free(b);
}

size_t db_read_buffer_bytes(void)
{
    pthread_once(&read_tls_once, read_tls_init);
    const buf *b = pthread_getspecific(read_tls_key);
    return b ? b[0].cap + b[1].cap : 0;
}

/* Finds key as of the read's snapshot; the value goes to *out (appended after clearing).
 * ro is the engine's copy (options_read_copy). Returns 0, LAMINA_NOTFOUND or an error. */
static int read_get(lamina_db *db, const lamina_read_options *ro, const void *key, size_t klen,
                    buf *out)
{
    uint8_t stack_key[READ_STACK_KEY];
    uint8_t *lookup = stack_key;
    if (klen + IKEY_TRAILER > sizeof(stack_key)) {
        buf *kb = read_tls_buf(1);
        if (!kb) return err_set(LAMINA_ENOMEM, "lamina_get: out of memory");
        buf_clear(kb);
        if (buf_reserve(kb, klen + IKEY_TRAILER))
            return err_set(LAMINA_ENOMEM, "lamina_get: out of memory");
        lookup = kb->data;
    }
    uint64_t seq;
    struct super_version *sv = db_sv_get(db, &seq);
    if (ro->snapshot) seq = ro->snapshot->seq;
    int type = IKEY_DELETION, rc;
    const uint8_t *v;
    size_t vlen;
    buf_clear(out);
    rc = memtable_get(sv->mem, key, klen, seq, &type, &v, &vlen);
    for (size_t i = 0; rc == LAMINA_NOTFOUND && i < sv->nimm; i++)
        rc = memtable_get(sv->imm[i], key, klen, seq, &type, &v, &vlen);
    if (rc == 0) {
        /* One allocation, with room for lamina_get's NUL byte. */
        if (type == IKEY_VALUE && (buf_reserve(out, vlen + 1) || buf_append(out, v, vlen)))
            rc = err_set(LAMINA_ENOMEM, "lamina_get: out of memory");
    } else if (rc == LAMINA_NOTFOUND) {
        struct table_read_options tro = {
            .verify_checksums = ro->verify_checksums,
            .fill_cache = ro->fill_cache,
            .io = db->io_levels,
            .lookup = db->lookup_levels,
        };
        atomic_fetch_add_explicit(&db->lookups, 1, memory_order_relaxed);
        ikey_encode(lookup, key, klen, seq, IKEY_VALUE);
        rc = version_get(sv->v, &tro, lookup, klen + IKEY_TRAILER, &type, out);
    }
    db_sv_put(db, sv);
    if (rc == 0 && type != IKEY_VALUE) rc = LAMINA_NOTFOUND;
    return rc;
}

static int read_check_args(lamina_db *db, const void *key, size_t key_len, const char *fn)
{
    if (!db || (!key && key_len)) return err_set(LAMINA_EINVAL, "%s: NULL argument", fn);
    if (key_len > LAMINA_MAX_KEY_LEN)
        return err_set(LAMINA_EINVAL, "%s: key of %zu bytes over the limit (%u)", fn, key_len,
                       LAMINA_MAX_KEY_LEN);
    return 0;
}

LAMINA_API int lamina_get(lamina_db *db, const lamina_read_options *ro, const void *key,
                          size_t key_len, void **value, size_t *value_len)
{
    if (value) *value = NULL;
    if (!value || !value_len) return err_set(LAMINA_EINVAL, "lamina_get: NULL argument");
    int rc = read_check_args(db, key, key_len, "lamina_get");
    if (rc) return rc;
    lamina_read_options o;
    if ((rc = options_read_copy(&o, ro, "lamina_get"))) return rc;
    /* The caller's buffer is filled in place: one allocation per found value. */
    buf out = {0};
    rc = read_get(db, &o, key, key_len, &out);
    if (rc == 0 && buf_reserve(&out, 1)) rc = err_set(LAMINA_ENOMEM, "lamina_get: out of memory");
    if (rc) {
        buf_free(&out);
        return rc;
    }
    out.data[out.len] = 0;
    *value = out.data;
    *value_len = out.len;
    return 0;
}

LAMINA_API int lamina_get_into(lamina_db *db, const lamina_read_options *ro, const void *key,
                               size_t key_len, void *dst, size_t cap, size_t *value_len)
{
    if (!value_len || (!dst && cap))
        return err_set(LAMINA_EINVAL, "lamina_get_into: NULL argument");
    int rc = read_check_args(db, key, key_len, "lamina_get_into");
    if (rc) return rc;
    lamina_read_options o;
    if ((rc = options_read_copy(&o, ro, "lamina_get_into"))) return rc;
    buf *out = read_tls_buf(0);
    if (!out) return err_set(LAMINA_ENOMEM, "lamina_get_into: out of memory");
    rc = read_get(db, &o, key, key_len, out);
    if (rc == 0) {
        *value_len = out->len;
        if (out->len && cap) memcpy(dst, out->data, out->len < cap ? out->len : cap);
    }
    read_tls_trim(out);
    return rc;
}

LAMINA_API int lamina_multi_get(lamina_db *db, const lamina_read_options *ro, size_t n,
                                const void *const *keys, const size_t *key_lens, void **values,
                                size_t *value_lens, int *statuses)
{
    if (!db || (n && (!keys || !key_lens || !values || !value_lens || !statuses)))
        return err_set(LAMINA_EINVAL, "lamina_multi_get: NULL argument");
    lamina_read_options o;
    int rc = options_read_copy(&o, ro, "lamina_multi_get");
    if (rc) return rc;
    for (size_t i = 0; i < n; i++) {
        values[i] = NULL;
        value_lens[i] = 0;
        statuses[i] = LAMINA_NOTFOUND;
    }
    struct version_lookup *lk = mem_calloc(n ? n : 1, sizeof(*lk));
    buf *vals = mem_calloc(n ? n : 1, sizeof(*vals));
    if (!lk || !vals) {
        mem_free(lk);
        mem_free(vals);
        return err_set(LAMINA_ENOMEM, "lamina_multi_get: out of memory for %zu keys", n);
    }
    /* One super version, so every key is read as of one sequence number. */
    uint64_t seq;
    struct super_version *sv = db_sv_get(db, &seq);
    if (o.snapshot) seq = o.snapshot->seq;
    size_t ntables = 0; /* lookups the memtables did not answer: lk[0..ntables) */
    size_t *slot = mem_alloc((n ? n : 1) * sizeof(*slot));
    uint8_t *ikeys = NULL;
    size_t ikeys_len = 0;
    for (size_t i = 0; i < n; i++)
        ikeys_len += key_lens[i] + IKEY_TRAILER;
    if (slot) ikeys = mem_alloc(ikeys_len ? ikeys_len : 1);
    if (!slot || !ikeys) {
        rc = err_set(LAMINA_ENOMEM, "lamina_multi_get: out of memory for %zu keys", n);
        goto out;
    }
    uint8_t *kp = ikeys;
    for (size_t i = 0; i < n; i++) {
        int s = read_check_args(db, keys[i], key_lens[i], "lamina_multi_get");
        if (s) {
            statuses[i] = s;
            continue;
        }
        int type = IKEY_DELETION;
        const uint8_t *v;
        size_t vlen;
        s = memtable_get(sv->mem, keys[i], key_lens[i], seq, &type, &v, &vlen);
        for (size_t m = 0; s == LAMINA_NOTFOUND && m < sv->nimm; m++)
            s = memtable_get(sv->imm[m], keys[i], key_lens[i], seq, &type, &v, &vlen);
        if (s == LAMINA_NOTFOUND) {
            ikey_encode(kp, keys[i], key_lens[i], seq, IKEY_VALUE);
            lk[ntables] = (struct version_lookup){kp, key_lens[i] + IKEY_TRAILER, 0, 0, &vals[i]};
            slot[ntables++] = i;
            kp += key_lens[i] + IKEY_TRAILER;
            continue;
        }
        if (s == 0 && type == IKEY_VALUE && (buf_reserve(&vals[i], vlen + 1) ||
                                             buf_append(&vals[i], v, vlen)))
            s = err_set(LAMINA_ENOMEM, "lamina_multi_get: out of memory");
        statuses[i] = s == 0 && type != IKEY_VALUE ? LAMINA_NOTFOUND : s;
    }
    struct table_read_options tro = {
        .verify_checksums = o.verify_checksums,
        .fill_cache = o.fill_cache,
        .io = db->io_levels,
        .lookup = db->lookup_levels,
    };
    atomic_fetch_add_explicit(&db->lookups, ntables, memory_order_relaxed);
    rc = version_multi_get(sv->v, db->cache, &tro, lk, ntables);
    for (size_t j = 0; rc == 0 && j < ntables; j++)
        statuses[slot[j]] = lk[j].rc == 0 && lk[j].type != IKEY_VALUE ? LAMINA_NOTFOUND : lk[j].rc;
out:
    db_sv_put(db, sv);
    int first = rc;
    for (size_t i = 0; i < n; i++) {
        if (rc) statuses[i] = rc;
        if (statuses[i] == 0 && buf_reserve(&vals[i], 1))
            statuses[i] = err_set(LAMINA_ENOMEM, "lamina_multi_get: out of memory");
        if (statuses[i] == 0) {
            vals[i].data[vals[i].len] = 0;
            values[i] = vals[i].data;
            value_lens[i] = vals[i].len;
        } else {
            buf_free(&vals[i]);
            if (statuses[i] != LAMINA_NOTFOUND && first == 0) first = statuses[i];
        }
    }
    mem_free(ikeys);
    mem_free(slot);
    mem_free(lk);
    mem_free(vals);
    return first;
}
