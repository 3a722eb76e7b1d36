/* cgrad/learner.h — fastai's Learner: the training loop as events and callbacks.
 *
 * The chapter's last two trainings, in Python:
 *
 *     dls = DataLoaders(dl, valid_dl)
 *     learn = Learner(dls, nn.Linear(28*28,1), opt_func=SGD,
 *                     loss_func=mnist_loss, metrics=batch_accuracy)
 *     learn.fit(10, lr=1)
 *     plt.plot(L(learn.recorder.values).itemgot(2))
 *
 * and in C:
 *
 *     cg_metric metrics[] = {cg_metric_batch_accuracy()};
 *     cg_learner *learn = cg_learner_new(dls, cg_nn_linear(28*28, 1, true),
 *                                        cg_loss_by_name("mnist_loss"), CG_OPTIM_SGD,
 *                                        metrics, 1);
 *     cg_learner_add_progress(learn, stdout);      // the bar and the results table
 *     cg_learner_fit(learn, 10, 1.0);
 *     cg_plot_metric_png(learn->recorder, 2, "accuracy.png");   (plot.h)
 *     cg_learner_free(learn);
 *
 * which prints fastai's table:
 *
 *     epoch  train_loss  valid_loss  batch_accuracy  time
 *     0      0.636918    0.503445    0.495584        00:00
 *     ...
 *
 * THE LOOP (fastai's Learner.fit, event by event):
 *
 *   before_fit
 *     for each epoch:  before_epoch
 *       before_train    for each batch of dls->train: ONE BATCH     after_train
 *       before_validate for each batch of dls->valid: ONE BATCH     after_validate
 *     after_epoch
 *   after_fit
 *
 *   ONE BATCH: before_batch; pred = model(xb); after_pred; loss = loss_func(pred, yb);
 *   after_loss; when training: before_backward, loss.backward(), after_backward,
 *   before_step, opt.step(), after_step, opt.zero_grad(); after_batch.
 *   Validation runs under no-grad with the model in eval mode.
 *
 * CALLBACKS are structs with an order, a state pointer and one function pointer
 * per event (NULL = nothing to do).  They run sorted by order (ties keep the
 * order they were added in).  A callback returns CG_CB_OK to go on, or a
 * CANCEL code, fastai's Cancel*Exception: the rest of that stage is skipped,
 * after_cancel_<stage> and then after_<stage> run, and the loop goes on with the
 * next stage.  A cancel raised where its stage is not running (cancel_batch in
 * before_epoch) unwinds like the exception would, up to the fit.  CG_CB_ERROR
 * stops everything: fit returns the status the callback set with cg_fail().
 *
 * BUILT IN, installed by cg_learner_new: the Recorder (order 50; losses, lrs,
 * per-epoch values, smoothed loss) and the NaN guard (order -9: a NaN or
 * infinite loss stops the fit with CG_ERR_VALUE naming the epoch and batch,
 * before the step, so the weights stay finite).  Optional ones write what the
 * user sees, to streams or files the caller names (the library prints nothing
 * on its own): the progress bar + results table, a CSV log, JSON lines.
 *
 * MEMORY: every batch runs inside its own scope (tensor.h), so learn->xb, yb,
 * pred and loss are valid only inside the batch events.  The learner holds a
 * reference to the model; it does not own the DataLoaders.
 *
 * DETERMINISM: with the same seed (cg_manual_seed before making the model and
 * loaders) and the same number of threads, two fits give identical numbers. */
#ifndef CGRAD_LEARNER_H
#define CGRAD_LEARNER_H

#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>

#include "cgrad/dataloader.h"
#include "cgrad/nn.h"
#include "cgrad/optim.h"
#include "cgrad/status.h"
#include "cgrad/tensor.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef struct cg_learner cg_learner;

/* ---- schedules (fastai's callback.schedule) ----------------------------- */
/* pos runs from 0 (start) to 1 (end). */
double cg_sched_lin(double start, double end, double pos);
/* SchedCos: start + (1 + cos(pi*(1-pos))) * (end-start) / 2 */
double cg_sched_cos(double start, double end, double pos);
/* SchedExp: start * (end/start)^pos (lr_find's sweep) */
double cg_sched_exp(double start, double end, double pos);

