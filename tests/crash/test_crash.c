/* test_crash.c — crash consistency through the public API: a child process writes with sync=1
 * and reports each acknowledged write over a pipe; the parent SIGKILLs it at a random moment,
 * reopens the database and checks that every acknowledged write survived and that the write in
 * flight is all there or not at all (batches carry a range deletion of a stray key they put). Also
 * the LOCK and missing-database errors of lamina_open. */
#include <criterion/criterion.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "lamina.h"
#include "test_options.h"
#include "tdir.h"

#define ROUNDS 24
#define MAX_BATCH 12
#define MAX_VALUE 2000
/* Keys one child writes at most, so that a fast disk does not grow the database unboundedly. */
#define ROUND_KEY_CAP 40000

/* ---- Keys and values as functions of the counter ---------------------------------------- */

static size_t key_of(uint64_t c, char *dst)
{
    return (size_t)sprintf(dst, "c%012llu", (unsigned long long)c);
}

static uint64_t mix(uint64_t x)
{
    x ^= x >> 33;
    x *= 0xff51afd7ed558ccdull;
    x ^= x >> 33;
    x *= 0xc4ceb9fe1a85ec53ull;
    return x ^ (x >> 33);
}

static size_t value_of(uint64_t c, uint8_t *dst)
{
    size_t len = 50 + (size_t)(mix(c) % (MAX_VALUE - 50));
    uint64_t x = mix(c + 1);
    for (size_t i = 0; i < len; i++) {
        x = mix(x + i);
        dst[i] = (uint8_t)x;
    }
    return len;
}

/* ---- Helpers ------------------------------------------------------------------------------ */

static char tmpdir[64];

static void setup_dir(void)
{
    tdir_make(tmpdir, sizeof(tmpdir), "crash");
}

static pid_t child_pid; /* the live writer, killed by the teardown if an assertion failed */

static void teardown_dir(void)
{
    if (child_pid > 0) {
        kill(child_pid, SIGKILL);
        waitpid(child_pid, NULL, 0);
        child_pid = 0;
    }
    tdir_remove(tmpdir);
}

/* Small buffers so that flushes and compactions run between kills. The policy changes with the
 * round (options may differ between opens of one database), so kills land in leveled, tiered
 * and lazy-leveled merges. */
static void crash_options(lamina_options *o, int create, int round)
{
    lamina_options_init(o);
    test_options_apply(o);
    o->compaction_policy = round % 3 == 0   ? LAMINA_COMPACTION_LEVELED
                           : round % 3 == 1 ? LAMINA_COMPACTION_TIERED
                                            : LAMINA_COMPACTION_DOSTOEVSKY;
    o->create_if_missing = create;
    o->write_buffer_size = 64 << 10;
    o->target_file_size_base = 16 << 10;
    o->level0_file_num_compaction_trigger = 2;
    o->size_ratio = 4;
    o->max_background_jobs = 3;
    o->max_open_files = 20;
}

static int64_t now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* ---- The child: writes until killed ------------------------------------------------------ */

/* One message on the pipe: the database is open (kind REPORT_OPEN), or a write of keys
 * [start, end) is about to be made (REPORT_BEGIN) or was acknowledged (REPORT_ACK). 24 bytes,
 * below PIPE_BUF, so each write(2) is atomic. */
enum { REPORT_BEGIN = 0, REPORT_ACK = 1, REPORT_OPEN = 2 };
struct report {
    uint64_t start, end, kind;
};

static void child_report(int fd, uint64_t start, uint64_t end, uint64_t kind)
{
    struct report r = {start, end, kind};
    if (write(fd, &r, sizeof(r)) != (ssize_t)sizeof(r)) _exit(5);
}

