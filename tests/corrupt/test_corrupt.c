/* test_corrupt.c — the corruption suite: a small database of real keys (Debian file paths),
 * then, for every kind of file (table data, index, filter and properties blocks and footer; a
 * WAL's middle record, last complete record and tail; the MANIFEST's middle and last records;
 * CURRENT; OPTIONS), bits flipped at many positions and the file cut short, each on a fresh
 * copy. Every time lamina_check, lamina_open, every get and a full scan must either report the
 * damage (LAMINA_ECORRUPT, the file named, with an offset where the damage is inside a file) or,
 * for a torn WAL tail, succeed with exactly the torn records missing; no call may crash, and no
 * read may ever return what was not written (LevelDB's corruption_test, widened). */
#include <criterion/criterion.h>
#include <inttypes.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "lamina.h"
#include "test_options.h"
#include "tdir.h"

/* ---- The database ------------------------------------------------------------------------- */

#define NKEYS 2400   /* keys in the tables */
#define KEY_STEP 400 /* every 400th path of the 975,425 */
#define NWAL 32      /* write batches in the WAL, one record each */
#define WAL_PUTS 9   /* puts per batch, plus one delete and one new key */
#define NALL (NKEYS + NWAL)

static const char shared_paths[] = "/work/shared/data/paths-1m.txt";

struct logrec {
    long off, end; /* first byte of its first fragment, byte after its last */
};

struct fixture {
    char root[64], db[96], work[96];
    char *keys[NALL];   /* table keys, then one new key per WAL batch */
    size_t order[NALL]; /* indices of keys in key order */
    int put_rec[NKEYS]; /* the WAL batch that puts key i, or -1 */
    int del_rec[NKEYS]; /* the WAL batch that deletes key i, or -1 */
    char table[32], wal[32], manifest[32], options[32];
    struct logrec walrec[64], manrec[64];
    size_t nwalrec, nmanrec;
    long table_size;
    long filter_off, filter_len, index_off, index_len, props_off, props_len;
};

static struct fixture F;

static int key_cmp(const void *a, const void *b)
{
    const char *x = F.keys[*(const size_t *)a], *y = F.keys[*(const size_t *)b];
    return strcmp(x, y);
}

/* Table keys from the real key set: the shared copy, else the repository's compressed one,
 * else generated ones (said in the log). */
static void load_keys(void)
{
    FILE *in = fopen(shared_paths, "r");
    int piped = 0;
    if (!in) {
        char cmd[1024];
        const char *root = getenv("LAMINA_SOURCE_ROOT");
        snprintf(cmd, sizeof(cmd), "xz -dc '%s/data/paths-1m.txt.xz' 2>/dev/null",
                 root ? root : ".");
        in = popen(cmd, "r");
        piped = 1;
    }
    char line[1024];
    size_t n = 0, lineno = 0;
    while (in && n < NKEYS && fgets(line, sizeof(line), in)) {
        if (lineno++ % KEY_STEP) continue;
        line[strcspn(line, "\n")] = 0;
        F.keys[n++] = strdup(line);
    }
    if (in) piped ? pclose(in) : fclose(in);
    if (n < NKEYS) cr_log_warn("only %zu real keys found: the rest are generated", n);
    for (; n < NKEYS; n++) {
        char k[32];
        snprintf(k, sizeof(k), "/generated/key%06zu", n);
        F.keys[n] = strdup(k);
    }
    for (int r = 0; r < NWAL; r++) {
        char k[32];
        snprintf(k, sizeof(k), "~new-%02d", r);
        F.keys[NKEYS + r] = strdup(k);
    }
    for (size_t i = 0; i < NALL; i++)
        F.order[i] = i;
    qsort(F.order, NALL, sizeof(*F.order), key_cmp);
    for (size_t i = 1; i < NALL; i++)
        cr_assert_neq(strcmp(F.keys[F.order[i - 1]], F.keys[F.order[i]]), 0, "repeated key");
}

static size_t value_of(char *buf, size_t cap, size_t i, int gen)
{
    return (size_t)snprintf(buf, cap, "v%d.%zu:%s", gen, i, F.keys[i]);
}

/* Generation key i holds when the WAL records from `first_dropped` on are gone (NWAL: none);
 * -1: absent. Tables: generation 0, every 3rd key generation 1, every 7th key deleted. */
