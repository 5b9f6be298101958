/* inspect.c — the inspection commands: stats (the database's figures, as a table or JSON),
 * files (the live tables, RocksDB's list_live_files_metadata), property, approx-size
 * (GetApproximateSizes), manifest-dump and wal-dump (ldb's manifest_dump and dump_wal) and
 * sst-dump (one table file, no database needed). --json output is built with jansson. */
#include <inttypes.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#include "kvctl.h"

/* Highest level number asked for per-level figures (the table's num_levels maximum). */
#define STATS_MAX_LEVELS 20

/* ---- JSON output ---------------------------------------------------------------------- */

/* Reports that a JSON value could not be built; returns EXIT_DBERR. */
static int kv_json_oom(const char *cmd)
{
    fprintf(stderr, "kvctl: %s: out of memory\n", cmd);
    return EXIT_DBERR;
}

/* Bytes as a JSON string in the form kv_print_bytes prints them (escaped, or hex under --hex),
 * so text and JSON output show a key alike: it prints into a memory stream standing in for
 * stdout (kvctl is single-threaded). The escaped form is ASCII, so always a valid JSON string.
 * NULL when out of memory. */
static json_t *kv_json_bytes(const kv_ctx *c, const void *p, size_t n)
{
    char *text = NULL;
    size_t len = 0;
    FILE *mem = open_memstream(&text, &len);
    if (mem == NULL) return NULL;
    FILE *saved = stdout;
    stdout = mem;
    kv_print_bytes(c, p, n);
    stdout = saved;
    json_t *j = fclose(mem) == 0 ? json_stringn(text, len) : NULL;
    free(text);
    return j;
}

/* obj[key] = value (taken over); -1 when value is NULL or the set fails. */
static int kv_json_set(json_t *obj, const char *key, json_t *value)
{
    return value == NULL ? -1 : json_object_set_new(obj, key, value);
}

static int kv_json_u64(json_t *obj, const char *key, uint64_t v)
{
    return kv_json_set(obj, key, json_integer((json_int_t)v));
}

/* Prints root (taken over) on stdout, indented, keys in insertion order. 0 or EXIT_DBERR. */
static int kv_json_print(const char *cmd, json_t *root)
{
    int status = 0;
    if (root == NULL) return kv_json_oom(cmd);
    if (json_dumpf(root, stdout, JSON_INDENT(2) | JSON_PRESERVE_ORDER) != 0) {
        fprintf(stderr, "kvctl: %s: cannot write the output\n", cmd);
        status = EXIT_DBERR;
    } else {
        putchar('\n');
    }
    json_decref(root);
    return status;
}

/* A table's fields as a JSON object; NULL when out of memory. */
static json_t *kv_json_table(const kv_ctx *c, const lamina_table_info *t)
{
    json_t *o = json_object();
    char name[32];
    snprintf(name, sizeof name, "%06" PRIu64 ".sst", t->file_number);
    if (o == NULL || kv_json_u64(o, "level", (uint64_t)t->level) || kv_json_u64(o, "run", t->run) ||
        kv_json_u64(o, "file_number", t->file_number) ||
        kv_json_set(o, "file_name", json_string(name)) ||
        kv_json_u64(o, "file_size", t->file_size) || kv_json_u64(o, "entries", t->entries) ||
        kv_json_u64(o, "smallest_seq", t->smallest_seq) ||
        kv_json_u64(o, "largest_seq", t->largest_seq) ||
        kv_json_set(o, "smallest_key", kv_json_bytes(c, t->smallest_key, t->smallest_key_len)) ||
        kv_json_set(o, "largest_key", kv_json_bytes(c, t->largest_key, t->largest_key_len))) {
        json_decref(o);
        return NULL;
    }
    return o;
}

/* A table on one line: level, run, file, bytes, entries, sequence numbers, key range. */
static void kv_print_table(const kv_ctx *c, const lamina_table_info *t)
{
    printf("%-5d %6" PRIu64 "  %06" PRIu64 ".sst %12" PRIu64 " %9" PRIu64 "  %" PRIu64 "..%" PRIu64
           "  ",
           t->level, t->run, t->file_number, t->file_size, t->entries, t->smallest_seq,
           t->largest_seq);
    kv_print_bytes(c, t->smallest_key, t->smallest_key_len);
    fputs(" .. ", stdout);
    kv_print_bytes(c, t->largest_key, t->largest_key_len);
    putchar('\n');
}

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

