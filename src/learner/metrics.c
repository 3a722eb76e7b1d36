/* Metrics: fastai's Metric protocol (reset / accumulate / value) and the
 * chapter's batch functions.  A plain batch function becomes fastai's
 * AvgMetric: each batch's value is weighted by its size, so the result over
 * the validation set is exact even when the last batch is short. */
#include <math.h>
#include <stdio.h>
#include <string.h>

#include "cgrad/autograd.h"
#include "cgrad/learner.h"
#include "cgrad/ops.h"

cg_tensor *cg_batch_accuracy(cg_tensor *pred, cg_tensor *target) {
    if (!pred || !target) return NULL;
    cg_scope_begin();
    /* preds = xb.sigmoid(); correct = (preds>0.5) == yb; correct.float().mean() */
    cg_tensor *correct = cg_eq(cg_gt_s(cg_sigmoid(pred), 0.5), target);
    cg_tensor *acc = cg_keep(cg_mean(cg_float(correct), NULL, 0, false));
    cg_scope_end();
    return acc;
}

/* flatten_check(inp.argmax(-1), targ): both flattened, same number of items. */
cg_tensor *cg_accuracy(cg_tensor *pred, cg_tensor *target) {
    if (!pred || !target) return NULL;
    cg_scope_begin();
    cg_tensor *acc = NULL;
    cg_tensor *guess = cg_flatten(cg_argmax(pred, -1, false), 0, -1);
    cg_tensor *targ = cg_flatten(target, 0, -1);
    if (guess && targ && cg_numel(guess) != cg_numel(targ)) {
        char a[64], b[64];
        cg_fail(CG_ERR_SHAPE, "accuracy: %lld predictions (pred %s) but %lld targets (target %s)",
                (long long)cg_numel(guess), cg_shape_str(pred, a, sizeof a),
                (long long)cg_numel(targ), cg_shape_str(target, b, sizeof b));
    } else {
        acc = cg_keep(cg_mean(cg_float(cg_eq(guess, targ)), NULL, 0, false));
    }
    cg_scope_end();
    return acc;
}

cg_tensor *cg_error_rate(cg_tensor *pred, cg_tensor *target) {
    if (!pred || !target) return NULL;
    cg_scope_begin();
    cg_tensor *err = cg_keep(cg_rsub_s(1.0, cg_accuracy(pred, target)));
    cg_scope_end();
    return err;
}

cg_metric cg_avg_metric(const char *name, cg_metric_fn func) {
    cg_metric m;
    memset(&m, 0, sizeof m);
    snprintf(m.name, sizeof m.name, "%s", name ? name : "metric");
    m.func = func;
    return m;
}

cg_metric cg_metric_batch_accuracy(void) { return cg_avg_metric("batch_accuracy", cg_batch_accuracy); }
cg_metric cg_metric_accuracy(void) { return cg_avg_metric("accuracy", cg_accuracy); }
cg_metric cg_metric_error_rate(void) { return cg_avg_metric("error_rate", cg_error_rate); }

cg_status cg_metric_by_name(const char *name, cg_metric *out) {
    if (name && !strcmp(name, "batch_accuracy")) *out = cg_metric_batch_accuracy();
    else if (name && !strcmp(name, "accuracy")) *out = cg_metric_accuracy();
    else if (name && !strcmp(name, "error_rate")) *out = cg_metric_error_rate();
    else
        return cg_fail(CG_ERR_VALUE, "unknown metric '%s' (known: batch_accuracy, accuracy, error_rate)",
                       name ? name : "(null)");
    return CG_OK;
}

void cg_metric_reset(cg_metric *m) {
    if (m->reset) {
        m->reset(m);
        return;
    }
    m->total = 0;
    m->count = 0;
}

cg_status cg_metric_accumulate(cg_metric *m, cg_tensor *pred, cg_tensor *target) {
    if (m->accumulate) return m->accumulate(m, pred, target);
    if (!m->func) return cg_fail(CG_ERR_STATE, "metric '%s' has neither func nor accumulate", m->name);
    if (!target || target->ndim < 1)
        return cg_fail(CG_ERR_SHAPE, "metric '%s': the target needs a batch dim", m->name);
    cg_no_grad_begin();
    cg_scope_begin();
    double v = 0;
    cg_tensor *batch_value = m->func(pred, target);
    cg_status st = batch_value ? cg_item(batch_value, &v) : cg_last_status();
    cg_scope_end();
    cg_no_grad_end();
    if (st != CG_OK) return st;
    double bs = (double)target->shape[0];
    m->total += v * bs;
    m->count += bs;
    return CG_OK;
}

double cg_metric_value(const cg_metric *m) {
    if (m->value) return m->value(m);
    return m->count > 0 ? m->total / m->count : NAN;
}
