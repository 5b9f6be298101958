/* kvctl.c — the command-line tool over the public API (include/lamina.h only): put, get, del,
 * scan, load, dump, count, stats, flush, compact, check and repair on one database directory,
 * and sst-dump on one table file. Option flags are generated from the options table; output escapes
 * bytes like C strings. */
#include <errno.h>
#include <getopt.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <jansson.h>

#include "lamina.h"

enum { EXIT_FOUND = 0, EXIT_NOTFOUND = 1, EXIT_USAGE = 2, EXIT_DBERR = 3 };

/* Long-option values of the table's options start here, above every short option. */
#define OPT_TABLE_BASE 1000
#define LOAD_BATCH_DEFAULT 1000
/* Highest level number asked for per-level figures (the table's num_levels maximum). */
#define STATS_MAX_LEVELS 20

/* A byte string: from the command line a malloc'd copy its holder frees; in load, a view into
 * the current input line. */
typedef struct kv_bytes {
    char *p;
    size_t n;
} kv_bytes;

typedef struct kv_ctx {
    const char *db_path;
    int hex;
    /* --name=value pairs of the options table, applied in order after the command's defaults */
    const char **set_names;
    const char **set_values;
    size_t n_set;
    lamina_db *db;
} kv_ctx;

typedef struct kv_command {
    const char *name;
    const char *args;
    const char *summary;
    const char *details;
    int (*run)(kv_ctx *c, int argc, char **argv);
    int no_db; /* works on a file given as argument: --db is not needed */
} kv_command;

static const kv_command *kv_command_find(const char *name);

/* ---- messages ------------------------------------------------------------------------- */

static int kv_usage_error(const char *cmd, const char *fmt, const char *arg)
{
    fprintf(stderr, "kvctl%s%s: ", cmd ? " " : "", cmd ? cmd : "");
    fprintf(stderr, fmt, arg);
    fprintf(stderr, "\nTry 'kvctl %s%s--help'.\n", cmd ? cmd : "", cmd ? " " : "");
    return EXIT_USAGE;
}

static int kv_db_error(const kv_ctx *c, int rc)
{
    const char *msg = lamina_errmsg(c->db);
    if (msg == NULL || msg[0] == '\0') msg = c->db_path;
    fprintf(stderr, "kvctl: %s: %s\n", lamina_strerror(rc), msg);
    return EXIT_DBERR;
}

static void kv_format_default(const lamina_option_desc *d, char *out, size_t cap)
{
    if (d->kind == LAMINA_OPT_ENUM) {
        /* the default is the index into "a|b|c" */
        const char *s = d->choices;
        for (int64_t i = 0; i < d->def && s != NULL; i++) {
            s = strchr(s, '|');
            if (s != NULL) s++;
        }
        size_t n = s ? strcspn(s, "|") : 0;
        snprintf(out, cap, "%.*s", (int)n, s ? s : "");
    } else if (d->kind == LAMINA_OPT_SIZE && d->def != 0 && d->def % (1 << 30) == 0) {
        snprintf(out, cap, "%" PRId64 "g", d->def >> 30);
    } else if (d->kind == LAMINA_OPT_SIZE && d->def != 0 && d->def % (1 << 20) == 0) {
        snprintf(out, cap, "%" PRId64 "m", d->def >> 20);
    } else if (d->kind == LAMINA_OPT_SIZE && d->def != 0 && d->def % (1 << 10) == 0) {
        snprintf(out, cap, "%" PRId64 "k", d->def >> 10);
    } else {
        snprintf(out, cap, "%" PRId64, d->def);
    }
}

static void kv_print_options(FILE *f)
{
    fprintf(f, "Database options (from the options table, given as --name=value):\n");
    for (size_t i = 0; i < lamina_options_count(); i++) {
        const lamina_option_desc *d = lamina_options_describe(i);
        if (d == NULL) break;
        char def[32], arg[96];
        kv_format_default(d, def, sizeof def);
        switch (d->kind) {
        case LAMINA_OPT_BOOL:
            snprintf(arg, sizeof arg, "--%s[=0|1]", d->name);
            break;
        case LAMINA_OPT_ENUM:
            snprintf(arg, sizeof arg, "--%s=%s", d->name, d->choices ? d->choices : "NAME");
            break;
        case LAMINA_OPT_SIZE:
            snprintf(arg, sizeof arg, "--%s=BYTES", d->name);
            break;
        default:
            snprintf(arg, sizeof arg, "--%s=N", d->name);
            break;
        }
        /* a long flag gets its description on the next line */
        if (strlen(arg) > 38)
            fprintf(f, "  %s\n  %-38s %s (default %s", arg, "", d->doc, def);
        else
            fprintf(f, "  %-38s %s (default %s", arg, d->doc, def);
        if (d->kind == LAMINA_OPT_INT || d->kind == LAMINA_OPT_SIZE)
            fprintf(f, ", range %" PRId64 "..%" PRId64, d->min, d->max);
        fprintf(f, ")\n");
    }
}

