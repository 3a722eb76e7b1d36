/* nn/loss.c — the chapter's mnist_loss, fastai's LabelSmoothingCrossEntropy
 * and the named loss table.
 *
 * Each loss returns a 0-d float32 tensor (mean reduction), a new reference,
 * with its temporaries released in a scope of its own. */
#include <stdio.h>
#include <string.h>

#include "cgrad/nn.h"
#include "cgrad/ops.h"

/* Hands y (made in our scope) to the caller's scope, then closes ours. */
static cg_tensor *finish(cg_tensor *y) {
    if (y) cg_keep(y);
    cg_scope_end();
    return y;
}

/* target as float32 with pred's shape when the element counts agree
 * ([N] against [N,1]); otherwise as is, so the op reports the mismatch. */
static cg_tensor *float_target_like(cg_tensor *pred, cg_tensor *target) {
    cg_tensor *t = target->dtype == CG_FLOAT32 ? target : cg_float(target);
    if (t && cg_numel(t) == cg_numel(pred) && t->ndim != pred->ndim) t = cg_reshape(t, pred->ndim, pred->shape);
    return t;
}

cg_tensor *cg_mnist_loss(cg_tensor *pred, cg_tensor *target) {
    if (!pred || !target) return NULL;
    cg_scope_begin();
    /* predictions = predictions.sigmoid()
     * return torch.where(targets==1, 1-predictions, predictions).mean() */
    cg_tensor *p = cg_sigmoid(pred);
    cg_tensor *y = cg_mean(cg_where(cg_eq_s(target, 1.0), cg_rsub_s(1.0, p), p), NULL, 0, false);
    return finish(y);
}

cg_tensor *cg_bce_loss(cg_tensor *pred, cg_tensor *target) {
    if (!pred || !target) return NULL;
    cg_scope_begin();
    return finish(cg_bce_with_logits(pred, float_target_like(pred, target)));
}

cg_tensor *cg_cross_entropy_loss(cg_tensor *pred, cg_tensor *target) {
    if (!pred || !target) return NULL;
    cg_scope_begin();
    cg_tensor *t = target;
    if (t->ndim == 2 && t->shape[1] == 1) t = cg_flatten(t, 0, -1); /* [N,1] -> [N] */
    if (t && t->dtype != CG_INT64) t = cg_long(t);
    return finish(cg_cross_entropy(pred, t));
}

/* fastai's LabelSmoothingCrossEntropy(eps, reduction='mean') (fastai/losses.py):
 *     log_preds = F.log_softmax(output, dim=-1)               [N, C]
 *     loss = -log_preds.sum(dim=-1).mean()
 *     return loss*eps/c + (1-eps) * F.nll_loss(log_preds, target)
 * the nll term is F.cross_entropy(output, target) (the same log_softmax).  It
 * equals F.cross_entropy(output, target, label_smoothing=eps): the target
 * distribution is (1-eps) one-hot + eps/C, so d loss / d output[n] =
 * (softmax(output[n]) - (1-eps) onehot - eps/C) / N. */
cg_tensor *cg_label_smoothing_cross_entropy(cg_tensor *pred, cg_tensor *target, double eps) {
    if (!pred || !target) return NULL;
    if (!(eps >= 0 && eps <= 1)) {
        cg_fail(CG_ERR_VALUE, "label_smoothing: eps must be in [0, 1], got %g", eps);
        return NULL;
    }
    if (pred->ndim != 2 || pred->shape[1] < 1) {
        cg_fail(CG_ERR_SHAPE, "label_smoothing: expects logits [N, C], got %d dims", pred->ndim);
        return NULL;
    }
    cg_scope_begin();
    cg_tensor *t = target;
    if (t->ndim == 2 && t->shape[1] == 1) t = cg_flatten(t, 0, -1); /* [N,1] -> [N] */
    if (t && t->dtype != CG_INT64) t = cg_long(t);
    double c = (double)pred->shape[1];
    cg_tensor *spread = cg_neg(cg_mean(cg_sum(cg_log_softmax(pred, -1), (int[]){-1}, 1, false), NULL, 0, false));
    cg_tensor *y = cg_add(cg_mul_s(spread, eps / c), cg_mul_s(cg_cross_entropy(pred, t), 1.0 - eps));
    return finish(y);
}

/* the table's entry: fastai's default eps */
static cg_tensor *label_smoothing_loss(cg_tensor *pred, cg_tensor *target) {
    return cg_label_smoothing_cross_entropy(pred, target, CG_LABEL_SMOOTHING_EPS);
}

static cg_tensor *mse_loss(cg_tensor *pred, cg_tensor *target) {
    if (!pred || !target) return NULL;
    cg_scope_begin();
    return finish(cg_mse_loss(pred, float_target_like(pred, target)));
}

static cg_tensor *l1_loss(cg_tensor *pred, cg_tensor *target) {
    if (!pred || !target) return NULL;
    cg_scope_begin();
    return finish(cg_l1_loss(pred, float_target_like(pred, target)));
}

static cg_tensor *softmax_last(cg_tensor *pred) { return cg_softmax(pred, -1); }

static const cg_loss losses[] = {
    {"mnist_loss", cg_mnist_loss, cg_sigmoid},
    {"cross_entropy", cg_cross_entropy_loss, softmax_last},
    {"label_smoothing", label_smoothing_loss, softmax_last},
    {"bce", cg_bce_loss, cg_sigmoid},
    {"mse", mse_loss, NULL},
    {"l1", l1_loss, NULL},
};

const cg_loss *cg_losses(int *n) {
    if (n) *n = (int)(sizeof losses / sizeof losses[0]);
    return losses;
}

const cg_loss *cg_loss_by_name(const char *name) {
    for (size_t i = 0; name && i < sizeof losses / sizeof losses[0]; i++)
        if (!strcmp(name, losses[i].name)) return &losses[i];
    cg_fail(CG_ERR_VALUE, "unknown loss '%s' (known: mnist_loss, cross_entropy, label_smoothing, bce, mse, l1)",
            name ? name : "(null)");
    return NULL;
}
