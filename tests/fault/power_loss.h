/* power_loss.h — one round of the power-loss scenario, free of Criterion (the TSan program runs
 * it too): a writer puts keys derived from a counter, some with sync=1, while flushes and
 * compactions run; a second thread cuts the power (fault_power_loss) once a chosen number of
 * writes are acknowledged; a reopen then compares the database with what the writer was told. */
#ifndef TESTS_FAULT_POWER_LOSS_H
#define TESTS_FAULT_POWER_LOSS_H

#include <stdatomic.h>
#include <stdint.h>

#include "lamina.h"

/* Keys one round writes at most; the cut comes after 30..PL_CUT_MAX acknowledged writes. */
#define PL_MAX_KEYS 2400
#define PL_CUT_MAX 2000

struct pl_round {
    /* In: */
    const char *path; /* the database, reused across rounds */
    int round;        /* names its keys; picks the policy and how often a write syncs */
    uint64_t seed;
    uint64_t cut_at; /* the power goes once this many writes are acknowledged */
    int sync_off;    /* fsync does nothing from the 20th write on (the model-bites test) */
    /* Out: */
    char error[400]; /* why the round could not run as planned ("": it did) */
    uint64_t end;    /* keys [0, end) were attempted */
    uint8_t acked[PL_MAX_KEYS], synced[PL_MAX_KEYS];
    /* Between the writer and the cutter: */
    atomic_uint_fast64_t progress;
    atomic_int cut_started;
    int cut_rc;
};

/* What a reopen after the cut found. */
struct pl_check {
    int open_rc;
    char msg[400];        /* the open's error, or the first bad read */
    uint64_t wrong;       /* keys with a wrong value, a failed get, or never written */
    uint64_t lost_synced; /* writes acknowledged with sync=1 that are gone */
    uint64_t lost_before; /* writes before the last synced one that are gone */
    uint64_t holes;       /* present writes after a missing one */
    uint64_t present_end; /* keys [0, present_end) are there */
    uint64_t last_synced; /* one past the last write acknowledged with sync=1 (0: none) */
};

/* Sets r's inputs for round i of a run seeded by seed (the rest zeroed). */
void pl_round_init(struct pl_round *r, const char *path, int i, uint64_t seed, int sync_off);
/* Opens the database, writes until the cut and a few writes after it, closes (errors
 * expected) and clears the fault layer. 0, or -1 with r->error set. */
int pl_write(struct pl_round *r);
/* Reopens the database and compares it with r; with prev_end (not UINT64_MAX), also checks
 * that the previous round's keys are still exactly [0, prev_end) (a wrong one counts in
 * k->wrong): no cut may touch what an earlier reopen saw. */
void pl_check_round(const struct pl_round *r, uint64_t prev_end, struct pl_check *k);
/* Whether k shows no lost acknowledged write, no hole and nothing wrong. */
int pl_check_ok(const struct pl_check *k);
/* Checks that round's keys are exactly [0, end) in the open db: 0, or -1 with msg set. */
int pl_check_earlier(lamina_db *db, int round, uint64_t end, char *msg, size_t cap);

#endif
