/* test_prefix.c — prefix iterators (lamina_read_options.prefix): every move of a prefix scan,
 * with and without bounds, at a snapshot and after deletes, against a reference filter of a
 * full scan, over real keys spread across memtables and levels; and the proof that a prefix
 * scan neither opens nor reads a table whose key range cannot hold the prefix, nor, inside a
 * table, a data block its index places past the prefix. */
#include "engine/db_impl.h"
#include "helpers.h"
#include "util/fault.h"

TestSuite(prefix, .init = tdb_setup, .fini = tdb_teardown);

/* ---- Reference: the entries of a full scan ---------------------------------------------- */

struct kv {
    char *k, *v;
    size_t kl, vl;
};

struct ref {
    struct kv *e;
    size_t n, cap;
};

static void ref_push(struct ref *r, const void *k, size_t kl, const void *v, size_t vl)
{
    if (r->n == r->cap) {
        r->cap = r->cap ? 2 * r->cap : 1024;
        r->e = realloc(r->e, r->cap * sizeof(*r->e));
        cr_assert_not_null(r->e);
    }
    struct kv *e = &r->e[r->n++];
    e->k = malloc(kl + 1);
    e->v = malloc(vl + 1);
    cr_assert(e->k && e->v);
    memcpy(e->k, k, kl);
    memcpy(e->v, v, vl);
    e->kl = kl;
    e->vl = vl;
}

static void ref_free(struct ref *r)
{
    for (size_t i = 0; i < r->n; i++) {
        free(r->e[i].k);
        free(r->e[i].v);
    }
    free(r->e);
    memset(r, 0, sizeof(*r));
}

/* A full forward scan (no prefix, no bounds) at snap (NULL: the latest). */
static void ref_load(lamina_db *db, const lamina_snapshot *snap, struct ref *r)
{
    lamina_read_options ro;
    lamina_read_options_init(&ro);
    ro.snapshot = snap;
    lamina_iter *it;
    cr_assert_eq(lamina_iter_create(db, &ro, &it), LAMINA_OK);
    for (lamina_iter_seek_to_first(it); lamina_iter_valid(it); lamina_iter_next(it)) {
        size_t kl, vl;
        const void *k = lamina_iter_key(it, &kl), *v = lamina_iter_value(it, &vl);
        ref_push(r, k, kl, v, vl);
    }
    cr_assert_eq(lamina_iter_status(it), LAMINA_OK, "%s", lamina_errmsg(db));
    lamina_iter_destroy(it);
}

static int bytes_cmp(const void *a, size_t an, const void *b, size_t bn)
{
    int c = memcmp(a, b, an < bn ? an : bn);
    return c ? c : (an > bn) - (an < bn);
}

/* What a scan may see: keys starting with the prefix, within [lo, hi) (NULL: open). */
struct scope {
    const uint8_t *p;
    size_t pl;
    const uint8_t *lo, *hi;
    size_t lol, hil;
};

static int scope_holds(const struct scope *s, const struct kv *e)
{
    if (e->kl < s->pl || (s->pl && memcmp(e->k, s->p, s->pl) != 0)) return 0;
    if (s->lo && bytes_cmp(e->k, e->kl, s->lo, s->lol) < 0) return 0;
    if (s->hi && bytes_cmp(e->k, e->kl, s->hi, s->hil) >= 0) return 0;
    return 1;
}

/* The scope's entries are ref->e[*a .. *b) (an interval: the intersection of intervals). */
static void scope_range(const struct ref *r, const struct scope *s, size_t *a, size_t *b)
{
    size_t i = 0;
    while (i < r->n && !scope_holds(s, &r->e[i]))
        i++;
    *a = i;
    while (i < r->n && scope_holds(s, &r->e[i]))
        i++;
    *b = i;
    for (; i < r->n; i++)
        cr_assert(!scope_holds(s, &r->e[i]), "scope is not an interval");
}

/* ---- Checking an iterator against the reference --------------------------------------- */

struct probe {
    lamina_iter *it;
    const struct ref *r;
    size_t a, b;      /* the scope's entries */
    const char *what; /* for messages */
};

