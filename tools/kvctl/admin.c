/* admin.c — the maintenance commands: flush, compact, check, repair, and options (what is in
 * force). */
#include <inttypes.h>
#include <stdint.h>
#include <stdlib.h>

#include <jansson.h>

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
    /* Beside a writer, lamina_check pins the tables it reads and reads again when it meets a
     * change half made, so one run is enough. */
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

/* `options --json`: one object, each option's value as JSON (booleans, numbers, enum names). */
static int kv_options_json(kv_ctx *c, const lamina_options *opts)
{
    json_t *root = json_object();
    int status = root ? 0 : kv_db_error(c, LAMINA_ENOMEM);
    for (size_t i = 0; status == 0 && i < lamina_options_count(); i++) {
        const lamina_option_desc *d = lamina_options_describe(i);
        char v[64];
        int rc = lamina_options_get(opts, d->name, v, sizeof v);
        if (rc != LAMINA_OK) {
            status = kv_db_error(c, rc);
            break;
        }
        json_t *j = d->kind == LAMINA_OPT_BOOL   ? json_boolean(v[0] == 't')
                    : d->kind == LAMINA_OPT_ENUM ? json_string(v)
                                                 : json_integer(strtoll(v, NULL, 10));
        if (!j || json_object_set_new(root, d->name, j) != 0)
            status = kv_db_error(c, LAMINA_ENOMEM);
    }
    if (status == 0 && json_dumpf(root, stdout, JSON_INDENT(2) | JSON_PRESERVE_ORDER) != 0)
        status = kv_db_error(c, LAMINA_EIO);
    if (status == 0) putchar('\n');
    json_decref(root);
    return status;
}

/* Prints the options in force: the database's OPTIONS file, overridden by the command line's
 * flags, as name=value lines (the OPTIONS file's form) or with --json one object. Opens
 * nothing: reads the OPTIONS file only. */
static int kv_cmd_options(kv_ctx *c, int argc, char **argv)
{
    int json = 0, status;
    if (kv_json_args("options", argc, argv, 0, &json, &status) < 0) return status;
    lamina_options opts;
    lamina_options_init(&opts);
    /* Unlike the other commands, a database without an OPTIONS file is an error here. */
    int rc = lamina_options_load(c->db_path, &opts);
    if (rc != LAMINA_OK) return kv_db_error(c, rc);
    for (size_t i = 0; i < c->n_set; i++)
        if ((rc = lamina_options_set(&opts, c->set_names[i], c->set_values[i])) != LAMINA_OK)
            return kv_db_error(c, rc);
    if (json) return kv_options_json(c, &opts);
    for (size_t i = 0; i < lamina_options_count(); i++) {
        const lamina_option_desc *d = lamina_options_describe(i);
        char v[64];
        if ((rc = lamina_options_get(&opts, d->name, v, sizeof v)) != LAMINA_OK)
            return kv_db_error(c, rc);
        printf("%s=%s\n", d->name, v);
    }
    return EXIT_FOUND;
}

const kv_command kv_admin_commands[] = {
    {"flush", "", "Writes the memtable to a level-0 table.", "", kv_cmd_flush, 0},
    {"compact", "", "Compacts the whole key range down to the last level.", "", kv_cmd_compact, 0},
    {"check", "",
     "Checks the database without opening it (no LOCK, writes nothing): CURRENT, MANIFEST,\n"
     "every block of every table, every WAL record and the directory; prints each finding\n"
     "as file:offset: what, then \"ok: N keys\" or \"damaged: N problems\" (exit 3).",
     "Findings go to standard error, the summary to standard output; notes (a torn WAL tail,\n"
     "a file the MANIFEST does not account for) do not make the exit status non-zero. Beside\n"
     "a writer, a file it replaced mid-check looks missing: a run that finds problems is\n"
     "repeated (5 runs at most) and the last run's findings are reported.\n",
     kv_cmd_check, 0},
    {"repair", "",
     "Rebuilds the database from what reads clean; what cannot be read goes to lost/.",
     "Keeps the tables that verify, replays every WAL record that reads clean into new\n"
     "tables, writes a new MANIFEST and CURRENT, moves damaged tables, old MANIFESTs and\n"
     "replayed WALs to DIR/lost/ (nothing is deleted), then opens the database and compacts\n"
     "it. Prints each finding as file:offset: what on standard error and a summary of what\n"
     "was kept and dropped. The database must not be open elsewhere.\n",
     kv_cmd_repair, 0},
    {"options", "[--json]",
     "Prints the options in force: the database's newest OPTIONS file, then the command line's\n"
     "--name=value flags, as name=value lines (--json: one JSON object).",
     "Every command opens with these: the options a database was made with (its compaction\n"
     "policy, size ratio, index kind, ...) stay in force until a flag changes them, and the\n"
     "open that changes one records it in a new OPTIONS file (and in LOG). Reads only.\n",
     kv_cmd_options, 0},
    {NULL, NULL, NULL, NULL, NULL, 0},
};