/* fit_one_cycle's hyper-parameters; cg_one_cycle_defaults() gives fastai's. */
typedef struct cg_one_cycle {
    double lr_max;
    double div;        /* 25: the first lr is lr_max/div */
    double div_final;  /* 1e5: the last lr is lr_max/div_final */
    double pct_start;  /* 0.25: fraction of the steps spent warming up */
    double moms[3];    /* 0.95, 0.85, 0.95: mom (Adam's beta1) at start, middle, end */
} cg_one_cycle;
cg_one_cycle cg_one_cycle_defaults(double lr_max);
/* combined_cos(pct_start, lr_max/div, lr_max, lr_max/div_final) and the same
 * for moms at pos = steps done / total steps.  Either output may be NULL. */
void cg_one_cycle_at(const cg_one_cycle *oc, double pos, double *lr, double *mom);

/* ---- the smoothed loss (fastai's AvgSmoothLoss) -------------------------- */
/* val = beta*val + (1-beta)*loss after each batch; value = val / (1 - beta^count). */
typedef struct cg_smooth_loss {
    double beta; /* 0.98 */
    double val;
    int64_t count;
} cg_smooth_loss;
void cg_smooth_loss_reset(cg_smooth_loss *s, double beta);
void cg_smooth_loss_add(cg_smooth_loss *s, double loss);
double cg_smooth_loss_value(const cg_smooth_loss *s); /* NaN before the first batch */

/* ---- metrics (fastai's Metric: reset / accumulate / value) --------------- */
/* A batch function: metric of one batch, averaged over it (a 0-d tensor). */
typedef cg_tensor *(*cg_metric_fn)(cg_tensor *pred, cg_tensor *target);

typedef struct cg_metric {
    char name[40];       /* the table's column name: "batch_accuracy" */
    /* AvgMetric (what a plain function becomes in fastai): the batch values
     * weighted by batch size, total / count over the validation set. */
    cg_metric_fn func;
    double total, count;
    /* Optional custom behaviour (any NULL hook falls back to AvgMetric's). */
    void (*reset)(struct cg_metric *m);
    cg_status (*accumulate)(struct cg_metric *m, cg_tensor *pred, cg_tensor *target);
    double (*value)(const struct cg_metric *m);
    void *state;
} cg_metric;

/* AvgMetric(func) named `name`. */
cg_metric cg_avg_metric(const char *name, cg_metric_fn func);
void cg_metric_reset(cg_metric *m);
/* Adds one batch: weight = target->shape[0] (fastai's find_bs). */
cg_status cg_metric_accumulate(cg_metric *m, cg_tensor *pred, cg_tensor *target);
double cg_metric_value(const cg_metric *m); /* NaN when nothing was accumulated */

/* The chapter's batch_accuracy: ((pred.sigmoid() > 0.5) == target).float().mean() */
cg_tensor *cg_batch_accuracy(cg_tensor *pred, cg_tensor *target);
/* fastai's accuracy: (pred.argmax(-1) == target.flatten()).float().mean() */
cg_tensor *cg_accuracy(cg_tensor *pred, cg_tensor *target);
/* fastai's error_rate: 1 - accuracy */
cg_tensor *cg_error_rate(cg_tensor *pred, cg_tensor *target);
cg_metric cg_metric_batch_accuracy(void);
cg_metric cg_metric_accuracy(void);
cg_metric cg_metric_error_rate(void);
/* "batch_accuracy", "accuracy", "error_rate"; CG_ERR_VALUE listing them if unknown. */
cg_status cg_metric_by_name(const char *name, cg_metric *out);

/* ---- callbacks ---------------------------------------------------------- */
typedef enum cg_cb_result {
    CG_CB_OK = 0,
    CG_CB_CANCEL_BATCH,    /* CancelBatchException: skip the rest of this batch */
    CG_CB_CANCEL_BACKWARD, /* CancelBackwardException: skip backward */
    CG_CB_CANCEL_STEP,     /* CancelStepException: skip the optimizer step */
    CG_CB_CANCEL_TRAIN,    /* CancelTrainException: skip the rest of the training batches */
    CG_CB_CANCEL_VALIDATE, /* CancelValidException: skip validation */
    CG_CB_CANCEL_EPOCH,    /* CancelEpochException: skip to after_epoch */
    CG_CB_CANCEL_FIT,      /* CancelFitException: stop training (fit returns CG_OK) */
    CG_CB_ERROR            /* stop; fit returns the status set with cg_fail() */
} cg_cb_result;

