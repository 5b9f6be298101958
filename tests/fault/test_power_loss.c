/* Simulated power loss (util/fault.h; the round itself is in power_loss.c): a writer puts keys
 * derived from a counter, some with sync=1, while flushes and compactions run; a second thread
 * cuts the power at a random moment (every file back to its last fsync, unsynced directory
 * entries undone). After a reopen every write acknowledged with sync=1 must be there, and what
 * is missing must be a suffix of the unsynced writes after the last synced one. Rounds reuse
 * one database, so recovery also runs on what earlier cuts left. LAMINA_FAULT_ROUNDS sets the
 * number of rounds (default 30), LAMINA_FAULT_SEED the seed of the cut moments and sync
 * choices, for long runs by hand. A last test turns fsync off and expects the same check to
 * find lost writes: the model bites. */
#include "fault_db.h"
#include "power_loss.h"

#include <criterion/logging.h>

TestSuite(power_loss, .init = fdb_setup, .fini = fdb_teardown, .timeout = 240);

#define PL_DEFAULT_ROUNDS 30

static int pl_rounds(void)
{
    const char *v = getenv("LAMINA_FAULT_ROUNDS");
    int n = v ? atoi(v) : PL_DEFAULT_ROUNDS;
    return n > 0 ? n : PL_DEFAULT_ROUNDS;
}

static uint64_t pl_seed(void)
{
    const char *v = getenv("LAMINA_FAULT_SEED");
    return v ? strtoull(v, NULL, 0) : 0x10ad;
}

Test(power_loss, synced_writes_survive_and_only_an_unsynced_suffix_is_lost)
{
    int rounds = pl_rounds();
    uint64_t *ends = calloc((size_t)rounds, sizeof(*ends));
    static struct pl_round r;
    uint64_t lost_unsynced = 0, seed = pl_seed();
    for (int i = 0; i < rounds; i++) {
        pl_round_init(&r, fdb_path, i, seed, 0);
        cr_assert_eq(pl_write(&r), 0, "round %d: %s", i, r.error);
        struct pl_check k;
        pl_check_round(&r, i ? ends[i - 1] : UINT64_MAX, &k);
        cr_assert_eq(k.open_rc, 0, "round %d: %s", i, k.msg);
        cr_assert_eq(k.wrong, 0, "round %d: %s", i, k.msg);
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
        lost_unsynced += r.end - k.present_end;
        ends[i] = k.present_end;
    }
    char msg[200];
    lamina_db *db = fdb_open(0);
    for (int i = 0; i < rounds; i++)
        cr_assert_eq(pl_check_earlier(db, i, ends[i], msg, sizeof(msg)), 0, "%s", msg);
    cr_assert_eq(lamina_close(db), 0);
    cr_log_info("%d power cuts (seed %llu); %llu unsynced writes lost in all", rounds,
                (unsigned long long)seed, (unsigned long long)lost_unsynced);
    free(ends);
}

/* With fsync turned into a no-op the very same check must find acknowledged writes lost (or a
 * database that no longer opens): proof that the power-loss test can fail. */
Test(power_loss, check_finds_lost_writes_when_fsync_does_nothing)
{
    static struct pl_round r;
    for (int i = 0; i < 3; i++) {
        tdir_remove(fdb_path); /* a fresh database: the last one may not open any more */
        pl_round_init(&r, fdb_path, i, 0xb17e, 1);
        r.cut_at = 400 + r.seed % 1000;
        cr_assert_eq(pl_write(&r), 0, "round %d: %s", i, r.error);
        struct pl_check k;
        pl_check_round(&r, UINT64_MAX, &k);
        cr_assert(k.open_rc || k.last_synced > 0, "round %d acknowledged no synced write", i);
        cr_assert(!pl_check_ok(&k), "round %d without fsync lost nothing acknowledged", i);
    }
}
