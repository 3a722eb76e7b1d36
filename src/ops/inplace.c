/* In-place updates for optimizer steps and no-grad edits
 * (`params.data -= lr * params.grad`, `weights[0] *= 1.0001`, `fill_`). */
#include "cgrad/autograd.h"
#include "cgrad/ops.h"
#include "core/dispatch.h"
#include "core/internal.h"

static cg_status check_inplace(const char *op, cg_tensor *t, const cg_tensor *src, bool need_src) {
    if (!t || (need_src && !src))
        return cg_fail(CG_ERR_VALUE, "%s: NULL tensor", op);
    if (t->requires_grad && cg_grad_enabled())
        return cg_fail(CG_ERR_GRAD,
                       "%s: a leaf tensor that requires grad is being changed in place; wrap "
                       "the update in cg_no_grad_begin()/cg_no_grad_end()", op);
    if (t->dtype != CG_FLOAT32)
        return cg_fail(CG_ERR_DTYPE, "%s: in-place arithmetic needs a float32 tensor, got %s", op,
                       cg_dtype_name(t->dtype));
    return CG_OK;
}

static cg_status inplace(const char *op, cg_binary_op kop, cg_tensor *t, const cg_tensor *src,
                         double alpha) {
    cg_status st = check_inplace(op, t, src, true);
    if (st != CG_OK) return st;
    int nd;
    int64_t shape[CG_MAX_DIMS];
    if (cg_broadcast_shapes(op, t->ndim, t->shape, src->ndim, src->shape, &nd, shape) != CG_OK)
        return CG_ERR_SHAPE;
    for (int d = 0; d < nd; d++)
        if (nd != t->ndim || shape[d] != t->shape[d]) {
            char s1[128], s2[128];
            return cg_fail(CG_ERR_SHAPE, "%s: source shape %s does not broadcast to %s", op,
                           cg_shape_str(src, s1, sizeof s1), cg_shape_str(t, s2, sizeof s2));
        }
    cg_scope_begin();
    cg_tensor *s = cg_cast_raw((cg_tensor *)src, CG_FLOAT32);
    if (s && alpha != 1.0) {
        cg_tensor *scaled = cg_tensor_new(CG_FLOAT32, s->ndim, s->shape);
        if (scaled) cg_k_unary(CG_U_AFFINE, scaled, s, alpha, 0);
        s = scaled;
    }
    cg_tensor *e = s ? cg_expand_raw(s, t->ndim, t->shape) : NULL;
    if (e) cg_k_binary(kop, t, t, e, 0, 0);
    cg_scope_end();
    return e ? CG_OK : cg_last_status();
}

cg_status cg_add_(cg_tensor *t, const cg_tensor *src) { return inplace("add_", CG_B_ADD, t, src, 1); }
cg_status cg_sub_(cg_tensor *t, const cg_tensor *src) { return inplace("sub_", CG_B_SUB, t, src, 1); }
cg_status cg_mul_(cg_tensor *t, const cg_tensor *src) { return inplace("mul_", CG_B_MUL, t, src, 1); }
cg_status cg_axpy_(cg_tensor *t, double alpha, const cg_tensor *src) {
    /* The optimizer's hot path: same-shape contiguous float32, one fused loop. */
    if (t && src && t->dtype == CG_FLOAT32 && src->dtype == CG_FLOAT32 && cg_same_shape(t, src) &&
        cg_is_contiguous(t) && cg_is_contiguous(src)) {
        cg_status st = check_inplace("axpy_", t, src, true);
        if (st != CG_OK) return st;
        cg_backend_of(t)->axpy(cg_data(t), cg_data(src), cg_numel(t), alpha);
        return CG_OK;
    }
    return inplace("axpy_", CG_B_ADD, t, src, alpha);
}
cg_status cg_mul_s_(cg_tensor *t, double s) {
    cg_status st = check_inplace("mul_s_", t, NULL, false);
    if (st != CG_OK) return st;
    cg_k_unary(CG_U_AFFINE, t, t, s, 0);
    return CG_OK;
}

cg_status cg_fill_(cg_tensor *t, double value) {
    if (!t) return cg_fail(CG_ERR_VALUE, "fill_: NULL tensor");
    if (t->requires_grad && cg_grad_enabled()) /* PyTorch refuses this for leaves too */
        return cg_fail(CG_ERR_GRAD, "fill_: in-place change of a tensor that requires grad; "
                                    "wrap it in cg_no_grad_begin()/cg_no_grad_end()");
    cg_k_fill(t, value);
    return CG_OK;
}
cg_status cg_zero_(cg_tensor *t) { return cg_fill_(t, 0); }
