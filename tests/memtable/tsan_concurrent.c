/* tsan_concurrent.c — the memtable concurrency scenario as a plain program, for builds with
 * -Db_sanitize=thread, where Criterion cannot start (Snaipe/Criterion issue 274). */
#include <stdio.h>

#include "concurrent.h"

int main(void)
{
    static const struct {
        enum memtable_kind kind;
        const char *name;
    } kinds[] = {{MEMTABLE_AVL, "avl"}, {MEMTABLE_ART, "art"}};
    int failed = 0;
    for (size_t i = 0; i < sizeof kinds / sizeof kinds[0]; i++) {
        int overlapped = 0;
        int failures = memtable_concurrent_run(kinds[i].kind, &overlapped);
        printf("memtable concurrency (%s): %d failed checks, %d reader rounds overlapped the "
               "writer\n",
               kinds[i].name, failures, overlapped);
        failed |= failures != 0;
    }
    return failed;
}