static const char kv_global_help[] =
    "Global options (before COMMAND):\n"
    "  --db=DIR                               the database directory (required)\n"
    "  --hex                                  keys and values are hex, in and out\n"
    "  --help                                 this help; COMMAND --help for one command\n"
    "  --version                              print the library version\n";

static const char kv_exit_help[] =
    "Exit status: 0 ok, 1 key not found, 2 usage error or malformed input, 3 database error.\n";

/* ---- bytes in and out ----------------------------------------------------------------- */

static int kv_hex_digit(int ch)
{
    if (ch >= '0' && ch <= '9') return ch - '0';
    if (ch >= 'a' && ch <= 'f') return ch - 'a' + 10;
    if (ch >= 'A' && ch <= 'F') return ch - 'A' + 10;
    return -1;
}

/* Decodes n hex digits at s into a new buffer. 0, or -1 for odd length / a non-hex digit. */
static int kv_hex_decode(const char *s, size_t n, kv_bytes *out)
{
    out->p = NULL;
    out->n = 0;
    if (n % 2 != 0) return -1;
    char *p = malloc(n / 2 + 1);
    if (p == NULL) return -1;
    for (size_t i = 0; i < n; i += 2) {
        int hi = kv_hex_digit((unsigned char)s[i]), lo = kv_hex_digit((unsigned char)s[i + 1]);
        if (hi < 0 || lo < 0) {
            free(p);
            return -1;
        }
        p[i / 2] = (char)(hi << 4 | lo);
    }
    out->p = p;
    out->n = n / 2;
    return 0;
}

/* A command-line key or value: raw bytes, or hex under --hex. 0, or EXIT_USAGE (reported). */
static int kv_arg_bytes(const kv_ctx *c, const char *cmd, const char *s, kv_bytes *out)
{
    size_t n = strlen(s);
    if (c->hex) {
        if (kv_hex_decode(s, n, out) != 0)
            return kv_usage_error(cmd, "'%s' is not an even number of hex digits", s);
        return 0;
    }
    out->p = malloc(n + 1);
    if (out->p == NULL) return kv_usage_error(cmd, "%s", "out of memory");
    memcpy(out->p, s, n + 1);
    out->n = n;
    return 0;
}

/* Writes bytes as hex (under --hex) or escaped: \t \n \\ and \xHH for other non-printables. */
static void kv_print_bytes(const kv_ctx *c, const void *data, size_t n)
{
    static const char digits[] = "0123456789abcdef";
    const unsigned char *p = data;
    for (size_t i = 0; i < n; i++) {
        unsigned ch = p[i];
        if (c->hex) {
            putchar_unlocked(digits[ch >> 4]);
            putchar_unlocked(digits[ch & 15]);
        } else if (ch == '\t') {
            fputs_unlocked("\\t", stdout);
        } else if (ch == '\n') {
            fputs_unlocked("\\n", stdout);
        } else if (ch == '\\') {
            fputs_unlocked("\\\\", stdout);
        } else if (ch < 0x20 || ch > 0x7e) {
            putchar_unlocked('\\');
            putchar_unlocked('x');
            putchar_unlocked(digits[ch >> 4]);
            putchar_unlocked(digits[ch & 15]);
        } else {
            putchar_unlocked((int)ch);
        }
    }
}

static int kv_compare(const void *a, size_t an, const void *b, size_t bn)
{
    int r = memcmp(a, b, an < bn ? an : bn);
    if (r != 0) return r;
    return an < bn ? -1 : an > bn ? 1 : 0;
}

/* ---- database ------------------------------------------------------------------------- */

/* The options of the command line: the command's default for create_if_missing, then the
 * --name=value flags in order. 0, or EXIT_DBERR (reported). */
static int kv_options(kv_ctx *c, int create, lamina_options *opts)
{
    lamina_options_init(opts);
    opts->create_if_missing = create;
    for (size_t i = 0; i < c->n_set; i++) {
        int rc = lamina_options_set(opts, c->set_names[i], c->set_values[i]);
        if (rc != LAMINA_OK) return kv_db_error(c, rc);
    }
    return 0;
}

