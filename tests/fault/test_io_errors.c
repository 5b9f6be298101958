/* I/O errors injected during a load that flushes, compacts and reopens: for each operation kind
 * (write, sync, create, rename, remove, dir_sync, read, open) and each of EIO and ENOSPC, on any
 * file and on tables or the MANIFEST alone. The load must end with a clear error or a
 * read-only database that keeps the first error's own message (through lamina_close too);
 * reads of what was written go on; nothing aborts; and once the fault is gone a reopen finds
 * every write acknowledged with sync=1. */
#include "fault_db.h"

#include <criterion/logging.h>
#include <criterion/parameterized.h>
#include <errno.h>

TestSuite(io_errors, .init = fdb_setup, .fini = fdb_teardown, .timeout = 60);

/* Keys written before the fault is armed (flushed, so that there are tables to read), and the
 * load after it: reopened a third of the way in, flushed at two thirds, compacted at the end. */
#define IO_BEFORE 500
#define IO_LOAD 2500
#define IO_SYNC_EVERY 16

struct io_case {
    char op[12];
    char part[12]; /* "" : any file */
    int err;
    unsigned nth;
    int gets; /* the load also reads (else only flushes and compactions read tables) */
};

/* What the load saw. */
struct io_load {
    uint64_t end; /* keys [0, end) were attempted */
    uint8_t acked[IO_BEFORE + IO_LOAD];
    int rc;            /* its first error (0: none) */
    char msg[600];     /* and that error's message */
    const char *where; /* which step failed */
    lamina_db *db;     /* NULL when a reopen failed */
};

static int io_fail(struct io_load *l, int rc, const char *where)
{
    l->rc = rc;
    l->where = where;
    snprintf(l->msg, sizeof(l->msg), "%s", lamina_errmsg(l->db));
    return rc;
}

/* Runs the load from key IO_BEFORE on until its first error, which it returns. */
static int io_run_load(struct io_load *l, int round, int gets)
{
    for (uint64_t c = IO_BEFORE; c < IO_BEFORE + IO_LOAD; c++) {
        int rc;
        if (c == IO_BEFORE + IO_LOAD / 3) {
            rc = lamina_close(l->db);
            l->db = NULL;
            if (rc) return io_fail(l, rc, "close");
            lamina_options o = wl_options(round);
            if ((rc = lamina_open(fdb_path, &o, &l->db))) return io_fail(l, rc, "reopen");
        }
        if (c == IO_BEFORE + 2 * IO_LOAD / 3 && (rc = lamina_flush(l->db)))
            return io_fail(l, rc, "flush");
        l->end = c + 1;
        if ((rc = wl_put(l->db, round, c, c % IO_SYNC_EVERY == 0))) return io_fail(l, rc, "put");
        l->acked[c] = 1;
        /* A get of an older key now and then: reads of tables in the foreground too. */
        if (gets && c % 32 == 0) {
            uint64_t k = wl_mix(c) % c;
            rc = wl_lookup(l->db, round, k);
            cr_assert(rc != 0 && rc != WL_WRONG, "key %llu: %s", (unsigned long long)k,
                      rc ? "a wrong value" : "acknowledged, yet missing");
            if (rc != 1) return io_fail(l, rc, "get");
        }
    }
    int rc = lamina_compact_range(l->db, NULL, 0, NULL, 0);
    if (rc) return io_fail(l, rc, "compact_range");
    if ((rc = lamina_wait_for_compactions(l->db))) return io_fail(l, rc, "wait_for_compactions");
    return 0;
}

/* Every acknowledged write of the load reads back on the live handle. */
static void io_expect_acked(struct io_load *l, int round)
{
    for (uint64_t c = 0; c < l->end; c++)
        if (l->acked[c])
            cr_assert(fdb_present(l->db, round, c), "acknowledged key %llu is missing",
                      (unsigned long long)c);
}

