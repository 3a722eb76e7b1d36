/* Drawing and showing: the bitmap font, shapes, matplotlib's Greys, show_image,
 * show_batch grids and the terminal renderings, with hand-computed values. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "cgrad.h"

static uint8_t px(const cg_tensor *t, int64_t y, int64_t x) { return (uint8_t)cg_get(t, (int64_t[]){y, x}); }

static void test_greys(void **state) {
    (void)state;
    assert_int_equal(cg_greys(0), 255); /* low values white */
    assert_int_equal(cg_greys(1), 0);   /* high values black */
    assert_int_equal(cg_greys(-3), 255);
    assert_int_equal(cg_greys(7), 0);
    /* 0.5 -> table entry 128 -> position 128/255*8 = 4.0157 between the stops
     * 150 and 115: 150 - 35 * 0.0157 = 149.45 */
    assert_int_equal(cg_greys(0.5), 149);
    /* 1/8 -> entry 32 -> 32/255*8 = 1.0039: 240 - 23 * 0.0039 = 239.9 */
    assert_int_equal(cg_greys(0.125), 240);
}

static void test_text_and_shapes(void **state) {
    (void)state;
    cg_scope_begin();
    assert_int_equal(cg_text_width("ab", 1), 11);
    assert_int_equal(cg_text_width("ab\nlonger", 2), (6 * 6 - 1) * 2);
    assert_int_equal(cg_text_height(3), 21);

    /* '1' is ..#.. / .##.. / ..#.. x4 / .###. */
    cg_tensor *canvas = cg_full(CG_UINT8, CG_SHAPE(9, 7), 255);
    assert_int_equal(cg_draw_text(canvas, 1, 1, "1", 1, (uint8_t[]){0}), CG_OK);
    const char *want[9] = {".......", "...#...", "..##...", "...#...", "...#...",
                           "...#...", "...#...", "..###..", "......."};
    for (int y = 0; y < 9; y++)
        for (int x = 0; x < 7; x++)
            if ((px(canvas, y, x) == 0) != (want[y][x] == '#')) fail_msg("pixel (%d,%d) of '1'", x, y);

    /* clipping: text and rectangles half outside draw only what is inside */
    assert_int_equal(cg_draw_text(canvas, -3, -4, "W", 3, (uint8_t[]){0}), CG_OK);
    assert_int_equal(cg_draw_rect(canvas, 5, 5, 100, 100, (uint8_t[]){7}), CG_OK);
    assert_int_equal(px(canvas, 8, 6), 7);
    assert_int_equal(px(canvas, 4, 6), 255);

    /* a line on an RGB canvas, both ends included */
    cg_tensor *rgb = cg_zeros(CG_UINT8, CG_SHAPE(3, 4, 4));
    assert_int_equal(cg_draw_line(rgb, 0, 0, 3, 3, (uint8_t[]){255, 0, 9}), CG_OK);
    for (int i = 0; i < 4; i++) {
        assert_int_equal(cg_get(rgb, (int64_t[]){0, i, i}), 255);
        assert_int_equal(cg_get(rgb, (int64_t[]){2, i, i}), 9);
    }
    assert_int_equal(cg_get(rgb, (int64_t[]){0, 0, 1}), 0);

    /* errors */
    cg_tensor *f = cg_zeros(CG_FLOAT32, CG_SHAPE(4, 4));
    assert_int_equal(cg_draw_text(f, 0, 0, "x", 1, (uint8_t[]){0}), CG_ERR_DTYPE);
    assert_int_equal(cg_draw_text(canvas, 0, 0, "x", 0, (uint8_t[]){0}), CG_ERR_VALUE);
    cg_scope_end();
}

