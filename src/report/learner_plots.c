/* The Learner's plots: fastai's recorder.plot_loss, the chapter's
 * plt.plot(L(learn.recorder.values).itemgot(2)), and plot_lr_find. */
#include <math.h>
#include <stdlib.h>

#include "cgrad/learner.h"
#include "cgrad/plot.h"

cg_status cg_plot_loss_png(const cg_recorder *rec, int skip_start, const char *path) {
    if (!rec || rec->n_losses == 0)
        return cg_fail(CG_ERR_VALUE, "plot_loss: nothing recorded yet (fit first)");
    if (skip_start < 0) skip_start = 0;
    if (skip_start >= rec->n_losses) skip_start = 0;
    int64_t n = rec->n_losses - skip_start;
    double *x = malloc((size_t)n * sizeof *x);
    double *vx = malloc(((size_t)rec->n_epochs + 1) * sizeof *vx);
    double *vy = malloc(((size_t)rec->n_epochs + 1) * sizeof *vy);
    cg_status st = CG_OK;
    if (!x || !vx || !vy) {
        st = cg_fail(CG_ERR_NOMEM, "plot_loss: no memory");
        goto done;
    }
    for (int64_t i = 0; i < n; i++) x[i] = (double)(skip_start + i);
    /* valid loss at the iteration count where each epoch ended */
    int nv = 0;
    for (int e = 0; e < rec->n_epochs; e++) {
        if (rec->iters[e] < skip_start) continue;
        vx[nv] = (double)rec->iters[e];
        vy[nv] = cg_recorder_value(rec, e, 1);
        nv++;
    }
    cg_plot p;
    cg_plot_init(&p, "loss", "iteration", "loss");
    st = cg_plot_add_series(&p, "train", x, rec->losses + skip_start, n);
    if (st == CG_OK && nv > 0) st = cg_plot_add_series(&p, "valid", vx, vy, nv);
    if (st == CG_OK) st = cg_plot_save_png(&p, path);
done:
    free(x);
    free(vx);
    free(vy);
    return st;
}

cg_status cg_plot_metric_png(const cg_recorder *rec, int col, const char *path) {
    if (!rec || col < 0 || col >= rec->n_cols)
        return cg_fail(CG_ERR_VALUE, "plot_metric: column %d out of range (the recorder has %d)",
                       col, rec ? rec->n_cols : 0);
    if (rec->n_epochs == 0) return cg_fail(CG_ERR_VALUE, "plot_metric: no epoch recorded yet");
    double *y = malloc((size_t)rec->n_epochs * sizeof *y);
    if (!y) return cg_fail(CG_ERR_NOMEM, "plot_metric: no memory");
    int n = cg_recorder_itemgot(rec, col, y);
    cg_plot p;
    cg_plot_init(&p, rec->names[col], "epoch", rec->names[col]);
    cg_status st = cg_plot_add_series(&p, rec->names[col], NULL, y, n);
    if (st == CG_OK) st = cg_plot_save_png(&p, path);
    free(y);
    return st;
}

cg_status cg_plot_lr_find_png(const cg_lr_find_result *r, const char *path) {
    if (!r || r->n < 1) return cg_fail(CG_ERR_VALUE, "plot_lr_find: no lr_find result");
    int64_t n = r->n > 5 ? r->n - 5 : r->n; /* skip_end=5 */
    cg_plot p;
    cg_plot_init(&p, "lr_find", "Learning Rate", "Loss");
    p.xlog = true;
    cg_status st = cg_plot_add_series(&p, "loss", r->lrs, r->losses, n);
    char label[64];
    snprintf(label, sizeof label, "valley %.2e", r->valley);
    if (st == CG_OK) st = cg_plot_add_point(&p, r->valley, r->valley_loss, label);
    if (st == CG_OK) st = cg_plot_save_png(&p, path);
    return st;
}
