/* test_picker.c — the compaction picker on hand-built views: which tables a job takes (one
 * leveled table and its overlap, level-0 runs, whole tiered runs), the round-robin cursor,
 * busy tables, trivial moves and the order of due levels (Fluid LSM, Dostoevsky SIGMOD 2018;
 * LevelDB's PickCompaction). Keys are user keys, plain byte strings. */
#include <criterion/criterion.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include "compaction/compaction.h"
#include "lamina.h"

/* ---- Building views --------------------------------------------------------------------- */

/* One table as tests write it: keys are string literals (embedded NULs allowed). */
struct tspec {
    uint64_t number;
    const char *lo, *hi;
    size_t lo_len, hi_len;
    uint64_t size;
};
#define TB(num, lo, hi, size)                                                                      \
    {                                                                                              \
        (num), (lo), (hi), sizeof(lo) - 1, sizeof(hi) - 1, (size)                                  \
    }
#define N(a) (sizeof(a) / sizeof((a)[0]))

#define MAX_RUNS 8
#define MAX_TABLES 16

struct view_builder {
    struct lsm_view v;
    struct lsm_run runs[COMPACTION_MAX_LEVELS][MAX_RUNS];
    struct lsm_table tables[COMPACTION_MAX_LEVELS][MAX_RUNS][MAX_TABLES];
};

static struct view_builder vb;

static void view_init(int num_levels)
{
    memset(&vb, 0, sizeof(vb));
    vb.v.shape.num_levels = num_levels;
    for (int l = 0; l < COMPACTION_MAX_LEVELS; l++)
        vb.v.runs[l] = vb.runs[l];
}

/* Appends a run to level (callers add a level's runs newest first). */
#define ADD_RUN(level, ...)                                                                        \
    do {                                                                                           \
        const struct tspec ts_[] = {__VA_ARGS__};                                                  \
        view_add_run((level), ts_, N(ts_));                                                        \
    } while (0)

static void view_add_run(int level, const struct tspec *ts, size_t n)
{
    size_t r = vb.v.nruns[level];
    cr_assert_lt(r, MAX_RUNS);
    cr_assert_leq(n, MAX_TABLES);
    struct lsm_run *run = &vb.runs[level][r];
    run->id = (uint64_t)level * 100 + r;
    run->tables = vb.tables[level][r];
    run->ntables = n;
    for (size_t i = 0; i < n; i++) {
        run->tables[i] = (struct lsm_table){
            .number = ts[i].number,
            .size = ts[i].size,
            .smallest = (const uint8_t *)ts[i].lo,
            .smallest_len = ts[i].lo_len,
            .largest = (const uint8_t *)ts[i].hi,
            .largest_len = ts[i].hi_len,
        };
        run->bytes += ts[i].size;
    }
    vb.v.nruns[level]++;
    vb.v.shape.runs[level]++;
    vb.v.shape.bytes[level] += run->bytes;
}

static struct lsm_table *table_of(uint64_t number)
{
    for (int l = 0; l < COMPACTION_MAX_LEVELS; l++)
        for (size_t r = 0; r < vb.v.nruns[l]; r++)
            for (size_t i = 0; i < vb.runs[l][r].ntables; i++)
                if (vb.runs[l][r].tables[i].number == number) return &vb.runs[l][r].tables[i];
    cr_assert_fail("no table %llu in the view", (unsigned long long)number);
    return NULL;
}

static void set_busy(uint64_t number)
{
    table_of(number)->busy = 1;
}

/* The job's tables as "level.run:numbers" per input, e.g. "1.0:11 2.0:22,23". */
static const char *job_tables(const struct compaction_job *job)
{
    static char s[512];
    size_t n = 0;
    s[0] = '\0';
    for (size_t i = 0; i < job->ninputs; i++) {
        const struct compaction_input *in = &job->inputs[i];
        cr_assert_lt(in->run, vb.v.nruns[in->level], "input %zu names a run that exists", i);
        const struct lsm_run *r = &vb.runs[in->level][in->run];
        cr_assert_leq(in->first + in->count, r->ntables, "input %zu within its run", i);
        cr_assert_gt(in->count, 0, "input %zu is not empty", i);
        n += (size_t)snprintf(s + n, sizeof(s) - n, "%s%d.%zu:", i ? " " : "", in->level, in->run);
        for (size_t t = in->first; t < in->first + in->count; t++)
            n += (size_t)snprintf(s + n, sizeof(s) - n, "%s%llu", t > in->first ? "," : "",
                                  (unsigned long long)r->tables[t].number);
    }
    return s;
}

