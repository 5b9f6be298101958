/* log.c — the log format of the WAL and the MANIFEST: LevelDB's log format (32 KiB blocks,
 * FULL/FIRST/MIDDLE/LAST fragments) with XXH3 checksums over type byte + payload. Torn tails are
 * dropped; damage followed by valid fragments is reported as corruption. */
#include "engine/log.h"
#include "util/alloc.h"

#include <stdlib.h>
#include <string.h>

#include "util/err.h"
#include "util/hash.h"

/* The fragment checksum streams over the payload where it lies (XXH3_state_t). */
#define XXH_STATIC_LINKING_ONLY
#include <xxhash.h>

enum { LOG_FULL = 1, LOG_FIRST = 2, LOG_MIDDLE = 3, LOG_LAST = 4 };

/* ---- Writer ------------------------------------------------------------------------------- */

struct log_writer {
    wfile *f;
    size_t block_offset; /* bytes used in the current block */
};

log_writer *log_writer_create(wfile *f, uint64_t dest_size)
{
    log_writer *w = mem_alloc(sizeof(*w));
    if (!w) return NULL;
    w->f = f;
    w->block_offset = (size_t)(dest_size % LOG_BLOCK_SIZE);
    return w;
}

void log_writer_destroy(log_writer *w)
{
    mem_free(w);
}

/* Fragments at most this long (type byte included) are hashed from a copy on the stack: XXH3's
 * one-shot form is quicker there, and its streaming form would buffer them anyway. */
#define LOG_SMALL_FRAGMENT 256

/* The fragment checksum of docs/format.md, XXH3_64bits_withSeed(type ‖ payload, 0), over a
 * payload given in two pieces and read where it lies. */
static uint32_t log_checksum(uint8_t type, const uint8_t *p1, size_t n1, const uint8_t *p2,
                             size_t n2)
{
    if (1 + n1 + n2 <= LOG_SMALL_FRAGMENT) {
        uint8_t s[LOG_SMALL_FRAGMENT];
        s[0] = type;
        if (n1) memcpy(s + 1, p1, n1);
        if (n2) memcpy(s + 1 + n1, p2, n2);
        return checksum32(s, 1 + n1 + n2, 0);
    }
    XXH3_state_t st;
    (void)XXH3_64bits_reset_withSeed(&st, 0);
    (void)XXH3_64bits_update(&st, &type, 1);
    if (n1) (void)XXH3_64bits_update(&st, p1, n1);
    if (n2) (void)XXH3_64bits_update(&st, p2, n2);
    return (uint32_t)XXH3_64bits_digest(&st);
}

/* Writes one fragment whose payload is p1[0..n1) ‖ p2[0..n2). */
static int log_writer_emit(log_writer *w, int type, const uint8_t *p1, size_t n1, const uint8_t *p2,
                           size_t n2)
{
    size_t n = n1 + n2;
    uint8_t h[LOG_HEADER_SIZE];
    h[4] = (uint8_t)(n & 0xff);
    h[5] = (uint8_t)(n >> 8);
    h[6] = (uint8_t)type;
    coding_put_fixed32(h, log_checksum(h[6], p1, n1, p2, n2));
    int rc = wfile_append(w->f, h, LOG_HEADER_SIZE);
    if (rc == 0 && n1) rc = wfile_append(w->f, p1, n1);
    if (rc == 0 && n2) rc = wfile_append(w->f, p2, n2);
    if (rc) return rc;
    w->block_offset += LOG_HEADER_SIZE + n;
    return 0;
}

int log_writer_append(log_writer *w, const void *a, size_t na, const void *b, size_t nb)
{
    static const uint8_t zeros[LOG_HEADER_SIZE];
    const uint8_t *pa = a, *pb = b;
    size_t n = na + nb, pos = 0;
    int begin = 1, rc;

    /* A zero-length record still gets one FULL fragment, so it is read back. */
    do {
        size_t leftover = LOG_BLOCK_SIZE - w->block_offset;
        if (leftover < LOG_HEADER_SIZE) {
            if (leftover) {
                rc = wfile_append(w->f, zeros, leftover);
                if (rc) return rc;
            }
            w->block_offset = 0;
        }
        size_t avail = LOG_BLOCK_SIZE - w->block_offset - LOG_HEADER_SIZE;
        size_t frag = n - pos < avail ? n - pos : avail;
        int end = pos + frag == n;
        int type = begin && end ? LOG_FULL : begin ? LOG_FIRST : end ? LOG_LAST : LOG_MIDDLE;
        /* The fragment's bytes: what is left of a, then the start of b. */
        const uint8_t *p1 = NULL, *p2 = pb;
        size_t n1 = frag;
        if (pos < na) {
            p1 = pa + pos;
            if (n1 > na - pos) n1 = na - pos;
        } else if (frag) {
            p1 = pb + (pos - na);
            p2 = NULL;
        }
        size_t n2 = frag - n1;
        rc = log_writer_emit(w, type, p1, n1, p2, n2);
        if (rc) return rc;
        pos += frag;
        begin = 0;
    } while (pos < n);
    return 0;
}