typedef enum cg_event {
    CG_EV_BEFORE_FIT = 0,
    CG_EV_BEFORE_EPOCH,
    CG_EV_BEFORE_TRAIN,
    CG_EV_BEFORE_BATCH,
    CG_EV_AFTER_PRED,
    CG_EV_AFTER_LOSS,
    CG_EV_BEFORE_BACKWARD,
    CG_EV_AFTER_BACKWARD,
    CG_EV_BEFORE_STEP,
    CG_EV_AFTER_STEP,
    CG_EV_AFTER_CANCEL_BACKWARD,
    CG_EV_AFTER_CANCEL_STEP,
    CG_EV_AFTER_CANCEL_BATCH,
    CG_EV_AFTER_BATCH,
    CG_EV_AFTER_CANCEL_TRAIN,
    CG_EV_AFTER_TRAIN,
    CG_EV_BEFORE_VALIDATE,
    CG_EV_AFTER_CANCEL_VALIDATE,
    CG_EV_AFTER_VALIDATE,
    CG_EV_AFTER_CANCEL_EPOCH,
    CG_EV_AFTER_EPOCH,
    CG_EV_AFTER_CANCEL_FIT,
    CG_EV_AFTER_FIT,
    CG_EV_COUNT
} cg_event;
/* fastai's event name: "before_fit", "after_cancel_batch", ... */
const char *cg_event_name(cg_event ev);

typedef cg_cb_result (*cg_cb_fn)(cg_learner *learn, void *state);

typedef struct cg_callback {
    const char *name;  /* for messages and cg_learner_remove_cb; borrowed */
    int order;         /* lower runs first; fastai: Recorder 50, progress 60 */
    void *state;
    void (*free_state)(void *state); /* called when the learner drops the callback; may be NULL */
    cg_cb_fn before_fit, before_epoch, before_train, before_batch, after_pred, after_loss,
        before_backward, after_backward, before_step, after_step, after_cancel_backward,
        after_cancel_step, after_cancel_batch, after_batch, after_cancel_train, after_train,
        before_validate, after_cancel_validate, after_validate, after_cancel_epoch, after_epoch,
        after_cancel_fit, after_fit;
} cg_callback;
/* The callback's function for an event (NULL if it has none). */
cg_cb_fn cg_callback_fn(const cg_callback *cb, cg_event ev);

/* ---- the Recorder (learn->recorder) ------------------------------------- */
typedef struct cg_recorder {
    int n_cols;          /* 2 + number of metrics */
    char **names;        /* "train_loss", "valid_loss", metric names... */
    /* per training batch */
    int64_t n_losses, cap_losses;
    double *losses;      /* the smoothed train loss after each batch */
    double *lrs;         /* the lr of the last param group during that batch */
    /* per epoch */
    int n_epochs, cap_epochs;
    double *values;      /* [n_epochs][n_cols]: train_loss (smoothed), valid_loss, metrics (NaN if skipped) */
    int64_t *iters;      /* number of losses recorded at the end of each epoch */
    double *seconds;     /* wall time of each epoch */
    cg_smooth_loss smooth;
    /* during an epoch */
    double valid_total, valid_count; /* AvgLoss: sum of loss*bs, sum of bs */
    bool cancel_train, cancel_valid;
    double epoch_start;
} cg_recorder;
/* learn.recorder.values[epoch][col] (NaN when out of range). */
double cg_recorder_value(const cg_recorder *r, int epoch, int col);
/* L(learn.recorder.values).itemgot(col) into out[0..n_epochs-1]; returns n_epochs. */
int cg_recorder_itemgot(const cg_recorder *r, int col, double *out);
/* Column index of a name ("valid_loss" -> 1), or -1. */
int cg_recorder_col(const cg_recorder *r, const char *name);

/* ---- the Learner -------------------------------------------------------- */
struct cg_learner {
    /* what it was made with */
    cg_dataloaders *dls;     /* borrowed */
    cg_module *model;        /* a reference held by the learner */
    cg_loss loss_func;
    cg_optim_kind opt_func;  /* which optimizer create_opt makes: fastai's default is Adam */
    cg_optimizer *opt;       /* made at the first fit (fastai's create_opt); owned */
    cg_metric *metrics;      /* owned copies */
    int n_metrics;
    double lr;               /* defaults.lr = 1e-3, used by fit when lr <= 0 */
    double wd;               /* NaN: the optimizer's default (SGD 0, Adam 0.01) */
    bool wd_bn_bias;         /* false: no weight decay on biases / 1-d params */
    cg_recorder *recorder;   /* owned; always installed */

