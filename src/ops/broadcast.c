/* Broadcasting helpers shared by the ops and their derivative rules. */
#include <string.h>

#include "cgrad/ops.h"
#include "core/dispatch.h"
#include "core/internal.h"

cg_status cg_broadcast_shapes(const char *op, int na, const int64_t *sa, int nb,
                              const int64_t *sb, int *nout, int64_t *sout) {
    int n = na > nb ? na : nb;
    for (int i = 0; i < n; i++) { /* i counts dims from the right */
        int64_t x = i < na ? sa[na - 1 - i] : 1, y = i < nb ? sb[nb - 1 - i] : 1;
        if (x != y && x != 1 && y != 1) {
            char s1[128], s2[128];
            return cg_fail(CG_ERR_SHAPE,
                           "%s: shapes %s and %s cannot be broadcast (dim %d: %lld vs %lld)", op,
                           cg_dims_str(na, sa, s1, sizeof s1), cg_dims_str(nb, sb, s2, sizeof s2),
                           -1 - i, (long long)x, (long long)y);
        }
        sout[n - 1 - i] = x == 1 ? y : x;
    }
    *nout = n;
    return CG_OK;
}

cg_tensor *cg_expand_raw(const cg_tensor *t, int ndim, const int64_t *shape) {
    int64_t strides[CG_MAX_DIMS];
    int lead = ndim - t->ndim;
    for (int d = 0; d < ndim; d++) {
        int sd = d - lead;
        strides[d] = (sd < 0 || t->shape[sd] == 1) && shape[d] != 1 ? 0 : (sd < 0 ? 0 : t->strides[sd]);
    }
    return cg_tensor_view_of(t, ndim, shape, strides, t->offset);
}

cg_tensor *cg_sum_to_shape(cg_tensor *g, int ndim, const int64_t *shape) {
    if (g->ndim == ndim && !memcmp(g->shape, shape, (size_t)ndim * sizeof *shape))
        return cg_scope_adopt(cg_retain(g));
    int dims[CG_MAX_DIMS], n = 0, lead = g->ndim - ndim;
    for (int d = 0; d < g->ndim; d++)
        if (d < lead || (shape[d - lead] == 1 && g->shape[d] != 1)) dims[n++] = d;
    cg_scope_begin();
    cg_tensor *s = cg_sum(g, dims, n, true);
    cg_tensor *r = cg_reshape(s, ndim, shape);
    return cg_scope_return(r);
}

cg_tensor *cg_cast_raw(cg_tensor *t, cg_dtype dt) {
    if (t->dtype == dt) return cg_scope_adopt(cg_retain(t));
    cg_tensor *out = cg_tensor_new(dt, t->ndim, t->shape);
    if (out) cg_k_copy(out, t);
    return out;
}
