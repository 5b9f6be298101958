/* Tests of util/err.h (codes, messages, per-thread buffers), util/hash.h and util/rng.h. */
#include <criterion/criterion.h>

#include <errno.h>
#include <pthread.h>
#include <stdio.h>
#include <string.h>

#include "lamina.h"
#include "util/err.h"
#include "util/hash.h"
#include "util/rng.h"

Test(err, strerror_names_every_code_and_unknown_ones)
{
    cr_assert_str_eq(lamina_strerror(LAMINA_EIO), "LAMINA_EIO: I/O error");
    for (int c = LAMINA_ENOENT; c <= 0; c++) {
        const char *s = lamina_strerror(c);
        cr_assert_not_null(s);
        cr_assert_eq(strncmp(s, "LAMINA_", 7), 0, "code %d: %s", c, s);
    }
    cr_assert_str_eq(lamina_strerror(-999), "unknown error");
    cr_assert_str_eq(lamina_strerror(5), "unknown error");
}

Test(err, set_formats_message_and_returns_code)
{
    err_clear();
    cr_assert_str_eq(err_message(), "");
    cr_assert_eq(err_set(LAMINA_ECORRUPT, "table %d at %llu: bad", 7, 4096ull), LAMINA_ECORRUPT);
    cr_assert_str_eq(err_message(), "table 7 at 4096: bad");
    cr_assert_str_eq(lamina_errmsg(NULL), "table 7 at 4096: bad");
    err_clear();
    cr_assert_str_eq(lamina_errmsg(NULL), "");
}

Test(err, errno_maps_codes_and_appends_text)
{
    cr_assert_eq(err_errno(ENOSPC, "write %s", "f"), LAMINA_ENOSPC);
    cr_assert_str_eq(err_message(), "write f: No space left on device");
    cr_assert_eq(err_errno(ENOMEM, "x"), LAMINA_ENOMEM);
    cr_assert_eq(err_errno(EIO, "x"), LAMINA_EIO);
    cr_assert_eq(err_errno(ENOENT, "open %s", "g"), LAMINA_EIO);
    cr_assert_str_eq(err_message(), "open g: No such file or directory");
}

Test(err, long_message_is_truncated_not_overflowed)
{
    char big[2000];
    memset(big, 'a', sizeof(big) - 1);
    big[sizeof(big) - 1] = 0;
    err_set(LAMINA_EIO, "%s", big);
    size_t n = strlen(err_message());
    cr_assert(n > 100 && n < sizeof(big) - 1);
    err_errno(EIO, "%s", big);
    cr_assert(strlen(err_message()) < sizeof(big) - 1);
}

static void *err_thread(void *arg)
{
    err_set(LAMINA_EIO, "thread message");
    return (void *)(strcmp(err_message(), "thread message") == 0 ? arg : NULL);
}

Test(err, message_is_per_thread)
{
    err_set(LAMINA_EINVAL, "main message");
    pthread_t t;
    void *res;
    cr_assert_eq(pthread_create(&t, NULL, err_thread, (void *)1), 0);
    pthread_join(t, &res);
    cr_assert_eq(res, (void *)1);
    cr_assert_str_eq(err_message(), "main message");
}

Test(err, version_is_built_from_macros)
{
    char want[32];
    snprintf(want, sizeof(want), "%d.%d.%d", LAMINA_VERSION_MAJOR, LAMINA_VERSION_MINOR,
             LAMINA_VERSION_PATCH);
    cr_assert_str_eq(lamina_version(), want);
    lamina_free(malloc(16));
    lamina_free(NULL);
}

Test(hash, xxh3_known_values_and_seed_changes_result)
{
    /* XXH3_64bits of the empty input with seed 0 (xxHash reference value). */
    cr_assert_eq(hash64("", 0), UINT64_C(0x2D06800538D394C2));
    cr_assert_eq(hash64("abc", 3), hash64_seed("abc", 3, 0));
    cr_assert_neq(hash64_seed("abc", 3, 1), hash64_seed("abc", 3, 2));
    cr_assert_neq(checksum32("block", 5, checksum_block_seed(1, 0)),
                  checksum32("block", 5, checksum_block_seed(2, 0)));
    cr_assert_neq(checksum32("block", 5, checksum_block_seed(1, 0)),
                  checksum32("block", 5, checksum_block_seed(1, 4096)));
}

Test(rng, same_seed_repeats_and_other_seed_differs)
{
    rng a, b;
    rng_seed(&a, 42);
    rng_seed(&b, 42);
    for (int i = 0; i < 1000; i++)
        cr_assert_eq(rng_next(&a), rng_next(&b));
    rng_seed(&b, 43);
    rng_seed(&a, 42);
    cr_assert_neq(rng_next(&a), rng_next(&b));
}

Test(rng, uniform_stays_in_range_and_covers_it)
{
    rng r;
    rng_seed(&r, 3);
    unsigned counts[10] = {0};
    for (int i = 0; i < 100000; i++) {
        uint64_t v = rng_uniform(&r, 10);
        cr_assert_lt(v, 10u);
        counts[v]++;
    }
    /* Each bucket expects 10000; a 20% band is > 20 standard deviations wide. */
    for (int i = 0; i < 10; i++)
        cr_assert(counts[i] > 8000 && counts[i] < 12000, "%u", counts[i]);
    for (int i = 0; i < 1000; i++)
        cr_assert_eq(rng_uniform(&r, 1), 0u);
    uint64_t big = (UINT64_C(1) << 63) + 12345;
    for (int i = 0; i < 1000; i++)
        cr_assert_lt(rng_uniform(&r, big), big);
}