    /* callbacks, sorted by order */
    int n_cbs, cap_cbs;
    cg_callback *cbs;

    /* the state of a fit, as fastai exposes it */
    int n_epoch, epoch;
    int start_epoch;          /* the first epoch the fit runs: 0, unless a callback's
                               * before_fit moves it (cg_learner_resume, checkpoint.h) */
    int64_t iter, n_iter;     /* batch index in the current loader, its length */
    int64_t train_iter;       /* training batches done in this fit */
    double pct_train;         /* train_iter / (n_iter * n_epoch) */
    bool training;
    bool logging;             /* false during lr_find: loggers skip their rows */
    bool nan_guard;           /* true: a non-finite loss is an error (lr_find turns it off) */
    cg_dataloader *dl;        /* the loader being iterated */
    cg_tensor *xb, *yb, *pred, *loss; /* valid inside batch events only */
    double loss_value;        /* loss.item() of the current batch */
    double smooth_loss;       /* the recorder's smoothed loss after the last training batch */
};

/* fastai's Learner defaults to opt_func=Adam; C has no default arguments, so
 * pass this where Python would leave opt_func out. */
#define CG_LEARNER_DEFAULT_OPT CG_OPTIM_ADAM

/* Learner(dls, model, loss_func, opt_func, metrics): retains model, copies
 * loss_func and metrics.  dls must outlive the learner.  NULL on bad input. */
cg_learner *cg_learner_new(cg_dataloaders *dls, cg_module *model, const cg_loss *loss_func,
                           cg_optim_kind opt_func, const cg_metric *metrics, int n_metrics);
void cg_learner_free(cg_learner *learn); /* frees callbacks' state too; NULL is fine */

/* Adds a callback (copied); it runs from the next event on.  The learner owns
 * cb->state from here on (freed with cb->free_state), also when this fails. */
cg_status cg_learner_add_cb(cg_learner *learn, const cg_callback *cb);
/* Removes (and frees the state of) the first callback named `name`; CG_ERR_VALUE if none. */
cg_status cg_learner_remove_cb(cg_learner *learn, const char *name);
/* Makes learn->opt now if it does not exist yet (create_opt). */
cg_status cg_learner_create_opt(cg_learner *learn);

/* learn.fit(n_epoch, lr): lr <= 0 uses learn->lr.  Returns CG_OK when the fit
 * ended normally or was cancelled by CG_CB_CANCEL_FIT. */
cg_status cg_learner_fit(cg_learner *learn, int n_epoch, double lr);
/* learn.fit_one_cycle(n_epoch, lr_max) with fastai's defaults. */
cg_status cg_learner_fit_one_cycle(cg_learner *learn, int n_epoch, double lr_max);
cg_status cg_learner_fit_one_cycle_with(cg_learner *learn, int n_epoch, const cg_one_cycle *oc);

/* learn.validate(): the valid loss and metrics (out[0..n_metrics], loss first). */
cg_status cg_learner_validate(cg_learner *learn, double *out);

/* ---- lr_find ------------------------------------------------------------ */
typedef struct cg_lr_find_options {
    double start_lr, end_lr; /* 1e-7, 10 */
    int num_it;              /* 100 */
    bool stop_div;           /* true: stop when the smoothed loss > 4x the best */
} cg_lr_find_options;
cg_lr_find_options cg_lr_find_defaults(void);

typedef struct cg_lr_find_result {
    int64_t n;        /* batches run */
    double *lrs;      /* [n] */
    double *losses;   /* [n] smoothed losses */
    double valley;    /* the suggested lr */
    double valley_loss;
    int64_t valley_idx; /* index into lrs/losses */
    int num_it;
} cg_lr_find_result;
void cg_lr_find_result_free(cg_lr_find_result *r);

/* learn.lr_find(): sweeps the lr exponentially over num_it training batches,
 * records the smoothed loss, restores the model's weights (and resets the
 * optimizer's state) afterwards and suggests fastai's 'valley'. */
