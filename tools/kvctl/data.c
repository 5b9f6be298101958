/* data.c — the data commands: put, get, del, scan, load, dump, count. */
#include <errno.h>
#include <inttypes.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "kvctl.h"

#define LOAD_BATCH_DEFAULT 1000

static int kv_cmd_put(kv_ctx *c, int argc, char **argv)
{
    int status, at = kv_simple_args("put", argc, argv, 2, &status);
    if (at < 0) return status;
    kv_bytes k = {0}, v = {0};
    status = kv_arg_bytes(c, "put", argv[at], &k);
    if (status == 0) status = kv_arg_bytes(c, "put", argv[at + 1], &v);
    if (status == 0) status = kv_check_size("put", 1, k.n);
    if (status == 0) status = kv_check_size("put", 0, v.n);
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
    if (status == 0) status = kv_check_size("get", 1, k.n);
    if (status == 0) status = kv_open_read_only(c);
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

/* del KEY, or del --from=B --to=E: every key in [B, E) at once (one range tombstone). */
static int kv_cmd_del(kv_ctx *c, int argc, char **argv)
{
    static const struct option lo[] = {{"from", required_argument, NULL, 'f'},
                                       {"to", required_argument, NULL, 't'},
                                       {"help", no_argument, NULL, 'h'},
                                       {NULL, 0, NULL, 0}};
    const kv_command *cmd = kv_command_find("del");
    kv_bytes k = {0}, from = {0}, to = {0};
    int status = 0, ch;
    while (status == 0 && (ch = kv_next_flag(cmd, argc, argv, lo)) != -1) {
        kv_bytes *dst = ch == 'f' ? &from : ch == 't' ? &to : NULL;
        if (ch <= -2) {
            status = -2 - ch;
        } else if (dst != NULL) {
            free(dst->p);
            dst->p = NULL;
            status = kv_arg_bytes(c, "del", optarg, dst);
            if (status == 0) status = kv_check_size("del", 1, dst->n);
        }
    }
    int range = from.p != NULL || to.p != NULL;
    if (status == 0 && range && (from.p == NULL || to.p == NULL))
        status = kv_usage_error("del", "%s", "a range needs both --from=K and --to=K");
    else if (status == 0 && range && optind != argc)
        status = kv_usage_error("del", "unexpected argument '%s' beside --from/--to", argv[optind]);
    else if (status == 0 && !range && argc - optind != 1)
        status = kv_usage_error("del", "%s", "expects one argument, KEY (or --from=K --to=K)");
    else if (status == 0 && range && kv_compare(from.p, from.n, to.p, to.n) > 0)
        status = kv_usage_error("del", "%s", "--from sorts after --to: the range is empty");
    if (status == 0 && !range) {
        status = kv_arg_bytes(c, "del", argv[optind], &k);
        if (status == 0) status = kv_check_size("del", 1, k.n);
    }
    if (status == 0) status = kv_open(c, 0);
    if (status == 0) {
        int rc = range ? lamina_delete_range(c->db, NULL, from.p, from.n, to.p, to.n)
                       : lamina_delete(c->db, NULL, k.p, k.n);
        if (rc != LAMINA_OK) status = kv_db_error(c, rc);
    }
    free(k.p);
    free(from.p);
    free(to.p);
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
    status = kv_open_read_only(c);
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
    status = kv_open_read_only(c);
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
    status = kv_open_read_only(c);
    if (status == 0) status = kv_count_keys(c, &n);
    if (status == 0) printf("%" PRIu64 "\n", n);
    return kv_close(c, status);
}

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

int kv_next_line(FILE *in, char **line, size_t *cap, size_t *n, const char *cmd, const char *path)
{
    errno = 0;
    ssize_t got = getline(line, cap, in);
    if (got < 0) {
        if (!ferror(in)) return 0;
        fprintf(stderr, "kvctl %s: reading '%s': %s\n", cmd, path, strerror(errno));
        return -1;
    }
    *n = (size_t)got;
    if (*n > 0 && (*line)[*n - 1] == '\n') (*n)--;
    /* a CRLF line ends before its CR: dump never writes a bare CR (it is \x0d) */
    if (*n > 0 && (*line)[*n - 1] == '\r') (*n)--;
    (*line)[*n] = '\0';
    return 1;
}

/* Splits one input line into key and value and decodes them in place; 0, or EXIT_USAGE after
 * naming the line. */
int kv_load_line(int mode, char *line, size_t n, uint64_t line_no, int keys_mode,
                        kv_bytes *k, kv_bytes *v, char *numbuf, size_t numcap)
{
    const char *why = NULL;
    char whybuf[200];
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
        if (kv_decode_field(mode, "value", v->p, &v->n, k->n + 1, whybuf, sizeof whybuf) != 0) {
            why = whybuf;
            goto bad;
        }
    }
    if (kv_decode_field(mode, "key", k->p, &k->n, 0, whybuf, sizeof whybuf) != 0) {
        why = whybuf;
        goto bad;
    }
    if (k->n > LAMINA_MAX_KEY_LEN) {
        snprintf(whybuf, sizeof whybuf, "key of %zu bytes is longer than the limit of %u bytes",
                 k->n, (unsigned)LAMINA_MAX_KEY_LEN);
        why = whybuf;
        goto bad;
    }
    if (v->n > LAMINA_MAX_VALUE_LEN) {
        snprintf(whybuf, sizeof whybuf, "value of %zu bytes is longer than the limit of %u bytes",
                 v->n, (unsigned)LAMINA_MAX_VALUE_LEN);
        why = whybuf;
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
                                       {"raw", no_argument, NULL, 'r'},
                                       {"batch", required_argument, NULL, 'b'},
                                       {"help", no_argument, NULL, 'h'},
                                       {NULL, 0, NULL, 0}};
    const kv_command *cmd = kv_command_find("load");
    int keys_mode = 0, raw = 0, status = 0, ch, rc;
    uint64_t batch_ops = LOAD_BATCH_DEFAULT, line_no = 0, loaded = 0;
    while (status == 0 && (ch = kv_next_flag(cmd, argc, argv, lo)) != -1) {
        if (ch <= -2)
            status = -2 - ch;
        else if (ch == 'k')
            keys_mode = 1;
        else if (ch == 'r')
            raw = 1;
        else if (ch == 'b')
            status = kv_parse_count("load", "--batch", optarg, &batch_ops);
    }
    if (status != 0) return status;
    /* --keys reads a list of names (a file of paths, say), not dump's output: byte for byte */
    int mode = c->hex ? KV_LOAD_HEX : raw || keys_mode ? KV_LOAD_RAW : KV_LOAD_ESCAPED;
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
        size_t n;
        int got = kv_next_line(in, &line, &cap, &n, "load", path);
        if (got <= 0) {
            kv_progress_clear(&prog);
            if (got < 0) status = EXIT_USAGE;
            break;
        }
        line_no++;
        kv_bytes k, v;
        int bad = kv_load_line(mode, line, n, line_no, keys_mode, &k, &v, numbuf, sizeof numbuf);
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

const kv_command kv_data_commands[] = {
    {"put", "KEY VALUE", "Stores KEY -> VALUE (creates the database if missing).", "", kv_cmd_put,
     0},
    {"get", "KEY", "Prints the value of KEY; exit status 1 if it is absent.", "", kv_cmd_get, 0},
    {"del", "KEY | --from=K --to=K",
     "Deletes KEY, or every key in [from, to) (deleting absent keys is not an error).",
     "Del options:\n"
     "  --from=K       first key of the range (inclusive)\n"
     "  --to=K         end of the range (exclusive); from = to deletes nothing\n"
     "A range is one range tombstone (lamina_delete_range): it costs the same for ten keys or\n"
     "ten million, and compaction reclaims the space later.\n",
     kv_cmd_del, 0},
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
    {"load", "[--keys] [--raw] [--batch=N] [FILE|-]",
     "Loads lines key<TAB>value from FILE (default: standard input), N per write batch.",
     "Lines are what dump writes: \\t \\n \\\\ \\xHH decode to their bytes (under --hex: hex);\n"
     "a line may end in CRLF.\n"
     "Load options:\n"
     "  --keys         each line is a bare key, taken byte for byte (a list of names, not\n"
     "                 dump output); its value is its 1-based line number\n"
     "  --raw          key<TAB>value lines taken byte for byte, no escapes decoded\n"
     "  --batch=N      operations per atomic write batch (default 1000)\n"
     "A malformed line stops the load with exit status 2: the lines before it are written,\n"
     "nothing from it on. Creates the database if missing.\n",
     kv_cmd_load, 0},
    {"dump", "", "Prints every key<TAB>value in key order.", "", kv_cmd_dump, 0},
    {"count", "", "Prints the number of keys.", "", kv_cmd_count, 0},
    {NULL, NULL, NULL, NULL, NULL, 0},
};
