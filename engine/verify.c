/* verify.c — lamina_verify: reads every block of every live table (data, index, filter,
 * properties) and checks checksums, entry decoding and key order (sst/table.h table_verify). */
#include "engine/db_impl.h"
#include "util/err.h"

LAMINA_API int lamina_verify(lamina_db *db, uint64_t *entries)
{
    if (!db) return err_set(LAMINA_EINVAL, "lamina_verify: NULL database");
    uint64_t seq, total = 0;
    struct super_version *sv = db_sv_acquire(db, &seq);
    int rc = 0;
    for (int l = 0; rc == 0 && l < sv->v->num_levels; l++) {
        const struct level *lv = &sv->v->levels[l];
        for (size_t r = 0; rc == 0 && r < lv->nruns; r++) {
            for (size_t f = 0; rc == 0 && f < lv->runs[r].nfiles; f++) {
                table *t;
                uint64_t n = 0;
                rc = file_meta_table(lv->runs[r].files[f], &t);
                if (rc == 0) {
                    rc = table_verify(t, &n);
                    table_unref(t);
                }
                total += n;
            }
        }
    }
    db_sv_release(sv);
    if (rc == 0 && entries) *entries = total;
    return rc;
}
