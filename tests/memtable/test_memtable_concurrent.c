/* test_memtable_concurrent.c — Criterion wrapper of the concurrency scenario (concurrent.c). */
#include <criterion/criterion.h>

#include "concurrent.h"

Test(memtable_concurrent, readers_iterate_and_get_while_writer_inserts)
{
    int overlapped = 0;
    int failures = memtable_concurrent_run(&overlapped);
    cr_log_info("%d reader rounds overlapped the writer", overlapped);
    cr_assert_eq(failures, 0, "%d failed checks (-1: setup failed)", failures);
}
