/* Views (no copy) and copies: view/reshape, slice/select, permute, expand,
 * squeeze/unsqueeze, contiguous/clone/detach, dtype conversion, copy_. */
#include <string.h>

#include "autograd/node.h"
#include "core/dispatch.h"

/* A new view of t recorded as `op` (with integer arguments) when t needs grad. */
static cg_tensor *make_view(cg_tensor *t, cg_op op, int ndim, const int64_t *shape,
                            const int64_t *strides, int64_t offset, const int64_t *iv, int n_iv) {
    cg_tensor *v = cg_tensor_view_of(t, ndim, shape, strides, offset);
    if (!v) return NULL;
    cg_node *n = cg_record(op, v, 1, &t);
    if (n) {
        if (n_iv) memcpy(n->iv, iv, (size_t)n_iv * sizeof *iv);
        n->n_iv = n_iv;
    }
    return v;
}

/* Resolves one -1 in a requested shape and checks the element count. */
static cg_status infer_shape(const char *op, const cg_tensor *t, int ndim, const int64_t *req,
                             int64_t *shape) {
    if (ndim < 0 || ndim > CG_MAX_DIMS)
        return cg_fail(CG_ERR_SHAPE, "%s: %d dims requested; cgrad supports 0 to %d", op, ndim, CG_MAX_DIMS);
    int infer = -1;
    int64_t known = 1;
    char s1[128], s2[128];
    for (int d = 0; d < ndim; d++) {
        if (req[d] == -1) {
            if (infer >= 0) return cg_fail(CG_ERR_SHAPE, "%s: only one dimension can be -1", op);
            infer = d;
        } else if (req[d] < 0) {
            return cg_fail(CG_ERR_SHAPE, "%s: invalid size %lld at dim %d", op, (long long)req[d], d);
        } else {
            known *= req[d];
        }
        shape[d] = req[d];
    }
    int64_t n = cg_numel(t);
    if (infer >= 0) {
        if (known == 0 || n % known)
            return cg_fail(CG_ERR_SHAPE, "%s: shape %s is invalid for input of size %lld", op,
                           cg_dims_str(ndim, req, s1, sizeof s1), (long long)n);
        shape[infer] = n / known;
    } else if (known != n) {
        return cg_fail(CG_ERR_SHAPE, "%s: shape %s is invalid for input of shape %s (%lld elements)", op,
                       cg_dims_str(ndim, req, s1, sizeof s1), cg_shape_str(t, s2, sizeof s2), (long long)n);
    }
    return CG_OK;
}

cg_tensor *cg_view(cg_tensor *t, int ndim, const int64_t *req) {
    CG_CHECK_NULL(t);
    int64_t shape[CG_MAX_DIMS], strides[CG_MAX_DIMS];
    if (infer_shape("view", t, ndim, req, shape) != CG_OK) return NULL;
    if (!cg_is_contiguous(t)) {
        char s[128];
        cg_fail(CG_ERR_SHAPE,
                "view: the tensor of shape %s is not contiguous (a transposed or sliced view); "
                "use cg_reshape or cg_contiguous first",
                cg_shape_str(t, s, sizeof s));
        return NULL;
    }
    cg_contiguous_strides(ndim, shape, strides);
    return make_view(t, CG_OP_VIEW, ndim, shape, strides, t->offset, NULL, 0);
}

cg_tensor *cg_reshape(cg_tensor *t, int ndim, const int64_t *req) {
    CG_CHECK_NULL(t);
    if (cg_is_contiguous(t)) return cg_view(t, ndim, req);
    cg_scope_begin();
    cg_tensor *c = cg_contiguous(t);
    return cg_scope_return(cg_view(c, ndim, req));
}

