/* test_memtable_concurrent.c — Criterion wrapper of the concurrency scenario (concurrent.c). */
#include <criterion/criterion.h>

#include "concurrent.h"

static void run(enum memtable_kind kind)
{
    int overlapped = 0;
    int failures = memtable_concurrent_run(kind, &overlapped);
    cr_log_info("%d reader rounds overlapped the writer", overlapped);
    cr_assert_eq(failures, 0, "%d failed checks (-1: setup failed)", failures);
}

Test(memtable_concurrent, readers_iterate_and_get_while_writer_inserts)
{
    run(MEMTABLE_AVL);
}

Test(memtable_concurrent, art_readers_iterate_and_get_while_writer_inserts)
{
    run(MEMTABLE_ART);
}