static int kv_open(kv_ctx *c, int create)
{
    lamina_options opts;
    int status = kv_options(c, create, &opts);
    if (status != 0) return status;
    int rc = lamina_open(c->db_path, &opts, &c->db);
    if (rc != LAMINA_OK) {
        c->db = NULL;
        if (rc == LAMINA_ENOENT && !create) {
            const char *msg = lamina_errmsg(NULL);
            if (msg != NULL && msg[0] != '\0') return kv_db_error(c, rc);
            fprintf(stderr, "kvctl: %s: no database in '%s' (only put and load create one)\n",
                    lamina_strerror(rc), c->db_path);
            return EXIT_DBERR;
        }
        return kv_db_error(c, rc);
    }
    return EXIT_FOUND;
}

/* Closes the database; a close error turns a successful status into EXIT_DBERR. */
static int kv_close(kv_ctx *c, int status)
{
    if (c->db == NULL) return status;
    int rc = lamina_close(c->db);
    c->db = NULL;
    if (rc != LAMINA_OK) {
        fprintf(stderr, "kvctl: %s: %s\n", lamina_strerror(rc), lamina_errmsg(NULL));
        return status == EXIT_FOUND ? EXIT_DBERR : status;
    }
    return status;
}

/* ---- command option parsing ----------------------------------------------------------- */

static void kv_command_help(const kv_command *cmd, FILE *f)
{
    fprintf(f, "Usage: kvctl %s[OPTION...] %s%s%s\n\n%s\n", cmd->no_db ? "" : "--db=DIR ",
            cmd->name, cmd->args[0] ? " " : "", cmd->args, cmd->summary);
    if (cmd->details[0]) fprintf(f, "\n%s", cmd->details);
    fprintf(f, "\n%s\n", kv_global_help);
    kv_print_options(f);
    fprintf(f, "\n%s", kv_exit_help);
}

/* Parses a command's own flags (getopt_long from argv[1]); '?' and 'h' are handled here.
 * Returns the flag value, -1 at the end, or -2 - status when the command must exit. */
static int kv_next_flag(const kv_command *cmd, int argc, char **argv, const struct option *lo)
{
    int ch = getopt_long(argc, argv, "+h", lo, NULL);
    if (ch == 'h') {
        kv_command_help(cmd, stdout);
        return -2 - EXIT_FOUND;
    }
    if (ch == '?' || ch == ':') {
        fprintf(stderr, "Try 'kvctl %s --help'.\n", cmd->name);
        return -2 - EXIT_USAGE;
    }
    return ch;
}

/* A non-negative decimal count for a command flag; 0, or EXIT_USAGE (reported). */
static int kv_parse_count(const char *cmd, const char *flag, const char *s, uint64_t *out)
{
    char *end, what[160];
    errno = 0;
    unsigned long long v = strtoull(s, &end, 10);
    if (s[0] == '-' || s[0] == '\0' || errno != 0 || *end != '\0') {
        snprintf(what, sizeof what, "%s needs a non-negative number, not '%.60s'", flag, s);
        return kv_usage_error(cmd, "%s", what);
    }
    *out = v;
    return 0;
}

/* Commands without flags of their own: accepts --help, and exactly `want` arguments. */
static int kv_simple_args(const char *name, int argc, char **argv, int want, int *status)
{
    static const struct option lo[] = {{"help", no_argument, NULL, 'h'}, {NULL, 0, NULL, 0}};
    const kv_command *cmd = kv_command_find(name);
    int ch;
    while ((ch = kv_next_flag(cmd, argc, argv, lo)) != -1) {
        *status = ch <= -2 ? -2 - ch : EXIT_USAGE;
        return -1;
    }
    if (argc - optind != want) {
        *status = kv_usage_error(name, "%s",
                                 want == 0   ? "takes no arguments"
                                 : want == 1 ? "expects one argument, KEY"
                                             : "expects two arguments, KEY VALUE");
        return -1;
    }
    return optind;
}

/* ---- commands ------------------------------------------------------------------------- */