/* The database's figures beside the levels in `stats --json`: the persisted work and the
 * state now. */
static const char *const kv_stats_figures[][2] = {
    {"num_levels", "lamina.num-levels"},
    {"levels_with_data", "lamina.levels-with-data"},
    {"user_bytes_written", "lamina.user-bytes-written"},
    {"bytes_flushed", "lamina.bytes-flushed"},
    {"flushes", "lamina.flushes"},
    {"flush_micros", "lamina.flush-micros"},
    {"compactions", "lamina.compactions"},
    {"compaction_bytes_read", "lamina.compaction-bytes-read"},
    {"compaction_bytes_written", "lamina.compaction-bytes-written"},
    {"bytes_written", "lamina.bytes-written"},
    {"total_runs", "lamina.total-runs"},
    {"live_bytes", "lamina.live-bytes"},
    {"memtable_bytes", "lamina.memtable-bytes"},
    {"cache_bytes", "lamina.cache-bytes"},
    {"sequence", "lamina.sequence"},
};

/* Counters that start at 0 at every open, in `stats --json`'s "since_open" object. */
static const char *const kv_stats_since_open[][2] = {
    {"trivial_moves", "lamina.trivial-moves"},
    {"max_compaction_input_bytes", "lamina.max-compaction-input-bytes"},
    {"stall_micros", "lamina.stall-micros"},
    {"table_opens", "lamina.table-opens"},
    {"cache_hits", "lamina.cache-hits"},
    {"cache_misses", "lamina.cache-misses"},
    {"cache_inserts", "lamina.cache-inserts"},
    {"cache_evictions", "lamina.cache-evictions"},
    {"lookups", "lamina.lookups"},
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
    char *policy = NULL;
    int rc = status == 0 ? lamina_property(c->db, "lamina.compaction-policy", &policy) : LAMINA_OK;
    if (rc != LAMINA_OK) status = kv_db_error(c, rc);
    if (status == 0 && json_object_set_new(root, "compaction_policy", json_string(policy)) != 0)
        status = kv_json_oom("stats");
    lamina_free(policy);
    json_t *since = json_object();
    if (status == 0 && (!since || json_object_set(root, "since_open", since) != 0))
        status = kv_json_oom("stats");
    n = sizeof kv_stats_since_open / sizeof kv_stats_since_open[0];
    for (size_t i = 0; status == 0 && i < n; i++)
        status = kv_stats_json_int(c, since, kv_stats_since_open[i][0], kv_stats_since_open[i][1]);
    json_decref(since);
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
    int json = 0, status;
    if (kv_json_args("stats", argc, argv, 0, &json, &status) < 0) return status;
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

/* ---- files ---------------------------------------------------------------------------- */

typedef struct kv_files {
    const kv_ctx *c;
    json_t *tables; /* --json: the array being filled; NULL: print lines */
    uint64_t count, bytes;
    int oom;
} kv_files;

static int kv_files_table(void *ctx, const lamina_table_info *t)
{
    kv_files *f = ctx;
    f->count++;
    f->bytes += t->file_size;
    if (f->tables == NULL) {
        kv_print_table(f->c, t);
        return 0;
    }
    json_t *o = kv_json_table(f->c, t);
    if (o == NULL || json_array_append_new(f->tables, o) != 0) f->oom = 1;
    return f->oom;
}

static int kv_cmd_files(kv_ctx *c, int argc, char **argv)
{
    int json = 0, status;
    if (kv_json_args("files", argc, argv, 0, &json, &status) < 0) return status;
    status = kv_open_read_only(c);
    if (status != 0) return status;
    kv_files f = {c, json ? json_array() : NULL, 0, 0, 0};
    if (json && f.tables == NULL) return kv_close(c, kv_json_oom("files"));
    if (!json)
        printf("level    run  file              bytes   entries  seqs  smallest .. largest\n");
    int rc = lamina_live_tables(c->db, kv_files_table, &f);
    if (rc != LAMINA_OK) {
        status = kv_db_error(c, rc);
    } else if (f.oom) {
        status = kv_json_oom("files");
    } else if (json) {
        json_t *root = json_object();
        if (root == NULL || json_object_set(root, "tables", f.tables) ||
            kv_json_u64(root, "count", f.count) || kv_json_u64(root, "bytes", f.bytes)) {
            json_decref(root);
            status = kv_json_oom("files");
        } else {
            status = kv_json_print("files", root);
        }
    } else {
        printf("total: %" PRIu64 " tables, %" PRIu64 " bytes\n", f.count, f.bytes);
    }
    json_decref(f.tables);
    return kv_close(c, status);
}

/* ---- property ------------------------------------------------------------------------- */

/* The description of a property name (a per-level name with its level number), or NULL. */
static const lamina_property_desc *kv_property_find(const char *name)
{
    for (size_t i = 0; i < lamina_property_count(); i++) {
        const lamina_property_desc *d = lamina_property_describe(i);
        size_t n = strlen(d->name);
        if (!d->per_level && strcmp(d->name, name) == 0) return d;
        if (d->per_level && strncmp(d->name, name, n) == 0 && name[n] >= '0' && name[n] <= '9' &&
            strspn(name + n, "0123456789") == strlen(name + n))
            return d;
    }
    return NULL;
}

static const char *kv_property_kind(int kind)
{
    return kind == LAMINA_PROP_INT ? "int" : kind == LAMINA_PROP_RATIO ? "ratio" : "text";
}

/* `property --list`: every name, its kind and doc. */
static int kv_property_list(int json)
{
    json_t *root = json ? json_array() : NULL;
    if (json && root == NULL) return kv_json_oom("property");
    for (size_t i = 0; i < lamina_property_count(); i++) {
        const lamina_property_desc *d = lamina_property_describe(i);
        char name[128];
        snprintf(name, sizeof name, "%s%s", d->name, d->per_level ? "<N>" : "");
        if (!json) {
            printf("%-44s %-5s %s\n", name, kv_property_kind(d->kind), d->doc);
            continue;
        }
        json_t *o = json_object();
        if (o == NULL || json_array_append_new(root, o) != 0 ||
            kv_json_set(o, "name", json_string(name)) ||
            kv_json_set(o, "kind", json_string(kv_property_kind(d->kind))) ||
            kv_json_set(o, "per_level", json_boolean(d->per_level)) ||
            kv_json_set(o, "doc", json_string(d->doc))) {
            json_decref(root);
            return kv_json_oom("property");
        }
    }
    return json ? kv_json_print("property", root) : 0;
}

static int kv_cmd_property(kv_ctx *c, int argc, char **argv)
{
    static const struct option lo[] = {{"json", no_argument, NULL, 'j'},
                                       {"list", no_argument, NULL, 'l'},
                                       {"help", no_argument, NULL, 'h'},
                                       {NULL, 0, NULL, 0}};
    const kv_command *cmd = kv_command_find("property");
    int json = 0, list = 0, status = 0, ch;
    while (status == 0 && (ch = kv_next_flag(cmd, argc, argv, lo)) != -1) {
        if (ch <= -2)
            status = -2 - ch;
        else if (ch == 'j')
            json = 1;
        else if (ch == 'l')
            list = 1;
    }
    if (status == 0 && argc - optind != (list ? 0 : 1))
        status = kv_usage_error("property", "%s",
                                list ? "--list takes no NAME" : "expects one argument, NAME");
    if (status != 0) return status;
    if (list) return kv_property_list(json);
    const char *name = argv[optind];
    status = kv_open_read_only(c);
    if (status != 0) return status;
    char *text = NULL;
    int rc = lamina_property(c->db, name, &text);
    if (rc != LAMINA_OK) {
        status = kv_db_error(c, rc);
    } else if (!json) {
        fputs(text, stdout);
        if (text[0] == '\0' || text[strlen(text) - 1] != '\n') putchar('\n');
    } else {
        /* The value keeps its kind: a number stays a number. */
        const lamina_property_desc *d = kv_property_find(name);
        int kind = d ? d->kind : LAMINA_PROP_TEXT;
        json_t *value = kind == LAMINA_PROP_INT     ? json_integer(strtoll(text, NULL, 10))
                        : kind == LAMINA_PROP_RATIO ? json_real(strtod(text, NULL))
                                                    : json_string(text);
        json_t *root = json_object();
        if (root == NULL || kv_json_set(root, "name", json_string(name)) ||
            kv_json_set(root, "value", value)) {
            json_decref(root);
            status = kv_json_oom("property");
        } else {
            status = kv_json_print("property", root);
        }
    }
    lamina_free(text);
    return kv_close(c, status);
}

/* ---- approx-size ---------------------------------------------------------------------- */

static int kv_cmd_approx_size(kv_ctx *c, int argc, char **argv)
{
    static const struct option lo[] = {{"json", no_argument, NULL, 'j'},
                                       {"memtables", no_argument, NULL, 'm'},
                                       {"no-files", no_argument, NULL, 'n'},
                                       {"help", no_argument, NULL, 'h'},
                                       {NULL, 0, NULL, 0}};
    const kv_command *cmd = kv_command_find("approx-size");
    int json = 0, status = 0, ch;
    unsigned flags = LAMINA_SIZE_FILES;
    while (status == 0 && (ch = kv_next_flag(cmd, argc, argv, lo)) != -1) {
        if (ch <= -2)
            status = -2 - ch;
        else if (ch == 'j')
            json = 1;
        else if (ch == 'm')
            flags |= LAMINA_SIZE_MEMTABLES;
        else if (ch == 'n')
            flags &= ~(unsigned)LAMINA_SIZE_FILES;
    }
    int nargs = argc - optind;
    if (status == 0 && (nargs == 0 || nargs % 2 != 0))
        status = kv_usage_error("approx-size", "%s", "expects pairs of arguments, FROM TO");
    if (status == 0 && flags == 0)
        status = kv_usage_error("approx-size", "%s", "--no-files needs --memtables");
    if (status != 0) return status;
    size_t n = (size_t)nargs / 2;
    kv_bytes *keys = calloc(2 * n, sizeof *keys);
    lamina_range *ranges = calloc(n, sizeof *ranges);
    uint64_t *sizes = calloc(n, sizeof *sizes);
    if (keys == NULL || ranges == NULL || sizes == NULL)
        status = kv_usage_error("approx-size", "%s", "out of memory");
    for (size_t i = 0; status == 0 && i < 2 * n; i++)
        status = kv_arg_bytes(c, "approx-size", argv[optind + (int)i], &keys[i]);
    for (size_t i = 0; status == 0 && i < n; i++) {
        ranges[i].start = keys[2 * i].p;
        ranges[i].start_len = keys[2 * i].n;
        /* An empty TO would be an empty range: it means "to the last key" instead. */
        ranges[i].limit = keys[2 * i + 1].n ? keys[2 * i + 1].p : NULL;
        ranges[i].limit_len = keys[2 * i + 1].n;
    }
    if (status == 0) status = kv_open_read_only(c);
    if (status == 0) {
        int rc = lamina_approximate_sizes(c->db, n, ranges, flags, sizes);
        if (rc != LAMINA_OK) status = kv_db_error(c, rc);
    }
    json_t *root = NULL, *arr = NULL;
    uint64_t total = 0;
    if (status == 0 && json) {
        root = json_object();
        arr = json_array();
        if (root == NULL || arr == NULL || json_object_set(root, "ranges", arr) != 0)
            status = kv_json_oom("approx-size");
    }
    for (size_t i = 0; status == 0 && i < n; i++) {
        total += sizes[i];
        if (!json) {
            kv_print_bytes(c, keys[2 * i].p, keys[2 * i].n);
            putchar('\t');
            kv_print_bytes(c, keys[2 * i + 1].p, keys[2 * i + 1].n);
            printf("\t%" PRIu64 "\n", sizes[i]);
            continue;
        }
        json_t *o = json_object();
        if (o == NULL || json_array_append_new(arr, o) != 0 ||
            kv_json_set(o, "from", kv_json_bytes(c, keys[2 * i].p, keys[2 * i].n)) ||
            kv_json_set(o, "to", kv_json_bytes(c, keys[2 * i + 1].p, keys[2 * i + 1].n)) ||
            kv_json_u64(o, "bytes", sizes[i]))
            status = kv_json_oom("approx-size");
    }
    if (status == 0 && json) {
        if (kv_json_u64(root, "total", total) ||
            kv_json_set(root, "memtables", json_boolean(flags & LAMINA_SIZE_MEMTABLES)) ||
            kv_json_set(root, "files", json_boolean(flags & LAMINA_SIZE_FILES)))
            status = kv_json_oom("approx-size");
        else
            status = kv_json_print("approx-size", json_incref(root));
    }
    json_decref(arr);
    json_decref(root);
    for (size_t i = 0; keys != NULL && i < 2 * n; i++)
        free(keys[i].p);
    free(keys);
    free(ranges);
    free(sizes);
    return kv_close(c, status);
}

/* ---- manifest-dump -------------------------------------------------------------------- */

typedef struct kv_dump {
    const kv_ctx *c;
    json_t *items; /* --json: the array being filled; NULL: print lines */
    int oom;
} kv_dump;

static void kv_print_numbers(const char *label, const uint64_t *a, size_t n)
{
    if (n == 0) return;
    printf("  %s", label);
    for (size_t i = 0; i < n; i++)
        printf(" %" PRIu64, a[i]);
    putchar('\n');
}

static void kv_manifest_print(const kv_ctx *c, const lamina_manifest_edit *e)
{
    printf("edit %" PRIu64 " at offset %" PRIu64 "\n", e->index, e->offset);
    if (e->has_identity || e->wals_tracked)
        printf("  %s%s%s\n", e->has_identity ? "identity lamina" : "",
               e->has_identity && e->wals_tracked ? "  " : "",
               e->wals_tracked ? "wals_tracked" : "");
    if (e->has_log_number || e->has_next_file || e->has_last_sequence || e->has_next_run) {
        fputs(" ", stdout);
        if (e->has_log_number) printf(" log_number %" PRIu64, e->log_number);
        if (e->has_next_file) printf(" next_file %" PRIu64, e->next_file_number);
        if (e->has_last_sequence) printf(" last_sequence %" PRIu64, e->last_sequence);
        if (e->has_next_run) printf(" next_run %" PRIu64, e->next_run);
        putchar('\n');
    }
    kv_print_numbers("wals_added", e->wals_added, e->nwals_added);
    kv_print_numbers("skipped", e->skipped, e->nskipped);
    for (size_t i = 0; i < e->ndeleted; i++)
        printf("  delete level %d %06" PRIu64 ".sst\n", e->deleted_levels[i],
               e->deleted_numbers[i]);
    for (size_t i = 0; i < e->nadded; i++) {
        const lamina_table_info *t = &e->added[i];
        printf("  add level %d run %" PRIu64 " %06" PRIu64 ".sst %" PRIu64 " bytes %" PRIu64
               " entries seq %" PRIu64 "..%" PRIu64 " keys ",
               t->level, t->run, t->file_number, t->file_size, t->entries, t->smallest_seq,
               t->largest_seq);
        kv_print_bytes(c, t->smallest_key, t->smallest_key_len);
        fputs(" .. ", stdout);
        kv_print_bytes(c, t->largest_key, t->largest_key_len);
        putchar('\n');
    }
    if (e->has_stats) {
        printf("  stats user_bytes %" PRIu64 " flush_bytes %" PRIu64 " flushes %" PRIu64
               " flush_micros %" PRIu64 "\n",
               e->user_bytes, e->flush_bytes, e->flush_count, e->flush_micros);
        for (size_t l = 0; l < e->nlevels; l++) {
            const lamina_level_work *w = &e->levels[l];
            if (!w->bytes_read && !w->bytes_written && !w->count && !w->micros) continue;
            printf("  stats level %zu read %" PRIu64 " written %" PRIu64 " jobs %" PRIu64
                   " micros %" PRIu64 "\n",
                   l, w->bytes_read, w->bytes_written, w->count, w->micros);
        }
    }
}

static json_t *kv_json_numbers(const uint64_t *a, size_t n)
{
    json_t *arr = json_array();
    for (size_t i = 0; arr != NULL && i < n; i++)
        if (json_array_append_new(arr, json_integer((json_int_t)a[i])) != 0) {
            json_decref(arr);
            return NULL;
        }
    return arr;
}

static json_t *kv_manifest_json(const kv_ctx *c, const lamina_manifest_edit *e)
{
    json_t *o = json_object(), *added = json_array(), *deleted = json_array();
    int bad = o == NULL || added == NULL || deleted == NULL;
    if (!bad)
        bad = kv_json_u64(o, "index", e->index) || kv_json_u64(o, "offset", e->offset) ||
              kv_json_set(o, "identity", json_boolean(e->has_identity)) ||
              kv_json_set(o, "wals_tracked", json_boolean(e->wals_tracked));
    if (!bad && e->has_log_number) bad = kv_json_u64(o, "log_number", e->log_number);
    if (!bad && e->has_next_file) bad = kv_json_u64(o, "next_file", e->next_file_number);
    if (!bad && e->has_last_sequence) bad = kv_json_u64(o, "last_sequence", e->last_sequence);
    if (!bad && e->has_next_run) bad = kv_json_u64(o, "next_run", e->next_run);
    if (!bad)
        bad = kv_json_set(o, "wals_added", kv_json_numbers(e->wals_added, e->nwals_added)) ||
              kv_json_set(o, "skipped", kv_json_numbers(e->skipped, e->nskipped)) ||
              json_object_set(o, "added", added) || json_object_set(o, "deleted", deleted);
    for (size_t i = 0; !bad && i < e->nadded; i++) {
        json_t *t = kv_json_table(c, &e->added[i]);
        bad = t == NULL || json_array_append_new(added, t) != 0;
    }
    for (size_t i = 0; !bad && i < e->ndeleted; i++) {
        json_t *d = json_object();
        bad = d == NULL || json_array_append_new(deleted, d) != 0 ||
              kv_json_u64(d, "level", (uint64_t)e->deleted_levels[i]) ||
              kv_json_u64(d, "file_number", e->deleted_numbers[i]);
    }
    if (!bad && e->has_stats) {
        json_t *st = json_object(), *levels = json_array();
        bad = st == NULL || levels == NULL || json_object_set(o, "stats", st) != 0 ||
              kv_json_u64(st, "user_bytes", e->user_bytes) ||
              kv_json_u64(st, "flush_bytes", e->flush_bytes) ||
              kv_json_u64(st, "flushes", e->flush_count) ||
              kv_json_u64(st, "flush_micros", e->flush_micros) ||
              json_object_set(st, "levels", levels) != 0;
        for (size_t l = 0; !bad && l < e->nlevels; l++) {
            const lamina_level_work *w = &e->levels[l];
            json_t *row = json_object();
            bad = row == NULL || json_array_append_new(levels, row) != 0 ||
                  kv_json_u64(row, "level", l) || kv_json_u64(row, "bytes_read", w->bytes_read) ||
                  kv_json_u64(row, "bytes_written", w->bytes_written) ||
                  kv_json_u64(row, "count", w->count) || kv_json_u64(row, "micros", w->micros);
        }
        json_decref(st);
        json_decref(levels);
    }
    json_decref(added);
    json_decref(deleted);
    if (bad) {
        json_decref(o);
        return NULL;
    }
    return o;
}

static int kv_manifest_edit(void *ctx, const lamina_manifest_edit *e)
{
    kv_dump *d = ctx;
    if (d->items == NULL) {
        kv_manifest_print(d->c, e);
        return 0;
    }
    json_t *o = kv_manifest_json(d->c, e);
    if (o == NULL || json_array_append_new(d->items, o) != 0) d->oom = 1;
    return d->oom;
}

/* ---- wal-dump ------------------------------------------------------------------------- */

/* A WAL operation's name in wal-dump: put, delete, delete-range. */
static const char *kv_wal_op_name(int type)
{
    return type == LAMINA_SST_VALUE              ? "put"
           : type == LAMINA_SST_RANGE_DELETION ? "delete-range"
                                               : "delete";
}

static json_t *kv_wal_json(const kv_ctx *c, const lamina_wal_record *r)
{
    json_t *o = json_object(), *ops = json_array();
    int bad = o == NULL || ops == NULL || kv_json_u64(o, "wal_number", r->wal_number) ||
              kv_json_u64(o, "offset", r->offset) || kv_json_u64(o, "sequence", r->sequence) ||
              kv_json_u64(o, "count", r->count) || kv_json_u64(o, "bytes", r->bytes) ||
              json_object_set(o, "ops", ops) != 0;
    for (uint32_t i = 0; !bad && i < r->count; i++) {
        const lamina_wal_op *op = &r->ops[i];
        json_t *j = json_object();
        bad =
            j == NULL || json_array_append_new(ops, j) != 0 ||
            kv_json_set(j, "type", json_string(kv_wal_op_name(op->type))) ||
            kv_json_u64(j, "seq", op->seq) ||
            kv_json_set(j, "key", kv_json_bytes(c, op->key, op->key_len));
        if (!bad && op->type == LAMINA_SST_VALUE)
            bad = kv_json_set(j, "value", kv_json_bytes(c, op->value, op->value_len));
        else if (!bad && op->type == LAMINA_SST_RANGE_DELETION)
            bad = kv_json_set(j, "end", kv_json_bytes(c, op->value, op->value_len));
    }
    json_decref(ops);
    if (bad) {
        json_decref(o);
        return NULL;
    }
    return o;
}

static int kv_wal_record(void *ctx, const lamina_wal_record *r)
{
    kv_dump *d = ctx;
    if (d->items != NULL) {
        json_t *o = kv_wal_json(d->c, r);
        if (o == NULL || json_array_append_new(d->items, o) != 0) d->oom = 1;
        return d->oom;
    }
    printf("%06" PRIu64 ".log offset %" PRIu64 " seq %" PRIu64 " count %" PRIu32 " bytes %" PRIu64
           "\n",
           r->wal_number, r->offset, r->sequence, r->count, r->bytes);
    for (uint32_t i = 0; i < r->count; i++) {
        const lamina_wal_op *op = &r->ops[i];
        printf("\t%s\t%" PRIu64 "\t", kv_wal_op_name(op->type), op->seq);
        kv_print_bytes(d->c, op->key, op->key_len);
        if (op->type != LAMINA_SST_DELETION) { /* a put's value, a range deletion's end */
            putchar('\t');
            kv_print_bytes(d->c, op->value, op->value_len);
        }
        putchar('\n');
    }
    return 0;
}

/* manifest-dump and wal-dump: [--json] [FILE], reading the files of --db or the FILE given. */
static int kv_cmd_dump_log(kv_ctx *c, int argc, char **argv, int wal)
{
    const char *name = wal ? "wal-dump" : "manifest-dump";
    int json = 0, status;
    int first = kv_json_args(name, argc, argv, -1, &json, &status);
    if (first < 0) return status;
    if (argc - first > 1) return kv_usage_error(name, "%s", "expects at most one FILE");
    const char *file = argc - first == 1 ? argv[first] : NULL;
    if (file == NULL && c->db_path == NULL)
        return kv_usage_error(name, "%s", "needs --db=DIR or a FILE");
    if (file != NULL) c->db_path = file; /* errors without a message of their own name it */
    kv_dump d = {c, json ? json_array() : NULL, 0};
    if (json && d.items == NULL) return kv_json_oom(name);
    int rc = wal ? lamina_wal_read(c->db_path, file, kv_wal_record, &d)
                 : lamina_manifest_read(c->db_path, file, kv_manifest_edit, &d);
    if (d.oom) {
        status = kv_json_oom(name);
    } else if (rc != LAMINA_OK) {
        fflush(stdout); /* what was printed before the error comes first */
        status = kv_db_error(c, rc);
    } else if (json) {
        json_t *root = json_object();
        if (root == NULL || json_object_set(root, wal ? "records" : "edits", d.items) != 0) {
            json_decref(root);
            status = kv_json_oom(name);
        } else {
            status = kv_json_print(name, root);
        }
    }
    json_decref(d.items);
    return status;
}

static int kv_cmd_manifest_dump(kv_ctx *c, int argc, char **argv)
{
    return kv_cmd_dump_log(c, argc, argv, 0);
}

static int kv_cmd_wal_dump(kv_ctx *c, int argc, char **argv)
{
    return kv_cmd_dump_log(c, argc, argv, 1);
}

const kv_command kv_inspect_commands[] = {
    {"stats", "[--json]",
     "Prints the statistics as one table: per level runs, tables, bytes and the work done into\n"
     "it (bytes read and written, jobs, micros: flushes at level 0, compactions below), totals,\n"
     "user bytes written, w_amp and space_amp; the policy and state now; then the counters\n"
     "since open (cache, table cache, stalls, lookups, reads per level).",
     "Stats options:\n"
     "  --json         print every figure as one JSON object instead (levels as an array,\n"
     "                 the counters since open in \"since_open\")\n"
     "The work counters are kept in the MANIFEST, so they survive reopening; the counters\n"
     "under \"since open\" start at 0 at every open (each kvctl command is one).\n",
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
    {"files", "[--json]",
     "Lists the live tables: level, run, file, bytes, entries, sequence numbers, key range.",
     "One line per table of the current version, level by level (newest run first, then key\n"
     "order), as RocksDB's list_live_files_metadata; a last line totals them.\n"
     "files options:\n"
     "  --json         one object: \"tables\" (level, run, file_number, file_name, file_size,\n"
     "                 entries, smallest_seq, largest_seq, smallest_key, largest_key), \"count\",\n"
     "                 \"bytes\"\n",
     kv_cmd_files, 0},
    {"property", "[--json] NAME | --list [--json]",
     "Prints one property of the database (lamina_property), or lists the names.",
     "property options:\n"
     "  --list         every property name (<N>: a level number goes there), its kind\n"
     "                 (int, ratio or text) and what it means (opens nothing)\n"
     "  --json         {\"name\": NAME, \"value\": V}, V a number for int and ratio names;\n"
     "                 with --list an array of {name, kind, per_level, doc}\n",
     kv_cmd_property, 0},
    {"approx-size", "[--json] [--memtables] [--no-files] FROM TO [FROM TO ...]",
     "Prints the approximate bytes of each key range [FROM, TO) (lamina_approximate_sizes).",
     "Prints FROM<TAB>TO<TAB>BYTES per range: the table bytes of the range, from the tables'\n"
     "key ranges and index blocks (a table cut by a bound counts from the data block the bound\n"
     "falls in). An empty TO means to the last key.\n"
     "approx-size options:\n"
     "  --memtables    also count the memtables' entries in the range\n"
     "  --no-files     leave the tables out (with --memtables)\n"
     "  --json         {\"ranges\": [{from, to, bytes}], \"total\", \"memtables\", \"files\"}\n",
     kv_cmd_approx_size, 0},
    {"manifest-dump", "[--json] [FILE]",
     "Prints every version edit of the live MANIFEST (or of FILE); takes no LOCK.",
     "Reads the MANIFEST CURRENT names in --db (or the MANIFEST file FILE, no --db needed), as\n"
     "RocksDB's ldb manifest_dump: per edit its offset, then one line per field group: identity,\n"
     "the counters (log_number, next_file, last_sequence, next_run), WALs added, numbers\n"
     "skipped, each table deleted (level, file) and added (level, run, file, bytes, entries,\n"
     "sequence and key range), and the statistics it carries (persisted work counters).\n"
     "It only reads, so it may run beside a process that has the database open.\n"
     "manifest-dump options:\n"
     "  --json         {\"edits\": [...]}, one object per edit with the same fields\n",
     kv_cmd_manifest_dump, 1},
    {"wal-dump", "[--json] [FILE]",
     "Prints every record of the live WALs (or of FILE): sequence, count, each put and delete.",
     "Reads the WALs an open of --db would replay, oldest first (or the WAL file FILE, no --db\n"
     "needed), as RocksDB's ldb dump_wal: per record a line NNNNNN.log offset N seq S count C\n"
     "bytes B, then one line per operation: <TAB>put<TAB>seq<TAB>key<TAB>value,\n"
     "<TAB>delete<TAB>seq<TAB>key or <TAB>delete-range<TAB>seq<TAB>begin<TAB>end, escaped as\n"
     "scan prints. It takes no LOCK and writes nothing.\n"
     "wal-dump options:\n"
     "  --json         {\"records\": [{wal_number, offset, sequence, count, bytes,\n"
     "                 ops: [{type, seq, key, value | end}]}]}\n",
     kv_cmd_wal_dump, 1},
    {NULL, NULL, NULL, NULL, NULL, 0},
};