static int key_gen(size_t i, int first_dropped)
{
    if (i >= NKEYS) return (int)(i - NKEYS) < first_dropped ? 2 + (int)(i - NKEYS) : -1;
    if (F.put_rec[i] >= 0 && F.put_rec[i] < first_dropped) return 2 + F.put_rec[i];
    if (F.del_rec[i] >= 0 && F.del_rec[i] < first_dropped) return -1;
    if (i % 7 == 0) return -1;
    return i % 3 == 0 ? 1 : 0;
}

static lamina_options fixture_options(void)
{
    lamina_options o;
    lamina_options_init(&o);
    test_options_apply(&o);
    o.write_buffer_size = 8 << 20; /* only the explicit flushes make tables */
    o.block_size = 1024;
    o.compression_type = LAMINA_COMPRESSION_NONE;
    return o;
}

static void write_batch(lamina_db *db, lamina_batch *b)
{
    int rc = lamina_write(db, NULL, b);
    cr_assert_eq(rc, LAMINA_OK, "write: %s", lamina_errmsg(db));
    lamina_batch_clear(b);
}

/* Name of the only file in dir starting with prefix or ending with suffix (the largest when
 * `largest`, else it must be the only one). */
static void only_file(const char *dir, const char *affix, int prefix, int largest, char *out,
                      size_t cap)
{
    char cmd[512];
    snprintf(cmd, sizeof(cmd), "ls -S '%s'", dir);
    FILE *p = popen(cmd, "r");
    cr_assert_not_null(p);
    char line[256];
    int n = 0;
    out[0] = 0;
    while (fgets(line, sizeof(line), p)) {
        line[strcspn(line, "\n")] = 0;
        size_t l = strlen(line), a = strlen(affix);
        int match = prefix ? strncmp(line, affix, a) == 0 : l > a && !strcmp(line + l - a, affix);
        if (match && n++ == 0) snprintf(out, cap, "%.31s", line);
    }
    pclose(p);
    cr_assert(n == 1 || (largest && n > 1), "%d files %s in %s", n, affix, dir);
}

static char *slurp(const char *path, long *len)
{
    FILE *f = fopen(path, "rb");
    cr_assert_not_null(f, "%s", path);
    fseek(f, 0, SEEK_END);
    *len = ftell(f);
    rewind(f);
    char *b = malloc((size_t)*len + 1);
    cr_assert_eq(fread(b, 1, (size_t)*len, f), (size_t)*len);
    fclose(f);
    return b;
}

/* The records of a log (docs/format.md, Part 1 §1: 32 KiB blocks, 7-byte fragment headers,
 * FULL = 1, FIRST = 2, MIDDLE = 3, LAST = 4). */
static size_t parse_log(const char *dir, const char *name, struct logrec *out, size_t cap)
{
    char path[256];
    long len, pos = 0;
    size_t n = 0;
    snprintf(path, sizeof(path), "%s/%s", dir, name);
    unsigned char *b = (unsigned char *)slurp(path, &len);
    while (pos + 7 <= len) {
        long left = 32768 - pos % 32768;
        if (left < 7) {
            pos += left;
            continue;
        }
        long flen = b[pos + 4] | b[pos + 5] << 8;
        int type = b[pos + 6];
        cr_assert(type >= 1 && type <= 4, "%s: fragment type %d at %ld", name, type, pos);
        if (type == 1 || type == 2) {
            cr_assert_lt(n, cap);
            out[n].off = pos;
        }
        pos += 7 + flen;
        if (type == 1 || type == 4) out[n++].end = pos;
    }
    cr_assert_eq(pos, len, "%s does not end at a record boundary", name);
    free(b);
    return n;
}

static uint64_t fixed64_at(const unsigned char *p)
{
    uint64_t v = 0;
    for (int i = 7; i >= 0; i--)
        v = v << 8 | p[i];
    return v;
}

/* The blocks of the table, from its footer (docs/format.md, Part 2 §7). */
static void parse_footer(void)
{
    char path[256];
    long len;
    snprintf(path, sizeof(path), "%s/%s", F.db, F.table);
    unsigned char *b = (unsigned char *)slurp(path, &len);
    const unsigned char *ft = b + len - 76;
    cr_assert_eq(memcmp(ft + 68, "LAMINAST", 8), 0);
    F.table_size = len;
    F.filter_off = (long)fixed64_at(ft);
    F.filter_len = (long)fixed64_at(ft + 8) + 5; /* + trailer */
    F.index_off = (long)fixed64_at(ft + 16);
    F.index_len = (long)fixed64_at(ft + 24) + 5;
    F.props_off = (long)fixed64_at(ft + 32);
    F.props_len = (long)fixed64_at(ft + 40) + 5;
    cr_assert_gt(F.filter_len, 5, "the table has a filter");
    free(b);
}

