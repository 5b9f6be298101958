/* model.c — the Fluid LSM-tree's cost model (Dostoevsky, SIGMOD 2018, sections 3-4; Monkey,
 * SIGMOD 2017, for the filter allocation): steady-state shape, write amplification and
 * zero-result lookup cost for T, K, Z and a data volume. */
#include <math.h>
#include <string.h>

#include "compaction/model.h"
#include "lamina.h"
#include "util/err.h"

void model_params_from_policy(const struct policy *p, struct model_params *in)
{
    in->size_ratio = p->size_ratio;
    in->runs_per_level = p->runs_per_level;
    in->runs_last_level = p->runs_last_level;
    in->level1_bytes = p->level1_bytes;
}

/* Levels the data needs: the fewest L whose capacities C_1 + ... + C_L hold it (at least 1). */
static int model_levels(const struct model_params *in, double data)
{
    double sum = 0, cap = (double)in->level1_bytes;
    int l = 0;
    while (l < COMPACTION_MAX_LEVELS - 1) {
        l++;
        sum += cap;
        if (sum >= data) break;
        cap *= in->size_ratio;
    }
    return l;
}

/* False-positive rates per level for bits_per_key over the whole tree (Bloom: p = e^(-b ln^2 2)
 * for b bits per key). Uniform: the same p everywhere. Monkey: minimise sum runs_i * p_i for the
 * same memory; the Lagrangian gives p_i proportional to the entries of one run of level i,
 * p_i = c * n_i / runs_i, with ln c = -(M ln^2 2 + sum n_i ln(n_i / runs_i)) / N. Levels whose
 * p_i would reach 1 get no filter and the rest are solved again. */
static void model_fpr(const struct model_params *in, struct model_shape *out)
{
    const double ln2sq = log(2.0) * log(2.0);
    int L = out->levels;
    double n[COMPACTION_MAX_LEVELS], total = 0;
    for (int i = 1; i <= L; i++) {
        n[i] = (double)out->bytes[i] / (double)in->entry_bytes;
        total += n[i];
        out->fpr[i] = 1.0;
    }
    if (in->bits_per_key <= 0 || total <= 0) return;
    if (!in->monkey) {
        for (int i = 1; i <= L; i++)
            out->fpr[i] = exp(-in->bits_per_key * ln2sq);
        return;
    }
    double mem = in->bits_per_key * total * ln2sq; /* M ln^2 2, M in bits */
    int unfiltered[COMPACTION_MAX_LEVELS] = {0};
    for (int pass = 0; pass < L; pass++) {
        double nf = 0, s = 0;
        for (int i = 1; i <= L; i++) {
            if (unfiltered[i] || n[i] <= 0) continue;
            nf += n[i];
            s += n[i] * log(n[i] / out->max_runs[i]);
        }
        if (nf <= 0) return;
        double lnc = -(mem + s) / nf;
        int changed = 0;
        for (int i = 1; i <= L; i++) {
            if (unfiltered[i] || n[i] <= 0) continue;
            double p = exp(lnc) * n[i] / out->max_runs[i];
            out->fpr[i] = p < 1.0 ? p : 1.0;
            if (p >= 1.0) unfiltered[i] = changed = 1;
        }
        if (!changed) return;
    }
}

int model_predict(const struct model_params *in, struct model_shape *out)
{
    memset(out, 0, sizeof(*out));
    if (in->size_ratio < 2 || in->runs_per_level < 1 || in->runs_last_level < 1 ||
        in->level1_bytes == 0 || in->entry_bytes == 0)
        return err_set(LAMINA_EINVAL, "model: T >= 2, K, Z >= 1, level 1 and entry sizes > 0");
    const double t = in->size_ratio, k = in->runs_per_level, z = in->runs_last_level;
    double data = (double)in->entries * (double)in->entry_bytes;
    int L = in->levels > 0 ? in->levels : model_levels(in, data);
    if (L >= COMPACTION_MAX_LEVELS)
        return err_set(LAMINA_EINVAL, "model: more than %d levels", COMPACTION_MAX_LEVELS - 1);
    out->levels = L;
    double cap = (double)in->level1_bytes, upper = 0;
    for (int i = 1; i <= L; i++, cap *= t) {
        out->max_runs[i] = i < L ? in->runs_per_level : in->runs_last_level;
        out->capacity[i] = cap >= 1.8e19 ? UINT64_MAX : (uint64_t)cap;
        if (i < L) {
            out->bytes[i] = out->capacity[i];
            upper += cap;
        }
    }
    out->bytes[L] = data > upper ? (uint64_t)(data - upper) : 0;

    /* Dostoevsky's update cost: an entry is merged (T-1)/(K+1) times at each of levels
     * 1..L-1 and (T-1)/(Z+1) times at level L: O((T/K * (L-1) + T/Z) / B) block writes. */
    out->merges_per_entry = (t - 1) / (k + 1) * (L - 1) + (t - 1) / (z + 1);
    out->write_amp = 1.0 + out->merges_per_entry;
    double b = in->block_bytes ? (double)in->block_bytes / (double)in->entry_bytes : 1.0;
    out->update_cost = out->merges_per_entry / (b < 1.0 ? 1.0 : b);
    /* Worst case, every key updated: up to Z versions of it in the last level's runs, plus the
     * upper levels' 1/(T-1) of it (Dostoevsky: O(Z + 1/T)). */
    out->space_amp = z + 1.0 / (t - 1);
    out->runs_total = in->runs_per_level * (L - 1) + in->runs_last_level;
    model_fpr(in, out);
    /* A zero-result lookup probes every run's filter and reads a block per false positive:
     * R = sum over levels of runs_i * p_i. */
    for (int i = 1; i <= L; i++)
        out->zero_lookup_cost += out->max_runs[i] * out->fpr[i];
    return 0;
}
