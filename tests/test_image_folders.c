/* Image folders as fastai's ImageDataLoaders.from_folder reads them, on
 * hand-made folders: RGB from gray, sorted classes, dotfiles and non-images
 * skipped, drop_last and valid order, the seeded shuffle (torch's order),
 * Resize crop/pad/squish (hand values and PIL's pixels), the valid_pct split
 * (torch.randperm's), JPEG decoding, IDX folders (raw and gzipped), empty class
 * folders, and uint8 storage.  The literals come from tests/support/
 * resize_reference.py (Pillow 9.4.0, numpy 1.24.2), jpeg_reference.py and
 * split_reference.py (torch 1.13). */
#define _XOPEN_SOURCE 700
#include <ftw.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cmocka.h>
#include <jpeglib.h>
#include <zlib.h>

#include "cgrad.h"

/* ---- PIL / torch literals ---------------------------------------------------- */
/* resize_reference.py */
static const uint8_t pil_5x7_to_3x4[] = {65, 103, 86, 140, 116, 115, 117, 154, 107, 122, 80, 26};
static const uint8_t pil_4x3_to_7x5[] = {0,   36,  91,  146, 182, 13,  54,  115, 121, 124, 34,  82,
                                         152, 80,  32,  56,  110, 190, 117, 69,  77,  130, 209, 158,
                                         123, 98,  99,  101, 147, 177, 111, 80,  33,  140, 211};
static const uint8_t pil_rgb_5x6_to_3x4[] = {55,  110, 73,  129, 109, 129, 103, 118, 109,
                                             119, 105, 55,  108, 163, 126, 182, 108, 102,
                                             103, 118, 162, 111, 145, 108, 119, 98,  162,
                                             143, 140, 130, 124, 171, 215, 151, 137, 161};
static const uint8_t fastai_crop_valid_6x10_4[] = {100, 79,  141, 129, 87,  109, 150, 203,
                                                   149, 104, 57,  112, 163, 157, 110, 32};
static const uint8_t fastai_crop_train_6x10_4[] = {66,  131, 128, 143, 95,  129, 199, 120,
                                                   115, 72,  79,  167, 161, 140, 41,  81};
static const uint8_t fastai_pad_valid_6x10_4[] = {103, 92,  158, 133, 103, 99, 150, 134,
                                                  128, 123, 82,  138, 126, 125, 67, 134};
static const uint8_t fastai_pad_zeros_6x10_4[] = {22,  26,  33, 35,  99, 96, 143, 130,
                                                  124, 121, 81, 131, 46, 52, 27,  19};
static const uint8_t fastai_pad_border_train_6x10_4[] = {79,  100, 115, 135, 89,  95, 136, 131,
                                                         118, 115, 115, 148, 163, 179, 92, 80};
static const uint8_t fastai_squish_6x10_4[] = {82,  92,  131, 124, 120, 102, 168, 146,
                                               112, 116, 81,  155, 156, 159, 81,  93};
static const uint8_t fastai_pad_reflect_3x2_to_9[] = {
    0,  0,  30,  61,  91,  61,  30,  0,  0,  0,  0,  30,  61,  91,  61,  30,  0,  0,  12, 12, 46,
    80, 113, 80, 46,  12,  12,  25,  25, 61, 98, 135, 98,  61,  25,  25,  37,  37, 77, 117, 157, 117,
    77, 37,  37, 49,  49,  93,  136, 179, 136, 93, 49, 49,  62,  62,  108, 154, 201, 154, 108, 62, 62,
    74, 74,  124, 173, 223, 173, 124, 74, 74, 74, 74, 124, 173, 223, 173, 124, 74, 74};
/* jpeg_reference.py (Pillow 9.4.0: tests/fuzz/corpus/image/ok-rgb420-16x9-jpeg, 3x9x16) */
static const uint8_t pil_rgb420_16x9[] = {
    23, 76, 206, 44, 121, 195, 0, 118, 229, 47, 139, 172, 0, 105, 239, 55, 78, 176, 76, 155,
    227, 14, 163, 175, 66, 165, 191, 56, 124, 186, 81, 194, 204, 84, 168, 97, 61, 168, 37, 100,
    191, 112, 76, 160, 70, 64, 214, 101, 80, 141, 129, 110, 178, 23, 139, 156, 29, 137, 198, 43,
    111, 179, 31, 160, 208, 48, 153, 229, 65, 135, 157, 53, 139, 210, 89, 159, 155, 52, 190,
    224, 37, 143, 199, 56, 171, 100, 53, 151, 108, 95, 157, 91, 98, 167, 88, 90, 149, 113, 97,
    214, 117, 56, 154, 23, 78, 203, 85, 130, 194, 82, 130, 215, 17, 94, 221, 30, 131, 224, 62,
    103, 178, 72, 153, 219, 113, 137, 195, 58, 128, 203, 66, 161, 213, 70, 140, 196, 62, 173,
    97, 132, 205, 105, 90, 160, 70, 102, 189, 19, 122, 213, 25, 132, 205, 20, 142, 204, 55, 144,
    217, 2, 122, 201, 59, 131, 227, 31, 191, 190, 44, 139, 193, 84, 177, 224, 61, 146, 241, 105,
    153, 76, 60, 183, 62, 114, 175, 92, 79, 184, 115, 95, 200, 64, 113, 159, 115, 90, 176, 36,
    161, 170, 19, 123, 198, 60, 145, 204, 22, 133, 234, 63, 143, 214, 62, 143, 179, 71, 136,
    200, 84, 165, 175, 69, 186, 210, 63, 157, 193, 42, 169, 109, 76, 172, 111, 88, 146, 83, 100,
    172, 87, 87, 176, 131, 92, 203, 116, 67, 183, 51, 90, 198, 66, 107, 179, 75, 132, 221, 50,
    115, 219, 22, 132, 239, 96, 138, 194, 67, 121, 179, 79, 117, 197, 72, 166, 229, 68, 157,
    216, 88, 182, 239, 84, 167, 53, 71, 151, 72, 92, 179, 2, 54, 181, 22, 106, 187, 0, 119, 237,
    65, 175, 219, 48, 149, 255, 72, 71, 162, 52, 131, 215, 12, 169, 183, 67, 174, 216, 95, 171,
    227, 98, 198, 223, 90, 148, 75, 56, 180, 59, 115, 185, 103, 84, 186, 112, 97, 213, 82, 122,
    163, 114, 89, 181, 45, 174, 179, 17, 114, 190, 52, 144, 201, 15, 122, 255, 84, 144, 211, 73,
    162, 202, 81, 121, 173, 64, 151, 174, 63, 159, 173, 98, 183, 197, 42, 180, 126, 92, 177, 90,
    59, 124, 70, 99, 165, 57, 44, 193, 143, 99, 209, 121, 69, 179, 39, 70, 178, 52, 99, 174, 65,
    111, 193, 33, 108, 230, 33, 127, 218, 63, 106, 181, 64, 124, 179, 70, 108, 194, 72, 105,
    192, 80, 172, 197, 40, 110, 183, 82, 193, 80, 86, 139, 63, 115, 219};
