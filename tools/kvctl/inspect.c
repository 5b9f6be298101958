/* inspect.c — the inspection commands: stats (the database's figures, as a table or JSON) and
 * sst-dump (one table file, no database needed). */
#include <inttypes.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#include "kvctl.h"

/* Highest level number asked for per-level figures (the table's num_levels maximum). */
#define STATS_MAX_LEVELS 20

/* ---- sst-dump ------------------------------------------------------------------------- */

/* Prints one "name: value" line of sst-dump's properties. */
static void kv_sst_figure(const char *name, uint64_t v)
{
    printf("%s: %" PRIu64 "\n", name, v);
}

static void kv_sst_print_props(const kv_ctx *c, const char *path, const lamina_sst_props *p)
{
    printf("file: %s\n", path);
    kv_sst_figure("file_number", p->file_number);
    kv_sst_figure("file_size", p->file_size);
    kv_sst_figure("entries", p->entries);
    kv_sst_figure("deletions", p->deletions);
    kv_sst_figure("data_blocks", p->data_blocks);
    kv_sst_figure("data_bytes", p->data_bytes);
    kv_sst_figure("raw_key_bytes", p->raw_key_bytes);
    kv_sst_figure("raw_value_bytes", p->raw_value_bytes);
    printf("index: %s\n", p->index_name);
    kv_sst_figure("index_bytes", p->index_bytes);
    kv_sst_figure("index_levels", p->index_levels);
    kv_sst_figure("filter_bytes", p->filter_bytes);
    /* what the filter costs per key, as stored (the builder's target is bloom_bits) */
    printf("filter_bits_per_key: %.2f\n",
           p->entries ? (double)p->filter_bytes * 8.0 / (double)p->entries : 0.0);
    kv_sst_figure("bloom_bits", p->bloom_bits);
    printf("compression: %s\n", p->compression_name);
    kv_sst_figure("block_size", p->block_size);
    kv_sst_figure("restart_interval", p->restart_interval);
    kv_sst_figure("format_version", p->format_version);
    kv_sst_figure("smallest_seq", p->smallest_seq);
    kv_sst_figure("largest_seq", p->largest_seq);
    fputs("smallest_key: ", stdout);
    kv_print_bytes(c, p->smallest_key, p->smallest_key_len);
    fputs("\nlargest_key: ", stdout);
    kv_print_bytes(c, p->largest_key, p->largest_key_len);
    putchar('\n');
}

typedef struct kv_sst_scan {
    const kv_ctx *c;
    uint64_t limit, shown;
} kv_sst_scan;

/* Prints one entry as key<TAB>seq<TAB>value|tombstone<TAB>value, escaped as scan prints. */
static int kv_sst_print_entry(void *ctx, const void *key, size_t key_len, uint64_t seq, int type,
                              const void *value, size_t value_len)
{
    kv_sst_scan *s = ctx;
    kv_print_bytes(s->c, key, key_len);
    printf("\t%" PRIu64 "\t%s\t", seq, type == LAMINA_SST_VALUE ? "value" : "tombstone");
    kv_print_bytes(s->c, value, value_len);
    putchar_unlocked('\n');
    s->shown++;
    return s->limit != 0 && s->shown >= s->limit;
}

static int kv_cmd_sst_dump(kv_ctx *c, int argc, char **argv)
{
    static const struct option lo[] = {
        {"verify", no_argument, NULL, 'v'},     {"scan", no_argument, NULL, 's'},
        {"from", required_argument, NULL, 'f'}, {"limit", required_argument, NULL, 'l'},
        {"help", no_argument, NULL, 'h'},       {NULL, 0, NULL, 0}};
    const kv_command *cmd = kv_command_find("sst-dump");
    kv_bytes from = {0};
    kv_sst_scan scan = {c, 0, 0};
    int verify = 0, entries = 0, status = 0, ch, rc;
    while (status == 0 && (ch = kv_next_flag(cmd, argc, argv, lo)) != -1) {
        if (ch <= -2) {
            status = -2 - ch;
        } else if (ch == 'v') {
            verify = 1;
        } else if (ch == 's') {
            entries = 1;
        } else if (ch == 'f') {
            free(from.p);
            status = kv_arg_bytes(c, "sst-dump", optarg, &from);
        } else if (ch == 'l') {
            status = kv_parse_count("sst-dump", "--limit", optarg, &scan.limit);
        }
    }
    if (status == 0 && argc - optind != 1)
        status = kv_usage_error("sst-dump", "%s", "expects one argument, FILE");
    if (status != 0) {
        free(from.p);
        return status;
    }
    const char *path = argv[optind];
    c->db_path = path; /* errors without a message of their own name the file */
    lamina_sst *sst = NULL;
    rc = lamina_sst_open(path, &sst);
    if (rc == LAMINA_OK && !entries) {
        lamina_sst_props props = {.struct_size = sizeof props};
        rc = lamina_sst_properties(sst, &props);
        if (rc == LAMINA_OK) kv_sst_print_props(c, path, &props);
    }
    if (rc == LAMINA_OK && verify) {
        uint64_t n = 0;
        rc = lamina_sst_verify(sst, &n);
        if (rc == LAMINA_OK) printf("verify: ok (%" PRIu64 " entries)\n", n);
    }
    if (rc == LAMINA_OK && entries)
        rc = lamina_sst_scan(sst, from.p, from.n, kv_sst_print_entry, &scan);
    if (rc != LAMINA_OK) {
        fflush(stdout); /* what was printed before the error comes first */
        status = kv_db_error(c, rc);
    }
    lamina_sst_close(sst);
    free(from.p);
    return status;
}

