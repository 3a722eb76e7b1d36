/* cgrad/draw.h — drawing into uint8 images, and showing images.
 *
 * Images here are uint8 tensors, [H,W] (gray) or [C,H,W] with C = 1, 3 or 4,
 * contiguous or not; drawing clips at the edges, so any coordinates are safe.
 * A color is given as C bytes (one per channel: {0} black for gray,
 * {255,0,0} red for RGB).  Save the result with cg_png_write (image.h).
 *
 * TEXT here (cg_draw_text) uses cgrad's own 5x7 bitmap font (printable ASCII
 * 32..126; anything else draws as '?'), each glyph in a 6x8 cell at scale 1
 * (1 px spacing): pixel-exact, for marking raw images.  The plots and the
 * show_batch titles do not use it: they are drawn with cairo in DejaVu Sans
 * (plot.h, src/report/cairo_out.h).
 *
 *     cg_tensor *canvas = cg_full(CG_UINT8, CG_SHAPE(3, 60, 200), 255);
 *     cg_draw_text(canvas, 4, 4, "epoch 1: 0.9696", 2, (uint8_t[]){0, 0, 0});
 *     cg_draw_line(canvas, 0, 59, 199, 0, (uint8_t[]){31, 119, 180});
 *     cg_png_write("plot.png", canvas);
 *
 * SHOWING (the chapter's show_image, the pixel table and show_batch) comes in
 * three forms: as a PNG (cg_show_image_png, cg_show_grid_png), or rendered to a
 * malloc'd string for a terminal (cg_render_image_text, cg_render_pixel_table),
 * which the caller prints (the library never prints). */
#ifndef CGRAD_DRAW_H
#define CGRAD_DRAW_H

#include <stdbool.h>
#include <stdint.h>

#include "cgrad/tensor.h"

#ifdef __cplusplus
extern "C" {
#endif

/* ---- primitives (src/report/draw.c) -------------------------------------- */
#define CG_FONT_W 5      /* glyph pixels */
#define CG_FONT_H 7
#define CG_FONT_ADVANCE 6 /* cell width, glyph + 1 px gap */
#define CG_FONT_LINE 8    /* cell height */

/* The largest canvas the library builds (show_image, show_grid): 2^26 pixels,
 * 8192 x 8192, 192 MiB in RGB.  Above it CG_ERR_VALUE names the size, so a
 * flag like `show --scale 2000` cannot allocate gigabytes. */
#define CG_CANVAS_MAX_PIXELS ((int64_t)1 << 26)
/* CG_OK when a canvas of height x width x channels fits the cap; else a
 * message naming op and the size (overflow-checked). */
cg_status cg_canvas_check(const char *op, int64_t channels, int64_t height, int64_t width);

/* Width and height in pixels of text drawn at scale (no trailing gap). */
int64_t cg_text_width(const char *text, int scale);
int64_t cg_text_height(int scale);
/* Draws text with its top-left corner at (x, y); '\n' starts a new line. */
cg_status cg_draw_text(cg_tensor *img, int64_t x, int64_t y, const char *text, int scale,
                       const uint8_t *color);
/* Filled rectangle [x0,x1) x [y0,y1). */
cg_status cg_draw_rect(cg_tensor *img, int64_t x0, int64_t y0, int64_t x1, int64_t y1,
                       const uint8_t *color);
/* 1-px line from (x0,y0) to (x1,y1), both ends included (Bresenham). */
cg_status cg_draw_line(cg_tensor *img, int64_t x0, int64_t y0, int64_t x1, int64_t y1,
                       const uint8_t *color);
/* Copies src (uint8 [H,W] or [C,H,W]) into img with its top-left at (x,y), each
 * pixel as a scale x scale block; gray src goes to every channel of img. */
cg_status cg_draw_image(cg_tensor *img, int64_t x, int64_t y, const cg_tensor *src, int scale);

/* matplotlib's 'Greys' colormap (ColorBrewer, 0 -> white, 1 -> black) at v in
 * [0,1] (clamped), as a gray level 0..255. */
uint8_t cg_greys(double v);

/* ---- showing (src/report/show.c) ---------------------------------------- */
/* show_image(t) with matplotlib's defaults as fastai uses them in the chapter:
 * a 2-d tensor (any dtype) is scaled min..max and drawn with cmap 'Greys' (high
 * values dark); a [3,H,W] or [4,H,W] uint8 or float [0,1] tensor is drawn as RGB.
 * Returns a new uint8 image ([H*scale, W*scale] gray or [3, ...]). */
cg_tensor *cg_show_image(const cg_tensor *t, int scale);
/* cg_show_image written to path as PNG (atomically). */
cg_status cg_show_image_png(const cg_tensor *t, const char *path, int scale);

/* show_batch / show_images: n images (a [N,H,W] or [N,C,H,W] tensor, each shown
 * as cg_show_image would) in a grid of ncols columns (0: ceil(sqrt(n)), fastai's
 * square grid), each
 * with its title (titles may be NULL, or hold NULL entries) drawn above it.
 * Returns an RGB uint8 image; cg_show_grid_png writes it to path. */
cg_tensor *cg_show_grid(const cg_tensor *images, const char *const *titles, int ncols, int scale);
cg_status cg_show_grid_png(const cg_tensor *images, const char *const *titles, int ncols,
                           int scale, const char *path);

/* Terminal rendering.  color true: ANSI 256-color grays, two pixels per
 * character cell (upper half block with foreground = top pixel, background =
 * bottom pixel), so a 28x28 digit is 28 columns x 14 lines and looks square.
 * color false: plain text, each pixel as two characters of " .:-=+*#%@"
 * (light to dark on the 'Greys' scale), one line per pixel row.
 * Values are scaled like cg_show_image.  Returns a malloc'd string. */
char *cg_render_image_text(const cg_tensor *t, bool color);

/* The chapter's pixel table, df.style.background_gradient('Greys') of a 2-d
 * tensor (e.g. the view im3_t[4:15,4:22]): each number right-aligned in a cell,
 * and (color true) the cell's background shaded per column like pandas
 * (axis=0: each column scaled between its own min and max) with white text on
 * dark cells (pandas' text_color_threshold 0.408).  Header row and column give
 * the indices.  color false prints the bare table.  Returns a malloc'd string. */
char *cg_render_pixel_table(const cg_tensor *t, bool color);

#ifdef __cplusplus
}
#endif
#endif
