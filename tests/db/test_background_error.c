/* test_background_error.c — a failed flush or WAL sync makes the database read-only with the
 * first error's own message, which lamina_close returns too; reads go on; lamina_resume makes it
 * writable again once the cause is gone (and fails, staying read-only, while it is not), with
 * nothing acknowledged lost across a reopen. */
#include <errno.h>

#include "helpers.h"
#include "util/file.h"

TestSuite(background_error, .init = tdb_setup, .fini = tdb_teardown);

/* Fails every `op` on files whose name ends with `suffix` with `err`. */
struct fail_plan {
    const char *op, *suffix;
    int err;
};

static int fail_op(const char *op, const char *path, void *ctx)
{
    const struct fail_plan *p = ctx;
    size_t n = strlen(path), m = strlen(p->suffix);
    return strcmp(op, p->op) == 0 && n >= m && strcmp(path + n - m, p->suffix) == 0 ? p->err : 0;
}

static void expect_readonly_with(lamina_db *db, const char *text)
{
    cr_assert_eq(lamina_put(db, NULL, "x", 1, "y", 1), LAMINA_EREADONLY);
    cr_assert_not_null(strstr(lamina_errmsg(db), text), "%s", lamina_errmsg(db));
}

Test(background_error, a_full_disk_keeps_its_message_through_close)
{
    lamina_options o = tdb_small_options();
    lamina_db *db = tdb_open(T.path, &o);
    tdb_put_range(db, NULL, 0, 300, 0);
    struct fail_plan p = {"write", ".sst", ENOSPC};
    file_set_fault_hook(fail_op, &p);
    cr_assert_eq(lamina_flush(db), LAMINA_EREADONLY);
    expect_readonly_with(db, "No space left on device");
    tdb_expect_range(db, 0, 300, 0);
    file_set_fault_hook(NULL, NULL);
    cr_assert_eq(lamina_close(db), LAMINA_ENOSPC);
    cr_assert_not_null(strstr(lamina_errmsg(NULL), "No space left on device"), "%s",
                       lamina_errmsg(NULL));
    db = tdb_open(T.path, &o);
    tdb_expect_range(db, 0, 300, 0);
    cr_assert_eq(lamina_close(db), LAMINA_OK);
}

Test(background_error, resume_after_a_failed_flush_loses_nothing)
{
    lamina_options o = tdb_small_options();
    lamina_db *db = tdb_open(T.path, &o);
    tdb_put_range(db, NULL, 0, 300, 0);
    struct fail_plan p = {"sync", ".sst", EIO};
    file_set_fault_hook(fail_op, &p);
    cr_assert_eq(lamina_flush(db), LAMINA_EREADONLY);
    /* The cause is still there: resume fails and the database stays read-only. */
    cr_assert_neq(lamina_resume(db), LAMINA_OK);
    expect_readonly_with(db, "read-only");
    tdb_expect_range(db, 0, 300, 0);
    file_set_fault_hook(NULL, NULL);
    cr_assert_eq(lamina_resume(db), LAMINA_OK, "%s", lamina_errmsg(db));
    cr_assert_eq(lamina_resume(db), LAMINA_OK, "nothing to resume is not an error");
    tdb_put_range(db, NULL, 300, 600, 0);
    cr_assert_eq(lamina_flush(db), LAMINA_OK, "%s", lamina_errmsg(db));
    tdb_expect_range(db, 0, 600, 0);
    cr_assert_eq(lamina_close(db), LAMINA_OK);
    db = tdb_open(T.path, &o);
    tdb_expect_range(db, 0, 600, 0);
    cr_assert_eq(lamina_close(db), LAMINA_OK);
}

Test(background_error, resume_after_a_failed_wal_sync_writes_to_a_new_wal)
{
    lamina_options o = tdb_small_options();
    o.write_buffer_size = 8 << 20;
    lamina_db *db = tdb_open(T.path, &o);
    lamina_write_options wo;
    lamina_write_options_init(&wo);
    wo.sync = 1;
    tdb_put_range(db, &wo, 0, 100, 0);
    struct fail_plan p = {"sync", ".log", EIO};
    file_set_fault_hook(fail_op, &p);
    cr_assert_eq(lamina_put(db, &wo, "k", 1, "v", 1), LAMINA_EIO);
    file_set_fault_hook(NULL, NULL);
    expect_readonly_with(db, "read-only");
    cr_assert_eq(lamina_resume(db), LAMINA_OK, "%s", lamina_errmsg(db));
    tdb_put_range(db, &wo, 100, 200, 0);
    cr_assert_eq(lamina_close(db), LAMINA_OK);
    db = tdb_open(T.path, &o);
    tdb_expect_range(db, 0, 200, 0);
    cr_assert_eq(lamina_close(db), LAMINA_OK);
}