/* ---- stats ---------------------------------------------------------------------------- */

static const char *const kv_stats_level_figures[][2] = {
    {"runs", "lamina.num-runs-at-level"},
    {"tables", "lamina.num-files-at-level"},
    {"bytes", "lamina.bytes-at-level"},
    {"compaction_bytes_read", "lamina.compaction-bytes-read-at-level"},
    {"compaction_bytes_written", "lamina.compaction-bytes-written-at-level"},
    {"compaction_count", "lamina.compaction-count-at-level"},
    {"compaction_micros", "lamina.compaction-micros-at-level"},
};

/* The database's figures beside the levels in `stats --json`. */
static const char *const kv_stats_figures[][2] = {
    {"num_levels", "lamina.num-levels"},
    {"user_bytes_written", "lamina.user-bytes-written"},
    {"bytes_flushed", "lamina.bytes-flushed"},
    {"flushes", "lamina.flushes"},
    {"flush_micros", "lamina.flush-micros"},
    {"compactions", "lamina.compactions"},
    {"compaction_bytes_read", "lamina.compaction-bytes-read"},
    {"compaction_bytes_written", "lamina.compaction-bytes-written"},
    {"bytes_written", "lamina.bytes-written"},
    {"trivial_moves", "lamina.trivial-moves"},
    {"total_runs", "lamina.total-runs"},
    {"live_bytes", "lamina.live-bytes"},
    {"memtable_bytes", "lamina.memtable-bytes"},
    {"stall_micros", "lamina.stall-micros"},
    {"cache_hits", "lamina.cache-hits"},
    {"cache_misses", "lamina.cache-misses"},
    {"sequence", "lamina.sequence"},
};

/* A ratio property ("1.234") as a number. */
static int kv_stats_ratio(kv_ctx *c, const char *name, double *out)
{
    char *text = NULL;
    int rc = lamina_property(c->db, name, &text);
    if (rc != LAMINA_OK) return kv_db_error(c, rc);
    *out = strtod(text, NULL);
    lamina_free(text);
    return 0;
}

/* Adds the integer property name to obj as key. 0 or the exit status (reported). */
static int kv_stats_json_int(kv_ctx *c, json_t *obj, const char *key, const char *name)
{
    uint64_t v;
    int rc = lamina_property_int(c->db, name, &v);
    if (rc != LAMINA_OK) return kv_db_error(c, rc);
    if (json_object_set_new(obj, key, json_integer((json_int_t)v)) != 0) {
        fprintf(stderr, "kvctl: stats: out of memory\n");
        return EXIT_DBERR;
    }
    return 0;
}

/* `stats --json`: every level's row (levels 0 .. num_levels-1, empty ones included) and the
 * database's figures, as one object. 0 or the exit status (reported). */