cg_tensor *cg_flatten(cg_tensor *t, int start_dim, int end_dim) {
    CG_CHECK_NULL(t);
    if (t->ndim == 0) return cg_reshape(t, 1, (int64_t[]){1});
    int s = cg_norm_dim(t, start_dim, "flatten"), e = cg_norm_dim(t, end_dim, "flatten");
    if (s < 0 || e < 0) return NULL;
    if (s > e) {
        cg_fail(CG_ERR_DIM, "flatten: start_dim %d comes after end_dim %d", start_dim, end_dim);
        return NULL;
    }
    int64_t shape[CG_MAX_DIMS];
    int nd = 0;
    for (int d = 0; d < t->ndim; d++) {
        if (d <= s || d > e) shape[nd++] = t->shape[d];
        else shape[nd - 1] *= t->shape[d];
    }
    return cg_reshape(t, nd, shape);
}

cg_tensor *cg_slice(cg_tensor *t, int dim, int64_t start, int64_t stop, int64_t step) {
    CG_CHECK_NULL(t);
    int d = cg_norm_dim(t, dim, "slice");
    if (d < 0) return NULL;
    if (t->ndim == 0) {
        cg_fail(CG_ERR_DIM, "slice: a 0-d tensor has no dims to slice");
        return NULL;
    }
    if (step <= 0) {
        cg_fail(CG_ERR_VALUE, "slice: step must be positive, got %lld", (long long)step);
        return NULL;
    }
    int64_t size = t->shape[d];
    if (start < 0) start += size;
    if (stop != CG_END && stop < 0) stop += size;
    if (stop == CG_END || stop > size) stop = size;
    if (start < 0) start = 0;
    if (start > size) start = size;
    if (stop < start) stop = start;
    int64_t shape[CG_MAX_DIMS], strides[CG_MAX_DIMS];
    memcpy(shape, t->shape, sizeof shape);
    memcpy(strides, t->strides, sizeof strides);
    shape[d] = (stop - start + step - 1) / step;
    strides[d] = t->strides[d] * step;
    int64_t iv[4] = {d, start, step, 0};
    return make_view(t, CG_OP_SLICE, t->ndim, shape, strides, t->offset + start * t->strides[d], iv, 4);
}

cg_tensor *cg_select(cg_tensor *t, int dim, int64_t index) {
    CG_CHECK_NULL(t);
    int d = cg_norm_dim(t, dim, "select");
    if (d < 0) return NULL;
    if (t->ndim == 0) {
        cg_fail(CG_ERR_DIM, "select: a 0-d tensor cannot be indexed");
        return NULL;
    }
    int64_t size = t->shape[d], i = index < 0 ? index + size : index;
    if (i < 0 || i >= size) {
        char s[128];
        cg_fail(CG_ERR_DIM, "select: index %lld is out of bounds for dim %d with size %lld (shape %s)",
                (long long)index, d, (long long)size, cg_shape_str(t, s, sizeof s));
        return NULL;
    }
    int64_t shape[CG_MAX_DIMS], strides[CG_MAX_DIMS];
    int nd = 0;
    for (int k = 0; k < t->ndim; k++)
        if (k != d) {
            shape[nd] = t->shape[k];
            strides[nd++] = t->strides[k];
        }
    int64_t iv[4] = {d, i, 1, 1}; /* iv[3] = 1: the dim was removed */
    cg_tensor *v = make_view(t, CG_OP_SLICE, nd, shape, strides, t->offset + i * t->strides[d], iv, 4);
    cg_grad_fn_alias(v, "SelectBackward0");
    return v;
}

cg_tensor *cg_permute(cg_tensor *t, const int *dims) {
    CG_CHECK_NULL(t);
    int64_t shape[CG_MAX_DIMS], strides[CG_MAX_DIMS], iv[CG_MAX_DIMS];
    unsigned seen = 0;
    for (int k = 0; k < t->ndim; k++) {
        int d = cg_norm_dim(t, dims[k], "permute");
        if (d < 0) return NULL;
        if (seen & (1u << d)) {
            cg_fail(CG_ERR_DIM, "permute: dim %d is repeated", dims[k]);
            return NULL;
        }
        seen |= 1u << d;
        shape[k] = t->shape[d];
        strides[k] = t->strides[d];
        iv[k] = d;
    }
    return make_view(t, CG_OP_PERMUTE, t->ndim, shape, strides, t->offset, iv, t->ndim);
}

