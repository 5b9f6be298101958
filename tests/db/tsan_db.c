/* tsan_db.c — the db suite's concurrency scenarios as a plain program, for ThreadSanitizer
 * builds (Criterion does not start under TSan). Exits non-zero on any failure. */
#include <stdio.h>
#include <stdlib.h>

#include "concurrent.h"

static int run(const char *name, int (*scenario)(lamina_db *))
{
    char dir[] = "/tmp/lamina-tsan-XXXXXX", path[64];
    if (!mkdtemp(dir)) return 1;
    snprintf(path, sizeof(path), "%s/db", dir);
    lamina_options o = conc_options();
    lamina_db *db;
    int failures = 1;
    if (lamina_open(path, &o, &db) == LAMINA_OK) {
        failures = scenario(db);
        if (lamina_close(db)) failures++;
    }
    lamina_destroy(path);
    char cmd[128];
    snprintf(cmd, sizeof(cmd), "rm -rf '%s'", dir);
    if (system(cmd)) failures++;
    printf("%s: %s (%d failures)\n", name, failures ? "FAIL" : "ok", failures);
    return failures != 0;
}

/* A scenario that opens and closes its databases itself (in <dir>/db and <dir>/other). */
static int run_paths(const char *name, int (*scenario)(const char *, const char *))
{
    char dir[] = "/tmp/lamina-tsan-XXXXXX", path[64], other[64];
    if (!mkdtemp(dir)) return 1;
    snprintf(path, sizeof(path), "%s/db", dir);
    snprintf(other, sizeof(other), "%s/other", dir);
    int failures = scenario(path, other);
    lamina_destroy(path);
    lamina_destroy(other);
    char cmd[128];
    snprintf(cmd, sizeof(cmd), "rm -rf '%s'", dir);
    if (system(cmd)) failures++;
    printf("%s: %s (%d failures)\n", name, failures ? "FAIL" : "ok", failures);
    return failures != 0;
}

static int conc_read_only_path(const char *path, const char *other)
{
    (void)other;
    return conc_read_only_beside_writer(path);
}

int main(void)
{
    int bad = run("writers_readers_and_background_jobs_agree", conc_writers_and_readers);
    bad += run("compact_range_runs_beside_writers", conc_compact_beside_writers);
    bad += run_paths("cached_super_versions_survive_installs_thread_exits_and_reopen",
                     conc_super_version_churn);
    bad += run_paths("read_only_handles_beside_a_writer", conc_read_only_path);
    bad += run("range_deletes_beside_readers", conc_range_deletes_beside_readers);
    return bad ? 1 : 0;
}