static int key_is(const uint8_t *k, size_t len, const char *want, size_t want_len)
{
    return k && len == want_len && !memcmp(k, want, len);
}
#define EXPECT_RANGE(job, lo, hi)                                                                  \
    do {                                                                                           \
        cr_expect(key_is((job)->smallest, (job)->smallest_len, lo, sizeof(lo) - 1),                \
                  "job range starts at %s", lo);                                                   \
        cr_expect(key_is((job)->largest, (job)->largest_len, hi, sizeof(hi) - 1),                  \
                  "job range ends at %s", hi);                                                     \
    } while (0)

#define TARGET 100

static struct table_options topts = {.block_size = 4096, .restart_interval = 16};
static struct compaction_cursors cur;

static void reset_cursors(void)
{
    compaction_cursors_free(&cur);
}

TestSuite(picker, .fini = reset_cursors);

/* T = 10, level-0 trigger l0, level 1 holds 1000 bytes, 4 levels: with TARGET 100, a trivial
 * move may overlap (T - 1) * 100 = 900 grandparent bytes. */
static struct policy leveled(int l0)
{
    struct policy p;
    policy_init(&p, LAMINA_COMPACTION_LEVELED, 10, 0, 0, l0, 1000, 4);
    return p;
}

static int pick(const struct policy *p, struct compaction_job *job)
{
    return compaction_pick_job(p, &vb.v, &cur, &topts, TARGET, job);
}

/* Level 1 over capacity (1500 of 1000 bytes): five tables of 300 bytes. */
static void level1_of_five(void)
{
    ADD_RUN(1, TB(11, "c", "e", 300), TB(12, "g", "i", 300), TB(13, "k", "m", 300),
            TB(14, "o", "q", 300), TB(15, "s", "u", 300));
}

/* ---- Leveled ---------------------------------------------------------------------------- */

Test(picker, leveled_job_takes_one_table_and_its_overlap)
{
    struct policy p = leveled(4);
    view_init(4);
    level1_of_five();
    ADD_RUN(2, TB(21, "a", "b", 1000), TB(22, "ba", "cc", 1000), TB(23, "d", "ea", 1000),
            TB(24, "eb", "f", 1000));
    struct compaction_job job;
    cr_assert_eq(pick(&p, &job), 1);
    cr_expect_eq(job.level, 1);
    cr_expect_eq(job.output_level, 2);
    cr_expect_eq(job.output_run, 0);
    cr_expect_eq(job.whole_runs, 0);
    cr_expect_eq(job.trivial_move, 0);
    cr_assert_eq(job.ninputs, 2);
    cr_expect_eq(job.inputs[0].level, 1);
    cr_expect_eq(job.inputs[0].count, 1, "exactly one level-1 table");
    cr_expect_str_eq(job_tables(&job), "1.0:11 2.0:22,23");
    EXPECT_RANGE(&job, "ba", "ea");
    cr_expect_eq(job.input_bytes, 2300);
    cr_expect_float_eq(job.score, 1.5, 1e-9);
    cr_expect_eq(job.target_file_size, TARGET);
    cr_expect_eq(job.max_grandparent_overlap, 900, "(T - 1) x target");
    cr_expect_eq(job.table_opts.block_size, 4096, "table options travel with the job");
    compaction_job_free(&job);
    cr_expect_null(job.inputs);
}

Test(picker, leveled_overlap_counts_tables_touching_at_an_equal_key)
{
    struct policy p = leveled(4);
    view_init(4);
    level1_of_five();
    /* 21 ends where 11 begins, 22 begins where 11 ends. */
    ADD_RUN(2, TB(20, "a", "b", 10), TB(21, "b0", "c", 10), TB(22, "e", "f", 10),
            TB(23, "f0", "g0", 10));
    struct compaction_job job;
    cr_assert_eq(pick(&p, &job), 1);
    cr_expect_str_eq(job_tables(&job), "1.0:11 2.0:21,22");
    EXPECT_RANGE(&job, "b0", "f");
    compaction_job_free(&job);

    /* The same neighbours one byte off (ending below "c", starting at "e\0", the key right
     * after "e"): no overlap, and the table moves alone. */
    view_init(4);
    level1_of_five();
    ADD_RUN(2, TB(20, "a", "b", 10), TB(21, "b0", "b\xff", 10), TB(22, "e\0", "f", 10),
            TB(23, "f0", "g0", 10));
    cr_assert_eq(pick(&p, &job), 1);
    cr_expect_str_eq(job_tables(&job), "1.0:11");
    cr_expect_eq(job.trivial_move, 1);
    cr_expect_eq(job.output_run, 0, "moves into the level-2 run");
    compaction_job_free(&job);
}

