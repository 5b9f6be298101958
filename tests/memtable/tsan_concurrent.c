/* tsan_concurrent.c — the memtable concurrency scenario as a plain program, for builds with
 * -Db_sanitize=thread, where Criterion cannot start (Snaipe/Criterion issue 274). */
#include <stdio.h>

#include "concurrent.h"

int main(void)
{
    int overlapped = 0;
    int failures = memtable_concurrent_run(&overlapped);
    printf("memtable concurrency: %d failed checks, %d reader rounds overlapped the writer\n",
           failures, overlapped);
    return failures == 0 ? 0 : 1;
}
