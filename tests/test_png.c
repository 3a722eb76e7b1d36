/* PNG reading and writing: every color type and bit depth libpng can store,
 * PIL's conversion rules, the real MNIST_SAMPLE images, and the errors.
 * Test images are made here, with libpng directly (for the types cgrad does not
 * write: palette, 16-bit, 1-bit, interlaced) or with cg_png_write. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <dirent.h>
#include <png.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <zlib.h>

#include "cgrad.h"

static char tmpdir[256];

static int setup(void **state) {
    (void)state;
    snprintf(tmpdir, sizeof tmpdir, "/tmp/cgrad-test-png-XXXXXX");
    return mkdtemp(tmpdir) ? 0 : -1;
}

static int teardown(void **state) {
    (void)state;
    cg_strlist files = {0};
    if (cg_ls(tmpdir, &files) == CG_OK)
        for (size_t i = 0; i < files.count; i++) unlink(files.items[i]);
    cg_strlist_free(&files);
    rmdir(tmpdir);
    cg_pool_trim();
    return 0;
}

static char *tmp_path(const char *name) {
    static char buf[512];
    snprintf(buf, sizeof buf, "%s/%s", tmpdir, name);
    return buf;
}

/* MNIST_SAMPLE, as users get it: through the dataset cache. */
static const char *sample_root(void) {
    static char root[4096];
    if (!root[0]) assert_int_equal(cg_dataset_get("mnist_sample", NULL, root, sizeof root), CG_OK);
    return root;
}

/* Writes a PNG with libpng directly: rows of `row_bytes` packed bytes. */
static void write_raw_png(const char *path, uint32_t w, uint32_t h, int color_type, int depth,
                          int interlace, const uint8_t *pixels, size_t row_bytes,
                          const png_color *palette, int n_palette, const uint8_t *trns, int n_trns) {
    FILE *f = fopen(path, "wb");
    assert_non_null(f);
    png_structp png = png_create_write_struct(PNG_LIBPNG_VER_STRING, NULL, NULL, NULL);
    png_infop info = png_create_info_struct(png);
    assert_non_null(png);
    assert_non_null(info);
    if (setjmp(png_jmpbuf(png))) fail_msg("libpng failed writing %s", path);
    png_init_io(png, f);
    png_set_IHDR(png, info, w, h, depth, color_type, interlace, PNG_COMPRESSION_TYPE_DEFAULT,
                 PNG_FILTER_TYPE_DEFAULT);
    if (palette) png_set_PLTE(png, info, palette, n_palette);
    if (trns) png_set_tRNS(png, info, trns, n_trns, NULL);
    png_write_info(png, info);
    png_bytep *rows = malloc(h * sizeof *rows);
    for (uint32_t y = 0; y < h; y++) rows[y] = (png_bytep)pixels + y * row_bytes;
    png_write_image(png, rows);
    png_write_end(png, NULL);
    png_destroy_write_struct(&png, &info);
    free(rows);
    fclose(f);
}

static void assert_shape(const cg_tensor *t, int ndim, const int64_t *shape) {
    assert_non_null(t);
    assert_int_equal(t->ndim, ndim);
    for (int d = 0; d < ndim; d++) assert_int_equal(t->shape[d], shape[d]);
}

static uint8_t at2(const cg_tensor *t, int64_t y, int64_t x) {
    return (uint8_t)cg_get(t, (int64_t[]){y, x});
}
static uint8_t at3(const cg_tensor *t, int64_t c, int64_t y, int64_t x) {
    return (uint8_t)cg_get(t, (int64_t[]){c, y, x});
}

/* ---- round trips through cg_png_write ----------------------------------- */