/* Level 2 with one table inside each level-1 table, so that a job's range is its level-1
 * table's. */
static void level2_inside(void)
{
    ADD_RUN(2, TB(21, "d", "d", 50), TB(22, "h", "h", 50), TB(23, "l", "l", 50),
            TB(24, "p", "p", 50), TB(25, "t", "t", 50));
}

Test(picker, leveled_cursor_visits_every_table_in_key_order_and_wraps)
{
    struct policy p = leveled(4);
    view_init(4);
    level1_of_five();
    level2_inside();
    const char *want[] = {"1.0:11 2.0:21", "1.0:12 2.0:22", "1.0:13 2.0:23", "1.0:14 2.0:24",
                          "1.0:15 2.0:25", "1.0:11 2.0:21", "1.0:12 2.0:22"};
    for (size_t i = 0; i < N(want); i++) {
        struct compaction_job job;
        cr_assert_eq(pick(&p, &job), 1, "pick %zu", i);
        cr_expect_str_eq(job_tables(&job), want[i], "pick %zu", i);
        cr_assert_eq(compaction_cursor_set(&cur, 1, job.source_largest, job.source_largest_len), 0);
        compaction_job_free(&job);
    }
    cr_expect(key_is(cur.key[1], cur.len[1], "i", 1), "the cursor holds a copy of the key");
    cr_expect_eq(cur.set[2], 0, "other levels' cursors stay unset");
}

Test(picker, cursor_follows_the_source_table_even_when_the_output_reaches_past_it)
{
    struct policy p = leveled(4);
    view_init(4);
    ADD_RUN(1, TB(11, "c", "e", 600), TB(12, "g", "i", 600), TB(13, "k", "m", 600));
    ADD_RUN(2, TB(21, "d", "j", 50));
    const char *want[] = {"1.0:11 2.0:21", "1.0:12 2.0:21", "1.0:13", "1.0:11 2.0:21"};
    for (size_t i = 0; i < N(want); i++) {
        struct compaction_job job;
        cr_assert_eq(pick(&p, &job), 1, "pick %zu", i);
        cr_expect_str_eq(job_tables(&job), want[i], "pick %zu", i);
        cr_assert_eq(compaction_cursor_set(&cur, 1, job.source_largest, job.source_largest_len), 0);
        compaction_job_free(&job);
    }
}

Test(picker, leveled_cursor_between_tables_starts_at_the_next_one)
{
    struct policy p = leveled(4);
    view_init(4);
    level1_of_five();
    level2_inside();
    struct compaction_job job;
    cr_assert_eq(compaction_cursor_set(&cur, 1, (const uint8_t *)"n", 1), 0);
    cr_assert_eq(pick(&p, &job), 1);
    cr_expect_str_eq(job_tables(&job), "1.0:14 2.0:24", "13 ends at m, before the cursor n");
    compaction_job_free(&job);
    cr_assert_eq(compaction_cursor_set(&cur, 1, (const uint8_t *)"zz", 2), 0);
    cr_assert_eq(pick(&p, &job), 1);
    cr_expect_str_eq(job_tables(&job), "1.0:11 2.0:21", "past the last table: wraps");
    compaction_job_free(&job);
}

Test(picker, busy_table_after_the_cursor_is_skipped)
{
    struct policy p = leveled(4);
    view_init(4);
    level1_of_five();
    level2_inside();
    set_busy(13);
    struct compaction_job job;
    cr_assert_eq(compaction_cursor_set(&cur, 1, (const uint8_t *)"i", 1), 0);
    cr_assert_eq(pick(&p, &job), 1);
    cr_expect_str_eq(job_tables(&job), "1.0:14 2.0:24");
    compaction_job_free(&job);
}

Test(picker, busy_overlapping_output_table_skips_the_candidate)
{
    struct policy p = leveled(4);
    view_init(4);
    level1_of_five();
    level2_inside();
    set_busy(23);
    struct compaction_job job;
    cr_assert_eq(compaction_cursor_set(&cur, 1, (const uint8_t *)"i", 1), 0);
    cr_assert_eq(pick(&p, &job), 1);
    cr_expect_str_eq(job_tables(&job), "1.0:14 2.0:24");
    cr_expect_eq(job.trivial_move, 0);
    compaction_job_free(&job);
}