static int io_code(int err)
{
    return err == ENOSPC ? LAMINA_ENOSPC : LAMINA_EIO;
}

static void io_case_run(const struct io_case *c)
{
    const char *text = strerror(c->err);
    char tag[64]; /* names the case in every message */
    snprintf(tag, sizeof(tag), "[%s on '%s', %s, nth %u%s]", c->op, c->part, text, c->nth,
             c->gets ? ", gets" : "");
    int round = (int)(wl_mix((uint64_t)c->op[0] * 31 + (uint64_t)c->part[0]) % 3);
    static struct io_load l;
    memset(&l, 0, sizeof(l));
    l.db = fdb_open(round);
    for (uint64_t k = 0; k < IO_BEFORE; k++) {
        cr_assert_eq(wl_put(l.db, round, k, k % IO_SYNC_EVERY == 0), 0, "%s %s", tag,
                     lamina_errmsg(l.db));
        l.acked[k] = 1;
    }
    l.end = IO_BEFORE;
    cr_assert_eq(lamina_flush(l.db), 0, "%s %s", tag, lamina_errmsg(l.db));

    struct fault_rule rule = {.op = c->op,
                              .path_part = c->part[0] ? c->part : NULL,
                              .err = c->err,
                              .nth = c->nth,
                              .sticky = 1};
    cr_assert_eq(fault_add(&rule), 0);
    (void)io_run_load(&l, round, c->gets);
    uint64_t injected = fault_injected();
    cr_log_info("%s %llu calls failed; the load %s%s%s%s", tag, (unsigned long long)injected,
                l.rc ? "stopped at " : "went through", l.rc ? l.where : "", l.rc ? ": " : "",
                l.rc ? lamina_strerror(l.rc) : "");
    cr_assert_gt(injected, 0, "%s the load never reached the fault (%s on '%s')", tag, c->op,
                 c->part);

    if (l.rc) {
        cr_assert(l.rc == io_code(c->err) || l.rc == LAMINA_EREADONLY,
                  "%s %s failed with %s, not %s or read-only: %s", tag, l.where,
                  lamina_strerror(l.rc), lamina_strerror(io_code(c->err)), l.msg);
        cr_assert_not_null(strstr(l.msg, text), "%s %s: the message names the cause (%s): %s", tag,
                           l.where, text, l.msg);
        cr_assert_not_null(strstr(l.msg, "injected"), "%s %s: the first error's own message: %s",
                           tag, l.where, l.msg);
        /* The info log is best effort: its own failure is never the cause reported. */
        cr_assert_null(strstr(l.msg, "/LOG"), "%s %s: %s", tag, l.where, l.msg);
    }
    if (l.db) {
        if (l.rc && strcmp(l.where, "get") != 0) {
            /* The database is read-only now, and says why with the first error's words (a
             * failed get is the get's error alone). */
            int rc = wl_put(l.db, round, IO_BEFORE + IO_LOAD, 1);
            cr_assert_eq(rc, LAMINA_EREADONLY, "%s a put after the failure: %s (%s)", tag,
                         lamina_strerror(rc), lamina_errmsg(l.db));
            cr_assert_not_null(strstr(lamina_errmsg(l.db), text), "%s %s", tag,
                               lamina_errmsg(l.db));
        }
        /* Reads go on: with the fault still armed when it does not hit reads, then without. */
        if (strcmp(c->op, "read") != 0 && strcmp(c->op, "open") != 0) io_expect_acked(&l, round);
        fault_clear();
        io_expect_acked(&l, round);
        int rc = lamina_close(l.db);
        if (l.rc && strcmp(l.where, "get") != 0) {
            cr_assert_neq(rc, LAMINA_OK, "%s close reports the background error", tag);
            cr_assert_not_null(strstr(lamina_errmsg(NULL), text),
                               "%s close keeps the first error's message: %s", tag,
                               lamina_errmsg(NULL));
        }
    }
    fault_clear();

    /* Every write acknowledged with sync=1 is there after a reopen, and nothing is wrong. */
    lamina_db *db = fdb_open(round);
    for (uint64_t k = 0; k < IO_BEFORE + IO_LOAD; k++) {
        int present = fdb_present(db, round, k);
        if (l.acked[k] && k % IO_SYNC_EVERY == 0)
            cr_assert(present,
                      "%s key %llu, acknowledged with sync=1, is lost (load stopped at %s: %s)",
                      tag, (unsigned long long)k, l.where ? l.where : "-", l.msg);
        if (k >= l.end)
            cr_assert(!present, "%s key %llu was never written", tag, (unsigned long long)k);
    }
    cr_assert_eq(wl_put(db, round, IO_BEFORE + IO_LOAD, 1), 0, "%s writable again: %s", tag,
                 lamina_errmsg(db));
    cr_assert_eq(lamina_close(db), 0, "%s %s", tag, lamina_errmsg(NULL));
}