static void test_round_trip_each_channel_count(void **state) {
    (void)state;
    cg_scope_begin();
    for (int c = 1; c <= 4; c++) {
        cg_tensor *img = cg_empty(CG_UINT8, CG_SHAPE(c, 5, 7));
        uint8_t *p = cg_data(img);
        for (int i = 0; i < c * 5 * 7; i++) p[i] = (uint8_t)(i * 37 + c);
        char name[32];
        snprintf(name, sizeof name, "c%d.png", c);
        assert_int_equal(cg_png_write(tmp_path(name), img), CG_OK);
        int64_t h, w;
        int stored;
        assert_int_equal(cg_png_info(tmp_path(name), &h, &w, &stored), CG_OK);
        assert_int_equal(h, 5);
        assert_int_equal(w, 7);
        assert_int_equal(stored, c);
        cg_tensor *back = cg_png_read(tmp_path(name), 0);
        if (c == 1) {
            assert_shape(back, 2, (int64_t[]){5, 7}); /* gray is [H,W], like tensor(Image.open) */
        } else {
            assert_shape(back, 3, (int64_t[]){c, 5, 7});
        }
        assert_memory_equal(cg_data(back), p, (size_t)(c * 5 * 7));
    }
    cg_scope_end();
}

static void test_write_float_bool_and_views(void **state) {
    (void)state;
    cg_scope_begin();
    /* floats in [0,1] are scaled by 255, rounded and clamped */
    cg_tensor *f = cg_from_floats(CG_SHAPE(1, 6), (float[]){0.0f, 0.5f, 1.0f, -0.2f, 1.7f, 0.1f});
    assert_int_equal(cg_png_write(tmp_path("f.png"), f), CG_OK);
    cg_tensor *back = cg_png_read(tmp_path("f.png"), 0);
    uint8_t want[6] = {0, 128, 255, 0, 255, 26};
    assert_memory_equal(cg_data(back), want, 6);

    cg_tensor *b = cg_from_data(CG_BOOL, CG_SHAPE(2, 2), (bool[]){true, false, false, true});
    assert_int_equal(cg_png_write(tmp_path("b.png"), b), CG_OK);
    back = cg_png_read(tmp_path("b.png"), 0);
    assert_memory_equal(cg_data(back), ((uint8_t[]){255, 0, 0, 255}), 4);

    /* a strided view, im3_t[4:15,4:22], writes what it shows */
    cg_tensor *big = cg_empty(CG_UINT8, CG_SHAPE(28, 28));
    uint8_t *p = cg_data(big);
    for (int i = 0; i < 28 * 28; i++) p[i] = (uint8_t)(i % 251);
    cg_tensor *view = cg_slice(cg_slice(big, 0, 4, 15, 1), 1, 4, 22, 1);
    assert_int_equal(cg_png_write(tmp_path("view.png"), view), CG_OK);
    back = cg_png_read(tmp_path("view.png"), 0);
    assert_shape(back, 2, (int64_t[]){11, 18});
    for (int y = 0; y < 11; y++)
        for (int x = 0; x < 18; x++) assert_int_equal(at2(back, y, x), p[(y + 4) * 28 + x + 4]);

    /* the write is atomic: only the final files are left in the folder */
    cg_strlist files = {0};
    assert_int_equal(cg_ls(tmpdir, &files), CG_OK);
    for (size_t i = 0; i < files.count; i++) assert_null(strstr(files.items[i], ".tmp."));
    cg_strlist_free(&files);
    cg_scope_end();
}

static void test_write_errors(void **state) {
    (void)state;
    cg_scope_begin();
    cg_tensor *img = cg_zeros(CG_UINT8, CG_SHAPE(4, 4));
    assert_int_equal(cg_png_write("/nonexistent-dir/x.png", img), CG_ERR_IO);
    assert_non_null(strstr(cg_last_error(), "/nonexistent-dir/x.png"));
    cg_tensor *bad = cg_zeros(CG_UINT8, CG_SHAPE(5, 4, 4));
    assert_int_equal(cg_png_write(tmp_path("bad.png"), bad), CG_ERR_SHAPE);
    assert_non_null(strstr(cg_last_error(), "[5, 4, 4]"));
    assert_int_equal(access(tmp_path("bad.png"), F_OK), -1);
    cg_scope_end();
}