Test(picker, everything_busy_picks_nothing)
{
    struct policy p = leveled(4);
    view_init(4);
    level1_of_five();
    level2_inside();
    for (uint64_t t = 11; t <= 15; t++)
        set_busy(t);
    struct compaction_job job;
    cr_expect_eq(pick(&p, &job), 0, "every level-1 table is busy");
    cr_expect_null(job.inputs);
    cr_expect_eq(job.ninputs, 0);

    view_init(4);
    level1_of_five();
    level2_inside();
    for (uint64_t t = 21; t <= 25; t++)
        set_busy(t);
    cr_expect_eq(pick(&p, &job), 0, "every level-1 table overlaps a busy level-2 table");
    cr_expect_null(job.inputs);
}

Test(picker, leveled_table_overlapping_nothing_below_moves)
{
    struct policy p = leveled(4);
    view_init(4);
    level1_of_five();
    ADD_RUN(2, TB(21, "a", "b", 50), TB(22, "h", "h", 50));
    /* Grandparent overlap of table 11 [c, e]: 450 + 450 = 900, the limit. */
    ADD_RUN(3, TB(31, "a", "c", 450), TB(32, "d", "ee", 450), TB(33, "f", "z", 5000));
    struct compaction_job job;
    cr_assert_eq(pick(&p, &job), 1);
    cr_expect_str_eq(job_tables(&job), "1.0:11");
    cr_expect_eq(job.trivial_move, 1);
    cr_expect_eq(job.output_level, 2);
    cr_expect_eq(job.output_run, 0);
    cr_expect_eq(job.whole_runs, 0);
    EXPECT_RANGE(&job, "c", "e");
    compaction_job_free(&job);

    /* Into an empty level 2: a new run there. */
    view_init(4);
    level1_of_five();
    ADD_RUN(3, TB(31, "a", "c", 450), TB(32, "d", "ee", 450), TB(33, "f", "z", 5000));
    cr_assert_eq(pick(&p, &job), 1);
    cr_expect_str_eq(job_tables(&job), "1.0:11");
    cr_expect_eq(job.trivial_move, 1);
    cr_expect_eq(job.output_run, SIZE_MAX);
    compaction_job_free(&job);
}

Test(picker, large_grandparent_overlap_prevents_a_trivial_move)
{
    struct policy p = leveled(4);
    view_init(4);
    level1_of_five();
    ADD_RUN(2, TB(21, "a", "b", 50), TB(22, "h", "h", 50));
    /* 901 bytes of level 3 under table 11: one more than (T - 1) x target. */
    ADD_RUN(3, TB(31, "a", "c", 451), TB(32, "d", "ee", 450), TB(33, "f", "z", 5000));
    struct compaction_job job;
    cr_assert_eq(pick(&p, &job), 1);
    cr_expect_str_eq(job_tables(&job), "1.0:11");
    cr_expect_eq(job.trivial_move, 0, "moving it would leave a table overlapping 901 bytes");
    cr_expect_eq(job.output_level, 2);
    cr_expect_eq(job.output_run, 0);
    compaction_job_free(&job);
}

Test(picker, tables_sharing_a_boundary_user_key_are_taken_together)
{
    struct policy p = leveled(4);
    view_init(4);
    ADD_RUN(1, TB(11, "c", "e", 300), TB(12, "e", "g", 300), TB(13, "i", "k", 300),
            TB(14, "m", "o", 300), TB(15, "q", "s", 300));
    ADD_RUN(2, TB(21, "a", "b", 50), TB(22, "f", "f", 50), TB(23, "j", "j", 50));
    struct compaction_job job;
    cr_assert_eq(pick(&p, &job), 1);
    cr_expect_str_eq(job_tables(&job), "1.0:11,12 2.0:22");
    EXPECT_RANGE(&job, "c", "g");
    cr_expect_eq(job.input_bytes, 650);
    compaction_job_free(&job);

    /* The cursor past 11 lands on 12, whose boundary key pulls 11 back in. */
    cr_assert_eq(compaction_cursor_set(&cur, 1, (const uint8_t *)"e", 1), 0);
    cr_assert_eq(pick(&p, &job), 1);
    cr_expect_str_eq(job_tables(&job), "1.0:11,12 2.0:22");
    compaction_job_free(&job);

    /* 11 cannot go without 12. */
    compaction_cursors_free(&cur);
    set_busy(12);
    cr_assert_eq(pick(&p, &job), 1);
    cr_expect_str_eq(job_tables(&job), "1.0:13 2.0:23");
    compaction_job_free(&job);
}

/* ---- Level 0 ---------------------------------------------------------------------------- */