/* split_reference.py */
static const int64_t split_n10_seed42_train[] = {1, 8, 4, 5, 0, 9, 3, 7};
static const int64_t split_n10_seed42_valid[] = {2, 6};
static const int64_t split_n7_seed0_train[] = {5, 3, 2, 6, 1};
static const int64_t split_n7_seed0_valid[] = {4, 0};
static const int64_t split_n12_seed7_train[] = {5, 7, 9, 11, 6, 8, 1, 10, 2};
static const int64_t split_n12_seed7_valid[] = {3, 4, 0};
static const int64_t loader_n10_bs4_seed3_epoch0[] = {7, 4, 2, 9, 1, 5, 0, 8};
static const int64_t loader_n10_bs4_seed3_epoch1[] = {1, 2, 0, 5, 9, 4, 8, 3};

/* ---- helpers ---------------------------------------------------------------- */

static char tmp_root[256];

static const char *in_tmp(const char *fmt, ...) {
    static char buf[8][1024];
    static int k;
    char rel[768];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(rel, sizeof rel, fmt, ap);
    va_end(ap);
    char *b = buf[k++ % 8];
    snprintf(b, 1024, "%s/%s", tmp_root, rel);
    return b;
}

static void make_dirs(const char *path) { assert_int_equal(cg_mkdirs(path), CG_OK); }

/* The pattern resize_reference.py builds: (c*53 + y*37 + x*91 + (x*y)%7*29) % 256. */
static cg_tensor *pattern(int64_t c, int64_t h, int64_t w) {
    cg_tensor *t = c == 1 ? cg_empty(CG_UINT8, 2, (int64_t[]){h, w})
                          : cg_empty(CG_UINT8, 3, (int64_t[]){c, h, w});
    uint8_t *p = cg_data(t);
    for (int64_t ci = 0; ci < c; ci++)
        for (int64_t y = 0; y < h; y++)
            for (int64_t x = 0; x < w; x++)
                p[(ci * h + y) * w + x] = (uint8_t)((ci * 53 + y * 37 + x * 91 + (x * y) % 7 * 29) % 256);
    return t;
}

/* A gray h x w PNG whose every pixel is v. */
static void write_gray_png(const char *path, int64_t h, int64_t w, uint8_t v) {
    cg_tensor *t = cg_full(CG_UINT8, 2, (int64_t[]){h, w}, v);
    assert_int_equal(cg_png_write(path, t), CG_OK);
    cg_release(t);
}

/* Interleaved pixels (h x w x comps) as a JPEG of the given quality, with libjpeg. */
static void write_jpeg(const char *path, const uint8_t *px, int h, int w, int comps, int quality) {
    struct jpeg_compress_struct c;
    struct jpeg_error_mgr e;
    c.err = jpeg_std_error(&e);
    jpeg_create_compress(&c);
    FILE *f = fopen(path, "wb");
    assert_non_null(f);
    jpeg_stdio_dest(&c, f);
    c.image_width = (JDIMENSION)w;
    c.image_height = (JDIMENSION)h;
    c.input_components = comps;
    c.in_color_space = comps == 3 ? JCS_RGB : JCS_GRAYSCALE;
    jpeg_set_defaults(&c);
    jpeg_set_quality(&c, quality, TRUE);
    jpeg_start_compress(&c, TRUE);
    while (c.next_scanline < c.image_height) {
        JSAMPROW row = (JSAMPROW)(px + (size_t)c.next_scanline * (size_t)(w * comps));
        jpeg_write_scanlines(&c, &row, 1);
    }
    jpeg_finish_compress(&c);
    jpeg_destroy_compress(&c);
    assert_int_equal(fclose(f), 0);
}

static void write_file(const char *path, const void *data, size_t n) {
    FILE *f = fopen(path, "wb");
    assert_non_null(f);
    assert_int_equal(fwrite(data, 1, n, f), n);
    assert_int_equal(fclose(f), 0);
}

static int remove_entry(const char *p, const struct stat *sb, int flag, struct FTW *ftw) {
    (void)sb, (void)flag, (void)ftw;
    return remove(p);
}

static int setup(void **state) {
    (void)state;
    snprintf(tmp_root, sizeof tmp_root, "/tmp/cgrad_test_image_folders_XXXXXX");
    return mkdtemp(tmp_root) ? 0 : -1;
}

static int teardown(void **state) {
    (void)state;
    return nftw(tmp_root, remove_entry, 16, FTW_DEPTH | FTW_PHYS);
}

static void check_u8(const cg_tensor *t, const uint8_t *want, int64_t n) {
    assert_non_null(t);
    assert_int_equal(t->dtype, CG_UINT8);
    assert_int_equal(cg_numel(t), n);
    const uint8_t *got = cg_data(t);
    for (int64_t i = 0; i < n; i++)
        if (got[i] != want[i]) fail_msg("pixel %lld is %d, expected %d", (long long)i, got[i], want[i]);
}

/* ---- resizing ----------------------------------------------------------------- */

/* PIL's bilinear worked by hand (see src/data/resize.c for the formula):
 * [0,100] -> 4: centres 0.25, 0.75, 1.25, 1.75; the triangle's weights give
 * 0, 0.25*100, 0.75*100, 100.  [0,100,200,40] -> 2: scale 2 widens the filter to
 * support 2: weights 3/7,3/7,1/7 over pixels 0..2 and 1/7,3/7,3/7 over 1..3,
 * in 22-bit fixed point: (2^21 + 100*1797559 + 200*599186) >> 22 = 71 and
 * (2^21 + 100*599186 + 240*1797559) >> 22 = 117 (the exact means are 71.4, 117.1). */