/* The iterator stands at entry pos, or is not valid when pos is SIZE_MAX. */
static void probe_expect(const struct probe *p, size_t pos, const char *move)
{
    cr_assert_eq(lamina_iter_status(p->it), LAMINA_OK, "%s: %s: status", p->what, move);
    if (pos == SIZE_MAX) {
        size_t kl = 0;
        const void *k = lamina_iter_valid(p->it) ? lamina_iter_key(p->it, &kl) : "";
        cr_assert(!lamina_iter_valid(p->it), "%s: %s: expected not valid, at %.*s", p->what, move,
                  (int)kl, (const char *)k);
        return;
    }
    const struct kv *e = &p->r->e[pos];
    cr_assert(lamina_iter_valid(p->it), "%s: %s: expected %.*s, not valid", p->what, move,
              (int)e->kl, e->k);
    size_t kl, vl;
    const void *k = lamina_iter_key(p->it, &kl), *v = lamina_iter_value(p->it, &vl);
    cr_assert(kl == e->kl && memcmp(k, e->k, kl) == 0, "%s: %s: expected %.*s, got %.*s", p->what,
              move, (int)e->kl, e->k, (int)kl, (const char *)k);
    cr_assert(vl == e->vl && memcmp(v, e->v, vl) == 0, "%s: %s: value of %.*s", p->what, move,
              (int)e->kl, e->k);
}

static size_t probe_step(const struct probe *p, size_t pos, int forward)
{
    if (forward) return pos + 1 < p->b ? pos + 1 : SIZE_MAX;
    return pos > p->a ? pos - 1 : SIZE_MAX;
}

/* A few steps from pos, switching direction once (LevelDB's DBIter's hardest moves). */
static void probe_walk(const struct probe *p, size_t pos, int forward, int steps)
{
    for (int s = 0; s < steps && pos != SIZE_MAX; s++) {
        int fwd = s == steps - 1 ? !forward : forward;
        cr_assert_eq(fwd ? lamina_iter_next(p->it) : lamina_iter_prev(p->it), LAMINA_OK);
        pos = probe_step(p, pos, fwd);
        probe_expect(p, pos, fwd ? "next" : "prev");
    }
}

static void probe_full_scans(const struct probe *p)
{
    size_t pos = p->a < p->b ? p->a : SIZE_MAX;
    lamina_iter_seek_to_first(p->it);
    probe_expect(p, pos, "seek_to_first");
    while (pos != SIZE_MAX) {
        lamina_iter_next(p->it);
        pos = probe_step(p, pos, 1);
        probe_expect(p, pos, "forward scan");
    }
    pos = p->a < p->b ? p->b - 1 : SIZE_MAX;
    lamina_iter_seek_to_last(p->it);
    probe_expect(p, pos, "seek_to_last");
    while (pos != SIZE_MAX) {
        lamina_iter_prev(p->it);
        pos = probe_step(p, pos, 0);
        probe_expect(p, pos, "backward scan");
    }
}

/* seek(t) and seek_for_prev(t), each followed by a short walk. */
static void probe_seeks(const struct probe *p, const void *t, size_t tl)
{
    size_t pos = SIZE_MAX;
    for (size_t i = p->a; i < p->b; i++)
        if (bytes_cmp(p->r->e[i].k, p->r->e[i].kl, t, tl) >= 0) {
            pos = i;
            break;
        }
    cr_assert_eq(lamina_iter_seek(p->it, t, tl), LAMINA_OK);
    probe_expect(p, pos, "seek");
    probe_walk(p, pos, 1, 4);
    pos = SIZE_MAX;
    for (size_t i = p->b; i-- > p->a;)
        if (bytes_cmp(p->r->e[i].k, p->r->e[i].kl, t, tl) <= 0) {
            pos = i;
            break;
        }
    cr_assert_eq(lamina_iter_seek_for_prev(p->it, t, tl), LAMINA_OK);
    probe_expect(p, pos, "seek_for_prev");
    probe_walk(p, pos, 0, 4);
}