int log_writer_flush(log_writer *w, int sync)
{
    int rc = wfile_flush(w->f);
    if (rc) return rc;
    return sync ? wfile_sync(w->f) : 0;
}

int log_writer_add(log_writer *w, const void *rec, size_t n, int sync)
{
    int rc = log_writer_append(w, rec, n, NULL, 0);
    return rc ? rc : log_writer_flush(w, sync);
}

/* ---- Reader ------------------------------------------------------------------------------- */

struct log_reader {
    rfile *f;
    char *path;
    uint64_t size;         /* file length */
    uint8_t *block;        /* the block being parsed */
    uint64_t block_start;  /* its file offset */
    size_t block_len;      /* bytes of it in the file (< LOG_BLOCK_SIZE only for the last) */
    size_t pos;            /* next fragment within block */
    int loaded;            /* block holds a block of the file */
    uint64_t end_offset;   /* just past the last record returned */
    int done;              /* 1 at the end, or a sticky LAMINA_ECORRUPT / LAMINA_EIO */
    struct log_damage dmg; /* the torn tail or the corruption that stopped the reader */
};

/* How damage may be explained by a writer that died mid-append. */
enum log_cut {
    LOG_CUT_NONE,   /* it cannot: corruption */
    LOG_CUT_SHORT,  /* the record runs past the end of the file: a torn tail */
    LOG_CUT_ZEROED, /* zeros where a fragment should be: pages the file system allocated but
                     * never wrote; a torn tail unless a valid record starts after them */
};

/* What one fragment header said. */
enum frag_status { FRAG_OK, FRAG_EOF, FRAG_BAD };

struct frag {
    int type;
    const uint8_t *payload;
    size_t len;
    uint64_t offset;  /* file offset of the header */
    const char *why;  /* for FRAG_BAD */
    enum log_cut cut; /* for FRAG_BAD: how a torn write may explain it */
};

int log_reader_open(const char *path, log_reader **out)
{
    *out = NULL;
    log_reader *r = mem_calloc(1, sizeof(*r));
    if (!r) return err_set(LAMINA_ENOMEM, "%s: no memory for a log reader", path);
    int rc = LAMINA_ENOMEM;
    r->path = mem_strdup(path);
    r->block = mem_alloc(LOG_BLOCK_SIZE);
    if (!r->path || !r->block) {
        err_set(rc, "%s: no memory for a log reader", path);
        goto fail;
    }
    rc = rfile_open(path, &r->f);
    if (rc) goto fail;
    r->size = rfile_size(r->f);
    *out = r;
    return 0;
fail:
    log_reader_close(r);
    return rc;
}

void log_reader_close(log_reader *r)
{
    if (!r) return;
    if (r->f) rfile_close(r->f);
    mem_free(r->path);
    mem_free(r->block);
    mem_free(r);
}

uint64_t log_reader_end_offset(const log_reader *r)
{
    return r->end_offset;
}

const struct log_damage *log_reader_damage(const log_reader *r)
{
    return r->dmg.kind == LOG_INTACT ? NULL : &r->dmg;
}

/* Reads the block at file offset start (a multiple of LOG_BLOCK_SIZE, < size) into dst. */
static int log_read_block(log_reader *r, uint64_t start, uint8_t *dst, size_t *len)
{
    uint64_t n = r->size - start;
    *len = n < LOG_BLOCK_SIZE ? (size_t)n : LOG_BLOCK_SIZE;
    return rfile_read(r->f, start, dst, *len);
}

/* Whether the fragment at b[pos] (type t, payload length n, within the block's len bytes)
 * verifies. */
static int log_frag_verifies(const uint8_t *b, size_t len, size_t pos, size_t n)
{
    if (n > len - pos - LOG_HEADER_SIZE) return 0;
    return checksum32(b + pos + 6, n + 1, 0) == coding_get_fixed32(b + pos);
}