static void fixture_init(void)
{
    memset(&F, 0, sizeof(F));
    tdir_make(F.root, sizeof(F.root), "corrupt");
    snprintf(F.db, sizeof(F.db), "%s/db", F.root);
    snprintf(F.work, sizeof(F.work), "%s/work", F.root);
    load_keys();
    lamina_options o = fixture_options();
    o.create_if_missing = 1;
    lamina_db *db = NULL;
    cr_assert_eq(lamina_open(F.db, &o, &db), LAMINA_OK, "%s", lamina_errmsg(NULL));
    lamina_batch *b;
    cr_assert_eq(lamina_batch_create(&b), LAMINA_OK);
    char v[600];
    for (size_t i = 0; i < NKEYS; i++) {
        F.put_rec[i] = F.del_rec[i] = -1;
        cr_assert_eq(
            lamina_batch_put(b, F.keys[i], strlen(F.keys[i]), v, value_of(v, sizeof(v), i, 0)),
            LAMINA_OK);
        if (lamina_batch_count(b) == 100) write_batch(db, b);
    }
    write_batch(db, b);
    cr_assert_eq(lamina_flush(db), LAMINA_OK);
    for (size_t i = 0; i < NKEYS; i += 3)
        lamina_batch_put(b, F.keys[i], strlen(F.keys[i]), v, value_of(v, sizeof(v), i, 1));
    for (size_t i = 0; i < NKEYS; i += 7)
        lamina_batch_delete(b, F.keys[i], strlen(F.keys[i]));
    write_batch(db, b);
    cr_assert_eq(lamina_flush(db), LAMINA_OK);
    /* Batch r puts keys r*11 + j*257 (distinct over every r and j), deletes key r*11 + 5 and
     * adds a key of its own. */
    for (int r = 0; r < NWAL; r++) {
        for (int j = 0; j < WAL_PUTS; j++) {
            size_t i = (size_t)(r * 11 + j * 257);
            cr_assert_eq(F.put_rec[i], -1);
            F.put_rec[i] = r;
            lamina_batch_put(b, F.keys[i], strlen(F.keys[i]), v, value_of(v, sizeof(v), i, 2 + r));
        }
        size_t d = (size_t)(r * 11 + 5);
        cr_assert(F.put_rec[d] == -1 && F.del_rec[d] == -1);
        F.del_rec[d] = r;
        lamina_batch_delete(b, F.keys[d], strlen(F.keys[d]));
        size_t nk = NKEYS + (size_t)r;
        lamina_batch_put(b, F.keys[nk], strlen(F.keys[nk]), v, value_of(v, sizeof(v), nk, 2 + r));
        write_batch(db, b);
    }
    lamina_batch_destroy(b);
    cr_assert_eq(lamina_close(db), LAMINA_OK);

    only_file(F.db, ".sst", 0, 1, F.table, sizeof(F.table));
    only_file(F.db, ".log", 0, 0, F.wal, sizeof(F.wal));
    only_file(F.db, "MANIFEST-", 1, 0, F.manifest, sizeof(F.manifest));
    only_file(F.db, "OPTIONS-", 1, 0, F.options, sizeof(F.options));
    F.nwalrec = parse_log(F.db, F.wal, F.walrec, 64);
    cr_assert_eq(F.nwalrec, NWAL, "one WAL record per batch");
    cr_assert_gt(F.walrec[NWAL - 1].end, 32768, "the WAL spans two blocks");
    F.nmanrec = parse_log(F.db, F.manifest, F.manrec, 64);
    cr_assert_geq(F.nmanrec, 4);
    parse_footer();
}

static void fixture_fini(void)
{
    for (size_t i = 0; i < NALL; i++)
        free(F.keys[i]);
    if (F.root[0]) tdir_remove(F.root);
}

TestSuite(corrupt, .init = fixture_init, .fini = fixture_fini, .timeout = 240);

/* ---- One damaged copy --------------------------------------------------------------------- */

/* What a damaged copy must do. */
enum outcome {
    DAMAGE,         /* open fails with LAMINA_ECORRUPT; check reports it */
    TORN,           /* open succeeds without the WAL records from `torn` on; check is clean */
    DAMAGE_OR_TORN, /* either (a damaged length may make a record look cut short) */
    TABLE_DAMAGE,   /* reads touching the table fail with LAMINA_ECORRUPT, the rest are right;
                       check reports it */
    HARMLESS,       /* open succeeds and every key is right */
    NEVER_SILENT,   /* open fails with LAMINA_ECORRUPT (check reports something), or succeeds
                       with every key right */
};