static void child_run(const char *path, uint64_t start, int fd, uint64_t seed, int round)
{
    lamina_options o;
    crash_options(&o, 0, round);
    lamina_db *db = NULL;
    int rc = lamina_open(path, &o, &db);
    if (rc) {
        fprintf(stderr, "child: lamina_open: %s [%s]\n", lamina_strerror(rc), lamina_errmsg(NULL));
        _exit(3);
    }
    child_report(fd, start, start, REPORT_OPEN);
    lamina_write_options wo;
    lamina_write_options_init(&wo);
    wo.sync = 1;
    lamina_batch *b = NULL;
    if (lamina_batch_create(&b)) _exit(3);

    char key[32];
    static uint8_t val[MAX_VALUE];
    uint64_t c = start, x = seed;
    while (c - start < ROUND_KEY_CAP) {
        x = mix(x + 1);
        uint64_t n = (x % 3 == 0) ? 2 + (x >> 8) % (MAX_BATCH - 1) : 1;
        child_report(fd, c, c + n, REPORT_BEGIN);
        if (n == 1) {
            size_t kl = key_of(c, key), vl = value_of(c, val);
            rc = lamina_put(db, &wo, key, kl, val, vl);
        } else {
            lamina_batch_clear(b);
            for (uint64_t i = c; i < c + n && !rc; i++) {
                size_t kl = key_of(i, key), vl = value_of(i, val);
                rc = lamina_batch_put(b, key, kl, val, vl);
            }
            /* A stray key and the range deletion that removes it, in the same batch: if the
             * batch came back only in part, the scan after the kill would meet the stray. */
            char lo[40], hi[40];
            size_t ll = key_of(c, lo), hl = key_of(c, hi);
            lo[ll++] = 'x';
            hi[hl++] = 'y';
            if (!rc) rc = lamina_batch_put(b, lo, ll, val, 10);
            if (!rc) rc = lamina_batch_delete_range(b, lo, ll, hi, hl);
            if (!rc) rc = lamina_write(db, &wo, b);
        }
        if (rc) {
            fprintf(stderr, "child: write at %llu: %s [%s]\n", (unsigned long long)c,
                    lamina_strerror(rc), lamina_errmsg(NULL));
            _exit(4);
        }
        child_report(fd, c, c + n, REPORT_ACK);
        c += n;
    }
    for (;;)
        pause();
}

/* ---- The parent: kill, reopen, verify ---------------------------------------------------- */

struct round_result {
    uint64_t acked_end;                /* every key below it was acknowledged */
    uint64_t flight_start, flight_end; /* the write in flight at the kill, if any */
    int in_flight;
    int saw_ack;
    int64_t opened_ms; /* when the child reported its database open (0: not yet) */
    int eof;           /* the child closed the pipe: it died */
};

static void take_report(struct round_result *res, const struct report *r)
{
    if (r->kind == REPORT_OPEN) {
        res->opened_ms = now_ms();
    } else if (r->kind == REPORT_ACK) {
        cr_assert_eq(r->start, res->acked_end, "acks come in counter order");
        res->acked_end = r->end;
        res->in_flight = 0;
        res->saw_ack = 1;
    } else {
        res->flight_start = r->start;
        res->flight_end = r->end;
        res->in_flight = 1;
    }
}

/* Reads whole reports from fd until the deadline (ms, monotonic) or EOF (deadline < 0). */
static void read_reports(int fd, struct round_result *res, int64_t deadline)
{
    static uint8_t pending[sizeof(struct report)];
    static size_t have;
    for (;;) {
        int timeout = -1;
        if (deadline >= 0) {
            int64_t left = deadline - now_ms();
            if (left <= 0) return;
            timeout = (int)left;
        }
        struct pollfd p = {.fd = fd, .events = POLLIN};
        int pr = poll(&p, 1, timeout);
        if (pr < 0 && errno == EINTR) continue;
        cr_assert_geq(pr, 0, "poll: %s", strerror(errno));
        if (pr == 0) return;
        ssize_t n = read(fd, pending + have, sizeof(pending) - have);
        if (n < 0 && errno == EINTR) continue;
        cr_assert_geq(n, 0, "read: %s", strerror(errno));
        if (n == 0) {
            res->eof = 1;
            cr_assert_eq(have, 0, "a report cut in half");
            return;
        }
        have += (size_t)n;
        if (have == sizeof(pending)) {
            struct report r;
            memcpy(&r, pending, sizeof(r));
            take_report(res, &r);
            have = 0;
        }
    }
}

/* Opens the database and checks that it holds exactly keys [0, N) with their values, where N
 * is the acknowledged end or, if the write in flight survived, its end. Returns N. */