static void test_resize_by_hand(void **state) {
    (void)state;
    cg_scope_begin();
    cg_tensor *a = cg_empty(CG_UINT8, 2, (int64_t[]){1, 2});
    ((uint8_t *)cg_data(a))[0] = 0, ((uint8_t *)cg_data(a))[1] = 100;
    check_u8(cg_image_resize(a, 1, 4), (const uint8_t[]){0, 25, 75, 100}, 4);
    cg_tensor *b = cg_empty(CG_UINT8, 2, (int64_t[]){1, 4});
    memcpy(cg_data(b), (const uint8_t[]){0, 100, 200, 40}, 4);
    check_u8(cg_image_resize(b, 1, 2), (const uint8_t[]){71, 117}, 2);
    /* the same size is a copy, as PIL's */
    check_u8(cg_image_resize(b, 1, 4), (const uint8_t[]){0, 100, 200, 40}, 4);
    /* padding a row [1,2,3] two to the left and three to the right */
    cg_tensor *r = cg_empty(CG_UINT8, 2, (int64_t[]){1, 3});
    memcpy(cg_data(r), (const uint8_t[]){1, 2, 3}, 3);
    check_u8(cg_image_crop_pad(r, 0, -2, 1, 8, CG_PAD_REFLECTION), (const uint8_t[]){3, 2, 1, 2, 3, 2, 1, 2}, 8);
    check_u8(cg_image_crop_pad(r, 0, -2, 1, 8, CG_PAD_BORDER), (const uint8_t[]){1, 1, 1, 2, 3, 3, 3, 3}, 8);
    check_u8(cg_image_crop_pad(r, 0, -2, 1, 8, CG_PAD_ZEROS), (const uint8_t[]){0, 0, 1, 2, 3, 0, 0, 0}, 8);
    /* a crop inside: [2,3] */
    check_u8(cg_image_crop_pad(r, 0, 1, 1, 2, CG_PAD_ZEROS), (const uint8_t[]){2, 3}, 2);
    /* errors */
    assert_null(cg_image_resize(b, 0, 2));
    assert_int_equal(cg_last_status(), CG_ERR_VALUE);
    assert_null(cg_image_resize(cg_zeros(CG_FLOAT32, CG_SHAPE(2, 2)), 1, 1));
    assert_int_equal(cg_last_status(), CG_ERR_SHAPE);
    assert_null(cg_image_crop_pad(r, 5, 0, 1, 1, CG_PAD_ZEROS)); /* misses the image */
    assert_int_equal(cg_last_status(), CG_ERR_VALUE);
    cg_scope_end();
}

/* fastai's boxes for a 6x10 (h x w) image and size 4: crop takes the centred
 * 6x6 (m = min(10/4, 6/4) = 1.5; left int(0.5*4) = 2); pad takes 10x10 (m = 2.5;
 * top int(0.5*-4) = -2); squish the whole image. */
static void test_resize_boxes(void **state) {
    (void)state;
    cg_resize_options crop = {.height = 4, .width = 4}, pad = crop, squish = crop;
    pad.method = CG_RESIZE_PAD;
    squish.method = CG_RESIZE_SQUISH;
    cg_resize_method m;
    assert_int_equal(cg_resize_method_parse("squash", &m), CG_OK);
    assert_int_equal(m, CG_RESIZE_SQUISH);
    assert_int_equal(cg_resize_method_parse("pad", &m), CG_OK);
    assert_int_equal(m, CG_RESIZE_PAD);
    assert_int_equal(cg_resize_method_parse("zoom", &m), CG_ERR_VALUE);
    assert_non_null(strstr(cg_last_error(), "zoom"));
    assert_int_equal(cg_resize_options_check(&(cg_resize_options){.height = 4}), CG_ERR_VALUE);
    assert_int_equal(cg_resize_options_check(&(cg_resize_options){.height = 99999, .width = 4}),
                     CG_ERR_VALUE);

    cg_scope_begin();
    cg_tensor *img = pattern(1, 6, 10);
    /* the crop box by hand: columns 2..7, resized 6x6 -> 4x4, equals PIL on the crop */
    cg_tensor *box = cg_image_crop_pad(img, 0, 2, 6, 6, CG_PAD_ZEROS);
    cg_tensor *via_box = cg_image_resize(box, 4, 4);
    cg_tensor *item = cg_image_resize_item(img, &crop, 0.5, 0.5);
    assert_memory_equal(cg_data(item), cg_data(via_box), 16);
    check_u8(item, fastai_crop_valid_6x10_4, 16);
    /* PIL/fastai literals: pcts (x, y) = (0.75, 0.25) is pct_y 0.25, pct_x 0.75 */
    check_u8(cg_image_resize_item(img, &crop, 0.25, 0.75), fastai_crop_train_6x10_4, 16);
    check_u8(cg_image_resize_item(img, &pad, 0.5, 0.5), fastai_pad_valid_6x10_4, 16);
    pad.pad_mode = CG_PAD_ZEROS;
    check_u8(cg_image_resize_item(img, &pad, 0.5, 0.5), fastai_pad_zeros_6x10_4, 16);
    pad.pad_mode = CG_PAD_BORDER;
    check_u8(cg_image_resize_item(img, &pad, 0.9, 0.3), fastai_pad_border_train_6x10_4, 16);
    check_u8(cg_image_resize_item(img, &squish, 0.5, 0.5), fastai_squish_6x10_4, 16);
    /* 3x2 padded to 9x9: the box is 3x3 with left int(0.5*-1) = 0 (toward zero),
     * one reflected column on the right, then a 3x3 -> 9x9 upscale */
    cg_resize_options pad9 = {.height = 9, .width = 9, .method = CG_RESIZE_PAD};
    check_u8(cg_image_resize_item(pattern(1, 3, 2), &pad9, 0.5, 0.5), fastai_pad_reflect_3x2_to_9, 81);
    /* PIL's resize itself, gray down and up, and RGB per channel */
    check_u8(cg_image_resize(pattern(1, 5, 7), 3, 4), pil_5x7_to_3x4, 12);
    check_u8(cg_image_resize(pattern(1, 4, 3), 7, 5), pil_4x3_to_7x5, 35);
    cg_tensor *rgb = cg_image_resize(pattern(3, 5, 6), 3, 4);
    assert_int_equal(rgb->ndim, 3);
    assert_int_equal(rgb->shape[0], 3);
    check_u8(rgb, pil_rgb_5x6_to_3x4, 36);
    cg_scope_end();
}

/* ---- folders ------------------------------------------------------------------ */

/* root/train/{b,a}/ and root/valid/{a,b}/: gray PNGs, one RGB PNG, one JPEG named
 * .png (told by its bytes), a dotfile, a text file and a hidden folder. */
static void make_tree(const char *root) {
    char d[1024];
    const char *dirs[] = {"train/a", "train/b", "valid/a", "valid/b", "train/.ipynb_checkpoints"};
    for (int i = 0; i < 5; i++) {
        snprintf(d, sizeof d, "%s/%s", root, dirs[i]);
        make_dirs(d);
    }
    /* train: a/0..a/2 (values 10, 20, 30), b/3..b/6 (40..70) */
    for (int i = 0; i < 7; i++) {
        snprintf(d, sizeof d, "%s/train/%s/%d.png", root, i < 3 ? "a" : "b", i);
        write_gray_png(d, 4, 4, (uint8_t)(10 * (i + 1)));
    }
    /* valid: a/v0 gray 100, a/v1 RGB (pattern), b/v2 a JPEG under a .png name */
    snprintf(d, sizeof d, "%s/valid/a/v0.png", root);
    write_gray_png(d, 4, 4, 100);
    snprintf(d, sizeof d, "%s/valid/a/v1.png", root);
    cg_tensor *rgb = pattern(3, 4, 4);
    assert_int_equal(cg_png_write(d, rgb), CG_OK);
    cg_release(rgb);
    uint8_t gray[16];
    memset(gray, 200, sizeof gray);
    snprintf(d, sizeof d, "%s/valid/b/v2.png", root);
    write_jpeg(d, gray, 4, 4, 1, 100);
    /* skipped: names that start with a dot, non-image names, hidden folders */
    snprintf(d, sizeof d, "%s/train/a/.hidden.png", root);
    write_gray_png(d, 9, 9, 1);
    snprintf(d, sizeof d, "%s/train/b/notes.txt", root);
    write_file(d, "not an image", 12);
    snprintf(d, sizeof d, "%s/train/.ipynb_checkpoints/x.png", root);
    write_gray_png(d, 9, 9, 1);
}

