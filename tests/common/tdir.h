/* tdir.h — temporary directories shared by the test suites: a mkdtemp directory under /tmp
 * for one test and the removal of a whole tree (files and subdirectories) when it ends. */
#ifndef TESTS_COMMON_TDIR_H
#define TESTS_COMMON_TDIR_H

#include <criterion/criterion.h>
#include <dirent.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

/* Creates /tmp/lamina-<tag>-XXXXXX and leaves its path in dst (cap bytes); fails the test
 * when it cannot. */
static inline void tdir_make(char *dst, size_t cap, const char *tag)
{
    snprintf(dst, cap, "/tmp/lamina-%s-XXXXXX", tag);
    char *made = mkdtemp(dst);
    cr_assert_not_null(made, "mkdtemp %s: %s", dst, strerror(errno));
}

/* Removes dir and everything below it; a dir that does not exist is not an error, so that a
 * teardown may run after a setup that failed. */
static inline void tdir_remove(const char *dir)
{
    DIR *d = opendir(dir);
    if (!d) return;
    struct dirent *de;
    char p[512];
    while ((de = readdir(d))) {
        if (!strcmp(de->d_name, ".") || !strcmp(de->d_name, "..")) continue;
        int n = snprintf(p, sizeof(p), "%s/%s", dir, de->d_name);
        if (n < 0 || (size_t)n >= sizeof(p)) continue; /* no test makes such long paths */
        if (unlink(p) != 0) tdir_remove(p);
    }
    closedir(d);
    rmdir(dir);
}

#endif
