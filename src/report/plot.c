/* Line plots drawn with cairo the way matplotlib draws plt.plot: a 6.4 x 4.8
 * inch figure's layout (subplot box at left 0.125, right 0.9, bottom 0.11,
 * top 0.88 of the canvas), all four spines at 0.8 pt, outward ticks 3.5 pt
 * long with 10 pt DejaVu Sans labels, 12 pt title, 1.5 pt antialiased lines
 * in the tab10 colour cycle, a legend in the upper right with a rounded
 * light-gray frame.  Sizes are in matplotlib's points at dpi 100, scaled with
 * the canvas width (800 px is 1.25x the 640 px default).  Data map linearly
 * (log10 for a log x axis) with matplotlib's 5% margins. */
#include <math.h>
#include <stdio.h>
#include <string.h>

#include "cgrad/plot.h"
#include "report/cairo_out.h"

#define MAX_TICKS 32

/* matplotlib's default colour cycle (tab10). */
static const uint32_t tab10[] = {0x1f77b4, 0xff7f0e, 0x2ca02c, 0xd62728,
                                 0x9467bd, 0x8c564b, 0xe377c2, 0x7f7f7f};

void cg_plot_init(cg_plot *p, const char *title, const char *xlabel, const char *ylabel) {
    memset(p, 0, sizeof *p);
    p->width = 800;
    p->height = 560;
    p->title = title;
    p->xlabel = xlabel;
    p->ylabel = ylabel;
}

cg_status cg_plot_add_series(cg_plot *p, const char *label, const double *x, const double *y,
                             int64_t n) {
    if (p->n_series >= CG_PLOT_MAX_SERIES)
        return cg_fail(CG_ERR_VALUE, "plot: at most %d series", CG_PLOT_MAX_SERIES);
    if (n < 0 || (n > 0 && !y))
        return cg_fail(CG_ERR_VALUE, "plot: series '%s' has %lld points and y=%p",
                       label ? label : "", (long long)n, (const void *)y);
    p->series[p->n_series++] = (cg_plot_series){label, x, y, n, 0, false};
    return CG_OK;
}

cg_status cg_plot_add_scatter(cg_plot *p, const char *label, const double *x, const double *y,
                              int64_t n, uint32_t color) {
    cg_status st = cg_plot_add_series(p, label, x, y, n);
    if (st == CG_OK) p->series[p->n_series - 1].color = color, p->series[p->n_series - 1].scatter = true;
    return st;
}

cg_status cg_plot_add_point(cg_plot *p, double x, double y, const char *label) {
    if (p->n_points >= CG_PLOT_MAX_POINTS)
        return cg_fail(CG_ERR_VALUE, "plot: at most %d marked points", CG_PLOT_MAX_POINTS);
    p->points[p->n_points++] = (cg_plot_point){x, y, 0, label};
    return CG_OK;
}

/* ---- axes --------------------------------------------------------------- */

typedef struct axis {
    double lo, hi;   /* data range shown (after margins), in axis units (log10 for log) */
    bool log;
    int n_ticks;
    double ticks[MAX_TICKS]; /* in axis units */
    char labels[MAX_TICKS][24];
} axis;

static double to_axis(const axis *a, double v) { return a->log ? log10(v) : v; }

/* Ticks at 1, 2 or 5 x 10^k (linear) or at powers of ten (log), about 5-8 of them. */
static void make_ticks(axis *a) {
    a->n_ticks = 0;
    if (a->log) {
        int first = (int)ceil(a->lo - 1e-9), last = (int)floor(a->hi + 1e-9);
        int every = 1;
        while ((last - first) / every + 1 > 9) every++;
        for (int k = first; k <= last && a->n_ticks < MAX_TICKS; k++) {
            if (((k % every) + every) % every) continue;
            a->ticks[a->n_ticks] = k;
            snprintf(a->labels[a->n_ticks], sizeof a->labels[0], "%d", k); /* drawn as 10^k */
            a->n_ticks++;
        }
        return;
    }
    double raw = (a->hi - a->lo) / 6, mag = pow(10, floor(log10(raw))), norm = raw / mag;
    double step = (norm < 1.5 ? 1 : norm < 3 ? 2 : norm < 7 ? 5 : 10) * mag;
    int decimals = step >= 1 ? 0 : (int)ceil(-log10(step) - 1e-9);
    double biggest = fmax(fabs(a->lo), fabs(a->hi));
    bool sci = step < 1e-4 || biggest >= 1e6;
    for (double t = ceil(a->lo / step - 1e-9) * step; t <= a->hi + step * 1e-9; t += step) {
        if (a->n_ticks >= MAX_TICKS) break;
        double v = fabs(t) < step * 1e-9 ? 0 : t; /* no "-0.0" */
        a->ticks[a->n_ticks] = v;
        if (sci)
            snprintf(a->labels[a->n_ticks], sizeof a->labels[0], "%.1e", v);
        else
            snprintf(a->labels[a->n_ticks], sizeof a->labels[0], "%.*f", decimals, v);
        a->n_ticks++;
    }
}

