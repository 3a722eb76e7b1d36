/* What the report's cairo drawings share (internal to src/report/): the font,
 * matplotlib's colours, and turning a drawing into a tensor, a PNG or an SVG.
 *
 * A picture is a draw function over a cairo context of width x height units
 * (pixels for PNG, points for SVG); cg_cairo_save picks the format from the
 * path's extension (.svg: SVG, else PNG) and writes the file atomically
 * through cg_atomic_* (fileio.h) with cairo's stream writers. */
#ifndef CGRAD_REPORT_CAIRO_OUT_H
#define CGRAD_REPORT_CAIRO_OUT_H

#include <cairo.h>
#include <stdbool.h>
#include <stdint.h>

#include "cgrad/status.h"
#include "cgrad/tensor.h"

/* matplotlib's default font and its rc sizes at dpi 100: 10 pt = 13.9 px. */
#define CG_FONT_FACE "DejaVu Sans"
#define CG_PT (100.0 / 72.0)

typedef cg_status (*cg_cairo_draw_fn)(cairo_t *cr, const void *ctx, int width, int height);

/* 0xRRGGBB as cairo's source colour. */
void cg_cairo_rgb(cairo_t *cr, uint32_t rgb);
/* Selects DejaVu Sans at size px (bold or not). */
void cg_cairo_font(cairo_t *cr, double size, bool bold);
/* Draws text with its anchor at (x, y): ax 0 left, 0.5 centre, 1 right; ay 0
 * top, 0.5 middle, 1 baseline-bottom of the ink box. */
void cg_cairo_text(cairo_t *cr, double x, double y, const char *text, double ax, double ay);
/* The advance width of text in the current font. */
double cg_cairo_text_width(cairo_t *cr, const char *text);

/* The drawing rendered on a white width x height canvas, as a new uint8 RGB
 * tensor [3, height, width] (the canvas cap of draw.h applies). */
cg_tensor *cg_cairo_render(const char *op, int width, int height, cg_cairo_draw_fn draw,
                           const void *ctx);
/* The drawing written to path: SVG when it ends in .svg, else PNG. */
cg_status cg_cairo_save(const char *op, const char *path, int width, int height,
                        cg_cairo_draw_fn draw, const void *ctx);
/* A cairo status as cg_fail (CG_ERR_NOMEM for no memory, else CG_ERR_IO). */
cg_status cg_cairo_fail(const char *op, cairo_status_t s);

#endif
