/* fuzz_dir.c — libFuzzer target for a whole database directory through the public API
 * (include/lamina.h). The input is a tiny archive:
 *   flags (1 byte) | { name length (1) | name | data length (4, little-endian) | data }...
 * (a length cut short by the end of the input takes what is left). Each file is written into a
 * fresh directory (names reduced to [A-Za-z0-9._-]); flags bit 0 reseals the checksums of the
 * logs (*.log, MANIFEST-*) and tables (*.sst) first, so mutations reach the decoders behind
 * them; bit 1 turns paranoid_checks off; bit 2 makes reads verify data block checksums; bits 3-4
 * are the wal_recovery_mode (tolerate_corrupted_tail, absolute_consistency, point_in_time,
 * skip_any). Then lamina_open, gets, a scan each way, lamina_verify and lamina_close: each must
 * return LAMINA_OK, LAMINA_NOTFOUND or a LAMINA_E* code — never crash, hang or leak. */
#include <stdlib.h>
#include <string.h>

#include "fuzz.h"
#include "lamina.h"

#define MAX_FILES 16
#define NAME_MAX_LEN 64
/* Entries a scan walks, and keys kept from it for gets, at most. */
#define SCAN_STEPS 5000
#define KEYS_KEPT 16

static int valid_rc(int rc)
{
    return rc == LAMINA_OK || rc == LAMINA_NOTFOUND || rc < 0;
}

static void name_clean(char *name)
{
    for (char *c = name; *c; c++)
        if (!((*c >= 'a' && *c <= 'z') || (*c >= 'A' && *c <= 'Z') || (*c >= '0' && *c <= '9') ||
              *c == '.' || *c == '-'))
            *c = '_';
    if (!strcmp(name, ".") || !strcmp(name, "..")) name[0] = '_';
}

static int ends_with(const char *s, const char *suffix)
{
    size_t n = strlen(s), m = strlen(suffix);
    return n >= m && !strcmp(s + n - m, suffix);
}

/* Writes the archive's files into dir; 0 or -1. */
static int unpack(const char *dir, const uint8_t *p, size_t n, int reseal)
{
    for (int files = 0; files < MAX_FILES && n > 0; files++) {
        size_t nl = p[0];
        p++, n--;
        if (nl == 0 || nl > NAME_MAX_LEN || nl > n) break;
        char name[NAME_MAX_LEN + 1];
        memcpy(name, p, nl);
        name[nl] = 0;
        name_clean(name);
        p += nl, n -= nl;
        size_t dl = 0;
        for (int i = 0; i < 4 && n > 0; i++, p++, n--)
            dl |= (size_t)p[0] << (8 * i);
        if (dl > n) dl = n;
        uint8_t *data = malloc(dl ? dl : 1);
        if (!data) return -1;
        memcpy(data, p, dl);
        p += dl, n -= dl;
        if (reseal && (ends_with(name, ".log") || !strncmp(name, "MANIFEST-", 9)))
            fuzz_reseal_log(data, dl);
        else if (reseal && ends_with(name, ".sst"))
            (void)fuzz_table_walk(data, dl, 1, NULL, NULL);
        int rc = fuzz_write(dir, name, data, dl);
        free(data);
        if (rc) return -1;
    }
    return 0;
}

static void get(lamina_db *db, const lamina_read_options *ro, const void *k, size_t kl)
{
    void *v = NULL;
    size_t vl = 0;
    int rc = lamina_get(db, ro, k, kl, &v, &vl);
    FUZZ_CHECK(valid_rc(rc));
    FUZZ_CHECK(rc == LAMINA_OK || v == NULL);
    lamina_free(v);
}

static void exercise(lamina_db *db, const lamina_read_options *ro)
{
    char *keys[KEYS_KEPT];
    size_t lens[KEYS_KEPT], nkeys = 0;
    lamina_iter *it;
    if (lamina_iter_create(db, ro, &it) == LAMINA_OK) {
        int steps = 0;
        for (FUZZ_CHECK(valid_rc(lamina_iter_seek_to_first(it)));
             lamina_iter_valid(it) && steps < SCAN_STEPS; steps++) {
            size_t kl, vl;
            const void *k = lamina_iter_key(it, &kl);
            (void)lamina_iter_value(it, &vl);
            if (nkeys < KEYS_KEPT && steps % 11 == 0 && (keys[nkeys] = malloc(kl + 1))) {
                memcpy(keys[nkeys], k, kl);
                lens[nkeys++] = kl;
            }
            FUZZ_CHECK(valid_rc(lamina_iter_next(it)));
        }
        FUZZ_CHECK(valid_rc(lamina_iter_status(it)));
        steps = 0;
        for (FUZZ_CHECK(valid_rc(lamina_iter_seek_to_last(it)));
             lamina_iter_valid(it) && steps < SCAN_STEPS; steps++)
            FUZZ_CHECK(valid_rc(lamina_iter_prev(it)));
        if (nkeys) {
            FUZZ_CHECK(valid_rc(lamina_iter_seek(it, keys[0], lens[0])));
            FUZZ_CHECK(valid_rc(lamina_iter_seek_for_prev(it, keys[nkeys - 1], lens[nkeys - 1])));
        }
        lamina_iter_destroy(it);
    }
    for (size_t i = 0; i < nkeys; i++) {
        get(db, ro, keys[i], lens[i]);
        free(keys[i]);
    }
    get(db, ro, "a", 1);
    get(db, ro, "", 0);
    uint64_t entries;
    FUZZ_CHECK(valid_rc(lamina_verify(db, &entries)));
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size < 1) return 0;
    const char *dir = fuzz_dir();
    if (!dir || unpack(dir, data + 1, size - 1, data[0] & 1)) return 0;
    lamina_options o;
    lamina_options_init(&o);
    o.create_if_missing = 0;
    o.paranoid_checks = data[0] & 2 ? 0 : 1;
    o.wal_recovery_mode = (data[0] >> 3) & 3;
    o.write_buffer_size = 65536;
    o.max_background_jobs = 1;
    o.cache_size = 256 << 10;
    lamina_db *db = NULL;
    int rc = lamina_open(dir, &o, &db);
    FUZZ_CHECK(valid_rc(rc));
    if (rc != LAMINA_OK) {
        (void)lamina_errmsg(NULL);
        return 0;
    }
    lamina_read_options ro;
    lamina_read_options_init(&ro);
    ro.verify_checksums = data[0] & 4 ? 1 : 0;
    exercise(db, &ro);
    FUZZ_CHECK(valid_rc(lamina_close(db)));
    return 0;
}