/* Widens [lo,hi] by matplotlib's 5% margins; a flat range gets a unit around it. */
static void set_range(axis *a, double lo, double hi) {
    if (hi - lo < 1e-12 * fmax(1, fabs(hi))) {
        double d = a->log ? 0.5 : (fabs(lo) > 0 ? fabs(lo) * 0.1 : 0.5);
        lo -= d, hi += d;
    }
    double pad = 0.05 * (hi - lo);
    a->lo = lo - pad;
    a->hi = hi + pad;
    make_ticks(a);
}

static bool usable(const cg_plot *p, double x, double y) {
    return isfinite(x) && isfinite(y) && (!p->xlog || x > 0);
}

/* The plot's data ranges and ticks, computed before drawing. */
typedef struct layout {
    const cg_plot *p;
    axis ax, ay;
} layout;

static cg_status make_layout(const cg_plot *p, layout *L) {
    if (p->width < 200 || p->height < 150)
        return cg_fail(CG_ERR_VALUE, "plot: size %dx%d is too small (at least 200x150)", p->width,
                       p->height);
    double xmin = INFINITY, xmax = -INFINITY, ymin = INFINITY, ymax = -INFINITY;
    for (int s = 0; s < p->n_series; s++) {
        const cg_plot_series *sr = &p->series[s];
        for (int64_t i = 0; i < sr->n; i++) {
            double x = sr->x ? sr->x[i] : (double)i, y = sr->y[i];
            if (!usable(p, x, y)) continue;
            xmin = fmin(xmin, x), xmax = fmax(xmax, x), ymin = fmin(ymin, y), ymax = fmax(ymax, y);
        }
    }
    for (int k = 0; k < p->n_points; k++) {
        const cg_plot_point *pt = &p->points[k];
        if (!usable(p, pt->x, pt->y)) continue;
        xmin = fmin(xmin, pt->x), xmax = fmax(xmax, pt->x);
        ymin = fmin(ymin, pt->y), ymax = fmax(ymax, pt->y);
    }
    if (!(xmin <= xmax))
        return cg_fail(CG_ERR_VALUE, "plot '%s': no finite point to draw", p->title ? p->title : "");
    memset(L, 0, sizeof *L);
    L->p = p;
    L->ax.log = p->xlog;
    set_range(&L->ax, to_axis(&L->ax, xmin), to_axis(&L->ax, xmax));
    if (p->ylim && p->ymin < p->ymax) { /* set_ylim: exactly that range */
        L->ay.lo = p->ymin, L->ay.hi = p->ymax;
        make_ticks(&L->ay);
    } else {
        set_range(&L->ay, ymin, ymax);
    }
    return CG_OK;
}

/* A log tick label, matplotlib's 10^k: "10" and a raised, smaller exponent. */
static void log_label(cairo_t *cr, double x, double y, const char *exp, double size) {
    cg_cairo_font(cr, size, false);
    double wb = cg_cairo_text_width(cr, "10");
    cg_cairo_font(cr, size * 0.7, false);
    double we = cg_cairo_text_width(cr, exp);
    double x0 = x - (wb + we) / 2;
    cg_cairo_font(cr, size, false);
    cg_cairo_text(cr, x0, y + size * 0.25, "10", 0, 0);
    cg_cairo_font(cr, size * 0.7, false);
    cg_cairo_text(cr, x0 + wb, y, exp, 0, 0);
}