struct expect {
    enum outcome outcome;
    int torn;        /* TORN, DAMAGE_OR_TORN: first WAL record dropped */
    int need_offset; /* the damage lies at a place in the file: name the offset */
};

enum op { FLIP, CUT, ZEROS };

struct variant {
    const char *file;
    enum op op;
    long pos; /* FLIP: byte; CUT: new length; ZEROS: bytes appended */
    int bit;
    char what[192];
};

struct tally {
    int runs, fails;
    char first[4][700];
};

static void violation(struct tally *t, const struct variant *v, const char *fmt, ...)
{
    if (t->fails < 4) {
        char why[500];
        va_list ap;
        va_start(ap, fmt);
        vsnprintf(why, sizeof(why), fmt, ap);
        va_end(ap);
        snprintf(t->first[t->fails], sizeof(t->first[0]), "%s: %s", v->what, why);
    }
    t->fails++;
}

struct findings {
    const char *file;
    int problems, on_file;
    uint64_t offset; /* of the first problem about file */
};

static void collect(void *ctx, const char *file, uint64_t offset, int code, const char *what)
{
    struct findings *fs = ctx;
    cr_assert(file && what);
    if (!code) return;
    fs->problems++;
    if (strcmp(file, fs->file) == 0 && !fs->on_file++) fs->offset = offset;
}

static void copy_db(void)
{
    char cmd[400];
    tdir_remove(F.work);
    snprintf(cmd, sizeof(cmd), "cp -r '%s' '%s'", F.db, F.work);
    cr_assert_eq(system(cmd), 0);
}

static void mutate(const struct variant *v)
{
    char path[256];
    snprintf(path, sizeof(path), "%s/%s", F.work, v->file);
    if (v->op == CUT) {
        cr_assert_eq(truncate(path, v->pos), 0, "%s", path);
        return;
    }
    FILE *f = fopen(path, "r+b");
    cr_assert_not_null(f, "%s", path);
    if (v->op == ZEROS) {
        cr_assert_eq(fseek(f, 0, SEEK_END), 0);
        for (long i = 0; i < v->pos; i++)
            fputc(0, f);
    } else {
        cr_assert_eq(fseek(f, v->pos, SEEK_SET), 0);
        int c = fgetc(f);
        cr_assert_neq(c, EOF, "%s: no byte %ld", path, v->pos);
        cr_assert_eq(fseek(f, v->pos, SEEK_SET), 0);
        fputc(c ^ (1 << v->bit), f);
    }
    fclose(f);
}

/* Whether a read's error is allowed: LAMINA_ECORRUPT naming the damaged table. */
static int table_error(const struct expect *e, const struct variant *v, int rc)
{
    return e->outcome == TABLE_DAMAGE && rc == LAMINA_ECORRUPT &&
           strstr(lamina_errmsg(NULL), v->file) != NULL;
}

/* Gets every key and scans them all: each read returns exactly what the model says for WAL
 * records before `torn`, or (TABLE_DAMAGE) fails naming the table. 0, or 1 after a violation. */
