/* Simulated power loss (util/fault.h): a writer puts keys derived from a counter, some with
 * sync=1, while flushes and compactions run; a second thread cuts the power at a random moment
 * (every file back to its last fsync, unsynced directory entries undone). After a reopen every
 * write acknowledged with sync=1 must be there, and what is missing must be a suffix of the
 * unsynced writes after the last synced one. Rounds reuse one database, so recovery also runs
 * on what earlier cuts left. LAMINA_FAULT_ROUNDS sets the number of rounds (default 30).
 * A last test turns fsync off and expects the same check to find lost writes: the model bites. */
#include "fault_db.h"

#include <criterion/logging.h>
#include <pthread.h>
#include <sched.h>
#include <stdatomic.h>

TestSuite(power_loss, .init = fdb_setup, .fini = fdb_teardown, .timeout = 240);

#define PL_DEFAULT_ROUNDS 30
/* Keys one round writes at most; the cut comes after 30..PL_CUT_MAX acknowledged writes. */
#define PL_MAX_KEYS 2400
#define PL_CUT_MAX 2000
/* Writes tried after the cut: they must fail or be lost, never corrupt anything. */
#define PL_AFTER_CUT 32

struct pl_round {
    int round;
    uint64_t seed;
    uint64_t cut_at; /* the power goes once this many writes are acknowledged */
    atomic_uint_fast64_t progress;
    atomic_int cut_started;
    int cut_rc;
    char cut_msg[300];
    uint64_t end; /* keys [0, end) were attempted */
    uint8_t acked[PL_MAX_KEYS], synced[PL_MAX_KEYS];
};

/* What a reopen after the cut found. */
struct pl_check {
    int open_rc;
    char open_msg[300];
    uint64_t lost_synced; /* writes acknowledged with sync=1 that are gone */
    uint64_t lost_before; /* writes before the last synced one that are gone */
    uint64_t holes;       /* present writes after a missing one */
    uint64_t present_end; /* keys [0, present_end) are there */
    uint64_t last_synced; /* one past the last write acknowledged with sync=1 (0: none) */
};

/* One write in 4, 16 or 64 asks for sync, by round: long unsynced tails get cut too. */
static int pl_sync_of(const struct pl_round *r, uint64_t c)
{
    static const uint64_t one_in[] = {4, 16, 64};
    return fdb_mix(r->seed ^ (c * 0x9e3779b97f4a7c15ull)) % one_in[r->round / 3 % 3] == 0;
}

static void *pl_cutter(void *arg)
{
    struct pl_round *r = arg;
    while (atomic_load(&r->progress) < r->cut_at)
        sched_yield();
    atomic_store(&r->cut_started, 1);
    r->cut_rc = fault_power_loss();
    if (r->cut_rc) snprintf(r->cut_msg, sizeof(r->cut_msg), "%s", lamina_errmsg(NULL));
    return NULL;
}

/* Opens the database, writes until PL_AFTER_CUT writes after the cut (or the first error
 * after it), and closes. fault_track(1) comes before the open in even rounds, after a few
 * writes in odd ones. sync_off: fsync does nothing (the model-bites test). */
static void pl_write(struct pl_round *r, int sync_off)
{
    lamina_options o = fdb_options(r->round);
    if (r->round % 2 == 0) fault_track(1);
    lamina_db *db = NULL;
    int rc = lamina_open(fdb_path, &o, &db);
    cr_assert_eq(rc, 0, "open: %s", lamina_errmsg(NULL));
    pthread_t cutter;
    cr_assert_eq(pthread_create(&cutter, NULL, pl_cutter, r), 0);
    uint64_t after = 0;
    for (uint64_t c = 0; c < PL_MAX_KEYS; c++) {
        if (c == 20 && r->round % 2 == 1) fault_track(1);
        if (c == 20 && sync_off) fault_disable_sync(1);
        int cut = atomic_load(&r->cut_started);
        if (cut && ++after > PL_AFTER_CUT) break;
        int sync = pl_sync_of(r, c);
        r->end = c + 1;
        rc = fdb_put(db, r->round, c, sync);
        if (rc) {
            cr_assert(atomic_load(&r->cut_started), "put %llu failed before the power cut: %s",
                      (unsigned long long)c, lamina_errmsg(db));
            break;
        }
        r->acked[c] = 1;
        r->synced[c] = (uint8_t)sync;
        atomic_store(&r->progress, c + 1);
    }
    atomic_store(&r->progress, UINT64_MAX); /* a writer that ran out of keys still gets cut */
    cr_assert_eq(pthread_join(cutter, NULL), 0);
    cr_assert_eq(r->cut_rc, 0, "power loss: %s", r->cut_msg);
    /* Background flushes and compactions fail now; close reports it, nothing more. */
    (void)lamina_close(db);
    fault_clear();
}