/* One prefix scan (with the scope's bounds) at snap, checked in every direction. */
static void check_scope(lamina_db *db, const lamina_snapshot *snap, const struct ref *r,
                        const struct scope *s, rng *g)
{
    char what[160];
    snprintf(what, sizeof(what), "prefix \"%.*s\" (%zu bytes)%s%s%s", (int)s->pl,
             s->pl ? (const char *)s->p : "", s->pl, s->lo ? " lower" : "", s->hi ? " upper" : "",
             snap ? " at a snapshot" : "");
    lamina_read_options ro;
    lamina_read_options_init(&ro);
    ro.snapshot = snap;
    /* The prefix and bounds are copied at create: scribbled over once it exists. */
    uint8_t *pcopy = malloc(s->pl + 1);
    memcpy(pcopy, s->pl ? s->p : (const uint8_t *)"", s->pl);
    ro.prefix = pcopy;
    ro.prefix_len = s->pl;
    ro.lower_bound = s->lo;
    ro.lower_bound_len = s->lol;
    ro.upper_bound = s->hi;
    ro.upper_bound_len = s->hil;
    struct probe p = {.r = r, .what = what};
    cr_assert_eq(lamina_iter_create(db, &ro, &p.it), LAMINA_OK, "%s", lamina_errmsg(db));
    memset(pcopy, 0x5a, s->pl);
    free(pcopy);
    scope_range(r, s, &p.a, &p.b);
    probe_full_scans(&p);
    /* Targets inside, before and after the scope, and keys of the whole set. */
    probe_seeks(&p, "", 0);
    probe_seeks(&p, "\xff\xff\xff\xff", 4);
    if (s->pl) {
        probe_seeks(&p, s->p, s->pl);
        probe_seeks(&p, s->p, s->pl - 1);
    }
    for (int i = 0; i < 6 && r->n; i++) {
        size_t at = i % 2 && p.b > p.a ? p.a + rng_uniform(g, p.b - p.a) : rng_uniform(g, r->n);
        const struct kv *e = &r->e[at];
        char t[512];
        size_t tl = e->kl < sizeof(t) ? e->kl : sizeof(t);
        memcpy(t, e->k, tl);
        if (i >= 4 && tl) t[tl - 1] ^= 1; /* a key not in the set beside one that is */
        probe_seeks(&p, t, tl);
    }
    lamina_iter_destroy(p.it);
}

/* ---- Real keys across the tree ---------------------------------------------------------- */

/* The first max lines of the shared real key set, or 0 when it is not there. */
static size_t load_paths(char ***lines, size_t max)
{
    const char *root = getenv("LAMINA_SOURCE_ROOT");
    char path[1024];
    snprintf(path, sizeof(path), "%s/../shared/data/paths-1m.txt", root ? root : ".");
    FILE *f = fopen(path, "r");
    if (!f) return 0;
    char **v = malloc(max * sizeof(*v));
    cr_assert_not_null(v);
    size_t n = 0;
    char line[8192];
    while (n < max && fgets(line, sizeof(line), f)) {
        size_t len = strcspn(line, "\n");
        if (len == 0) continue;
        line[len] = 0;
        v[n] = strdup(line);
        cr_assert_not_null(v[n]);
        n++;
    }
    fclose(f);
    *lines = v;
    return n;
}

static void put_kv(lamina_db *db, const char *k, int gen)
{
    char v[64];
    int vl = snprintf(v, sizeof(v), "v%d-%zu", gen, strlen(k));
    tdb_put(db, k, strlen(k), v, (size_t)vl);
}

/* A prefix of a random key: up to (and with) one of its '/', or a cut anywhere. */
static size_t pick_prefix(rng *g, char **keys, size_t nkeys, uint8_t *out, size_t cap)
{
    const char *k = keys[rng_uniform(g, nkeys)];
    size_t n = strlen(k), cut = 1 + rng_uniform(g, n);
    if (rng_uniform(g, 3)) {
        size_t slashes[64], ns = 0;
        for (size_t i = 0; i < n && ns < 64; i++)
            if (k[i] == '/') slashes[ns++] = i + 1;
        if (ns) cut = slashes[rng_uniform(g, ns)];
    }
    if (cut > cap) cut = cap;
    memcpy(out, k, cut);
    return cut;
}

