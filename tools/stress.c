/* stress.c — the stress tool, after RocksDB's db_stress: threads run random puts, deletes,
 * batches, gets, iterators, snapshots, flushes and compactions and check every read against an
 * expected-state file that outlives the process, so scripts/stress.sh can SIGKILL it, fire a
 * named crash point or simulate a power cut (util/fault.h) and then check with --verify_only. */
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <inttypes.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "lamina.h"
#include "util/fault.h"
#include "util/hash.h"
#include "util/rng.h"

/* Exit codes: a check failed or the engine returned an error is 1, so the driver can tell it
 * from a bad command line or an unusable expected-state file (2). */
enum { EXIT_PASS = 0, EXIT_FAIL = 1, EXIT_USAGE = 2 };

#define MAX_THREADS 64
#define MAX_BATCH 16
#define NSTRIPES 1024
#define KEY_DIGITS 10
#define KEY_MAX_SUFFIX 11
#define KEY_CAP (KEY_DIGITS + KEY_MAX_SUFFIX + 1)
#define VALUE_HEADER 8
/* 1 in LARGE_VALUE_ONE_IN values is up to 16 times value_size_max, so values cross blocks. */
#define LARGE_VALUE_ONE_IN 64
#define LARGE_VALUE_FACTOR 16
/* Keys one iterator check or one snapshot covers. */
#define WINDOW 64
#define SNAP_KEYS 16
#define MAX_SNAPS 2
/* Problems a verify prints before it only counts them. */
#define MAX_REPORTS 20
#define OPT_TABLE_BASE 1000

/* ---- Key states --------------------------------------------------------------------------- */

/* A key's state is (id << 1) | present. Each write of a key gets the next id, and the value
 * it stores carries the state, so a read names the write it returns. 0: never written. */
static inline uint32_t st_make(uint32_t id, int present)
{
    return id << 1 | (present ? 1u : 0u);
}
static inline uint32_t st_id(uint32_t s)
{
    return s >> 1;
}
static inline int st_present(uint32_t s)
{
    return (int)(s & 1u);
}
/* Whether a read's state matches an expected one: any two absent states look alike. */
static inline int st_match(uint32_t seen, uint32_t want)
{
    return st_present(seen) ? seen == want : !st_present(want);
}
static const char *st_text(uint32_t s, char *buf, size_t cap)
{
    if (!st_present(s))
        snprintf(buf, cap, "absent");
    else
        snprintf(buf, cap, "write #%" PRIu32, st_id(s));
    return buf;
}

/* Per key, one 64-bit word: the pending state (set before a write, 0 when none) in the high
 * half, the acknowledged state in the low half. */
static inline uint32_t w_cur(uint64_t w)
{
    return (uint32_t)w;
}
static inline uint32_t w_pend(uint64_t w)
{
    return (uint32_t)(w >> 32);
}
static inline uint64_t w_make(uint32_t cur, uint32_t pend)
{
    return (uint64_t)pend << 32 | cur;
}

/* ---- The expected-state file -------------------------------------------------------------- */

#define ES_MAGIC "LMSTRES1"

/* Layout: header | word[nkeys] | high[nkeys] | batch[MAX_THREADS] | journal[journal_cap]. */
struct es_header {
    char magic[8];
    uint32_t nkeys;
    uint32_t clean; /* 1: nothing pending since the last verify or clean close */
    uint64_t journal_cap;
    _Atomic uint64_t journal_len; /* entries in use; set after the entries it covers */
    _Atomic uint64_t journal_ops; /* ops numbered so far (never reset) */
};

/* A batch in flight, per thread: a verify checks a killed batch is all there or none of it. */
struct es_batch {
    _Atomic uint32_t n; /* set after the arrays, cleared after every key is acknowledged */
    uint32_t key[MAX_BATCH];
    uint32_t old_state[MAX_BATCH];
    uint32_t new_state[MAX_BATCH];
};

/* The journal of a single writer since its last acknowledged sync=1 write: every write (a
 * batch's keys share one op number), so after a power cut some prefix of it must explain
 * the database. */
struct es_entry {
    uint64_t op;
    uint32_t key;
    uint32_t old_state;
    uint32_t new_state;
    uint32_t pad;
};

typedef struct es_file {
    struct es_header *hdr;
    _Atomic uint64_t *word;
    uint32_t *high; /* per key: the highest id handed out; written under the key's stripe */
    struct es_batch *batch;
    struct es_entry *journal;
    void *map;
    size_t map_len;
} es_file;

static size_t es_align(size_t n)
{
    return (n + 63) & ~(size_t)63;
}

static size_t es_layout(uint32_t nkeys, uint64_t cap, size_t off[4])
{
    size_t at = es_align(sizeof(struct es_header));
    off[0] = at;
    at = es_align(at + (size_t)nkeys * sizeof(uint64_t));
    off[1] = at;
    at = es_align(at + (size_t)nkeys * sizeof(uint32_t));
    off[2] = at;
    at = es_align(at + MAX_THREADS * sizeof(struct es_batch));
    off[3] = at;
    return at + (size_t)cap * sizeof(struct es_entry);
}

/* Maps the expected-state file at path, creating it (every key never written) when create is
 * set and it does not exist. *nkeys: 0 takes the file's count; otherwise it must match.
 * Returns 0, or EXIT_USAGE with the reason printed. */
static int es_open(const char *path, uint32_t *nkeys, uint64_t cap, int create, es_file *es)
{
    struct es_header h;
    int fd = open(path, O_RDWR);
    int made = 0;
    if (fd < 0 && errno == ENOENT && create) {
        if (*nkeys == 0) *nkeys = 10000;
        fd = open(path, O_RDWR | O_CREAT | O_EXCL, 0644);
        made = 1;
    }
    if (fd < 0) {
        fprintf(stderr, "stress: expected-state file %s: %s\n", path, strerror(errno));
        return EXIT_USAGE;
    }
    if (made) {
        memset(&h, 0, sizeof h);
        memcpy(h.magic, ES_MAGIC, 8);
        h.nkeys = *nkeys;
        h.clean = 1;
        h.journal_cap = cap;
    } else if (pread(fd, &h, sizeof h, 0) != (ssize_t)sizeof h ||
               memcmp(h.magic, ES_MAGIC, 8) != 0) {
        fprintf(stderr, "stress: %s is not an expected-state file of this tool\n", path);
        close(fd);
        return EXIT_USAGE;
    } else if (*nkeys != 0 && *nkeys != h.nkeys) {
        fprintf(stderr, "stress: %s was made for --keys=%" PRIu32 ", not %" PRIu32 "\n", path,
                h.nkeys, *nkeys);
        close(fd);
        return EXIT_USAGE;
    }
    *nkeys = h.nkeys;
    size_t off[4], len = es_layout(h.nkeys, h.journal_cap, off);
    struct stat sb;
    if (made && (pwrite(fd, &h, sizeof h, 0) != (ssize_t)sizeof h || ftruncate(fd, (off_t)len))) {
        fprintf(stderr, "stress: cannot write %s: %s\n", path, strerror(errno));
        close(fd);
        return EXIT_USAGE;
    }
    if (fstat(fd, &sb) != 0 || (size_t)sb.st_size != len) {
        fprintf(stderr, "stress: %s has the wrong size for %" PRIu32 " keys\n", path, h.nkeys);
        close(fd);
        return EXIT_USAGE;
    }
    void *map = mmap(NULL, len, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
    close(fd);
    if (map == MAP_FAILED) {
        fprintf(stderr, "stress: mmap %s: %s\n", path, strerror(errno));
        return EXIT_USAGE;
    }
    uint8_t *base = map;
    es->map = map;
    es->map_len = len;
    es->hdr = map;
    es->word = (_Atomic uint64_t *)(void *)(base + off[0]);
    es->high = (uint32_t *)(void *)(base + off[1]);
    es->batch = (struct es_batch *)(void *)(base + off[2]);
    es->journal = (struct es_entry *)(void *)(base + off[3]);
    return 0;
}

/* ---- Configuration and shared state ------------------------------------------------------- */

enum { OP_PUT, OP_DELETE, OP_BATCH, OP_GET, OP_ITER, OP_SNAPSHOT, OP_FLUSH, OP_COMPACT, OP_COUNT };
static const char *const op_names[OP_COUNT] = {"put",  "delete",   "batch", "get",
                                               "iter", "snapshot", "flush", "compact"};

typedef struct stress_cfg {
    const char *db_path;
    const char *state_path;
    uint32_t threads, nkeys, max_batch, sync_every;
    uint64_t ops, duration_ms, seed, value_size_max, journal_cap;
    uint64_t weight[OP_SNAPSHOT + 1];
    uint64_t flush_one_in, compact_one_in;
    int sync; /* -1: by mode (1 in kill mode, 0 with --power_loss_after_ms) */
    int verify_only;
    int64_t power_loss_ms; /* -1: none; -2: random */
    int disable_sync;
    const char **set_names, **set_values;
    size_t n_set;
} stress_cfg;

static struct {
    stress_cfg cfg;
    lamina_db *db;
    es_file es;
    int journal; /* one writer, checked by the prefix rule (power loss, or sync=0) */
    pthread_mutex_t stripe[NSTRIPES];
    atomic_int stop;
    atomic_int power_cut; /* the file layer is frozen: errors are expected, state is final */
    atomic_int failed;
    atomic_int running;
    size_t val_cap;
    /* power cut: the watcher thread, its moment, and whether the run got past it */
    pthread_t watcher;
    int watching;
    uint64_t cut_at;
    pthread_mutex_t cut_mu;
    atomic_int finished;
    _Atomic uint64_t cut_done; /* ms when fault_power_loss returned, 0 before */
} g;

static uint64_t now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000u + (uint64_t)ts.tv_nsec / 1000000u;
}

