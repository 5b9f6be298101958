/* concurrent.h — concurrency scenarios shared by the Criterion suite and the TSan program. */
#ifndef TESTS_DB_CONCURRENT_H
#define TESTS_DB_CONCURRENT_H

#include "lamina.h"

/* Small buffers and two background jobs, so flushes and compactions overlap the workload. */
lamina_options conc_options(void);
/* 4 writers and 2 readers (gets, snapshot scans) on db, then a check of every key. */
int conc_writers_and_readers(lamina_db *db);
/* 2 writers while lamina_compact_range runs three times. */
int conc_compact_beside_writers(lamina_db *db);

#endif