static int verify_reads(lamina_db *db, const struct expect *e, const struct variant *v, int torn,
                        struct tally *t)
{
    char want[600];
    for (size_t i = 0; i < NALL; i++) {
        void *got = NULL;
        size_t gl = 0;
        int gen = key_gen(i, torn);
        int rc = lamina_get(db, NULL, F.keys[i], strlen(F.keys[i]), &got, &gl);
        size_t wl = gen >= 0 ? value_of(want, sizeof(want), i, gen) : 0;
        if (rc == LAMINA_OK && (gen < 0 || gl != wl || memcmp(got, want, wl) != 0)) {
            violation(t, v, "get %s returned \"%.*s\", wrote %s", F.keys[i], (int)gl, (char *)got,
                      gen < 0 ? "no value" : want);
            lamina_free(got);
            return 1;
        }
        lamina_free(got);
        if ((rc == LAMINA_NOTFOUND && gen >= 0) ||
            (rc != LAMINA_OK && rc != LAMINA_NOTFOUND && !table_error(e, v, rc))) {
            violation(t, v, "get %s: %s (%s), wrote %s", F.keys[i], lamina_strerror(rc),
                      lamina_errmsg(NULL), gen >= 0 ? want : "no value");
            return 1;
        }
    }
    lamina_iter *it;
    cr_assert_eq(lamina_iter_create(db, NULL, &it), LAMINA_OK);
    size_t pos = 0, seen = 0, live = 0;
    for (size_t i = 0; i < NALL; i++)
        live += key_gen(i, torn) >= 0;
    int bad = 0;
    for (lamina_iter_seek_to_first(it); !bad && lamina_iter_valid(it); lamina_iter_next(it)) {
        size_t kl, vl;
        const char *k = lamina_iter_key(it, &kl), *val = lamina_iter_value(it, &vl);
        /* Keys come in order: walk the model's order alongside. */
        while (pos < NALL &&
               (strlen(F.keys[F.order[pos]]) != kl || memcmp(F.keys[F.order[pos]], k, kl) != 0))
            pos++;
        if (pos == NALL) {
            violation(t, v, "scan returned \"%.*s\", never written or out of order", (int)kl, k);
            bad = 1;
            break;
        }
        size_t i = F.order[pos++];
        int gen = key_gen(i, torn);
        size_t wl = gen >= 0 ? value_of(want, sizeof(want), i, gen) : 0;
        if (gen < 0 || vl != wl || memcmp(val, want, wl) != 0) {
            violation(t, v, "scan: %s holds \"%.*s\", wrote %s", F.keys[i], (int)vl, val,
                      gen < 0 ? "no value" : want);
            bad = 1;
        }
        seen++;
    }
    int rc = lamina_iter_status(it);
    if (!bad && rc != LAMINA_OK && !table_error(e, v, rc)) {
        violation(t, v, "scan: %s (%s)", lamina_strerror(rc), lamina_errmsg(NULL));
        bad = 1;
    }
    if (!bad && rc == LAMINA_OK && seen != live) {
        violation(t, v, "scan saw %zu keys of %zu and no error", seen, live);
        bad = 1;
    }
    lamina_iter_destroy(it);
    return bad;
}

/* Whether the damage is named with file and (when needed) an offset at or before it, in the
 * open's message or by check. */
static int damage_named(const struct expect *e, const struct variant *v, const char *msg,
                        const struct findings *fs)
{
    if (strstr(msg, v->file) && (!e->need_offset || strstr(msg, "offset"))) return 1;
    return fs->on_file && (!e->need_offset || (fs->offset != UINT64_MAX &&
                                               (v->op != FLIP || fs->offset <= (uint64_t)v->pos)));
}

static void run_variant(const struct variant *v, const struct expect *e, struct tally *t)
{
    t->runs++;
    copy_db();
    mutate(v);

    struct findings fs = {.file = v->file};
    lamina_check_stats st = {.struct_size = sizeof(st)};
    int crc = lamina_check(F.work, NULL, collect, &fs, &st);
    if (crc != LAMINA_OK && crc != LAMINA_ECORRUPT) {
        violation(t, v, "check: %s (%s)", lamina_strerror(crc), lamina_errmsg(NULL));
        return;
    }
    if ((crc == LAMINA_ECORRUPT) != (fs.problems > 0) || st.problems != (uint64_t)fs.problems) {
        violation(t, v, "check returned %d with %d problems", crc, fs.problems);
        return;
    }

    lamina_options o = fixture_options();
    lamina_db *db = NULL;
    int rc = lamina_open(F.work, &o, &db);
    char msg[600];
    snprintf(msg, sizeof(msg), "%s", lamina_errmsg(NULL));
    int torn = e->outcome == TORN || e->outcome == DAMAGE_OR_TORN ? e->torn : NWAL;
    int open_may_fail = e->outcome != TORN && e->outcome != HARMLESS;

    if (rc != LAMINA_OK) {
        if (!open_may_fail)
            violation(t, v, "open: %s (%s)", lamina_strerror(rc), msg);
        else if (rc != LAMINA_ECORRUPT)
            violation(t, v, "open: %s (%s), want LAMINA_ECORRUPT", lamina_strerror(rc), msg);
        else if (crc == LAMINA_OK)
            violation(t, v, "open reports \"%s\" but check finds nothing", msg);
        else if (e->outcome != NEVER_SILENT && !damage_named(e, v, msg, &fs))
            violation(t, v, "neither the open (\"%s\") nor check names %s%s", msg, v->file,
                      e->need_offset ? " with an offset" : "");
        return;
    }
    if (e->outcome == DAMAGE) {
        /* One violation per copy; what the reads then return says whether data went wrong. */
        struct tally reads = {0};
        int wrong = verify_reads(db, e, v, NWAL, &reads);
        violation(t, v, "open succeeds on a damaged %s (check: %d problems)%s%s", v->file,
                  fs.problems, wrong ? "; then " : "", wrong ? reads.first[0] : "");
        (void)lamina_close(db);
        return;
    }
    int bad = verify_reads(db, e, v, torn, t);
    int clo = lamina_close(db);
    if (bad) return;
    if (clo != LAMINA_OK && !table_error(e, v, clo)) {
        violation(t, v, "close: %s (%s)", lamina_strerror(clo), lamina_errmsg(NULL));
        return;
    }
    if (e->outcome == TORN && crc != LAMINA_OK)
        violation(t, v, "check reports %d problems for a torn tail", fs.problems);
    else if (e->outcome == TABLE_DAMAGE && !damage_named(e, v, "", &fs))
        violation(t, v, "check does not name %s%s (%d problems)", v->file,
                  e->need_offset ? " with an offset" : "", fs.problems);
}