static int kv_cmd_put(kv_ctx *c, int argc, char **argv)
{
    int status, at = kv_simple_args("put", argc, argv, 2, &status);
    if (at < 0) return status;
    kv_bytes k = {0}, v = {0};
    status = kv_arg_bytes(c, "put", argv[at], &k);
    if (status == 0) status = kv_arg_bytes(c, "put", argv[at + 1], &v);
    if (status == 0) status = kv_open(c, 1);
    if (status == 0) {
        int rc = lamina_put(c->db, NULL, k.p, k.n, v.p, v.n);
        if (rc != LAMINA_OK) status = kv_db_error(c, rc);
    }
    free(k.p);
    free(v.p);
    return kv_close(c, status);
}

static int kv_cmd_get(kv_ctx *c, int argc, char **argv)
{
    int status, at = kv_simple_args("get", argc, argv, 1, &status);
    if (at < 0) return status;
    kv_bytes k = {0};
    void *val = NULL;
    size_t n = 0;
    status = kv_arg_bytes(c, "get", argv[at], &k);
    if (status == 0) status = kv_open(c, 0);
    if (status == 0) {
        int rc = lamina_get(c->db, NULL, k.p, k.n, &val, &n);
        if (rc == LAMINA_OK) {
            kv_print_bytes(c, val, n);
            putchar('\n');
        } else if (rc == LAMINA_NOTFOUND) {
            fprintf(stderr, "kvctl: key not found\n");
            status = EXIT_NOTFOUND;
        } else {
            status = kv_db_error(c, rc);
        }
    }
    lamina_free(val);
    free(k.p);
    return kv_close(c, status);
}

static int kv_cmd_del(kv_ctx *c, int argc, char **argv)
{
    int status, at = kv_simple_args("del", argc, argv, 1, &status);
    if (at < 0) return status;
    kv_bytes k = {0};
    status = kv_arg_bytes(c, "del", argv[at], &k);
    if (status == 0) status = kv_open(c, 0);
    if (status == 0) {
        int rc = lamina_delete(c->db, NULL, k.p, k.n);
        if (rc != LAMINA_OK) status = kv_db_error(c, rc);
    }
    free(k.p);
    return kv_close(c, status);
}

/* Walks [lower, upper) forward or backward, printing up to limit entries (0: all). */
static int kv_walk(kv_ctx *c, const kv_bytes *lower, const kv_bytes *upper, const kv_bytes *prefix,
                   int reverse, uint64_t limit, int keys_only)
{
    lamina_read_options ro;
    lamina_read_options_init(&ro);
    if (prefix->p != NULL) {
        ro.prefix = prefix->p;
        ro.prefix_len = prefix->n;
    }
    if (lower->p != NULL) {
        ro.lower_bound = lower->p;
        ro.lower_bound_len = lower->n;
    }
    if (upper->p != NULL) {
        ro.upper_bound = upper->p;
        ro.upper_bound_len = upper->n;
    }
    lamina_iter *it = NULL;
    int rc = lamina_iter_create(c->db, &ro, &it);
    if (rc != LAMINA_OK) return kv_db_error(c, rc);
    uint64_t shown = 0;
    rc = reverse ? lamina_iter_seek_to_last(it) : lamina_iter_seek_to_first(it);
    while (rc == LAMINA_OK && lamina_iter_valid(it) && (limit == 0 || shown < limit)) {
        size_t kn, vn;
        const void *k = lamina_iter_key(it, &kn);
        /* the bounds are the engine's job; checking them again keeps the output exact */
        if (!reverse && upper->p != NULL && kv_compare(k, kn, upper->p, upper->n) >= 0) break;
        if (reverse && lower->p != NULL && kv_compare(k, kn, lower->p, lower->n) < 0) break;
        if (prefix->p != NULL && (kn < prefix->n || memcmp(k, prefix->p, prefix->n) != 0)) break;
        kv_print_bytes(c, k, kn);
        if (!keys_only) {
            const void *v = lamina_iter_value(it, &vn);
            putchar_unlocked('\t');
            kv_print_bytes(c, v, vn);
        }
        putchar_unlocked('\n');
        shown++;
        rc = reverse ? lamina_iter_prev(it) : lamina_iter_next(it);
    }
    if (rc == LAMINA_OK) rc = lamina_iter_status(it);
    lamina_iter_destroy(it);
    if (rc != LAMINA_OK) return kv_db_error(c, rc);
    if (fflush(stdout) != 0) {
        fprintf(stderr, "kvctl: writing output: %s\n", strerror(errno));
        return EXIT_DBERR;
    }
    return EXIT_FOUND;
}

