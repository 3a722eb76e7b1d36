/* Reductions: sum, mean, max/min (values and indices) over any dims. */
#include <math.h>
#include <string.h>

#include "autograd/node.h"
#include "core/dispatch.h"

/* Turns a dim list into a bit mask over t's dims (all dims when n == 0). */
static cg_status dims_mask(const cg_tensor *t, const int *dims, int n, const char *op, unsigned *mask) {
    *mask = 0;
    if (!dims || n == 0) {
        *mask = t->ndim ? (1u << t->ndim) - 1 : 0;
        return CG_OK;
    }
    for (int i = 0; i < n; i++) {
        int d = cg_norm_dim(t, dims[i], op);
        if (d < 0) return CG_ERR_DIM;
        if (t->ndim == 0) continue;
        if (*mask & (1u << d))
            return cg_fail(CG_ERR_DIM, "%s: dim %d appears more than once in the dim list", op, dims[i]);
        *mask |= 1u << d;
    }
    return CG_OK;
}

/* Output shape with keepdim (reduced dims set to 1) and without. */
static int reduced_shape(const cg_tensor *t, unsigned mask, bool keepdim, int64_t *shape) {
    int nd = 0;
    for (int d = 0; d < t->ndim; d++) {
        if (!((mask >> d) & 1)) shape[nd++] = t->shape[d];
        else if (keepdim) shape[nd++] = 1;
    }
    return nd;
}

/* Sum or mean; both record with iv[0] = mask, iv[1] = keepdim. */
static cg_tensor *sum_or_mean(cg_tensor *t, const int *dims, int n, bool keepdim, bool mean) {
    CG_CHECK_NULL(t);
    const char *name = mean ? "mean" : "sum";
    unsigned mask;
    if (dims_mask(t, dims, n, name, &mask) != CG_OK) return NULL;
    if (mean && t->dtype != CG_FLOAT32) {
        cg_fail(CG_ERR_DTYPE, "mean: input dtype should be float32, got %s (call cg_float first)",
                cg_dtype_name(t->dtype));
        return NULL;
    }
    int64_t kshape[CG_MAX_DIMS], oshape[CG_MAX_DIMS], count = 1;
    reduced_shape(t, mask, true, kshape);
    int ond = reduced_shape(t, mask, keepdim, oshape);
    for (int d = 0; d < t->ndim; d++)
        if ((mask >> d) & 1) count *= t->shape[d];
    /* integer sums stay integers and are exact: torch.arange(0,100000).sum() is 4999950000 */
    cg_dtype acc_dt = !mean && t->dtype != CG_FLOAT32 ? CG_INT64 : CG_FLOAT32;
    cg_scope_begin();
    cg_tensor *ft = cg_cast_raw(t, acc_dt);
    cg_tensor *out = ft ? cg_tensor_new(acc_dt, t->ndim, kshape) : NULL;
    if (!out) return cg_scope_return(NULL);
    cg_k_reduce(CG_R_SUM, out, NULL, ft, mask);
    if (mean) {
        if (count == 0) cg_k_fill(out, NAN);
        else cg_k_unary(CG_U_AFFINE, out, out, 1.0 / (double)count, 0);
    }
    /* out is fresh and contiguous: dropping size-1 dims needs no view */
    out->ndim = ond;
    memcpy(out->shape, oshape, sizeof oshape);
    cg_contiguous_strides(ond, oshape, out->strides);
    if (acc_dt == CG_INT64) return cg_scope_return(out);
    cg_node *node = cg_record(mean ? CG_OP_MEAN : CG_OP_SUM, out, 1, &t);
    if (node && dims && n > 0) /* PyTorch's overload with a dim list */
        node->alias = mean ? "MeanBackward1" : "SumBackward1";
    if (node) {
        node->iv[0] = mask;
        node->iv[1] = keepdim;
        node->n_iv = 2;
    }
    return cg_scope_return(out);
}

cg_tensor *cg_sum(cg_tensor *t, const int *dims, int n, bool keepdim) {
    return sum_or_mean(t, dims, n, keepdim, false);
}
cg_tensor *cg_mean(cg_tensor *t, const int *dims, int n, bool keepdim) {
    return sum_or_mean(t, dims, n, keepdim, true);
}

/* max/min over one dim or everything; returns values (and indices in *index). */
static cg_tensor *extreme(cg_tensor *t, int dim, bool keepdim, bool is_max, cg_tensor **index) {
    CG_CHECK_NULL(t);
    const char *name = is_max ? "max" : "min";
    unsigned mask;
    if (dim == CG_ALL_DIMS) {
        dims_mask(t, NULL, 0, name, &mask);
    } else {
        int d = cg_norm_dim(t, dim, name);
        if (d < 0) return NULL;
        mask = t->ndim ? 1u << d : 0;
    }
    if (cg_numel(t) == 0) {
        cg_fail(CG_ERR_SHAPE, "%s: cannot reduce an empty tensor", name);
        return NULL;
    }
    int64_t kshape[CG_MAX_DIMS], oshape[CG_MAX_DIMS];
    reduced_shape(t, mask, true, kshape);
    int ond = reduced_shape(t, mask, keepdim, oshape);
    /* integers compare exactly in int64: tensor([16777217, 3]).max() is 16777217 */
    cg_dtype cmp_dt = t->dtype == CG_FLOAT32 ? CG_FLOAT32 : CG_INT64;
    cg_scope_begin();
    cg_tensor *ft = cg_cast_raw(t, cmp_dt);
    cg_tensor *out = ft ? cg_tensor_new(cmp_dt, t->ndim, kshape) : NULL;
    cg_tensor *idx = out ? cg_tensor_new(CG_INT64, t->ndim, kshape) : NULL;
    if (!idx) return cg_scope_return(NULL);
    cg_k_reduce(is_max ? CG_R_MAX : CG_R_MIN, out, idx, ft, mask);
    cg_tensor *res[2] = {out, idx};
    for (int k = 0; k < 2; k++) {
        res[k]->ndim = ond;
        memcpy(res[k]->shape, oshape, sizeof oshape);
        cg_contiguous_strides(ond, oshape, res[k]->strides);
    }
    if (t->dtype != CG_FLOAT32) {
        out = cg_cast_raw(out, t->dtype);
    } else {
        cg_node *node = cg_record(is_max ? CG_OP_MAX_DIM : CG_OP_MIN_DIM, out, 1, &t);
        if (node) {
            cg_node_save(node, idx);
            node->iv[0] = mask;
            node->iv[1] = keepdim;
            node->n_iv = 2;
        }
    }
    if (index) *index = cg_keep(idx);
    return cg_scope_return(out);
}

cg_tensor *cg_max(cg_tensor *t, int dim, bool keepdim) { return extreme(t, dim, keepdim, true, NULL); }
cg_tensor *cg_min(cg_tensor *t, int dim, bool keepdim) { return extreme(t, dim, keepdim, false, NULL); }

static cg_tensor *arg_extreme(cg_tensor *t, int dim, bool keepdim, bool is_max) {
    cg_tensor *idx = NULL;
    cg_scope_begin();
    cg_no_grad_begin();
    cg_tensor *v = extreme(t, dim, keepdim, is_max, &idx);
    cg_no_grad_end();
    (void)v;
    return cg_scope_return(idx);
}
cg_tensor *cg_argmax(cg_tensor *t, int dim, bool keepdim) { return arg_extreme(t, dim, keepdim, true); }
cg_tensor *cg_argmin(cg_tensor *t, int dim, bool keepdim) { return arg_extreme(t, dim, keepdim, false); }