static uint64_t verify(const char *path, const struct round_result *res, int round)
{
    lamina_options o;
    crash_options(&o, 0, round);
    lamina_db *db = NULL;
    int rc = lamina_open(path, &o, &db);
    cr_assert_eq(rc, LAMINA_OK, "round %d: reopen after the kill: %s [%s]", round,
                 lamina_strerror(rc), lamina_errmsg(NULL));

    lamina_iter *it = NULL;
    rc = lamina_iter_create(db, NULL, &it);
    cr_assert_eq(rc, LAMINA_OK, "round %d: iter_create: %s", round, lamina_strerror(rc));
    char key[32];
    static uint8_t val[MAX_VALUE];
    uint64_t c = 0;
    for (rc = lamina_iter_seek_to_first(it); rc == LAMINA_OK && lamina_iter_valid(it);
         rc = lamina_iter_next(it), c++) {
        size_t kl, vl;
        const void *k = lamina_iter_key(it, &kl);
        const void *v = lamina_iter_value(it, &vl);
        size_t want_kl = key_of(c, key), want_vl = value_of(c, val);
        if (kl != want_kl || memcmp(k, key, kl))
            cr_assert_fail("round %d: entry %llu is not key %s: a hole or a stray key", round,
                           (unsigned long long)c, key);
        if (vl != want_vl || memcmp(v, val, vl))
            cr_assert_fail("round %d: key %s has a wrong value (%zu bytes, want %zu)", round, key,
                           vl, want_vl);
    }
    cr_assert_eq(rc, LAMINA_OK, "round %d: scan: %s: %s", round, lamina_strerror(rc), lamina_errmsg(NULL));
    cr_assert_eq(lamina_iter_status(it), LAMINA_OK);
    lamina_iter_destroy(it);

    cr_assert_geq(c, res->acked_end, "round %d: acknowledged writes lost: %llu keys, %llu acked",
                  round, (unsigned long long)c, (unsigned long long)res->acked_end);
    if (c != res->acked_end) {
        cr_assert(res->in_flight && res->flight_start == res->acked_end && c == res->flight_end,
                  "round %d: %llu keys after %llu acked: the write in flight must be all there "
                  "or absent (in flight: %d, [%llu, %llu))",
                  round, (unsigned long long)c, (unsigned long long)res->acked_end, res->in_flight,
                  (unsigned long long)res->flight_start, (unsigned long long)res->flight_end);
    }

    /* Point reads agree with the scan, at both ends. */
    if (c > 0) {
        uint64_t probes[2] = {0, c - 1};
        for (int i = 0; i < 2; i++) {
            void *v = NULL;
            size_t vl = 0, kl = key_of(probes[i], key), want_vl = value_of(probes[i], val);
            rc = lamina_get(db, NULL, key, kl, &v, &vl);
            cr_assert_eq(rc, LAMINA_OK, "round %d: get %s: %s", round, key, lamina_strerror(rc));
            cr_assert(vl == want_vl && !memcmp(v, val, vl), "round %d: get %s value", round, key);
            lamina_free(v);
        }
    }
    size_t kl = key_of(c, key);
    void *v = NULL;
    size_t vl;
    rc = lamina_get(db, NULL, key, kl, &v, &vl);
    cr_assert_eq(rc, LAMINA_NOTFOUND, "round %d: key %s past the end: %s", round, key,
                 lamina_strerror(rc));

    /* Now and then the parent compacts everything itself, so that later kills land on a
     * compacted tree too. */
    if (round % 6 == 5) {
        rc = lamina_compact_range(db, NULL, 0, NULL, 0);
        cr_assert_eq(rc, LAMINA_OK, "round %d: compact_range: %s", round, lamina_strerror(rc));
    }
    rc = lamina_close(db);
    cr_assert_eq(rc, LAMINA_OK, "round %d: close: %s", round, lamina_strerror(rc));
    return c;
}

TestSuite(crash, .init = setup_dir, .fini = teardown_dir);

