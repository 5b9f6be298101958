/* test_concurrency.c — the thread-safe handle: writers, readers, iterators and snapshots on
 * many threads while flushes and compactions run in the background (concurrent.c; the TSan
 * build runs the same scenarios from tsan_db.c). */
#include "concurrent.h"
#include "helpers.h"

TestSuite(concurrency, .init = tdb_setup, .fini = tdb_teardown);

Test(concurrency, writers_readers_and_background_jobs_agree)
{
    lamina_options o = conc_options();
    lamina_db *db = tdb_open(T.path, &o);
    cr_assert_eq(conc_writers_and_readers(db), 0, "%s", lamina_errmsg(db));
    cr_assert_eq(lamina_close(db), LAMINA_OK);
}

Test(concurrency, compact_range_runs_beside_writers)
{
    lamina_options o = conc_options();
    lamina_db *db = tdb_open(T.path, &o);
    cr_assert_eq(conc_compact_beside_writers(db), 0, "%s", lamina_errmsg(db));
    cr_assert_eq(lamina_close(db), LAMINA_OK);
}

Test(concurrency, cached_super_versions_survive_installs_thread_exits_and_reopen, .timeout = 300)
{
    char other[400];
    snprintf(other, sizeof(other), "%s/other", T.dir);
    cr_assert_eq(conc_super_version_churn(T.path, other), 0, "%s", lamina_errmsg(NULL));
}

Test(concurrency, range_deletes_beside_readers, .timeout = 300)
{
    lamina_options o = conc_options();
    lamina_db *db = tdb_open(T.path, &o);
    cr_assert_eq(conc_range_deletes_beside_readers(db), 0, "%s", lamina_errmsg(db));
    cr_assert_eq(lamina_close(db), LAMINA_OK);
}