/* Reopens and compares with what the writer was told. */
static void pl_check_round(const struct pl_round *r, struct pl_check *k)
{
    memset(k, 0, sizeof(*k));
    lamina_options o = fdb_options(r->round);
    o.create_if_missing = 0;
    lamina_db *db = NULL;
    k->open_rc = lamina_open(fdb_path, &o, &db);
    if (k->open_rc) {
        snprintf(k->open_msg, sizeof(k->open_msg), "%s", lamina_errmsg(NULL));
        return;
    }
    for (uint64_t c = 0; c < r->end; c++)
        if (r->acked[c] && r->synced[c]) k->last_synced = c + 1;
    int gap = 0;
    for (uint64_t c = 0; c < r->end + 8 && c < PL_MAX_KEYS; c++) {
        int p = fdb_present(db, r->round, c);
        cr_assert(!p || c < r->end, "key %llu was never written", (unsigned long long)c);
        if (!p) {
            gap = 1;
            k->lost_synced += r->acked[c] && r->synced[c];
            k->lost_before += c < k->last_synced;
        } else if (gap) {
            k->holes++;
        } else {
            k->present_end = c + 1;
        }
    }
    cr_assert_eq(lamina_close(db), 0, "%s", lamina_errmsg(NULL));
}

/* The keys of an earlier round are exactly [0, end) still: no cut may touch what a reopen
 * already saw. */
static void pl_check_earlier(lamina_db *db, int round, uint64_t end)
{
    for (uint64_t c = 0; c < end + 4 && c < PL_MAX_KEYS; c++)
        cr_assert_eq(fdb_present(db, round, c), c < end, "round %d key %llu", round,
                     (unsigned long long)c);
}

static int pl_rounds(void)
{
    const char *v = getenv("LAMINA_FAULT_ROUNDS");
    int n = v ? atoi(v) : PL_DEFAULT_ROUNDS;
    return n > 0 ? n : PL_DEFAULT_ROUNDS;
}

Test(power_loss, synced_writes_survive_and_only_an_unsynced_suffix_is_lost)
{
    int rounds = pl_rounds();
    uint64_t *ends = calloc((size_t)rounds, sizeof(*ends));
    static struct pl_round r;
    uint64_t total_lost_unsynced = 0;
    for (int i = 0; i < rounds; i++) {
        memset(&r, 0, sizeof(r));
        r.round = i;
        r.seed = fdb_mix(0x10ad + (uint64_t)i);
        r.cut_at = 30 + r.seed % (PL_CUT_MAX - 30);
        pl_write(&r, 0);
        struct pl_check k;
        pl_check_round(&r, &k);
        cr_assert_eq(k.open_rc, 0, "round %d: reopen after the cut: %s: %s", i,
                     lamina_strerror(k.open_rc), k.open_msg);
        cr_assert_eq(k.lost_synced, 0,
                     "round %d (cut after %llu writes): %llu writes acknowledged with sync=1 "
                     "are lost; present [0, %llu), last synced write %llu",
                     i, (unsigned long long)r.cut_at, (unsigned long long)k.lost_synced,
                     (unsigned long long)k.present_end, (unsigned long long)k.last_synced);
        cr_assert_eq(k.lost_before, 0, "round %d: writes before the last synced one are lost", i);
        cr_assert_eq(k.holes, 0,
                     "round %d: what is missing is not a suffix (present [0, %llu), "
                     "%llu later writes present)",
                     i, (unsigned long long)k.present_end, (unsigned long long)k.holes);
        total_lost_unsynced += r.end - k.present_end;
        ends[i] = k.present_end;
        if (i > 0) {
            lamina_db *db = fdb_open(i);
            pl_check_earlier(db, i - 1, ends[i - 1]);
            cr_assert_eq(lamina_close(db), 0);
        }
    }
    lamina_db *db = fdb_open(0);
    for (int i = 0; i < rounds; i++)
        pl_check_earlier(db, i, ends[i]);
    cr_assert_eq(lamina_close(db), 0);
    cr_log_info("%d power cuts; %llu unsynced writes lost in all", rounds,
                (unsigned long long)total_lost_unsynced);
    free(ends);
}

/* With fsync turned into a no-op the very same check must find acknowledged writes lost (or a
 * database that no longer opens): proof that the power-loss test can fail. */
Test(power_loss, check_finds_lost_writes_when_fsync_does_nothing)
{
    static struct pl_round r;
    int bitten = 0;
    for (int i = 0; i < 3; i++) {
        tdir_remove(fdb_path); /* a fresh database: the last one may not open any more */
        memset(&r, 0, sizeof(r));
        r.round = i;
        r.seed = fdb_mix(0xb17e + (uint64_t)i);
        r.cut_at = 400 + r.seed % 1000;
        pl_write(&r, 1);
        struct pl_check k;
        pl_check_round(&r, &k);
        cr_assert(k.open_rc || k.last_synced > 0, "round %d acknowledged no synced write", i);
        bitten += k.open_rc != 0 || k.lost_synced > 0 || k.lost_before > 0;
    }
    cr_assert_eq(bitten, 3, "every round without fsync loses acknowledged writes");
}