Test(picker, level0_merges_every_run_with_the_overlapping_level1_tables)
{
    struct policy p = leveled(2);
    view_init(4);
    ADD_RUN(0, TB(1, "d", "f", 100));
    ADD_RUN(0, TB(2, "b", "c", 100), TB(3, "w", "x", 100));
    ADD_RUN(0, TB(4, "e", "h", 100));
    ADD_RUN(1, TB(11, "0", "9", 100), TB(12, "a", "b", 100), TB(13, "m", "n", 100),
            TB(14, "x", "y", 100), TB(15, "y0", "z", 100));
    struct compaction_job job;
    cr_assert_eq(pick(&p, &job), 1);
    cr_expect_eq(job.level, 0);
    cr_expect_eq(job.output_level, 1);
    cr_expect_str_eq(job_tables(&job), "0.0:1 0.1:2,3 0.2:4 1.0:12,13,14");
    cr_expect_eq(job.output_run, 0);
    cr_expect_eq(job.whole_runs, 0);
    cr_expect_eq(job.trivial_move, 0);
    EXPECT_RANGE(&job, "a", "y");
    cr_expect_eq(job.input_bytes, 700);
    cr_expect_float_eq(job.score, 1.5, 1e-9);
    compaction_job_free(&job);
}

Test(picker, level0_run_overlapping_nothing_moves)
{
    struct policy p = leveled(1);
    view_init(4);
    ADD_RUN(0, TB(1, "m", "n", 100), TB(2, "p", "q", 100));
    ADD_RUN(1, TB(11, "a", "b", 100), TB(12, "x", "y", 100));
    struct compaction_job job;
    cr_assert_eq(pick(&p, &job), 1);
    cr_expect_str_eq(job_tables(&job), "0.0:1,2");
    cr_expect_eq(job.trivial_move, 1);
    cr_expect_eq(job.output_level, 1);
    cr_expect_eq(job.output_run, 0);
    compaction_job_free(&job);

    view_init(4);
    ADD_RUN(0, TB(1, "m", "n", 100));
    cr_assert_eq(pick(&p, &job), 1);
    cr_expect_str_eq(job_tables(&job), "0.0:1");
    cr_expect_eq(job.trivial_move, 1);
    cr_expect_eq(job.output_run, SIZE_MAX, "level 1 is empty: a new run");
    compaction_job_free(&job);

    /* Overlapping a level-1 table: a merge. */
    view_init(4);
    ADD_RUN(0, TB(1, "m", "n", 100));
    ADD_RUN(1, TB(11, "a", "b", 100), TB(12, "n", "y", 100));
    cr_assert_eq(pick(&p, &job), 1);
    cr_expect_str_eq(job_tables(&job), "0.0:1 1.0:12");
    cr_expect_eq(job.trivial_move, 0);
    compaction_job_free(&job);
}

Test(picker, busy_level0_run_blocks_level0_but_not_a_due_level1)
{
    struct policy p = leveled(2);
    view_init(4);
    ADD_RUN(0, TB(1, "d", "f", 100));
    ADD_RUN(0, TB(2, "b", "c", 100), TB(3, "w", "x", 100));
    ADD_RUN(0, TB(4, "e", "h", 100));
    ADD_RUN(1, TB(11, "a", "b", 100), TB(12, "m", "n", 100));
    set_busy(3);
    struct compaction_job job;
    cr_expect_eq(pick(&p, &job), 0, "level 0 is due (1.5) but a run is busy; level 1 is not");
    cr_expect_null(job.inputs);

    /* Level 1 over capacity too (1.2 < 1.5): its job comes back instead. */
    view_init(4);
    ADD_RUN(0, TB(1, "d", "f", 100));
    ADD_RUN(0, TB(2, "b", "c", 100), TB(3, "w", "x", 100));
    ADD_RUN(0, TB(4, "e", "h", 100));
    ADD_RUN(1, TB(11, "a", "b", 600), TB(12, "m", "n", 600));
    ADD_RUN(2, TB(21, "a", "a", 50), TB(22, "n", "z", 50));
    set_busy(3);
    cr_assert_eq(pick(&p, &job), 1);
    cr_expect_eq(job.level, 1);
    cr_expect_str_eq(job_tables(&job), "1.0:11 2.0:21");
    cr_expect_float_eq(job.score, 1.2, 1e-9);
    compaction_job_free(&job);
}

/* ---- Tiered and Dostoevsky ---------------------------------------------------------------- */

/* T = 4: K = Z = 3 for tiered; K = 3, Z = 1 for Dostoevsky. Level 1 holds 1000 bytes. */
static struct policy fluid(int preset, int num_levels)
{
    struct policy p;
    policy_init(&p, preset, 4, 0, 0, 2, 1000, num_levels);
    return p;
}

