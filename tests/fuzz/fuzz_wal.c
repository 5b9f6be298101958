/* fuzz_wal.c — libFuzzer target for WAL recovery's decoders: the log reader (engine/log.h)
 * and write batches (engine/batch.h). The first byte picks:
 *   bit 0 clear: the rest is a WAL file (bit 1: reseal each fragment's checksum first, so
 *                mutations reach the fragment state machine and the batch decoder), read to
 *                the end with corruption skipped (as wal_recovery_mode=skip_any reads it);
 *   bit 0 set:   the rest is damage (1 byte: none, truncate, flip a bit, zero whole pages to
 *                the end), a position (4 bytes, little-endian; its top 3 bits pick the bit)
 *                and a list of records (2-byte length pieces). The records are written with
 *                the log writer, the file damaged, and the reader must say what a torn tail
 *                and corruption are: every record back when intact; a prefix and no error when
 *                cut short; a prefix, and no error or LAMINA_ECORRUPT, when zeroed from a page
 *                boundary; LAMINA_ECORRUPT for a flipped bit inside a fragment.
 * Every record read is checked and walked as a write batch: one that batch_iterate accepts
 * must yield exactly the count its header says, and batch_set_rep must agree with it; what
 * the reader reports as damage must lie inside the file. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "engine/batch.h"
#include "engine/log.h"
#include "fuzz.h"
#include "util/err.h"
#include "util/file.h"
#include "util/ikey.h"

/* Records the writer mode writes at most. */
#define MAX_RECORDS 256

static int count_record(void *ctx, int type, const uint8_t *k, size_t kl, const uint8_t *v,
                        size_t vl)
{
    FUZZ_CHECK(type == IKEY_VALUE || type == IKEY_DELETION);
    FUZZ_CHECK(type == IKEY_VALUE || (v == NULL && vl == 0));
    (void)k, (void)kl;
    (*(uint32_t *)ctx)++;
    return 0;
}

static void decode_batch(const uint8_t *rec, size_t len)
{
    uint32_t seen = 0, count;
    uint64_t seq;
    int rc = batch_iterate(rec, len, count_record, &seen);
    FUZZ_CHECK(rc == 0 || rc == LAMINA_ECORRUPT);
    if (rc == 0) {
        FUZZ_CHECK(batch_rep_header(rec, len, &seq, &count) == 0 && count == seen);
    } else {
        FUZZ_CHECK(seen == 0); /* checked whole before the first callback */
    }
    lamina_batch b;
    if (batch_init(&b)) return;
    int rc2 = batch_set_rep(&b, rec, len);
    FUZZ_CHECK(rc2 == rc || rc2 == LAMINA_ENOMEM);
    if (rc2 == 0) FUZZ_CHECK(batch_count(&b) == seen && batch_len(&b) == len);
    batch_free(&b);
}

/* Reads every record of path, skipping corruption as wal_recovery_mode=skip_any does, and
 * checks what the reader says about damage. Returns the first LAMINA_ECORRUPT or 0; *nread
 * gets the records read before it, which must be want[0..) when want is given. */
static int read_log(const char *path, const uint8_t **want, const size_t *want_len, size_t nwant,
                    size_t *nread)
{
    log_reader *r;
    uint64_t size;
    *nread = 0;
    if (file_size(path, &size) || log_reader_open(path, &r)) return 0;
    buf rec = {0};
    size_t i = 0;
    int rc, first = 0;
    for (int skips = 0; skips < MAX_RECORDS;) {
        rc = log_reader_next(r, &rec);
        if (rc == 1) {
            if (want && !first) {
                FUZZ_CHECK(i < nwant && rec.len == want_len[i]);
                FUZZ_CHECK(rec.len == 0 || !memcmp(rec.data, want[i], rec.len));
                *nread = i + 1;
            }
            i++;
            decode_batch(rec.data, rec.len);
            continue;
        }
        const struct log_damage *d = log_reader_damage(r);
        if (rc == 0) {
            FUZZ_CHECK(d == NULL || (d->kind == LOG_TORN_TAIL && d->offset <= size));
            break;
        }
        FUZZ_CHECK(rc == LAMINA_ECORRUPT);
        FUZZ_CHECK(d && d->kind == LOG_CORRUPT && d->offset < size && d->offset + d->bytes == size);
        FUZZ_CHECK(d->next_record == UINT64_MAX ||
                   (d->next_record > d->offset && d->next_record < size));
        if (!first) first = rc;
        skips++;
        if (log_reader_skip_damage(r)) break;
    }
    buf_free(&rec);
    log_reader_close(r);
    return first;
}

