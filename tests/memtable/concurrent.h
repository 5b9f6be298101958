/* concurrent.h — the memtable concurrency scenario, shared by the Criterion suite and the
 * standalone ThreadSanitizer program (Criterion itself aborts under TSan). */
#ifndef TESTS_MEMTABLE_CONCURRENT_H
#define TESTS_MEMTABLE_CONCURRENT_H

#include "memtable/memtable.h"

/* Runs one writer against reader threads on a memtable of the given kind. Returns the number of
 * failed checks (0 on success) or -1 if the scenario could not be set up; *overlapped counts reader
 * rounds that started while the writer was still inserting. */
int memtable_concurrent_run(enum memtable_kind kind, int *overlapped);

#endif