static void test_folder_items(void **state) {
    (void)state;
    char root[512];
    snprintf(root, sizeof root, "%s", in_tmp("tree"));
    make_tree(root);
    cg_labelled_files f = {0};
    assert_int_equal(cg_image_folder_list(root, "train", &f), CG_OK);
    assert_int_equal(f.paths.count, 7); /* not .hidden.png, notes.txt, .ipynb_checkpoints */
    assert_int_equal(f.classes.count, 2);
    assert_string_equal(f.classes.items[0], "a"); /* sorted by name */
    assert_string_equal(f.classes.items[1], "b");
    assert_int_equal(f.empty_dirs.count, 0);
    cg_labelled_files_free(&f);
    assert_true(cg_is_image_name("x.JPG") && cg_is_image_name("x.jpeg") && cg_is_image_name("y.gif"));
    assert_false(cg_is_image_name(".x.png") || cg_is_image_name("x.txt") || cg_is_image_name("x.png~"));

    cg_scope_begin();
    cg_dataset *ds = cg_dataset_image_folder(root, "valid", NULL); /* fastai's defaults */
    assert_non_null(ds);
    assert_int_equal(cg_dataset_len(ds), 3);
    /* stored as uint8: the two gray images one plane each (16 bytes), the RGB one 48 */
    assert_int_equal(cg_dataset_nbytes(ds), 16 + 48 + 16);
    cg_tensor *xb, *yb;
    assert_int_equal(cg_dataset_batch(ds, (int64_t[]){0, 1, 2}, 3, &xb, &yb), CG_OK);
    assert_int_equal(xb->dtype, CG_FLOAT32);
    assert_int_equal(xb->ndim, 4);
    assert_int_equal(xb->shape[1], 3);
    const float *x = cg_data(xb);
    for (int c = 0; c < 3; c++) /* gray copied to R, G and B, /255 */
        for (int i = 0; i < 16; i++) assert_true(x[c * 16 + i] == 100.0f / 255.0f);
    cg_tensor *rgb = pattern(3, 4, 4);
    for (int i = 0; i < 48; i++) assert_true(x[48 + i] == (float)((uint8_t *)cg_data(rgb))[i] / 255.0f);
    for (int i = 0; i < 48; i++) /* the JPEG: a flat 200 within JPEG's error */
        assert_true(x[96 + i] * 255.0f > 198.5f && x[96 + i] * 255.0f < 201.5f);
    assert_memory_equal(cg_data(yb), ((int64_t[]){0, 0, 1}), 3 * sizeof(int64_t));
    cg_dataset_release(ds);

    /* gray flat rows for the chapter's models: [16] uint8 */
    ds = cg_dataset_image_folder(root, "train",
                                 &(cg_image_item_options){.channels = 1, .flatten = true});
    cg_tensor *x0, *y0;
    assert_int_equal(cg_dataset_item(ds, 4, &x0, &y0), CG_OK);
    assert_int_equal(x0->ndim, 1);
    assert_int_equal(x0->shape[0], 16);
    assert_int_equal(((uint8_t *)cg_data(x0))[7], 50);
    double label;
    cg_item(y0, &label);
    assert_true(label == 1);
    cg_dataset_release(ds);
    cg_scope_end();
}

/* The training loader: shuffled with torch's order for the same seed, drop_last;
 * the validation loader in order with its partial batch. */
static void test_folder_loaders(void **state) {
    (void)state;
    char root[512];
    snprintf(root, sizeof root, "%s", in_tmp("ten"));
    char d[1024];
    for (int i = 0; i < 10; i++) { /* item i (sorted by path) has pixel value 10 + i */
        snprintf(d, sizeof d, "%s/train/%c", root, i < 5 ? 'a' : 'b');
        make_dirs(d);
        snprintf(d, sizeof d, "%s/train/%c/%d.png", root, i < 5 ? 'a' : 'b', i);
        write_gray_png(d, 3, 3, (uint8_t)(10 + i));
    }
    for (int i = 0; i < 5; i++) {
        snprintf(d, sizeof d, "%s/valid/%c", root, i < 2 ? 'a' : 'b');
        make_dirs(d);
        snprintf(d, sizeof d, "%s/valid/%c/%d.png", root, i < 2 ? 'a' : 'b', i);
        write_gray_png(d, 3, 3, (uint8_t)(100 + i));
    }
    cg_image_folder_options o = cg_image_folder_defaults();
    assert_int_equal(o.batch_size, 64);
    assert_int_equal(o.item.channels, 3);
    o.batch_size = 4;
    o.seeded = true;
    o.seed = 3;
    o.item.to_float = false;
    cg_dataloaders *dls = cg_image_folder_dataloaders(root, &o, NULL);
    assert_non_null(dls);
    assert_int_equal(cg_dataloader_len(dls->train), 2); /* 10 items, drop_last */
    assert_int_equal(cg_dataloader_len(dls->valid), 2); /* 5 items, the last partial */
    const int64_t *want[2] = {loader_n10_bs4_seed3_epoch0, loader_n10_bs4_seed3_epoch1};
    for (int epoch = 0; epoch < 2; epoch++) {
        int64_t got = 0;
        cg_tensor *xb, *yb;
        cg_scope_begin();
        while (cg_dataloader_next(dls->train, &xb, &yb)) {
            assert_int_equal(xb->shape[0], 4);
            assert_int_equal(xb->shape[1], 3);
            for (int64_t k = 0; k < 4; k++, got++) {
                int64_t item = ((uint8_t *)cg_data(xb))[k * 27] - 10;
                assert_int_equal(item, want[epoch][got]);
                assert_int_equal(((int64_t *)cg_data(yb))[k], item < 5 ? 0 : 1);
            }
        }
        cg_scope_end();
        assert_int_equal(cg_dataloader_status(dls->train), CG_OK);
        assert_int_equal(got, 8);
    }
    int64_t seen = 0, batches = 0;
    cg_tensor *xb, *yb;
    cg_scope_begin();
    while (cg_dataloader_next(dls->valid, &xb, &yb)) {
        for (int64_t k = 0; k < xb->shape[0]; k++, seen++)
            assert_int_equal(((uint8_t *)cg_data(xb))[k * 27], 100 + seen); /* in order */
        batches++;
    }
    cg_scope_end();
    assert_int_equal(seen, 5);
    assert_int_equal(batches, 2);
    cg_dataloaders_free(dls);

    /* other folder names */
    o.train = "valid", o.valid = "train";
    dls = cg_image_folder_dataloaders(root, &o, NULL);
    assert_int_equal(cg_dataloader_n(dls->train), 5);
    assert_int_equal(cg_dataloader_n(dls->valid), 10);
    cg_dataloaders_free(dls);
    o.train = "training";
    assert_null(cg_image_folder_dataloaders(root, &o, NULL));
    assert_non_null(strstr(cg_last_error(), "training"));
}

