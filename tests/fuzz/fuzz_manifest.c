/* fuzz_manifest.c — libFuzzer target for MANIFEST recovery: the version edit decoder
 * (engine/version_edit.h) and version_set_recover (engine/manifest.h) over a directory holding
 * CURRENT and the MANIFEST. The first byte picks:
 *   bit 0 clear: the rest is a MANIFEST file (bit 1: reseal each fragment's checksum first);
 *   bit 0 set:   the rest is a position (4 bytes, little-endian; its top 3 bits pick a bit)
 *                and a list of records (2-byte length pieces): each is decoded as a version
 *                edit, and one that decodes must survive encode -> decode -> encode unchanged;
 *                then they are written with the log writer as the MANIFEST. With bit 3 too,
 *                when that MANIFEST recovers, the bit at the position is flipped, and recovery
 *                must then fail with LAMINA_ECORRUPT (the MANIFEST is strict: damage to a
 *                complete record is never taken for its end), unless the bit is in a block's
 *                padding.
 * Bit 2 makes CURRENT name a MANIFEST that does not exist. Recovery must return 0 or a
 * LAMINA_E* code (LAMINA_ECORRUPT, LAMINA_EINVAL for a level beyond num_levels). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "engine/log.h"
#include "engine/manifest.h"
#include "engine/version_edit.h"
#include "fuzz.h"
#include "util/err.h"
#include "util/file.h"

#define MAX_RECORDS 256
#define NUM_LEVELS 7

static void edit_roundtrip(const uint8_t *p, size_t n)
{
    struct version_edit e1, e2;
    int rc = version_edit_decode(&e1, p, n);
    FUZZ_CHECK(rc == 0 || rc == LAMINA_ECORRUPT || rc == LAMINA_ENOMEM);
    if (rc) return; /* a failed decode frees what it had built (as recovery relies on) */
    buf a = {0}, b = {0};
    if (version_edit_encode(&e1, &a) == 0) {
        FUZZ_CHECK(version_edit_decode(&e2, a.data, a.len) == 0);
        if (version_edit_encode(&e2, &b) == 0)
            FUZZ_CHECK(a.len == b.len && (a.len == 0 || !memcmp(a.data, b.data, a.len)));
        version_edit_free(&e2);
    }
    buf_free(&a);
    buf_free(&b);
    version_edit_free(&e1);
}

static int write_records(const char *path, const uint8_t *data, size_t size)
{
    wfile *f;
    if (wfile_create(path, &f)) return -1;
    log_writer *w = log_writer_create(f, 0);
    int rc = w ? 0 : LAMINA_ENOMEM, n = 0;
    const uint8_t *rec;
    size_t len;
    while (rc == 0 && n++ < MAX_RECORDS && fuzz_next_piece(&data, &size, &rec, &len)) {
        edit_roundtrip(rec, len);
        rc = log_writer_add(w, rec, len, 0);
    }
    log_writer_destroy(w);
    return wfile_close(f) || rc ? -1 : 0;
}

static int recover(const char *dir)
{
    struct version_set vs;
    uint64_t last_seq = 0;
    version_set_init(&vs, dir, NULL, NUM_LEVELS);
    int rc = version_set_recover(&vs, &last_seq);
    FUZZ_CHECK(rc == 0 || rc == LAMINA_ECORRUPT || rc == LAMINA_EINVAL || rc == LAMINA_ENOMEM ||
               rc == LAMINA_EIO);
    if (rc == 0) FUZZ_CHECK(vs.current != NULL);
    version_set_close(&vs);
    return rc;
}

/* Flips the bit pos picks in the MANIFEST at path and checks that recovery reports it. */
static void flip_and_recover(const char *dir, const char *path, uint32_t pos)
{
    uint8_t *file;
    size_t n;
    if (file_read_all(path, &file, &n)) return;
    size_t off = n ? pos % n : 0;
    if (n && !fuzz_log_in_padding(file, n, off)) {
        file[off] ^= (uint8_t)(1u << (pos >> 29));
        if (fuzz_write(dir, "MANIFEST-000005", file, n) == 0)
            FUZZ_CHECK(recover(dir) == LAMINA_ECORRUPT);
    }
    mem_free(file);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size < 1) return 0;
    const char *dir = fuzz_dir();
    if (!dir) return 0;
    uint8_t mode = data[0];
    char path[512];
    snprintf(path, sizeof(path), "%s/MANIFEST-000005", dir);
    const char *current = mode & 4 ? "MANIFEST-000009\n" : "MANIFEST-000005\n";
    if (fuzz_write(dir, "CURRENT", current, strlen(current))) return 0;
    uint32_t pos = 0;
    if (mode & 1) {
        if (size < 5) return 0;
        pos = coding_get_fixed32(data + 1);
        if (write_records(path, data + 5, size - 5)) return 0;
    } else {
        uint8_t *file = malloc(size);
        if (!file) return 0;
        memcpy(file, data + 1, size - 1);
        if (mode & 2) fuzz_reseal_log(file, size - 1);
        int rc = fuzz_write(dir, "MANIFEST-000005", file, size - 1);
        free(file);
        if (rc) return 0;
    }
    if (recover(dir) == 0 && (mode & 9) == 9) flip_and_recover(dir, path, pos);
    err_clear();
    return 0;
}
