/* properties.c — lamina_property: per-level shape, amplification figures, cache, stalls and
 * memory, read from a pinned super version and the statistics counters (in the spirit of
 * RocksDB's GetProperty "rocksdb.stats"). */
#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "engine/db_impl.h"
#include "util/alloc.h"
#include "util/err.h"

/* Figures of one moment. */
struct prop_snapshot {
    int num_levels;
    size_t runs[COMPACTION_MAX_LEVELS], files[COMPACTION_MAX_LEVELS];
    uint64_t bytes[COMPACTION_MAX_LEVELS];
    uint64_t live_bytes, total_runs, mem_bytes;
    int deepest;
    uint64_t wal_bytes, stall_micros;
    uint64_t cache_hits, cache_misses, cache_bytes, sequence;
    uint64_t cache_inserts, cache_evictions;
    uint64_t io_reads[COMPACTION_MAX_LEVELS], io_bytes[COMPACTION_MAX_LEVELS];
    uint64_t trivial_moves, max_compaction_input, open_tables, table_opens, table_hits;
    int64_t max_open_tables;
    int running_compactions;
};

static void prop_collect(lamina_db *db, struct prop_snapshot *p)
{
    memset(p, 0, sizeof(*p));
    uint64_t seq;
    struct super_version *sv = db_sv_acquire(db, &seq);
    const struct version *v = sv->v;
    p->num_levels = v->num_levels;
    p->sequence = seq;
    for (int l = 0; l < v->num_levels; l++) {
        p->runs[l] = v->levels[l].nruns;
        p->files[l] = v->levels[l].nfiles;
        p->bytes[l] = v->levels[l].bytes;
        p->io_reads[l] = atomic_load_explicit(&db->io_levels[l].reads, memory_order_relaxed);
        p->io_bytes[l] = atomic_load_explicit(&db->io_levels[l].bytes, memory_order_relaxed);
        p->live_bytes += p->bytes[l];
        p->total_runs += p->runs[l];
    }
    p->deepest = version_deepest_level(v);
    p->mem_bytes = memtable_memory(sv->mem);
    for (size_t i = 0; i < sv->nimm; i++)
        p->mem_bytes += memtable_memory(sv->imm[i]);
    db_sv_release(sv);
    p->wal_bytes = atomic_load(&db->stats.wal_bytes);
    p->stall_micros = atomic_load(&db->stats.stall_micros);
    p->trivial_moves = atomic_load(&db->stats.trivial_moves);
    p->max_compaction_input = atomic_load(&db->stats.max_compaction_input);
    block_cache_stats(db->cache, &p->cache_hits, &p->cache_misses, &p->cache_bytes);
    block_cache_counts(db->cache, &p->cache_inserts, &p->cache_evictions);
    table_cache_stats(db->tables, &p->open_tables, &p->max_open_tables, &p->table_opens,
                      &p->table_hits);
    pthread_mutex_lock(&db->mu);
    p->running_compactions = db->compactions_running;
    pthread_mutex_unlock(&db->mu);
}

static int prop_level(const char *name, const char *prefix, int num_levels, int *level);

/* ---- Compaction statistics (persisted in the MANIFEST: engine/manifest.h) --------------- */

/* The totals since the database was created, and their sums over levels. */
struct prop_work {
    struct edit_stats s;
    uint64_t written, read, count, micros; /* over all levels, flushes included */
};

static void prop_work_collect(lamina_db *db, struct prop_work *w)
{
    memset(w, 0, sizeof(*w));
    pthread_mutex_lock(&db->vs.manifest_mu);
    w->s = db->vs.stats;
    /* Writes since the last edit are not in the MANIFEST yet. */
    uint64_t live = atomic_load(&db->stats.user_bytes);
    if (live > db->vs.user_bytes_logged) w->s.user_bytes += live - db->vs.user_bytes_logged;
    pthread_mutex_unlock(&db->vs.manifest_mu);
    for (int l = 0; l < EDIT_STATS_LEVELS; l++) {
        w->written += w->s.level[l].bytes_written;
        w->read += w->s.level[l].bytes_read;
        w->count += w->s.level[l].count;
        w->micros += w->s.level[l].micros;
    }
}

/* Write amplification as RocksDB's W-Amp: bytes written to tables by flushes and compactions
 * per byte flushed. 0 before the first flush. */
