/* dirsnap.h — a directory's files and a hash of each one's bytes, taken before and after
 * something that must not write (read-only opens, kvctl's reading commands), and compared: a
 * file added, removed, resized or with a byte changed fails the test. Subdirectories are
 * listed by name only. */
#ifndef TESTS_COMMON_DIRSNAP_H
#define TESTS_COMMON_DIRSNAP_H

#include <criterion/criterion.h>
#include <dirent.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#define DIRSNAP_MAX 512

struct dirsnap {
    size_t n;
    struct {
        char name[256];
        uint64_t size, hash; /* FNV-1a 64 of the bytes */
    } f[DIRSNAP_MAX];
};

static inline int dirsnap_cmp(const void *a, const void *b)
{
    return strcmp((const char *)a, (const char *)b);
}

/* Fills *s (sorted by name) from dir; fails the test when dir cannot be read. */
static inline void dirsnap_take(const char *dir, struct dirsnap *s)
{
    DIR *d = opendir(dir);
    cr_assert_not_null(d, "opendir %s", dir);
    struct dirent *de;
    s->n = 0;
    while ((de = readdir(d))) {
        if (!strcmp(de->d_name, ".") || !strcmp(de->d_name, "..")) continue;
        cr_assert_lt(s->n, DIRSNAP_MAX, "too many files in %s", dir);
        char path[1024];
        snprintf(path, sizeof(path), "%s/%s", dir, de->d_name);
        snprintf(s->f[s->n].name, sizeof(s->f[0].name), "%s", de->d_name);
        uint64_t h = 1469598103934665603ull, size = 0;
        struct stat st;
        if (stat(path, &st) == 0 && S_ISREG(st.st_mode)) {
            FILE *f = fopen(path, "rb");
            cr_assert_not_null(f, "open %s", path);
            int c;
            while ((c = fgetc(f)) != EOF) {
                h = (h ^ (uint8_t)c) * 1099511628211ull;
                size++;
            }
            fclose(f);
        }
        s->f[s->n].size = size;
        s->f[s->n].hash = h;
        s->n++;
    }
    closedir(d);
    qsort(s->f, s->n, sizeof(s->f[0]), dirsnap_cmp);
}

/* Fails the test, naming the first difference, unless a and b hold the same files with the
 * same bytes. */
static inline void dirsnap_expect_same(const struct dirsnap *a, const struct dirsnap *b)
{
    size_t i = 0, j = 0;
    while (i < a->n || j < b->n) {
        int c = i == a->n ? 1 : j == b->n ? -1 : strcmp(a->f[i].name, b->f[j].name);
        cr_assert(c <= 0, "file %s was added", b->f[j].name);
        cr_assert(c >= 0, "file %s was removed", a->f[i].name);
        cr_assert_eq(a->f[i].size, b->f[j].size, "file %s changed size", a->f[i].name);
        cr_assert_eq(a->f[i].hash, b->f[j].hash, "file %s changed bytes", a->f[i].name);
        i++;
        j++;
    }
}

#endif