cg_tensor *cg_transpose(cg_tensor *t, int dim0, int dim1) {
    CG_CHECK_NULL(t);
    if (t->ndim < 2 && (dim0 == 0 || dim0 == -1) && (dim1 == 0 || dim1 == -1))
        return cg_view(t, t->ndim, t->shape);
    int a = cg_norm_dim(t, dim0, "transpose"), b = cg_norm_dim(t, dim1, "transpose");
    if (a < 0 || b < 0) return NULL;
    int dims[CG_MAX_DIMS];
    for (int k = 0; k < t->ndim; k++) dims[k] = k;
    dims[a] = b;
    dims[b] = a;
    cg_tensor *v = cg_permute(t, dims);
    cg_grad_fn_alias(v, "TransposeBackward0");
    return v;
}

cg_tensor *cg_t(cg_tensor *t) {
    CG_CHECK_NULL(t);
    if (t->ndim > 2) {
        char s[128];
        cg_fail(CG_ERR_DIM, "t: expects a tensor with <= 2 dims, got shape %s", cg_shape_str(t, s, sizeof s));
        return NULL;
    }
    cg_tensor *v = t->ndim < 2 ? cg_view(t, t->ndim, t->shape) : cg_transpose(t, 0, 1);
    cg_grad_fn_alias(v, "TBackward0");
    return v;
}

cg_tensor *cg_unsqueeze(cg_tensor *t, int dim) {
    CG_CHECK_NULL(t);
    int nd = t->ndim + 1, d = dim < 0 ? dim + nd : dim;
    if (d < 0 || d >= nd || nd > CG_MAX_DIMS) {
        char s[128];
        cg_fail(CG_ERR_DIM, "unsqueeze: dim %d is out of range for shape %s", dim, cg_shape_str(t, s, sizeof s));
        return NULL;
    }
    int64_t shape[CG_MAX_DIMS], strides[CG_MAX_DIMS];
    for (int k = 0, j = 0; k < nd; k++) {
        if (k == d) {
            shape[k] = 1;
            strides[k] = j < t->ndim ? t->strides[j] * t->shape[j] : 1;
        } else {
            shape[k] = t->shape[j];
            strides[k] = t->strides[j++];
        }
    }
    cg_tensor *v = make_view(t, CG_OP_VIEW, nd, shape, strides, t->offset, NULL, 0);
    cg_grad_fn_alias(v, "UnsqueezeBackward0");
    return v;
}

cg_tensor *cg_squeeze(cg_tensor *t, int dim) {
    CG_CHECK_NULL(t);
    int d = cg_norm_dim(t, dim, "squeeze");
    if (d < 0) return NULL;
    if (t->ndim == 0 || t->shape[d] != 1) return make_view(t, CG_OP_VIEW, t->ndim, t->shape, t->strides, t->offset, NULL, 0);
    int64_t shape[CG_MAX_DIMS], strides[CG_MAX_DIMS];
    int nd = 0;
    for (int k = 0; k < t->ndim; k++)
        if (k != d) {
            shape[nd] = t->shape[k];
            strides[nd++] = t->strides[k];
        }
    return make_view(t, CG_OP_VIEW, nd, shape, strides, t->offset, NULL, 0);
}

