/* fault.h — fault injection for tests and the stress tool, built on util/file.h's hook: fail
 * chosen file operations, cut writes short, simulate power loss (drop what no fsync made
 * durable), and named crash points in the engine. Modelled on LevelDB's FaultInjectionTestEnv
 * and RocksDB's FaultInjectionTestFS. Internal (not exported from liblamina); when nothing is
 * armed every call site costs one predictable branch. */
#ifndef UTIL_FAULT_H
#define UTIL_FAULT_H

#include <stdatomic.h>
#include <stdint.h>

/* ---- Failing operations ---------------------------------------------------------------- */

/* One rule: operations named op (a file.h hook name: "read", "write", "sync", "create",
 * "open", "rename", "remove", "mkdir", "dir_sync", "list", "lock"; NULL: every op) on paths
 * containing path_part (NULL: any path; a rename matches on its source) fail with errno err
 * (EIO, ENOSPC, ...; 0 means EIO):
 * - nth > 0: only the nth matching call (1-based) fails;
 * - one_in > 0: each matching call fails with probability 1/one_in (seeded by fault_seed);
 * - neither: every matching call fails;
 * - sticky: once a call has failed, every later matching call fails too.
 * short_write: for "write", the failing call first writes half of its bytes (rounded down: a
 * torn write) and then fails. Reads fail both through pread and through io_uring batches (the
 * rule is asked once per request). When several rules match a call, the first added decides. */
struct fault_rule {
    const char *op;
    const char *path_part;
    int err;
    uint64_t nth;
    uint32_t one_in;
    int sticky;
    int short_write;
};

/* Adds a rule (copied, strings included; at most 16). 0, or -1 when full or out of memory.
 * Thread-safe, like every function here: the engine's threads may run meanwhile. */
int fault_add(const struct fault_rule *rule);
/* Removes every rule, disarms the crash point, stops tracking (forgetting what was tracked),
 * turns fault_disable_sync off, unfreezes the file layer and resets fault_injected to 0. */
void fault_clear(void);
/* Seeds the random rules (a fixed default seed is used otherwise). */
void fault_seed(uint64_t seed);
/* Number of calls the rules have failed so far (not counting those refused by a frozen layer). */
uint64_t fault_injected(void);

/* ---- Power loss -------------------------------------------------------------------------- */

/* on: starts tracking every file the process writes through util/file.h: each file's length
 * at its last fsync (wfile_sync, file_write_all with sync), and which directory entries
 * (created, renamed) no fsync of their directory (dir_sync) has made durable yet. Files touched
 * before tracking started count as durable entries with their last synced length (an append
 * file's last sync is known to file.c even from before). Each file operation takes a shared
 * lock while tracking, so fault_power_loss can stop them all at one moment. off: forgets what
 * was tracked. */
void fault_track(int on);
/* Simulates a power cut now. It freezes the file layer first: operations in flight finish,
 * every later one fails with EIO until fault_clear. Then, for what tracking saw (call
 * fault_track(1) before; without it, this only freezes):
 * - renames no dir_sync of the target's directory covered are undone, newest first: the file
 *   goes back to its old name, and the target gets back the durable contents it had before
 *   the rename if it had any and they were at most 1 MiB (CURRENT, OPTIONS: kept as a copy at
 *   the rename), otherwise it is left absent;
 * - files whose creation no dir_sync of their directory covered are removed;
 * - every other tracked file is cut to its length at its last successful sync.
 * Simplifications: a file removed with file_remove is gone for good, even if no dir_sync
 * followed; a rename is durable once the target's directory is synced (its source's
 * directory is not asked); directories made by dir_create are durable at once; a rename whose
 * target was itself an unsynced rename's target restores only the oldest durable contents.
 * Paths are compared as strings: the engine must name a directory the same way in dir_sync
 * as in the paths of its files. Returns 0 or the first LAMINA_E* error of the undo (it goes
 * on with the rest), message set. */
int fault_power_loss(void);
/* on: fsync and directory fsync succeed without doing anything and count nothing as durable:
 * a power loss then drops everything written and created since tracking started (proves a
 * power-loss test can fail). */
void fault_disable_sync(int on);

/* ---- Crash points ------------------------------------------------------------------------ */

/* Arms the named crash point (name copied; one at a time, arming replaces): its nth pass
 * (1-based; 0 counts as 1) kills the process with SIGKILL. NULL disarms. */
void fault_arm_crash_point(const char *name, uint64_t nth);
/* Arms the crash point the environment variable LAMINA_CRASH_POINT="name:nth" names (the
 * number after the last colon; "name" alone means its first pass), for programs that a
 * driver restarts (the stress tool). Unset or empty: nothing. Returns 0, or LAMINA_EINVAL
 * (message set) when nth is not a number or is 0. */
int fault_from_env(void);

/* Non-zero while a crash point is armed: the only thing a disarmed crash point reads. */
extern atomic_int fault_crash_armed;
/* The armed path of fault_crash_point: counts a pass of name, and kills at the armed one. */
void fault_crash_point_pass(const char *name);
/* Marks a crash point in engine code: "flush:table-synced", "manifest:edit-synced", ...
 * Disarmed, it costs one load and one branch. */
static inline void fault_crash_point(const char *name)
{
    if (atomic_load_explicit(&fault_crash_armed, memory_order_relaxed))
        fault_crash_point_pass(name);
}
#define FAULT_CRASH_POINT(name) fault_crash_point(name)

#endif
