/* fault.h — fault injection for tests and the stress tool, built on util/file.h's hook: fail
 * chosen file operations, cut writes short, simulate power loss (drop what no fsync made
 * durable), and named crash points in the engine. Modelled on LevelDB's FaultInjectionTestEnv
 * and RocksDB's FaultInjectionTestFS. Internal (not exported from liblamina); when nothing is
 * armed every call site costs one predictable branch. */
#ifndef UTIL_FAULT_H
#define UTIL_FAULT_H

#include <stdint.h>

/* ---- Failing operations ---------------------------------------------------------------- */

/* One rule: operations named op (a file.h hook name: "read", "write", "sync", "create",
 * "open", "rename", "remove", "mkdir", "dir_sync", "list", "lock"; NULL: every op) on paths
 * containing path_part (NULL: any path) fail with errno err (EIO, ENOSPC, ...):
 * - nth > 0: only the nth matching call (1-based) fails;
 * - one_in > 0: each matching call fails with probability 1/one_in (seeded by fault_seed);
 * - sticky: once a call has failed, every later matching call fails too.
 * short_write: for "write", the failing call first writes half of its bytes (a torn write)
 * and then fails. */
struct fault_rule {
    const char *op;
    const char *path_part;
    int err;
    uint64_t nth;
    uint32_t one_in;
    int sticky;
    int short_write;
};

/* Adds a rule (copied; at most 16). 0, or -1 when full. Thread-safe. */
int fault_add(const struct fault_rule *rule);
/* Removes every rule, disarms the crash point, stops tracking and unfreezes the file layer. */
void fault_clear(void);
/* Seeds the random rules. */
void fault_seed(uint64_t seed);
/* Number of calls the rules have failed so far. */
uint64_t fault_injected(void);

/* ---- Power loss -------------------------------------------------------------------------- */

/* Starts tracking every file the engine writes: each file's length at its last fsync, and
 * which directory entries (created, renamed) have not been made durable by a directory fsync. */
void fault_track(int on);
/* Simulates a power cut now: freezes the file layer (every later operation fails with EIO
 * until fault_clear), then truncates each tracked file to its last synced length and undoes
 * the directory entries no directory fsync covered (new files are removed; a rename's target
 * gets its old contents back, or is removed if it had none). Returns 0 or a LAMINA_E* code. */
int fault_power_loss(void);
/* on: fsync and directory fsync succeed without doing anything and count nothing as durable
 * (proves a power-loss test can fail). */
void fault_disable_sync(int on);

/* ---- Crash points ------------------------------------------------------------------------ */

/* Arms the named crash point: its nth pass (1-based) kills the process with SIGKILL. NULL
 * disarms. The environment variable LAMINA_CRASH_POINT="name:nth" arms one at startup of
 * programs that call fault_from_env(). */
void fault_arm_crash_point(const char *name, uint64_t nth);
void fault_from_env(void);
/* Marks a crash point in engine code: "flush:table-synced", "manifest:edit-synced", ... */
void fault_crash_point(const char *name);
#define FAULT_CRASH_POINT(name) fault_crash_point(name)

#endif