static void test_show_image(void **state) {
    (void)state;
    cg_scope_begin();
    /* min..max scaled, then Greys: 0 white, 255 black, 51 = 0.2 -> entry 51 ->
     * 1.6 between 240 and 217 = 226.2 */
    cg_tensor *img = cg_from_data(CG_UINT8, CG_SHAPE(2, 2), (uint8_t[]){0, 255, 51, 0});
    cg_tensor *shown = cg_show_image(img, 2);
    assert_non_null(shown);
    assert_int_equal(shown->ndim, 2);
    assert_int_equal(shown->shape[0], 4);
    assert_int_equal(px(shown, 0, 0), 255);
    assert_int_equal(px(shown, 1, 3), 0);
    assert_int_equal(px(shown, 3, 1), 226);
    /* a float image scales by its own range too: [0.5, 1.0] */
    cg_tensor *fl = cg_from_floats(CG_SHAPE(1, 2), (float[]){0.5f, 1.0f});
    shown = cg_show_image(fl, 1);
    assert_int_equal(px(shown, 0, 0), 255);
    assert_int_equal(px(shown, 0, 1), 0);
    /* constant: matplotlib's Normalize gives 0 everywhere -> white */
    shown = cg_show_image(cg_full(CG_FLOAT32, CG_SHAPE(2, 2), 0.3), 1);
    assert_int_equal(px(shown, 1, 1), 255);
    /* RGB is shown as is */
    cg_tensor *rgb = cg_from_data(CG_UINT8, CG_SHAPE(3, 1, 1), (uint8_t[]){10, 20, 30});
    shown = cg_show_image(rgb, 1);
    assert_int_equal(shown->ndim, 3);
    assert_int_equal(cg_get(shown, (int64_t[]){2, 0, 0}), 30);

    assert_null(cg_show_image(cg_zeros(CG_UINT8, CG_SHAPE(2, 3, 4, 5)), 1));
    assert_int_equal(cg_last_status(), CG_ERR_SHAPE);
    assert_non_null(strstr(cg_last_error(), "[2, 3, 4, 5]"));

    /* to a PNG file and back */
    char path[] = "/tmp/cgrad-test-show-XXXXXX";
    int fd = mkstemp(path);
    assert_true(fd >= 0);
    close(fd);
    assert_int_equal(cg_show_image_png(img, path, 3), CG_OK);
    cg_tensor *back = cg_png_read(path, 0);
    assert_int_equal(back->shape[0], 6);
    assert_int_equal(px(back, 5, 0), 226);
    unlink(path);
    cg_scope_end();
}

static void test_grid(void **state) {
    (void)state;
    cg_scope_begin();
    cg_tensor *imgs = cg_zeros(CG_UINT8, CG_SHAPE(3, 4, 4));
    cg_fill_(cg_select(imgs, 0, 1), 200);
    cg_set(imgs, (int64_t[]){1, 0, 0}, 0); /* image 1 not constant: its (0,0) shows white */
    const char *titles[3] = {"3", "7", NULL};
    cg_tensor *grid = cg_show_grid(imgs, titles, 0, 2);
    assert_non_null(grid);
    /* 3 images -> ceil(sqrt(3)) = 2 columns, 2 rows; cell 8 px, pad 8, and a
     * title row (DejaVu Sans, at least 10 px: 1.45 x 10 rounded up) per row */
    assert_int_equal(grid->ndim, 3);
    assert_int_equal(grid->shape[0], 3);
    assert_int_equal(grid->shape[2], 8 + 2 * (8 + 8));
    int64_t title_h = (grid->shape[1] - 8 - 2 * (8 + 8)) / 2;
    assert_int_equal(grid->shape[1], 8 + 2 * (title_h + 8 + 8));
    assert_true(title_h >= 15 && title_h <= 35);
    /* image 1 sits at x 24, y 8 + title_h; its pixel (1,1) is 200 = max -> black */
    int64_t top = 8 + title_h;
    assert_int_equal(cg_get(grid, (int64_t[]){0, top + 2, 24 + 2}), 0);
    assert_int_equal(cg_get(grid, (int64_t[]){0, top, 24}), 255);
    /* the title "7" is drawn dark (antialiased) above image 1, and nothing
     * is drawn above image 2 (no title), which starts at y top + 8 + 8 */
    int ink = 0, ink2 = 0;
    for (int64_t y = 8; y < top; y++)
        for (int64_t x = 24; x < 32; x++) ink += cg_get(grid, (int64_t[]){0, y, x}) < 128;
    for (int64_t y = top + 16; y < top + 16 + title_h; y++)
        for (int64_t x = 0; x < 24; x++) ink2 += cg_get(grid, (int64_t[]){0, y, x}) < 250;
    assert_true(ink >= 3);
    assert_int_equal(ink2, 0);
    cg_scope_end();
}

/* The cairo plots: the PNG decodes at the plot's size, carries the first
 * tab10 colour (#1f77b4) and the second on a two-line plot, has dark text
 * pixels in the x label's band below the axes and the title's band above
 * them, and white margins; an .svg path gives an SVG document. */