/* Checks the fragment whose header is at b[pos] in a block of len bytes. */
static enum frag_status log_check_frag(const uint8_t *b, size_t len, size_t pos, struct frag *fr)
{
    const uint8_t *h = b + pos;
    size_t n = (size_t)h[4] | (size_t)h[5] << 8;
    fr->type = h[6];
    fr->len = n;
    fr->payload = h + LOG_HEADER_SIZE;
    fr->cut = LOG_CUT_NONE;
    if (fr->type == 0 && n == 0 && coding_get_fixed32(h) == 0) {
        fr->cut = LOG_CUT_ZEROED;
        fr->why = "zeroed header";
        return FRAG_BAD;
    }
    if (fr->type < LOG_FULL || fr->type > LOG_LAST) {
        fr->why = "bad fragment type";
        return FRAG_BAD;
    }
    if (n > len - pos - LOG_HEADER_SIZE) {
        fr->cut = len < LOG_BLOCK_SIZE ? LOG_CUT_SHORT : LOG_CUT_NONE;
        fr->why = fr->cut ? "fragment cut short by the end of the file"
                          : "fragment length past its block";
        return FRAG_BAD;
    }
    if (!log_frag_verifies(b, len, pos, n)) {
        fr->why = "checksum mismatch";
        return FRAG_BAD;
    }
    return FRAG_OK;
}

/* A fragment whose length runs past the end of the file is what a writer that died mid-append
 * leaves, unless the payload is all there and only its length field is damaged: then the
 * fragment verifies with the length up to the end of the file or with one bit of the length
 * flipped back. */
static int log_length_damaged(const uint8_t *b, size_t len, size_t pos)
{
    size_t n = (size_t)b[pos + 4] | (size_t)b[pos + 5] << 8;
    if (log_frag_verifies(b, len, pos, len - pos - LOG_HEADER_SIZE)) return 1;
    for (int bit = 0; bit < 16; bit++)
        if (log_frag_verifies(b, len, pos, n ^ ((size_t)1 << bit))) return 1;
    return 0;
}

/* The offset of the first valid FULL or FIRST fragment (the start of a later record) at or
 * after file offset `from`, or UINT64_MAX. MIDDLE and LAST fragments do not count: they
 * continue a record whose start is lost. Fragment boundaries after damage are unknown, so every
 * byte offset is tried; zeroed and random bytes fail the type test at once. The caller starts
 * past every fragment that verified: bytes inside one are payload, never a header. */
static int log_next_record_start(log_reader *r, uint64_t from, uint64_t *found)
{
    *found = UINT64_MAX;
    uint8_t *b = mem_alloc(LOG_BLOCK_SIZE);
    if (!b) return err_set(LAMINA_ENOMEM, "%s: no memory for a log scan", r->path);
    int rc = 0;
    uint64_t start = from - from % LOG_BLOCK_SIZE;
    size_t pos = (size_t)(from - start);
    for (; start < r->size && *found == UINT64_MAX; start += LOG_BLOCK_SIZE, pos = 0) {
        size_t len;
        rc = log_read_block(r, start, b, &len);
        if (rc) break;
        for (; pos + LOG_HEADER_SIZE <= len; pos++) {
            struct frag fr;
            if (b[pos + 6] != LOG_FULL && b[pos + 6] != LOG_FIRST) continue;
            if (log_check_frag(b, len, pos, &fr) == FRAG_OK) {
                *found = start + pos;
                break;
            }
        }
    }
    mem_free(b);
    return rc;
}

/* Next fragment in file order, crossing block boundaries. */
static int log_next_frag(log_reader *r, struct frag *fr, enum frag_status *st)
{
    for (;;) {
        if (r->block_len - r->pos < LOG_HEADER_SIZE) {
            /* A full block's tail is padding; a short last block ends the file. */
            uint64_t next = r->loaded ? r->block_start + LOG_BLOCK_SIZE : 0;
            if ((r->loaded && r->block_len < LOG_BLOCK_SIZE) || next >= r->size) {
                fr->offset = r->block_start + r->pos;
                *st = FRAG_EOF;
                return 0;
            }
            int rc = log_read_block(r, next, r->block, &r->block_len);
            if (rc) return rc;
            r->block_start = next;
            r->loaded = 1;
            r->pos = 0;
            continue;
        }
        fr->offset = r->block_start + r->pos;
        *st = log_check_frag(r->block, r->block_len, r->pos, fr);
        if (*st == FRAG_OK) r->pos += LOG_HEADER_SIZE + fr->len;
        return 0;
    }
}