static void check_prefixes(lamina_db *db, const lamina_snapshot *snap, const struct ref *r,
                           char **keys, size_t nkeys, rng *g)
{
    /* Fixed shapes: empty, one byte, 0xff-ending, all 0xff, absent, before and after all keys. */
    static const struct {
        const char *p;
        size_t n;
    } fixed[] = {
        {"", 0},      {"/", 1},         {"/u", 2},           {"/usr/", 5},          {"/usr\xff", 5},
        {"/\xff", 2}, {"\xff", 1},      {"\xff\xff", 2},     {"/no/such/dir/", 13}, {"\x01", 1},
        {"~~~", 3},   {"/usr/lib/", 9}, {"/usr/share/", 11},
    };
    for (size_t i = 0; i < sizeof(fixed) / sizeof(fixed[0]); i++) {
        struct scope s = {.p = (const uint8_t *)fixed[i].p, .pl = fixed[i].n};
        check_scope(db, snap, r, &s, g);
    }
    /* Bounds alone, the same range as a prefix. */
    struct scope bounded = {
        .lo = (const uint8_t *)"/usr/lib/", .lol = 9, .hi = (const uint8_t *)"/usr/lib0", .hil = 9};
    check_scope(db, snap, r, &bounded, g);
    for (int round = 0; round < 24; round++) {
        uint8_t p[256], lo[256], hi[256];
        struct scope s = {.p = p};
        s.pl = pick_prefix(g, keys, nkeys, p, sizeof(p) - 1);
        if (round % 6 == 5) p[s.pl++] = 0xff; /* 0xff-ending */
        if (round % 3 == 1) {
            /* Bounds: inside the prefix's keys, around them, or missing them. */
            s.lol = pick_prefix(g, keys, nkeys, lo, sizeof(lo));
            s.hil = pick_prefix(g, keys, nkeys, hi, sizeof(hi));
            if (rng_uniform(g, 2)) {
                s.lol = s.pl < sizeof(lo) ? s.pl : sizeof(lo);
                memcpy(lo, p, s.lol);
                if (s.lol < sizeof(lo)) lo[s.lol++] = (uint8_t)rng_uniform(g, 256);
            }
            s.lo = lo;
            s.hi = rng_uniform(g, 2) ? hi : NULL;
        }
        check_scope(db, snap, r, &s, g);
    }
}

Test(prefix, prefix_scans_match_a_filtered_full_scan_over_real_keys)
{
    char **keys = NULL;
    size_t nkeys = load_paths(&keys, 100000);
    if (nkeys == 0) {
        cr_log_warn("shared/data/paths-1m.txt is absent (LAMINA_SOURCE_ROOT/../shared/data): "
                    "skipped");
        cr_skip_test("paths-1m.txt absent");
    }
    lamina_options o = tdb_small_options();
    o.write_buffer_size = 256 << 10;
    o.target_file_size_base = 128 << 10;
    o.max_bytes_for_level_base = 512 << 10;
    o.max_write_buffer_number = 4;
    lamina_db *db = tdb_open(T.path, &o);
    rng g;
    rng_seed(&g, 20261203);
    /* Shuffled, so every table spans many directories. */
    for (size_t i = nkeys; i > 1; i--) {
        size_t j = rng_uniform(&g, i);
        char *t = keys[i - 1];
        keys[i - 1] = keys[j];
        keys[j] = t;
    }
    for (size_t i = 0; i < nkeys; i++)
        put_kv(db, keys[i], 0);
    const lamina_snapshot *snap;
    cr_assert_eq(lamina_snapshot_create(db, &snap), LAMINA_OK);
    /* Overwrites and deletes after the snapshot: level 0, an immutable memtable if the flush is
     * still running, and the active memtable. */
    for (size_t i = 0; i < nkeys; i += 5)
        put_kv(db, keys[i], 1);
    for (size_t i = 3; i < nkeys; i += 7)
        cr_assert_eq(lamina_delete(db, NULL, keys[i], strlen(keys[i])), LAMINA_OK);
    int levels = 0;
    for (int l = 0; l < (int)tdb_prop(db, "lamina.num-levels"); l++) {
        char name[64];
        snprintf(name, sizeof(name), "lamina.num-files-at-level%d", l);
        levels += tdb_prop(db, name) > 0;
    }
    cr_assert_geq(levels, 2, "the keys should lie in several levels");
    cr_assert_gt(tdb_prop(db, "lamina.memtable-bytes"), 0);

    struct ref now = {0}, then = {0};
    ref_load(db, NULL, &now);
    ref_load(db, snap, &then);
    cr_assert_lt(now.n, then.n, "the deletes should show");
    check_prefixes(db, NULL, &now, keys, nkeys, &g);
    check_prefixes(db, snap, &then, keys, nkeys, &g);
    ref_free(&now);
    ref_free(&then);
    lamina_snapshot_release(db, snap);
    cr_assert_eq(lamina_close(db), LAMINA_OK);
    for (size_t i = 0; i < nkeys; i++)
        free(keys[i]);
    free(keys);
}

