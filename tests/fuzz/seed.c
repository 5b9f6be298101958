/* seed.c — turns the files of a real database into seed inputs of the fuzz targets
 * (tests/fuzz/make-corpus.sh runs it; the input formats are in each fuzz_*.c):
 *   seed blocks TABLE OUTDIR NAME   every block of TABLE as a fuzz_block input
 *                                   (OUTDIR/NAME-<kind><i>: data and index blocks with
 *                                   internal keys, the properties block with plain keys)
 *   seed records LOG HEAD OUT       the records of a WAL or MANIFEST as 2-byte length pieces,
 *                                   after the bytes HEAD (hex: the mode byte and what follows
 *                                   it in the target's input)
 *   seed archive DIR FLAGS OUT      the files of DIR (but LOCK) as a fuzz_dir archive */
#include <dirent.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "engine/log.h"
#include "fuzz.h"
#include "util/file.h"

static int write_out(const char *path, const uint8_t *head, size_t hn, const uint8_t *p, size_t n)
{
    FILE *f = fopen(path, "wb");
    if (!f) return -1;
    int ok = fwrite(head, 1, hn, f) == hn && fwrite(p, 1, n, f) == n;
    return fclose(f) == 0 && ok ? 0 : -1;
}

struct blocks {
    const char *dir, *name;
    int count[256];
    int failed;
};

static void visit(void *ctx, int kind, const uint8_t *b, size_t len)
{
    struct blocks *s = ctx;
    if (kind == 'f') return; /* a Bloom filter is not a block of entries */
    char path[4096];
    snprintf(path, sizeof(path), "%s/%s-%c%d", s->dir, s->name, kind, s->count[kind]++);
    uint8_t mode = kind == 'p' ? 0 : 2; /* fuzz_block: raw contents, internal keys or not */
    if (write_out(path, &mode, 1, b, len)) s->failed = 1;
}

static int seed_blocks(const char *table, const char *dir, const char *name)
{
    uint8_t *p;
    size_t n;
    if (file_read_all(table, &p, &n)) return -1;
    struct blocks s = {dir, name, {0}, 0};
    uint64_t number = fuzz_table_walk(p, n, 0, visit, &s);
    mem_free(p);
    return number && !s.failed ? 0 : -1;
}

static int seed_records(const char *log, const char *head, const char *out)
{
    log_reader *r;
    if (log_reader_open(log, &r)) return -1;
    buf all = {0}, rec = {0};
    int rc = 0;
    for (const char *h = head; rc == 0 && h[0] && h[1]; h += 2) {
        char hex[3] = {h[0], h[1], 0};
        uint8_t byte = (uint8_t)strtoul(hex, NULL, 16);
        rc = buf_append(&all, &byte, 1);
    }
    while (rc == 0 && log_reader_next(r, &rec) == 1) {
        size_t n = rec.len > 0xffff ? 0xffff : rec.len;
        uint8_t len[2] = {(uint8_t)n, (uint8_t)(n >> 8)};
        rc = buf_append(&all, len, 2) || buf_append(&all, rec.data, n);
    }
    log_reader_close(r);
    if (rc == 0) rc = write_out(out, NULL, 0, all.data, all.len);
    buf_free(&rec);
    buf_free(&all);
    return rc;
}

static int seed_archive(const char *dir, uint8_t flags, const char *out)
{
    char **names;
    size_t n;
    if (dir_list(dir, &names, &n)) return -1;
    buf all = {0};
    int rc = buf_append(&all, &flags, 1);
    for (size_t i = 0; i < n && rc == 0; i++) {
        if (!strcmp(names[i], "LOCK")) continue;
        char path[4096];
        snprintf(path, sizeof(path), "%s/%s", dir, names[i]);
        uint8_t *p;
        size_t len, nl = strlen(names[i]);
        if (file_read_all(path, &p, &len)) continue; /* a subdirectory */
        uint8_t head[5] = {(uint8_t)nl}, size[4];
        coding_put_fixed32(size, (uint32_t)len);
        rc = buf_append(&all, head, 1) || buf_append(&all, names[i], nl) ||
             buf_append(&all, size, 4) || buf_append(&all, p, len);
        mem_free(p);
    }
    dir_list_free(names, n);
    if (rc == 0) rc = write_out(out, NULL, 0, all.data, all.len);
    buf_free(&all);
    return rc;
}

int main(int argc, char **argv)
{
    int rc = -1;
    if (argc == 5 && !strcmp(argv[1], "blocks"))
        rc = seed_blocks(argv[2], argv[3], argv[4]);
    else if (argc == 5 && !strcmp(argv[1], "records"))
        rc = seed_records(argv[2], argv[3], argv[4]);
    else if (argc == 5 && !strcmp(argv[1], "archive"))
        rc = seed_archive(argv[2], (uint8_t)atoi(argv[3]), argv[4]);
    else
        fprintf(stderr, "usage: seed blocks TABLE OUTDIR NAME | records LOG HEAD OUT | "
                        "archive DIR FLAGS OUT\n");
    if (rc) fprintf(stderr, "seed %s failed\n", argc > 1 ? argv[1] : "");
    return rc ? 1 : 0;
}