static int log_corrupt_error(const log_reader *r)
{
    return err_set(LAMINA_ECORRUPT, "%s: corrupt log record at offset %llu (%s)", r->path,
                   (unsigned long long)r->dmg.offset, r->dmg.why);
}

/* Damage at offset stops the reader: a torn tail (log_reader_next returns 0) or corruption
 * (LAMINA_ECORRUPT; log_reader_skip_damage resumes after it). A later record is looked for from
 * scan_from on. */
static int log_stop(log_reader *r, uint64_t offset, uint64_t scan_from, const char *why,
                    enum log_cut cut)
{
    int rc;
    r->dmg.offset = offset;
    r->dmg.why = why;
    r->dmg.bytes = r->size - offset;
    r->dmg.next_record = UINT64_MAX;
    if (cut != LOG_CUT_SHORT && (rc = log_next_record_start(r, scan_from, &r->dmg.next_record)))
        return r->done = rc;
    if (cut == LOG_CUT_SHORT || (cut == LOG_CUT_ZEROED && r->dmg.next_record == UINT64_MAX)) {
        r->dmg.kind = LOG_TORN_TAIL;
        r->done = 1;
        return 0;
    }
    r->dmg.kind = LOG_CORRUPT;
    r->done = LAMINA_ECORRUPT;
    return log_corrupt_error(r);
}

int log_reader_skip_damage(log_reader *r)
{
    if (r->done != LAMINA_ECORRUPT) return r->done == 1 || r->done == 0 ? 0 : r->done;
    uint64_t at = r->dmg.next_record;
    r->dmg.kind = LOG_INTACT;
    if (at == UINT64_MAX) {
        r->done = 1;
        return 0;
    }
    int rc = log_read_block(r, at - at % LOG_BLOCK_SIZE, r->block, &r->block_len);
    if (rc) return r->done = rc;
    r->block_start = at - at % LOG_BLOCK_SIZE;
    r->loaded = 1;
    r->pos = (size_t)(at % LOG_BLOCK_SIZE);
    r->done = 0;
    return 0;
}

int log_reader_next(log_reader *r, buf *rec)
{
    buf_clear(rec);
    if (r->done) {
        if (r->done == 1) return 0;
        if (r->done == LAMINA_ECORRUPT) return log_corrupt_error(r);
        return err_set(r->done, "%s: reading the log failed before", r->path);
    }
    int in_record = 0;
    uint64_t record_offset = 0;
    for (;;) {
        struct frag fr;
        enum frag_status st;
        int rc = log_next_frag(r, &fr, &st);
        if (rc) return r->done = rc;
        if (st == FRAG_EOF) {
            if (in_record)
                return log_stop(r, record_offset, record_offset,
                                "record cut short by the end of the file", LOG_CUT_SHORT);
            r->done = 1;
            return 0;
        }
        if (st == FRAG_BAD) {
            /* A torn tail drops the whole record; corruption is reported where it is. */
            if (fr.cut == LOG_CUT_SHORT && log_length_damaged(r->block, r->block_len, r->pos))
                fr.cut = LOG_CUT_NONE;
            return log_stop(r, in_record && fr.cut ? record_offset : fr.offset, fr.offset + 1,
                            fr.why, fr.cut);
        }
        if (fr.type == LOG_FULL || fr.type == LOG_FIRST) {
            if (in_record)
                return log_stop(r, record_offset, fr.offset,
                                fr.type == LOG_FULL ? "FIRST without LAST before a FULL"
                                                    : "FIRST without LAST before a FIRST",
                                LOG_CUT_NONE);
            in_record = 1;
            record_offset = fr.offset;
        } else if (!in_record) {
            return log_stop(r, fr.offset, fr.offset + LOG_HEADER_SIZE + fr.len,
                            fr.type == LOG_MIDDLE ? "MIDDLE without FIRST" : "LAST without FIRST",
                            LOG_CUT_NONE);
        }
        if (buf_append(rec, fr.payload, fr.len))
            return err_set(LAMINA_ENOMEM, "%s: no memory for a log record at offset %llu", r->path,
                           (unsigned long long)record_offset);
        if (fr.type == LOG_FULL || fr.type == LOG_LAST) {
            r->end_offset = r->block_start + r->pos;
            return 1;
        }
    }
}
