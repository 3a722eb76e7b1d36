/* log_softmax (fused and stable), softmax, nll_loss, cross_entropy and
 * binary cross-entropy with logits. */
#include <math.h>
#include <string.h>

#include "autograd/node.h"
#include "core/dispatch.h"

cg_tensor *cg_log_softmax(cg_tensor *t, int dim) {
    CG_CHECK_NULL(t);
    if (t->dtype != CG_FLOAT32) {
        cg_fail(CG_ERR_DTYPE, "log_softmax: expects float32, got %s", cg_dtype_name(t->dtype));
        return NULL;
    }
    int d = cg_norm_dim(t, dim, "log_softmax");
    if (d < 0) return NULL;
    cg_scope_begin();
    /* Move `dim` last, run the row kernel, move it back. */
    int last = t->ndim ? t->ndim - 1 : 0;
    cg_no_grad_begin();
    cg_tensor *x = t->ndim ? cg_transpose(t, d, last) : t;
    cg_tensor *xc = x ? cg_contiguous(x) : NULL;
    cg_no_grad_end();
    cg_tensor *y = xc ? cg_tensor_new(CG_FLOAT32, xc->ndim, xc->shape) : NULL;
    if (!y) return cg_scope_return(NULL);
    int64_t cols = t->ndim ? xc->shape[last] : 1;
    cg_backend_of(y)->log_softmax_rows(cg_data(y), cg_data(xc), cg_numel(xc) / (cols ? cols : 1), cols);
    cg_tensor *out = y;
    if (t->ndim && d != last) {
        cg_tensor *back = cg_tensor_view_of(y, y->ndim, y->shape, y->strides, 0);
        if (!back) return cg_scope_return(NULL);
        int64_t tmp = back->shape[d];
        back->shape[d] = back->shape[last], back->shape[last] = tmp;
        tmp = back->strides[d];
        back->strides[d] = back->strides[last], back->strides[last] = tmp;
        out = cg_contiguous(back);
    }
    if (!out) return cg_scope_return(NULL);
    cg_node *n = cg_record(CG_OP_LOG_SOFTMAX, out, 1, &t);
    if (n) {
        n->iv[0] = d;
        n->n_iv = 1;
    }
    return cg_scope_return(out);
}

cg_tensor *cg_softmax(cg_tensor *t, int dim) {
    CG_CHECK_NULL(t);
    cg_scope_begin();
    return cg_scope_return(cg_exp(cg_log_softmax(t, dim)));
}

/* nll_loss(logp [N,C], target int64 [N]) = -mean(logp[i, target[i]]). */
static cg_tensor *nll_loss(cg_tensor *logp, cg_tensor *target) {
    CG_CHECK_NULL(logp, target); /* log_softmax refused the logits: keep its message */
    int64_t n = logp->shape[0], c = logp->shape[1];
    cg_scope_begin();
    cg_tensor *lp = NULL, *tg = NULL;
    cg_no_grad_begin();
    lp = cg_contiguous(logp);
    tg = cg_contiguous(target);
    cg_no_grad_end();
    cg_tensor *out = lp && tg ? cg_tensor_new(CG_FLOAT32, 0, NULL) : NULL;
    if (!out) return cg_scope_return(NULL);
    int64_t bad = cg_backend_of(out)->nll_loss(cg_data(out), cg_data(lp), cg_data(tg), n, c);
    if (bad >= 0) {
        int64_t y; /* the bad target, copied to the host exactly */
        cg_backend_of(tg)->to_host(&y, (const int64_t *)cg_data(tg) + bad, sizeof y);
        cg_fail(CG_ERR_VALUE, "cross_entropy: target %lld at row %lld is out of range for %lld classes",
                (long long)y, (long long)bad, (long long)c);
        return cg_scope_return(NULL);
    }
    cg_node *node = cg_record(CG_OP_NLL_LOSS, out, 1, &logp);
    if (node) cg_node_save(node, tg);
    return cg_scope_return(out);
}

cg_tensor *cg_cross_entropy(cg_tensor *logits, cg_tensor *target) {
    CG_CHECK_NULL(logits, target);
    char s1[128], s2[128];
    if (logits->ndim != 2 || target->ndim != 1 || target->shape[0] != logits->shape[0]) {
        cg_fail(CG_ERR_SHAPE, "cross_entropy: expects logits [N, C] and target [N], got %s and %s",
                cg_shape_str(logits, s1, sizeof s1), cg_shape_str(target, s2, sizeof s2));
        return NULL;
    }
    if (target->dtype != CG_INT64 && target->dtype != CG_UINT8) {
        cg_fail(CG_ERR_DTYPE, "cross_entropy: target must hold class indices (int64), got %s",
                cg_dtype_name(target->dtype));
        return NULL;
    }
    cg_scope_begin();
    cg_tensor *tg = cg_long(target);
    return cg_scope_return(nll_loss(cg_log_softmax(logits, 1), tg));
}

/* Stable form: max(x,0) - x*y + log(1 + exp(-|x|)), averaged. */
cg_tensor *cg_bce_with_logits(cg_tensor *x, cg_tensor *y) {
    CG_CHECK_NULL(x, y);
    if (!cg_same_shape(x, y)) { /* like PyTorch: no silent broadcasting of targets */
        char s1[128], s2[128];
        cg_fail(CG_ERR_SHAPE, "bce_with_logits: target shape %s must match input shape %s",
                cg_shape_str(y, s1, sizeof s1), cg_shape_str(x, s2, sizeof s2));
        return NULL;
    }
    cg_scope_begin();
    cg_tensor *yf = cg_float(y);
    cg_tensor *soft = cg_log(cg_add_s(cg_exp(cg_neg(cg_abs(x))), 1.0));
    cg_tensor *loss = cg_add(cg_sub(cg_relu(x), cg_mul(x, yf)), soft);
    return cg_scope_return(cg_mean(loss, NULL, 0, false));
}

cg_tensor *cg_l1_loss(cg_tensor *pred, cg_tensor *target) {
    CG_CHECK_NULL(pred, target);
    cg_scope_begin();
    return cg_scope_return(cg_mean(cg_abs(cg_sub(pred, target)), NULL, 0, false));
}

cg_tensor *cg_mse_loss(cg_tensor *pred, cg_tensor *target) {
    CG_CHECK_NULL(pred, target);
    cg_scope_begin();
    return cg_scope_return(cg_mean(cg_pow_s(cg_sub(pred, target), 2), NULL, 0, false));
}
