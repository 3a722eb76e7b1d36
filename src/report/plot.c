/* Line plots rasterised into an RGB uint8 tensor [3,H,W] and saved as PNG.
 *
 * Layout (pixels): a left margin wide enough for the y tick labels and the
 * rotated y label, a top margin for the title, a bottom margin for the x tick
 * labels and the x label.  Data coordinates map linearly (or log10 for x) onto
 * the plot box with matplotlib's 5% margins.  Lines are drawn antialiased by
 * coverage: each pixel near a segment is blended towards the line colour by
 * how much of a 2-px-wide stroke covers it (distance to the segment).  Text
 * uses draw.h's bitmap font at scale 2 (12 x 16 px cells). */
#include <math.h>
#include <stdio.h>
#include <string.h>

#include "cgrad/draw.h"
#include "cgrad/image.h"
#include "cgrad/plot.h"

#define FONT_SCALE 2
#define LINE_HALF_WIDTH 1.1
#define TICK_LEN 6
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
    p->series[p->n_series++] = (cg_plot_series){label, x, y, n, 0};
    return CG_OK;
}

cg_status cg_plot_add_point(cg_plot *p, double x, double y, const char *label) {
    if (p->n_points >= CG_PLOT_MAX_POINTS)
        return cg_fail(CG_ERR_VALUE, "plot: at most %d marked points", CG_PLOT_MAX_POINTS);
    p->points[p->n_points++] = (cg_plot_point){x, y, 0, label};
    return CG_OK;
}

/* ---- the canvas --------------------------------------------------------- */

typedef struct canvas {
    uint8_t *px; /* [3,H,W] planes */
    int w, h;
    int clip_x0, clip_y0, clip_x1, clip_y1; /* where lines may draw, [x0,x1) */
} canvas;

/* Blends colour rgb into pixel (x,y) with weight a in [0,1], inside the clip box. */
static void blend(canvas *c, int x, int y, uint32_t rgb, double a) {
    if (x < c->clip_x0 || x >= c->clip_x1 || y < c->clip_y0 || y >= c->clip_y1 || a <= 0)
        return;
    if (a > 1) a = 1;
    size_t plane = (size_t)c->w * (size_t)c->h, at = (size_t)y * (size_t)c->w + (size_t)x;
    for (int ch = 0; ch < 3; ch++) {
        double col = (double)((rgb >> (16 - 8 * ch)) & 0xff);
        uint8_t *v = &c->px[(size_t)ch * plane + at];
        *v = (uint8_t)lround(*v * (1 - a) + col * a);
    }
}

/* Distance from (px,py) to the segment (ax,ay)-(bx,by). */
static double seg_distance(double px, double py, double ax, double ay, double bx, double by) {
    double dx = bx - ax, dy = by - ay, len2 = dx * dx + dy * dy;
    double t = len2 > 0 ? ((px - ax) * dx + (py - ay) * dy) / len2 : 0;
    t = t < 0 ? 0 : t > 1 ? 1 : t;
    double qx = ax + t * dx - px, qy = ay + t * dy - py;
    return sqrt(qx * qx + qy * qy);
}

/* An antialiased stroke of half-width hw: coverage falls from 1 to 0 over the
 * pixel at the stroke's edge.  Each pixel takes the best coverage of the two
 * endpoints' joins, so a polyline is drawn segment by segment without seams. */
static void stroke_segment(canvas *c, double ax, double ay, double bx, double by, double hw,
                           uint32_t rgb) {
    int x0 = (int)floor(fmin(ax, bx) - hw - 1), x1 = (int)ceil(fmax(ax, bx) + hw + 1);
    int y0 = (int)floor(fmin(ay, by) - hw - 1), y1 = (int)ceil(fmax(ay, by) + hw + 1);
    if (x0 < c->clip_x0) x0 = c->clip_x0;
    if (y0 < c->clip_y0) y0 = c->clip_y0;
    if (x1 > c->clip_x1) x1 = c->clip_x1;
    if (y1 > c->clip_y1) y1 = c->clip_y1;
    for (int y = y0; y < y1; y++)
        for (int x = x0; x < x1; x++) {
            double d = seg_distance(x + 0.5, y + 0.5, ax, ay, bx, by);
            double a = hw + 0.5 - d;
            if (a > 0) blend(c, x, y, rgb, a);
        }
}

