/* cgrad/plot.h — line plots as PNG files, the few matplotlib plots the chapter draws.
 *
 * The chapter's last look at training is
 *
 *     plt.plot(L(learn.recorder.values).itemgot(2));
 *
 * and in C, with a Learner after fit (learner.h):
 *
 *     cg_plot_metric_png(learn->recorder, 2, "accuracy.png");
 *
 * A general plot is a cg_plot struct: a title, axis labels, up to
 * CG_PLOT_MAX_SERIES lines and a few marked points:
 *
 *     cg_plot p;
 *     cg_plot_init(&p, "loss", "iteration", "loss");
 *     cg_plot_add_series(&p, "train", NULL, losses, n);   // x NULL: 0, 1, ..., n-1
 *     cg_plot_save_png(&p, "loss.png");
 *
 * Rendering (cairo, src/report/plot.c) follows matplotlib's defaults: the
 * subplot box of a 6.4 x 4.8 in figure, four black spines, outward ticks at
 * "nice" values (1, 2, 5 x 10^k; powers of ten, drawn 10^k, on a log axis),
 * DejaVu Sans labels, antialiased 1.5 pt lines in the tab10 colour cycle
 * (#1f77b4, #ff7f0e, #2ca02c, #d62728, ...), a legend in the upper right when
 * more than one series is labelled.  Non-finite values are skipped (the line
 * breaks there).  Files are written atomically (fileio.h): PNG, or SVG when
 * the path ends in .svg (sharp at any size, for the HTML report). */
#ifndef CGRAD_PLOT_H
#define CGRAD_PLOT_H

#include <stdbool.h>
#include <stdint.h>

#include "cgrad/status.h"
#include "cgrad/tensor.h"

#ifdef __cplusplus
extern "C" {
#endif

#define CG_PLOT_MAX_SERIES 8
#define CG_PLOT_MAX_POINTS 4

/* One line: n points (x[i], y[i]); the arrays are borrowed until rendering. */
typedef struct cg_plot_series {
    const char *label; /* legend text; NULL: not in the legend */
    const double *x;   /* NULL: 0, 1, ..., n-1 */
    const double *y;
    int64_t n;
    uint32_t color;    /* 0xRRGGBB; 0: the next tab10 colour */
    bool scatter;      /* plt.scatter: a dot per point (matplotlib's s=36), no line */
} cg_plot_series;

/* A marked point (lr_find's suggestion): a filled dot and an optional label. */
typedef struct cg_plot_point {
    double x, y;
    uint32_t color; /* 0: red */
    const char *label;
} cg_plot_point;

typedef struct cg_plot {
    int width, height; /* pixels; cg_plot_init sets 800 x 560 */
    const char *title, *xlabel, *ylabel; /* borrowed; NULL: none */
    bool xlog;         /* log10 x axis (plot_lr_find); x values <= 0 are skipped */
    bool ylim;         /* ax.set_ylim(ymin, ymax): a fixed y range, no margins */
    double ymin, ymax;
    int n_series;
    cg_plot_series series[CG_PLOT_MAX_SERIES];
    int n_points;
    cg_plot_point points[CG_PLOT_MAX_POINTS];
} cg_plot;

void cg_plot_init(cg_plot *p, const char *title, const char *xlabel, const char *ylabel);
/* Adds a line (CG_ERR_VALUE when full or n < 0). */
cg_status cg_plot_add_series(cg_plot *p, const char *label, const double *x, const double *y,
                             int64_t n);
cg_status cg_plot_add_point(cg_plot *p, double x, double y, const char *label);
/* plt.scatter(x, y, color=...): a series drawn as dots; color 0: the next tab10 colour. */
cg_status cg_plot_add_scatter(cg_plot *p, const char *label, const double *x, const double *y,
                              int64_t n, uint32_t color);

/* The picture as a new uint8 RGB tensor [3, height, width]; NULL on failure
 * (no finite point to draw is CG_ERR_VALUE). */
cg_tensor *cg_plot_render(const cg_plot *p);
/* The plot written to path atomically: SVG when path ends in .svg, else PNG. */
cg_status cg_plot_save(const cg_plot *p, const char *path);
/* The same as cg_plot_save (kept for its callers; a .svg path still gives SVG). */
cg_status cg_plot_save_png(const cg_plot *p, const char *path);

/* ---- the Learner's plots (src/report/learner_plots.c) -------------------- */
struct cg_recorder;
struct cg_lr_find_result;
/* learn.recorder.plot_loss(skip_start=5): the smoothed train loss per batch and
 * the valid loss at the end of each epoch, against the iteration number. */
cg_status cg_plot_loss_png(const struct cg_recorder *rec, int skip_start, const char *path);
/* plt.plot(L(learn.recorder.values).itemgot(col)): column col of the per-epoch
 * values [train_loss, valid_loss, metrics...] against the epoch; the metric's
 * name is the title. */
cg_status cg_plot_metric_png(const struct cg_recorder *rec, int col, const char *path);
/* learn.lr_find()'s plot: smoothed loss against the learning rate (log x),
 * without the last 5 points (skip_end=5), the suggestion marked in red. */
cg_status cg_plot_lr_find_png(const struct cg_lr_find_result *r, const char *path);

/* ---- ClassificationInterpretation's plots (src/report/interp_plots.c) ---- */
struct cg_interp;
/* matplotlib's 'Blues' colormap at v in [0,1] (clamped), as 0xRRGGBB. */
uint32_t cg_blues(double v);
/* interp.plot_confusion_matrix(): cm[actual * n + predicted] as a Blues heat
 * map with the counts in the cells, rows actual, columns predicted; classes
 * may be NULL (indices).  PNG, or SVG for a .svg path; written atomically. */
cg_status cg_plot_confusion_matrix(const int64_t *cm, int64_t n_classes,
                                   const char *const *classes, const char *path);
/* interp.plot_top_losses(k): images [K,H,W] or [K,C,H,W] of the items idx[0..K)
 * (cg_interp_top_losses' order) in a square grid, each titled
 * "predicted/actual / loss / probability of the prediction".  PNG. */
cg_status cg_plot_top_losses(const struct cg_interp *in, const int64_t *idx, int64_t k,
                             const cg_tensor *images, const char *const *classes, const char *path);

#ifdef __cplusplus
}
#endif
#endif