/* Three overlapping level-1 runs of 1200 bytes: within a tiered level 1's bound (K = 3). */
static void level1_three_runs(void)
{
    ADD_RUN(1, TB(11, "c", "f", 200), TB(12, "k", "p", 200));
    ADD_RUN(1, TB(13, "a", "m", 400));
    ADD_RUN(1, TB(14, "d", "e", 200), TB(15, "x", "y", 200));
}

Test(picker, tiered_level_merges_all_its_runs_into_a_new_run)
{
    struct policy p = fluid(LAMINA_COMPACTION_TIERED, 4);
    view_init(4);
    level1_three_runs();
    ADD_RUN(2, TB(21, "a", "z", 500));
    ADD_RUN(2, TB(22, "b", "c", 500));
    struct compaction_job job;
    cr_expect_eq(pick(&p, &job), 0, "three runs are within K = 3, whatever their bytes");

    /* The fourth run is the arrival that exceeds K: all four merge into one run of level 2. */
    ADD_RUN(1, TB(16, "g", "h", 100));
    cr_assert_eq(pick(&p, &job), 1);
    cr_expect_eq(job.level, 1);
    cr_expect_eq(job.output_level, 2);
    cr_expect_str_eq(job_tables(&job), "1.0:11,12 1.1:13 1.2:14,15 1.3:16",
                     "level 2 takes the merged run as a third run: its runs stay");
    cr_expect_eq(job.whole_runs, 1);
    cr_expect_eq(job.trivial_move, 0);
    cr_expect_eq(job.output_run, SIZE_MAX);
    EXPECT_RANGE(&job, "a", "y");
    cr_expect_eq(job.input_bytes, 1300);
    cr_expect_float_eq(job.score, 4.0 / 3.0, 1e-9);
    compaction_job_free(&job);

    /* Level 2 at its bound (Z = 3) still takes one more run, and then is due itself. */
    ADD_RUN(2, TB(23, "q", "r", 500));
    cr_assert_eq(pick(&p, &job), 1);
    cr_expect_str_eq(job_tables(&job), "1.0:11,12 1.1:13 1.2:14,15 1.3:16");
    cr_expect_eq(job.output_level, 2);
    compaction_job_free(&job);

    /* Past its bound, level 2 merges its runs first (into level 3) and level 1 waits. */
    ADD_RUN(2, TB(24, "s", "t", 500));
    cr_assert_eq(pick(&p, &job), 1);
    cr_expect_eq(job.level, 2);
    cr_expect_eq(job.output_level, 3);
    cr_expect_str_eq(job_tables(&job), "2.0:21 2.1:22 2.2:23 2.3:24");
    cr_expect_eq(job.whole_runs, 1);
    EXPECT_RANGE(&job, "a", "z");
    compaction_job_free(&job);
    set_busy(21);
    cr_expect_eq(pick(&p, &job), 0, "level 1 waits while level 2 is past its bound");
}

Test(picker, tiered_level_over_its_run_bound_merges_its_runs)
{
    struct policy p = fluid(LAMINA_COMPACTION_TIERED, 4);
    view_init(4);
    ADD_RUN(1, TB(11, "a", "b", 10));
    ADD_RUN(1, TB(12, "a", "b", 10));
    ADD_RUN(1, TB(13, "a", "b", 10));
    ADD_RUN(1, TB(14, "a", "b", 10));
    ADD_RUN(2, TB(21, "a", "z", 500));
    struct compaction_job job;
    cr_assert_eq(pick(&p, &job), 1);
    cr_expect_str_eq(job_tables(&job), "1.0:11 1.1:12 1.2:13 1.3:14");
    cr_expect_float_eq(job.score, 4.0 / 3.0, 1e-9);
    cr_expect_eq(job.whole_runs, 1);
    compaction_job_free(&job);
}

Test(picker, leveled_run_over_capacity_moves_whole_into_a_tiered_last_level)
{
    struct policy p;
    policy_init(&p, LAMINA_COMPACTION_LEVELED, 4, 1, 3, 2, 1000, 4); /* K = 1, Z = 3 */
    view_init(4);
    ADD_RUN(1, TB(11, "a", "f", 600), TB(12, "g", "k", 600));
    ADD_RUN(2, TB(21, "m", "z", 600));
    struct compaction_job job;
    cr_assert_eq(pick(&p, &job), 1);
    cr_expect_str_eq(job_tables(&job), "1.0:11,12");
    cr_expect_eq(job.output_level, 2);
    cr_expect_eq(job.whole_runs, 1);
    cr_expect_eq(job.trivial_move, 1, "a tiered level takes the run as one more run");
    cr_expect_eq(job.output_run, SIZE_MAX);
    compaction_job_free(&job);
}

