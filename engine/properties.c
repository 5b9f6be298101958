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
    uint64_t bytes[COMPACTION_MAX_LEVELS], written[COMPACTION_MAX_LEVELS];
    uint64_t live_bytes, total_runs, mem_bytes;
    int deepest;
    uint64_t user_bytes, wal_bytes, table_written, stall_micros, compaction_read;
    uint64_t flushes, compactions, cache_hits, cache_misses, cache_bytes, sequence;
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
        p->written[l] = atomic_load(&db->stats.level_bytes_written[l]);
        p->io_reads[l] = atomic_load_explicit(&db->io_levels[l].reads, memory_order_relaxed);
        p->io_bytes[l] = atomic_load_explicit(&db->io_levels[l].bytes, memory_order_relaxed);
        p->live_bytes += p->bytes[l];
        p->total_runs += p->runs[l];
        p->table_written += p->written[l];
    }
    p->deepest = version_deepest_level(v);
    p->mem_bytes = memtable_memory(sv->mem);
    for (size_t i = 0; i < sv->nimm; i++)
        p->mem_bytes += memtable_memory(sv->imm[i]);
    db_sv_release(sv);
    p->user_bytes = atomic_load(&db->stats.user_bytes);
    p->wal_bytes = atomic_load(&db->stats.wal_bytes);
    p->stall_micros = atomic_load(&db->stats.stall_micros);
    p->compaction_read = atomic_load(&db->stats.compaction_bytes_read);
    p->flushes = atomic_load(&db->stats.flushes);
    p->compactions = atomic_load(&db->stats.compactions);
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

/* Write amplification: bytes written to tables (flush + compaction) per byte of user data
 * (key + value bytes of puts and deletes); the WAL is reported apart. 0 before any write. */
static double prop_write_amp(const struct prop_snapshot *p)
{
    return p->user_bytes ? (double)p->table_written / (double)p->user_bytes : 0.0;
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

static int prop_stats_text(lamina_db *db, const struct prop_snapshot *p, buf *b)
{
    int rc = prop_printf(b, "%-6s %6s %7s %14s %16s\n", "level", "runs", "files", "bytes",
                         "bytes_written");
    for (int l = 0; rc == 0 && l < p->num_levels; l++) {
        if (!p->runs[l] && !p->written[l]) continue;
        rc = prop_printf(b, "%-6d %6zu %7zu %14" PRIu64 " %16" PRIu64 "\n", l, p->runs[l],
                         p->files[l], p->bytes[l], p->written[l]);
    }
    if (rc == 0)
        rc = prop_printf(b, "total  %6" PRIu64 " %7s %14" PRIu64 " %16" PRIu64 "\n", p->total_runs,
                         "", p->live_bytes, p->table_written);
    if (rc == 0)
        rc = prop_printf(b,
                         "user_bytes %" PRIu64 "  wal_bytes %" PRIu64 "  compaction_read %" PRIu64
                         "  flushes %" PRIu64 "  compactions %" PRIu64 "\n",
                         p->user_bytes, p->wal_bytes, p->compaction_read, p->flushes,
                         p->compactions);
    if (rc == 0)
        rc = prop_printf(b,
                         "trivial_moves %" PRIu64 "  max_compaction_input %" PRIu64
                         " (largest job not from level 0)  running_compactions %d\n",
                         p->trivial_moves, p->max_compaction_input, p->running_compactions);
    if (rc == 0)
        rc = prop_printf(b,
                         "open_tables %" PRIu64 " (max_open_files %" PRId64
                         ")  table_opens %" PRIu64 "  table_cache_hits %" PRIu64 "\n",
                         p->open_tables, p->max_open_tables, p->table_opens, p->table_hits);
    if (rc == 0)
        rc = prop_printf(b,
                         "w_amp %.3f (flush + compaction bytes / user key+value bytes)  "
                         "space_amp %.3f\n",
                         prop_write_amp(p), prop_space_amp(p));
    if (rc == 0)
        rc = prop_printf(b,
                         "cache hits %" PRIu64 " misses %" PRIu64 " inserts %" PRIu64
                         " evictions %" PRIu64 " bytes %" PRIu64 "  stall_micros %" PRIu64 "\n",
                         p->cache_hits, p->cache_misses, p->cache_inserts, p->cache_evictions,
                         p->cache_bytes, p->stall_micros);
    /* Data block reads from table files, per level (gets, iterators, compaction inputs). */
    for (int l = 0; rc == 0 && l < p->num_levels; l++)
        if (p->io_reads[l])
            rc = prop_printf(b, "io level %d reads %" PRIu64 " bytes %" PRIu64 "\n", l,
                             p->io_reads[l], p->io_bytes[l]);
    if (rc == 0)
        rc = prop_printf(b,
                         "memtable_bytes %" PRIu64 "  allocated_bytes %" PRIu64
                         "  sequence %" PRIu64 "  io %s%s  policy %d\n",
                         p->mem_bytes, (uint64_t)mem_allocated(), p->sequence,
                         db->opts.use_io_uring ? file_io_backend() : "pread",
                         db->opts.use_direct_reads ? "+direct" : "",
                         db->opts.compaction_policy);
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
    if (strcmp(name, "lamina.recovery") == 0) {
        *kind = 2;
        return prop_printf(text, "%s", db->recovery_note)
                   ? err_set(LAMINA_ENOMEM, "property: out of memory")
                   : 0;
    }
    *kind = 1;
    if (strcmp(name, "lamina.write-amp") == 0) {
        *dval = prop_write_amp(&p);
        return 0;
    }
    if (strcmp(name, "lamina.space-amp") == 0) {
        *dval = prop_space_amp(&p);
        return 0;
    }
    *kind = 0;
    if (strcmp(name, "lamina.num-levels") == 0)
        *ival = (uint64_t)(p.deepest + 1);
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
    else if (strcmp(name, "lamina.compactions") == 0)
        *ival = p.compactions;
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
