/* fault_db.h — the Criterion side of the fault suite's fixtures: a temporary database
 * directory per test and asserting forms of the workload's open and lookup. */
#ifndef TESTS_FAULT_FAULT_DB_H
#define TESTS_FAULT_FAULT_DB_H

#include <criterion/criterion.h>

#include "tdir.h"
#include "util/fault.h"
#include "workload.h"

/* The running test's directory; the database is <dir>/db. */
static char fdb_dir[256], fdb_path[300];

static inline void fdb_setup(void)
{
    tdir_make(fdb_dir, sizeof(fdb_dir), "fault");
    snprintf(fdb_path, sizeof(fdb_path), "%s/db", fdb_dir);
}

static inline void fdb_teardown(void)
{
    fault_clear();
    tdir_remove(fdb_dir);
}

/* Whether key c of round r is present: 1 with its own value, 0 absent; a wrong value or an
 * error fails the test (a damaged database must never answer with wrong data). */
static inline int fdb_present(lamina_db *db, int r, uint64_t c)
{
    int rc = wl_lookup(db, r, c);
    cr_assert(rc != WL_WRONG, "round %d key %llu: a wrong value", r, (unsigned long long)c);
    cr_assert(rc == 0 || rc == 1, "round %d key %llu: %s: %s", r, (unsigned long long)c,
              lamina_strerror(rc), lamina_errmsg(db));
    return rc;
}

static inline lamina_db *fdb_open(int round)
{
    lamina_options o = wl_options(round);
    lamina_db *db = NULL;
    int rc = lamina_open(fdb_path, &o, &db);
    cr_assert_eq(rc, LAMINA_OK, "open: %s: %s", lamina_strerror(rc), lamina_errmsg(NULL));
    return db;
}

#endif