cg_status cg_learner_lr_find(cg_learner *learn, const cg_lr_find_options *opts,
                             cg_lr_find_result *out);
/* fastai's valley(lrs, losses): the longest strictly decreasing run of the loss
 * curve (longest decreasing subsequence ending at each point), and the point
 * about 2/3 of the way down it.  Returns its index (-1 when n < 1). */
int64_t cg_lr_valley(const double *lrs, const double *losses, int64_t n);

/* ---- what the user sees (callbacks writing to the caller's streams) ------ */
/* fastai's ProgressCallback: fastprogress's epoch bar and batch bar (percentage,
 * elapsed<remaining, the smoothed loss) and the results table, one row per
 * epoch.  The bars and the table may go to different streams (the CLI: bars
 * on stderr, the table on stdout); the streams stay the caller's. */
typedef enum cg_progress_mode {
    CG_PROGRESS_AUTO,  /* LIVE when `bars` is a terminal (and TERM is not dumb), else LINES */
    CG_PROGRESS_LIVE,  /* the two bars redrawn in place ('\r', ESC[K, one line up) */
    CG_PROGRESS_LINES, /* plain lines: one per finished epoch, a batch line every line_every_s */
    CG_PROGRESS_NONE,  /* no bars (the table only) */
} cg_progress_mode;
typedef struct cg_progress_options {
    FILE *table;         /* the results table; NULL: none */
    FILE *bars;          /* the bars; NULL: none */
    cg_progress_mode mode;
    double line_every_s; /* LINES: at most one batch line this often; 0: 30 s */
} cg_progress_options;
cg_status cg_progress_callback_with(const cg_progress_options *o, cg_callback *cb);
cg_status cg_learner_add_progress_with(cg_learner *learn, const cg_progress_options *o);
/* Both on `out`, the bars only when it is a terminal: a log gets the table alone. */
cg_status cg_progress_callback(FILE *out, cg_callback *cb);
cg_status cg_learner_add_progress(cg_learner *learn, FILE *out);
/* fastai's CSVLogger: the table as CSV (epoch,train_loss,...,time), the whole
 * file rewritten atomically after each epoch. */
cg_status cg_csv_logger_callback(const char *path, cg_callback *cb);
cg_status cg_learner_add_csv_logger(cg_learner *learn, const char *path);
/* JSON lines: after each epoch
 *   {"epoch": 0, "train_loss": 0.6369, "valid_loss": 0.5034, "batch_accuracy": 0.4956, "seconds": 0.05}
 * and after the fit a summary
 *   {"summary": true, "epochs": 10, "train_loss": ..., "valid_loss": ..., <metrics>, "seconds": 0.5}
 * Numbers are printed with 17 significant digits (exact round trip). */
cg_status cg_json_logger_callback(FILE *out, cg_callback *cb);
cg_status cg_learner_add_json_logger(cg_learner *learn, FILE *out);
/* fastai's format_time: "00:07", or "1:02:03" past an hour. */
void cg_format_time(double seconds, char *buf, size_t n);

/* ---- the chapter's data (src/learner/chapter_data.c) ---------------------
 * The tensors the chapter builds from MNIST_SAMPLE before its Learner runs:
 *     train_x = torch.cat([stacked_threes, stacked_sevens]).view(-1, 28*28)   # /255
 *     train_y = tensor([1]*len(threes) + [0]*len(sevens)).unsqueeze(1)
 * (threes and sevens in sorted path order; valid_x/valid_y the same from
 * valid/3 and valid/7): float32 [12396,784], int64 [12396,1], [2038,784], [2038,1]. */
typedef struct cg_mnist_sample {
    cg_tensor *train_x, *train_y, *valid_x, *valid_y; /* owned (no scope) */
} cg_mnist_sample;
/* root: an MNIST_SAMPLE folder (what cg_dataset_get("mnist_sample") gives). */
cg_status cg_mnist_sample_load(const char *root, cg_mnist_sample *out);
void cg_mnist_sample_free(cg_mnist_sample *s);
/* DataLoaders(DataLoader(list(zip(train_x,train_y)), bs), DataLoader(valid..., bs)),
 * no shuffle (the chapter's dl and valid_dl, bs 256). */
cg_dataloaders *cg_mnist_sample_dls(const cg_mnist_sample *s, int64_t bs);

#ifdef __cplusplus
}
#endif
#endif