cg_tensor *cg_expand(cg_tensor *t, int ndim, const int64_t *req) {
    CG_CHECK_NULL(t);
    char s1[128], s2[128];
    if (ndim < t->ndim || ndim > CG_MAX_DIMS) {
        cg_fail(CG_ERR_SHAPE, "expand: cannot expand shape %s to %d dims", cg_shape_str(t, s1, sizeof s1), ndim);
        return NULL;
    }
    int64_t shape[CG_MAX_DIMS];
    int lead = ndim - t->ndim;
    for (int d = 0; d < ndim; d++) {
        int64_t have = d < lead ? 1 : t->shape[d - lead];
        shape[d] = req[d] == -1 ? have : req[d];
        if ((d < lead && req[d] == -1) || (have != 1 && shape[d] != have)) {
            cg_fail(CG_ERR_SHAPE, "expand: shape %s cannot be expanded to %s (dim %d)",
                    cg_shape_str(t, s1, sizeof s1), cg_dims_str(ndim, req, s2, sizeof s2), d);
            return NULL;
        }
    }
    cg_tensor *v = cg_expand_raw(t, ndim, shape);
    if (v) cg_record(CG_OP_EXPAND, v, 1, &t);
    return v;
}

/* ---- copies ---------------------------------------------------------------- */
static cg_tensor *copy_as(cg_tensor *t, cg_dtype dt) {
    cg_tensor *out = cg_tensor_new(dt, t->ndim, t->shape);
    if (!out) return NULL;
    cg_k_copy(out, t);
    if (dt == CG_FLOAT32 && t->dtype == CG_FLOAT32) cg_record(CG_OP_COPY, out, 1, &t);
    return out;
}

cg_tensor *cg_contiguous(cg_tensor *t) {
    CG_CHECK_NULL(t);
    if (cg_is_contiguous(t)) return cg_scope_adopt(cg_retain(t));
    return copy_as(t, t->dtype);
}

cg_tensor *cg_clone(cg_tensor *t) {
    CG_CHECK_NULL(t);
    return copy_as(t, t->dtype);
}

cg_tensor *cg_to_dtype(cg_tensor *t, cg_dtype dt) {
    CG_CHECK_NULL(t);
    if (dt < 0 || dt >= CG_DTYPE_COUNT) {
        cg_fail(CG_ERR_DTYPE, "to_dtype: invalid dtype %d", (int)dt);
        return NULL;
    }
    if (t->dtype == dt) return cg_scope_adopt(cg_retain(t));
    return copy_as(t, dt);
}
cg_tensor *cg_float(cg_tensor *t) { return cg_to_dtype(t, CG_FLOAT32); }
cg_tensor *cg_long(cg_tensor *t) { return cg_to_dtype(t, CG_INT64); }

cg_tensor *cg_detach(cg_tensor *t) {
    CG_CHECK_NULL(t);
    return cg_tensor_view_of(t, t->ndim, t->shape, t->strides, t->offset);
}

cg_status cg_copy_(cg_tensor *dst, const cg_tensor *src) {
    if (!dst || !src) return cg_fail(CG_ERR_VALUE, "copy_: NULL tensor");
    if (dst->requires_grad && cg_grad_enabled())
        return cg_fail(CG_ERR_GRAD, "copy_: in-place change of a tensor that requires grad; "
                                    "wrap parameter updates in cg_no_grad_begin/end");
    int nd;
    int64_t shape[CG_MAX_DIMS];
    if (cg_broadcast_shapes("copy_", dst->ndim, dst->shape, src->ndim, src->shape, &nd, shape) != CG_OK)
        return CG_ERR_SHAPE;
    if (nd != dst->ndim || memcmp(shape, dst->shape, (size_t)nd * sizeof *shape)) {
        char s1[128], s2[128];
        return cg_fail(CG_ERR_SHAPE, "copy_: source shape %s does not broadcast to destination shape %s",
                       cg_shape_str(src, s1, sizeof s1), cg_shape_str(dst, s2, sizeof s2));
    }
    cg_scope_begin();
    cg_tensor *e = cg_expand_raw(src, dst->ndim, dst->shape);
    if (e) cg_k_copy(dst, e);
    cg_scope_end();
    return e ? CG_OK : cg_last_status();
}
