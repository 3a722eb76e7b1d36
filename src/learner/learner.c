/* The Learner: fastai's training loop as a nest of stages, each wrapped in
 * its events (Learner._with_events):
 *
 *     before_<stage>; body; [after_cancel_<stage> if the body was cancelled]; after_<stage>
 *
 * A stage's body returns CG_CB_OK, a cancel code, or CG_CB_ERROR.  The cancel
 * code that belongs to the stage is "caught" there (after_cancel_ and after_
 * still run); any other non-OK code unwinds to the enclosing stage without its
 * after_ event, exactly as an uncaught exception would in Python. */
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "cgrad/autograd.h"
#include "cgrad/learner.h"
#include "learner/learner_internal.h"

double cg_learner_clock(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}

/* ---- callbacks ---------------------------------------------------------- */

cg_status cg_learner_add_cb(cg_learner *learn, const cg_callback *cb) {
    if (!learn || !cb) {
        if (cb && cb->free_state) cb->free_state(cb->state);
        return cg_fail(CG_ERR_VALUE, "learner: add_cb needs a learner and a callback");
    }
    if (learn->n_cbs == learn->cap_cbs) {
        int cap = learn->cap_cbs ? 2 * learn->cap_cbs : 8;
        cg_callback *grown = realloc(learn->cbs, (size_t)cap * sizeof *grown);
        if (!grown) {
            if (cb->free_state) cb->free_state(cb->state);
            return cg_fail(CG_ERR_NOMEM, "learner: no memory for %d callbacks", cap);
        }
        learn->cbs = grown;
        learn->cap_cbs = cap;
    }
    /* insert after every callback of the same or lower order: a stable sort */
    int at = learn->n_cbs;
    while (at > 0 && learn->cbs[at - 1].order > cb->order) at--;
    memmove(&learn->cbs[at + 1], &learn->cbs[at], (size_t)(learn->n_cbs - at) * sizeof *cb);
    learn->cbs[at] = *cb;
    learn->n_cbs++;
    return CG_OK;
}

cg_status cg_learner_remove_cb(cg_learner *learn, const char *name) {
    for (int i = 0; i < learn->n_cbs; i++) {
        if (!learn->cbs[i].name || strcmp(learn->cbs[i].name, name)) continue;
        cg_callback gone = learn->cbs[i];
        memmove(&learn->cbs[i], &learn->cbs[i + 1], (size_t)(learn->n_cbs - i - 1) * sizeof gone);
        learn->n_cbs--;
        if (gone.free_state) gone.free_state(gone.state);
        return CG_OK;
    }
    return cg_fail(CG_ERR_VALUE, "learner: no callback named '%s'", name);
}

/* Runs every callback's handler for ev in order; stops at the first non-OK. */
static cg_cb_result run_event(cg_learner *learn, cg_event ev) {
    for (int i = 0; i < learn->n_cbs; i++) {
        cg_cb_fn fn = cg_callback_fn(&learn->cbs[i], ev);
        if (!fn) continue;
        cg_cb_result r = fn(learn, learn->cbs[i].state);
        if (r != CG_CB_OK) return r;
    }
    return CG_CB_OK;
}

typedef cg_cb_result (*stage_body)(cg_learner *learn);

/* Learner._with_events(f, event_type, ex) */
static cg_cb_result with_events(cg_learner *learn, stage_body body, cg_event before,
                                cg_event after, cg_event after_cancel, cg_cb_result cancel) {
    cg_cb_result r = run_event(learn, before);
    if (r == CG_CB_OK) r = body(learn);
    if (r == cancel) r = run_event(learn, after_cancel);
    if (r != CG_CB_OK) return r;
    return run_event(learn, after);
}

/* ---- one batch ---------------------------------------------------------- */

/* The graph is freed as the backward goes (PyTorch's default): an
 * activation's memory comes back once the backward is past it, so the
 * gradients made later reuse it instead of adding to the peak. */
static cg_cb_result do_backward(cg_learner *learn) {
    return cg_backward_once(learn->loss, NULL) == CG_OK ? CG_CB_OK : CG_CB_ERROR;
}

static cg_cb_result do_step(cg_learner *learn) {
    return cg_optimizer_step(learn->opt) == CG_OK ? CG_CB_OK : CG_CB_ERROR;
}