/* ---- types cgrad does not write, made with libpng ------------------------- */

static void test_palette_16bit_1bit_interlaced(void **state) {
    (void)state;
    cg_scope_begin();
    /* 2-bit palette with transparency: 4 pixels, indices 0 1 2 3 */
    png_color pal[4] = {{10, 20, 30}, {200, 100, 0}, {0, 0, 255}, {255, 255, 255}};
    uint8_t trns[2] = {0, 128}; /* index 0 clear, index 1 half, others opaque */
    uint8_t packed[1] = {0x1b};   /* 00 01 10 11 */
    write_raw_png(tmp_path("pal.png"), 4, 1, PNG_COLOR_TYPE_PALETTE, 2, PNG_INTERLACE_NONE,
                  packed, 1, pal, 4, trns, 2);
    cg_tensor *rgba = cg_png_read(tmp_path("pal.png"), 0);
    assert_shape(rgba, 3, (int64_t[]){4, 1, 4});
    assert_int_equal(at3(rgba, 0, 0, 1), 200);
    assert_int_equal(at3(rgba, 1, 0, 1), 100);
    assert_int_equal(at3(rgba, 3, 0, 0), 0);
    assert_int_equal(at3(rgba, 3, 0, 1), 128);
    assert_int_equal(at3(rgba, 3, 0, 3), 255);
    cg_tensor *rgb = cg_png_read(tmp_path("pal.png"), 3);
    assert_shape(rgb, 3, (int64_t[]){3, 1, 4});
    assert_int_equal(at3(rgb, 2, 0, 2), 255);
    assert_int_equal(at3(rgb, 0, 0, 0), 10);

    /* 16-bit gray keeps the high byte: 0x1234 -> 0x12, 0xffff -> 0xff */
    uint8_t g16[4] = {0x12, 0x34, 0xff, 0xff};
    write_raw_png(tmp_path("g16.png"), 2, 1, PNG_COLOR_TYPE_GRAY, 16, PNG_INTERLACE_NONE, g16, 4,
                  NULL, 0, NULL, 0);
    cg_tensor *g = cg_png_read(tmp_path("g16.png"), 0);
    assert_shape(g, 2, (int64_t[]){1, 2});
    assert_int_equal(at2(g, 0, 0), 0x12);
    assert_int_equal(at2(g, 0, 1), 0xff);

    /* 16-bit RGB */
    uint8_t rgb16[6] = {0xab, 0x01, 0x00, 0xff, 0x7f, 0x80};
    write_raw_png(tmp_path("rgb16.png"), 1, 1, PNG_COLOR_TYPE_RGB, 16, PNG_INTERLACE_NONE, rgb16, 6,
                  NULL, 0, NULL, 0);
    cg_tensor *c16 = cg_png_read(tmp_path("rgb16.png"), 0);
    assert_shape(c16, 3, (int64_t[]){3, 1, 1});
    assert_int_equal(at3(c16, 0, 0, 0), 0xab);
    assert_int_equal(at3(c16, 1, 0, 0), 0x00);
    assert_int_equal(at3(c16, 2, 0, 0), 0x7f);

    /* 1-bit gray: 0 -> 0, 1 -> 255 */
    uint8_t bits[1] = {0xa0}; /* 1 0 1 0 */
    write_raw_png(tmp_path("g1.png"), 4, 1, PNG_COLOR_TYPE_GRAY, 1, PNG_INTERLACE_NONE, bits, 1,
                  NULL, 0, NULL, 0);
    cg_tensor *b1 = cg_png_read(tmp_path("g1.png"), 0);
    assert_memory_equal(cg_data(b1), ((uint8_t[]){255, 0, 255, 0}), 4);

    /* Adam7-interlaced RGB, 9x9, reads back pixel for pixel */
    uint8_t px[9 * 9 * 3];
    for (int i = 0; i < 9 * 9 * 3; i++) px[i] = (uint8_t)(i * 7 + 3);
    write_raw_png(tmp_path("adam7.png"), 9, 9, PNG_COLOR_TYPE_RGB, 8, PNG_INTERLACE_ADAM7, px, 27,
                  NULL, 0, NULL, 0);
    cg_tensor *il = cg_png_read(tmp_path("adam7.png"), 0);
    assert_shape(il, 3, (int64_t[]){3, 9, 9});
    for (int y = 0; y < 9; y++)
        for (int x = 0; x < 9; x++)
            for (int c = 0; c < 3; c++) assert_int_equal(at3(il, c, y, x), px[(y * 9 + x) * 3 + c]);
    cg_scope_end();
}

