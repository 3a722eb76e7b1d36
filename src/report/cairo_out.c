/* Cairo drawings to tensors, PNG and SVG files (see cairo_out.h). */
#include "report/cairo_out.h"

#include <cairo-svg.h>
#include <string.h>
#include <strings.h>

#include "cgrad/draw.h"
#include "cgrad/fileio.h"

void cg_cairo_rgb(cairo_t *cr, uint32_t rgb) {
    cairo_set_source_rgb(cr, ((rgb >> 16) & 0xff) / 255.0, ((rgb >> 8) & 0xff) / 255.0,
                         (rgb & 0xff) / 255.0);
}

void cg_cairo_font(cairo_t *cr, double size, bool bold) {
    cairo_select_font_face(cr, CG_FONT_FACE, CAIRO_FONT_SLANT_NORMAL,
                           bold ? CAIRO_FONT_WEIGHT_BOLD : CAIRO_FONT_WEIGHT_NORMAL);
    cairo_set_font_size(cr, size);
}

double cg_cairo_text_width(cairo_t *cr, const char *text) {
    cairo_text_extents_t e;
    cairo_text_extents(cr, text, &e);
    return e.x_advance;
}

void cg_cairo_text(cairo_t *cr, double x, double y, const char *text, double ax, double ay) {
    /* Vertical placement from the font's ascent/descent (not the ink), so
     * labels with and without descenders line up, as matplotlib's do. */
    cairo_font_extents_t fe;
    cairo_font_extents(cr, &fe);
    double h = fe.ascent + fe.descent;
    double w = cg_cairo_text_width(cr, text);
    cairo_move_to(cr, x - ax * w, y - ay * h + fe.ascent);
    cairo_show_text(cr, text);
}

cg_status cg_cairo_fail(const char *op, cairo_status_t s) {
    return cg_fail(s == CAIRO_STATUS_NO_MEMORY ? CG_ERR_NOMEM : CG_ERR_IO, "%s: cairo: %s", op,
                   cairo_status_to_string(s));
}

/* A white image surface with the drawing on it; NULL with cg_fail on failure. */
static cairo_surface_t *paint(const char *op, int width, int height, cg_cairo_draw_fn draw,
                              const void *ctx) {
    if (width < 1 || height < 1) {
        cg_fail(CG_ERR_VALUE, "%s: canvas %dx%d is empty", op, width, height);
        return NULL;
    }
    if (cg_canvas_check(op, 4, height, width) != CG_OK) return NULL; /* the library's canvas cap */
    cairo_surface_t *s = cairo_image_surface_create(CAIRO_FORMAT_RGB24, width, height);
    if (cairo_surface_status(s) != CAIRO_STATUS_SUCCESS) {
        cg_cairo_fail(op, cairo_surface_status(s));
        cairo_surface_destroy(s);
        return NULL;
    }
    cairo_t *cr = cairo_create(s);
    cairo_set_source_rgb(cr, 1, 1, 1);
    cairo_paint(cr);
    cg_status st = draw(cr, ctx, width, height);
    cairo_status_t cs = cairo_status(cr);
    cairo_destroy(cr);
    cairo_surface_flush(s);
    if (st == CG_OK && cs != CAIRO_STATUS_SUCCESS) st = cg_cairo_fail(op, cs);
    if (st != CG_OK) {
        cairo_surface_destroy(s);
        return NULL;
    }
    return s;
}

cg_tensor *cg_cairo_render(const char *op, int width, int height, cg_cairo_draw_fn draw,
                           const void *ctx) {
    cairo_surface_t *s = paint(op, width, height, draw, ctx);
    if (!s) return NULL;
    cg_tensor *t = cg_empty(CG_UINT8, CG_SHAPE(3, height, width));
    if (t) {
        /* RGB24 is one native-endian uint32 0x00RRGGBB per pixel, rows stride apart. */
        const unsigned char *data = cairo_image_surface_get_data(s);
        int stride = cairo_image_surface_get_stride(s);
        uint8_t *out = cg_data(t);
        size_t plane = (size_t)width * (size_t)height;
        for (int y = 0; y < height; y++) {
            const uint32_t *row = (const uint32_t *)(const void *)(data + (size_t)y * (size_t)stride);
            for (int x = 0; x < width; x++) {
                size_t at = (size_t)y * (size_t)width + (size_t)x;
                out[at] = (uint8_t)(row[x] >> 16);
                out[plane + at] = (uint8_t)(row[x] >> 8);
                out[2 * plane + at] = (uint8_t)row[x];
            }
        }
    }
    cairo_surface_destroy(s);
    return t;
}

/* cairo's stream callback: the bytes go to the atomic file. */
static cairo_status_t write_atomic(void *closure, const unsigned char *data, unsigned int length) {
    return cg_atomic_write(closure, data, length) == CG_OK ? CAIRO_STATUS_SUCCESS
                                                           : CAIRO_STATUS_WRITE_ERROR;
}

static bool is_svg(const char *path) {
    size_t n = strlen(path);
    return n >= 4 && !strcasecmp(path + n - 4, ".svg");
}

cg_status cg_cairo_save(const char *op, const char *path, int width, int height,
                        cg_cairo_draw_fn draw, const void *ctx) {
    if (!path) return cg_fail(CG_ERR_VALUE, "%s: NULL path", op);
    cairo_surface_t *img = NULL;
    if (!is_svg(path) && !(img = paint(op, width, height, draw, ctx))) return cg_last_status();
    if (is_svg(path) && (width < 1 || height < 1 || cg_canvas_check(op, 4, height, width)))
        return width < 1 || height < 1 ? cg_fail(CG_ERR_VALUE, "%s: canvas %dx%d is empty", op,
                                                 width, height)
                                       : cg_last_status();
    cg_atomic_file *f = cg_atomic_open(path);
    if (!f) {
        cairo_surface_destroy(img);
        return cg_last_status();
    }
    cg_status st = CG_OK;
    cairo_status_t cs;
    if (img) {
        cs = cairo_surface_write_to_png_stream(img, write_atomic, f);
        cairo_surface_destroy(img);
    } else {
        cairo_surface_t *svg = cairo_svg_surface_create_for_stream(write_atomic, f, width, height);
        cairo_t *cr = cairo_create(svg);
        cairo_set_source_rgb(cr, 1, 1, 1);
        cairo_paint(cr);
        st = draw(cr, ctx, width, height);
        cs = cairo_status(cr);
        cairo_destroy(cr);
        cairo_surface_finish(svg); /* the SVG's last bytes are written here */
        if (cs == CAIRO_STATUS_SUCCESS) cs = cairo_surface_status(svg);
        cairo_surface_destroy(svg);
    }
    if (st == CG_OK && cs != CAIRO_STATUS_SUCCESS)
        st = cs == CAIRO_STATUS_WRITE_ERROR ? cg_last_status() : cg_cairo_fail(op, cs);
    if (st != CG_OK) {
        cg_atomic_abort(f);
        return st;
    }
    return cg_atomic_commit(f);
}