/* ---- Small, exact cases ---------------------------------------------------------------- */

Test(prefix, empty_prefix_and_a_caller_from_before_the_prefix_fields_see_everything)
{
    lamina_options o = tdb_small_options();
    lamina_db *db = tdb_open(T.path, &o);
    tdb_put(db, "a1", 2, "x", 1);
    tdb_put(db, "b1", 2, "x", 1);
    tdb_put(db, "b2", 2, "x", 1);
    lamina_read_options ro;
    lamina_read_options_init(&ro);
    ro.prefix = "b";
    ro.prefix_len = 1;
    cr_assert_eq(tdb_count(db, &ro), 2);
    ro.prefix_len = 0;
    cr_assert_eq(tdb_count(db, &ro), 3);
    /* Built against the header before prefix: the fields lie past its struct_size. */
    ro.prefix_len = 1;
    ro.struct_size = offsetof(lamina_read_options, prefix);
    cr_assert_eq(tdb_count(db, &ro), 3);
    ro.struct_size = sizeof(ro);
    ro.prefix = NULL;
    lamina_iter *it;
    cr_assert_eq(lamina_iter_create(db, &ro, &it), LAMINA_EINVAL);
    cr_assert_eq(lamina_close(db), LAMINA_OK);
}

/* ---- Tables outside the prefix are never opened or read -------------------------------- */

static size_t group_key(char *k, int group, int i)
{
    return (size_t)sprintf(k, "g%d/%06d", group, i);
}

static void put_group(lamina_db *db, int group, int n)
{
    char k[32], v[150];
    memset(v, 'v', sizeof(v));
    for (int i = 0; i < n; i++)
        tdb_put(db, k, group_key(k, group, i), v, sizeof(v));
}