Test(picker, fluid_level_short_of_t_arrivals_merges_its_newest_runs_in_place)
{
    struct policy p;
    policy_init(&p, LAMINA_COMPACTION_LEVELED, 4, 2, 1, 2, 1000, 4); /* K = 2, Z = 1 */
    view_init(4);
    ADD_RUN(1, TB(11, "a", "z", 1000));
    ADD_RUN(1, TB(12, "a", "z", 1000));
    ADD_RUN(1, TB(13, "a", "z", 1000));
    ADD_RUN(2, TB(21, "a", "z", 9000));
    struct compaction_job job;
    cr_assert_eq(pick(&p, &job), 1);
    cr_expect_eq(job.level, 1);
    cr_expect_eq(job.output_level, 1, "three arrivals of T = 4: level 1 is not full yet");
    cr_expect_str_eq(job_tables(&job), "1.0:11 1.1:12", "the newest runs merge, the oldest stays");
    cr_expect_eq(job.whole_runs, 1);
    cr_expect_eq(job.trivial_move, 0);
    compaction_job_free(&job);

    /* Four arrivals' worth (3,000 + 1,000): full, so every run goes down, into the last
     * level's one run (Z = 1). */
    view_init(4);
    ADD_RUN(1, TB(11, "a", "z", 1000));
    ADD_RUN(1, TB(12, "a", "z", 2000));
    ADD_RUN(1, TB(13, "a", "z", 1000));
    ADD_RUN(2, TB(21, "a", "z", 9000));
    cr_assert_eq(pick(&p, &job), 1);
    cr_expect_eq(job.output_level, 2);
    cr_expect_str_eq(job_tables(&job), "1.0:11 1.1:12 1.2:13 2.0:21");
    compaction_job_free(&job);
}

Test(picker, tiered_level0_runs_become_one_level1_run)
{
    struct policy p = fluid(LAMINA_COMPACTION_TIERED, 4);
    view_init(4);
    ADD_RUN(0, TB(1, "a", "c", 10));
    ADD_RUN(0, TB(2, "b", "d", 10));
    ADD_RUN(1, TB(11, "a", "z", 100));
    struct compaction_job job;
    cr_assert_eq(pick(&p, &job), 1);
    cr_expect_str_eq(job_tables(&job), "0.0:1 0.1:2", "level 1 has room for a second run");
    cr_expect_eq(job.whole_runs, 1);
    cr_expect_eq(job.trivial_move, 0);
    compaction_job_free(&job);
}

Test(picker, dostoevsky_tiered_level_merges_with_the_last_level_run)
{
    struct policy p = fluid(LAMINA_COMPACTION_DOSTOEVSKY, 3);
    view_init(3);
    level1_three_runs();
    ADD_RUN(2, TB(21, "a", "d", 500), TB(22, "e", "h", 500), TB(23, "i", "z", 500));
    ADD_RUN(1, TB(16, "g", "h", 100));
    struct compaction_job job;
    cr_assert_eq(pick(&p, &job), 1);
    cr_expect_eq(job.level, 1);
    cr_expect_eq(job.output_level, 2);
    cr_expect_str_eq(job_tables(&job), "1.0:11,12 1.1:13 1.2:14,15 1.3:16 2.0:21,22,23",
                     "the last level (Z = 1) is rewritten with them");
    cr_expect_eq(job.whole_runs, 1);
    cr_expect_eq(job.trivial_move, 0);
    cr_expect_eq(job.output_run, SIZE_MAX);
    cr_expect_eq(job.input_bytes, 2800);
    compaction_job_free(&job);
}

Test(picker, dostoevsky_full_last_level_moves_whole_to_a_new_level)
{
    struct policy p = fluid(LAMINA_COMPACTION_DOSTOEVSKY, 4);
    view_init(4);
    /* Level 2 is the largest level (Z = 1) and over C_2 = 1000 * T (tiered level 1) * T. */
    ADD_RUN(2, TB(21, "a", "d", 6000), TB(22, "e", "h", 6000), TB(23, "i", "z", 6000));
    struct compaction_job job;
    cr_assert_eq(pick(&p, &job), 1);
    cr_expect_eq(job.level, 2);
    cr_expect_eq(job.output_level, 3);
    cr_expect_str_eq(job_tables(&job), "2.0:21,22,23", "the whole run, not a table");
    cr_expect_eq(job.whole_runs, 1);
    cr_expect_eq(job.trivial_move, 1);
    compaction_job_free(&job);
}