/* ---- PIL's conversions ---------------------------------------------------- */

static void test_conversions_match_pil(void **state) {
    (void)state;
    cg_scope_begin();
    /* Image.fromarray(a, 'RGB').convert('L') on these 8 pixels gives
     * [76, 150, 29, 129, 2, 128, 255, 92] (Pillow 9.4). */
    uint8_t rgb[8][3] = {{255, 0, 0}, {0, 255, 0}, {0, 0, 255}, {10, 200, 77},
                         {1, 2, 3},   {128, 128, 128}, {255, 255, 255}, {37, 99, 201}};
    cg_tensor *img = cg_empty(CG_UINT8, CG_SHAPE(3, 1, 8));
    for (int x = 0; x < 8; x++)
        for (int c = 0; c < 3; c++) cg_set(img, (int64_t[]){c, 0, x}, rgb[x][c]);
    assert_int_equal(cg_png_write(tmp_path("rgb.png"), img), CG_OK);
    cg_tensor *gray = cg_png_read(tmp_path("rgb.png"), 1);
    assert_shape(gray, 2, (int64_t[]){1, 8});
    assert_memory_equal(cg_data(gray), ((uint8_t[]){76, 150, 29, 129, 2, 128, 255, 92}), 8);
    cg_tensor *rgba = cg_png_read(tmp_path("rgb.png"), 4);
    assert_shape(rgba, 3, (int64_t[]){4, 1, 8});
    assert_int_equal(at3(rgba, 3, 0, 5), 255);
    assert_int_equal(at3(rgba, 2, 0, 7), 201);

    /* gray + alpha: channels 3 copies gray and drops alpha (convert('RGB')) */
    cg_tensor *ga = cg_from_data(CG_UINT8, CG_SHAPE(2, 1, 2), (uint8_t[]){7, 9, 100, 200});
    assert_int_equal(cg_png_write(tmp_path("ga.png"), ga), CG_OK);
    cg_tensor *ga3 = cg_png_read(tmp_path("ga.png"), 3);
    assert_shape(ga3, 3, (int64_t[]){3, 1, 2});
    for (int c = 0; c < 3; c++) {
        assert_int_equal(at3(ga3, c, 0, 0), 7);
        assert_int_equal(at3(ga3, c, 0, 1), 9);
    }
    cg_tensor *ga1 = cg_png_read(tmp_path("ga.png"), 1);
    assert_memory_equal(cg_data(ga1), ((uint8_t[]){7, 9}), 2);
    cg_scope_end();
}

/* ---- the real images ----------------------------------------------------- */