/* What the writer mode does to the log it wrote. */
enum { DAMAGE_NONE, DAMAGE_TRUNCATE, DAMAGE_FLIP, DAMAGE_ZERO_PAGES };
#define PAGE 4096

/* Writes the records, damages the file as the input says, and checks what the reader makes of
 * it: intact, every record back; cut short anywhere (a writer that died mid-append), a prefix
 * back and no error (a torn tail); zeroed from a page boundary to the end, a prefix back and
 * no error, or LAMINA_ECORRUPT when the zeros begin inside a fragment; one bit flipped inside a
 * fragment, LAMINA_ECORRUPT after a prefix (never a record silently dropped). */
static void fuzz_writer(const char *dir, const char *path, const uint8_t *data, size_t size)
{
    if (size < 5) return;
    int damage = data[0] & 3;
    uint32_t pos = coding_get_fixed32(data + 1);
    data += 5, size -= 5;
    const uint8_t *recs[MAX_RECORDS];
    size_t lens[MAX_RECORDS], n = 0, nread;
    while (n < MAX_RECORDS && fuzz_next_piece(&data, &size, &recs[n], &lens[n]))
        n++;
    wfile *f;
    if (wfile_create(path, &f)) return;
    log_writer *w = log_writer_create(f, 0);
    int rc = w ? 0 : LAMINA_ENOMEM;
    for (size_t i = 0; i < n && rc == 0; i++)
        rc = log_writer_add(w, recs[i], lens[i], 0);
    log_writer_destroy(w);
    if (wfile_close(f) || rc) return;
    uint8_t *file;
    size_t fn;
    if (file_read_all(path, &file, &fn)) return;
    size_t off = fn ? pos % fn : 0;
    switch (damage) {
    case DAMAGE_NONE:
        FUZZ_CHECK(read_log(path, recs, lens, n, &nread) == 0 && nread == n);
        break;
    case DAMAGE_TRUNCATE:
        if (fuzz_write(dir, "000001.log", file, off)) break;
        FUZZ_CHECK(read_log(path, recs, lens, n, &nread) == 0);
        break;
    case DAMAGE_FLIP:
        if (fn == 0) break;
        file[off] ^= (uint8_t)(1u << (pos >> 29));
        if (fuzz_write(dir, "000001.log", file, fn)) break;
        rc = read_log(path, recs, lens, n, &nread);
        if (fuzz_log_in_padding(file, fn, off))
            FUZZ_CHECK(rc == 0 && nread == n);
        else
            FUZZ_CHECK(rc == LAMINA_ECORRUPT);
        break;
    case DAMAGE_ZERO_PAGES:
        off -= off % PAGE;
        memset(file + off, 0, fn - off);
        if (fuzz_write(dir, "000001.log", file, fn)) break;
        /* Zeros from a fragment header on are a torn tail; zeros inside a complete fragment
         * cannot be told from a flipped bit in a record that ends in zeros, so they may be
         * reported. Either way what was read is an exact prefix (read_log checks). */
        rc = read_log(path, recs, lens, n, &nread);
        FUZZ_CHECK(rc == 0 || rc == LAMINA_ECORRUPT);
        break;
    }
    mem_free(file);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size < 1) return 0;
    const char *dir = fuzz_dir();
    if (!dir) return 0;
    char path[512];
    snprintf(path, sizeof(path), "%s/000001.log", dir);
    uint8_t mode = data[0];
    if (mode & 1) {
        fuzz_writer(dir, path, data + 1, size - 1);
    } else {
        uint8_t *file = malloc(size);
        if (!file) return 0;
        memcpy(file, data + 1, size - 1);
        if (mode & 2) fuzz_reseal_log(file, size - 1);
        size_t nread;
        if (fuzz_write(dir, "000001.log", file, size - 1) == 0)
            (void)read_log(path, NULL, NULL, 0, &nread);
        free(file);
    }
    err_clear();
    return 0;
}