/* Learner._do_one_batch */
static cg_cb_result do_one_batch(cg_learner *learn) {
    learn->pred = cg_module_forward(learn->model, learn->xb);
    if (!learn->pred) return CG_CB_ERROR;
    cg_cb_result r = run_event(learn, CG_EV_AFTER_PRED);
    if (r != CG_CB_OK) return r;
    if (learn->yb) {
        learn->loss = learn->loss_func.fn(learn->pred, learn->yb);
        if (!learn->loss) return CG_CB_ERROR;
        if (cg_item(learn->loss, &learn->loss_value) != CG_OK) return CG_CB_ERROR;
    }
    r = run_event(learn, CG_EV_AFTER_LOSS);
    if (r != CG_CB_OK) return r;
    if (!learn->training || !learn->yb) return CG_CB_OK;
    r = with_events(learn, do_backward, CG_EV_BEFORE_BACKWARD, CG_EV_AFTER_BACKWARD,
                    CG_EV_AFTER_CANCEL_BACKWARD, CG_CB_CANCEL_BACKWARD);
    if (r != CG_CB_OK) return r;
    r = with_events(learn, do_step, CG_EV_BEFORE_STEP, CG_EV_AFTER_STEP, CG_EV_AFTER_CANCEL_STEP,
                    CG_CB_CANCEL_STEP);
    if (r != CG_CB_OK) return r;
    cg_optimizer_zero_grad(learn->opt);
    return CG_CB_OK;
}

/* Learner.one_batch; the counters are fastai's TrainEvalCallback.after_batch,
 * which runs first in after_batch (order -10). */
static cg_cb_result one_batch(cg_learner *learn) {
    cg_cb_result r = run_event(learn, CG_EV_BEFORE_BATCH);
    if (r == CG_CB_OK) r = do_one_batch(learn);
    if (r == CG_CB_CANCEL_BATCH) r = run_event(learn, CG_EV_AFTER_CANCEL_BATCH);
    if (r != CG_CB_OK) return r;
    if (learn->training) {
        learn->pct_train += 1.0 / ((double)learn->n_iter * learn->n_epoch);
        learn->train_iter++;
    }
    return run_event(learn, CG_EV_AFTER_BATCH);
}

/* Learner.all_batches: every batch of learn->dl, each in its own scope. */
static cg_cb_result all_batches(cg_learner *learn) {
    learn->n_iter = cg_dataloader_len(learn->dl);
    cg_cb_result r = CG_CB_OK;
    for (int64_t i = 0;; i++) {
        cg_scope_begin();
        cg_tensor *xb = NULL, *yb = NULL;
        if (!cg_dataloader_next(learn->dl, &xb, &yb)) {
            cg_scope_end();
            if (cg_dataloader_status(learn->dl) != CG_OK) r = CG_CB_ERROR;
            break;
        }
        learn->iter = i;
        learn->xb = xb;
        learn->yb = yb;
        learn->pred = learn->loss = NULL;
        learn->loss_value = NAN;
        r = one_batch(learn);
        learn->xb = learn->yb = learn->pred = learn->loss = NULL;
        cg_scope_end();
        if (r != CG_CB_OK) {
            /* leaving mid-epoch: the loader's next epoch must start afresh */
            cg_status keep = cg_last_status();
            char msg[1024];
            snprintf(msg, sizeof msg, "%s", cg_last_error());
            cg_dataloader_reset(learn->dl);
            if (r == CG_CB_ERROR) cg_fail(keep, "%s", msg);
            break;
        }
    }
    return r;
}

/* ---- epochs and the fit ------------------------------------------------- */

static cg_cb_result do_epoch_train(cg_learner *learn) {
    /* TrainEvalCallback.before_train */
    learn->dl = learn->dls->train;
    learn->pct_train = (double)learn->epoch / learn->n_epoch;
    learn->training = true;
    cg_module_train(learn->model, true);
    return with_events(learn, all_batches, CG_EV_BEFORE_TRAIN, CG_EV_AFTER_TRAIN,
                       CG_EV_AFTER_CANCEL_TRAIN, CG_CB_CANCEL_TRAIN);
}

static cg_cb_result do_epoch_validate(cg_learner *learn) {
    learn->dl = learn->dls->valid;
    learn->training = false;
    cg_module_eval(learn->model);
    cg_no_grad_begin();
    cg_cb_result r = with_events(learn, all_batches, CG_EV_BEFORE_VALIDATE, CG_EV_AFTER_VALIDATE,
                                 CG_EV_AFTER_CANCEL_VALIDATE, CG_CB_CANCEL_VALIDATE);
    cg_no_grad_end();
    return r;
}

