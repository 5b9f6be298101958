/* tsan_power_loss.c — the power-loss rounds as a plain program, for builds with
 * -Db_sanitize=thread, where Criterion cannot start: the engine's background threads, the
 * writer and the cutting thread all pass the fault layer's locks. Also one round with fsync
 * off, which must lose acknowledged writes. */
#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>

#include "power_loss.h"

#define TSAN_ROUNDS 6

static char tsan_cmd[400];

int main(void)
{
    char dir[] = "/tmp/lamina-fault-tsan-XXXXXX", path[64];
    if (!mkdtemp(dir)) return perror("mkdtemp"), 2;
    snprintf(path, sizeof(path), "%s/db", dir);
    static struct pl_round r;
    struct pl_check k;
    int failures = 0;
    for (int i = 0; i < TSAN_ROUNDS && !failures; i++) {
        pl_round_init(&r, path, i, 0x75a2, 0);
        if (pl_write(&r)) {
            fprintf(stderr, "round %d: %s\n", i, r.error);
            failures++;
            break;
        }
        pl_check_round(&r, UINT64_MAX, &k);
        if (!pl_check_ok(&k)) {
            fprintf(stderr, "round %d: %s; %llu synced lost, %llu holes\n", i, k.msg,
                    (unsigned long long)k.lost_synced, (unsigned long long)k.holes);
            failures++;
        }
    }
    snprintf(tsan_cmd, sizeof(tsan_cmd), "rm -rf %s", path);
    if (system(tsan_cmd) != 0) failures++;
    pl_round_init(&r, path, 0, 0xb17e, 1);
    r.cut_at = 800;
    if (pl_write(&r) == 0) {
        pl_check_round(&r, UINT64_MAX, &k);
        if (pl_check_ok(&k)) {
            fprintf(stderr, "fsync off: the check found nothing lost\n");
            failures++;
        }
    } else {
        fprintf(stderr, "fsync off: %s\n", r.error);
        failures++;
    }
    snprintf(tsan_cmd, sizeof(tsan_cmd), "rm -rf %s", dir);
    if (system(tsan_cmd) != 0) failures++;
    printf("power loss under TSan: %d rounds, %d failures\n", TSAN_ROUNDS, failures);
    return failures ? 1 : 0;
}