static void test_mnist_sample_image(void **state) {
    (void)state;
    cg_scope_begin();
    char *path = cg_path_join(sample_root(), "train/3/10000.png");
    cg_tensor *im3 = cg_png_read(path, 0);
    assert_shape(im3, 2, (int64_t[]){28, 28});
    /* array(im3)[4:10,4:10], as the chapter prints it */
    uint8_t want[6][6] = {{0, 0, 0, 0, 0, 0},       {0, 0, 0, 0, 0, 29},
                          {0, 0, 0, 48, 166, 224},  {0, 93, 244, 249, 253, 187},
                          {0, 107, 253, 253, 230, 48}, {0, 3, 20, 20, 15, 0}};
    for (int y = 0; y < 6; y++)
        for (int x = 0; x < 6; x++) assert_int_equal(at2(im3, 4 + y, 4 + x), want[y][x]);
    double total = 0;
    for (int y = 0; y < 28; y++)
        for (int x = 0; x < 28; x++) total += at2(im3, y, x);
    assert_int_equal((int64_t)total, 28465); /* np.array(Image.open(...)).sum() */

    /* as RGB, fastai's PILImage.create: the gray in all three channels */
    cg_tensor *rgb = cg_png_read(path, 3);
    assert_shape(rgb, 3, (int64_t[]){3, 28, 28});
    for (int c = 0; c < 3; c++) assert_int_equal(at3(rgb, c, 7, 8), 253);

    /* into one slot of a batch */
    cg_tensor *batch = cg_zeros(CG_UINT8, CG_SHAPE(2, 3, 28, 28));
    assert_int_equal(cg_png_read_into(path, 3, cg_select(batch, 0, 1)), CG_OK);
    assert_int_equal(cg_get(batch, (int64_t[]){1, 2, 7, 8}), 253);
    assert_int_equal(cg_get(batch, (int64_t[]){0, 2, 7, 8}), 0);
    assert_int_equal(cg_png_read_into(path, 1, cg_select(batch, 0, 1)), CG_ERR_SHAPE);
    assert_non_null(strstr(cg_last_error(), "[28, 28]"));

    /* the same bytes from memory */
    FILE *f = fopen(path, "rb");
    assert_non_null(f);
    uint8_t buf[4096];
    size_t n = fread(buf, 1, sizeof buf, f);
    fclose(f);
    cg_tensor *mem = cg_png_decode(buf, n, 0, "10000.png");
    assert_memory_equal(cg_data(mem), cg_data(im3), 28 * 28);
    free(path);
    cg_scope_end();
}

static void test_read_many(void **state) {
    (void)state;
    cg_scope_begin();
    char *dir = cg_path_join(sample_root(), "valid/3");
    cg_strlist files = {0};
    assert_int_equal(cg_ls_ext(dir, ".png", &files), CG_OK);
    assert_int_equal(files.count, 1010);
    cg_tensor *all = cg_png_read_many(&files, 0);
    assert_shape(all, 3, (int64_t[]){1010, 28, 28});
    for (size_t i = 0; i < files.count; i += 101) {
        cg_tensor *one = cg_png_read(files.items[i], 0);
        assert_memory_equal(cg_data(one), (uint8_t *)cg_data(all) + i * 784, 784);
    }
    cg_tensor *all3 = cg_png_read_many(&files, 3);
    assert_shape(all3, 4, (int64_t[]){1010, 3, 28, 28});

    /* one image of another size: the error names it */
    cg_tensor *odd = cg_zeros(CG_UINT8, CG_SHAPE(5, 5));
    assert_int_equal(cg_png_write(tmp_path("odd.png"), odd), CG_OK);
    free(files.items[500]);
    files.items[500] = strdup(tmp_path("odd.png"));
    assert_null(cg_png_read_many(&files, 0));
    assert_int_equal(cg_last_status(), CG_ERR_SHAPE);
    assert_non_null(strstr(cg_last_error(), "odd.png"));
    cg_strlist_free(&files);
    free(dir);
    cg_scope_end();
}

/* ---- errors -------------------------------------------------------------- */