/* Images of different sizes batch together once resized; the validation set
 * takes the centre, the training set random boxes that stay put for a seed. */
static void test_resize_in_loaders(void **state) {
    (void)state;
    char root[512];
    snprintf(root, sizeof root, "%s", in_tmp("sizes"));
    make_dirs(in_tmp("sizes/train/x"));
    make_dirs(in_tmp("sizes/valid/x"));
    cg_scope_begin();
    cg_tensor *wide = pattern(1, 6, 10), *tall = pattern(3, 9, 5);
    assert_int_equal(cg_png_write(in_tmp("sizes/train/x/wide.png"), wide), CG_OK);
    assert_int_equal(cg_png_write(in_tmp("sizes/train/x/tall.png"), tall), CG_OK);
    assert_int_equal(cg_png_write(in_tmp("sizes/valid/x/wide.png"), wide), CG_OK);
    assert_int_equal(cg_png_write(in_tmp("sizes/valid/x/tall.png"), tall), CG_OK);
    cg_image_folder_options o = cg_image_folder_defaults();
    o.item.to_float = false;
    o.batch_size = 2;
    o.seeded = true, o.seed = 1;
    /* without a resize the two sizes cannot share a batch */
    cg_dataloaders *dls = cg_image_folder_dataloaders(root, &o, NULL);
    cg_tensor *xb, *yb;
    assert_int_equal(cg_dataloader_first(dls->valid, &xb, &yb), CG_ERR_SHAPE);
    assert_non_null(strstr(cg_last_error(), "wide.png"));
    assert_non_null(strstr(cg_last_error(), "tall.png"));
    cg_dataloaders_free(dls);

    o.item.resize = (cg_resize_options){.height = 4, .width = 4};
    dls = cg_image_folder_dataloaders(root, &o, NULL);
    assert_int_equal(cg_dataloader_first(dls->valid, &xb, &yb), CG_OK);
    assert_int_equal(xb->shape[0], 2);
    assert_int_equal(xb->shape[1], 3);
    assert_int_equal(xb->shape[2], 4);
    /* items sorted by path: tall.png, then wide.png (gray, copied to 3 channels) */
    cg_tensor *t4 = cg_image_resize_item(tall, &o.item.resize, 0.5, 0.5);
    assert_memory_equal(cg_data(xb), cg_data(t4), 48);
    for (int c = 0; c < 3; c++)
        assert_memory_equal((uint8_t *)cg_data(xb) + 48 + 16 * c, fastai_crop_valid_6x10_4, 16);
    /* training: each epoch's box of wide.png is one of the crop positions, and
     * the same seed gives the same boxes */
    uint8_t first[2][48];
    for (int run = 0; run < 2; run++) {
        cg_dataloaders *d2 = run ? cg_image_folder_dataloaders(root, &o, NULL) : dls;
        for (int epoch = 0; epoch < 2; epoch++) {
            cg_scope_begin();
            assert_true(cg_dataloader_next(d2->train, &xb, &yb));
            assert_int_equal(xb->shape[0], 2);
            if (epoch == 0) memcpy(first[run], cg_data(xb), 48);
            assert_false(cg_dataloader_next(d2->train, &xb, &yb)); /* one batch of 2 */
            cg_scope_end();
        }
        if (run) cg_dataloaders_free(d2);
    }
    assert_memory_equal(first[0], first[1], 48);
    cg_dataloaders_free(dls);
    /* a random box of wide.png at (py, px) is fastai's crop at those fractions:
     * its 6x6 box can start at columns 0..4 only; every one is a valid crop */
    cg_dataset *ds = cg_dataset_image_folder(
        root, "train",
        &(cg_image_item_options){.channels = 1, .resize = o.item.resize, .random_crop = true, .seed = 9});
    bool matched_all = true;
    for (int draw = 0; draw < 6; draw++) {
        cg_tensor *x, *y;
        assert_int_equal(cg_dataset_item(ds, 1, &x, &y), CG_OK); /* wide.png */
        bool matched = false;
        for (int left = 0; left <= 4 && !matched; left++) {
            cg_tensor *crop = cg_image_resize(cg_image_crop_pad(wide, 0, left, 6, 6, CG_PAD_ZEROS), 4, 4);
            matched = !memcmp(cg_data(crop), cg_data(x), 16);
        }
        matched_all = matched_all && matched;
    }
    assert_true(matched_all);
    cg_dataset_release(ds);
    cg_scope_end();
}

/* decode_on_demand: only headers are read up front, and the batches are the
 * in-memory ones, random boxes included; a file changed since is an error. */
static void test_decode_on_demand(void **state) {
    (void)state;
    char root[512];
    snprintf(root, sizeof root, "%s", in_tmp("lazy"));
    make_dirs(in_tmp("lazy/train/x"));
    make_dirs(in_tmp("lazy/train/y"));
    make_dirs(in_tmp("lazy/valid/x"));
    cg_scope_begin();
    assert_int_equal(cg_png_write(in_tmp("lazy/train/x/a.png"), pattern(1, 6, 10)), CG_OK);
    assert_int_equal(cg_png_write(in_tmp("lazy/train/y/b.png"), pattern(3, 9, 5)), CG_OK);
    uint8_t px[7 * 8 * 3];
    for (size_t k = 0; k < sizeof px; k++) px[k] = (uint8_t)(k * 7);
    write_jpeg(in_tmp("lazy/train/y/c.jpg"), px, 7, 8, 3, 90);
    assert_int_equal(cg_png_write(in_tmp("lazy/valid/x/d.png"), pattern(1, 5, 5)), CG_OK);
    int64_t h, w;
    int c;
    assert_int_equal(cg_image_info(in_tmp("lazy/train/y/c.jpg"), &h, &w, &c), CG_OK);
    assert_true(h == 7 && w == 8 && c == 3);
    cg_image_folder_options o = cg_image_folder_defaults();
    o.batch_size = 3;
    o.seeded = true, o.seed = 5;
    o.item.resize = (cg_resize_options){.height = 4, .width = 4};
    cg_dataloaders *mem = cg_image_folder_dataloaders(root, &o, NULL);
    o.decode_on_demand = true;
    cg_dataloaders *lazy = cg_image_folder_dataloaders(root, &o, NULL);
    assert_non_null(mem);
    assert_non_null(lazy);
    assert_int_equal(cg_dataset_nbytes(cg_dataloader_dataset(lazy->train)), 0);
    assert_int_equal(cg_dataset_nbytes(cg_dataloader_dataset(mem->train)), 60 + 135 + 168);
    for (int epoch = 0; epoch < 2; epoch++) {
        cg_tensor *a, *ay, *b, *by;
        assert_true(cg_dataloader_next(mem->train, &a, &ay));
        assert_true(cg_dataloader_next(lazy->train, &b, &by));
        assert_int_equal(cg_numel(a), 3 * 3 * 16);
        assert_memory_equal(cg_data(a), cg_data(b), 3 * 3 * 16 * sizeof(float));
        assert_memory_equal(cg_data(ay), cg_data(by), 3 * sizeof(int64_t));
        assert_false(cg_dataloader_next(mem->train, &a, &ay));
        assert_false(cg_dataloader_next(lazy->train, &b, &by));
    }
    /* the file is read again when its item is made */
    assert_int_equal(cg_png_write(in_tmp("lazy/valid/x/d.png"), pattern(1, 6, 6)), CG_OK);
    cg_tensor *xb, *yb;
    assert_int_equal(cg_dataloader_first(lazy->valid, &xb, &yb), CG_ERR_STATE);
    assert_non_null(strstr(cg_last_error(), "d.png"));
    assert_int_equal(cg_dataloader_first(mem->valid, &xb, &yb), CG_OK);
    cg_dataloaders_free(mem);
    cg_dataloaders_free(lazy);
    cg_scope_end();
}

