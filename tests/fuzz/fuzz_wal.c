/* fuzz_wal.c — libFuzzer target for WAL recovery's decoders: the log reader (engine/log.h)
 * and write batches (engine/batch.h). The first byte picks:
 *   bit 0 clear: the rest is a WAL file (bit 1: reseal each fragment's checksum first, so
 *                mutations reach the fragment state machine and the batch decoder); each
 *                record it yields is checked and walked as a write batch;
 *   bit 0 set:   the rest is a list of records (2-byte length pieces) written with the log
 *                writer, which must read back exactly, in order, and then be decoded as
 *                batches too.
 * log_reader_next must return 1, 0 or LAMINA_ECORRUPT; a batch that batch_iterate accepts
 * must yield exactly the count its header says, and batch_set_rep must agree with it. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "engine/batch.h"
#include "engine/log.h"
#include "fuzz.h"
#include "util/err.h"
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

/* Reads every record of path; with want, they must be exactly want[0..nwant). */
static void read_log(const char *path, const uint8_t **want, const size_t *want_len, size_t nwant)
{
    log_reader *r;
    if (log_reader_open(path, &r)) return;
    buf rec = {0};
    size_t i = 0;
    int rc;
    while ((rc = log_reader_next(r, &rec)) == 1) {
        if (want) {
            FUZZ_CHECK(i < nwant && rec.len == want_len[i]);
            FUZZ_CHECK(rec.len == 0 || !memcmp(rec.data, want[i], rec.len));
        }
        i++;
        decode_batch(rec.data, rec.len);
    }
    FUZZ_CHECK(rc == 0 || rc == LAMINA_ECORRUPT);
    if (want) FUZZ_CHECK(rc == 0 && i == nwant);
    buf_free(&rec);
    log_reader_close(r);
}

static void fuzz_writer(const char *path, const uint8_t *data, size_t size)
{
    const uint8_t *recs[MAX_RECORDS];
    size_t lens[MAX_RECORDS], n = 0;
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
    read_log(path, recs, lens, n);
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
        fuzz_writer(path, data + 1, size - 1);
    } else {
        uint8_t *file = malloc(size);
        if (!file) return 0;
        memcpy(file, data + 1, size - 1);
        if (mode & 2) fuzz_reseal_log(file, size - 1);
        if (fuzz_write(dir, "000001.log", file, size - 1) == 0) read_log(path, NULL, NULL, 0);
        free(file);
    }
    err_clear();
    return 0;
}
