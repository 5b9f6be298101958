/* test_version.c — versions built from edits: when a table's file may be deleted. A trivial move
 * re-links a table at the next level under the same file number; versions from before the move
 * still name it, so the file must outlive them all. */
#include <criterion/criterion.h>
#include <string.h>

#include "engine/manifest.h"
#include "engine/version.h"

static uint64_t queued[16];
static size_t nqueued;

static void on_obsolete(void *ctx, uint64_t number)
{
    (void)ctx;
    cr_assert_lt(nqueued, 16);
    queued[nqueued++] = number;
}

static struct version_set vs;

static void vs_setup(void)
{
    nqueued = 0;
    version_set_init(&vs, "/nonexistent", NULL, 4);
    vs.on_obsolete = on_obsolete;
    cr_assert_eq(version_set_create_empty(&vs), 0);
}

static void vs_teardown(void)
{
    version_set_close(&vs);
}

TestSuite(version, .init = vs_setup, .fini = vs_teardown);

static void add(struct version_edit *e, int level, uint64_t run, uint64_t number, const char *lo,
                const char *hi)
{
    uint8_t s[16], l[16];
    size_t sn = strlen(lo), ln = strlen(hi);
    memcpy(s, lo, sn);
    memset(s + sn, 0, 8);
    memcpy(l, hi, ln);
    memset(l + ln, 0, 8);
    struct edit_file ef = {.level = level,
                           .run = run,
                           .file_number = number,
                           .file_size = 100,
                           .smallest = s,
                           .smallest_len = sn + 8,
                           .largest = l,
                           .largest_len = ln + 8};
    cr_assert_eq(version_edit_add_file(e, &ef), 0);
}

static struct version *apply(struct version *base, struct version_edit *e)
{
    struct version *v;
    cr_assert_eq(version_apply(base, e, 1, &v), 0);
    version_edit_free(e);
    version_edit_init(e);
    return v;
}

Test(version, moved_table_is_deleted_only_after_every_version_naming_it)
{
    struct version_edit e;
    version_edit_init(&e);
    add(&e, 1, 1, 5, "a", "c");
    struct version *v1 = apply(vs.current, &e);
    /* Trivial move of table 5 from level 1 to level 2. */
    cr_assert_eq(version_edit_delete_file(&e, 1, 5), 0);
    add(&e, 2, 2, 5, "a", "c");
    struct version *v2 = apply(v1, &e);
    cr_expect_eq(v2->levels[2].nfiles, 1);
    cr_expect_eq(v2->levels[1].nfiles, 0);
    /* A compaction then replaces table 5 by table 6 at level 2. */
    cr_assert_eq(version_edit_delete_file(&e, 2, 5), 0);
    add(&e, 2, 2, 6, "a", "c");
    struct version *v3 = apply(v2, &e);
    version_edit_free(&e);

    version_unref(v2);
    cr_expect_eq(nqueued, 0, "v1 (an old iterator's view) still names table 5 at level 1");
    version_unref(v1);
    cr_assert_eq(nqueued, 1, "the last version naming table 5 is gone");
    cr_expect_eq(queued[0], 5);
    version_unref(v3);
    cr_expect_eq(nqueued, 1, "table 6 is live in the current version");
}

Test(version, moved_table_that_stays_live_is_never_deleted)
{
    struct version_edit e;
    version_edit_init(&e);
    add(&e, 1, 1, 7, "a", "c");
    struct version *v1 = apply(vs.current, &e);
    cr_assert_eq(version_edit_delete_file(&e, 1, 7), 0);
    add(&e, 2, 2, 7, "a", "c");
    struct version *v2 = apply(v1, &e);
    version_edit_free(&e);
    version_unref(v1);
    cr_expect_eq(nqueued, 0, "the move's new entry still names the file");
    version_unref(v2);
    cr_expect_eq(nqueued, 0, "never obsolete: only the set was closed");
}