static void test_read_errors(void **state) {
    (void)state;
    cg_scope_begin();
    /* missing file */
    assert_null(cg_png_read(tmp_path("missing.png"), 0));
    assert_int_equal(cg_last_status(), CG_ERR_IO);
    assert_non_null(strstr(cg_last_error(), "missing.png"));

    /* a text file named .png */
    FILE *f = fopen(tmp_path("text.png"), "wb");
    fputs("this is not an image\n", f);
    fclose(f);
    assert_null(cg_png_read(tmp_path("text.png"), 0));
    assert_int_equal(cg_last_status(), CG_ERR_FORMAT);
    assert_non_null(strstr(cg_last_error(), "text.png: not a PNG file"));

    /* a real PNG cut in half */
    cg_tensor *img = cg_empty(CG_UINT8, CG_SHAPE(3, 64, 64));
    uint8_t *p = cg_data(img);
    for (int i = 0; i < 3 * 64 * 64; i++) p[i] = (uint8_t)(i * 2654435761u >> 24); /* incompressible */
    assert_int_equal(cg_png_write(tmp_path("whole.png"), img), CG_OK);
    f = fopen(tmp_path("whole.png"), "rb");
    static uint8_t bytes[65536];
    size_t n = fread(bytes, 1, sizeof bytes, f);
    fclose(f);
    assert_true(n > 1000);
    f = fopen(tmp_path("cut.png"), "wb");
    fwrite(bytes, 1, n / 2, f);
    fclose(f);
    assert_null(cg_png_read(tmp_path("cut.png"), 0));
    assert_int_equal(cg_last_status(), CG_ERR_FORMAT);
    assert_non_null(strstr(cg_last_error(), "cut.png: corrupt or truncated"));
    /* cut inside the header */
    assert_null(cg_png_decode(bytes, 20, 0, "head.png"));
    assert_int_equal(cg_last_status(), CG_ERR_FORMAT);
    assert_non_null(strstr(cg_last_error(), "head.png: corrupt or truncated"));
    /* a flipped byte in the image data fails its CRC */
    bytes[n / 2] ^= 0x55;
    assert_null(cg_png_decode(bytes, n, 0, "flipped.png"));
    assert_int_equal(cg_last_status(), CG_ERR_FORMAT);

    /* a tiny file that declares 20000 x 10000 pixels (a decompression bomb):
     * refused before any allocation, like PIL's DecompressionBombError */
    assert_int_equal(cg_png_write(tmp_path("one.png"), cg_zeros(CG_UINT8, CG_SHAPE(1, 1))), CG_OK);
    f = fopen(tmp_path("one.png"), "rb");
    n = fread(bytes, 1, sizeof bytes, f);
    fclose(f);
    const uint8_t dims[8] = {0, 0, 0x4e, 0x20, 0, 0, 0x27, 0x10}; /* 20000, 10000 big-endian */
    memcpy(bytes + 16, dims, 8);
    uLong crc = crc32(0L, bytes + 12, 17); /* "IHDR" + its 13 data bytes */
    for (int i = 0; i < 4; i++) bytes[29 + i] = (uint8_t)(crc >> (24 - 8 * i));
    assert_null(cg_png_decode(bytes, n, 0, "bomb.png"));
    assert_int_equal(cg_last_status(), CG_ERR_FORMAT);
    assert_non_null(strstr(cg_last_error(), "bomb.png: corrupt or truncated: image too large"));
    int64_t bh, bw;
    f = fopen(tmp_path("bomb.png"), "wb");
    fwrite(bytes, 1, n, f);
    fclose(f);
    assert_int_equal(cg_png_info(tmp_path("bomb.png"), &bh, &bw, NULL), CG_OK); /* the header itself is fine */
    assert_int_equal(bw, 20000);
    assert_int_equal(bh, 10000);

    /* a bad channels argument */
    assert_null(cg_png_read(tmp_path("whole.png"), 2));
    assert_int_equal(cg_last_status(), CG_ERR_VALUE);
    cg_scope_end();
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_round_trip_each_channel_count),
        cmocka_unit_test(test_write_float_bool_and_views),
        cmocka_unit_test(test_write_errors),
        cmocka_unit_test(test_palette_16bit_1bit_interlaced),
        cmocka_unit_test(test_conversions_match_pil),
        cmocka_unit_test(test_mnist_sample_image),
        cmocka_unit_test(test_read_many),
        cmocka_unit_test(test_read_errors),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