static int kv_cmd_scan(kv_ctx *c, int argc, char **argv)
{
    static const struct option lo[] = {
        {"from", required_argument, NULL, 'f'},   {"to", required_argument, NULL, 't'},
        {"prefix", required_argument, NULL, 'p'}, {"limit", required_argument, NULL, 'l'},
        {"reverse", no_argument, NULL, 'r'},      {"keys-only", no_argument, NULL, 'k'},
        {"help", no_argument, NULL, 'h'},         {NULL, 0, NULL, 0}};
    const kv_command *cmd = kv_command_find("scan");
    kv_bytes from = {0}, to = {0}, prefix = {0};
    uint64_t limit = 0;
    int reverse = 0, keys_only = 0, status = 0, ch;
    while (status == 0 && (ch = kv_next_flag(cmd, argc, argv, lo)) != -1) {
        kv_bytes *dst = ch == 'f' ? &from : ch == 't' ? &to : ch == 'p' ? &prefix : NULL;
        if (ch <= -2) {
            status = -2 - ch;
        } else if (dst != NULL) {
            free(dst->p);
            status = kv_arg_bytes(c, "scan", optarg, dst);
        } else if (ch == 'l') {
            status = kv_parse_count("scan", "--limit", optarg, &limit);
        } else if (ch == 'r') {
            reverse = 1;
        } else if (ch == 'k') {
            keys_only = 1;
        }
    }
    if (status == 0 && optind != argc)
        status = kv_usage_error("scan", "unexpected argument '%s'", argv[optind]);
    if (status != 0) goto out;
    /* The engine intersects --prefix with --from/--to (ro.prefix with the bounds). */
    status = kv_open(c, 0);
    if (status == 0) status = kv_walk(c, &from, &to, &prefix, reverse, limit, keys_only);
out:
    free(from.p);
    free(to.p);
    free(prefix.p);
    return kv_close(c, status);
}

static int kv_cmd_dump(kv_ctx *c, int argc, char **argv)
{
    int status, at = kv_simple_args("dump", argc, argv, 0, &status);
    if (at < 0) return status;
    kv_bytes none = {0};
    status = kv_open(c, 0);
    if (status == 0) status = kv_walk(c, &none, &none, &none, 0, 0, 0);
    return kv_close(c, status);
}

/* Counts the keys with a forward scan that does not fill the block cache; 0 or EXIT_DBERR
 * (reported). */
static int kv_count_keys(kv_ctx *c, uint64_t *count)
{
    lamina_read_options ro;
    lamina_read_options_init(&ro);
    ro.verify_checksums = 0;
    ro.fill_cache = 0;
    lamina_iter *it = NULL;
    int rc = lamina_iter_create(c->db, &ro, &it);
    if (rc != LAMINA_OK) return kv_db_error(c, rc);
    *count = 0;
    for (rc = lamina_iter_seek_to_first(it); rc == LAMINA_OK && lamina_iter_valid(it);
         rc = lamina_iter_next(it))
        (*count)++;
    if (rc == LAMINA_OK) rc = lamina_iter_status(it);
    lamina_iter_destroy(it);
    return rc == LAMINA_OK ? 0 : kv_db_error(c, rc);
}

static int kv_cmd_count(kv_ctx *c, int argc, char **argv)
{
    int status, at = kv_simple_args("count", argc, argv, 0, &status);
    if (at < 0) return status;
    uint64_t n = 0;
    status = kv_open(c, 0);
    if (status == 0) status = kv_count_keys(c, &n);
    if (status == 0) printf("%" PRIu64 "\n", n);
    return kv_close(c, status);
}

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

/* One level's row of `stats --json`: its property names and JSON keys. */
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
    status = kv_open(c, 0);
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

/* ---- load ----------------------------------------------------------------------------- */

typedef struct kv_progress {
    int on;
    double start, last;
    size_t width;
} kv_progress;

static double kv_now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec * 1e-9;
}

static void kv_progress_show(kv_progress *p, uint64_t lines)
{
    double now = kv_now();
    if (now - p->last < 0.25) return;
    p->last = now;
    double rate = now > p->start ? (double)lines / (now - p->start) : 0.0;
    int w = fprintf(stderr, "\rloading: %" PRIu64 " lines, %.0f lines/s", lines, rate);
    if (w > 0 && (size_t)w > p->width) p->width = (size_t)w;
}

static void kv_progress_clear(kv_progress *p)
{
    if (p->width > 0) fprintf(stderr, "\r%*s\r", (int)p->width, "");
}