static int kv_stats_json(kv_ctx *c)
{
    json_t *root = json_object(), *levels = json_array();
    int status = 0;
    if (!root || !levels || json_object_set(root, "levels", levels) != 0) {
        fprintf(stderr, "kvctl: stats: out of memory\n");
        status = EXIT_DBERR;
    }
    for (int level = 0; status == 0 && level < STATS_MAX_LEVELS; level++) {
        char name[96];
        uint64_t probe;
        snprintf(name, sizeof name, "lamina.num-runs-at-level%d", level);
        if (lamina_property_int(c->db, name, &probe) == LAMINA_EINVAL && level > 0) break;
        json_t *row = json_object();
        if (!row || json_array_append_new(levels, row) != 0 ||
            json_object_set_new(row, "level", json_integer(level)) != 0) {
            fprintf(stderr, "kvctl: stats: out of memory\n");
            status = EXIT_DBERR;
        }
        size_t n = sizeof kv_stats_level_figures / sizeof kv_stats_level_figures[0];
        for (size_t i = 0; status == 0 && i < n; i++) {
            snprintf(name, sizeof name, "%s%d", kv_stats_level_figures[i][1], level);
            status = kv_stats_json_int(c, row, kv_stats_level_figures[i][0], name);
        }
    }
    size_t n = sizeof kv_stats_figures / sizeof kv_stats_figures[0];
    for (size_t i = 0; status == 0 && i < n; i++)
        status = kv_stats_json_int(c, root, kv_stats_figures[i][0], kv_stats_figures[i][1]);
    double w_amp = 0, space_amp = 0;
    if (status == 0) status = kv_stats_ratio(c, "lamina.w-amp", &w_amp);
    if (status == 0) status = kv_stats_ratio(c, "lamina.space-amp", &space_amp);
    if (status == 0 && (json_object_set_new(root, "w_amp", json_real(w_amp)) != 0 ||
                        json_object_set_new(root, "space_amp", json_real(space_amp)) != 0)) {
        fprintf(stderr, "kvctl: stats: out of memory\n");
        status = EXIT_DBERR;
    }
    if (status == 0 && json_dumpf(root, stdout, JSON_INDENT(2) | JSON_PRESERVE_ORDER) != 0) {
        fprintf(stderr, "kvctl: stats: cannot write the output\n");
        status = EXIT_DBERR;
    }
    if (status == 0) putchar('\n');
    json_decref(levels);
    json_decref(root);
    return status;
}

static int kv_cmd_stats(kv_ctx *c, int argc, char **argv)
{
    static const struct option lo[] = {
        {"json", no_argument, NULL, 'j'}, {"help", no_argument, NULL, 'h'}, {NULL, 0, NULL, 0}};
    const kv_command *cmd = kv_command_find("stats");
    int json = 0, status = 0, ch;
    while (status == 0 && (ch = kv_next_flag(cmd, argc, argv, lo)) != -1) {
        if (ch <= -2)
            status = -2 - ch;
        else if (ch == 'j')
            json = 1;
    }
    if (status == 0 && optind != argc)
        status = kv_usage_error("stats", "unexpected argument '%s'", argv[optind]);
    if (status != 0) return status;
    status = kv_open_read_only(c);
    if (status != 0) return status;
    if (json) {
        status = kv_stats_json(c);
    } else {
        /* lamina.stats is the one table: each figure once. */
        char *text = NULL;
        int rc = lamina_property(c->db, "lamina.stats", &text);
        if (rc != LAMINA_OK) {
            status = kv_db_error(c, rc);
        } else {
            fputs(text, stdout);
            if (text[0] != '\0' && text[strlen(text) - 1] != '\n') putchar('\n');
            lamina_free(text);
        }
    }
    return kv_close(c, status);
}

const kv_command kv_inspect_commands[] = {
    {"stats", "[--json]",
     "Prints the statistics as one table: per level runs, tables, bytes and the work done into\n"
     "it (bytes read and written, jobs, micros: flushes at level 0, compactions below), totals,\n"
     "user bytes written, w_amp and space_amp; then the cache, memory and stall figures.",
     "Stats options:\n"
     "  --json         print every figure as one JSON object instead (levels as an array)\n"
     "The work counters are kept in the MANIFEST, so they survive reopening.\n",
     kv_cmd_stats, 0},
    {"sst-dump", "[--verify] [--scan [--from=K] [--limit=N]] FILE",
     "Prints a table file's properties and key range (no --db needed).",
     "Prints name: value lines: entries, deletions, data blocks and bytes, raw key and value\n"
     "bytes, index kind (index: btree|fst) and bytes, filter bytes and bits per key,\n"
     "compression, block size, format version, smallest and largest sequence number and\n"
     "user key. Exit status 3 when the file cannot be read or is not a Lamina table.\n"
     "sst-dump options:\n"
     "  --verify       also read every block and check it: \"verify: ok (N entries)\",\n"
     "                 or the damage with its offset on standard error (exit 3)\n"
     "  --scan         print the entries instead of the properties, in stored order:\n"
     "                 key<TAB>seq<TAB>value|tombstone<TAB>value (every version)\n"
     "  --from=K       --scan starts at the first entry of user key K or after\n"
     "  --limit=N      --scan prints at most N entries\n",
     kv_cmd_sst_dump, 1},
    {NULL, NULL, NULL, NULL, NULL, 0},
};
