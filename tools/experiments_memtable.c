/* experiments_memtable.c — experiments' memtable benchmark: a key set put into a bare memtable
 * (memtable/memtable.h, below the public API, as db_bench's memtablerep_bench drives a
 * MemTableRep), timing inserts, point lookups, a full scan and prefix scans, then the memory it
 * takes per key beyond the raw keys and values. */
#include "experiments.h"

#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "lamina.h"
#include "memtable/memtable.h"
#include "util/coding.h"
#include "util/err.h"
#include "util/ikey.h"
#include "util/iter.h"
#include "util/rng.h"

/* Each value is the key's line number, 8 bytes: a lookup can tell which line's version won. */
#define BENCH_MEMTABLE_VALUE 8

/* Fisher-Yates: every permutation of order[0..n) equally likely under r. */
static void bench_shuffle(size_t *order, size_t n, rng *r)
{
    for (size_t i = n; i > 1; i--) {
        size_t j = (size_t)rng_uniform(r, i), t = order[i - 1];
        order[i - 1] = order[j];
        order[j] = t;
    }
}

static int bench_memtable_fail(const char *what, int rc)
{
    fprintf(stderr, "experiments: memtable: %s: %s: %s\n", what, lamina_strerror(rc),
            err_message());
    return EXIT_DBERR;
}

/* Looks every key of probe up, with one byte 0x00 appended when absent is set (a key the set
 * cannot hold unless it has a line that is another line plus a NUL: the real key sets have no
 * control bytes). Counts the keys found and, among them, those whose newest version is their own
 * line (one per distinct key). 0 or an exit status. */
static int bench_memtable_lookups(memtable *m, const bench_keyset *ks, const size_t *probe,
                                  char *buf, int absent)
{
    uint64_t found = 0, own = 0;
    double t0 = bench_now();
    for (size_t i = 0; i < ks->n; i++) {
        size_t k = probe[i], len = ks->len[k], vlen = 0;
        memcpy(buf, ks->key[k], len);
        if (absent) buf[len++] = '\0';
        const uint8_t *v = NULL;
        int type = IKEY_DELETION;
        int rc = memtable_get(m, buf, len, IKEY_MAX_SEQ, &type, &v, &vlen);
        if (rc == LAMINA_NOTFOUND) continue;
        if (rc != LAMINA_OK) return bench_memtable_fail("lookup", rc);
        if (type != IKEY_VALUE || vlen != BENCH_MEMTABLE_VALUE) continue;
        found++;
        own += coding_get_fixed64(v) == (uint64_t)k;
    }
    double t = bench_now() - t0;
    char extra[128];
    if (absent)
        snprintf(extra, sizeof extra, "(%" PRIu64 " of %zu found) each key + 0x00", found, ks->n);
    else
        snprintf(extra, sizeof extra, "(%" PRIu64 " of %zu found) %" PRIu64 " distinct keys", found,
                 ks->n, own);
    bench_print_line(absent ? "memtable_get_absent" : "memtable_get", t, t, ks->n, extra);
    return 0;
}

/* Every entry from first to last; the operations are the entries visited. */
static int bench_memtable_iterate(memtable *m)
{
    iter *it = memtable_iter_create(m);
    if (it == NULL) return bench_memtable_fail("iterator", LAMINA_ENOMEM);
    uint64_t entries = 0, bytes = 0;
    double t0 = bench_now();
    int rc = iter_seek_to_first(it);
    while (rc == 0 && iter_valid(it)) {
        size_t kn, vn;
        iter_key(it, &kn);
        iter_value(it, &vn);
        bytes += kn - IKEY_TRAILER + vn;
        entries++;
        rc = iter_next(it);
    }
    double t = bench_now() - t0;
    if (rc == 0) rc = iter_status(it);
    iter_destroy(it);
    if (rc != 0) return bench_memtable_fail("iteration", rc);
    char extra[64];
    snprintf(extra, sizeof extra, "%6.1f MB/s", (double)bytes / 1048576.0 / (t > 1e-9 ? t : 1e-9));
    bench_print_line("memtable_iterate", t, t, entries, extra);
    return 0;
}

/* Entries of the user keys that start with prefix[0..plen), counted by a whole-memtable
 * iterator seeked to (prefix, newest possible version): the reference the prefix iterator is
 * checked against. */