static cg_cb_result do_epoch(cg_learner *learn) {
    cg_cb_result r = do_epoch_train(learn);
    if (r != CG_CB_OK) return r;
    return do_epoch_validate(learn);
}

static cg_cb_result do_fit(cg_learner *learn) {
    for (int epoch = learn->start_epoch; epoch < learn->n_epoch; epoch++) {
        learn->epoch = epoch;
        cg_cb_result r = with_events(learn, do_epoch, CG_EV_BEFORE_EPOCH, CG_EV_AFTER_EPOCH,
                                     CG_EV_AFTER_CANCEL_EPOCH, CG_CB_CANCEL_EPOCH);
        if (r != CG_CB_OK) return r;
    }
    return CG_CB_OK;
}

cg_status cg_learner_create_opt(cg_learner *learn) {
    if (learn->opt) return CG_OK;
    cg_named_tensors ps = {0};
    cg_status st = cg_module_named_parameters(learn->model, &ps);
    if (st != CG_OK) return st;
    if (ps.n == 0) {
        cg_named_tensors_free(&ps);
        return cg_fail(CG_ERR_VALUE, "learner: the model has no parameters to train");
    }
    learn->opt = cg_optimizer_new(learn->opt_func, ps.tensors, ps.n,
                                  cg_optim_defaults(learn->opt_func, learn->lr));
    cg_named_tensors_free(&ps);
    if (!learn->opt) return cg_last_status();
    if (!learn->wd_bn_bias) cg_optimizer_no_wd_on_1d(learn->opt);
    return CG_OK;
}

double cg_learner_current_lr(const cg_learner *learn) {
    int n = learn->opt ? cg_optimizer_n_groups(learn->opt) : 0;
    if (n == 0) return NAN;
    return cg_optimizer_group((cg_optimizer *)learn->opt, n - 1)->h.lr;
}

static const char *result_name(cg_cb_result r) {
    static const char *names[] = {"ok", "cancel_batch", "cancel_backward", "cancel_step",
                                  "cancel_train", "cancel_validate", "cancel_epoch",
                                  "cancel_fit", "error"};
    return (unsigned)r < sizeof names / sizeof names[0] ? names[r] : "an unknown result";
}

cg_status cg_learner_fit(cg_learner *learn, int n_epoch, double lr) {
    if (!learn) return cg_fail(CG_ERR_VALUE, "fit: learner is NULL");
    if (n_epoch < 0) return cg_fail(CG_ERR_VALUE, "fit: n_epoch must be >= 0, got %d", n_epoch);
    if (!learn->dls || !learn->dls->train || !learn->dls->valid)
        return cg_fail(CG_ERR_VALUE, "fit: the learner needs a train and a valid DataLoader");
    cg_status st = cg_learner_create_opt(learn);
    if (st != CG_OK) return st;
    st = cg_optimizer_set_hyper(learn->opt, "lr", lr > 0 ? lr : learn->lr);
    if (st == CG_OK && !isnan(learn->wd)) st = cg_optimizer_set_hyper(learn->opt, "wd", learn->wd);
    if (st != CG_OK) return st;

    /* TrainEvalCallback.before_fit */
    learn->n_epoch = n_epoch;
    learn->epoch = 0;
    learn->start_epoch = 0;
    learn->train_iter = 0;
    learn->pct_train = 0;
    learn->loss_value = NAN;
    cg_cb_result r = run_event(learn, CG_EV_BEFORE_FIT);
    if (r == CG_CB_OK) r = do_fit(learn);
    if (r == CG_CB_CANCEL_FIT) r = run_event(learn, CG_EV_AFTER_CANCEL_FIT);
    if (r == CG_CB_OK) r = run_event(learn, CG_EV_AFTER_FIT);
    /* Learner._end_cleanup */
    learn->dl = NULL;
    learn->xb = learn->yb = learn->pred = learn->loss = NULL;
    cg_module_train(learn->model, true);
    learn->training = false;
    if (r == CG_CB_OK) return CG_OK;
    if (r == CG_CB_ERROR) return cg_last_status() != CG_OK ? cg_last_status() : CG_ERR_STATE;
    return cg_fail(CG_ERR_STATE,
                   "fit: a callback returned %s where no such stage was running (epoch %d)",
                   result_name(r), learn->epoch);
}