static void fill_disc(canvas *c, double cx, double cy, double r, uint32_t rgb) {
    for (int y = (int)floor(cy - r - 1); y <= (int)ceil(cy + r + 1); y++)
        for (int x = (int)floor(cx - r - 1); x <= (int)ceil(cx + r + 1); x++) {
            double d = hypot(x + 0.5 - cx, y + 0.5 - cy);
            double a = r + 0.5 - d;
            if (a > 0) blend(c, x, y, rgb, a);
        }
}

static const uint8_t BLACK[3] = {0, 0, 0};
static const uint8_t GRID[3] = {224, 224, 224};
static const uint8_t WHITE[3] = {255, 255, 255};
static const uint8_t DARK_GRAY[3] = {64, 64, 64};

/* Text rotated 90 degrees counter-clockwise (reads bottom to top), its
 * top-left corner (after rotation) at (x, y). */
static cg_status draw_text_vertical(cg_tensor *img, int64_t x, int64_t y, const char *text) {
    int64_t tw = cg_text_width(text, FONT_SCALE), th = cg_text_height(FONT_SCALE);
    if (tw <= 0) return CG_OK;
    cg_tensor *tmp = cg_full(CG_UINT8, CG_SHAPE(th, tw), 255);
    if (!tmp) return cg_last_status();
    cg_status st = cg_draw_text(tmp, 0, 0, text, FONT_SCALE, (const uint8_t[]){0});
    if (st == CG_OK) {
        const uint8_t *src = cg_data(tmp);
        uint8_t *dst = cg_data(img);
        int64_t H = img->shape[1], W = img->shape[2];
        /* source (r, col) goes to (x + r, y + tw - 1 - col) */
        for (int64_t r = 0; r < th; r++)
            for (int64_t col = 0; col < tw; col++) {
                int64_t dx = x + r, dy = y + tw - 1 - col;
                if (dx < 0 || dy < 0 || dx >= W || dy >= H || src[r * tw + col] == 255) continue;
                for (int ch = 0; ch < 3; ch++) dst[(ch * H + dy) * W + dx] = src[r * tw + col];
            }
    }
    cg_release(tmp);
    return st;
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
            snprintf(a->labels[a->n_ticks], sizeof a->labels[0], "1e%d", k);
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

cg_tensor *cg_plot_render(const cg_plot *p) {
    if (p->width < 200 || p->height < 150) {
        cg_fail(CG_ERR_VALUE, "plot: size %dx%d is too small (at least 200x150)", p->width,
                p->height);
        return NULL;
    }
    /* data ranges */
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
    if (!(xmin <= xmax)) {
        cg_fail(CG_ERR_VALUE, "plot '%s': no finite point to draw", p->title ? p->title : "");
        return NULL;
    }
    axis ax = {.log = p->xlog}, ay = {.log = false};
    set_range(&ax, to_axis(&ax, xmin), to_axis(&ax, xmax));
    set_range(&ay, ymin, ymax);

    /* layout */
    int64_t ch = cg_text_height(FONT_SCALE), ylab_w = 0;
    for (int i = 0; i < ay.n_ticks; i++) {
        int64_t w = cg_text_width(ay.labels[i], FONT_SCALE);
        if (w > ylab_w) ylab_w = w;
    }
    int left = (int)(12 + (p->ylabel ? ch + 10 : 0) + ylab_w + TICK_LEN + 6);
    int right = 24;
    int top = (int)(p->title ? ch + 24 : 16);
    int bottom = (int)(TICK_LEN + 8 + ch + (p->xlabel ? ch + 14 : 0) + 10);
    int bx0 = left, bx1 = p->width - right, by0 = top, by1 = p->height - bottom;
    if (bx1 - bx0 < 50 || by1 - by0 < 50) {
        cg_fail(CG_ERR_VALUE, "plot: %dx%d leaves no room for the axes", p->width, p->height);
        return NULL;
    }
    if (cg_canvas_check("plot", 3, p->height, p->width)) return NULL; /* the library's canvas cap */
    cg_tensor *img = cg_full(CG_UINT8, CG_SHAPE(3, p->height, p->width), 255);
    if (!img) return NULL;
    canvas c = {cg_data(img), p->width, p->height, bx0, by0, bx1 + 1, by1 + 1};
#define PX(v) (bx0 + ((v) - ax.lo) / (ax.hi - ax.lo) * (bx1 - bx0))
#define PY(v) (by1 - ((v) - ay.lo) / (ay.hi - ay.lo) * (by1 - by0))

    cg_status st = CG_OK;
    /* grid, ticks and tick labels */
    for (int i = 0; i < ax.n_ticks && st == CG_OK; i++) {
        int64_t x = lround(PX(ax.ticks[i]));
        st = cg_draw_line(img, x, by0, x, by1, GRID);
        if (st == CG_OK) st = cg_draw_line(img, x, by1, x, by1 + TICK_LEN, BLACK);
        int64_t w = cg_text_width(ax.labels[i], FONT_SCALE);
        if (st == CG_OK) st = cg_draw_text(img, x - w / 2, by1 + TICK_LEN + 6, ax.labels[i],
                                           FONT_SCALE, DARK_GRAY);
    }
    for (int i = 0; i < ay.n_ticks && st == CG_OK; i++) {
        int64_t y = lround(PY(ay.ticks[i]));
        st = cg_draw_line(img, bx0, y, bx1, y, GRID);
        if (st == CG_OK) st = cg_draw_line(img, bx0 - TICK_LEN, y, bx0, y, BLACK);
        int64_t w = cg_text_width(ay.labels[i], FONT_SCALE);
        if (st == CG_OK) st = cg_draw_text(img, bx0 - TICK_LEN - 6 - w, y - ch / 2, ay.labels[i],
                                           FONT_SCALE, DARK_GRAY);
    }
    /* the lines, clipped to the box */
    int auto_color = 0;
    for (int s = 0; s < p->n_series && st == CG_OK; s++) {
        const cg_plot_series *sr = &p->series[s];
        uint32_t rgb = sr->color ? sr->color : tab10[auto_color++ % 8];
        bool have_prev = false;
        double px0 = 0, py0 = 0;
        for (int64_t i = 0; i < sr->n; i++) {
            double x = sr->x ? sr->x[i] : (double)i, y = sr->y[i];
            if (!usable(p, x, y)) {
                have_prev = false; /* break the line at a gap */
                continue;
            }
            double px = PX(to_axis(&ax, x)), py = PY(y);
            if (have_prev)
                stroke_segment(&c, px0, py0, px, py, LINE_HALF_WIDTH, rgb);
            else if (sr->n == 1 || i + 1 == sr->n || !usable(p, sr->x ? sr->x[i + 1] : i + 1.0,
                                                              sr->y[i + 1]))
                fill_disc(&c, px, py, 2.5, rgb); /* an isolated point */
            px0 = px, py0 = py, have_prev = true;
        }
    }
    for (int k = 0; k < p->n_points && st == CG_OK; k++) {
        const cg_plot_point *pt = &p->points[k];
        if (!usable(p, pt->x, pt->y)) continue;
        double px = PX(to_axis(&ax, pt->x)), py = PY(pt->y);
        fill_disc(&c, px, py, 6, pt->color ? pt->color : 0xd62728);
        if (pt->label) {
            int64_t w = cg_text_width(pt->label, FONT_SCALE);
            int64_t tx = (int64_t)px + 10;
            if (tx + w > bx1 - 4) tx = (int64_t)px - 10 - w;
            int64_t ty = (int64_t)py + 10; /* below the dot, on a white patch over the line */
            if (ty + ch > by1 - 4) ty = (int64_t)py - ch - 10;
            st = cg_draw_rect(img, tx - 3, ty - 3, tx + w + 3, ty + ch + 3, WHITE);
            if (st == CG_OK) st = cg_draw_text(img, tx, ty, pt->label, FONT_SCALE, BLACK);
        }
    }
    /* the frame (all four spines, like matplotlib) */
    if (st == CG_OK) st = cg_draw_line(img, bx0, by0, bx1, by0, BLACK);
    if (st == CG_OK) st = cg_draw_line(img, bx0, by1, bx1, by1, BLACK);
    if (st == CG_OK) st = cg_draw_line(img, bx0, by0, bx0, by1, BLACK);
    if (st == CG_OK) st = cg_draw_line(img, bx1, by0, bx1, by1, BLACK);
    /* titles */
    if (st == CG_OK && p->title) {
        int64_t w = cg_text_width(p->title, FONT_SCALE);
        st = cg_draw_text(img, (bx0 + bx1) / 2 - w / 2, (top - ch) / 2, p->title, FONT_SCALE,
                          BLACK);
    }
    if (st == CG_OK && p->xlabel) {
        int64_t w = cg_text_width(p->xlabel, FONT_SCALE);
        st = cg_draw_text(img, (bx0 + bx1) / 2 - w / 2, by1 + TICK_LEN + 8 + ch + 10, p->xlabel,
                          FONT_SCALE, BLACK);
    }
    if (st == CG_OK && p->ylabel) {
        int64_t w = cg_text_width(p->ylabel, FONT_SCALE);
        st = draw_text_vertical(img, 12, (by0 + by1) / 2 - w / 2, p->ylabel);
    }
    /* legend, top right inside the box, when more than one line has a label */
    int n_labelled = 0;
    int64_t lw = 0;
    for (int s = 0; s < p->n_series; s++)
        if (p->series[s].label) {
            n_labelled++;
            int64_t w = cg_text_width(p->series[s].label, FONT_SCALE);
            if (w > lw) lw = w;
        }
    if (st == CG_OK && n_labelled > 1) {
        int64_t row = ch + 8, boxw = 40 + lw + 16, boxh = n_labelled * row + 8;
        int64_t lx = bx1 - 10 - boxw, ly = by0 + 10;
        st = cg_draw_rect(img, lx, ly, lx + boxw, ly + boxh, WHITE);
        if (st == CG_OK) st = cg_draw_line(img, lx, ly, lx + boxw, ly, GRID);
        if (st == CG_OK) st = cg_draw_line(img, lx, ly + boxh, lx + boxw, ly + boxh, GRID);
        if (st == CG_OK) st = cg_draw_line(img, lx, ly, lx, ly + boxh, GRID);
        if (st == CG_OK) st = cg_draw_line(img, lx + boxw, ly, lx + boxw, ly + boxh, GRID);
        int r = 0, colour_i = 0;
        for (int s = 0; s < p->n_series && st == CG_OK; s++) {
            uint32_t rgb = p->series[s].color ? p->series[s].color : tab10[colour_i++ % 8];
            if (!p->series[s].label) continue;
            double y = (double)(ly + 4 + r * row) + ch / 2.0;
            stroke_segment(&c, (double)lx + 8, y, (double)lx + 32, y, LINE_HALF_WIDTH, rgb);
            st = cg_draw_text(img, lx + 40, ly + 4 + r * row, p->series[s].label, FONT_SCALE,
                              BLACK);
            r++;
        }
    }
#undef PX
#undef PY
    if (st != CG_OK) {
        cg_release(img);
        return NULL;
    }
    return img;
}

cg_status cg_plot_save_png(const cg_plot *p, const char *path) {
    cg_tensor *img = cg_plot_render(p);
    if (!img) return cg_last_status();
    cg_status st = cg_png_write(path, img);
    cg_release(img);
    return st;
}
