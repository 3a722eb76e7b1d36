/* Looking at data: show_image, show_batch-style grids, and terminal renderings
 * of images and of the chapter's shaded pixel table.
 *
 * Everything reads the tensor through cg_get-free strided loops of its own
 * (any dtype, any strides), maps values to [0,1] and then to gray levels with
 * matplotlib's 'Greys' (high values dark), as the chapter's
 * matplotlib.rc('image', cmap='Greys') does.  Grid titles are drawn with
 * cairo in DejaVu Sans (cairo_out.h). */
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cgrad/draw.h"
#include "cgrad/image.h"
#include "core/shape_check.h"
#include "report/cairo_out.h"

/* ---- reading any tensor as doubles --------------------------------------- */

static double value_at(const cg_tensor *t, int64_t off) {
    const char *base = cg_data(t);
    switch (t->dtype) {
    case CG_FLOAT32: return ((const float *)base)[off];
    case CG_UINT8: return ((const uint8_t *)base)[off];
    case CG_INT64: return (double)((const int64_t *)base)[off];
    case CG_BOOL: return ((const bool *)base)[off];
    default: return 0;
    }
}

/* A 2-d (or [1,H,W]) image's value at (y, x). */
static double value_2d(const cg_tensor *t, int64_t y, int64_t x) {
    int d = t->ndim - 2;
    return value_at(t, y * t->strides[d] + x * t->strides[d + 1]);
}

static bool is_single_channel(const cg_tensor *t) {
    return t->ndim == 2 || (t->ndim == 3 && t->shape[0] == 1);
}

static bool is_color(const cg_tensor *t) {
    return t->ndim == 3 && (t->shape[0] == 3 || t->shape[0] == 4);
}

static cg_status check_image(const cg_tensor *t, const char *op) {
    if (!t) return cg_fail(CG_ERR_VALUE, "%s: NULL tensor", op);
    if (is_single_channel(t) || is_color(t)) {
        if (t->shape[t->ndim - 1] < 1 || t->shape[t->ndim - 2] < 1)
            return cg_fail(CG_ERR_SHAPE, "%s: empty image", op);
        return CG_OK;
    }
    char buf[64];
    return cg_fail(CG_ERR_SHAPE, "%s: expected an image [H,W], [1,H,W], [3,H,W] or [4,H,W], got %s",
                   op, cg_shape_str(t, buf, sizeof buf));
}

/* min and max of a single-channel image (matplotlib's default vmin/vmax). */
static void value_range(const cg_tensor *t, double *lo, double *hi) {
    int64_t h = t->shape[t->ndim - 2], w = t->shape[t->ndim - 1];
    *lo = INFINITY, *hi = -INFINITY;
    for (int64_t y = 0; y < h; y++)
        for (int64_t x = 0; x < w; x++) {
            double v = value_2d(t, y, x);
            if (v < *lo) *lo = v;
            if (v > *hi) *hi = v;
        }
}

/* matplotlib's Normalize: (v - lo) / (hi - lo), and 0 when lo == hi. */
static double normalize(double v, double lo, double hi) { return hi > lo ? (v - lo) / (hi - lo) : 0; }

/* The gray level a single-channel pixel is shown with. */
static uint8_t shade(double v, double lo, double hi) { return cg_greys(normalize(v, lo, hi)); }

/* A color channel value as a byte: uint8 as is, floats in [0,1] scaled. */
static uint8_t color_byte(const cg_tensor *t, int64_t c, int64_t y, int64_t x) {
    double v = value_at(t, c * t->strides[0] + y * t->strides[1] + x * t->strides[2]);
    if (t->dtype == CG_FLOAT32) v *= 255;
    if (!(v > 0)) return 0;
    return v >= 255 ? 255 : (uint8_t)(v + 0.5);
}

/* ---- show_image ----------------------------------------------------------- */

/* Draws t (already checked) at (x0, y0) of canvas, each pixel scale x scale. */
static void paint_image(cg_tensor *canvas, int64_t x0, int64_t y0, const cg_tensor *t, int scale) {
    int64_t h = t->shape[t->ndim - 2], w = t->shape[t->ndim - 1];
    double lo = 0, hi = 0;
    bool single = is_single_channel(t);
    if (single) value_range(t, &lo, &hi);
    for (int64_t y = 0; y < h; y++)
        for (int64_t x = 0; x < w; x++) {
            uint8_t color[3];
            if (single)
                color[0] = color[1] = color[2] = shade(value_2d(t, y, x), lo, hi);
            else
                for (int c = 0; c < 3; c++) color[c] = color_byte(t, c, y, x);
            cg_draw_rect(canvas, x0 + x * scale, y0 + y * scale, x0 + (x + 1) * scale,
                         y0 + (y + 1) * scale, color);
        }
}