/* RandomSplitter: torch.manual_seed(seed); randperm(n); the first int(pct*n) are valid. */
static void test_valid_pct(void **state) {
    (void)state;
    struct { int64_t n; double pct; uint64_t seed; const int64_t *t, *v; int64_t nt, nv; } cases[] = {
        {10, 0.2, 42, split_n10_seed42_train, split_n10_seed42_valid, 8, 2},
        {7, 0.3, 0, split_n7_seed0_train, split_n7_seed0_valid, 5, 2},
        {12, 0.25, 7, split_n12_seed7_train, split_n12_seed7_valid, 9, 3},
    };
    for (int c = 0; c < 3; c++) {
        int64_t *t, *v, nt, nv;
        assert_int_equal(cg_random_split(cases[c].n, cases[c].pct, true, cases[c].seed, &t, &nt, &v, &nv), CG_OK);
        assert_int_equal(nt, cases[c].nt);
        assert_int_equal(nv, cases[c].nv);
        assert_memory_equal(t, cases[c].t, (size_t)nt * sizeof *t);
        assert_memory_equal(v, cases[c].v, (size_t)nv * sizeof *v);
        free(t);
        free(v);
    }
    int64_t *t, *v, nt, nv;
    assert_int_equal(cg_random_split(10, 1.0, true, 0, &t, &nt, &v, &nv), CG_ERR_VALUE);

    /* a folder without train/valid: 10 images under root/<class>/, sorted by
     * path; with valid_pct 0.2 and seed 42, items 2 and 6 are the validation set */
    char root[512];
    snprintf(root, sizeof root, "%s", in_tmp("flat"));
    char d[1024];
    for (int i = 0; i < 10; i++) {
        snprintf(d, sizeof d, "%s/%s", root, i < 4 ? "cat" : "dog");
        make_dirs(d);
        snprintf(d, sizeof d, "%s/%s/%02d.jpg", root, i < 4 ? "cat" : "dog", i);
        uint8_t px[4 * 4 * 3];
        memset(px, 20 * i, sizeof px);
        write_jpeg(d, px, 4, 4, 3, 100);
    }
    make_dirs(in_tmp("flat/.git"));
    cg_image_folder_options o = cg_image_folder_defaults();
    o.valid_pct = 0.2;
    o.seeded = true, o.seed = 42;
    o.item.to_float = false;
    cg_dataloaders *dls = cg_image_folder_dataloaders(root, &o, NULL);
    assert_non_null(dls);
    assert_int_equal(cg_dataloader_n(dls->train), 8);
    assert_int_equal(cg_dataloader_n(dls->valid), 2);
    int64_t nclasses;
    const char *const *cl = cg_dataset_classes(cg_dataloader_dataset(dls->valid), &nclasses);
    assert_int_equal(nclasses, 2);
    assert_string_equal(cl[0], "cat");
    cg_tensor *xb, *yb;
    cg_scope_begin();
    assert_int_equal(cg_dataloader_first(dls->valid, &xb, &yb), CG_OK);
    const uint8_t *x = cg_data(xb);
    assert_true(abs(x[0] - 40) <= 1);      /* item 2: 2*20, a cat */
    assert_true(abs(x[48] - 120) <= 1);    /* item 6: 6*20, a dog */
    assert_memory_equal(cg_data(yb), ((int64_t[]){0, 1}), 2 * sizeof(int64_t));
    cg_scope_end();
    cg_dataloaders_free(dls);
    o.valid_pct = 1.5;
    assert_null(cg_image_folder_dataloaders(root, &o, NULL));
    assert_int_equal(cg_last_status(), CG_ERR_VALUE);
}

/* ---- JPEG --------------------------------------------------------------------- */