/* Splits one input line into key and value; 0, or EXIT_USAGE after naming the line. */
static int kv_load_line(const kv_ctx *c, char *line, size_t n, uint64_t line_no, int keys_mode,
                        kv_bytes *k, kv_bytes *v, char *numbuf, size_t numcap)
{
    const char *why = NULL;
    k->p = v->p = NULL;
    if (keys_mode) {
        k->p = line;
        k->n = n;
        v->n = (size_t)snprintf(numbuf, numcap, "%" PRIu64, line_no);
        v->p = numbuf;
    } else {
        char *tab = memchr(line, '\t', n);
        if (tab == NULL) {
            why = "no tab between key and value";
            goto bad;
        }
        k->p = line;
        k->n = (size_t)(tab - line);
        v->p = tab + 1;
        v->n = n - k->n - 1;
    }
    if (c->hex) {
        kv_bytes hk, hv;
        if (kv_hex_decode(k->p, k->n, &hk) != 0) {
            why = "key is not hex";
            goto bad;
        }
        if (keys_mode) {
            memcpy(line, hk.p, hk.n);
        } else {
            if (kv_hex_decode(v->p, v->n, &hv) != 0) {
                free(hk.p);
                why = "value is not hex";
                goto bad;
            }
            /* decoded text is shorter than its hex: write it back in place */
            memcpy(line, hk.p, hk.n);
            memcpy(line + hk.n, hv.p, hv.n);
            v->p = line + hk.n;
            v->n = hv.n;
            free(hv.p);
        }
        k->p = line;
        k->n = hk.n;
        free(hk.p);
    }
    if (k->n > LAMINA_MAX_KEY_LEN) {
        why = "key longer than the limit of 65535 bytes";
        goto bad;
    }
    if (v->n > LAMINA_MAX_VALUE_LEN) {
        why = "value longer than the limit of 64 MiB";
        goto bad;
    }
    return 0;
bad:
    fprintf(stderr, "kvctl load: line %" PRIu64 ": %s\n", line_no, why);
    return EXIT_USAGE;
}

static int kv_cmd_load(kv_ctx *c, int argc, char **argv)
{
    static const struct option lo[] = {{"keys", no_argument, NULL, 'k'},
                                       {"batch", required_argument, NULL, 'b'},
                                       {"help", no_argument, NULL, 'h'},
                                       {NULL, 0, NULL, 0}};
    const kv_command *cmd = kv_command_find("load");
    int keys_mode = 0, status = 0, ch, rc;
    uint64_t batch_ops = LOAD_BATCH_DEFAULT, line_no = 0, loaded = 0;
    while (status == 0 && (ch = kv_next_flag(cmd, argc, argv, lo)) != -1) {
        if (ch <= -2)
            status = -2 - ch;
        else if (ch == 'k')
            keys_mode = 1;
        else if (ch == 'b')
            status = kv_parse_count("load", "--batch", optarg, &batch_ops);
    }
    if (status != 0) return status;
    if (batch_ops == 0) return kv_usage_error("load", "%s", "--batch must be at least 1");
    if (argc - optind > 1)
        return kv_usage_error("load", "unexpected argument '%s'", argv[optind + 1]);
    const char *path = argc - optind == 1 ? argv[optind] : "-";
    FILE *in = strcmp(path, "-") == 0 ? stdin : fopen(path, "r");
    if (in == NULL) {
        fprintf(stderr, "kvctl load: cannot open '%s': %s\n", path, strerror(errno));
        return EXIT_USAGE;
    }
    lamina_batch *batch = NULL;
    char *line = NULL, numbuf[24];
    size_t cap = 0;
    double t0 = kv_now();
    kv_progress prog = {isatty(STDERR_FILENO), t0, t0, 0};
    status = kv_open(c, 1);
    if (status != 0) goto out;
    rc = lamina_batch_create(&batch);
    if (rc != LAMINA_OK) {
        status = kv_db_error(c, rc);
        goto out;
    }
    for (;;) {
        errno = 0;
        ssize_t got = getline(&line, &cap, in);
        if (got < 0) {
            if (ferror(in)) {
                kv_progress_clear(&prog);
                fprintf(stderr, "kvctl load: reading '%s': %s\n", path, strerror(errno));
                status = EXIT_USAGE;
            }
            break;
        }
        size_t n = (size_t)got;
        if (n > 0 && line[n - 1] == '\n') n--;
        line_no++;
        kv_bytes k, v;
        int bad = kv_load_line(c, line, n, line_no, keys_mode, &k, &v, numbuf, sizeof numbuf);
        if (bad != 0) {
            kv_progress_clear(&prog);
            status = bad;
            break; /* the lines before it are still written below */
        }
        rc = lamina_batch_put(batch, k.p, k.n, v.p, v.n);
        if (rc == LAMINA_OK && lamina_batch_count(batch) >= batch_ops) {
            rc = lamina_write(c->db, NULL, batch);
            if (rc == LAMINA_OK) loaded += lamina_batch_count(batch);
            lamina_batch_clear(batch);
        }
        if (rc != LAMINA_OK) {
            kv_progress_clear(&prog);
            status = kv_db_error(c, rc);
            goto out;
        }
        if (prog.on && (line_no & 1023) == 0) kv_progress_show(&prog, line_no);
    }
    if (lamina_batch_count(batch) > 0) {
        rc = lamina_write(c->db, NULL, batch);
        if (rc != LAMINA_OK) {
            kv_progress_clear(&prog);
            status = kv_db_error(c, rc);
            goto out;
        }
        loaded += lamina_batch_count(batch);
    }
    /* Leave the tree settled, not halfway through the merges the load made due. */
    rc = lamina_wait_for_compactions(c->db);
    kv_progress_clear(&prog);
    if (rc != LAMINA_OK) {
        status = kv_db_error(c, rc);
        goto out;
    }
    fprintf(stderr, "loaded %" PRIu64 " records\n", loaded);
out:
    lamina_batch_destroy(batch);
    free(line);
    if (in != stdin) fclose(in);
    return kv_close(c, status);
}