cg_status cg_learner_validate(cg_learner *learn, double *out) {
    if (!learn || !learn->dls || !learn->dls->valid)
        return cg_fail(CG_ERR_VALUE, "validate: the learner needs a valid DataLoader");
    for (int m = 0; m < learn->n_metrics; m++) cg_metric_reset(&learn->metrics[m]);
    double total = 0, count = 0;
    cg_status st = CG_OK;
    bool was_training = learn->model->training;
    cg_module_eval(learn->model);
    cg_no_grad_begin();
    for (;;) {
        cg_scope_begin();
        cg_tensor *xb = NULL, *yb = NULL;
        if (!cg_dataloader_next(learn->dls->valid, &xb, &yb)) {
            st = cg_dataloader_status(learn->dls->valid);
            cg_scope_end();
            break;
        }
        double v = 0;
        cg_tensor *pred = cg_module_forward(learn->model, xb);
        cg_tensor *loss = yb ? learn->loss_func.fn(pred, yb) : NULL;
        st = !pred || (yb && !loss) ? cg_last_status() : CG_OK;
        if (st == CG_OK && yb) st = cg_item(loss, &v);
        if (st == CG_OK && yb) {
            double bs = (double)yb->shape[0];
            total += v * bs;
            count += bs;
            for (int m = 0; m < learn->n_metrics && st == CG_OK; m++)
                st = cg_metric_accumulate(&learn->metrics[m], pred, yb);
        }
        cg_scope_end();
        if (st != CG_OK) {
            cg_dataloader_reset(learn->dls->valid);
            break;
        }
    }
    cg_no_grad_end();
    cg_module_train(learn->model, was_training);
    if (st != CG_OK) return st;
    out[0] = count > 0 ? total / count : NAN;
    for (int m = 0; m < learn->n_metrics; m++) out[1 + m] = cg_metric_value(&learn->metrics[m]);
    return CG_OK;
}

/* ---- making and freeing ------------------------------------------------- */

cg_learner *cg_learner_new(cg_dataloaders *dls, cg_module *model, const cg_loss *loss_func,
                           cg_optim_kind opt_func, const cg_metric *metrics, int n_metrics) {
    if (!model) {
        cg_fail(CG_ERR_VALUE, "Learner: model is NULL");
        return NULL;
    }
    if (!loss_func || !loss_func->fn) {
        cg_fail(CG_ERR_VALUE, "Learner: loss_func is missing");
        return NULL;
    }
    if (n_metrics < 0 || (n_metrics > 0 && !metrics)) {
        cg_fail(CG_ERR_VALUE, "Learner: %d metrics given with metrics=%p", n_metrics,
                (const void *)metrics);
        return NULL;
    }
    if ((unsigned)opt_func >= CG_OPTIM_KIND_COUNT) {
        cg_fail(CG_ERR_VALUE, "Learner: unknown opt_func %d", (int)opt_func);
        return NULL;
    }
    cg_learner *learn = calloc(1, sizeof *learn);
    if (!learn) {
        cg_fail(CG_ERR_NOMEM, "Learner: no memory");
        return NULL;
    }
    learn->dls = dls;
    learn->model = cg_module_retain(model);
    learn->loss_func = *loss_func;
    learn->opt_func = opt_func;
    learn->lr = 1e-3;
    learn->wd = NAN;
    learn->logging = true;
    learn->nan_guard = true;
    learn->loss_value = learn->smooth_loss = NAN;
    learn->n_metrics = n_metrics;
    if (n_metrics > 0) {
        learn->metrics = malloc((size_t)n_metrics * sizeof *learn->metrics);
        if (!learn->metrics) goto nomem;
        memcpy(learn->metrics, metrics, (size_t)n_metrics * sizeof *metrics);
    }
    learn->recorder = cg_recorder_new(learn->metrics, n_metrics);
    if (!learn->recorder) goto nomem;
    cg_callback rec = cg_recorder_callback(learn->recorder), guard = cg_nan_guard_callback();
    if (cg_learner_add_cb(learn, &rec) != CG_OK || cg_learner_add_cb(learn, &guard) != CG_OK)
        goto fail;
    return learn;
nomem:
    cg_fail(CG_ERR_NOMEM, "Learner: no memory for %d metrics", n_metrics);
fail:
    cg_learner_free(learn);
    return NULL;
}

void cg_learner_free(cg_learner *learn) {
    if (!learn) return;
    for (int i = 0; i < learn->n_cbs; i++)
        if (learn->cbs[i].free_state) learn->cbs[i].free_state(learn->cbs[i].state);
    free(learn->cbs);
    cg_recorder_free(learn->recorder);
    cg_optimizer_free(learn->opt);
    cg_module_release(learn->model);
    free(learn->metrics);
    free(learn);
}
