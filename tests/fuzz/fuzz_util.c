/* fuzz_util.c — helpers of the fuzz targets (fuzz.h): the scratch directory, resealing of log
 * fragments (docs/format.md, the log format) and of table blocks (footer, trailers, and the
 * B-tree index walk that finds the data blocks). */
#include "fuzz.h"

#include <fcntl.h>
#include <ftw.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include <zstd.h>

#include "engine/log.h"
#include "sst/block.h"
#include "sst/format.h"
#include "util/hash.h"

/* ---- Scratch directory ------------------------------------------------------------------ */

static char scratch[256];
static int scratch_keep; /* nftw's callback keeps the top directory itself */

static int remove_entry(const char *path, const struct stat *st, int flag, struct FTW *at)
{
    (void)st, (void)flag;
    return at->level == 0 && scratch_keep ? 0 : remove(path);
}

/* Removes what dir holds (keep) or dir with it, deepest first. */
static void dir_empty(const char *dir, int keep)
{
    scratch_keep = keep;
    (void)nftw(dir, remove_entry, 16, FTW_DEPTH | FTW_PHYS);
}

static void scratch_remove(void)
{
    if (scratch[0]) dir_empty(scratch, 0);
}

const char *fuzz_dir(void)
{
    if (!scratch[0]) {
        const char *tmp = getenv("TMPDIR");
        snprintf(scratch, sizeof(scratch), "%s/lamina-fuzz-XXXXXX", tmp && *tmp ? tmp : "/tmp");
        if (!mkdtemp(scratch)) {
            scratch[0] = 0;
            return NULL;
        }
        atexit(scratch_remove);
    }
    dir_empty(scratch, 1);
    return scratch;
}

int fuzz_write(const char *dir, const char *name, const void *p, size_t n)
{
    char path[512];
    snprintf(path, sizeof(path), "%s/%s", dir, name);
    int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, 0644);
    if (fd < 0) return -1;
    const uint8_t *b = p;
    while (n) {
        ssize_t w = write(fd, b, n);
        if (w <= 0) {
            close(fd);
            return -1;
        }
        b += w;
        n -= (size_t)w;
    }
    return close(fd) == 0 ? 0 : -1;
}

int fuzz_next_piece(const uint8_t **data, size_t *size, const uint8_t **piece, size_t *len)
{
    if (*size < 2) return 0;
    size_t n = (size_t)(*data)[0] | (size_t)(*data)[1] << 8;
    *data += 2;
    *size -= 2;
    if (n > *size) n = *size;
    *piece = *data;
    *len = n;
    *data += n;
    *size -= n;
    return 1;
}

/* ---- Logs ------------------------------------------------------------------------------- */

void fuzz_reseal_log(uint8_t *p, size_t n)
{
    static uint8_t frag[1 + LOG_BLOCK_SIZE];
    for (size_t block = 0; block < n; block += LOG_BLOCK_SIZE) {
        size_t end = block + LOG_BLOCK_SIZE < n ? block + LOG_BLOCK_SIZE : n;
        for (size_t off = block; off + LOG_HEADER_SIZE <= end;) {
            size_t len = (size_t)p[off + 4] | (size_t)p[off + 5] << 8;
            if (off + LOG_HEADER_SIZE + len > end) break;
            /* The checksum covers type byte + payload (log.c's log_checksum). */
            frag[0] = p[off + 6];
            memcpy(frag + 1, p + off + LOG_HEADER_SIZE, len);
            coding_put_fixed32(p + off, checksum32(frag, 1 + len, 0));
            off += LOG_HEADER_SIZE + len;
        }
    }
}

int fuzz_log_in_padding(const uint8_t *p, size_t n, size_t off)
{
    size_t block = off - off % LOG_BLOCK_SIZE;
    size_t end = block + LOG_BLOCK_SIZE < n ? block + LOG_BLOCK_SIZE : n;
    for (size_t at = block; at + LOG_HEADER_SIZE <= end;) {
        at += LOG_HEADER_SIZE + ((size_t)p[at + 4] | (size_t)p[at + 5] << 8);
        if (off < at) return 0;
    }
    return 1;
}

/* ---- Tables ----------------------------------------------------------------------------- */