/* ---- dispatch ------------------------------------------------------------------------- */

static const kv_command kv_commands[] = {
    {"put", "KEY VALUE", "Stores KEY -> VALUE (creates the database if missing).", "", kv_cmd_put,
     0},
    {"get", "KEY", "Prints the value of KEY; exit status 1 if it is absent.", "", kv_cmd_get, 0},
    {"del", "KEY", "Deletes KEY (deleting an absent key is not an error).", "", kv_cmd_del, 0},
    {"scan", "[--from=K] [--to=K] [--prefix=P] [--limit=N] [--reverse] [--keys-only]",
     "Prints key<TAB>value for the keys in [from, to) that start with P.",
     "Scan options:\n"
     "  --from=K       first key (inclusive)\n"
     "  --to=K         end key (exclusive)\n"
     "  --prefix=P     only keys starting with P\n"
     "  --limit=N      at most N entries\n"
     "  --reverse      from the last key down\n"
     "  --keys-only    print keys only\n",
     kv_cmd_scan, 0},
    {"load", "[--keys] [--batch=N] [FILE|-]",
     "Loads lines key<TAB>value from FILE (default: standard input), N per write batch.",
     "Load options:\n"
     "  --keys         each line is a bare key; its value is its 1-based line number\n"
     "  --batch=N      operations per atomic write batch (default 1000)\n"
     "A malformed line stops the load with exit status 2: the lines before it are written,\n"
     "nothing from it on. Creates the database if missing.\n",
     kv_cmd_load, 0},
    {"dump", "", "Prints every key<TAB>value in key order.", "", kv_cmd_dump, 0},
    {"count", "", "Prints the number of keys.", "", kv_cmd_count, 0},
    {"stats", "[--json]",
     "Prints the statistics as one table: per level runs, tables, bytes and the work done into\n"
     "it (bytes read and written, jobs, micros: flushes at level 0, compactions below), totals,\n"
     "user bytes written, w_amp and space_amp; then the cache, memory and stall figures.",
     "Stats options:\n"
     "  --json         print every figure as one JSON object instead (levels as an array)\n"
     "The work counters are kept in the MANIFEST, so they survive reopening.\n",
     kv_cmd_stats, 0},
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
};

static const kv_command *kv_command_find(const char *name)
{
    for (size_t i = 0; i < sizeof kv_commands / sizeof kv_commands[0]; i++)
        if (strcmp(kv_commands[i].name, name) == 0) return &kv_commands[i];
    return NULL;
}

static void kv_help(FILE *f)
{
    fprintf(f,
            "Usage: kvctl --db=DIR [OPTION...] COMMAND [ARGS]\n"
            "Command-line tool for a Lamina database (library %s).\n\nCommands:\n",
            lamina_version());
    for (size_t i = 0; i < sizeof kv_commands / sizeof kv_commands[0]; i++)
        fprintf(f, "  %-8s %s\n", kv_commands[i].name, kv_commands[i].args);
    fprintf(f,
            "\nOutput is key<TAB>value per line; tab, newline and backslash print as \\t \\n"
            " \\\\,\nother bytes outside printable ASCII as \\xHH (--hex: all in hex).\n\n%s\n",
            kv_global_help);
    kv_print_options(f);
    fprintf(f, "\n%s", kv_exit_help);
}