static void test_plot_files(void **state) {
    (void)state;
    double y[20], y2[20];
    for (int i = 0; i < 20; i++) y[i] = i * i, y2[i] = 400 - i * i;
    cg_plot p;
    cg_plot_init(&p, "loss", "iteration", "loss");
    assert_int_equal(cg_plot_add_series(&p, "train", NULL, y, 20), CG_OK);
    assert_int_equal(cg_plot_add_series(&p, "valid", NULL, y2, 20), CG_OK);
    char dir[] = "/tmp/cgrad-test-plot-XXXXXX";
    assert_non_null(mkdtemp(dir));
    char png[256], svg[256];
    snprintf(png, sizeof png, "%s/p.png", dir);
    snprintf(svg, sizeof svg, "%s/p.svg", dir);
    assert_int_equal(cg_plot_save(&p, png), CG_OK);
    cg_scope_begin();
    cg_tensor *img = cg_png_read(png, 3);
    assert_non_null(img);
    assert_int_equal(img->shape[1], 560);
    assert_int_equal(img->shape[2], 800);
    const uint8_t *d = cg_data(img);
    size_t plane = 560 * 800, blue = 0, orange = 0, xlabel_ink = 0, title_ink = 0;
    for (size_t i = 0; i < plane; i++) {
        blue += d[i] == 0x1f && d[plane + i] == 0x77 && d[2 * plane + i] == 0xb4;
        orange += d[i] == 0xff && d[plane + i] == 0x7f && d[2 * plane + i] == 0x0e;
        size_t yy = i / 800, xx = i % 800;
        bool dark = d[i] < 100 && d[plane + i] < 100 && d[2 * plane + i] < 100;
        /* below the axes' bottom (0.89 H = 498) and its tick labels (~25 px) */
        if (yy > 525 && xx > 300 && xx < 500) xlabel_ink += dark;
        if (yy < 0.12 * 560 && xx > 300 && xx < 500) title_ink += dark;
    }
    assert_true(blue > 300);
    assert_true(orange > 300);
    assert_true(xlabel_ink > 20);
    assert_true(title_ink > 20);
    assert_int_equal(d[0], 255); /* the corner is white */
    cg_scope_end();
    assert_int_equal(cg_plot_save(&p, svg), CG_OK);
    void *text;
    size_t len;
    assert_int_equal(cg_read_file(svg, &text, &len), CG_OK);
    assert_non_null(strstr(text, "<svg"));
    assert_non_null(strstr(text, "width=\"800\""));
    assert_non_null(strstr(text, "</svg>"));
    free(text);
    /* nothing else was left in the folder (the writes went through temp files) */
    char cmd[512];
    snprintf(cmd, sizeof cmd, "test $(ls -A %s | wc -l) -eq 2", dir);
    assert_int_equal(system(cmd), 0);
    unlink(png);
    unlink(svg);
    rmdir(dir);
    /* a directory that does not exist: an I/O error, not a crash */
    assert_int_equal(cg_plot_save(&p, "/nonexistent-cgrad/p.png"), CG_ERR_IO);
}

static void test_terminal_renderings(void **state) {
    (void)state;
    cg_scope_begin();
    /* plain: two characters a pixel, light to dark " .:-=+*#%@" */
    cg_tensor *img = cg_from_data(CG_UINT8, CG_SHAPE(2, 2), (uint8_t[]){0, 255, 255, 0});
    char *s = cg_render_image_text(img, false);
    assert_string_equal(s, "  @@\n@@  \n");
    free(s);
    /* color: one line for two pixel rows; top white (231) over bottom black (16) */
    s = cg_render_image_text(img, true);
    assert_non_null(strstr(s, "\x1b[38;5;231;48;5;16m\u2580"));
    assert_non_null(strstr(s, "\x1b[38;5;16;48;5;231m\u2580"));
    assert_int_equal(strchr(s, '\n') - s + 1, (long)strlen(s)); /* exactly one line */
    free(s);

    cg_tensor *t = cg_from_data(CG_UINT8, CG_SHAPE(2, 2), (uint8_t[]){1, 2, 3, 40});
    s = cg_render_pixel_table(t, false);
    assert_string_equal(s, "   0  1\n0  1  2\n1  3 40\n");
    free(s);
    /* shaded per column: the column max is black with white text, the min white with black */
    s = cg_render_pixel_table(t, true);
    assert_non_null(strstr(s, "\x1b[38;5;231;48;5;16m 40\x1b[0m"));
    assert_non_null(strstr(s, "\x1b[38;5;16;48;5;231m  1\x1b[0m"));
    free(s);
    /* a view, like im3_t[4:15,4:22] */
    cg_tensor *big = cg_arange(CG_INT64, 0, 30, 1);
    cg_tensor *view = cg_slice(cg_view(big, CG_SHAPE(5, 6)), 1, 4, 6, 1);
    s = cg_render_pixel_table(view, false);
    assert_string_equal(s, "   0  1\n0  4  5\n1 10 11\n2 16 17\n3 22 23\n4 28 29\n");
    free(s);
    assert_null(cg_render_pixel_table(big, false));
    assert_int_equal(cg_last_status(), CG_ERR_SHAPE);
    cg_scope_end();
}

static int teardown(void **state) {
    (void)state;
    cg_pool_trim();
    return 0;
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_greys),
        cmocka_unit_test(test_text_and_shapes),
        cmocka_unit_test(test_show_image),
        cmocka_unit_test(test_grid),
        cmocka_unit_test(test_plot_files),
        cmocka_unit_test(test_terminal_renderings),
    };
    return cmocka_run_group_tests(tests, NULL, teardown);
}