static void report(const char *kind, const struct tally *t)
{
    cr_log_info("%s: %d damaged copies, %d wrong", kind, t->runs, t->fails);
    for (int i = 0; i < t->fails && i < 4; i++)
        cr_log_error("%s", t->first[i]);
    cr_expect_eq(t->fails, 0, "%s: %d of %d damaged copies went wrong; first: %s", kind, t->fails,
                 t->runs, t->first[0]);
}

/* Flips bit `bit` of byte pos of file, or cuts or grows it, and checks the outcome. */
static void damage(struct tally *t, const char *file, enum op op, long pos, int bit,
                   const struct expect *e, const char *label)
{
    struct variant v = {.file = file, .op = op, .pos = pos, .bit = bit};
    char how[64];
    if (op == FLIP)
        snprintf(how, sizeof(how), "bit %d of byte %ld", bit, pos);
    else if (op == CUT)
        snprintf(how, sizeof(how), "cut to %ld bytes", pos);
    else
        snprintf(how, sizeof(how), "%ld zero bytes appended", pos);
    snprintf(v.what, sizeof(v.what), "%s %s, %s", file, label, how);
    run_variant(&v, e, t);
}

/* Every `step`-th byte of [from, to) (bit rotating), and each bit of the first byte. */
static void damage_range(struct tally *t, const char *file, long from, long to, long step,
                         const struct expect *e, const char *label)
{
    for (long p = from; p < to; p += step)
        damage(t, file, FLIP, p, (int)(p % 8), e, label);
    for (int bit = 0; bit < 8; bit++)
        damage(t, file, FLIP, from, bit, e, label);
}

/* ---- Tables ------------------------------------------------------------------------------- */

static const struct expect table_damage = {TABLE_DAMAGE, NWAL, 1};

Test(corrupt, damaged_table_data_blocks_are_reported_and_never_read_as_data)
{
    struct tally t = {0};
    damage_range(&t, F.table, 0, 4096, 97, &table_damage, "data blocks");
    damage_range(&t, F.table, F.filter_off / 2, F.filter_off / 2 + 1, 1, &table_damage,
                 "a data block in the middle");
    report("table data blocks", &t);
}

/* Flips in one block of the table (its trailer included): every step-th byte, each bit of the
 * first. */
static void damage_table_block(long off, long len, long step, const char *label)
{
    struct tally t = {0};
    damage_range(&t, F.table, off, off + len, step, &table_damage, label);
    report(label, &t);
}

Test(corrupt, damaged_table_index_block_is_reported_and_never_read_as_data)
{
    damage_table_block(F.index_off, F.index_len, 23, "index root block");
}

Test(corrupt, damaged_table_filter_block_is_reported_and_never_hides_a_key)
{
    damage_table_block(F.filter_off, F.filter_len, 97, "filter block");
}

Test(corrupt, damaged_table_properties_block_is_reported)
{
    damage_table_block(F.props_off, F.props_len, 13, "properties block");
}

Test(corrupt, damaged_or_cut_table_footer_is_reported_with_its_offset)
{
    struct tally t = {0};
    long footer = F.table_size - 76;
    damage_range(&t, F.table, footer, F.table_size, 5, &table_damage, "footer");
    damage_range(&t, F.table, footer + 64, footer + 65, 1, &table_damage, "footer checksum");
    long cuts[] = {F.table_size - 1, F.table_size - 76, F.table_size / 2, 10, 0};
    for (size_t i = 0; i < sizeof(cuts) / sizeof(cuts[0]); i++)
        damage(&t, F.table, CUT, cuts[i], 0, &table_damage, "cut short");
    report("table footer and length", &t);
}