int main(int argc, char **argv)
{
    kv_ctx c = {0};
    size_t nopt = lamina_options_count();
    struct option *lo = calloc(nopt + 5, sizeof *lo);
    c.set_names = calloc(argc > 0 ? (size_t)argc : 1, sizeof *c.set_names);
    c.set_values = calloc(argc > 0 ? (size_t)argc : 1, sizeof *c.set_values);
    int status = EXIT_FOUND, ch;
    if (lo == NULL || c.set_names == NULL || c.set_values == NULL) {
        fprintf(stderr, "kvctl: out of memory\n");
        status = EXIT_DBERR;
        goto out;
    }
    if (argc > 0) argv[0] = "kvctl"; /* getopt's messages name the program, not its path */
    lo[0] = (struct option){"db", required_argument, NULL, 'd'};
    lo[1] = (struct option){"hex", no_argument, NULL, 'x'};
    lo[2] = (struct option){"help", no_argument, NULL, 'h'};
    lo[3] = (struct option){"version", no_argument, NULL, 'V'};
    for (size_t i = 0; i < nopt; i++) {
        const lamina_option_desc *d = lamina_options_describe(i);
        int has = d->kind == LAMINA_OPT_BOOL ? optional_argument : required_argument;
        lo[4 + i] = (struct option){d->name, has, NULL, OPT_TABLE_BASE + (int)i};
    }
    while ((ch = getopt_long(argc, argv, "+h", lo, NULL)) != -1) {
        if (ch == 'd') {
            c.db_path = optarg;
        } else if (ch == 'x') {
            c.hex = 1;
        } else if (ch == 'h') {
            kv_help(stdout);
            goto out;
        } else if (ch == 'V') {
            printf("kvctl (lamina) %s\n", lamina_version());
            goto out;
        } else if (ch >= OPT_TABLE_BASE) {
            const char *name = lamina_options_describe((size_t)(ch - OPT_TABLE_BASE))->name;
            const char *value = optarg ? optarg : "1";
            lamina_options scratch;
            lamina_options_init(&scratch);
            if (lamina_options_set(&scratch, name, value) != LAMINA_OK) {
                const char *msg = lamina_errmsg(NULL);
                fprintf(stderr, "kvctl: bad value '%s' for --%s%s%s\n", value, name,
                        msg && msg[0] ? ": " : "", msg ? msg : "");
                fprintf(stderr, "Try 'kvctl --help'.\n");
                status = EXIT_USAGE;
                goto out;
            }
            c.set_names[c.n_set] = name;
            c.set_values[c.n_set++] = value;
        } else {
            fprintf(stderr, "Try 'kvctl --help'.\n");
            status = EXIT_USAGE;
            goto out;
        }
    }
    if (optind >= argc) {
        status = kv_usage_error(NULL, "%s", "missing COMMAND");
        goto out;
    }
    const kv_command *cmd = kv_command_find(argv[optind]);
    if (cmd == NULL) {
        status = kv_usage_error(NULL, "unknown command '%s'", argv[optind]);
        goto out;
    }
    int sub_argc = argc - optind;
    char **sub_argv = argv + optind;
    char prog[32];
    snprintf(prog, sizeof prog, "kvctl %s", cmd->name);
    sub_argv[0] = prog; /* getopt's messages then name the command */
    /* help needs no database; everything else does */
    int wants_help = 0;
    for (int i = 1; i < sub_argc && strcmp(sub_argv[i], "--") != 0; i++)
        if (strcmp(sub_argv[i], "--help") == 0 || strcmp(sub_argv[i], "-h") == 0) wants_help = 1;
    if (wants_help) {
        kv_command_help(cmd, stdout);
        goto out;
    }
    if (c.db_path == NULL && !cmd->no_db) {
        status = kv_usage_error(NULL, "%s", "--db=DIR is required");
        goto out;
    }
    optind = 0; /* glibc: 0 re-initialises getopt for the command's own flags */
    status = cmd->run(&c, sub_argc, sub_argv);
    if (status == EXIT_FOUND && fflush(stdout) != 0) {
        fprintf(stderr, "kvctl: writing output: %s\n", strerror(errno));
        status = EXIT_DBERR;
    }
out:
    free(lo);
    free(c.set_names);
    free(c.set_values);
    return status;
}
