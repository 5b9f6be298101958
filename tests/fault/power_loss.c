/* power_loss.c — one round of the power-loss scenario (see power_loss.h): the writer on the
 * calling thread, the cut on a second one, and the check after a reopen. */
#include "power_loss.h"

#include <pthread.h>
#include <sched.h>
#include <stdio.h>
#include <string.h>

#include "lamina.h"
#include "util/fault.h"
#include "workload.h"

/* Writes tried after the cut: they must fail or be lost, never damage anything. */
#define PL_AFTER_CUT 32

void pl_round_init(struct pl_round *r, const char *path, int i, uint64_t seed, int sync_off)
{
    memset(r, 0, sizeof(*r));
    r->path = path;
    r->round = i;
    r->seed = wl_mix(seed + (uint64_t)i);
    r->cut_at = 30 + r->seed % (PL_CUT_MAX - 30);
    r->sync_off = sync_off;
    atomic_init(&r->progress, 0);
    atomic_init(&r->cut_started, 0);
}

/* One write in 4, 16 or 64 asks for sync, by round: long unsynced tails get cut too. */
static int pl_sync_of(const struct pl_round *r, uint64_t c)
{
    static const uint64_t one_in[] = {4, 16, 64};
    return wl_mix(r->seed ^ (c * 0x9e3779b97f4a7c15ull)) % one_in[r->round / 3 % 3] == 0;
}

static void *pl_cutter(void *arg)
{
    struct pl_round *r = arg;
    while (atomic_load(&r->progress) < r->cut_at)
        sched_yield();
    atomic_store(&r->cut_started, 1);
    r->cut_rc = fault_power_loss();
    if (r->cut_rc) snprintf(r->error, sizeof(r->error), "power loss: %s", lamina_errmsg(NULL));
    return NULL;
}

/* fault_track(1) comes before the open in even rounds, after 20 writes in odd ones. */
int pl_write(struct pl_round *r)
{
    lamina_options o = wl_options(r->round);
    if (r->round % 2 == 0) fault_track(1);
    lamina_db *db = NULL;
    int rc = lamina_open(r->path, &o, &db);
    if (rc) {
        snprintf(r->error, sizeof(r->error), "open: %s", lamina_errmsg(NULL));
        fault_clear();
        return -1;
    }
    pthread_t cutter;
    if (pthread_create(&cutter, NULL, pl_cutter, r) != 0) {
        snprintf(r->error, sizeof(r->error), "pthread_create failed");
        (void)lamina_close(db);
        fault_clear();
        return -1;
    }
    uint64_t after = 0;
    for (uint64_t c = 0; c < PL_MAX_KEYS; c++) {
        if (c == 20 && r->round % 2 == 1) fault_track(1);
        if (c == 20 && r->sync_off) fault_disable_sync(1);
        if (atomic_load(&r->cut_started) && ++after > PL_AFTER_CUT) break;
        int sync = pl_sync_of(r, c);
        r->end = c + 1;
        if ((rc = wl_put(db, r->round, c, sync))) {
            if (!atomic_load(&r->cut_started))
                snprintf(r->error, sizeof(r->error), "put %llu failed before the cut: %s",
                         (unsigned long long)c, lamina_errmsg(db));
            break;
        }
        r->acked[c] = 1;
        r->synced[c] = (uint8_t)sync;
        atomic_store(&r->progress, c + 1);
    }
    atomic_store(&r->progress, UINT64_MAX); /* a writer that ran out of keys still gets cut */
    pthread_join(cutter, NULL);
    /* Background flushes and compactions fail now; close reports it, nothing more. */
    (void)lamina_close(db);
    fault_clear();
    return r->error[0] ? -1 : 0;
}

static void pl_note_wrong(struct pl_check *k, int round, uint64_t c, int rc, lamina_db *db)
{
    if (k->wrong++) return;
    if (rc == WL_WRONG)
        snprintf(k->msg, sizeof(k->msg), "round %d key %llu: a wrong value", round,
                 (unsigned long long)c);
    else if (rc == 1)
        snprintf(k->msg, sizeof(k->msg), "round %d key %llu: present, never written", round,
                 (unsigned long long)c);
    else
        snprintf(k->msg, sizeof(k->msg), "round %d key %llu: %s: %s", round, (unsigned long long)c,
                 lamina_strerror(rc), lamina_errmsg(db));
}

void pl_check_round(const struct pl_round *r, uint64_t prev_end, struct pl_check *k)
{
    memset(k, 0, sizeof(*k));
    lamina_options o = wl_options(r->round);
    o.create_if_missing = 0;
    lamina_db *db = NULL;
    k->open_rc = lamina_open(r->path, &o, &db);
    if (k->open_rc) {
        snprintf(k->msg, sizeof(k->msg), "reopen: %s: %s", lamina_strerror(k->open_rc),
                 lamina_errmsg(NULL));
        return;
    }
    for (uint64_t c = 0; c < r->end; c++)
        if (r->acked[c] && r->synced[c]) k->last_synced = c + 1;
    int gap = 0;
    for (uint64_t c = 0; c < r->end + 8 && c < PL_MAX_KEYS; c++) {
        int rc = wl_lookup(db, r->round, c);
        if (rc != 0 && (rc != 1 || c >= r->end)) {
            pl_note_wrong(k, r->round, c, rc, db);
            continue;
        }
        if (!rc) {
            gap = 1;
            k->lost_synced += r->acked[c] && r->synced[c];
            k->lost_before += c < k->last_synced;
        } else if (gap) {
            k->holes++;
        } else {
            k->present_end = c + 1;
        }
    }
    if (r->round > 0 && prev_end != UINT64_MAX && !k->wrong &&
        pl_check_earlier(db, r->round - 1, prev_end, k->msg, sizeof(k->msg)))
        k->wrong++;
    if (lamina_close(db) && !k->wrong++)
        snprintf(k->msg, sizeof(k->msg), "close after the check: %s", lamina_errmsg(NULL));
}

int pl_check_ok(const struct pl_check *k)
{
    return !k->open_rc && !k->wrong && !k->lost_synced && !k->lost_before && !k->holes;
}

int pl_check_earlier(lamina_db *db, int round, uint64_t end, char *msg, size_t cap)
{
    for (uint64_t c = 0; c < end + 4 && c < PL_MAX_KEYS; c++) {
        int rc = wl_lookup(db, round, c);
        if (rc != (c < end)) {
            snprintf(msg, cap, "round %d key %llu: lookup gives %d, expected %d", round,
                     (unsigned long long)c, rc, c < end);
            return -1;
        }
    }
    return 0;
}
