/* range_del.c — gathers the range tombstones of a flush, a compaction or an iterator from their
 * sources (memtable lists, tables' cached lists) into one fragmented list. */
#include "engine/range_del.h"

#include "engine/db_impl.h"
#include "util/err.h"

/* Fragments what b holds into *out, or sets NULL when it holds nothing; frees b. */
static int db_range_dels_finish(range_del_builder *b, int rc, range_del_list **out)
{
    *out = NULL;
    if (rc == 0 && b->n) rc = range_del_builder_finish(b, out);
    range_del_builder_free(b);
    return rc;
}

int db_range_dels_memtable(memtable *mem, range_del_list **out)
{
    range_del_builder b;
    range_del_builder_init(&b);
    int rc = memtable_range_del_count(mem) ? memtable_range_dels(mem, &b) : 0;
    return db_range_dels_finish(&b, rc, out);
}

/* Adds the tombstones of files[first, end) of run r. */
static int db_range_dels_files(const struct run *r, size_t first, size_t end, range_del_builder *b)
{
    int rc = 0;
    for (size_t i = first; rc == 0 && i < end; i++) {
        table *t;
        const range_del_list *l;
        /* The version knows which tables hold any: the others are not opened. */
        if (!r->files[i]->range_dels) continue;
        rc = file_meta_table(r->files[i], &t);
        if (rc) break;
        rc = table_range_dels(t, &l);
        if (rc == 0) rc = range_del_builder_add_list(b, l);
        table_unref(t);
    }
    return rc;
}

int db_range_dels_runs(const struct run *runs, size_t n, range_del_list **out)
{
    range_del_builder b;
    range_del_builder_init(&b);
    int rc = 0;
    for (size_t i = 0; rc == 0 && i < n; i++)
        rc = db_range_dels_files(&runs[i], 0, runs[i].nfiles, &b);
    return db_range_dels_finish(&b, rc, out);
}

int db_range_dels_iter(struct super_version *sv, const struct table_read_options *ro,
                       range_del_list **out)
{
    range_del_builder b;
    range_del_builder_init(&b);
    int rc = memtable_range_dels(sv->mem, &b);
    for (size_t i = 0; rc == 0 && i < sv->nimm; i++)
        rc = memtable_range_dels(sv->imm[i], &b);
    const struct version *v = sv->v;
    for (int l = 0; rc == 0 && l < v->num_levels; l++) {
        for (size_t r = 0; rc == 0 && r < v->levels[l].nruns; r++) {
            size_t first, end;
            run_bounded_files(&v->levels[l].runs[r], ro, &first, &end);
            rc = db_range_dels_files(&v->levels[l].runs[r], first, end, &b);
        }
    }
    return db_range_dels_finish(&b, rc, out);
}

int db_range_dels_to_table(const range_del_list *l, table_builder *b)
{
    int rc = 0;
    for (size_t i = 0; rc == 0 && l && i < l->n; i++) {
        const struct range_del_frag *f = &l->frags[i];
        for (size_t s = 0; rc == 0 && s < f->nseqs; s++)
            rc = table_builder_add_range_del(b, f->begin, f->begin_len, f->end, f->end_len,
                                             f->seqs[s]);
    }
    return rc;
}
