/* What the user sees while training (fastai's ProgressCallback, order 60):
 * a live bar for each pass over a DataLoader, then fastai's results table,
 *
 *     epoch  train_loss  valid_loss  batch_accuracy  time
 *     0      0.636918    0.503445    0.495584        00:00
 *
 * every cell left-aligned to its column name's width, columns two spaces
 * apart, losses and metrics with 6 decimals.  The bar is drawn only on a
 * terminal (redrawn in place with '\r', at most 10 times a second) so that
 * logs and pipes get the table alone. */
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "learner/learner_internal.h"

void cg_format_time(double seconds, char *buf, size_t n) {
    long t = seconds > 0 ? (long)seconds : 0;
    long h = t / 3600, m = (t / 60) % 60, s = t % 60;
    if (h)
        snprintf(buf, n, "%ld:%02ld:%02ld", h, m, s);
    else
        snprintf(buf, n, "%02ld:%02ld", m, s);
}

typedef struct progress {
    FILE *out;
    bool tty;
    double stage_start, last_draw;
    int bar_width; /* characters the last bar took, to blank it */
} progress;

static void print_cell(FILE *out, const char *text, const char *column, bool last) {
    int width = (int)strlen(column);
    if (last)
        fprintf(out, "%s\n", text);
    else
        fprintf(out, "%-*s  ", width, text);
}

static cg_cb_result before_fit(cg_learner *learn, void *state) {
    progress *p = state;
    if (!learn->logging) return CG_CB_OK;
    const cg_recorder *r = learn->recorder;
    print_cell(p->out, "epoch", "epoch", false);
    for (int c = 0; c < r->n_cols; c++) print_cell(p->out, r->names[c], r->names[c], false);
    print_cell(p->out, "time", "time", true);
    fflush(p->out);
    return CG_CB_OK;
}

static cg_cb_result start_stage(cg_learner *learn, void *state) {
    progress *p = state;
    (void)learn;
    p->stage_start = cg_learner_clock();
    p->last_draw = 0;
    return CG_CB_OK;
}

static void erase_bar(progress *p) {
    if (!p->tty || p->bar_width == 0) return;
    fprintf(p->out, "\r%*s\r", p->bar_width, "");
    fflush(p->out);
    p->bar_width = 0;
}

/*  [##########..........] 45/97 00:01<00:01 0.1234 */
static cg_cb_result after_batch(cg_learner *learn, void *state) {
    progress *p = state;
    if (!p->tty) return CG_CB_OK;
    double now = cg_learner_clock();
    int64_t done = learn->iter + 1, total = learn->n_iter;
    if (done < total && now - p->last_draw < 0.1) return CG_CB_OK;
    p->last_draw = now;
    double elapsed = now - p->stage_start, eta = done > 0 ? elapsed / done * (total - done) : 0;
    char bar[41], t0[16], t1[16];
    int filled = total > 0 ? (int)(40 * done / total) : 40;
    for (int i = 0; i < 40; i++) bar[i] = i < filled ? '#' : '.';
    bar[40] = '\0';
    cg_format_time(elapsed, t0, sizeof t0);
    cg_format_time(eta, t1, sizeof t1);
    int w = fprintf(p->out, "\r%s [%s] %lld/%lld %s<%s", learn->training ? "train" : "valid", bar,
                    (long long)done, (long long)total, t0, t1);
    if (learn->training && isfinite(learn->smooth_loss))
        w += fprintf(p->out, " %.4f", learn->smooth_loss);
    if (w - 1 < p->bar_width) fprintf(p->out, "%*s", p->bar_width - (w - 1), "");
    if (w - 1 > p->bar_width) p->bar_width = w - 1;
    fflush(p->out);
    return CG_CB_OK;
}

static cg_cb_result end_stage(cg_learner *learn, void *state) {
    (void)learn;
    erase_bar(state);
    return CG_CB_OK;
}

static cg_cb_result after_epoch(cg_learner *learn, void *state) {
    progress *p = state;
    erase_bar(p);
    if (!learn->logging) return CG_CB_OK;
    const cg_recorder *r = learn->recorder;
    int e = r->n_epochs - 1;
    if (e < 0) return CG_CB_OK;
    char cell[64];
    snprintf(cell, sizeof cell, "%d", learn->epoch);
    print_cell(p->out, cell, "epoch", false);
    for (int c = 0; c < r->n_cols; c++) {
        double v = cg_recorder_value(r, e, c);
        if (isnan(v))
            snprintf(cell, sizeof cell, "%s", "nan");
        else
            snprintf(cell, sizeof cell, "%.6f", v);
        print_cell(p->out, cell, r->names[c], false);
    }
    cg_format_time(r->seconds[e], cell, sizeof cell);
    print_cell(p->out, cell, "time", true);
    fflush(p->out);
    return CG_CB_OK;
}

static cg_cb_result after_fit(cg_learner *learn, void *state) {
    (void)learn;
    erase_bar(state);
    return CG_CB_OK;
}

cg_status cg_progress_callback(FILE *out, cg_callback *cb) {
    if (!out) return cg_fail(CG_ERR_VALUE, "progress: the output stream is NULL");
    progress *p = calloc(1, sizeof *p);
    if (!p) return cg_fail(CG_ERR_NOMEM, "progress: no memory");
    p->out = out;
    p->tty = isatty(fileno(out)) == 1;
    *cb = (cg_callback){.name = "progress",
                        .order = 60,
                        .state = p,
                        .free_state = free,
                        .before_fit = before_fit,
                        .before_train = start_stage,
                        .before_validate = start_stage,
                        .after_batch = after_batch,
                        .after_train = end_stage,
                        .after_validate = end_stage,
                        .after_epoch = after_epoch,
                        .after_cancel_fit = after_fit,
                        .after_fit = after_fit};
    return CG_OK;
}

cg_status cg_learner_add_progress(cg_learner *learn, FILE *out) {
    cg_callback cb;
    cg_status st = cg_progress_callback(out, &cb);
    return st != CG_OK ? st : cg_learner_add_cb(learn, &cb); /* frees the state if it fails */
}
