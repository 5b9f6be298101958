/* super_version.c — what a reader pins: the memtables and version of one moment (RocksDB's
 * SuperVersion), installed by the writer and background threads, acquired by readers. */
#include "engine/db_impl.h"
#include "util/alloc.h"

struct super_version *db_install_super_version(lamina_db *db)
{
    struct super_version *sv = mem_alloc(sizeof(*sv));
    memtable **imm = db->nimm ? mem_alloc(db->nimm * sizeof(*imm)) : NULL;
    if (!sv || (db->nimm && !imm)) {
        mem_free(sv);
        mem_free(imm);
        return NULL;
    }
    atomic_init(&sv->refs, 1);
    sv->mem = db->mem;
    memtable_ref(sv->mem);
    sv->nimm = db->nimm;
    sv->imm = imm;
    for (size_t i = 0; i < db->nimm; i++) {
        imm[i] = db->imm[db->nimm - 1 - i].mem;
        memtable_ref(imm[i]);
    }
    sv->v = db->vs.current;
    version_ref(sv->v);
    pthread_mutex_lock(&db->sv_mu);
    struct super_version *old = db->sv;
    db->sv = sv;
    pthread_mutex_unlock(&db->sv_mu);
    return old;
}

struct super_version *db_sv_acquire(lamina_db *db, uint64_t *seq)
{
    /* sv_mu, not mu: readers never queue behind writers or background work. The sequence
     * number is read under it too: a write into a memtable newer than this super version can
     * only be published after that memtable's super version is installed (under sv_mu). */
    pthread_mutex_lock(&db->sv_mu);
    struct super_version *sv = db->sv;
    atomic_fetch_add_explicit(&sv->refs, 1, memory_order_relaxed);
    *seq = atomic_load_explicit(&db->last_sequence, memory_order_acquire);
    pthread_mutex_unlock(&db->sv_mu);
    return sv;
}

void db_sv_release(struct super_version *sv)
{
    if (!sv || atomic_fetch_sub_explicit(&sv->refs, 1, memory_order_acq_rel) != 1) return;
    memtable_unref(sv->mem);
    for (size_t i = 0; i < sv->nimm; i++)
        memtable_unref(sv->imm[i]);
    version_unref(sv->v);
    mem_free(sv->imm);
    mem_free(sv);
}