/* ---- WAL ---------------------------------------------------------------------------------- */

/* Flips in a record: each bit of its header, every 97th byte of it. */
static void damage_record(struct tally *t, const char *file, const struct logrec *r,
                          const struct expect *body, const struct expect *length, const char *label)
{
    for (long b = 0; b < 7; b++)
        for (int bit = 0; bit < 8; bit++)
            damage(t, file, FLIP, r->off + b, bit, b == 4 || b == 5 ? length : body, label);
    for (long p = r->off + 7; p < r->end; p += 97)
        damage(t, file, FLIP, p, (int)(p % 8), body, label);
    damage(t, file, FLIP, r->end - 1, 0, body, label);
}

Test(corrupt, damaged_wal_record_before_the_last_fails_the_open_with_its_offset)
{
    struct tally t = {0};
    const struct expect e = {DAMAGE, NWAL, 1};
    damage_record(&t, F.wal, &F.walrec[5], &e, &e, "middle record");
    report("WAL middle record", &t);
}

Test(corrupt, damaged_last_complete_wal_record_is_corruption_not_a_torn_tail)
{
    struct tally t = {0};
    const struct expect e = {DAMAGE, NWAL, 1};
    /* A longer length may point past the end of the file: a cut-short record, which is what
     * a torn write looks like too. */
    const struct expect len = {DAMAGE_OR_TORN, NWAL - 1, 1};
    damage_record(&t, F.wal, &F.walrec[NWAL - 1], &e, &len, "last complete record");
    report("WAL last complete record", &t);
}

Test(corrupt, torn_wal_tail_loses_only_the_torn_records)
{
    struct tally t = {0};
    const struct logrec *last = &F.walrec[NWAL - 1], *mid = &F.walrec[NWAL / 2];
    long len = last->end - last->off;
    long cuts[] = {1, 3, 6, 7, 8, 20, len / 2, len - 1};
    for (size_t i = 0; i < sizeof(cuts) / sizeof(cuts[0]); i++) {
        const struct expect e = {TORN, NWAL - 1, 0};
        damage(&t, F.wal, CUT, last->off + cuts[i], 0, &e, "last record cut");
    }
    /* Cuts at record boundaries drop exactly the records after them. */
    int bounds[] = {NWAL - 1, NWAL - 3, NWAL / 2, 0};
    for (size_t i = 0; i < sizeof(bounds) / sizeof(bounds[0]); i++) {
        const struct expect e = {TORN, bounds[i], 0};
        damage(&t, F.wal, CUT, F.walrec[bounds[i]].off, 0, &e, "cut at a record boundary");
    }
    const struct expect m = {TORN, NWAL / 2, 0};
    damage(&t, F.wal, CUT, mid->off + 10, 0, &m, "cut inside a middle record");
    /* The record that crosses from the first block into the second, cut in each. */
    for (int r = 0; r < NWAL; r++)
        if (F.walrec[r].off < 32768 && F.walrec[r].end > 32768) {
            const struct expect c = {TORN, r, 0};
            damage(&t, F.wal, CUT, 32768 - 3, 0, &c, "cut inside the block-crossing record");
            damage(&t, F.wal, CUT, 32768 + 10, 0, &c, "cut inside the block-crossing record");
        }
    const struct expect z = {TORN, NWAL, 0};
    damage(&t, F.wal, ZEROS, 4096, 0, &z, "zeroed page after the last record");
    report("WAL torn tail", &t);
}

/* ---- MANIFEST, CURRENT, OPTIONS ----------------------------------------------------------- */

Test(corrupt, damaged_manifest_record_fails_the_open_with_its_offset)
{
    struct tally t = {0};
    const struct expect e = {DAMAGE, NWAL, 1};
    damage_record(&t, F.manifest, &F.manrec[F.nmanrec / 2], &e, &e, "middle record");
    report("MANIFEST middle record", &t);
}

Test(corrupt, damaged_last_manifest_record_fails_the_open_with_its_offset)
{
    struct tally t = {0};
    const struct expect e = {DAMAGE, NWAL, 1};
    const struct expect len = {NEVER_SILENT, NWAL, 0};
    damage_record(&t, F.manifest, &F.manrec[F.nmanrec - 1], &e, &len, "last complete record");
    report("MANIFEST last complete record", &t);
}