Test(prefix, prefix_scan_opens_and_reads_no_table_outside_the_prefix)
{
    lamina_options o = tdb_small_options();
    o.level0_file_num_compaction_trigger = 100; /* level-0 runs stay where they are */
    o.level0_slowdown_writes_trigger = 200;
    o.level0_stop_writes_trigger = 300;
    lamina_db *db = tdb_open(T.path, &o);
    /* Groups 0-3 merged to the bottom, groups 4-7 one level-0 run each. */
    for (int g = 0; g < 4; g++)
        put_group(db, g, 600);
    cr_assert_eq(lamina_compact_range(db, NULL, 0, NULL, 0), LAMINA_OK, "%s", lamina_errmsg(db));
    for (int g = 4; g < 8; g++) {
        put_group(db, g, 300);
        cr_assert_eq(lamina_flush(db), LAMINA_OK);
    }
    cr_assert_eq(lamina_close(db), LAMINA_OK);
    /* Reopened: no table open, no block cached. Group 2 also gets memtable entries. */
    db = tdb_open(T.path, &o);
    char k[32];
    tdb_put(db, k, group_key(k, 2, 1000000), "new", 3);
    tdb_put(db, k, group_key(k, 6, 1000000), "new", 3);

    /* Every table whose key range misses ["g2/", "g20") becomes unreadable. */
    const char *prefix = "g2/";
    uint64_t seq;
    struct super_version *sv = db_sv_acquire(db, &seq);
    int outside = 0, inside = 0, outside_l0 = 0;
    for (int l = 0; l < sv->v->num_levels; l++)
        for (size_t r = 0; r < sv->v->levels[l].nruns; r++)
            for (size_t i = 0; i < sv->v->levels[l].runs[r].nfiles; i++) {
                const struct file_meta *f = sv->v->levels[l].runs[r].files[i];
                if (file_overlaps(f, "g2/", 3, "g20", 3) &&
                    bytes_cmp(f->smallest, f->smallest_len - 8, "g20", 3) != 0) {
                    inside++;
                    continue;
                }
                char part[32];
                snprintf(part, sizeof(part), "%06llu.sst", (unsigned long long)f->number);
                struct fault_rule rule = {.path_part = part, .err = EIO};
                cr_assert_eq(fault_add(&rule), 0, "more than 16 tables outside the prefix");
                outside++;
                outside_l0 += l == 0;
            }
    db_sv_release(sv);
    cr_assert_geq(outside_l0, 4, "level-0 runs outside the prefix: %d", outside_l0);
    cr_assert_gt(outside, outside_l0, "tables at the bottom outside the prefix");
    cr_assert_gt(inside, 0);
    uint64_t opens = tdb_prop(db, "lamina.table-opens");

    lamina_read_options ro;
    lamina_read_options_init(&ro);
    ro.prefix = prefix;
    ro.prefix_len = strlen(prefix);
    lamina_iter *it;
    cr_assert_eq(lamina_iter_create(db, &ro, &it), LAMINA_OK);
    int n = 0;
    for (lamina_iter_seek_to_first(it); lamina_iter_valid(it); lamina_iter_next(it), n++) {
        size_t kl;
        const char *key = lamina_iter_key(it, &kl);
        cr_assert(kl > 3 && memcmp(key, prefix, 3) == 0, "%.*s", (int)kl, key);
    }
    cr_assert_eq(lamina_iter_status(it), LAMINA_OK, "%s", lamina_errmsg(db));
    cr_assert_eq(n, 601);
    for (lamina_iter_seek_to_last(it); lamina_iter_valid(it); lamina_iter_prev(it))
        n--;
    cr_assert_eq(lamina_iter_status(it), LAMINA_OK, "%s", lamina_errmsg(db));
    cr_assert_eq(n, 0);
    /* Seeks before, after and inside the prefix. */
    lamina_iter_seek(it, "a", 1);
    cr_assert(lamina_iter_valid(it));
    cr_assert_eq(memcmp(lamina_iter_key(it, &(size_t){0}), "g2/000000", 9), 0);
    lamina_iter_seek(it, "g7", 2);
    cr_assert(!lamina_iter_valid(it));
    lamina_iter_seek_for_prev(it, "z", 1);
    cr_assert(lamina_iter_valid(it));
    cr_assert_eq(memcmp(lamina_iter_key(it, &(size_t){0}), "g2/1000000", 10), 0);
    lamina_iter_seek_for_prev(it, "g1", 2);
    cr_assert(!lamina_iter_valid(it));
    lamina_iter_seek(it, k, group_key(k, 2, 300));
    cr_assert(lamina_iter_valid(it));
    lamina_iter_seek_for_prev(it, k, group_key(k, 2, 300));
    cr_assert(lamina_iter_valid(it));
    cr_assert_eq(lamina_iter_status(it), LAMINA_OK, "%s", lamina_errmsg(db));
    lamina_iter_destroy(it);

    cr_assert_eq(fault_injected(), 0, "a table outside the prefix was opened or read");
    cr_assert_leq(tdb_prop(db, "lamina.table-opens") - opens, (uint64_t)inside);
    /* The rules bite: a full scan reaches those tables and fails. */
    lamina_read_options_init(&ro);
    cr_assert_eq(lamina_iter_create(db, &ro, &it), LAMINA_OK);
    for (lamina_iter_seek_to_first(it); lamina_iter_valid(it); lamina_iter_next(it))
        ;
    cr_assert_neq(lamina_iter_status(it), LAMINA_OK);
    lamina_iter_destroy(it);
    cr_assert_gt(fault_injected(), 0);
    fault_clear();
    cr_assert_eq(lamina_close(db), LAMINA_OK);
}