/* Reports a failed check (not after a power cut, whose errors are expected) and stops every
 * thread. Returns -1 for the caller to return. */
static int stress_fail(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
static int stress_fail(const char *fmt, ...)
{
    if (atomic_load(&g.power_cut)) return -1;
    char msg[512];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    fprintf(stderr, "stress: FAIL (seed %" PRIu64 "): %s\n", g.cfg.seed, msg);
    atomic_store(&g.failed, 1);
    atomic_store(&g.stop, 1);
    return -1;
}

static int stress_db_fail(const char *what, int rc)
{
    return stress_fail("%s: %s: %s", what, lamina_strerror(rc), lamina_errmsg(g.db));
}

/* ---- Keys and values ---------------------------------------------------------------------- */

/* Key k: ten decimal digits (so byte order is number order) and 0..11 letters derived from k,
 * so keys differ in length and share prefixes as real keys do. */
static size_t key_make(uint32_t k, char *dst)
{
    uint64_t h = hash_mix64(k ^ UINT64_C(0x6b6579));
    size_t extra = (size_t)(h % (KEY_MAX_SUFFIX + 1));
    snprintf(dst, KEY_CAP, "%0*" PRIu32, KEY_DIGITS, k);
    for (size_t i = 0; i < extra; i++)
        dst[KEY_DIGITS + i] = (char)('a' + (h >> (8 + 4 * i)) % 26);
    return KEY_DIGITS + extra;
}

/* A bound for iterators and compaction: key k itself, or only its digits, which sort just
 * before it and after every lower key. */
static size_t key_bound(uint32_t k, int digits_only, char *dst)
{
    if (!digits_only) return key_make(k, dst);
    snprintf(dst, KEY_CAP, "%0*" PRIu32, KEY_DIGITS, k);
    return KEY_DIGITS;
}

/* The number of a key an iterator returns, or -1 when this tool never wrote such bytes. */
static int64_t key_parse(const void *p, size_t n)
{
    const char *s = p;
    char buf[KEY_CAP];
    uint64_t k = 0;
    if (n < KEY_DIGITS || n > KEY_DIGITS + KEY_MAX_SUFFIX) return -1;
    for (size_t i = 0; i < KEY_DIGITS; i++) {
        if (s[i] < '0' || s[i] > '9') return -1;
        k = k * 10 + (uint64_t)(s[i] - '0');
    }
    if (k >= g.cfg.nkeys) return -1;
    if (key_make((uint32_t)k, buf) != n || memcmp(buf, s, n) != 0) return -1;
    return (int64_t)k;
}

static void put32(uint8_t *p, uint32_t v)
{
    for (int i = 0; i < 4; i++)
        p[i] = (uint8_t)(v >> (8 * i));
}
static uint32_t get32(const uint8_t *p)
{
    return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 | (uint32_t)p[3] << 24;
}

/* The value write `state` of key k stores: the key number and state, then bytes derived from
 * both, so every byte a read returns can be checked. */
static size_t value_make(uint32_t k, uint32_t state, uint8_t *dst)
{
    uint64_t h = hash_mix64((uint64_t)k << 32 | state);
    uint64_t max = g.cfg.value_size_max;
    if (h % LARGE_VALUE_ONE_IN == 0) max *= LARGE_VALUE_FACTOR;
    size_t len = (size_t)((h >> 8) % (max + 1));
    put32(dst, k);
    put32(dst + 4, state);
    uint64_t x = h;
    for (size_t i = 0; i < len; i++) {
        if (i % 8 == 0) x = hash_mix64(x + i);
        dst[VALUE_HEADER + i] = (uint8_t)(x >> (8 * (i % 8)));
    }
    return VALUE_HEADER + len;
}

/* The state a value read for key k names, or 0 when its bytes are not what that write stored. */
static uint32_t value_check(uint32_t k, const void *v, size_t n, uint8_t *scratch)
{
    if (n < VALUE_HEADER || get32(v) != k) return 0;
    uint32_t s = get32((const uint8_t *)v + 4);
    if (!st_present(s) || n > g.val_cap) return 0;
    if (value_make(k, s, scratch) != n || memcmp(v, scratch, n) != 0) return 0;
    return s;
}

/* ---- Judging reads ------------------------------------------------------------------------ */

/* How a read of keys [base, base + len) is judged: against each key's window of states
 * (acknowledged before the read began .. handed out when its view was fixed), or against
 * exact states (a quiescent verify, or a snapshot read again). */
typedef struct judge {
    const char *what;
    uint32_t base, len;
    const uint64_t *pre, *post; /* window mode */
    const uint32_t *exact;      /* exact mode when set */
    uint32_t *record;           /* window mode: the states seen are stored here */
} judge;

static void window_capture(uint64_t *dst, uint32_t base, uint32_t len)
{
    for (uint32_t i = 0; i < len; i++)
        dst[i] = atomic_load(&g.es.word[base + i]);
}

/* Whether a read may see `seen` for a key whose words were pre before the read and post after
 * its view was fixed: ids only grow, so the write it returns lies between the acknowledged one
 * before and the newest one handed out after; an id the words never showed may be anything. */
static int window_allows(uint64_t pre, uint64_t post, uint32_t seen)
{
    uint32_t known[4] = {w_cur(pre), w_pend(pre), w_cur(post), w_pend(post)};
    int n = 0;
    uint32_t lo = st_id(known[0]), hi = 0, ids[4];
    for (int i = 0; i < 4; i++) {
        if (i % 2 == 1 && known[i] == 0) continue; /* no write pending */
        if (st_id(known[i]) > hi) hi = st_id(known[i]);
        if (st_id(known[i]) < lo) continue;
        if (st_present(seen) && st_id(known[i]) == st_id(seen)) return known[i] == seen;
        if (!st_present(seen) && !st_present(known[i])) return 1;
        int dup = 0;
        for (int j = 0; j < n; j++)
            dup |= ids[j] == st_id(known[i]);
        if (!dup) ids[n++] = st_id(known[i]);
    }
    if (st_present(seen)) return st_id(seen) >= lo && st_id(seen) <= hi;
    return hi - lo + 1 > (uint32_t)n;
}

/* Judges the state seen for key k; reports and returns -1 when it is not allowed. */
static int judge_key(const judge *j, uint32_t k, uint32_t seen)
{
    char a[48], b[48], c[48], d[48];
    uint32_t i = k - j->base;
    if (j->exact != NULL) {
        if (st_match(seen, j->exact[i])) return 0;
        return stress_fail("%s: key %" PRIu32 " reads %s, expected %s", j->what, k,
                           st_text(seen, a, sizeof a), st_text(j->exact[i], b, sizeof b));
    }
    if (window_allows(j->pre[i], j->post[i], seen)) {
        if (j->record != NULL) j->record[i] = seen;
        return 0;
    }
    return stress_fail("%s: key %" PRIu32 " reads %s, but it was %s before the read and %s "
                       "(pending %s) after",
                       j->what, k, st_text(seen, a, sizeof a),
                       st_text(w_cur(j->pre[i]), b, sizeof b),
                       st_text(w_cur(j->post[i]), c, sizeof c),
                       w_pend(j->post[i]) ? st_text(w_pend(j->post[i]), d, sizeof d) : "none");
}

/* One get of key k under ro; the state read goes to *seen. */
static int read_key(const lamina_read_options *ro, uint32_t k, uint8_t *buf, uint8_t *scratch,
                    const char *what, uint32_t *seen)
{
    char key[KEY_CAP];
    size_t klen = key_make(k, key), vlen;
    int rc = lamina_get_into(g.db, ro, key, klen, buf, g.val_cap, &vlen);
    *seen = 0;
    if (rc == LAMINA_NOTFOUND) return 0;
    if (rc != LAMINA_OK) return stress_db_fail(what, rc);
    *seen = vlen <= g.val_cap ? value_check(k, buf, vlen, scratch) : 0;
    if (*seen == 0)
        return stress_fail("%s: key %" PRIu32 ": the %zu value bytes read are not any write's",
                           what, k, vlen);
    return 0;
}

/* ---- Iterator checks ---------------------------------------------------------------------- */

/* One iterator pass: a seek (or seek to first/last) and steps in one direction over keys
 * [bound_lo, bound_hi) given as bounds, judged over the window [w0, w1). */
typedef struct scan {
    int forward;
    int to_end; /* seek_to_first / seek_to_last instead of a seek to key `from` */
    uint32_t from;
    int digits_only;
    int has_lo, has_hi;
    uint32_t bound_lo, bound_hi; /* key numbers; bound_hi may be nkeys */
    uint32_t w0, w1;
} scan;

/* Walks the iterator from its current position; order, bounds and every key of the window
 * (present or skipped) are checked. Keys landed on go to seen[] (at most cap). */
static int scan_walk(lamina_iter *it, const scan *s, const judge *j, uint8_t *scratch,
                     uint32_t *seen_k, uint32_t *seen_s, size_t cap, size_t *nseen)
{
    int64_t expect = s->forward ? (int64_t)s->w0 : (int64_t)s->w1 - 1;
    *nseen = 0;
    while (lamina_iter_valid(it)) {
        size_t kl, vl;
        const void *kp = lamina_iter_key(it, &kl);
        const void *vp = lamina_iter_value(it, &vl);
        int64_t k = key_parse(kp, kl);
        if (k < 0)
            return stress_fail("%s: returns a key this tool never wrote (%zu bytes)", j->what, kl);
        if (s->forward ? k < expect : k > expect)
            return stress_fail("%s: key %" PRId64 " out of order (expected %s %" PRId64 ")",
                               j->what, k, s->forward ? ">=" : "<=", expect);
        if ((s->has_lo && k < s->bound_lo) || (s->has_hi && k >= s->bound_hi))
            return stress_fail("%s: key %" PRId64 " outside the bounds [%" PRIu32 ", %" PRIu32 ")",
                               j->what, k, s->bound_lo, s->bound_hi);
        uint32_t st = value_check((uint32_t)k, vp, vl, scratch);
        if (st == 0)
            return stress_fail("%s: key %" PRId64 ": the %zu value bytes are not any write's",
                               j->what, k, vl);
        if (*nseen < cap) {
            seen_k[*nseen] = (uint32_t)k;
            seen_s[(*nseen)++] = st;
        }
        if (k < s->w0 || k >= s->w1) break;
        for (int64_t m = expect; m != k; m += s->forward ? 1 : -1)
            if (judge_key(j, (uint32_t)m, 0)) return -1;
        if (judge_key(j, (uint32_t)k, st)) return -1;
        expect = s->forward ? k + 1 : k - 1;
        int rc = s->forward ? lamina_iter_next(it) : lamina_iter_prev(it);
        if (rc != LAMINA_OK) return stress_db_fail(j->what, rc);
    }
    if (!lamina_iter_valid(it)) {
        int rc = lamina_iter_status(it);
        if (rc != LAMINA_OK) return stress_db_fail(j->what, rc);
    }
    /* the window's keys after the last one found were not there */
    int64_t stop = s->forward ? (int64_t)s->w1 : (int64_t)s->w0 - 1;
    for (int64_t m = expect; m != stop; m += s->forward ? 1 : -1)
        if (judge_key(j, (uint32_t)m, 0)) return -1;
    return 0;
}

/* Steps back over the keys the walk landed on: the same view must give them again. */
static int scan_reverse(lamina_iter *it, const scan *s, const judge *j, uint8_t *scratch,
                        const uint32_t *seen_k, const uint32_t *seen_s, size_t nseen)
{
    for (size_t i = nseen - 1; i > 0 && lamina_iter_valid(it) && nseen - i <= 8; i--) {
        int rc = s->forward ? lamina_iter_prev(it) : lamina_iter_next(it);
        if (rc != LAMINA_OK) return stress_db_fail(j->what, rc);
        if (!lamina_iter_valid(it))
            return stress_fail("%s: turning back from key %" PRIu32 " ends before key %" PRIu32,
                               j->what, seen_k[i], seen_k[i - 1]);
        size_t kl, vl;
        const void *kp = lamina_iter_key(it, &kl);
        const void *vp = lamina_iter_value(it, &vl);
        int64_t k = key_parse(kp, kl);
        if (k != (int64_t)seen_k[i - 1] ||
            value_check((uint32_t)k, vp, vl, scratch) != seen_s[i - 1])
            return stress_fail("%s: turning back from key %" PRIu32 " gives key %" PRId64
                               ", not key %" PRIu32 " as seen on the way",
                               j->what, seen_k[i], k, seen_k[i - 1]);
    }
    return 0;
}

/* Runs one scan under ro (its bounds are set here). capture, when set, takes each window
 * key's word before and after the iterator is created (window judging). */
static int scan_run(const scan *s, lamina_read_options *ro, judge *j, uint64_t *pre, uint64_t *post,
                    uint8_t *scratch)
{
    char lo[KEY_CAP], hi[KEY_CAP], from[KEY_CAP];
    uint32_t seen_k[WINDOW + 1], seen_s[WINDOW + 1];
    size_t nseen = 0;
    lamina_iter *it = NULL;
    if (s->has_lo) {
        ro->lower_bound = lo;
        ro->lower_bound_len = key_bound(s->bound_lo, s->digits_only, lo);
    }
    if (s->has_hi) {
        ro->upper_bound = hi;
        ro->upper_bound_len = key_bound(s->bound_hi, s->digits_only, hi);
    }
    if (pre != NULL) window_capture(pre, s->w0, s->w1 - s->w0);
    int rc = lamina_iter_create(g.db, ro, &it);
    if (rc != LAMINA_OK) return stress_db_fail(j->what, rc);
    if (post != NULL) window_capture(post, s->w0, s->w1 - s->w0);
    size_t fl = key_bound(s->from, s->digits_only && s->forward, from);
    if (s->to_end)
        rc = s->forward ? lamina_iter_seek_to_first(it) : lamina_iter_seek_to_last(it);
    else
        rc = s->forward ? lamina_iter_seek(it, from, fl) : lamina_iter_seek_for_prev(it, from, fl);
    if (rc != LAMINA_OK)
        rc = stress_db_fail(j->what, rc);
    else
        rc = scan_walk(it, s, j, scratch, seen_k, seen_s, WINDOW + 1, &nseen);
    if (rc == 0 && nseen > 1) rc = scan_reverse(it, s, j, scratch, seen_k, seen_s, nseen);
    lamina_iter_destroy(it);
    return rc;
}

/* A random scan: direction, start, optional bounds around it, window of up to WINDOW keys. */
static void scan_pick(rng *r, scan *s)
{
    uint32_t n = g.cfg.nkeys;
    memset(s, 0, sizeof *s);
    s->forward = (int)rng_uniform(r, 2);
    s->from = (uint32_t)rng_uniform(r, n);
    s->digits_only = (int)rng_uniform(r, 2);
    s->bound_lo = 0;
    s->bound_hi = n;
    if (rng_uniform(r, 3) == 0) {
        s->has_lo = 1;
        uint32_t back = (uint32_t)rng_uniform(r, WINDOW);
        s->bound_lo = s->from > back ? s->from - back : 0;
    }
    if (rng_uniform(r, 3) == 0) {
        s->has_hi = 1;
        uint32_t ahead = 1 + (uint32_t)rng_uniform(r, WINDOW);
        s->bound_hi = s->from + ahead < n ? s->from + ahead : n;
    }
    if (rng_uniform(r, 4) == 0) {
        s->to_end = 1;
        s->from = s->forward ? s->bound_lo : s->bound_hi - 1;
    }
    uint32_t len = 1 + (uint32_t)rng_uniform(r, WINDOW);
    if (s->forward) {
        s->w0 = s->from;
        s->w1 = s->bound_hi - s->from < len ? s->bound_hi : s->from + len;
    } else {
        s->w1 = s->from + 1;
        s->w0 = s->w1 - s->bound_lo < len ? s->bound_lo : s->w1 - len;
    }
}

/* ---- Threads ------------------------------------------------------------------------------ */

typedef struct snap_rec {
    const lamina_snapshot *snap;
    uint64_t due;
    uint32_t base, len;
    uint32_t state[SNAP_KEYS];
} snap_rec;

typedef struct stress_thread {
    int id;
    int writer;
    rng r;
    uint8_t *val, *scratch;
    lamina_batch *batch;
    snap_rec snaps[MAX_SNAPS];
    uint64_t ops, writes;
    uint64_t count[OP_COUNT];
    pthread_t th;
} stress_thread;

static int cmp_u32(const void *a, const void *b)
{
    uint32_t x = *(const uint32_t *)a, y = *(const uint32_t *)b;
    return x < y ? -1 : x > y;
}

/* Locks (or unlocks) the stripes of keys[0..n) in ascending order, each once. */
static void stripes_lock(const uint32_t *keys, size_t n, int lock)
{
    uint32_t s[MAX_BATCH];
    for (size_t i = 0; i < n; i++)
        s[i] = keys[i] % NSTRIPES;
    qsort(s, n, sizeof s[0], cmp_u32);
    for (size_t i = 0; i < n; i++) {
        if (i > 0 && s[i] == s[i - 1]) continue;
        if (lock)
            pthread_mutex_lock(&g.stripe[s[i]]);
        else
            pthread_mutex_unlock(&g.stripe[s[i]]);
    }
}

/* Appends the write's keys to the journal (one op number), then publishes the length. */
static void journal_append(const uint32_t *keys, const uint32_t *olds, const uint32_t *news,
                           size_t n)
{
    struct es_header *h = g.es.hdr;
    uint64_t len = atomic_load(&h->journal_len);
    uint64_t op = atomic_load(&h->journal_ops) + 1;
    for (size_t i = 0; i < n; i++) {
        struct es_entry *e = &g.es.journal[len + i];
        e->op = op;
        e->key = keys[i];
        e->old_state = olds[i];
        e->new_state = news[i];
    }
    atomic_store(&h->journal_ops, op);
    atomic_store(&h->journal_len, len + n);
}

/* A put, delete or batch. Order of the expected-state updates: journal, batch record and
 * pending marks before the write; acknowledged states after it; so a kill anywhere leaves a
 * state the verify can judge. */
static int op_write(stress_thread *t, int kind)
{
    uint32_t keys[MAX_BATCH], olds[MAX_BATCH], news[MAX_BATCH];
    int present[MAX_BATCH];
    size_t n = kind == OP_BATCH ? 2 + (size_t)rng_uniform(&t->r, g.cfg.max_batch - 1) : 1;
    for (size_t i = 0; i < n; i++) {
        int dup;
        do {
            keys[i] = (uint32_t)rng_uniform(&t->r, g.cfg.nkeys);
            dup = 0;
            for (size_t m = 0; m < i; m++)
                dup |= keys[m] == keys[i];
        } while (dup);
        present[i] = kind == OP_PUT || (kind == OP_BATCH && rng_uniform(&t->r, 4) != 0);
    }
    lamina_write_options wo;
    lamina_write_options_init(&wo);
    wo.sync = g.cfg.sync;
    t->writes++;
    if (g.journal) {
        wo.sync = g.cfg.sync_every > 0 && t->writes % g.cfg.sync_every == 0;
        if (atomic_load(&g.es.hdr->journal_len) + MAX_BATCH > g.es.hdr->journal_cap / 2)
            wo.sync = 1;
    }
    stripes_lock(keys, n, 1);
    struct es_batch *b = &g.es.batch[t->id];
    for (size_t i = 0; i < n; i++) {
        uint64_t w = atomic_load(&g.es.word[keys[i]]);
        uint32_t id = g.es.high[keys[i]];
        if (st_id(w_cur(w)) > id) id = st_id(w_cur(w));
        if (st_id(w_pend(w)) > id) id = st_id(w_pend(w));
        g.es.high[keys[i]] = ++id;
        olds[i] = w_cur(w);
        news[i] = st_make(id, present[i]);
        b->key[i] = keys[i];
        b->old_state[i] = olds[i];
        b->new_state[i] = news[i];
    }
    if (g.journal) journal_append(keys, olds, news, n);
    if (n > 1) atomic_store(&b->n, (uint32_t)n);
    for (size_t i = 0; i < n; i++)
        atomic_store(&g.es.word[keys[i]], w_make(olds[i], news[i]));

    char key[KEY_CAP];
    size_t klen = key_make(keys[0], key);
    int rc;
    if (kind == OP_PUT) {
        size_t vlen = value_make(keys[0], news[0], t->val);
        rc = lamina_put(g.db, &wo, key, klen, t->val, vlen);
    } else if (kind == OP_DELETE) {
        rc = lamina_delete(g.db, &wo, key, klen);
    } else {
        lamina_batch_clear(t->batch);
        rc = LAMINA_OK;
        for (size_t i = 0; i < n && rc == LAMINA_OK; i++) {
            klen = key_make(keys[i], key);
            if (present[i]) {
                size_t vlen = value_make(keys[i], news[i], t->val);
                rc = lamina_batch_put(t->batch, key, klen, t->val, vlen);
            } else {
                rc = lamina_batch_delete(t->batch, key, klen);
            }
        }
        if (rc == LAMINA_OK) rc = lamina_write(g.db, &wo, t->batch);
    }
    if (rc != LAMINA_OK || atomic_load(&g.power_cut)) {
        /* the marks stay pending: the verify accepts either state */
        stripes_lock(keys, n, 0);
        return rc == LAMINA_OK ? -1 : stress_db_fail(op_names[kind], rc);
    }
    for (size_t i = 0; i < n; i++)
        atomic_store(&g.es.word[keys[i]], w_make(news[i], 0));
    atomic_store(&b->n, 0);
    /* every write up to this synced one is durable: the journal starts again */
    if (g.journal && wo.sync && !atomic_load(&g.power_cut)) atomic_store(&g.es.hdr->journal_len, 0);
    stripes_lock(keys, n, 0);
    return 0;
}

static int op_get(stress_thread *t)
{
    uint32_t k = (uint32_t)rng_uniform(&t->r, g.cfg.nkeys), seen;
    uint64_t pre, post;
    judge j = {.what = "get", .base = k, .len = 1, .pre = &pre, .post = &post};
    pre = atomic_load(&g.es.word[k]);
    int rc = read_key(NULL, k, t->val, t->scratch, "get", &seen);
    post = atomic_load(&g.es.word[k]);
    return rc ? rc : judge_key(&j, k, seen);
}

static int op_iter(stress_thread *t)
{
    uint64_t pre[WINDOW], post[WINDOW];
    scan s;
    scan_pick(&t->r, &s);
    judge j = {.what = s.forward ? "forward iterator" : "backward iterator",
               .base = s.w0,
               .len = s.w1 - s.w0,
               .pre = pre,
               .post = post};
    lamina_read_options ro;
    lamina_read_options_init(&ro);
    return scan_run(&s, &ro, &j, pre, post, t->scratch);
}

/* Reads a snapshot's keys by get and by a forward scan: the first time judged by the window
 * around the snapshot's creation (and recorded), later judged exactly by the record. */
static int snap_read(stress_thread *t, snap_rec *sr, const uint64_t *pre, const uint64_t *post)
{
    lamina_read_options ro;
    lamina_read_options_init(&ro);
    ro.snapshot = sr->snap;
    judge j = {.what = pre ? "snapshot get" : "snapshot get, read again",
               .base = sr->base,
               .len = sr->len,
               .pre = pre,
               .post = post,
               .exact = pre ? NULL : sr->state,
               .record = pre ? sr->state : NULL};
    for (uint32_t i = 0; i < sr->len; i++) {
        uint32_t seen;
        if (read_key(&ro, sr->base + i, t->val, t->scratch, j.what, &seen)) return -1;
        if (judge_key(&j, sr->base + i, seen)) return -1;
    }
    scan s = {.forward = (int)rng_uniform(&t->r, 2),
              .from = sr->base,
              .w0 = sr->base,
              .w1 = sr->base + sr->len,
              .bound_hi = g.cfg.nkeys};
    if (!s.forward) s.from = s.w1 - 1;
    judge js = {.what = "snapshot scan", .base = sr->base, .len = sr->len, .exact = sr->state};
    return scan_run(&s, &ro, &js, NULL, NULL, t->scratch);
}

static int op_snapshot(stress_thread *t)
{
    snap_rec *sr = NULL;
    for (int i = 0; i < MAX_SNAPS && sr == NULL; i++)
        if (t->snaps[i].snap == NULL) sr = &t->snaps[i];
    if (sr == NULL) return 0;
    uint64_t pre[SNAP_KEYS], post[SNAP_KEYS];
    sr->len = g.cfg.nkeys < SNAP_KEYS ? g.cfg.nkeys : SNAP_KEYS;
    sr->base = (uint32_t)rng_uniform(&t->r, g.cfg.nkeys - sr->len + 1);
    sr->due = t->ops + 10 + rng_uniform(&t->r, 200);
    window_capture(pre, sr->base, sr->len);
    int rc = lamina_snapshot_create(g.db, &sr->snap);
    if (rc != LAMINA_OK) {
        sr->snap = NULL;
        return stress_db_fail("snapshot", rc);
    }
    window_capture(post, sr->base, sr->len);
    return snap_read(t, sr, pre, post);
}

/* Reads each due snapshot again (all of them when `all`) and releases it. */
static int snap_check_due(stress_thread *t, int all)
{
    int rc = 0;
    for (int i = 0; i < MAX_SNAPS; i++) {
        snap_rec *sr = &t->snaps[i];
        if (sr->snap == NULL || (!all && sr->due > t->ops)) continue;
        if (rc == 0 && !atomic_load(&g.stop)) rc = snap_read(t, sr, NULL, NULL);
        lamina_snapshot_release(g.db, sr->snap);
        sr->snap = NULL;
    }
    return rc;
}

static int op_compact(stress_thread *t)
{
    char a[KEY_CAP], b[KEY_CAP];
    uint32_t x = (uint32_t)rng_uniform(&t->r, g.cfg.nkeys);
    uint32_t y = (uint32_t)rng_uniform(&t->r, g.cfg.nkeys);
    size_t al = key_make(x < y ? x : y, a), bl = key_make(x < y ? y : x, b);
    int whole = rng_uniform(&t->r, 4) == 0;
    int rc = whole ? lamina_compact_range(g.db, NULL, 0, NULL, 0)
                   : lamina_compact_range(g.db, a, al, b, bl);
    return rc == LAMINA_OK ? 0 : stress_db_fail("compact_range", rc);
}

static int op_pick(stress_thread *t)
{
    if (g.cfg.flush_one_in && rng_uniform(&t->r, g.cfg.flush_one_in) == 0) return OP_FLUSH;
    if (g.cfg.compact_one_in && rng_uniform(&t->r, g.cfg.compact_one_in) == 0) return OP_COMPACT;
    uint64_t total = 0;
    for (int i = t->writer ? OP_PUT : OP_GET; i <= OP_SNAPSHOT; i++)
        total += g.cfg.weight[i];
    if (total == 0) return OP_GET;
    uint64_t x = rng_uniform(&t->r, total);
    for (int i = t->writer ? OP_PUT : OP_GET; i <= OP_SNAPSHOT; i++) {
        if (x < g.cfg.weight[i]) return i;
        x -= g.cfg.weight[i];
    }
    return OP_GET;
}

static void *stress_thread_main(void *arg)
{
    stress_thread *t = arg;
    uint64_t deadline = g.cfg.duration_ms ? now_ms() + g.cfg.duration_ms : 0;
    while (!atomic_load(&g.stop)) {
        if (g.cfg.ops && t->ops >= g.cfg.ops) break;
        if (deadline && t->ops % 32 == 0 && now_ms() >= deadline) break;
        if (snap_check_due(t, 0)) break;
        int op = op_pick(t), rc;
        switch (op) {
        case OP_GET:
            rc = op_get(t);
            break;
        case OP_ITER:
            rc = op_iter(t);
            break;
        case OP_SNAPSHOT:
            rc = op_snapshot(t);
            break;
        case OP_FLUSH:
            rc = lamina_flush(g.db);
            if (rc != LAMINA_OK) rc = stress_db_fail("flush", rc);
            break;
        case OP_COMPACT:
            rc = op_compact(t);
            break;
        default:
            rc = op_write(t, op);
            break;
        }
        if (rc != 0) break;
        t->count[op]++;
        t->ops++;
    }
    snap_check_due(t, 1);
    atomic_fetch_sub(&g.running, 1);
    return NULL;
}

/* ---- Verify ------------------------------------------------------------------------------- */

static int verify_report(int *problems, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static int verify_report(int *problems, const char *fmt, ...)
{
    if (++*problems <= MAX_REPORTS && !atomic_load(&g.power_cut)) {
        va_list ap;
        va_start(ap, fmt);
        fprintf(stderr, "stress: verify: ");
        vfprintf(stderr, fmt, ap);
        fprintf(stderr, "\n");
        va_end(ap);
    }
    return 0;
}

/* A killed batch is all there or none of it: keys whose old and new state look alike (both
 * absent) say nothing. */
static void verify_batches(const uint32_t *seen, int *problems)
{
    for (int t = 0; t < MAX_THREADS; t++) {
        const struct es_batch *b = &g.es.batch[t];
        uint32_t n = atomic_load(&b->n), fresh = 0, old = 0;
        for (uint32_t i = 0; i < n && i < MAX_BATCH; i++) {
            if (st_match(b->old_state[i], b->new_state[i])) continue;
            fresh += st_match(seen[b->key[i]], b->new_state[i]);
            old += st_match(seen[b->key[i]], b->old_state[i]);
        }
        if (fresh > 0 && old > 0)
            verify_report(problems,
                          "a batch of %" PRIu32 " keys (first key %" PRIu32 ") survived "
                          "in part: %" PRIu32 " keys new, %" PRIu32 " old",
                          n, b->key[0], fresh, old);
    }
}

/* The prefix rule of a journal: some P in [first op - 1, last op] must explain every key
 * (its state after the writes numbered <= P); keys outside the journal must hold their
 * acknowledged state, or the pending one. */
static void verify_states(const uint32_t *seen, int *problems, char *note, size_t cap)
{
    const struct es_header *h = g.es.hdr;
    uint64_t len = atomic_load(&h->journal_len), last = atomic_load(&h->journal_ops);
    uint64_t first = len ? g.es.journal[0].op : last + 1, span = last - first + 2;
    uint32_t n = g.cfg.nkeys, journaled = 0;
    uint32_t *head = malloc((size_t)n * sizeof *head);
    uint32_t *next = malloc((size_t)(len + 1) * sizeof *next);
    int64_t *diff = calloc((size_t)span + 1, sizeof *diff);
    if (head == NULL || next == NULL || diff == NULL) {
        verify_report(problems, "out of memory for the journal of %" PRIu64 " entries", len);
        goto out;
    }
    memset(head, 0xff, (size_t)n * sizeof *head);
    for (uint64_t e = len; e-- > 0;) {
        uint32_t k = g.es.journal[e].key;
        next[e] = head[k];
        head[k] = (uint32_t)e;
    }
    /* P is counted from first - 1; the key that needs the latest start and the one that needs
     * the earliest end are named if no P fits */
    uint64_t need_lo = 0, need_hi = span - 1;
    uint32_t key_lo = 0, key_hi = 0;
    char a[48], b[48];
    for (uint32_t k = 0; k < n; k++) {
        uint64_t w = atomic_load(&g.es.word[k]);
        if (head[k] == UINT32_MAX) {
            if (!st_match(seen[k], w_cur(w)) && !(w_pend(w) && st_match(seen[k], w_pend(w))))
                verify_report(problems, "key %" PRIu32 " reads %s, expected %s%s%s", k,
                              st_text(seen[k], a, sizeof a), st_text(w_cur(w), b, sizeof b),
                              w_pend(w) ? " or the pending " : "",
                              w_pend(w) ? st_text(w_pend(w), a, sizeof a) : "");
            continue;
        }
        journaled++;
        uint64_t lo = UINT64_MAX, hi = 0;
        int fits = 0;
        uint32_t e = head[k];
        uint32_t state = g.es.journal[e].old_state;
        uint64_t from = 0;
        for (;;) {
            uint64_t to = e == UINT32_MAX ? span : g.es.journal[e].op - first + 1;
            if (st_match(seen[k], state) && from < to) {
                diff[from]++;
                diff[to]--;
                if (!fits) lo = from;
                hi = to - 1;
                fits = 1;
            }
            if (e == UINT32_MAX) break;
            state = g.es.journal[e].new_state;
            from = to;
            e = next[e];
        }
        if (!fits) {
            verify_report(problems,
                          "key %" PRIu32 " reads %s, which none of its journaled writes "
                          "(nor the state before them) stored",
                          k, st_text(seen[k], a, sizeof a));
            continue;
        }
        if (lo > need_lo) need_lo = lo, key_lo = k;
        if (hi < need_hi) need_hi = hi, key_hi = k;
    }
    if (journaled > 0 && *problems == 0) {
        int64_t run = 0;
        uint64_t fit_lo = UINT64_MAX, fit_hi = 0;
        for (uint64_t p = 0; p < span; p++) {
            run += diff[p];
            if (run != journaled) continue;
            if (fit_lo == UINT64_MAX) fit_lo = p;
            fit_hi = p;
        }
        if (fit_lo == UINT64_MAX)
            verify_report(problems,
                          "no prefix of the %" PRIu64 " unsynced writes explains the "
                          "database: key %" PRIu32 " needs at least the first %" PRIu64
                          ", key %" PRIu32 " at most the first %" PRIu64,
                          span - 1, key_lo, need_lo, key_hi, need_hi);
        else if (fit_lo == fit_hi)
            snprintf(note, cap, ", kept the first %" PRIu64 " of %" PRIu64 " unsynced writes",
                     fit_lo, span - 1);
        else
            snprintf(note, cap,
                     ", kept the first %" PRIu64 "..%" PRIu64 " of %" PRIu64 " unsynced writes",
                     fit_lo, fit_hi, span - 1);
    }
out:
    free(head);
    free(next);
    free(diff);
}

/* Full scans both ways and random scans, judged exactly by what the gets read. */
static int verify_scans(const uint32_t *seen, uint8_t *scratch, uint64_t seed)
{
    judge j = {.what = "verify scan", .base = 0, .len = g.cfg.nkeys, .exact = seen};
    rng r;
    rng_seed(&r, seed);
    for (int i = 0; i < 2 + 64; i++) {
        scan s;
        if (i < 2) {
            s = (scan){.forward = i == 0,
                       .to_end = 1,
                       .w0 = 0,
                       .w1 = g.cfg.nkeys,
                       .bound_hi = g.cfg.nkeys};
            j.what = i == 0 ? "verify forward scan" : "verify backward scan";
        } else {
            scan_pick(&r, &s);
            j.what = s.forward ? "verify bounded forward scan" : "verify bounded backward scan";
        }
        lamina_read_options ro;
        lamina_read_options_init(&ro);
        ro.verify_checksums = 1;
        if (scan_run(&s, &ro, &j, NULL, NULL, scratch)) return -1;
    }
    return 0;
}

/* Checks the whole database against the expected state: every key by get, scans both ways,
 * every table's checksums. On success the expected state takes what was read (pending marks
 * and the journal are settled); on failure nothing is changed, for the evidence. */
static int verify_all(void)
{
    uint32_t n = g.cfg.nkeys, present = 0;
    uint32_t *seen = calloc(n, sizeof *seen);
    uint8_t *buf = malloc(g.val_cap), *scratch = malloc(g.val_cap);
    int problems = 0;
    uint64_t entries = 0, t0 = now_ms();
    char note[128] = "";
    if (seen == NULL || buf == NULL || scratch == NULL) {
        fprintf(stderr, "stress: verify: out of memory\n");
        problems = 1;
        goto out;
    }
    lamina_read_options ro;
    lamina_read_options_init(&ro);
    ro.verify_checksums = 1;
    for (uint32_t k = 0; k < n; k++) {
        if (read_key(&ro, k, buf, scratch, "verify get", &seen[k])) {
            problems++;
            goto out;
        }
        present += st_present(seen[k]);
    }
    verify_states(seen, &problems, note, sizeof note);
    verify_batches(seen, &problems);
    if (problems == 0 && verify_scans(seen, scratch, g.cfg.seed)) problems++;
    int rc = problems ? LAMINA_OK : lamina_verify(g.db, &entries);
    if (rc != LAMINA_OK)
        verify_report(&problems, "lamina_verify: %s: %s", lamina_strerror(rc), lamina_errmsg(g.db));
    if (problems || atomic_load(&g.power_cut)) goto out;
    for (uint32_t k = 0; k < n; k++) {
        uint64_t w = atomic_load(&g.es.word[k]);
        uint32_t s = seen[k];
        if (!st_present(s))
            s = st_make(g.es.high[k] > st_id(w_cur(w)) ? g.es.high[k] : st_id(w_cur(w)), 0);
        atomic_store(&g.es.word[k], w_make(s, 0));
    }
    for (int t = 0; t < MAX_THREADS; t++)
        atomic_store(&g.es.batch[t].n, 0);
    atomic_store(&g.es.hdr->journal_len, 0);
    g.es.hdr->clean = 1;
    printf("stress: verify ok: %" PRIu32 " keys, %" PRIu32 " present, %" PRIu64
           " table entries%s, %" PRIu64 " ms\n",
           n, present, entries, note, now_ms() - t0);
out:
    if (problems > MAX_REPORTS && !atomic_load(&g.power_cut))
        fprintf(stderr, "stress: verify: ... %d problems in all\n", problems);
    if (problems && !atomic_load(&g.power_cut))
        fprintf(stderr, "stress: FAIL (seed %" PRIu64 "): verify of %s found %d problem(s)\n",
                g.cfg.seed, g.cfg.db_path, problems);
    free(seen);
    free(buf);
    free(scratch);
    return problems ? EXIT_FAIL : EXIT_PASS;
}

/* ---- Command line ------------------------------------------------------------------------- */

/* Flags with a behaviour of their own; every other flag sets a number of stress_cfg. */
enum { F_DB = 1, F_STATE, F_VERIFY, F_POWER, F_NO_SYNC, F_HELP, F_NUM };

static const struct flag {
    const char *name;
    int id, arg;
    size_t off, size; /* numeric flags: the field of stress_cfg and its range */
    uint64_t lo, hi;
    const char *help;
} flags[] = {
#define NUM(name, field, lo, hi, help)                                                             \
    {                                                                                              \
        name, F_NUM, 1, offsetof(stress_cfg, field), sizeof(((stress_cfg *)0)->field), lo, hi,     \
            help                                                                                   \
    }
    {"db", F_DB, 1, 0, 0, 0, 0, "DIR: the database directory (required)"},
    {"expected_state", F_STATE, 1, 0, 0, 0, 0, "PATH: the expected-state file (default DIR.state)"},
    {"verify_only", F_VERIFY, 0, 0, 0, 0, 0, "check the database against the expected state, exit"},
    {"power_loss_after_ms", F_POWER, 1, 0, 0, 0, 0,
     "MS|random: cut the power after MS ms (random: up to duration_ms, else 1000), exit 0"},
    {"fault_disable_sync", F_NO_SYNC, 0, 0, 0, 0, 0,
     "make fsync do nothing (proves the power-loss check fails)"},
    NUM("threads", threads, 1, MAX_THREADS, "N: threads (default 4)"),
    NUM("keys", nkeys, 1, 100000000, "N: keys (default: the state file's, else 10000)"),
    NUM("ops", ops, 0, UINT64_MAX, "N: operations per thread, 0 unlimited (default 0)"),
    NUM("duration_ms", duration_ms, 0, UINT64_MAX, "MS: run this long, 0 unlimited (default 0)"),
    NUM("seed", seed, 0, UINT64_MAX, "N: random seed (default from the clock; printed)"),
    NUM("sync", sync, 0, 1,
        "0|1: sync=1 writes (default 1; 0 with a power loss). With 0, one thread writes and "
        "the prefix rule is checked"),
    NUM("sync_every", sync_every, 0, UINT32_MAX,
        "K: with sync=0, every K-th write has sync=1, 0 never (default 16)"),
    NUM("value_size_max", value_size_max, 0, 1 << 20,
        "N: value bytes after the 8-byte header (default 256)"),
    NUM("max_batch", max_batch, 2, MAX_BATCH, "N: keys per write batch, 2..16 (default 8)"),
    NUM("journal_cap", journal_cap, 4 * MAX_BATCH, 1u << 30,
        "N: journal entries of a new state file (default 262144)"),
    NUM("flush_one_in", flush_one_in, 0, UINT64_MAX,
        "N: 1 op in N is a flush, 0 never (default 1000)"),
    NUM("compact_one_in", compact_one_in, 0, UINT64_MAX,
        "N: 1 op in N is a compact_range (default 4000)"),
    NUM("put_weight", weight[OP_PUT], 0, 1000000, "W: relative weight of puts (default 30)"),
    NUM("delete_weight", weight[OP_DELETE], 0, 1000000, "W: deletes (default 10)"),
    NUM("batch_weight", weight[OP_BATCH], 0, 1000000, "W: write batches (default 10)"),
    NUM("get_weight", weight[OP_GET], 0, 1000000, "W: gets (default 30)"),
    NUM("iter_weight", weight[OP_ITER], 0, 1000000, "W: iterator checks (default 14)"),
    NUM("snapshot_weight", weight[OP_SNAPSHOT], 0, 1000000, "W: snapshot checks (default 6)"),
    {"help", F_HELP, 0, 0, 0, 0, 0, "this help"},
#undef NUM
};
#define NFLAGS (sizeof flags / sizeof flags[0])

static void usage(FILE *f)
{
    fprintf(f, "Usage: stress --db=DIR [FLAG...] [--OPTION=VALUE...]\n\n"
               "Random operations on a database, checked against an expected-state file that\n"
               "survives the process; scripts/stress.sh kills and restarts it.\n\n"
               "Flags:\n");
    for (size_t i = 0; i < NFLAGS; i++)
        fprintf(f, "  --%-22s %s\n", flags[i].name, flags[i].help);
    fprintf(f, "\nEvery database option of the options table is accepted as --name=value:\n ");
    for (size_t i = 0, col = 1; i < lamina_options_count(); i++) {
        const char *name = lamina_options_describe(i)->name;
        if (col + strlen(name) + 1 > 90) {
            fprintf(f, "\n ");
            col = 1;
        }
        col += (size_t)fprintf(f, " %s", name);
    }
    fprintf(f, "\n(kvctl --help describes them.)\n\nExit: 0 passed, 1 a check or the database "
               "failed, 2 bad usage.\n");
}

/* Applies flag f with its argument; 0, or EXIT_USAGE (reported). */
static int parse_flag(const struct flag *f, const char *arg)
{
    stress_cfg *c = &g.cfg;
    char *end;
    switch (f->id) {
    case F_DB:
        c->db_path = arg;
        return 0;
    case F_STATE:
        c->state_path = arg;
        return 0;
    case F_VERIFY:
        c->verify_only = 1;
        return 0;
    case F_NO_SYNC:
        c->disable_sync = 1;
        return 0;
    case F_POWER:
        if (strcmp(arg, "random") == 0) {
            c->power_loss_ms = -2;
            return 0;
        }
        break;
    }
    errno = 0;
    unsigned long long v = strtoull(arg, &end, 10);
    uint64_t lo = f->id == F_POWER ? 1 : f->lo, hi = f->id == F_POWER ? UINT32_MAX : f->hi;
    if (arg[0] == '-' || arg[0] == '\0' || *end != '\0' || errno != 0 || v < lo || v > hi) {
        fprintf(stderr, "stress: --%s needs a number in %" PRIu64 "..%" PRIu64 ", not '%s'\n",
                f->name, lo, hi, arg);
        return EXIT_USAGE;
    }
    if (f->id == F_POWER) {
        c->power_loss_ms = (int64_t)v;
    } else if (f->size == sizeof(uint32_t)) {
        uint32_t x = (uint32_t)v;
        memcpy((char *)c + f->off, &x, sizeof x);
    } else {
        uint64_t x = v;
        memcpy((char *)c + f->off, &x, sizeof x);
    }
    return 0;
}

/* Parses argv into g.cfg; database options are kept in order for lamina_options_set. */
static int parse_args(int argc, char **argv)
{
    size_t nopt = lamina_options_count();
    struct option *lo = calloc(NFLAGS + nopt + 1, sizeof *lo);
    g.cfg.set_names = calloc(argc, sizeof(char *));
    g.cfg.set_values = calloc(argc, sizeof(char *));
    if (lo == NULL || g.cfg.set_names == NULL || g.cfg.set_values == NULL) return EXIT_USAGE;
    for (size_t i = 0; i < NFLAGS; i++)
        lo[i] = (struct option){flags[i].name, flags[i].arg ? required_argument : no_argument, NULL,
                                (int)i};
    for (size_t i = 0; i < nopt; i++) {
        const lamina_option_desc *d = lamina_options_describe(i);
        lo[NFLAGS + i] = (struct option){
            d->name, d->kind == LAMINA_OPT_BOOL ? optional_argument : required_argument, NULL,
            OPT_TABLE_BASE + (int)i};
    }
    int ch, rc = 0, idx;
    while (rc == 0 && (ch = getopt_long(argc, argv, "h", lo, &idx)) != -1) {
        if (ch == 'h' || (ch >= 0 && (size_t)ch < NFLAGS && flags[ch].id == F_HELP)) {
            usage(stdout);
            rc = -1;
        } else if (ch == '?' || ch == ':') {
            fprintf(stderr, "Try 'stress --help'.\n");
            rc = EXIT_USAGE;
        } else if (ch >= OPT_TABLE_BASE) {
            g.cfg.set_names[g.cfg.n_set] = lo[idx].name;
            g.cfg.set_values[g.cfg.n_set++] = optarg ? optarg : "1";
        } else {
            rc = parse_flag(&flags[ch], optarg);
        }
    }
    if (rc == 0 && optind < argc) {
        fprintf(stderr, "stress: unexpected argument '%s'\nTry 'stress --help'.\n", argv[optind]);
        rc = EXIT_USAGE;
    }
    if (rc == 0 && g.cfg.db_path == NULL) {
        fprintf(stderr, "stress: --db=DIR is required\nTry 'stress --help'.\n");
        rc = EXIT_USAGE;
    }
    free(lo);
    return rc;
}

static void cfg_defaults(stress_cfg *c)
{
    static const uint64_t weights[OP_SNAPSHOT + 1] = {30, 10, 10, 30, 14, 6};
    memset(c, 0, sizeof *c);
    c->threads = 4;
    c->max_batch = 8;
    c->sync = -1;
    c->sync_every = 16;
    c->power_loss_ms = -1;
    c->value_size_max = 256;
    c->journal_cap = 1u << 18;
    c->flush_one_in = 1000;
    c->compact_one_in = 4000;
    memcpy(c->weight, weights, sizeof weights);
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    c->seed = (uint64_t)ts.tv_sec * 1000003u ^ (uint64_t)ts.tv_nsec ^ (uint64_t)getpid() << 32;
}

/* ---- Main --------------------------------------------------------------------------------- */

/* The database options: create_if_missing, then the --name=value flags in order. */
static int opts_build(lamina_options *opts)
{
    lamina_options_init(opts);
    opts->create_if_missing = 1;
    for (size_t i = 0; i < g.cfg.n_set; i++) {
        if (lamina_options_set(opts, g.cfg.set_names[i], g.cfg.set_values[i]) != LAMINA_OK) {
            fprintf(stderr, "stress: %s\n", lamina_errmsg(NULL));
            return EXIT_USAGE;
        }
    }
    return 0;
}

/* ---- Power cut ---------------------------------------------------------------------------- */

/* The watcher thread cuts the power at g.cut_at (ms), whatever the process is doing then:
 * opening and recovering, verifying, running the threads or closing. */
static void *power_cut_main(void *arg)
{
    (void)arg;
    while (!atomic_load(&g.stop) && !atomic_load(&g.finished) && now_ms() < g.cut_at) {
        struct timespec ts = {0, 1000000};
        nanosleep(&ts, NULL);
    }
    pthread_mutex_lock(&g.cut_mu);
    int go = !atomic_load(&g.stop) && !atomic_load(&g.finished);
    if (go) {
        atomic_store(&g.power_cut, 1);
        atomic_store(&g.stop, 1);
    }
    pthread_mutex_unlock(&g.cut_mu);
    if (!go) return NULL;
    int rc = fault_power_loss();
    if (rc != LAMINA_OK) {
        fprintf(stderr, "stress: fault_power_loss: %s: %s\n", lamina_strerror(rc),
                lamina_errmsg(NULL));
        fflush(NULL);
        _exit(EXIT_USAGE);
    }
    atomic_store(&g.cut_done, now_ms());
    return NULL;
}

/* No power cut from here on; returns 1 if one came first. */
static int power_cut_disarm(void)
{
    pthread_mutex_lock(&g.cut_mu);
    atomic_store(&g.finished, 1);
    int cut = atomic_load(&g.power_cut);
    pthread_mutex_unlock(&g.cut_mu);
    if (g.watching) pthread_join(g.watcher, NULL);
    g.watching = 0;
    return cut;
}

/* After a power cut: waits for the threads that are still in an engine call (every call should
 * fail fast on the frozen file layer; one still there 10 s later is reported as a hang), then
 * leaves as a machine would: no close, nothing more reaches the files. */
static void power_cut_finish(stress_thread *ts, uint32_t n)
{
    while (atomic_load(&g.cut_done) == 0 || atomic_load(&g.running) > 0) {
        uint64_t done = atomic_load(&g.cut_done);
        if (done != 0 && now_ms() > done + 10000) {
            fprintf(stderr,
                    "stress: FAIL (seed %" PRIu64 "): %d thread(s) still in an engine "
                    "call 10 s after the power cut\n",
                    g.cfg.seed, atomic_load(&g.running));
            fflush(NULL);
            _exit(EXIT_FAIL);
        }
        struct timespec ts = {0, 1000000};
        nanosleep(&ts, NULL);
    }
    uint64_t ops = 0;
    for (uint32_t i = 0; i < n; i++) {
        pthread_join(ts[i].th, NULL);
        ops += ts[i].ops;
    }
    if (g.watching) pthread_join(g.watcher, NULL);
    printf("stress: power cut after %" PRIu64 " ops (seed %" PRIu64 ", %" PRIu64
           " unsynced journal entries)\n",
           ops, g.cfg.seed, atomic_load(&g.es.hdr->journal_len));
    fflush(NULL);
    _exit(EXIT_PASS);
}

static int stress_run(void)
{
    stress_thread *ts = calloc(g.cfg.threads, sizeof *ts);
    uint64_t t0 = now_ms();
    if (ts == NULL) return EXIT_USAGE;
    g.es.hdr->clean = 0;
    atomic_store(&g.running, (int)g.cfg.threads);
    for (uint32_t i = 0; i < g.cfg.threads; i++) {
        stress_thread *t = &ts[i];
        t->id = (int)i;
        t->writer = !g.journal || i == 0;
        rng_seed(&t->r, g.cfg.seed ^ hash_mix64(i + 1));
        t->val = malloc(g.val_cap);
        t->scratch = malloc(g.val_cap);
        if (t->val == NULL || t->scratch == NULL || lamina_batch_create(&t->batch) != LAMINA_OK ||
            pthread_create(&t->th, NULL, stress_thread_main, t) != 0) {
            fprintf(stderr, "stress: cannot start thread %" PRIu32 "\n", i);
            fflush(NULL);
            _exit(EXIT_USAGE);
        }
    }
    /* joined only once they are done, so that a hang after a power cut can be reported */
    while (atomic_load(&g.running) > 0 && !atomic_load(&g.power_cut)) {
        struct timespec nap = {0, 1000000};
        nanosleep(&nap, NULL);
    }
    if (atomic_load(&g.power_cut)) power_cut_finish(ts, g.cfg.threads);
    uint64_t count[OP_COUNT] = {0}, total = 0;
    for (uint32_t i = 0; i < g.cfg.threads; i++) {
        pthread_join(ts[i].th, NULL);
        total += ts[i].ops;
        for (int op = 0; op < OP_COUNT; op++)
            count[op] += ts[i].count[op];
        lamina_batch_destroy(ts[i].batch);
        free(ts[i].val);
        free(ts[i].scratch);
    }
    free(ts);
    if (atomic_load(&g.failed)) {
        /* the database stays as the failure left it, for inspection */
        fflush(NULL);
        _exit(EXIT_FAIL);
    }
    printf("stress: %" PRIu64 " ops in %" PRIu64 " ms (seed %" PRIu64 "):", total, now_ms() - t0,
           g.cfg.seed);
    for (int op = 0; op < OP_COUNT; op++)
        printf(" %s %" PRIu64, op_names[op], count[op]);
    printf("\n");
    return EXIT_PASS;
}

int main(int argc, char **argv)
{
    cfg_defaults(&g.cfg);
    int rc = parse_args(argc, argv);
    if (rc != 0) return rc < 0 ? EXIT_PASS : rc;
    stress_cfg *c = &g.cfg;
    char state_path[4096];
    if (c->state_path == NULL) {
        size_t n = strlen(c->db_path);
        while (n > 1 && c->db_path[n - 1] == '/')
            n--;
        snprintf(state_path, sizeof state_path, "%.*s.state", (int)n, c->db_path);
        c->state_path = state_path;
    }
    if (c->verify_only) c->power_loss_ms = -1;
    if (c->sync < 0) c->sync = c->power_loss_ms == -1;
    g.journal = c->sync == 0;
    g.val_cap = VALUE_HEADER + (size_t)c->value_size_max * LARGE_VALUE_FACTOR + 1;
    for (int i = 0; i < NSTRIPES; i++)
        pthread_mutex_init(&g.stripe[i], NULL);
    pthread_mutex_init(&g.cut_mu, NULL);
    lamina_options opts;
    rc = opts_build(&opts);
    if (rc == 0) rc = es_open(c->state_path, &c->nkeys, c->journal_cap, !c->verify_only, &g.es);
    if (rc != 0) return rc;
    fault_from_env();
    fprintf(stderr, "stress: seed %" PRIu64 ", %" PRIu32 " keys, db %s\n", c->seed, c->nkeys,
            c->db_path);
    if (c->power_loss_ms != -1) {
        /* tracked from before the open, so that a cut can fall in recovery too */
        int64_t pl = c->power_loss_ms;
        if (pl == -2) {
            rng r;
            rng_seed(&r, c->seed ^ 0x706f776572ull);
            pl = 1 + (int64_t)rng_uniform(&r, c->duration_ms ? c->duration_ms : 1000);
        }
        fault_seed(c->seed);
        fault_track(1);
        if (c->disable_sync) fault_disable_sync(1);
        g.cut_at = now_ms() + (uint64_t)pl;
        if (pthread_create(&g.watcher, NULL, power_cut_main, NULL) != 0) {
            fprintf(stderr, "stress: cannot start the power-cut thread\n");
            return EXIT_USAGE;
        }
        g.watching = 1;
    }
    rc = lamina_open(c->db_path, &opts, &g.db);
    if (atomic_load(&g.power_cut)) power_cut_finish(NULL, 0);
    if (rc != LAMINA_OK) {
        fprintf(stderr, "stress: FAIL (seed %" PRIu64 "): open %s: %s: %s\n", c->seed, c->db_path,
                lamina_strerror(rc), lamina_errmsg(NULL));
        fflush(NULL);
        _exit(EXIT_FAIL);
    }
    if (c->verify_only || !g.es.hdr->clean) rc = verify_all();
    if (atomic_load(&g.power_cut)) power_cut_finish(NULL, 0);
    if (rc == 0 && !c->verify_only) rc = stress_run();
    if (rc != 0) {
        fflush(NULL);
        _exit(rc);
    }
    int crc = lamina_close(g.db);
    if (power_cut_disarm()) power_cut_finish(NULL, 0);
    if (crc != LAMINA_OK) {
        fprintf(stderr, "stress: FAIL (seed %" PRIu64 "): close: %s: %s\n", c->seed,
                lamina_strerror(crc), lamina_errmsg(NULL));
        return EXIT_FAIL;
    }
    /* after a clean close nothing is in flight, and no power cut will follow in this process */
    atomic_store(&g.es.hdr->journal_len, 0);
    g.es.hdr->clean = 1;
    msync(g.es.map, g.es.map_len, MS_SYNC);
    munmap(g.es.map, g.es.map_len);
    free(g.cfg.set_names);
    free(g.cfg.set_values);
    return EXIT_PASS;
}