cg_tensor *cg_show_image(const cg_tensor *t, int scale) {
    if (check_image(t, "show_image") != CG_OK) return NULL;
    if (scale < 1) {
        cg_fail(CG_ERR_VALUE, "show_image: scale must be >= 1, got %d", scale);
        return NULL;
    }
    int64_t h, w; /* overflow-checked, then capped before allocating */
    if (!cg_mul_overflow_i64(t->shape[t->ndim - 2], scale, &h) || !cg_mul_overflow_i64(t->shape[t->ndim - 1], scale, &w))
        h = w = INT64_MAX;
    if (cg_canvas_check("show_image", is_single_channel(t) ? 1 : 3, h, w)) return NULL;
    cg_tensor *out = is_single_channel(t) ? cg_empty(CG_UINT8, CG_SHAPE(h, w))
                                          : cg_empty(CG_UINT8, CG_SHAPE(3, h, w));
    if (out) paint_image(out, 0, 0, t, scale);
    return out;
}

cg_status cg_show_image_png(const cg_tensor *t, const char *path, int scale) {
    cg_scope_begin();
    cg_tensor *img = cg_show_image(t, scale);
    cg_status st = img ? cg_png_write(path, img) : cg_last_status();
    cg_scope_end();
    return st;
}

/* ---- grids (show_batch) ------------------------------------------------------ */

typedef struct grid_titles {
    const char *const *titles;
    int64_t n, ncols, cell_w, cell_h, title_h;
    int pad;
    double font; /* px */
} grid_titles;

/* The title size: matplotlib's 12 pt axes title at the cell's scale (a
 * 28-px digit at scale 4 gets 14 px), made smaller until the widest title
 * fits its column. */
static void title_font(grid_titles *g) {
    double size = fmin(24, fmax(10, g->cell_w / 8.0));
    cairo_surface_t *s = cairo_image_surface_create(CAIRO_FORMAT_A8, 1, 1);
    cairo_t *cr = cairo_create(s);
    double widest = 0;
    cg_cairo_font(cr, 100, false);
    for (int64_t i = 0; i < g->n; i++)
        if (g->titles[i]) widest = fmax(widest, cg_cairo_text_width(cr, g->titles[i]) / 100);
    cairo_destroy(cr);
    cairo_surface_destroy(s);
    double room = (double)g->cell_w + g->pad - 2;
    if (widest * size > room) size = fmax(6, room / widest);
    g->font = size;
}

static cg_status draw_titles(cairo_t *cr, const void *ctx, int width, int height) {
    const grid_titles *g = ctx;
    if (!g->titles) return CG_OK;
    cairo_set_source_rgb(cr, 0, 0, 0);
    cg_cairo_font(cr, g->font, false);
    for (int64_t i = 0; i < g->n; i++) {
        if (!g->titles[i]) continue;
        int64_t col = i % g->ncols, row = i / g->ncols;
        double x = g->pad + col * (g->cell_w + g->pad) + g->cell_w / 2.0;
        double y = g->pad + row * (g->title_h + g->cell_h + g->pad);
        cg_cairo_text(cr, x, y, g->titles[i], 0.5, 0);
    }
    return CG_OK;
}

