/* test_options.h — one switch for the table format the suites run with: meson runs the suites
 * that write tables a second time with LAMINA_TEST_OPTIONS set (e.g. "index_type=fst"), so
 * every test of tables, the database, recovery and damage also passes for that kind.
 * The variable holds comma-separated name=value pairs of the options table. */
#ifndef TESTS_COMMON_TEST_OPTIONS_H
#define TESTS_COMMON_TEST_OPTIONS_H

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* The value LAMINA_TEST_OPTIONS gives name, copied into dst (cap bytes); 0 if it gives none. */
static inline int test_option_value(const char *name, char *dst, size_t cap)
{
    const char *env = getenv("LAMINA_TEST_OPTIONS");
    size_t n = strlen(name);
    for (const char *p = env; p && *p;) {
        const char *end = strchr(p, ',');
        size_t len = end ? (size_t)(end - p) : strlen(p);
        if (len > n && memcmp(p, name, n) == 0 && p[n] == '=') {
            snprintf(dst, cap, "%.*s", (int)(len - n - 1), p + n + 1);
            return 1;
        }
        p = end ? end + 1 : p + len;
    }
    return 0;
}

/* The table index kind and format version the run asks for (LAMINA_INDEX_BTREE = 0 and the
 * newest format, 0, by default), for suites below the public API. */
static inline int test_index_type(void)
{
    char v[32];
    return test_option_value("index_type", v, sizeof(v)) && strcmp(v, "fst") == 0 ? 1 : 0;
}
static inline int test_format_version(void)
{
    char v[32];
    return test_option_value("format_version", v, sizeof(v)) ? atoi(v) : 0;
}

#ifdef LAMINA_H
/* Applies every pair of LAMINA_TEST_OPTIONS to o; a bad pair aborts the run loudly. */
static inline void test_options_apply(lamina_options *o)
{
    const char *env = getenv("LAMINA_TEST_OPTIONS");
    char pair[256];
    for (const char *p = env; p && *p;) {
        const char *end = strchr(p, ',');
        size_t len = end ? (size_t)(end - p) : strlen(p);
        snprintf(pair, sizeof(pair), "%.*s", (int)len, p);
        char *eq = strchr(pair, '=');
        if (!eq || (*eq = 0, lamina_options_set(o, pair, eq + 1)) != 0) {
            fprintf(stderr, "LAMINA_TEST_OPTIONS: bad pair '%.*s'\n", (int)len, p);
            abort();
        }
        p = end ? end + 1 : p + len;
    }
}
#endif

#endif