Test(picker, leveled_largest_level_goes_a_table_at_a_time_into_a_new_level)
{
    struct policy p = fluid(LAMINA_COMPACTION_LEVELED, 4);
    view_init(4);
    ADD_RUN(2, TB(21, "a", "d", 3000), TB(22, "e", "h", 3000));
    struct compaction_job job;
    cr_assert_eq(pick(&p, &job), 1);
    cr_expect_str_eq(job_tables(&job), "2.0:21");
    cr_expect_eq(job.output_level, 3);
    cr_expect_eq(job.whole_runs, 0);
    cr_expect_eq(job.trivial_move, 1);
    compaction_job_free(&job);
}

Test(picker, dostoevsky_last_level_over_its_bound_merges_into_itself)
{
    struct policy p = fluid(LAMINA_COMPACTION_DOSTOEVSKY, 3);
    view_init(3);
    ADD_RUN(2, TB(21, "a", "d", 500), TB(22, "e", "h", 500));
    ADD_RUN(2, TB(23, "b", "z", 500));
    struct compaction_job job;
    cr_assert_eq(pick(&p, &job), 1);
    cr_expect_eq(job.level, 2);
    cr_expect_eq(job.output_level, 2);
    cr_expect_str_eq(job_tables(&job), "2.0:21,22 2.1:23");
    cr_expect_eq(job.whole_runs, 1);
    cr_expect_eq(job.trivial_move, 0);
    cr_expect_float_eq(job.score, 2.0, 1e-9);
    compaction_job_free(&job);
}

/* ---- Order of due levels ------------------------------------------------------------------ */

Test(picker, higher_score_goes_first)
{
    struct policy p = leveled(4);
    view_init(4);
    /* Level 1 scores 1.5, level 2 2.001. */
    level1_of_five();
    ADD_RUN(2, TB(21, "c", "c", 10000), TB(22, "g", "p", 10000), TB(23, "v", "z", 10));
    ADD_RUN(3, TB(31, "a", "c", 100), TB(32, "h", "h", 100));
    struct compaction_job job;
    cr_assert_eq(pick(&p, &job), 1);
    cr_expect_eq(job.level, 2);
    cr_expect_str_eq(job_tables(&job), "2.0:21 3.0:31");
    cr_expect_float_eq(job.score, 2.001, 1e-9);
    compaction_job_free(&job);

    /* Level 2's tables all busy: level 1's only table clear of them (15) comes back. */
    set_busy(21);
    set_busy(22);
    set_busy(23);
    cr_assert_eq(pick(&p, &job), 1);
    cr_expect_eq(job.level, 1);
    cr_expect_str_eq(job_tables(&job), "1.0:15");
    cr_expect_eq(job.trivial_move, 1);
    compaction_job_free(&job);

    /* Level 1 at 3.0 outranks level 2 at 2.001. */
    view_init(4);
    ADD_RUN(1, TB(11, "c", "e", 1500), TB(12, "g", "i", 1500));
    ADD_RUN(2, TB(21, "c", "c", 10000), TB(22, "g", "i", 10000), TB(23, "v", "z", 10));
    ADD_RUN(3, TB(31, "a", "c", 100));
    cr_assert_eq(pick(&p, &job), 1);
    cr_expect_eq(job.level, 1);
    cr_expect_str_eq(job_tables(&job), "1.0:11 2.0:21");
    compaction_job_free(&job);
}

Test(picker, nothing_due_picks_nothing)
{
    struct policy p = leveled(4);
    struct compaction_job job;
    view_init(4);
    cr_expect_eq(pick(&p, &job), 0, "empty view");
    cr_expect_null(job.inputs);

    ADD_RUN(0, TB(1, "a", "b", 10));
    ADD_RUN(0, TB(2, "a", "b", 10));
    ADD_RUN(0, TB(3, "a", "b", 10));
    ADD_RUN(1, TB(11, "a", "b", 500), TB(12, "c", "d", 500));
    ADD_RUN(2, TB(21, "a", "z", 10000));
    ADD_RUN(3, TB(31, "a", "z", 1 << 20));
    cr_expect_eq(pick(&p, &job), 0, "3 level-0 runs of 4, every level at its capacity");
    cr_expect_null(job.inputs);
    cr_expect_eq(job.ninputs, 0);
}

Test(picker, none_preset_picks_nothing)
{
    struct policy p;
    policy_init(&p, LAMINA_COMPACTION_NONE, 10, 0, 0, 1, 1000, 4);
    view_init(4);
    ADD_RUN(0, TB(1, "a", "b", 10));
    ADD_RUN(0, TB(2, "a", "b", 10));
    level1_of_five();
    struct compaction_job job;
    cr_expect_eq(pick(&p, &job), 0);
    cr_expect_null(job.inputs);
}