Test(crash, acknowledged_writes_survive_sigkill, .timeout = 600)
{
    char path[128];
    snprintf(path, sizeof(path), "%s/db", tmpdir);
    lamina_options o;
    crash_options(&o, 1, 0);
    lamina_db *db = NULL;
    int rc = lamina_open(path, &o, &db);
    cr_assert_eq(rc, LAMINA_OK, "create: %s [%s]", lamina_strerror(rc), lamina_errmsg(NULL));
    cr_assert_eq(lamina_close(db), LAMINA_OK);

    uint64_t seed = 0x5eed;
    uint64_t next = 0;
    int busy_checks = 0;
    for (int round = 0; round < ROUNDS; round++) {
        seed = mix(seed + (uint64_t)round);
        int fds[2];
        cr_assert_eq(pipe(fds), 0);
        fflush(NULL);
        pid_t pid = fork();
        cr_assert_geq(pid, 0, "fork: %s", strerror(errno));
        if (pid == 0) {
            close(fds[0]);
            child_run(path, next, fds[1], seed, round);
            _exit(0);
        }
        close(fds[1]);
        child_pid = pid;

        struct round_result res = {.acked_end = next};
        int64_t delay = 5 + (int64_t)(mix(seed) % 196);
        if (round % 2 == 0) {
            /* The clock starts at the fork: the kill may land in the child's recovery. */
            read_reports(fds[0], &res, now_ms() + delay);
        } else {
            /* The clock starts once the child's database is open, so that writes and the
             * flushes and compactions they cause run for the whole delay on a loaded box. */
            int64_t give_up = now_ms() + 60000;
            while (!res.opened_ms && !res.eof && now_ms() < give_up)
                read_reports(fds[0], &res, now_ms() + 20);
            cr_assert(res.opened_ms || res.eof,
                      "round %d: the child did not open the database in 60 s", round);
            read_reports(fds[0], &res, res.opened_ms + delay);
        }
        if (res.saw_ack) {
            /* The child holds the LOCK: a second handle is refused. */
            lamina_db *other = NULL;
            crash_options(&o, 0, round);
            rc = lamina_open(path, &o, &other);
            if (rc == LAMINA_OK) lamina_close(other);
            cr_assert_eq(rc, LAMINA_EBUSY, "round %d: open while the child holds the LOCK: %s",
                         round, lamina_strerror(rc));
            busy_checks++;
        }
        kill(pid, SIGKILL);
        int status = 0;
        cr_assert_eq(waitpid(pid, &status, 0), pid);
        child_pid = 0;
        read_reports(fds[0], &res, -1);
        close(fds[0]);
        if (!WIFSIGNALED(status))
            cr_assert_fail("round %d: the child exited by itself with status %d (see stderr)",
                           round, WIFEXITED(status) ? WEXITSTATUS(status) : -1);

        uint64_t got = verify(path, &res, round);
        cr_log_info("round %d: killed after %lld ms, %llu keys acked, %llu present", round,
                    (long long)delay, (unsigned long long)res.acked_end, (unsigned long long)got);
        next = got;
    }
    cr_expect_gt(busy_checks, 0, "some round saw an acknowledged write before the kill");
    cr_expect_gt(next, 0, "the children wrote something");

    crash_options(&o, 0, ROUNDS);
    rc = lamina_open(path, &o, &db);
    cr_assert_eq(rc, LAMINA_OK);
    uint64_t levels = 0;
    if (lamina_property_int(db, "lamina.num-levels", &levels) == LAMINA_OK)
        cr_log_info("%llu keys in the end; %llu levels hold data", (unsigned long long)next,
                    (unsigned long long)levels);
    cr_assert_eq(lamina_close(db), LAMINA_OK);
}

Test(crash, open_of_a_missing_database_is_enoent)
{
    char path[128];
    snprintf(path, sizeof(path), "%s/missing", tmpdir);
    lamina_options o;
    lamina_options_init(&o);
    lamina_db *db = NULL;
    cr_expect_eq(lamina_open(path, &o, &db), LAMINA_ENOENT);
    cr_expect_null(db);
    struct stat st;
    cr_expect_neq(stat(path, &st), 0, "a failed open creates nothing");

    cr_expect_eq(lamina_open(path, NULL, &db), LAMINA_ENOENT, "NULL options: the defaults");

    /* An existing but empty directory holds no database either. */
    cr_assert_eq(mkdir(path, 0755), 0);
    cr_expect_eq(lamina_open(path, &o, &db), LAMINA_ENOENT);
    cr_expect_null(db);
}

Test(crash, second_open_is_ebusy_until_close)
{
    char path[128];
    snprintf(path, sizeof(path), "%s/db", tmpdir);
    lamina_options o;
    crash_options(&o, 1, 0);
    lamina_db *db = NULL, *other = NULL;
    cr_assert_eq(lamina_open(path, &o, &db), LAMINA_OK);
    cr_expect_eq(lamina_open(path, &o, &other), LAMINA_EBUSY);
    cr_expect_null(other);
    cr_assert_eq(lamina_put(db, NULL, "k", 1, "v", 1), LAMINA_OK);
    cr_assert_eq(lamina_close(db), LAMINA_OK);

    /* Closing released the LOCK, and the write is there. */
    cr_assert_eq(lamina_open(path, &o, &other), LAMINA_OK);
    void *v = NULL;
    size_t vl = 0;
    cr_expect_eq(lamina_get(other, NULL, "k", 1, &v, &vl), LAMINA_OK);
    cr_expect(vl == 1 && v && !memcmp(v, "v", 1));
    lamina_free(v);
    cr_assert_eq(lamina_close(other), LAMINA_OK);
}
