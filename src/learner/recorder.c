/* fastai's Recorder (order 50): after every training batch the smoothed loss
 * and the lr; after every validation batch the valid loss (AvgLoss, weighted
 * by batch size) and the metrics; after every epoch one row of values
 * [train_loss, valid_loss, metrics...], where train_loss is the smoothed loss
 * at the end of the epoch (what fastai's table shows). */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "learner/learner_internal.h"

static char *dup_str(const char *s) {
    size_t n = strlen(s) + 1;
    char *d = malloc(n);
    if (d) memcpy(d, s, n);
    return d;
}

cg_recorder *cg_recorder_new(const cg_metric *metrics, int n_metrics) {
    cg_recorder *r = calloc(1, sizeof *r);
    if (!r) return NULL;
    r->n_cols = 2 + n_metrics;
    r->names = calloc((size_t)r->n_cols, sizeof *r->names);
    if (!r->names) goto fail;
    r->names[0] = dup_str("train_loss");
    r->names[1] = dup_str("valid_loss");
    for (int m = 0; m < n_metrics; m++) r->names[2 + m] = dup_str(metrics[m].name);
    for (int c = 0; c < r->n_cols; c++)
        if (!r->names[c]) goto fail;
    cg_smooth_loss_reset(&r->smooth, 0.98);
    return r;
fail:
    cg_recorder_free(r);
    return NULL;
}

void cg_recorder_free(cg_recorder *r) {
    if (!r) return;
    for (int c = 0; r->names && c < r->n_cols; c++) free(r->names[c]);
    free(r->names);
    free(r->losses);
    free(r->lrs);
    free(r->values);
    free(r->iters);
    free(r->seconds);
    free(r);
}

double cg_recorder_value(const cg_recorder *r, int epoch, int col) {
    if (!r || epoch < 0 || epoch >= r->n_epochs || col < 0 || col >= r->n_cols) return NAN;
    return r->values[(size_t)epoch * (size_t)r->n_cols + (size_t)col];
}

int cg_recorder_itemgot(const cg_recorder *r, int col, double *out) {
    for (int e = 0; e < r->n_epochs; e++) out[e] = cg_recorder_value(r, e, col);
    return r->n_epochs;
}

int cg_recorder_col(const cg_recorder *r, const char *name) {
    for (int c = 0; c < r->n_cols; c++)
        if (!strcmp(r->names[c], name)) return c;
    return -1;
}

/* ---- the callback ------------------------------------------------------- */

static cg_cb_result nomem(const char *what) {
    cg_fail(CG_ERR_NOMEM, "recorder: no memory for %s", what);
    return CG_CB_ERROR;
}

static cg_cb_result before_fit(cg_learner *learn, void *state) {
    cg_recorder *r = state;
    (void)learn;
    r->n_losses = 0;
    r->n_epochs = 0;
    cg_smooth_loss_reset(&r->smooth, r->smooth.beta);
    /* room for every epoch of this fit */
    if (learn->n_epoch > r->cap_epochs) {
        int cap = learn->n_epoch;
        double *values = realloc(r->values, (size_t)cap * (size_t)r->n_cols * sizeof *values);
        if (values) r->values = values;
        int64_t *iters = realloc(r->iters, (size_t)cap * sizeof *iters);
        if (iters) r->iters = iters;
        double *seconds = realloc(r->seconds, (size_t)cap * sizeof *seconds);
        if (seconds) r->seconds = seconds;
        if (!values || !iters || !seconds) return nomem("the epoch values");
        r->cap_epochs = cap;
    }
    return CG_CB_OK;
}

static cg_cb_result before_epoch(cg_learner *learn, void *state) {
    cg_recorder *r = state;
    (void)learn;
    r->cancel_train = r->cancel_valid = false;
    r->epoch_start = cg_learner_clock();
    return CG_CB_OK;
}

static cg_cb_result before_validate(cg_learner *learn, void *state) {
    cg_recorder *r = state;
    r->valid_total = r->valid_count = 0;
    for (int m = 0; m < learn->n_metrics; m++) cg_metric_reset(&learn->metrics[m]);
    return CG_CB_OK;
}

static cg_cb_result after_cancel_train(cg_learner *learn, void *state) {
    (void)learn;
    ((cg_recorder *)state)->cancel_train = true;
    return CG_CB_OK;
}

static cg_cb_result after_cancel_validate(cg_learner *learn, void *state) {
    (void)learn;
    ((cg_recorder *)state)->cancel_valid = true;
    return CG_CB_OK;
}

static cg_cb_result after_batch(cg_learner *learn, void *state) {
    cg_recorder *r = state;
    if (!learn->yb || !learn->loss) return CG_CB_OK; /* no loss: nothing to record */
    if (!learn->training) {
        double bs = (double)learn->yb->shape[0];
        r->valid_total += learn->loss_value * bs;
        r->valid_count += bs;
        for (int m = 0; m < learn->n_metrics; m++)
            if (cg_metric_accumulate(&learn->metrics[m], learn->pred, learn->yb) != CG_OK)
                return CG_CB_ERROR;
        return CG_CB_OK;
    }
    cg_smooth_loss_add(&r->smooth, learn->loss_value);
    if (r->n_losses == r->cap_losses) {
        int64_t cap = r->cap_losses ? 2 * r->cap_losses : 1024;
        double *losses = realloc(r->losses, (size_t)cap * sizeof *losses);
        if (losses) r->losses = losses;
        double *lrs = realloc(r->lrs, (size_t)cap * sizeof *lrs);
        if (lrs) r->lrs = lrs;
        if (!losses || !lrs) return nomem("the batch losses");
        r->cap_losses = cap;
    }
    learn->smooth_loss = cg_smooth_loss_value(&r->smooth);
    r->losses[r->n_losses] = learn->smooth_loss;
    r->lrs[r->n_losses] = cg_learner_current_lr(learn);
    r->n_losses++;
    return CG_CB_OK;
}

static cg_cb_result after_epoch(cg_learner *learn, void *state) {
    cg_recorder *r = state;
    if (r->n_epochs >= r->cap_epochs) return nomem("one more epoch");
    double *row = &r->values[(size_t)r->n_epochs * (size_t)r->n_cols];
    row[0] = r->cancel_train ? NAN : cg_smooth_loss_value(&r->smooth);
    row[1] = r->cancel_valid || r->valid_count == 0 ? NAN : r->valid_total / r->valid_count;
    for (int m = 0; m < learn->n_metrics; m++)
        row[2 + m] = r->cancel_valid ? NAN : cg_metric_value(&learn->metrics[m]);
    r->seconds[r->n_epochs] = cg_learner_clock() - r->epoch_start;
    r->iters[r->n_epochs] = r->smooth.count;
    r->n_epochs++;
    return CG_CB_OK;
}

cg_callback cg_recorder_callback(cg_recorder *r) {
    return (cg_callback){.name = "recorder",
                         .order = 50,
                         .state = r,
                         .before_fit = before_fit,
                         .before_epoch = before_epoch,
                         .before_validate = before_validate,
                         .after_cancel_train = after_cancel_train,
                         .after_cancel_validate = after_cancel_validate,
                         .after_batch = after_batch,
                         .after_epoch = after_epoch};
}