Test(corrupt, cut_manifest_never_loses_data_silently)
{
    struct tally t = {0};
    const struct expect e = {NEVER_SILENT, NWAL, 0};
    for (size_t r = 0; r < F.nmanrec; r++) {
        damage(&t, F.manifest, CUT, F.manrec[r].off, 0, &e, "cut at a record boundary");
        damage(&t, F.manifest, CUT, F.manrec[r].off + 9, 0, &e, "cut inside a record");
    }
    report("MANIFEST cut", &t);
}

Test(corrupt, damaged_current_fails_the_open_naming_it)
{
    struct tally t = {0};
    const struct expect e = {DAMAGE, NWAL, 0};
    long len = (long)strlen(F.manifest) + 1; /* the name and a newline */
    for (long p = 0; p < len; p++)
        damage(&t, "CURRENT", FLIP, p, (int)(p % 8), &e, "");
    for (int bit = 0; bit < 8; bit++)
        damage(&t, "CURRENT", FLIP, len - 2, bit, &e, "last digit");
    damage(&t, "CURRENT", CUT, 0, 0, &e, "");
    damage(&t, "CURRENT", CUT, 12, 0, &e, "");
    const struct expect newline = {NEVER_SILENT, NWAL, 0};
    damage(&t, "CURRENT", CUT, len - 1, 0, &newline, "without its newline");
    report("CURRENT", &t);
}

Test(corrupt, damaged_options_file_is_not_fatal)
{
    struct tally t = {0};
    const struct expect e = {HARMLESS, NWAL, 0};
    char path[256];
    long len;
    snprintf(path, sizeof(path), "%s/%s", F.db, F.options);
    free(slurp(path, &len));
    damage_range(&t, F.options, 0, len, 97, &e, "");
    damage_range(&t, F.options, 2, 3, 1, &e, "header");
    damage(&t, F.options, CUT, 20, 0, &e, "");
    damage(&t, F.options, CUT, 0, 0, &e, "");
    report("OPTIONS", &t);
}

/* ---- kvctl -------------------------------------------------------------------------------- */

/* Runs kvctl (from the build tree) with args on the damaged copy; *out gets its standard output
 * and error together. Returns the exit status. */
static int kvctl(const char *args, char *out, size_t cap)
{
    const char *root = getenv("LAMINA_BUILD_ROOT");
    cr_assert_not_null(root, "LAMINA_BUILD_ROOT is not set (run through meson test)");
    char cmd[1024];
    snprintf(cmd, sizeof(cmd), "'%s/tools/kvctl' --db='%s' %s 2>&1", root, F.work, args);
    FILE *p = popen(cmd, "r");
    cr_assert_not_null(p);
    size_t n = fread(out, 1, cap - 1, p);
    out[n] = 0;
    int st = pclose(p);
    return WIFEXITED(st) ? WEXITSTATUS(st) : -1;
}

Test(corrupt, kvctl_check_names_the_damage_and_repair_rebuilds_what_reads_clean)
{
    static char out[1 << 16];
    copy_db();
    cr_assert_eq(kvctl("check", out, sizeof(out)), 0, "%s", out);
    cr_assert_not_null(strstr(out, "ok: "), "%s", out);
    /* A damaged data block in the table and a damaged record in the middle of the WAL. */
    struct variant t = {.file = F.table, .op = FLIP, .pos = 300, .bit = 2};
    struct variant w = {.file = F.wal, .op = FLIP, .pos = F.walrec[5].off + 30, .bit = 4};
    mutate(&t);
    mutate(&w);
    char table_at[64], wal_at[64];
    snprintf(table_at, sizeof(table_at), "%s:0: ", F.table);
    snprintf(wal_at, sizeof(wal_at), "%s:%ld: ", F.wal, F.walrec[5].off);
    cr_assert_eq(kvctl("check", out, sizeof(out)), 3, "%s", out);
    cr_assert_not_null(strstr(out, table_at), "%s", out);
    cr_assert_not_null(strstr(out, wal_at), "%s", out);
    cr_assert_not_null(strstr(out, "damaged: 2 problems"), "%s", out);
    cr_assert_eq(kvctl("repair", out, sizeof(out)), 0, "%s", out);
    cr_assert_not_null(strstr(out, "repaired: kept 1 tables"), "%s", out);
    cr_assert_not_null(strstr(out, "replayed 31 WAL records"), "%s", out);
    cr_assert_eq(kvctl("check", out, sizeof(out)), 0, "%s", out);
    cr_assert_not_null(strstr(out, "ok: "), "%s", out);
    cr_assert_not_null(strstr(out, "lost: note: 3 file(s)"), "%s", out);
}