/* ---- Within a table: no data block past the prefix is read ------------------------------ */

static uint64_t data_reads(lamina_db *db)
{
    uint64_t n = 0;
    for (int l = 0; l < (int)tdb_prop(db, "lamina.num-levels"); l++) {
        char name[64];
        snprintf(name, sizeof(name), "lamina.io-reads-at-level%d", l);
        n += tdb_prop(db, name);
    }
    return n;
}

/* Data blocks read (cold cache) by a scan of prefix p, or, with p NULL, by a whole scan stopped
 * by hand at its first key starting with stop: one block more than the prefix scan needs. */
static uint64_t scan_reads(const lamina_options *o, const char *p, char stop, int reverse)
{
    lamina_db *db = tdb_open(T.path, o);
    uint64_t before = data_reads(db);
    lamina_read_options ro;
    lamina_read_options_init(&ro);
    ro.prefix = p;
    ro.prefix_len = p ? strlen(p) : 0;
    lamina_iter *it;
    cr_assert_eq(lamina_iter_create(db, &ro, &it), LAMINA_OK);
    int n = 0;
    for (reverse ? lamina_iter_seek_to_last(it) : lamina_iter_seek_to_first(it);
         lamina_iter_valid(it); reverse ? lamina_iter_prev(it) : lamina_iter_next(it)) {
        size_t kl;
        const char *k = lamina_iter_key(it, &kl);
        if (!p && k[0] == stop) break;
        n++;
    }
    cr_assert_eq(lamina_iter_status(it), LAMINA_OK, "%s", lamina_errmsg(db));
    cr_assert_eq(n, 1000);
    lamina_iter_destroy(it);
    uint64_t reads = data_reads(db) - before;
    cr_assert_eq(lamina_close(db), LAMINA_OK);
    return reads;
}

Test(prefix, prefix_scan_reads_no_data_block_past_the_prefix_in_a_table)
{
    lamina_options o = tdb_small_options();
    o.max_auto_readahead_size = 0; /* one read per data block */
    lamina_db *db = tdb_open(T.path, &o);
    char k[32], v[4000];
    memset(v, 'v', sizeof(v));
    /* "a" keys, then "c" keys; a0999's large value ends its data block, so the separator after
     * it, "c", lies past the "a" keys (upper bound "b") and before the "c0" keys (lower bound
     * "c0"): neither scan needs the block on the other side. */
    for (int i = 0; i < 1000; i++) {
        tdb_put(db, k, (size_t)sprintf(k, "a%04d", i), v, i == 999 ? sizeof(v) : 100);
        tdb_put(db, k, (size_t)sprintf(k, "c%04d", i), v, 100);
    }
    o.target_file_size_base = 64 << 20; /* one table: the blocks follow each other */
    cr_assert_eq(lamina_close(db), LAMINA_OK);
    db = tdb_open(T.path, &o);
    cr_assert_eq(lamina_compact_range(db, NULL, 0, NULL, 0), LAMINA_OK, "%s", lamina_errmsg(db));
    cr_assert_eq(lamina_close(db), LAMINA_OK);
    uint64_t by_hand = scan_reads(&o, NULL, 'c', 0), prefixed = scan_reads(&o, "a", 0, 0);
    cr_assert_gt(prefixed, 10);
    cr_assert_eq(prefixed + 1, by_hand, "forward: %llu reads with the prefix, %llu by hand",
                 (unsigned long long)prefixed, (unsigned long long)by_hand);
    by_hand = scan_reads(&o, NULL, 'a', 1);
    prefixed = scan_reads(&o, "c0", 0, 1);
    cr_assert_eq(prefixed + 1, by_hand, "backward: %llu reads with the prefix, %llu by hand",
                 (unsigned long long)prefixed, (unsigned long long)by_hand);
}