static double prop_write_amp(const struct prop_work *w)
{
    return w->s.flush_bytes ? (double)w->written / (double)w->s.flush_bytes : 0.0;
}

/* Space amplification: live table bytes per byte of the last level holding data (1.0 when
 * empty), the estimate of Dostoevsky for a tree whose last level holds the live data. */
static double prop_space_amp(const struct prop_snapshot *p)
{
    if (p->deepest < 0 || p->bytes[p->deepest] == 0) return 1.0;
    return (double)p->live_bytes / (double)p->bytes[p->deepest];
}

static int prop_printf(buf *b, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static int prop_printf(buf *b, const char *fmt, ...)
{
    char line[512];
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(line, sizeof(line), fmt, ap);
    va_end(ap);
    if (n < 0) return 0;
    return buf_append(b, line, (size_t)n < sizeof(line) ? (size_t)n : sizeof(line) - 1);
}

/* Levels holding at least one table (the deepest level + 1 counts empty levels above it too). */
static int prop_levels_with_data(const struct prop_snapshot *p)
{
    int n = 0;
    for (int l = 0; l < p->num_levels; l++)
        n += p->files[l] > 0;
    return n;
}

/* The name of compaction_policy's value, from the options table's choices ("leveled|..."). */
static void prop_policy_name(int policy, char *out, size_t cap)
{
    snprintf(out, cap, "%d", policy);
    for (size_t i = 0; i < lamina_options_count(); i++) {
        const lamina_option_desc *d = lamina_options_describe(i);
        if (strcmp(d->name, "compaction_policy") != 0 || !d->choices) continue;
        const char *c = d->choices;
        for (int k = 0; k < policy && c; k++)
            if ((c = strchr(c, '|'))) c++;
        if (c) snprintf(out, cap, "%.*s", (int)strcspn(c, "|"), c);
    }
}

/* The shape and the work per level, one row each (level 0's work is its flushes, level N's the
 * compactions into N), totals, and the figures derived from them; labels once each, defined in
 * docs/kvctl.1. */
static int prop_work_table(const struct prop_snapshot *p, const struct prop_work *w, buf *b)
{
    int rc = prop_printf(b, "%-5s %5s %7s %14s %14s %14s %8s %12s\n", "level", "runs", "tables",
                         "bytes", "read", "written", "jobs", "micros");
    for (int l = 0; rc == 0 && l < p->num_levels && l < EDIT_STATS_LEVELS; l++) {
        const struct edit_level_stats *ls = &w->s.level[l];
        if (!p->runs[l] && !ls->count) continue;
        rc = prop_printf(b,
                         "%-5d %5zu %7zu %14" PRIu64 " %14" PRIu64 " %14" PRIu64 " %8" PRIu64
                         " %12" PRIu64 "\n",
                         l, p->runs[l], p->files[l], p->bytes[l], ls->bytes_read, ls->bytes_written,
                         ls->count, ls->micros);
    }
    if (rc == 0) {
        uint64_t tables = 0;
        for (int l = 0; l < p->num_levels; l++)
            tables += p->files[l];
        rc = prop_printf(b,
                         "%-5s %5" PRIu64 " %7" PRIu64 " %14" PRIu64 " %14" PRIu64 " %14" PRIu64
                         " %8" PRIu64 " %12" PRIu64 "\n",
                         "total", p->total_runs, tables, p->live_bytes, w->read, w->written,
                         w->count, w->micros);
    }
    if (rc == 0)
        rc = prop_printf(b,
                         "levels_with_data %d  deepest_level %d  user_bytes_written %" PRIu64
                         "  w_amp %.3f  space_amp %.3f\n",
                         prop_levels_with_data(p), p->deepest, w->s.user_bytes, prop_write_amp(w),
                         prop_space_amp(p));
    return rc;
}

/* A compaction statistic by name: 1 if name is one (*ival or *dval set, *kind as prop_eval). */
static int prop_work_eval(const struct prop_snapshot *p, const struct prop_work *w,
                          const char *name, uint64_t *ival, double *dval, int *kind)
{
    int level, n = p->num_levels < EDIT_STATS_LEVELS ? p->num_levels : EDIT_STATS_LEVELS;
    *kind = 0;
    if (strcmp(name, "lamina.w-amp") == 0 || strcmp(name, "lamina.write-amp") == 0) {
        *kind = 1;
        *dval = prop_write_amp(w);
    } else if (prop_level(name, "lamina.compaction-bytes-read-at-level", n, &level)) {
        *ival = w->s.level[level].bytes_read;
    } else if (prop_level(name, "lamina.compaction-bytes-written-at-level", n, &level)) {
        *ival = w->s.level[level].bytes_written;
    } else if (prop_level(name, "lamina.compaction-count-at-level", n, &level)) {
        *ival = w->s.level[level].count;
    } else if (prop_level(name, "lamina.compaction-micros-at-level", n, &level)) {
        *ival = w->s.level[level].micros;
    } else if (strcmp(name, "lamina.user-bytes-written") == 0) {
        *ival = w->s.user_bytes;
    } else if (strcmp(name, "lamina.bytes-flushed") == 0) {
        *ival = w->s.flush_bytes;
    } else if (strcmp(name, "lamina.flushes") == 0) {
        *ival = w->s.flush_count;
    } else if (strcmp(name, "lamina.flush-micros") == 0) {
        *ival = w->s.flush_micros;
    } else if (strcmp(name, "lamina.compaction-bytes-read") == 0) {
        *ival = w->read;
    } else if (strcmp(name, "lamina.compaction-bytes-written") == 0) {
        *ival = w->written - w->s.flush_bytes;
    } else if (strcmp(name, "lamina.compactions") == 0) {
        *ival = w->count - w->s.flush_count;
    } else if (strcmp(name, "lamina.bytes-written") == 0) {
        *ival = w->written;
    } else {
        return 0;
    }
    return 1;
}

static int prop_stats_text(lamina_db *db, const struct prop_snapshot *p, buf *b)
{
    struct prop_work w;
    char policy[32];
    prop_work_collect(db, &w);
    prop_policy_name(db->opts.compaction_policy, policy, sizeof(policy));
    int rc = prop_work_table(p, &w, b);
    /* The state now: the options in force and what the engine holds. */
    if (rc == 0)
        rc = prop_printf(
            b,
            "compaction_policy %s  io %s%s  running_compactions %d  open_tables %" PRIu64
            " (max_open_files %" PRId64 ")\n",
            policy, db->opts.use_io_uring ? file_io_backend() : "pread",
            db->opts.use_direct_reads ? "+direct" : "", p->running_compactions, p->open_tables,
            p->max_open_tables);
    if (rc == 0)
        rc = prop_printf(b,
                         "memtable_bytes %" PRIu64 "  cache_bytes %" PRIu64
                         "  allocated_bytes %" PRIu64 "  sequence %" PRIu64 "\n",
                         p->mem_bytes, p->cache_bytes, (uint64_t)mem_allocated(), p->sequence);
    /* Counters kept in memory only: they start at 0 at every open (the work above persists). */
    if (rc == 0) rc = prop_printf(b, "since open:\n");
    if (rc == 0)
        rc = prop_printf(b,
                         "wal_bytes %" PRIu64 "  trivial_moves %" PRIu64
                         "  max_compaction_input %" PRIu64 "  stall_micros %" PRIu64 "\n",
                         p->wal_bytes, p->trivial_moves, p->max_compaction_input, p->stall_micros);
    if (rc == 0)
        rc = prop_printf(b,
                         "table_opens %" PRIu64 "  table_cache_hits %" PRIu64
                         "  cache_hits %" PRIu64 "  cache_misses %" PRIu64
                         "  cache_inserts %" PRIu64 "  cache_evictions %" PRIu64 "\n",
                         p->table_opens, p->table_hits, p->cache_hits, p->cache_misses,
                         p->cache_inserts, p->cache_evictions);
    if (rc == 0)
        rc = prop_printf(b, "lookups %" PRIu64 " (lamina.lookup-stats details them)\n",
                         atomic_load_explicit(&db->lookups, memory_order_relaxed));
    /* Data block reads from table files, per level (gets, iterators, compaction inputs). */
    for (int l = 0; rc == 0 && l < p->num_levels; l++)
        if (p->io_reads[l])
            rc =
                prop_printf(b, "io_reads_at_level%d %" PRIu64 "  io_bytes_at_level%d %" PRIu64 "\n",
                            l, p->io_reads[l], l, p->io_bytes[l]);
    return rc;
}

/* Parses "<prefix><N>" with N a level number. */
static int prop_level(const char *name, const char *prefix, int num_levels, int *level)
{
    size_t n = strlen(prefix);
    if (strncmp(name, prefix, n) != 0) return 0;
    const char *s = name + n;
    if (!*s) return 0;
    long v = 0;
    for (; *s; s++) {
        if (*s < '0' || *s > '9' || v > 1000) return 0;
        v = v * 10 + (*s - '0');
    }
    if (v >= num_levels) return 0;
    *level = (int)v;
    return 1;
}

/* ---- Point-lookup costs per level (lamina.lookup-stats and its figures) ------------------ */

/* The lookup counters of one moment (read one by one, relaxed: a lookup in flight may show in
 * one figure and not yet in another). */
struct prop_lookups {
    int num_levels;
    uint64_t lookups;
    uint64_t runs[COMPACTION_MAX_LEVELS], probes[COMPACTION_MAX_LEVELS];
    uint64_t false_positives[COMPACTION_MAX_LEVELS], blocks[COMPACTION_MAX_LEVELS];
};

static void prop_lookups_collect(lamina_db *db, struct prop_lookups *p)
{
    memset(p, 0, sizeof(*p));
    p->num_levels = (int)db->opts.num_levels;
    if (p->num_levels > COMPACTION_MAX_LEVELS) p->num_levels = COMPACTION_MAX_LEVELS;
    p->lookups = atomic_load_explicit(&db->lookups, memory_order_relaxed);
    for (int l = 0; l < p->num_levels; l++) {
        const struct lookup_counters *c = &db->lookup_levels[l];
        p->runs[l] = atomic_load_explicit(&c->runs, memory_order_relaxed);
        p->probes[l] = atomic_load_explicit(&c->filter_probes, memory_order_relaxed);
        p->false_positives[l] = atomic_load_explicit(&c->false_positives, memory_order_relaxed);
        p->blocks[l] = atomic_load_explicit(&c->blocks, memory_order_relaxed);
    }
}

/* One table: per level the totals and, per lookup that searched the tables, the runs probed
 * and blocks read; fp_rate is false positives per filter probe. */
static int prop_lookups_text(const struct prop_lookups *p, buf *b)
{
    double n = p->lookups ? (double)p->lookups : 1.0;
    uint64_t runs = 0, probes = 0, fps = 0, blocks = 0;
    int rc = prop_printf(b, "lookups %" PRIu64 " (point lookups that searched the tables)\n",
                         p->lookups);
    if (rc == 0)
        rc = prop_printf(b, "%-6s %12s %12s %12s %9s %12s %10s %10s\n", "level", "runs_probed",
                         "filter_probes", "false_pos", "fp_rate", "blocks", "runs/lkp",
                         "blocks/lkp");
    for (int l = 0; rc == 0 && l < p->num_levels; l++) {
        runs += p->runs[l];
        probes += p->probes[l];
        fps += p->false_positives[l];
        blocks += p->blocks[l];
        if (!p->runs[l] && !p->blocks[l]) continue;
        rc = prop_printf(
            b, "%-6d %12" PRIu64 " %12" PRIu64 " %12" PRIu64 " %9.5f %12" PRIu64 " %10.4f %10.4f\n",
            l, p->runs[l], p->probes[l], p->false_positives[l],
            p->probes[l] ? (double)p->false_positives[l] / (double)p->probes[l] : 0.0, p->blocks[l],
            (double)p->runs[l] / n, (double)p->blocks[l] / n);
    }
    if (rc == 0)
        rc = prop_printf(
            b, "%-6s %12" PRIu64 " %12" PRIu64 " %12" PRIu64 " %9.5f %12" PRIu64 " %10.4f %10.4f\n",
            "total", runs, probes, fps, probes ? (double)fps / (double)probes : 0.0, blocks,
            (double)runs / n, (double)blocks / n);
    return rc;
}

/* The lookup properties: "lamina.lookup-stats" (text), "lamina.lookups" and, per level,
 * "lamina.lookup-runs-at-level<N>", "lamina.filter-probes-at-level<N>",
 * "lamina.filter-false-positives-at-level<N>", "lamina.lookup-blocks-at-level<N>". Returns 1
 * with the figure in *ival (*kind 0) or the text in text (*kind 2) and *rc set, 0 when name
 * is none of them. */
static int prop_lookups_eval(lamina_db *db, const char *name, uint64_t *ival, int *kind, buf *text,
                             int *rc)
{
    if (strncmp(name, "lamina.lookup", 13) != 0 && strncmp(name, "lamina.filter-", 14) != 0)
        return 0;
    struct prop_lookups p;
    prop_lookups_collect(db, &p);
    int level;
    *rc = 0;
    *kind = 0;
    if (strcmp(name, "lamina.lookup-stats") == 0) {
        *kind = 2;
        if (prop_lookups_text(&p, text)) *rc = err_set(LAMINA_ENOMEM, "property: out of memory");
    } else if (strcmp(name, "lamina.lookups") == 0) {
        *ival = p.lookups;
    } else if (prop_level(name, "lamina.lookup-runs-at-level", p.num_levels, &level)) {
        *ival = p.runs[level];
    } else if (prop_level(name, "lamina.filter-probes-at-level", p.num_levels, &level)) {
        *ival = p.probes[level];
    } else if (prop_level(name, "lamina.filter-false-positives-at-level", p.num_levels, &level)) {
        *ival = p.false_positives[level];
    } else if (prop_level(name, "lamina.lookup-blocks-at-level", p.num_levels, &level)) {
        *ival = p.blocks[level];
    } else {
        return 0;
    }
    return 1;
}

/* Computes the figure: integer in *ival (is_int 1), ratio in *dval (is_int 0), or the stats
 * text in *text. */
static int prop_eval(lamina_db *db, const char *name, uint64_t *ival, double *dval, int *kind,
                     buf *text)
{
    int rc;
    if (prop_lookups_eval(db, name, ival, kind, text, &rc)) return rc;
    struct prop_snapshot p;
    prop_collect(db, &p);
    int level;
    *kind = 0;
    if (strcmp(name, "lamina.stats") == 0) {
        *kind = 2;
        return prop_stats_text(db, &p, text) ? err_set(LAMINA_ENOMEM, "property: out of memory")
                                             : 0;
    }
    if (strcmp(name, "lamina.compaction-policy") == 0) {
        char policy[32];
        *kind = 2;
        prop_policy_name(db->opts.compaction_policy, policy, sizeof(policy));
        return prop_printf(text, "%s", policy) ? err_set(LAMINA_ENOMEM, "property: out of memory")
                                               : 0;
    }
    if (strcmp(name, "lamina.recovery") == 0) {
        *kind = 2;
        return prop_printf(text, "%s", db->recovery_note)
                   ? err_set(LAMINA_ENOMEM, "property: out of memory")
                   : 0;
    }
    struct prop_work w;
    prop_work_collect(db, &w);
    if (prop_work_eval(&p, &w, name, ival, dval, kind)) return 0;
    *kind = 1;
    if (strcmp(name, "lamina.space-amp") == 0) {
        *dval = prop_space_amp(&p);
        return 0;
    }
    *kind = 0;
    if (strcmp(name, "lamina.num-levels") == 0)
        *ival = (uint64_t)(p.deepest + 1);
    else if (strcmp(name, "lamina.levels-with-data") == 0)
        *ival = (uint64_t)prop_levels_with_data(&p);
    else if (prop_level(name, "lamina.num-files-at-level", p.num_levels, &level))
        *ival = p.files[level];
    else if (prop_level(name, "lamina.bytes-at-level", p.num_levels, &level))
        *ival = p.bytes[level];
    else if (prop_level(name, "lamina.num-runs-at-level", p.num_levels, &level))
        *ival = p.runs[level];
    else if (strcmp(name, "lamina.total-runs") == 0)
        *ival = p.total_runs;
    else if (strcmp(name, "lamina.memtable-bytes") == 0)
        *ival = p.mem_bytes;
    else if (strcmp(name, "lamina.cache-hits") == 0)
        *ival = p.cache_hits;
    else if (strcmp(name, "lamina.cache-misses") == 0)
        *ival = p.cache_misses;
    else if (strcmp(name, "lamina.cache-inserts") == 0)
        *ival = p.cache_inserts;
    else if (strcmp(name, "lamina.cache-evictions") == 0)
        *ival = p.cache_evictions;
    else if (prop_level(name, "lamina.io-reads-at-level", p.num_levels, &level))
        *ival = p.io_reads[level];
    else if (prop_level(name, "lamina.io-bytes-at-level", p.num_levels, &level))
        *ival = p.io_bytes[level];
    else if (strcmp(name, "lamina.stall-micros") == 0)
        *ival = p.stall_micros;
    else if (strcmp(name, "lamina.live-bytes") == 0)
        *ival = p.live_bytes;
    else if (strcmp(name, "lamina.allocated-bytes") == 0)
        *ival = (uint64_t)mem_allocated();
    else if (strcmp(name, "lamina.sequence") == 0)
        *ival = p.sequence;
    else if (strcmp(name, "lamina.cache-bytes") == 0)
        *ival = p.cache_bytes;
    else if (strcmp(name, "lamina.open-tables") == 0)
        *ival = p.open_tables;
    else if (strcmp(name, "lamina.table-opens") == 0)
        *ival = p.table_opens;
    else if (strcmp(name, "lamina.trivial-moves") == 0)
        *ival = p.trivial_moves;
    else if (strcmp(name, "lamina.max-compaction-input-bytes") == 0)
        *ival = p.max_compaction_input;
    else if (strcmp(name, "lamina.running-compactions") == 0)
        *ival = (uint64_t)p.running_compactions;
    else
        return err_set(LAMINA_EINVAL, "unknown property \"%s\"", name);
    return 0;
}

LAMINA_API int lamina_property(lamina_db *db, const char *name, char **out)
{
    if (!db || !name || !out) return err_set(LAMINA_EINVAL, "lamina_property: NULL argument");
    *out = NULL;
    uint64_t ival = 0;
    double dval = 0;
    int kind;
    buf text = {0};
    int rc = prop_eval(db, name, &ival, &dval, &kind, &text);
    if (rc == 0 && kind == 0) rc = prop_printf(&text, "%" PRIu64, ival);
    if (rc == 0 && kind == 1) rc = prop_printf(&text, "%.3f", dval);
    if (rc == 0 && buf_append(&text, "", 1)) rc = LAMINA_ENOMEM;
    if (rc) {
        buf_free(&text);
        return rc == LAMINA_ENOMEM ? err_set(rc, "lamina_property: out of memory") : rc;
    }
    *out = (char *)text.data;
    return 0;
}

LAMINA_API int lamina_property_int(lamina_db *db, const char *name, uint64_t *out)
{
    if (!db || !name || !out) return err_set(LAMINA_EINVAL, "lamina_property_int: NULL argument");
    uint64_t ival = 0;
    double dval = 0;
    int kind;
    buf text = {0};
    int rc = prop_eval(db, name, &ival, &dval, &kind, &text);
    buf_free(&text);
    if (rc) return rc;
    if (kind == 2) return err_set(LAMINA_EINVAL, "property \"%s\" is text, not a number", name);
    *out = kind == 1 ? (uint64_t)dval : ival;
    return 0;
}

/* ---- The list of names (kvctl property --list) ------------------------------------------- */

#define P(name, kind, doc)                                                                         \
    {                                                                                              \
        name, kind, 0, doc                                                                         \
    }
#define L(name, kind, doc)                                                                         \
    {                                                                                              \
        name, kind, 1, doc                                                                         \
    }
static const lamina_property_desc prop_names[] = {
    P("lamina.stats", LAMINA_PROP_TEXT,
      "the summary table: per level shape and work, totals, state now, counters since open"),
    P("lamina.lookup-stats", LAMINA_PROP_TEXT, "point-lookup costs per level, since open"),
    P("lamina.recovery", LAMINA_PROP_TEXT, "what WAL recovery dropped at open"),
    P("lamina.compaction-policy", LAMINA_PROP_TEXT, "the compaction_policy in force, by name"),
    P("lamina.num-levels", LAMINA_PROP_INT, "the deepest level holding data + 1 (0: empty)"),
    P("lamina.levels-with-data", LAMINA_PROP_INT, "levels holding at least one table"),
    L("lamina.num-files-at-level", LAMINA_PROP_INT, "tables at level N"),
    L("lamina.bytes-at-level", LAMINA_PROP_INT, "table bytes at level N"),
    L("lamina.num-runs-at-level", LAMINA_PROP_INT, "sorted runs at level N"),
    P("lamina.total-runs", LAMINA_PROP_INT, "sorted runs over all levels"),
    P("lamina.live-bytes", LAMINA_PROP_INT, "bytes of all live tables"),
    P("lamina.memtable-bytes", LAMINA_PROP_INT, "memory of the active and immutable memtables"),
    P("lamina.allocated-bytes", LAMINA_PROP_INT, "jemalloc stats.allocated"),
    P("lamina.sequence", LAMINA_PROP_INT, "the last sequence number"),
    P("lamina.write-amp", LAMINA_PROP_RATIO,
      "bytes written by flushes and compactions per byte flushed (persisted)"),
    P("lamina.w-amp", LAMINA_PROP_RATIO, "the same as lamina.write-amp"),
    P("lamina.space-amp", LAMINA_PROP_RATIO, "live table bytes per byte of the deepest level"),
    L("lamina.compaction-bytes-read-at-level", LAMINA_PROP_INT,
      "bytes read by jobs whose output is level N (persisted)"),
    L("lamina.compaction-bytes-written-at-level", LAMINA_PROP_INT,
      "bytes written by jobs whose output is level N; level 0: flushes (persisted)"),
    L("lamina.compaction-count-at-level", LAMINA_PROP_INT,
      "jobs whose output is level N (persisted)"),
    L("lamina.compaction-micros-at-level", LAMINA_PROP_INT,
      "microseconds of jobs whose output is level N (persisted)"),
    P("lamina.user-bytes-written", LAMINA_PROP_INT,
      "key + value bytes of puts and deletes (persisted)"),
    P("lamina.bytes-flushed", LAMINA_PROP_INT, "table bytes written by flushes (persisted)"),
    P("lamina.flushes", LAMINA_PROP_INT, "memtable flushes (persisted)"),
    P("lamina.flush-micros", LAMINA_PROP_INT, "microseconds of flushes (persisted)"),
    P("lamina.compactions", LAMINA_PROP_INT, "compaction jobs, trivial moves excluded (persisted)"),
    P("lamina.compaction-bytes-read", LAMINA_PROP_INT, "bytes compactions read (persisted)"),
    P("lamina.compaction-bytes-written", LAMINA_PROP_INT,
      "bytes compactions wrote, flushes excluded (persisted)"),
    P("lamina.bytes-written", LAMINA_PROP_INT, "bytes flushes and compactions wrote (persisted)"),
    P("lamina.trivial-moves", LAMINA_PROP_INT,
      "compactions done by a MANIFEST edit alone (since open)"),
    P("lamina.max-compaction-input-bytes", LAMINA_PROP_INT,
      "largest input of one compaction not from level 0 (since open)"),
    P("lamina.running-compactions", LAMINA_PROP_INT, "compactions running now"),
    P("lamina.stall-micros", LAMINA_PROP_INT,
      "microseconds writes were delayed or stopped (since open)"),
    P("lamina.cache-hits", LAMINA_PROP_INT, "block cache hits (since open)"),
    P("lamina.cache-misses", LAMINA_PROP_INT, "block cache misses (since open)"),
    P("lamina.cache-inserts", LAMINA_PROP_INT, "blocks inserted in the block cache (since open)"),
    P("lamina.cache-evictions", LAMINA_PROP_INT,
      "blocks evicted from the block cache (since open)"),
    P("lamina.cache-bytes", LAMINA_PROP_INT, "bytes the block cache holds now"),
    P("lamina.open-tables", LAMINA_PROP_INT, "table readers open now"),
    P("lamina.table-opens", LAMINA_PROP_INT, "table files opened (since open)"),
    L("lamina.io-reads-at-level", LAMINA_PROP_INT,
      "data block reads from level N's files (since open)"),
    L("lamina.io-bytes-at-level", LAMINA_PROP_INT, "bytes of those reads (since open)"),
    P("lamina.lookups", LAMINA_PROP_INT, "point lookups that searched the tables (since open)"),
    L("lamina.lookup-runs-at-level", LAMINA_PROP_INT,
      "runs whose key range held a looked-up key (since open)"),
    L("lamina.filter-probes-at-level", LAMINA_PROP_INT, "Bloom filter probes (since open)"),
    L("lamina.filter-false-positives-at-level", LAMINA_PROP_INT,
      "filter probes passed for keys the table did not hold (since open)"),
    L("lamina.lookup-blocks-at-level", LAMINA_PROP_INT,
      "data blocks lookups searched (since open)"),
};
#undef P
#undef L

LAMINA_API size_t lamina_property_count(void)
{
    return sizeof(prop_names) / sizeof(prop_names[0]);
}

LAMINA_API const lamina_property_desc *lamina_property_describe(size_t i)
{
    return i < lamina_property_count() ? &prop_names[i] : NULL;
}