/* The nth matching call fails, and every later one: a full disk stays full, a dying disk dies.
 * Any file first, then tables and the MANIFEST alone (background work: flush and compaction).
 * A write on any file is in load_survives_write_fault_on_any_file below. */
#define IO_CASES(err)                                                                              \
    {"sync", "", err, 2, 1}, {"create", "", err, 2, 1}, {"rename", "", err, 1, 1},                 \
        {"remove", "", err, 1, 1}, {"dir_sync", "", err, 2, 1}, {"read", "", err, 4, 1},           \
        {"open", "", err, 2, 1}, {"read", ".sst", err, 20, 0}, {"open", ".sst", err, 3, 0},        \
        {"write", ".sst", err, 2, 1}, {"sync", ".sst", err, 2, 1}, {"create", ".sst", err, 3, 1},  \
        {"write", "MANIFEST", err, 2, 1}, {"sync", "MANIFEST", err, 1, 1},                         \
        {"write", ".log", err, 3, 1},                                                              \
    {                                                                                              \
        "sync", ".log", err, 2, 1                                                                  \
    }

ParameterizedTestParameters(io_errors, load_survives_fault)
{
    static struct io_case cases[] = {IO_CASES(EIO), IO_CASES(ENOSPC)};
    return cr_make_param_array(struct io_case, cases, sizeof(cases) / sizeof(cases[0]));
}

ParameterizedTest(struct io_case *c, io_errors, load_survives_fault)
{
    io_case_run(c);
}

ParameterizedTestParameters(io_errors, load_survives_write_fault_on_any_file)
{
    static struct io_case cases[] = {{"write", "", EIO, 3, 1}, {"write", "", ENOSPC, 3, 1}};
    return cr_make_param_array(struct io_case, cases, sizeof(cases) / sizeof(cases[0]));
}

/* A write fault on any file, the info log included: its failure to log the error must not
 * replace the error's own message (db_log keeps the caller's). */
ParameterizedTest(struct io_case *c, io_errors, load_survives_write_fault_on_any_file)
{
    io_case_run(c);
}

/* A put whose WAL write fails reports the WAL, not the info log that failed after it. */
Test(io_errors, failed_wal_write_reports_the_wal_not_the_info_log)
{
    lamina_db *db = fdb_open(0);
    struct fault_rule log = {.op = "write", .path_part = "/LOG", .err = ENOSPC};
    struct fault_rule wal = {.op = "write", .path_part = ".log", .err = ENOSPC};
    cr_assert_eq(fault_add(&log), 0);
    cr_assert_eq(fault_add(&wal), 0);
    cr_assert_eq(wl_put(db, 0, 1, 1), LAMINA_ENOSPC);
    cr_assert_not_null(strstr(lamina_errmsg(db), ".log (injected): No space left on device"), "%s",
                       lamina_errmsg(db));
    fault_clear();
    cr_assert_neq(lamina_close(db), 0);
}