cg_tensor *cg_show_grid(const cg_tensor *images, const char *const *titles, int ncols, int scale) {
    if (!images) {
        cg_fail(CG_ERR_VALUE, "show_grid: NULL images");
        return NULL;
    }
    char buf[64];
    if (images->ndim != 3 && images->ndim != 4) {
        cg_fail(CG_ERR_SHAPE, "show_grid: expected [N,H,W] or [N,C,H,W] images, got %s",
                cg_shape_str(images, buf, sizeof buf));
        return NULL;
    }
    if (scale < 1) {
        cg_fail(CG_ERR_VALUE, "show_grid: scale must be >= 1, got %d", scale);
        return NULL;
    }
    int64_t n = images->shape[0];
    if (n < 1) {
        cg_fail(CG_ERR_SHAPE, "show_grid: no images (%s)", cg_shape_str(images, buf, sizeof buf));
        return NULL;
    }
    /* fastai's get_grid: a square grid, ceil(sqrt(n)) columns (3x3 for 9 images). */
    if (ncols <= 0) ncols = (int)ceil(sqrt((double)n));
    int64_t nrows = (n + ncols - 1) / ncols;
    int64_t cell_h, cell_w;
    const int pad = 8;
    if (!cg_mul_overflow_i64(images->shape[images->ndim - 2], scale, &cell_h) ||
        !cg_mul_overflow_i64(images->shape[images->ndim - 1], scale, &cell_w) ||
        cell_h > (1 << 24) || cell_w > (1 << 24))
        cell_h = cell_w = 1 << 24; /* refused by the canvas check below */
    grid_titles gt = {titles, n, ncols, cell_w, 0, 0, pad, 0};
    if (titles) title_font(&gt);
    int64_t title_h = titles ? (int64_t)ceil(gt.font * 1.45) : 0;
    gt.title_h = title_h;
    int64_t width, height; /* pad + ncols * (cell_w + pad), pad + nrows * (title_h + cell_h + pad) */
    if (!cg_mul_overflow_i64(ncols, cell_w + pad, &width) ||
        !cg_mul_overflow_i64(nrows, title_h + cell_h + pad, &height) || width > INT32_MAX - pad ||
        height > INT32_MAX - pad)
        width = height = INT64_MAX;
    else
        width += pad, height += pad;
    if (cg_canvas_check("show_grid", 3, height, width)) return NULL;
    gt.cell_h = cell_h;

    cg_scope_begin();
    /* The titles drawn by cairo in DejaVu Sans, centred above each image like
     * matplotlib's axes titles; the images then painted pixel-exact. */
    cg_tensor *canvas = cg_cairo_render("show_grid", (int)width, (int)height, draw_titles, &gt);
    for (int64_t i = 0; canvas && i < n; i++) {
        cg_tensor *img = cg_select((cg_tensor *)images, 0, i);
        if (!img || check_image(img, "show_grid") != CG_OK) {
            canvas = NULL;
            break;
        }
        int64_t col = i % ncols, row = i / ncols;
        int64_t x0 = pad + col * (cell_w + pad), y0 = pad + row * (title_h + cell_h + pad);
        paint_image(canvas, x0, y0 + title_h, img, scale);
    }
    if (canvas) cg_keep(canvas);
    cg_scope_end();
    return canvas;
}

cg_status cg_show_grid_png(const cg_tensor *images, const char *const *titles, int ncols,
                           int scale, const char *path) {
    cg_scope_begin();
    cg_tensor *img = cg_show_grid(images, titles, ncols, scale);
    cg_status st = img ? cg_png_write(path, img) : cg_last_status();
    cg_scope_end();
    return st;
}

/* ---- terminal renderings -------------------------------------------------- */

/* A growing string. */
typedef struct text_buf {
    char *s;
    size_t len, cap;
    bool failed;
} text_buf;

#if defined(__GNUC__)
__attribute__((format(printf, 2, 3)))
#endif
static void tb_printf(text_buf *b, const char *fmt, ...) {
    if (b->failed) return;
    for (;;) {
        va_list ap;
        va_start(ap, fmt);
        int n = vsnprintf(b->s ? b->s + b->len : NULL, b->s ? b->cap - b->len : 0, fmt, ap);
        va_end(ap);
        if (n < 0) {
            b->failed = true;
            return;
        }
        if (b->s && b->len + (size_t)n < b->cap) {
            b->len += (size_t)n;
            return;
        }
        size_t cap = b->cap ? b->cap : 1024;
        while (cap <= b->len + (size_t)n) cap *= 2;
        char *s = realloc(b->s, cap);
        if (!s) {
            b->failed = true;
            return;
        }
        b->s = s;
        b->cap = cap;
    }
}

static char *tb_finish(text_buf *b, const char *op) {
    if (b->failed || !b->s) {
        free(b->s);
        cg_fail(CG_ERR_NOMEM, "%s: out of memory", op);
        return NULL;
    }
    return b->s;
}

/* The xterm 256-color index nearest to gray level g: black 16, white 231, or
 * one of the 24 grays 232..255 (levels 8, 18, ..., 238). */
static int ansi_gray(uint8_t g) {
    int best = 16, best_d = g;
    if (255 - g < best_d) best = 231, best_d = 255 - g;
    for (int k = 0; k < 24; k++) {
        int d = abs(8 + 10 * k - g);
        if (d < best_d) best = 232 + k, best_d = d;
    }
    return best;
}