static void test_jpeg(void **state) {
    (void)state;
    /* a smooth 16x16 RGB gradient at quality 95 comes back within JPEG's error */
    uint8_t px[16 * 16 * 3];
    for (int y = 0; y < 16; y++)
        for (int x = 0; x < 16; x++) {
            uint8_t *p = px + (y * 16 + x) * 3;
            p[0] = (uint8_t)(x * 16), p[1] = (uint8_t)(y * 16), p[2] = 128;
        }
    char path[1024];
    snprintf(path, sizeof path, "%s", in_tmp("grad.jpg"));
    write_jpeg(path, px, 16, 16, 3, 95);
    cg_scope_begin();
    cg_tensor *t = cg_jpeg_read(path, 0);
    assert_non_null(t);
    assert_int_equal(t->ndim, 3);
    assert_int_equal(t->shape[0], 3);
    assert_int_equal(t->shape[1], 16);
    assert_int_equal(t->shape[2], 16);
    const uint8_t *d = cg_data(t);
    double total = 0;
    int worst = 0;
    for (int c = 0; c < 3; c++)
        for (int i = 0; i < 256; i++) {
            int e = abs((int)d[c * 256 + i] - (int)px[i * 3 + c]);
            total += e;
            worst = e > worst ? e : worst;
        }
    assert_true(total / 768 < 2.0); /* mean error under 2 levels */
    assert_true(worst <= 12);
    /* the same file through cg_image_read, as gray (PIL's luma) and RGBA */
    cg_tensor *g = cg_image_read(path, 1);
    assert_int_equal(g->ndim, 2);
    int64_t i = 5 * 16 + 9; /* luma of the decoded RGB pixel */
    uint8_t l = (uint8_t)((d[i] * 19595u + d[256 + i] * 38470u + d[512 + i] * 7471u + 0x8000u) >> 16);
    assert_int_equal(((uint8_t *)cg_data(g))[i], l);
    cg_tensor *a = cg_image_read(path, 4);
    assert_int_equal(a->shape[0], 4);
    assert_int_equal(((uint8_t *)cg_data(a))[3 * 256 + 7], 255);
    /* a gray JPEG stays [H,W]; quality 100 keeps a flat image exact */
    uint8_t flat[8 * 8];
    memset(flat, 77, sizeof flat);
    write_jpeg(in_tmp("flat.jpeg"), flat, 8, 8, 1, 100);
    cg_tensor *f = cg_jpeg_read(in_tmp("flat.jpeg"), 0);
    assert_int_equal(f->ndim, 2);
    for (int k = 0; k < 64; k++) assert_int_equal(((uint8_t *)cg_data(f))[k], 77);
    cg_scope_end();

    /* a PNG under a .jpg name is read as a PNG: the bytes decide */
    cg_tensor *p = pattern(1, 3, 3);
    assert_int_equal(cg_png_write(in_tmp("really_png.jpg"), p), CG_OK);
    cg_tensor *q = cg_image_read(in_tmp("really_png.jpg"), 0);
    assert_memory_equal(cg_data(q), cg_data(p), 9);
    cg_release(p);
    cg_release(q);

    /* errors name the file */
    void *bytes;
    size_t n;
    FILE *fp = fopen(path, "rb");
    assert_non_null(fp);
    bytes = malloc(4096);
    n = fread(bytes, 1, 4096, fp);
    fclose(fp);
    write_file(in_tmp("cut.jpg"), bytes, n / 2);
    assert_null(cg_jpeg_read(in_tmp("cut.jpg"), 0));
    assert_int_equal(cg_last_status(), CG_ERR_FORMAT);
    assert_non_null(strstr(cg_last_error(), "cut.jpg"));
    write_file(in_tmp("junk.png"), "GIF89a not really", 17);
    assert_null(cg_image_read(in_tmp("junk.png"), 0));
    assert_int_equal(cg_last_status(), CG_ERR_FORMAT);
    assert_non_null(strstr(cg_last_error(), "junk.png"));
    assert_non_null(strstr(cg_last_error(), "not a PNG or JPEG"));
    /* a header declaring 65000 x 65000: refused before the pixels are allocated */
    uint8_t *big = bytes;
    for (size_t k = 0; k + 8 < n; k++)
        if (big[k] == 0xFF && big[k + 1] == 0xC0) { /* SOF0: length(2) precision(1) height(2) width(2) */
            big[k + 5] = 0xFD, big[k + 6] = 0xE8, big[k + 7] = 0xFD, big[k + 8] = 0xE8;
            break;
        }
    assert_null(cg_jpeg_decode(big, n, 0, "bomb.jpg"));
    assert_int_equal(cg_last_status(), CG_ERR_FORMAT);
    assert_non_null(strstr(cg_last_error(), "too large"));
    /* 4000 x 4000, inside PIL's pixel limit, but more blocks than the file has
     * bits: its 4:2:0 chroma alone is 250 x 250 blocks, a bit each at least, and
     * the file is n bytes (the fuzzer's 720-byte 11273x8208 took 277 MB) */
    for (size_t k = 0; k + 8 < n; k++)
        if (big[k] == 0xFF && big[k + 1] == 0xC0) {
            big[k + 5] = 0x0F, big[k + 6] = 0xA0, big[k + 7] = 0x0F, big[k + 8] = 0xA0;
            break;
        }
    assert_true(n * 8 < 250 * 250);
    assert_null(cg_jpeg_decode(big, n, 0, "thin.jpg"));
    assert_int_equal(cg_last_status(), CG_ERR_FORMAT);
    assert_non_null(strstr(cg_last_error(), "thin.jpg"));
    assert_non_null(strstr(cg_last_error(), "a 4000x4000 image needs at least 62500 bits of data"));
    free(bytes);
    assert_null(cg_image_read(in_tmp("missing.jpg"), 0));
    assert_int_equal(cg_last_status(), CG_ERR_IO);
    assert_null(cg_image_read(tmp_root, 0)); /* a folder */
    assert_int_equal(cg_last_status(), CG_ERR_IO);
    /* a bad file inside a folder fails the dataset, naming it */
    make_dirs(in_tmp("badtree/train/a"));
    write_file(in_tmp("badtree/train/a/bad.png"), "\x89PNG\r\n\x1a\n garbage", 17);
    assert_null(cg_dataset_image_folder(in_tmp("badtree"), "train", NULL));
    assert_non_null(strstr(cg_last_error(), "bad.png"));
}

/* A committed 4:2:0 RGB JPEG (the fuzz corpus's) decodes to PIL's pixels exactly:
 * the same libjpeg-turbo with the same defaults. */
static void test_jpeg_pil(void **state) {
    (void)state;
    const char *src = getenv("CGRAD_SOURCE_DIR");
    if (!src) skip();
    char path[1024];
    snprintf(path, sizeof path, "%s/tests/fuzz/corpus/image/ok-rgb420-16x9-jpeg", src);
    cg_tensor *t = cg_image_read(path, 3);
    assert_non_null(t);
    assert_int_equal(t->shape[0], 3);
    assert_int_equal(t->shape[1], 9);
    assert_int_equal(t->shape[2], 16);
    check_u8(t, pil_rgb420_16x9, 3 * 9 * 16);
    cg_release(t);
}

/* ---- IDX folders ------------------------------------------------------------- */

static void put_be32(uint8_t *p, uint32_t v) {
    p[0] = (uint8_t)(v >> 24), p[1] = (uint8_t)(v >> 16), p[2] = (uint8_t)(v >> 8), p[3] = (uint8_t)v;
}

/* n images of 2x3 (image i: pixels 10*i + k) and labels (i * 3) % 10. */
static void write_idx_pair(const char *dir, const char *prefix, int n, bool gz, bool dotted) {
    uint8_t img[16 + 64 * 6], lab[8 + 64];
    put_be32(img, 0x803), put_be32(img + 4, (uint32_t)n), put_be32(img + 8, 2), put_be32(img + 12, 3);
    put_be32(lab, 0x801), put_be32(lab + 4, (uint32_t)n);
    for (int i = 0; i < n; i++) {
        for (int k = 0; k < 6; k++) img[16 + i * 6 + k] = (uint8_t)(10 * i + k);
        lab[8 + i] = (uint8_t)((i * 3) % 10);
    }
    const char *kinds[2] = {"images-idx3-ubyte", "labels-idx1-ubyte"};
    const void *data[2] = {img, lab};
    size_t size[2] = {16 + (size_t)n * 6, 8 + (size_t)n};
    for (int f = 0; f < 2; f++) {
        char path[1024], kind[64];
        snprintf(kind, sizeof kind, "%s", kinds[f]);
        if (dotted) kind[6] = '.'; /* images.idx3-ubyte */
        snprintf(path, sizeof path, "%s/%s-%s%s", dir, prefix, kind, gz ? ".gz" : "");
        if (gz) {
            gzFile z = gzopen(path, "wb");
            assert_non_null(z);
            assert_int_equal(gzwrite(z, data[f], (unsigned)size[f]), (int)size[f]);
            assert_int_equal(gzclose(z), Z_OK);
        } else {
            write_file(path, data[f], size[f]);
        }
    }
}

