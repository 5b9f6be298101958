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
/* Gets through thread-cached super versions (each must see its key's last acknowledged put)
 * while a writer forces memtable switches and flushes, short-lived reader threads come and go,
 * a second database (other_path) is read by the same thread, and a thread that got from the
 * database at path outlives its close and reads the reopened one. Opens and closes both. */
int conc_super_version_churn(const char *path, const char *other_path);
/* Threads opening, reading (gets, scans) and closing read-only handles, and sharing one opened
 * before the writes, while a writer handle overwrites every key and compacts: each answer is
 * absent or its key's own value, the shared handle keeps its version. Opens and closes all. */
int conc_read_only_beside_writer(const char *path);
/* A writer deletes windows of keys with lamina_delete_range and puts each back with one batch,
 * while 2 readers get keys and scan (each window whole or absent) and flushes and compactions
 * run; then a compaction and a check that every key is back. */
int conc_range_deletes_beside_readers(lamina_db *db);

#endif