char *cg_render_image_text(const cg_tensor *t, bool color) {
    if (check_image(t, "render_image") != CG_OK) return NULL;
    int64_t h = t->shape[t->ndim - 2], w = t->shape[t->ndim - 1];
    bool single = is_single_channel(t);
    double lo = 0, hi = 0;
    if (single) value_range(t, &lo, &hi);
    /* Color images are shown through their luma (PIL's convert('L')): the
     * terminal rendering stays gray, and a white-on-black image stays so. */
    #define LEVEL(y, x)                                                                  \
        (single ? shade(value_2d(t, y, x), lo, hi)                                        \
                : (uint8_t)((color_byte(t, 0, y, x) * 19595u + color_byte(t, 1, y, x) * 38470u + \
                             color_byte(t, 2, y, x) * 7471u + 0x8000u) >> 16))
    text_buf b = {0};
    if (color) {
        /* Two pixel rows per line: the upper half block's foreground is the top
         * pixel, its background the bottom one. */
        for (int64_t y = 0; y < h; y += 2) {
            for (int64_t x = 0; x < w; x++) {
                int top = ansi_gray(LEVEL(y, x));
                int bottom = y + 1 < h ? ansi_gray(LEVEL(y + 1, x)) : -1;
                if (bottom < 0)
                    tb_printf(&b, "\x1b[38;5;%dm\x1b[49m\u2580", top);
                else
                    tb_printf(&b, "\x1b[38;5;%d;48;5;%dm\u2580", top, bottom);
            }
            tb_printf(&b, "\x1b[0m\n");
        }
    } else {
        static const char ramp[] = " .:-=+*#%@"; /* light to dark */
        for (int64_t y = 0; y < h; y++) {
            for (int64_t x = 0; x < w; x++) {
                int dark = (int)((255 - LEVEL(y, x)) * 9 / 255.0 + 0.5);
                tb_printf(&b, "%c%c", ramp[dark], ramp[dark]);
            }
            tb_printf(&b, "\n");
        }
    }
    #undef LEVEL
    if (!b.s) tb_printf(&b, "%s", "");
    return tb_finish(&b, "render_image");
}

/* WCAG relative luminance of a gray level, as pandas' background_gradient
 * computes it to choose the text color. */
static double luminance(uint8_t g) {
    double c = g / 255.0;
    return c <= 0.03928 ? c / 12.92 : pow((c + 0.055) / 1.055, 2.4);
}

/* A value as pandas would print it in the table: integers plain, floats with
 * up to 4 decimals, trailing zeros kept like the chapter's tensors. */
static void format_value(const cg_tensor *t, double v, char *out, size_t n) {
    if (t->dtype == CG_FLOAT32)
        snprintf(out, n, "%.4f", v);
    else
        snprintf(out, n, "%.0f", v);
}

char *cg_render_pixel_table(const cg_tensor *t, bool color) {
    if (!t) {
        cg_fail(CG_ERR_VALUE, "render_pixel_table: NULL tensor");
        return NULL;
    }
    if (t->ndim != 2 || t->shape[0] < 1 || t->shape[1] < 1) {
        char buf[64];
        cg_fail(CG_ERR_SHAPE, "render_pixel_table: expected a non-empty 2-d tensor, got %s",
                cg_shape_str(t, buf, sizeof buf));
        return NULL;
    }
    int64_t rows = t->shape[0], cols = t->shape[1];
    /* Cell width: the widest value or column index. */
    int width = 1;
    char cell[64];
    for (int64_t y = 0; y < rows; y++)
        for (int64_t x = 0; x < cols; x++) {
            format_value(t, value_2d(t, y, x), cell, sizeof cell);
            if ((int)strlen(cell) > width) width = (int)strlen(cell);
        }
    snprintf(cell, sizeof cell, "%lld", (long long)(cols - 1));
    if ((int)strlen(cell) > width) width = (int)strlen(cell);
    snprintf(cell, sizeof cell, "%lld", (long long)(rows - 1));
    int index_width = (int)strlen(cell);

    /* Per-column range: background_gradient's default axis=0. */
    double *lo = malloc((size_t)cols * sizeof *lo), *hi = malloc((size_t)cols * sizeof *hi);
    if (!lo || !hi) {
        free(lo), free(hi);
        cg_fail(CG_ERR_NOMEM, "render_pixel_table: out of memory");
        return NULL;
    }
    for (int64_t x = 0; x < cols; x++) {
        lo[x] = INFINITY, hi[x] = -INFINITY;
        for (int64_t y = 0; y < rows; y++) {
            double v = value_2d(t, y, x);
            if (v < lo[x]) lo[x] = v;
            if (v > hi[x]) hi[x] = v;
        }
    }

    text_buf b = {0};
    tb_printf(&b, "%*s", index_width, "");
    for (int64_t x = 0; x < cols; x++) tb_printf(&b, " %*lld", width, (long long)x);
    tb_printf(&b, "\n");
    for (int64_t y = 0; y < rows; y++) {
        tb_printf(&b, "%*lld", index_width, (long long)y);
        for (int64_t x = 0; x < cols; x++) {
            double v = value_2d(t, y, x);
            format_value(t, v, cell, sizeof cell);
            if (color) {
                uint8_t g = shade(v, lo[x], hi[x]);
                int fg = luminance(g) < 0.408 ? 231 : 16; /* white text on dark cells */
                tb_printf(&b, "\x1b[38;5;%d;48;5;%dm %*s\x1b[0m", fg, ansi_gray(g), width, cell);
            } else {
                tb_printf(&b, " %*s", width, cell);
            }
        }
        tb_printf(&b, "\n");
    }
    free(lo);
    free(hi);
    return tb_finish(&b, "render_pixel_table");
}