static void test_idx_folder(void **state) {
    (void)state;
    for (int gz = 0; gz < 2; gz++) {
        char dir[512];
        snprintf(dir, sizeof dir, "%s", in_tmp(gz ? "idx_gz" : "idx_raw"));
        make_dirs(dir);
        write_idx_pair(dir, "train", 5, gz, false);
        assert_false(cg_is_idx_folder(dir)); /* the test files are missing */
        write_idx_pair(dir, "t10k", 3, gz, gz); /* the dotted spelling too */
        assert_true(cg_is_idx_folder(dir));
        cg_image_folder_options o = cg_image_folder_defaults();
        o.item = (cg_image_item_options){.channels = 1, .to_float = true, .flatten = true};
        cg_dataloaders *dls = cg_image_folder_dataloaders(dir, &o, NULL);
        assert_non_null(dls);
        assert_int_equal(cg_dataloader_n(dls->train), 5);
        assert_int_equal(cg_dataloader_n(dls->valid), 3);
        assert_int_equal(cg_dataset_nbytes(cg_dataloader_dataset(dls->valid)), 3 * 6);
        int64_t nc;
        cg_dataset_classes(cg_dataloader_dataset(dls->train), &nc);
        assert_int_equal(nc, 10);
        cg_tensor *xb, *yb;
        cg_scope_begin();
        assert_int_equal(cg_dataloader_first(dls->valid, &xb, &yb), CG_OK);
        assert_int_equal(xb->ndim, 2);
        assert_int_equal(xb->shape[1], 6);
        assert_true(((float *)cg_data(xb))[6 + 4] == 14.0f / 255.0f); /* image 1, pixel 4 */
        assert_memory_equal(cg_data(yb), ((int64_t[]){0, 3, 6}), 3 * sizeof(int64_t));
        cg_scope_end();
        cg_dataloaders_free(dls);
        /* RGB items and a resize work on IDX data too */
        cg_dataset *ds = cg_dataset_idx_folder(dir, true, &(cg_image_item_options){
            .channels = 3, .resize = {.height = 4, .width = 6, .method = CG_RESIZE_SQUISH}});
        cg_tensor *x, *y;
        assert_int_equal(cg_dataset_item(ds, 0, &x, &y), CG_OK);
        assert_int_equal(x->shape[0], 3);
        assert_int_equal(x->shape[1], 4);
        assert_int_equal(x->shape[2], 6);
        cg_release(x);
        cg_release(y);
        cg_dataset_release(ds);
    }
    assert_null(cg_dataset_idx_folder(tmp_root, true, NULL));
    assert_int_equal(cg_last_status(), CG_ERR_IO);
    assert_non_null(strstr(cg_last_error(), "train-images-idx3-ubyte"));
}

/* ---- empty class folders ----------------------------------------------------- */

static void test_empty_class_folders(void **state) {
    (void)state;
    char root[512];
    snprintf(root, sizeof root, "%s", in_tmp("gaps"));
    make_dirs(in_tmp("gaps/train/a"));
    make_dirs(in_tmp("gaps/train/b"));       /* empty */
    make_dirs(in_tmp("gaps/train/c/deeper")); /* only a dotfile: empty too */
    make_dirs(in_tmp("gaps/train/d"));
    make_dirs(in_tmp("gaps/valid/a"));
    make_dirs(in_tmp("gaps/valid/d"));
    write_gray_png(in_tmp("gaps/train/a/1.png"), 2, 2, 1);
    write_gray_png(in_tmp("gaps/train/c/deeper/.2.png"), 2, 2, 1);
    write_gray_png(in_tmp("gaps/train/d/3.png"), 2, 2, 1);
    write_gray_png(in_tmp("gaps/valid/a/4.png"), 2, 2, 1);
    write_gray_png(in_tmp("gaps/valid/d/5.png"), 2, 2, 1);
    cg_strlist empty = {0};
    cg_image_folder_options o = cg_image_folder_defaults();
    cg_dataloaders *dls = cg_image_folder_dataloaders(root, &o, &empty);
    if (!dls) fail_msg("%s", cg_last_error());
    assert_int_equal(empty.count, 2);
    assert_string_equal(empty.items[0], in_tmp("gaps/train/b"));
    assert_string_equal(empty.items[1], in_tmp("gaps/train/c"));
    int64_t n;
    const char *const *cl = cg_dataset_classes(cg_dataloader_dataset(dls->train), &n);
    assert_int_equal(n, 2); /* a and d: no silent classes */
    assert_string_equal(cl[0], "a");
    assert_string_equal(cl[1], "d");
    cg_dataloaders_free(dls);
    cg_strlist_free(&empty);
    o.strict = true;
    assert_null(cg_image_folder_dataloaders(root, &o, &empty));
    assert_int_equal(cg_last_status(), CG_ERR_FORMAT);
    assert_non_null(strstr(cg_last_error(), "gaps/train/b"));
    assert_non_null(strstr(cg_last_error(), "empty class folder"));
}

/* ---- the real MNIST_SAMPLE: uint8 in memory --------------------------------- */

static void test_mnist_sample_storage(void **state) {
    (void)state;
    const char *mirror = getenv("CGRAD_MIRROR");
    char root[512];
    snprintf(root, sizeof root, "%s/mnist_sample", mirror ? mirror : "");
    if (!mirror || !cg_path_is_dir(root)) skip();
    cg_dataloaders *dls = cg_image_dataloaders_from_folder(root, 0, 0, true, 42);
    assert_non_null(dls);
    /* 28*28 bytes per image as stored, not 3*28*28*4 */
    assert_int_equal(cg_dataset_nbytes(cg_dataloader_dataset(dls->train)), 12396 * 784);
    assert_int_equal(cg_dataset_nbytes(cg_dataloader_dataset(dls->valid)), 2038 * 784);
    assert_int_equal(cg_dataloader_batch_size(dls->train), 64);
    assert_int_equal(cg_dataloader_len(dls->train), 12396 / 64);
    cg_tensor *xb, *yb;
    cg_scope_begin();
    assert_int_equal(cg_dataloader_first(dls->valid, &xb, &yb), CG_OK);
    assert_int_equal(xb->dtype, CG_FLOAT32);
    assert_int_equal(xb->shape[0], 64);
    assert_int_equal(xb->shape[1], 3);
    assert_int_equal(xb->shape[2], 28);
    cg_scope_end();
    cg_dataloaders_free(dls);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_resize_by_hand),     cmocka_unit_test(test_resize_boxes),
        cmocka_unit_test(test_folder_items),       cmocka_unit_test(test_folder_loaders),
        cmocka_unit_test(test_resize_in_loaders),  cmocka_unit_test(test_decode_on_demand),
        cmocka_unit_test(test_valid_pct),
        cmocka_unit_test(test_jpeg),               cmocka_unit_test(test_jpeg_pil),
        cmocka_unit_test(test_idx_folder),
        cmocka_unit_test(test_empty_class_folders), cmocka_unit_test(test_mnist_sample_storage),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
