/* cat and stack. */
#include <stdlib.h>
#include <string.h>

#include "autograd/node.h"
#include "core/dispatch.h"

/* torch.cat's promotion over cgrad's dtypes: float32 > int64 > uint8 > bool
 * (cat([uint8, int64]) is int64, cat([bool, uint8]) is uint8). */
static cg_dtype promote(cg_dtype a, cg_dtype b) {
    static const int rank[CG_DTYPE_COUNT] = {[CG_BOOL] = 0, [CG_UINT8] = 1, [CG_INT64] = 2, [CG_FLOAT32] = 3};
    return rank[a] >= rank[b] ? a : b;
}

cg_tensor *cg_cat(cg_tensor *const *ts, int n, int dim) {
    if (!ts || n <= 0) {
        cg_fail(CG_ERR_VALUE, "cat: expects a non-empty list of tensors");
        return NULL;
    }
    for (int i = 0; i < n; i++)
        if (!ts[i]) {
            if (cg_last_status() == CG_OK) cg_fail(CG_ERR_VALUE, "cat: tensor %d is NULL", i);
            return NULL;
        }
    const cg_tensor *first = ts[0];
    if (first->ndim == 0) {
        cg_fail(CG_ERR_DIM, "cat: zero-dimensional tensor (item 0) cannot be concatenated");
        return NULL;
    }
    int d = cg_norm_dim(first, dim, "cat");
    if (d < 0) return NULL;
    int64_t shape[CG_MAX_DIMS];
    memcpy(shape, first->shape, sizeof shape);
    shape[d] = 0;
    cg_dtype dt = first->dtype;
    for (int i = 0; i < n; i++) {
        const cg_tensor *t = ts[i];
        bool ok = t->ndim == first->ndim;
        for (int k = 0; ok && k < t->ndim; k++) ok = k == d || t->shape[k] == first->shape[k];
        if (!ok) {
            char s1[128], s2[128];
            cg_fail(CG_ERR_SHAPE, "cat: tensor %d has shape %s, which does not match tensor 0's %s outside dim %d",
                    i, cg_shape_str(t, s1, sizeof s1), cg_shape_str(first, s2, sizeof s2), d);
            return NULL;
        }
        dt = promote(dt, t->dtype);
        shape[d] += t->shape[d];
    }
    cg_tensor *out = cg_tensor_new(dt, first->ndim, shape);
    if (!out) return NULL;
    int64_t off = 0;
    for (int i = 0; i < n; i++) {
        /* copy ts[i] into the slab of out it occupies */
        int64_t sh[CG_MAX_DIMS];
        memcpy(sh, out->shape, sizeof sh);
        sh[d] = ts[i]->shape[d];
        cg_tensor slab = *out;
        memcpy(slab.shape, sh, sizeof sh);
        slab.offset = out->offset + off * out->strides[d];
        cg_k_copy(&slab, ts[i]);
        off += ts[i]->shape[d];
    }
    cg_node *node = cg_record(CG_OP_CAT, out, n, ts);
    if (node) {
        node->iv[0] = d;
        node->n_iv = 1;
    }
    return out;
}

cg_tensor *cg_stack(cg_tensor *const *ts, int n, int dim) {
    if (!ts || n <= 0) {
        cg_fail(CG_ERR_VALUE, "stack: expects a non-empty list of tensors");
        return NULL;
    }
    for (int i = 0; i < n; i++)
        if (!ts[i]) {
            if (cg_last_status() == CG_OK) cg_fail(CG_ERR_VALUE, "stack: tensor %d is NULL", i);
            return NULL;
        }
    for (int i = 1; i < n; i++)
        if (!cg_same_shape(ts[i], ts[0])) {
            char s1[128], s2[128];
            cg_fail(CG_ERR_SHAPE, "stack: expects each tensor to be equal size, but got %s at entry 0 and %s at entry %d",
                    cg_shape_str(ts[0], s1, sizeof s1), cg_shape_str(ts[i], s2, sizeof s2), i);
            return NULL;
        }
    cg_scope_begin();
    cg_tensor **u = malloc((size_t)n * sizeof *u);
    if (!u) {
        cg_fail(CG_ERR_NOMEM, "stack: out of memory for %d tensors", n);
        return cg_scope_return(NULL);
    }
    cg_tensor *out = NULL;
    int i = 0;
    for (; i < n; i++)
        if (!(u[i] = cg_unsqueeze(ts[i], dim))) break;
    if (i == n) out = cg_cat(u, n, dim);
    free(u);
    return cg_scope_return(out);
}