static int bench_memtable_plain_count(iter *all, const char *prefix, size_t plen, uint8_t *probe,
                                      uint64_t *count)
{
    ikey_encode(probe, prefix, plen, IKEY_MAX_SEQ, IKEY_VALUE);
    int rc = iter_seek(all, probe, plen + IKEY_TRAILER);
    uint64_t n = 0;
    while (rc == 0 && iter_valid(all)) {
        size_t kn;
        const uint8_t *key = iter_key(all, &kn);
        if (kn - IKEY_TRAILER < plen || memcmp(key, prefix, plen) != 0) break;
        n++;
        rc = iter_next(all);
    }
    *count = n;
    return rc == 0 ? iter_status(all) : rc;
}

/* c->scans prefix scans, each over the prefix (bench_prefix_len) of a key drawn uniformly from
 * the set: a prefix iterator created, moved to its first entry and stepped to its end. Then,
 * untimed, each scan's count is checked against a whole-memtable iterator's: a prefix iterator
 * that misses entries would make the figure a measure of its bug. Scans that disagree are
 * counted on the line, the first named on stderr, and make the benchmark fail. */
static int bench_memtable_prefix(memtable *m, const bench_memtable_config *c, rng *r,
                                 size_t max_len)
{
    const bench_keyset *ks = &c->keys;
    size_t nscan = (size_t)c->scans;
    size_t *pick = malloc((nscan ? nscan : 1) * sizeof *pick);
    uint64_t *seen = malloc((nscan ? nscan : 1) * sizeof *seen);
    uint8_t *probe = malloc(max_len + IKEY_TRAILER);
    iter *all = NULL;
    int status = EXIT_DBERR;
    if (pick == NULL || seen == NULL || probe == NULL) {
        status = bench_memtable_fail("prefix scans", LAMINA_ENOMEM);
        goto out;
    }
    for (size_t s = 0; s < nscan; s++)
        pick[s] = (size_t)rng_uniform(r, ks->n);
    uint64_t entries = 0;
    double t0 = bench_now();
    for (size_t s = 0; s < nscan; s++) {
        const char *prefix = ks->key[pick[s]];
        size_t plen = bench_prefix_len(prefix, ks->len[pick[s]], c->prefix_size);
        iter *it = memtable_prefix_iter_create(m, prefix, plen);
        if (it == NULL) {
            status = bench_memtable_fail("prefix iterator", LAMINA_ENOMEM);
            goto out;
        }
        uint64_t n = 0;
        int rc = iter_seek_to_first(it);
        while (rc == 0 && iter_valid(it)) {
            size_t kn;
            const uint8_t *key = iter_key(it, &kn);
            if (kn - IKEY_TRAILER < plen || memcmp(key, prefix, plen) != 0) {
                iter_destroy(it);
                fprintf(stderr,
                        "experiments: memtable: the prefix iterator of '%.*s' yielded a "
                        "key outside the prefix\n",
                        (int)plen, prefix);
                goto out;
            }
            n++;
            rc = iter_next(it);
        }
        if (rc == 0) rc = iter_status(it);
        iter_destroy(it);
        if (rc != 0) {
            status = bench_memtable_fail("prefix scan", rc);
            goto out;
        }
        seen[s] = n;
        entries += n;
    }
    double t = bench_now() - t0;

    if ((all = memtable_iter_create(m)) == NULL) {
        status = bench_memtable_fail("iterator", LAMINA_ENOMEM);
        goto out;
    }
    uint64_t short_scans = 0;
    for (size_t s = 0; s < nscan; s++) {
        const char *prefix = ks->key[pick[s]];
        size_t plen = bench_prefix_len(prefix, ks->len[pick[s]], c->prefix_size);
        uint64_t want;
        int rc = bench_memtable_plain_count(all, prefix, plen, probe, &want);
        if (rc != 0) {
            status = bench_memtable_fail("prefix check", rc);
            goto out;
        }
        if (seen[s] != want && short_scans++ == 0)
            fprintf(stderr,
                    "experiments: memtable: the prefix iterator of '%.*s' (%zu bytes) visited "
                    "%" PRIu64 " entries, a whole-memtable iterator finds %" PRIu64 "\n",
                    (int)plen, prefix, plen, seen[s], want);
    }
    char extra[160];
    int at = snprintf(extra, sizeof extra, "%.2f entries/scan (%" PRIu64 " entries)",
                      nscan ? (double)entries / (double)nscan : 0.0, entries);
    if (short_scans)
        snprintf(extra + at, sizeof extra - (size_t)at,
                 " %" PRIu64 " scans disagree with a whole-memtable iterator", short_scans);
    bench_print_line("memtable_prefix_scan", t, t, nscan, extra);
    if (short_scans)
        fprintf(stderr,
                "experiments: memtable: %" PRIu64 " of %zu prefix scans disagree with a "
                "whole-memtable iterator\n",
                short_scans, nscan);
    status = short_scans ? EXIT_DBERR : 0;
out:
    iter_destroy(all);
    free(pick);
    free(seen);
    free(probe);
    return status;
}

