/* admin.c — the maintenance commands: flush, compact, check and repair. */
#include <inttypes.h>
#include <stdint.h>

#include "kvctl.h"

/* Prints one finding of check or repair on standard error: "file:offset: what" (a note
 * says so; the offset is left out when none applies). */
static void kv_print_finding(void *ctx, const char *file, uint64_t offset, int code,
                             const char *what)
{
    (void)ctx;
    fprintf(stderr, "%s", file[0] ? file : ".");
    if (offset != UINT64_MAX) fprintf(stderr, ":%" PRIu64, offset);
    fprintf(stderr, ": %s%s\n", code == LAMINA_OK ? "note: " : "", what);
}

static int kv_cmd_check(kv_ctx *c, int argc, char **argv)
{
    int status, at = kv_simple_args("check", argc, argv, 0, &status);
    if (at < 0) return status;
    lamina_options opts;
    if ((status = kv_options(c, 0, &opts)) != 0) return status;
    lamina_check_stats st = {.struct_size = sizeof st};
    int rc = lamina_check(c->db_path, &opts, kv_print_finding, c, &st);
    if (rc == LAMINA_OK) {
        printf("ok: %" PRIu64 " keys (%" PRIu64 " table entries in %" PRIu64 " tables, %" PRIu64
               " WAL records verified)\n",
               st.keys, st.table_entries, st.tables, st.wal_records);
        return EXIT_FOUND;
    }
    if (st.problems == 0) return kv_db_error(c, rc);
    printf("damaged: %" PRIu64 " problem%s\n", st.problems, st.problems == 1 ? "" : "s");
    return EXIT_DBERR;
}

static int kv_cmd_repair(kv_ctx *c, int argc, char **argv)
{
    int status, at = kv_simple_args("repair", argc, argv, 0, &status);
    if (at < 0) return status;
    lamina_options opts;
    if ((status = kv_options(c, 0, &opts)) != 0) return status;
    lamina_repair_stats st = {.struct_size = sizeof st};
    int rc = lamina_repair(c->db_path, &opts, kv_print_finding, c, &st);
    if (rc != LAMINA_OK) return kv_db_error(c, rc);
    printf("repaired: kept %" PRIu64 " tables (%" PRIu64 " entries), %" PRIu64
           " moved to lost/; replayed %" PRIu64 " WAL records (%" PRIu64
           " operations) into %" PRIu64 " tables, dropped %" PRIu64 " damaged spans (%" PRIu64
           " bytes); %" PRIu64 " files now in lost/\n",
           st.tables_kept, st.table_entries, st.tables_lost, st.wal_records, st.wal_entries,
           st.tables_written, st.wal_damaged, st.wal_bytes_dropped, st.files_moved_to_lost);
    return EXIT_FOUND;
}

static int kv_cmd_flush(kv_ctx *c, int argc, char **argv)
{
    int status, at = kv_simple_args("flush", argc, argv, 0, &status);
    if (at < 0) return status;
    status = kv_open(c, 0);
    if (status == 0) {
        int rc = lamina_flush(c->db);
        if (rc != LAMINA_OK) status = kv_db_error(c, rc);
    }
    return kv_close(c, status);
}

static int kv_cmd_compact(kv_ctx *c, int argc, char **argv)
{
    int status, at = kv_simple_args("compact", argc, argv, 0, &status);
    if (at < 0) return status;
    status = kv_open(c, 0);
    if (status == 0) {
        int rc = lamina_compact_range(c->db, NULL, 0, NULL, 0);
        if (rc != LAMINA_OK) status = kv_db_error(c, rc);
    }
    return kv_close(c, status);
}

const kv_command kv_admin_commands[] = {
    {"flush", "", "Writes the memtable to a level-0 table.", "", kv_cmd_flush, 0},
    {"compact", "", "Compacts the whole key range down to the last level.", "", kv_cmd_compact, 0},
    {"check", "",
     "Checks the database without opening it (no LOCK, writes nothing): CURRENT, MANIFEST,\n"
     "every block of every table, every WAL record and the directory; prints each finding\n"
     "as file:offset: what, then \"ok: N keys\" or \"damaged: N problems\" (exit 3).",
     "Findings go to standard error, the summary to standard output; notes (a torn WAL tail,\n"
     "a file the MANIFEST does not account for) do not make the exit status non-zero.\n",
     kv_cmd_check, 0},
    {"repair", "",
     "Rebuilds the database from what reads clean; what cannot be read goes to lost/.",
     "Keeps the tables that verify, replays every WAL record that reads clean into new\n"
     "tables, writes a new MANIFEST and CURRENT, moves damaged tables, old MANIFESTs and\n"
     "replayed WALs to DIR/lost/ (nothing is deleted), then opens the database and compacts\n"
     "it. Prints each finding as file:offset: what on standard error and a summary of what\n"
     "was kept and dropped. The database must not be open elsewhere.\n",
     kv_cmd_repair, 0},
    {NULL, NULL, NULL, NULL, NULL, 0},
};