static cg_status draw_plot(cairo_t *cr, const void *ctx, int W, int H) {
    const layout *L = ctx;
    const cg_plot *p = L->p;
    const axis *ax = &L->ax, *ay = &L->ay;
    double u = W / 640.0 * CG_PT; /* px per matplotlib point */
    double fs = 10 * u, tick = 3.5 * u, pad = 3.5 * u;
    double bx0 = 0.125 * W, bx1 = 0.9 * W, by0 = (1 - 0.88) * H, by1 = (1 - 0.11) * H;
#define PX(v) (bx0 + ((v) - ax->lo) / (ax->hi - ax->lo) * (bx1 - bx0))
#define PY(v) (by1 - ((v) - ay->lo) / (ay->hi - ay->lo) * (by1 - by0))
    cairo_set_line_join(cr, CAIRO_LINE_JOIN_ROUND);
    cairo_set_line_cap(cr, CAIRO_LINE_CAP_SQUARE); /* matplotlib's solid_capstyle 'projecting' */

    /* the lines, clipped to the axes box */
    cairo_save(cr);
    cairo_rectangle(cr, bx0, by0, bx1 - bx0, by1 - by0);
    cairo_clip(cr);
    cairo_set_line_width(cr, 1.5 * u);
    int auto_color = 0;
    for (int s = 0; s < p->n_series; s++) {
        const cg_plot_series *sr = &p->series[s];
        uint32_t rgb = sr->color ? sr->color : tab10[auto_color++ % 8];
        cg_cairo_rgb(cr, rgb);
        if (sr->scatter) { /* s=36: a marker 6 pt across */
            for (int64_t i = 0; i < sr->n; i++) {
                double x = sr->x ? sr->x[i] : (double)i, y = sr->y[i];
                if (!usable(p, x, y)) continue;
                cairo_new_sub_path(cr);
                cairo_arc(cr, PX(to_axis(ax, x)), PY(y), 3 * u, 0, 2 * M_PI);
            }
            cairo_fill(cr);
            continue;
        }
        int64_t run = 0;
        for (int64_t i = 0; i <= sr->n; i++) {
            double x = i < sr->n ? (sr->x ? sr->x[i] : (double)i) : NAN;
            double y = i < sr->n ? sr->y[i] : NAN;
            if (i < sr->n && usable(p, x, y)) {
                double px = PX(to_axis(ax, x)), py = PY(y);
                if (run++ == 0) cairo_move_to(cr, px, py);
                else cairo_line_to(cr, px, py);
                continue;
            }
            /* a gap (or the end): the line breaks; a lone point shows as a dot */
            if (run == 1) {
                double cx, cy;
                cairo_get_current_point(cr, &cx, &cy);
                cairo_new_path(cr);
                cairo_arc(cr, cx, cy, 2 * u, 0, 2 * M_PI);
                cairo_fill(cr);
            } else if (run > 1) {
                cairo_stroke(cr);
            }
            run = 0;
        }
    }
    for (int k = 0; k < p->n_points; k++) {
        const cg_plot_point *pt = &p->points[k];
        if (!usable(p, pt->x, pt->y)) continue;
        cg_cairo_rgb(cr, pt->color ? pt->color : 0xd62728);
        cairo_arc(cr, PX(to_axis(ax, pt->x)), PY(pt->y), 4 * u, 0, 2 * M_PI);
        cairo_fill(cr);
    }
    cairo_restore(cr);

    /* spines and ticks */
    cairo_set_source_rgb(cr, 0, 0, 0);
    cairo_set_line_width(cr, 0.8 * u);
    cairo_set_line_cap(cr, CAIRO_LINE_CAP_BUTT);
    cairo_rectangle(cr, bx0, by0, bx1 - bx0, by1 - by0);
    cairo_stroke(cr);
    cg_cairo_font(cr, fs, false);
    for (int i = 0; i < ax->n_ticks; i++) {
        double x = PX(ax->ticks[i]);
        cairo_move_to(cr, x, by1);
        cairo_line_to(cr, x, by1 + tick);
        cairo_stroke(cr);
        if (ax->log) log_label(cr, x, by1 + tick + pad, ax->labels[i], fs);
        else cg_cairo_text(cr, x, by1 + tick + pad, ax->labels[i], 0.5, 0);
    }
    cg_cairo_font(cr, fs, false);
    double ylab_w = 0;
    for (int i = 0; i < ay->n_ticks; i++) {
        double y = PY(ay->ticks[i]);
        cairo_move_to(cr, bx0, y);
        cairo_line_to(cr, bx0 - tick, y);
        cairo_stroke(cr);
        cg_cairo_text(cr, bx0 - tick - pad, y, ay->labels[i], 1, 0.5);
        ylab_w = fmax(ylab_w, cg_cairo_text_width(cr, ay->labels[i]));
    }
    /* marked points' labels, beside the dot on a white patch */
    for (int k = 0; k < p->n_points; k++) {
        const cg_plot_point *pt = &p->points[k];
        if (!usable(p, pt->x, pt->y) || !pt->label) continue;
        double px = PX(to_axis(ax, pt->x)), py = PY(pt->y), w = cg_cairo_text_width(cr, pt->label);
        double tx = px + 8 * u, ty = py + 6 * u;
        if (tx + w > bx1 - 4 * u) tx = px - 8 * u - w;
        if (ty + fs * 1.2 > by1 - 4 * u) ty = py - 6 * u - fs * 1.2;
        cairo_set_source_rgba(cr, 1, 1, 1, 0.8);
        cairo_rectangle(cr, tx - 2 * u, ty - 1 * u, w + 4 * u, fs * 1.2 + 2 * u);
        cairo_fill(cr);
        cairo_set_source_rgb(cr, 0, 0, 0);
        cg_cairo_text(cr, tx, ty, pt->label, 0, 0);
    }
    /* axis labels (labelpad 4 pt) and title (pad 6 pt) */
    if (p->xlabel) cg_cairo_text(cr, (bx0 + bx1) / 2, by1 + tick + pad + fs * 1.25 + 4 * u, p->xlabel, 0.5, 0);
    if (p->ylabel) {
        cairo_save(cr);
        cairo_translate(cr, bx0 - tick - pad - ylab_w - 4 * u, (by0 + by1) / 2);
        cairo_rotate(cr, -M_PI / 2);
        cg_cairo_text(cr, 0, 0, p->ylabel, 0.5, 1);
        cairo_restore(cr);
    }
    if (p->title) {
        cg_cairo_font(cr, 12 * u, false);
        cg_cairo_text(cr, (bx0 + bx1) / 2, by0 - 6 * u, p->title, 0.5, 1);
        cg_cairo_font(cr, fs, false);
    }
    /* legend (loc 'upper right') when more than one line has a label */
    int n_labelled = 0;
    double lw = 0;
    for (int s = 0; s < p->n_series; s++)
        if (p->series[s].label) {
            n_labelled++;
            lw = fmax(lw, cg_cairo_text_width(cr, p->series[s].label));
        }
    if (n_labelled > 1) {
        double row = fs * 1.35, boxw = 0.4 * fs + 2 * fs + 0.8 * fs + lw + 0.4 * fs;
        double boxh = n_labelled * row + 0.5 * fs;
        double lx = bx1 - 0.5 * fs - boxw, ly = by0 + 0.5 * fs, r = 0.2 * fs;
        cairo_new_sub_path(cr);
        cairo_arc(cr, lx + boxw - r, ly + r, r, -M_PI / 2, 0);
        cairo_arc(cr, lx + boxw - r, ly + boxh - r, r, 0, M_PI / 2);
        cairo_arc(cr, lx + r, ly + boxh - r, r, M_PI / 2, M_PI);
        cairo_arc(cr, lx + r, ly + r, r, M_PI, 1.5 * M_PI);
        cairo_close_path(cr);
        cairo_set_source_rgba(cr, 1, 1, 1, 0.8);
        cairo_fill_preserve(cr);
        cg_cairo_rgb(cr, 0xcccccc);
        cairo_stroke(cr);
        int n = 0, colour_i = 0;
        for (int s = 0; s < p->n_series; s++) {
            uint32_t rgb = p->series[s].color ? p->series[s].color : tab10[colour_i++ % 8];
            if (!p->series[s].label) continue;
            double y = ly + 0.25 * fs + n * row + row / 2;
            cg_cairo_rgb(cr, rgb);
            cairo_set_line_width(cr, 1.5 * u);
            cairo_move_to(cr, lx + 0.4 * fs, y);
            cairo_line_to(cr, lx + 2.4 * fs, y);
            cairo_stroke(cr);
            cairo_set_source_rgb(cr, 0, 0, 0);
            cg_cairo_text(cr, lx + 3.2 * fs, y, p->series[s].label, 0, 0.5);
            n++;
        }
    }
#undef PX
#undef PY
    return CG_OK;
}

cg_tensor *cg_plot_render(const cg_plot *p) {
    layout L;
    if (make_layout(p, &L) != CG_OK) return NULL;
    return cg_cairo_render("plot", p->width, p->height, draw_plot, &L);
}

cg_status cg_plot_save(const cg_plot *p, const char *path) {
    layout L;
    cg_status st = make_layout(p, &L);
    return st != CG_OK ? st : cg_cairo_save("plot", path, p->width, p->height, draw_plot, &L);
}

cg_status cg_plot_save_png(const cg_plot *p, const char *path) { return cg_plot_save(p, path); }