/* Blocks the walk decompresses may not exceed this: larger frames are left alone. */
#define WALK_MAX_BLOCK (1u << 20)
/* Blocks one walk visits at most, so a cyclic or huge index costs bounded time. */
#define WALK_MAX_BLOCKS 4096

struct walk {
    uint8_t *p;
    uint64_t limit; /* blocks end before the footer */
    uint64_t file_number;
    int reseal;
    unsigned budget;
    void (*visit)(void *ctx, int kind, const uint8_t *b, size_t len);
    void *ctx;
};

/* Reseals the block at h and gives its uncompressed contents: *owned is a malloc'ed copy
 * (zstd) or NULL (contents point into the file). -1 when h or the block is unusable. */
static int walk_block(struct walk *w, struct block_handle h, const uint8_t **contents, size_t *len,
                      uint8_t **owned)
{
    *owned = NULL;
    if (w->budget == 0) return -1;
    w->budget--;
    if (h.size > w->limit || h.offset > w->limit ||
        h.size + BLOCK_TRAILER_SIZE > w->limit - h.offset)
        return -1;
    uint8_t *b = w->p + h.offset;
    size_t n = (size_t)h.size;
    if (w->reseal)
        coding_put_fixed32(b + n + 1,
                           checksum32(b, n + 1, checksum_block_seed(w->file_number, h.offset)));
    if (b[n] == BLOCK_TYPE_NONE) {
        *contents = b;
        *len = n;
        return 0;
    }
    if (b[n] != BLOCK_TYPE_ZSTD) return -1;
    unsigned long long u = ZSTD_getFrameContentSize(b, n);
    if (u == ZSTD_CONTENTSIZE_UNKNOWN || u == ZSTD_CONTENTSIZE_ERROR || u > WALK_MAX_BLOCK)
        return -1;
    uint8_t *d = malloc(u ? (size_t)u : 1);
    if (!d) return -1;
    size_t got = ZSTD_decompress(d, (size_t)u, b, n);
    if (ZSTD_isError(got) || got != u) {
        free(d);
        return -1;
    }
    *contents = *owned = d;
    *len = (size_t)u;
    return 0;
}

static void walk_leaf(struct walk *w, int kind, struct block_handle h)
{
    const uint8_t *c;
    size_t len;
    uint8_t *owned;
    if (walk_block(w, h, &c, &len, &owned)) return;
    if (w->visit) w->visit(w->ctx, kind, c, len);
    free(owned);
}

/* An index block of the given level (1: its entries name data blocks). */
static void walk_index(struct walk *w, struct block_handle h, int level)
{
    const uint8_t *c;
    size_t len;
    uint8_t *owned;
    if (walk_block(w, h, &c, &len, &owned)) return;
    if (w->visit) w->visit(w->ctx, 'i', c, len);
    struct block b;
    if (block_parse(&b, c, len) == 0) {
        uint32_t off = 0, next, shared;
        const uint8_t *k, *v;
        size_t kl, vl;
        while (block_entry_at(&b, off, &shared, &k, &kl, &v, &vl, &next) == 0 && next > off) {
            struct block_handle child;
            if (block_handle_decode(v, v + vl, &child) == 0) {
                if (level > 1)
                    walk_index(w, child, level - 1);
                else
                    walk_leaf(w, 'd', child);
            }
            off = next;
        }
    }
    free(owned);
}

uint64_t fuzz_table_walk(uint8_t *p, size_t n, int reseal,
                         void (*visit)(void *ctx, int kind, const uint8_t *b, size_t len),
                         void *ctx)
{
    if (n < TABLE_FOOTER_SIZE) return 0;
    uint8_t *foot = p + n - TABLE_FOOTER_SIZE;
    if (reseal) coding_put_fixed32(foot + 64, checksum32(foot, 64, 0));
    struct table_footer f;
    if (table_footer_decode(foot, "fuzz", &f)) return 0;
    struct walk w = {p, n - TABLE_FOOTER_SIZE, f.file_number, reseal, WALK_MAX_BLOCKS, visit, ctx};
    if (f.filter.size) walk_leaf(&w, 'f', f.filter);
    walk_leaf(&w, 'p', f.properties);
    if (f.index_levels >= 1 && f.index_levels <= 8) walk_index(&w, f.index, f.index_levels);
    return f.file_number;
}
