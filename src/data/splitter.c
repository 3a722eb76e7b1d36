/* fastai's RandomSplitter(valid_pct, seed) (fastai/data/transforms.py):
 *
 *     def _inner(o):
 *         if seed is not None: torch.manual_seed(seed)
 *         rand_idx = L(list(torch.randperm(len(o)).numpy()))
 *         cut = int(valid_pct * len(o))
 *         return rand_idx[cut:], rand_idx[:cut]
 *
 * cg_randperm is torch.randperm's draw for draw, so the same seed gives the same
 * split (tests/support/split_reference.py prints torch's).  See dataset.h. */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "cgrad/dataset.h"
#include "cgrad/random.h"

cg_status cg_random_split(int64_t n, double valid_pct, bool seeded, uint64_t seed, int64_t **train,
                          int64_t *n_train, int64_t **valid, int64_t *n_valid) {
    if (!train || !n_train || !valid || !n_valid)
        return cg_fail(CG_ERR_VALUE, "random split: NULL output");
    *train = *valid = NULL;
    *n_train = *n_valid = 0;
    if (!(valid_pct > 0.0 && valid_pct < 1.0))
        return cg_fail(CG_ERR_VALUE, "random split: valid_pct must be between 0 and 1 (exclusive), "
                       "got %g", valid_pct);
    if (n < 1) return cg_fail(CG_ERR_VALUE, "random split: nothing to split (%lld items)", (long long)n);
    int64_t cut = (int64_t)(valid_pct * (double)n); /* Python's int(): toward zero */
    cg_generator local;
    if (seeded) cg_generator_init(&local, seed); /* torch.manual_seed(seed) */
    cg_scope_begin();
    cg_tensor *perm = cg_randperm(seeded ? &local : NULL, n);
    cg_status st = perm ? CG_OK : cg_last_status();
    int64_t *t = NULL, *v = NULL;
    if (st == CG_OK) {
        t = malloc((size_t)(n - cut ? n - cut : 1) * sizeof *t);
        v = malloc((size_t)(cut ? cut : 1) * sizeof *v);
        if (!t || !v) st = cg_fail(CG_ERR_NOMEM, "random split: out of memory for %lld items", (long long)n);
    }
    if (st == CG_OK) {
        const int64_t *p = cg_data(perm);
        memcpy(v, p, (size_t)cut * sizeof *v);
        memcpy(t, p + cut, (size_t)(n - cut) * sizeof *t);
        *train = t, *n_train = n - cut;
        *valid = v, *n_valid = cut;
    } else {
        free(t);
        free(v);
    }
    cg_scope_end();
    return st;
}