int bench_memtable(const bench_memtable_config *c)
{
    const bench_keyset *ks = &c->keys;
    size_t n = ks->n, max_len = 0;
    uint64_t key_bytes = 0;
    for (size_t i = 0; i < n; i++) {
        key_bytes += ks->len[i];
        if (ks->len[i] > max_len) max_len = ks->len[i];
    }
    int status = EXIT_DBERR;
    memtable *m = NULL;
    size_t *order = malloc((n ? n : 1) * sizeof *order);
    size_t *probe = malloc((n ? n : 1) * sizeof *probe);
    char *buf = malloc(max_len + 1);
    if (order == NULL || probe == NULL || buf == NULL) {
        fprintf(stderr, "experiments: memtable: out of memory for %zu keys\n", n);
        goto out;
    }
    /* insert order (file order unless --shuffle), then the lookups' order (always shuffled),
     * then the scans' keys, all from one seeded generator */
    rng r;
    rng_seed(&r, c->seed);
    for (size_t i = 0; i < n; i++)
        order[i] = probe[i] = i;
    if (c->shuffle) bench_shuffle(order, n, &r);
    bench_shuffle(probe, n, &r);
    printf("Memtable:   %s, %zu keys (%s), %s order", c->art ? "art" : "avl", n, c->source,
           c->shuffle ? "shuffled" : "file");
    if (c->shuffle) printf(" (seed %" PRIu64 ")", c->seed);
    printf(", values %d bytes\n", BENCH_MEMTABLE_VALUE);
    printf("Duplicates: a repeated key is inserted again as a newer version (its own sequence "
           "number)\n");
    if (c->prefix_size)
        printf("Prefixes:   the first %zu bytes of %" PRIu64 " random keys\n", c->prefix_size,
               c->scans);
    else
        printf("Prefixes:   %" PRIu64 " random keys up to their last '/', '@' or '-', else "
               "their first half\n",
               c->scans);
    printf("------------------------------------------------\n");
    fflush(stdout);

    m = memtable_create(c->art ? MEMTABLE_ART : MEMTABLE_AVL);
    if (m == NULL) {
        fprintf(stderr, "experiments: memtable: cannot create a memtable of type %s: %s\n",
                c->art ? "art" : "avl", err_message());
        goto out;
    }
    uint8_t value[BENCH_MEMTABLE_VALUE];
    double t0 = bench_now();
    for (size_t i = 0; i < n; i++) {
        size_t k = order[i];
        coding_put_fixed64(value, (uint64_t)k);
        int rc = memtable_add(m, (uint64_t)i + 1, IKEY_VALUE, ks->key[k], ks->len[k], value,
                              sizeof value);
        if (rc != LAMINA_OK) {
            status = bench_memtable_fail("insert", rc);
            goto out;
        }
    }
    double t = bench_now() - t0;
    uint64_t value_bytes = (uint64_t)n * BENCH_MEMTABLE_VALUE;
    char extra[64];
    snprintf(extra, sizeof extra, "%6.1f MB/s",
             (double)(key_bytes + value_bytes) / 1048576.0 / (t > 1e-9 ? t : 1e-9));
    bench_print_line("memtable_insert", t, t, n, extra);
    fflush(stdout);
    if ((status = bench_memtable_lookups(m, ks, probe, buf, 0)) != 0) goto out;
    if ((status = bench_memtable_lookups(m, ks, probe, buf, 1)) != 0) goto out;
    if ((status = bench_memtable_iterate(m)) != 0) goto out;
    /* disagreeing scans fail the run, after the overhead line: the other figures stand */
    int prefix_status = bench_memtable_prefix(m, c, &r, max_len);
    size_t mem = memtable_memory(m);
    printf("%-12s : %.2f bytes/key (memory %zu bytes for %zu entries: user keys %" PRIu64
           " bytes, values %" PRIu64 " bytes)\n",
           "memtable_overhead",
           n ? ((double)mem - (double)key_bytes - (double)value_bytes) / (double)n : 0.0, mem, n,
           key_bytes, value_bytes);
    fflush(stdout);
    status = prefix_status;
out:
    memtable_unref(m);
    free(order);
    free(probe);
    free(buf);
    return status;
}
