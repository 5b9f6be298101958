/* ops.c — the commands that move whole tables: checkpoint, ingest and sst-write. */
#include <errno.h>
#include <inttypes.h>
#include <stdlib.h>
#include <string.h>

#include "kvctl.h"

static int kv_cmd_checkpoint(kv_ctx *c, int argc, char **argv)
{
    int status, at = kv_simple_args("checkpoint", argc, argv, 1, &status);
    if (at < 0) return status;
    status = kv_open(c, 0);
    if (status == 0) {
        int rc = lamina_checkpoint(c->db, argv[at]);
        if (rc != LAMINA_OK)
            status = kv_db_error(c, rc);
        else
            fprintf(stderr, "checkpoint written to %s\n", argv[at]);
    }
    return kv_close(c, status);
}

static int kv_cmd_ingest(kv_ctx *c, int argc, char **argv)
{
    static const struct option lo[] = {
        {"move", no_argument, NULL, 'm'}, {"help", no_argument, NULL, 'h'}, {NULL, 0, NULL, 0}};
    const kv_command *cmd = kv_command_find("ingest");
    unsigned flags = 0;
    int status = 0, ch;
    while (status == 0 && (ch = kv_next_flag(cmd, argc, argv, lo)) != -1) {
        if (ch <= -2)
            status = -2 - ch;
        else if (ch == 'm')
            flags |= LAMINA_INGEST_MOVE;
    }
    if (status != 0) return status;
    if (argc - optind < 1) return kv_usage_error("ingest", "%s", "expects at least one FILE");
    size_t n = (size_t)(argc - optind);
    status = kv_open(c, 0);
    if (status == 0) {
        int rc = lamina_ingest(c->db, (const char *const *)(argv + optind), n, flags);
        if (rc != LAMINA_OK)
            status = kv_db_error(c, rc);
        else
            fprintf(stderr, "ingested %zu table%s\n", n, n == 1 ? "" : "s");
    }
    return kv_close(c, status);
}

static int kv_cmd_sst_write(kv_ctx *c, int argc, char **argv)
{
    static const struct option lo[] = {
        {"keys", no_argument, NULL, 'k'}, {"help", no_argument, NULL, 'h'}, {NULL, 0, NULL, 0}};
    const kv_command *cmd = kv_command_find("sst-write");
    int keys_mode = 0, status = 0, ch, rc;
    while (status == 0 && (ch = kv_next_flag(cmd, argc, argv, lo)) != -1) {
        if (ch <= -2)
            status = -2 - ch;
        else if (ch == 'k')
            keys_mode = 1;
    }
    if (status != 0) return status;
    /* the lines are read as load reads them: dump's escapes, bare keys as they are, or hex */
    int mode = c->hex ? KV_LOAD_HEX : keys_mode ? KV_LOAD_RAW : KV_LOAD_ESCAPED;
    if (argc - optind < 1 || argc - optind > 2)
        return kv_usage_error("sst-write", "%s", "expects FILE and an optional INPUT");
    const char *out = argv[optind];
    const char *path = argc - optind == 2 ? argv[optind + 1] : "-";
    lamina_options opts;
    if ((status = kv_options(c, 0, &opts)) != 0) return status;
    FILE *in = strcmp(path, "-") == 0 ? stdin : fopen(path, "r");
    if (in == NULL) {
        fprintf(stderr, "kvctl sst-write: cannot open '%s': %s\n", path, strerror(errno));
        return EXIT_USAGE;
    }
    lamina_sst_writer *w = NULL;
    char *line = NULL, numbuf[24];
    size_t cap = 0;
    uint64_t line_no = 0, entries = 0;
    rc = lamina_sst_writer_create(out, &opts, &w);
    if (rc != LAMINA_OK) {
        status = kv_db_error(c, rc);
        goto out;
    }
    for (;;) {
        size_t n;
        int got = kv_next_line(in, &line, &cap, &n, "sst-write", path);
        if (got <= 0) {
            if (got < 0) status = EXIT_USAGE;
            break;
        }
        line_no++;
        kv_bytes k, v;
        if ((status = kv_load_line(mode, line, n, line_no, keys_mode, &k, &v, numbuf,
                                   sizeof numbuf)) != 0)
            break;
        rc = lamina_sst_writer_put(w, k.p, k.n, v.p, v.n);
        if (rc == LAMINA_EINVAL) {
            fprintf(stderr, "kvctl sst-write: line %" PRIu64 ": %s\n", line_no,
                    lamina_errmsg(NULL));
            status = EXIT_USAGE;
            break;
        }
        if (rc != LAMINA_OK) {
            status = kv_db_error(c, rc);
            break;
        }
    }
    /* A table is all or nothing: an input error leaves no file (destroy removes it). */
    if (status == 0) {
        rc = lamina_sst_writer_finish(w, &entries);
        if (rc != LAMINA_OK)
            status = kv_db_error(c, rc);
        else
            fprintf(stderr, "wrote %" PRIu64 " entries to %s\n", entries, out);
    }
out:
    lamina_sst_writer_destroy(w);
    free(line);
    if (in != stdin) fclose(in);
    return status;
}

const kv_command kv_ops_commands[] = {
    {"checkpoint", "DIR", "Writes an openable copy of the database to the new directory DIR.",
     "Flushes the memtable, hard-links every live table into DIR (copies them across\n"
     "filesystems) and writes a MANIFEST, CURRENT and OPTIONS there, all synced. DIR must not\n"
     "exist. The copy opens with kvctl --db=DIR like any database.\n",
     kv_cmd_checkpoint, 0},
    {"ingest", "[--move] FILE...",
     "Adds table files (written by sst-write) to the database in one atomic step.",
     "Each file is verified, its entries get one new sequence number (newer than every\n"
     "key already stored) and it goes to the deepest level its key range fits. The files'\n"
     "key ranges must not overlap one another. The files are left in place.\n"
     "Ingest options:\n"
     "  --move         remove the files once the ingestion is durable\n",
     kv_cmd_ingest, 0},
    {"sst-write", "[--keys] FILE [INPUT|-]",
     "Writes a table file FILE from lines key<TAB>value (default: standard input).",
     "Keys must come in strictly increasing order (bytewise); the table uses the\n"
     "--block_size, --compression_type, --bloom_bits, --index_type and --format_version\n"
     "options. FILE must not exist. A malformed or out-of-order line stops with exit status 2\n"
     "and leaves no file. Needs no database.\n"
     "sst-write options:\n"
     "  --keys         each line is a bare key; its value is its 1-based line number\n",
     kv_cmd_sst_write, 1},
    {NULL, NULL, NULL, NULL, NULL, 0},
};
