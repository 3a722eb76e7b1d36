/* ClassificationInterpretation's pictures: plot_confusion_matrix as
 * matplotlib's Blues heat map with the counts in the cells, and
 * plot_top_losses as a grid of the images titled
 * "predicted/actual / loss / probability". */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cgrad/draw.h"
#include "cgrad/interpretation.h"
#include "cgrad/plot.h"
#include "report/cairo_out.h"

/* matplotlib's 'Blues' (ColorBrewer's 9 stops, linearly interpolated). */
uint32_t cg_blues(double v) {
    static const uint32_t stops[9] = {0xf7fbff, 0xdeebf7, 0xc6dbef, 0x9ecae1, 0x6baed6,
                                      0x4292c6, 0x2171b5, 0x08519c, 0x08306b};
    if (!(v > 0)) v = 0;
    if (v > 1) v = 1;
    double pos = v * 8;
    int k = (int)pos;
    if (k >= 8) return stops[8];
    double f = pos - k;
    uint32_t out = 0;
    for (int sh = 16; sh >= 0; sh -= 8) {
        double a = (stops[k] >> sh) & 0xff, b = (stops[k + 1] >> sh) & 0xff;
        out |= (uint32_t)lround(a + (b - a) * f) << sh;
    }
    return out;
}

typedef struct cm_ctx {
    const int64_t *cm;
    int64_t c;
    const char *const *classes;
} cm_ctx;

static const char *class_name(const char *const *classes, int64_t i, char *buf, size_t n) {
    if (classes && classes[i]) return classes[i];
    snprintf(buf, n, "%lld", (long long)i);
    return buf;
}

/* fastai's plot_confusion_matrix: imshow(cm, cmap='Blues'), a title, the class
 * names as ticks (x rotated 90 degrees), each count centred in its cell,
 * white on cells darker than half the maximum, "Actual" / "Predicted". */
static cg_status draw_cm(cairo_t *cr, const void *ctx, int W, int H) {
    const cm_ctx *m = ctx;
    double u = CG_PT, fs = 10 * u;
    int64_t c = m->c, most = 0;
    for (int64_t i = 0; i < c * c; i++) most = m->cm[i] > most ? m->cm[i] : most;
    double left = 0.2 * W, top = 0.12 * H, size = fmin(W * 0.7, H * 0.68);
    double cell = size / (double)c;
    char buf[32];
    for (int64_t a = 0; a < c; a++)
        for (int64_t p = 0; p < c; p++) {
            int64_t v = m->cm[a * c + p];
            cg_cairo_rgb(cr, cg_blues(most ? (double)v / (double)most : 0));
            cairo_rectangle(cr, left + p * cell, top + a * cell, cell, cell);
            cairo_fill(cr);
            snprintf(buf, sizeof buf, "%lld", (long long)v);
            double f = fmin(fs * 1.2, cell * 0.35);
            cg_cairo_font(cr, f, false);
            if (v > most / 2.0) cairo_set_source_rgb(cr, 1, 1, 1);
            else cairo_set_source_rgb(cr, 0, 0, 0);
            cg_cairo_text(cr, left + (p + 0.5) * cell, top + (a + 0.5) * cell, buf, 0.5, 0.5);
        }
    cairo_set_source_rgb(cr, 0, 0, 0);
    cairo_set_line_width(cr, 0.8 * u);
    cairo_rectangle(cr, left, top, size, size);
    cairo_stroke(cr);
    cg_cairo_font(cr, fs, false);
    double ylab_w = 0, xlab_h = 0;
    for (int64_t i = 0; i < c; i++) {
        const char *name = class_name(m->classes, i, buf, sizeof buf);
        double mid = (i + 0.5) * cell, tick = 3.5 * u;
        cairo_move_to(cr, left - tick, top + mid);
        cairo_line_to(cr, left, top + mid);
        cairo_move_to(cr, left + mid, top + size);
        cairo_line_to(cr, left + mid, top + size + tick);
        cairo_stroke(cr);
        cg_cairo_text(cr, left - tick - 3.5 * u, top + mid, name, 1, 0.5);
        ylab_w = fmax(ylab_w, cg_cairo_text_width(cr, name));
        xlab_h = fmax(xlab_h, cg_cairo_text_width(cr, name));
        cairo_save(cr);
        cairo_translate(cr, left + mid, top + size + tick + 3.5 * u);
        cairo_rotate(cr, -M_PI / 2);
        cg_cairo_text(cr, 0, 0, name, 1, 0.5);
        cairo_restore(cr);
    }
    cg_cairo_text(cr, left + size / 2, top + size + 7 * u + xlab_h + 4 * u, "Predicted", 0.5, 0);
    cairo_save(cr);
    cairo_translate(cr, left - 7 * u - ylab_w - 4 * u, top + size / 2);
    cairo_rotate(cr, -M_PI / 2);
    cg_cairo_text(cr, 0, 0, "Actual", 0.5, 1);
    cairo_restore(cr);
    cg_cairo_font(cr, 12 * u, false);
    cg_cairo_text(cr, left + size / 2, top - 6 * u, "Confusion matrix", 0.5, 1);
    return CG_OK;
}

cg_status cg_plot_confusion_matrix(const int64_t *cm, int64_t n_classes,
                                   const char *const *classes, const char *path) {
    if (!cm || n_classes < 1 || n_classes > 1000)
        return cg_fail(CG_ERR_VALUE, "plot_confusion_matrix: %lld classes (1..1000)",
                       (long long)n_classes);
    cm_ctx m = {cm, n_classes, classes};
    /* matplotlib's figure grows with the classes so the counts stay legible */
    int side = n_classes <= 10 ? 600 : (int)fmin(4000, 60.0 * (double)n_classes);
    return cg_cairo_save("plot_confusion_matrix", path, side, side, draw_cm, &m);
}

cg_status cg_plot_top_losses(const cg_interp *in, const int64_t *idx, int64_t k,
                             const cg_tensor *images, const char *const *classes, const char *path) {
    if (!in || !idx || k < 1 || k > 1024)
        return cg_fail(CG_ERR_VALUE, "plot_top_losses: k = %lld (1..1024)", (long long)k);
    if (!images || images->ndim < 3 || images->shape[0] != k)
        return cg_fail(CG_ERR_SHAPE, "plot_top_losses: want %lld images [K,H,W] or [K,C,H,W]",
                       (long long)k);
    char **titles = calloc((size_t)k, sizeof *titles);
    cg_status st = titles ? CG_OK : cg_fail(CG_ERR_NOMEM, "plot_top_losses: no memory");
    for (int64_t j = 0; st == CG_OK && j < k; j++) {
        int64_t i = idx[j];
        if (i < 0 || i >= in->n) {
            st = cg_fail(CG_ERR_VALUE, "plot_top_losses: item %lld of %lld", (long long)i, (long long)in->n);
            break;
        }
        char pb[32], ab[32], t[256];
        snprintf(t, sizeof t, "%s/%s / %.2f / %.2f", class_name(classes, in->preds[i], pb, sizeof pb),
                 class_name(classes, in->targets[i], ab, sizeof ab), in->losses[i],
                 in->probs[i * in->n_classes + in->preds[i]]);
        titles[j] = strdup(t);
        if (!titles[j]) st = cg_fail(CG_ERR_NOMEM, "plot_top_losses: no memory");
    }
    if (st == CG_OK) st = cg_show_grid_png(images, (const char *const *)titles, 0, 4, path);
    for (int64_t j = 0; titles && j < k; j++) free(titles[j]);
    free(titles);
    return st;
}
