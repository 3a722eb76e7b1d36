/* Data augmentation (src/data/augment.c): the affine sampling on hand-worked
 * images (identity, a 90-degree turn, half- and whole-pixel shifts under each
 * padding, a zoom) and against torch's grid_sample, the draws (seeded, bounded, the identity when nothing is
 * applied), the dataset wrapper (same seed, same batch; a new draw each time
 * an item is made) and image folders, whose validation set is never touched. */
#define _XOPEN_SOURCE 700
#include <ftw.h>
#include <math.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include <cmocka.h>

#include "cgrad.h"

static void check_floats(const float *got, const float *want, int64_t n) {
    for (int64_t i = 0; i < n; i++) {
        if (fabsf(got[i] - want[i]) > 1e-6f) fail_msg("element %lld: got %.9g, want %.9g", (long long)i, got[i], want[i]);
    }
}

static const double identity[6] = {1, 0, 0, 0, 1, 0};

/* ---- sampling by hand ---------------------------------------------------------- */

static void test_identity_exact(void **state) {
    (void)state;
    /* 2 planes of 3x5 with values no bilinear blend would leave alone */
    float src[30], dst[30];
    for (int i = 0; i < 30; i++) src[i] = (float)(i * 37 % 11) / 7.0f + 0.1f;
    cg_pad_mode modes[] = {CG_PAD_REFLECTION, CG_PAD_ZEROS, CG_PAD_BORDER};
    for (int k = 0; k < 3; k++) {
        memset(dst, 0xff, sizeof dst);
        assert_int_equal(cg_affine_sample(src, 2, 3, 5, identity, modes[k], dst), CG_OK);
        assert_memory_equal(src, dst, sizeof src); /* bit for bit */
    }
}

static void test_rotate_90(void **state) {
    (void)state;
    /* M = [[cos, sin, 0], [-sin, cos, 0]] at 90 degrees: output (x, y) samples
     * the input at (y, -x); in pixels out[i][j] = in[2-j][i] */
    const float in[9] = {1, 2, 3, 4, 5, 6, 7, 8, 9};
    const float want[9] = {7, 4, 1, 8, 5, 2, 9, 6, 3};
    const double m[6] = {0, 1, 0, -1, 0, 0};
    float out[9];
    assert_int_equal(cg_affine_sample(in, 1, 3, 3, m, CG_PAD_ZEROS, out), CG_OK);
    check_floats(out, want, 9);
}

static void test_translate(void **state) {
    (void)state;
    /* 2x3 [[1,2,3],[4,5,6]].  tx = 0.5 (normalised) is half a pixel: out[i][j] =
     * (in[i][j] + in[i][j+1]) / 2; the last column samples x = 2.5, outside:
     * zeros  (3 + 0)/2;  border  x -> 2: 3;  reflection  x -> 1.5: (2 + 3)/2. */
    const float in[6] = {1, 2, 3, 4, 5, 6};
    const double half[6] = {1, 0, 0.5, 0, 1, 0};
    const float want_zeros[6] = {1.5f, 2.5f, 1.5f, 4.5f, 5.5f, 3.0f};
    const float want_border[6] = {1.5f, 2.5f, 3.0f, 4.5f, 5.5f, 6.0f};
    const float want_reflect[6] = {1.5f, 2.5f, 2.5f, 4.5f, 5.5f, 5.5f};
    float out[6];
    assert_int_equal(cg_affine_sample(in, 1, 2, 3, half, CG_PAD_ZEROS, out), CG_OK);
    check_floats(out, want_zeros, 6);
    assert_int_equal(cg_affine_sample(in, 1, 2, 3, half, CG_PAD_BORDER, out), CG_OK);
    check_floats(out, want_border, 6);
    assert_int_equal(cg_affine_sample(in, 1, 2, 3, half, CG_PAD_REFLECTION, out), CG_OK);
    check_floats(out, want_reflect, 6);
    /* a whole pixel right and down (tx = 2/(w-1) = 1, ty = 2/(h-1) = 2 in
     * normalised units): out[0][j] = in[1][j+1]; the rest is outside (zeros) */
    const double whole[6] = {1, 0, 1, 0, 1, 2};
    const float want_whole[6] = {5, 6, 0, 0, 0, 0};
    assert_int_equal(cg_affine_sample(in, 1, 2, 3, whole, CG_PAD_ZEROS, out), CG_OK);
    check_floats(out, want_whole, 6);
    /* reflection about the last row and column: row 0 reads row 1, row 1 reads
     * y = 2 -> 0; column x = 3 reads 1 */
    const float want_whole_reflect[6] = {5, 6, 5, 2, 3, 2};
    assert_int_equal(cg_affine_sample(in, 1, 2, 3, whole, CG_PAD_REFLECTION, out), CG_OK);
    check_floats(out, want_whole_reflect, 6);
}

static void test_zoom(void **state) {
    (void)state;
    /* 1x3 [1,2,3] zoomed 2x about the centre: normalised -1,0,1 read -0.5,0,0.5,
     * pixels 0.5, 1, 1.5 (a side of 1 keeps its centre: y = 0) */
    const float in[3] = {1, 2, 3};
    const double m[6] = {0.5, 0, 0, 0, 0.5, 0};
    const float want[3] = {1.5f, 2.0f, 2.5f};
    float out[3];
    assert_int_equal(cg_affine_sample(in, 1, 1, 3, m, CG_PAD_REFLECTION, out), CG_OK);
    check_floats(out, want, 3);
    assert_int_equal(cg_affine_sample(in, 0, 1, 3, m, CG_PAD_ZEROS, out), CG_ERR_SHAPE);
}

/* torch 1.13: F.grid_sample(src, F.affine_grid(M, (1,2,4,5), align_corners=True),
 * 'bilinear', padding_mode, align_corners=True) with src[i] = ((i*37) % 23)/23
 * (i < 40) and M = [[0.93, 0.21, 0.07], [-0.19, 1.02, -0.11]] */
static const double torch_m[6] = {0.93, 0.21, 0.07, -0.19, 1.02, -0.11};
static const float torch_reflection[40] = {
    0.08913036f, 0.4831521f, 0.3354348f, 0.6277174f, 0.62f, 0.1334783f, 0.6233696f, 0.2532609f, 0.8131522f, 0.5130434f,
    0.3482608f, 0.5581523f, 0.4680434f, 0.8179348f, 0.5573915f, 0.55f, 0.4922826f, 0.682826f, 0.7527174f, 0.7113044f,
    0.2630434f, 0.6570653f, 0.5093479f, 0.1516304f, 0.373913f, 0.3073913f, 0.7972825f, 0.4271739f, 0.05706519f, 0.5469566f,
    0.5221739f, 0.7320653f, 0.3619565f, 0.2018479f, 0.5913042f, 0.723913f, 0.6661957f, 0.2967392f, 0.4166304f, 0.4652174f};
static const float torch_zeros[40] = {
    0.003365218f, 0.4556239f, 0.2632f, 0.4061413f, 0.3115478f, 0.1334783f, 0.6233696f, 0.2532609f, 0.8131522f, 0.5130434f,
    0.3482608f, 0.5581523f, 0.4680434f, 0.8179348f, 0.4322433f, 0.4730435f, 0.488914f, 0.682826f, 0.7527174f, 0.3172347f,
    0.1529305f, 0.6204066f, 0.4032f, 0.09073367f, 0.1835826f, 0.3073913f, 0.7972825f, 0.4271739f, 0.05706519f, 0.5469566f,
    0.5221739f, 0.7320653f, 0.3619565f, 0.2018479f, 0.5818084f, 0.6208696f, 0.6615227f, 0.2967392f, 0.4166304f, 0.4181043f};

static void test_torch_grid_sample(void **state) {
    (void)state;
    float src[40], out[40];
    for (int i = 0; i < 40; i++) src[i] = (float)((i * 37) % 23) / 23.0f;
    assert_int_equal(cg_affine_sample(src, 2, 4, 5, torch_m, CG_PAD_REFLECTION, out), CG_OK);
    check_floats(out, torch_reflection, 40);
    assert_int_equal(cg_affine_sample(src, 2, 4, 5, torch_m, CG_PAD_ZEROS, out), CG_OK);
    check_floats(out, torch_zeros, 40);
}

/* ---- the draws ----------------------------------------------------------------- */

static void test_draws(void **state) {
    (void)state;
    cg_augment_options o = cg_augment_defaults();
    assert_true(o.max_rotate == 10.0 && o.min_zoom == 1.0 && o.max_zoom == 1.1 && o.p_affine == 0.75);
    assert_int_equal(o.pad_mode, CG_PAD_REFLECTION);
    assert_int_equal(cg_augment_options_check(&o), CG_OK);
    o.seed = 7;
    double a[6], b[6];
    /* nothing applied: the identity exactly */
    o.p_affine = 0;
    for (unsigned d = 0; d < 20; d++) {
        cg_augment_draw(&o, 3, d, a);
        assert_memory_equal(a, identity, sizeof a);
    }
    /* rotation alone: [[c, s, 0], [-s, c, 0]] with |angle| <= 10 degrees */
    o.p_affine = 1, o.max_zoom = 1.0;
    int negative = 0;
    for (unsigned d = 0; d < 50; d++) {
        cg_augment_draw(&o, 5, d, a);
        assert_true(a[0] == a[4] && a[1] == -a[3] && a[2] == 0 && a[5] == 0);
        double deg = atan2(a[1], a[0]) * 180.0 / 3.14159265358979323846;
        assert_true(fabs(deg) <= 10.0 && fabs(a[0] * a[0] + a[1] * a[1] - 1) < 1e-12);
        negative += deg < 0;
    }
    assert_true(negative > 5 && negative < 45); /* both ways */
    /* zoom alone: scale 1/z in [1/1.1, 1], the centre inside (1 - s) */
    o.max_rotate = 0, o.max_zoom = 1.1;
    for (unsigned d = 0; d < 50; d++) {
        cg_augment_draw(&o, 5, d, a);
        assert_true(a[0] == a[4] && a[1] == 0 && a[3] == 0);
        assert_true(a[0] >= 1 / 1.1 - 1e-12 && a[0] <= 1.0);
        assert_true(fabs(a[2]) <= 1 - a[0] + 1e-12 && fabs(a[5]) <= 1 - a[0] + 1e-12);
    }
    /* a pure function of (seed, item, draw) */
    o = cg_augment_defaults(), o.seed = 11;
    cg_augment_draw(&o, 4, 2, a);
    cg_augment_draw(&o, 4, 2, b);
    assert_memory_equal(a, b, sizeof a);
    o.p_affine = 1;
    cg_augment_draw(&o, 4, 3, b);
    cg_augment_draw(&o, 4, 2, a);
    assert_memory_not_equal(a, b, sizeof a);
    /* bad options */
    o = cg_augment_defaults(), o.min_zoom = 1.2;
    assert_int_equal(cg_augment_options_check(&o), CG_ERR_VALUE);
    assert_non_null(strstr(cg_last_error(), "min_zoom"));
    o = cg_augment_defaults(), o.p_affine = 1.5;
    assert_int_equal(cg_augment_options_check(&o), CG_ERR_VALUE);
}

/* ---- the dataset ---------------------------------------------------------------- */

/* 6 items [1,5,5], item k's pixels k + i/25 (a slope, so any move shows) */
static cg_tensor *ramp_images(void) {
    cg_tensor *x = cg_empty(CG_FLOAT32, 4, (int64_t[]){6, 1, 5, 5});
    float *p = cg_data(x);
    for (int k = 0; k < 6; k++)
        for (int i = 0; i < 25; i++) p[k * 25 + i] = (float)k + (float)i / 25.0f;
    return x;
}

static void test_dataset(void **state) {
    (void)state;
    cg_scope_begin();
    cg_tensor *x = ramp_images();
    cg_tensor *y = cg_from_data(CG_INT64, CG_SHAPE(6), (int64_t[]){0, 1, 0, 1, 0, 1});
    cg_augment_options o = cg_augment_defaults();
    o.p_affine = 1, o.max_translate = 0.2, o.seed = 42;
    cg_dataset *a = cg_augment_dataset(cg_dataset_from_tensors(x, y), &o);
    cg_dataset *b = cg_augment_dataset(cg_dataset_from_tensors(x, y), &o);
    assert_non_null(a);
    assert_non_null(b);
    assert_int_equal(cg_dataset_len(a), 6);
    const int64_t idx[3] = {4, 1, 5};
    cg_tensor *xa, *ya, *xb, *yb, *xa2, *ya2;
    assert_int_equal(cg_dataset_batch(a, idx, 3, &xa, &ya), CG_OK);
    assert_int_equal(cg_dataset_batch(b, idx, 3, &xb, &yb), CG_OK);
    assert_int_equal(xa->ndim, 4);
    assert_int_equal(xa->shape[0], 3);
    assert_int_equal(xa->shape[3], 5);
    /* same seed, same batch; labels untouched */
    assert_memory_equal(cg_data(xa), cg_data(xb), 75 * sizeof(float));
    const int64_t *la = cg_data(ya);
    assert_true(la[0] == 0 && la[1] == 1 && la[2] == 1);
    /* each item is item idx[k] of x moved by its own draw: sample it by hand */
    const float *src = cg_data(x);
    for (int k = 0; k < 3; k++) {
        double m[6];
        float want[25];
        cg_augment_draw(&o, idx[k], 0, m);
        assert_int_equal(cg_affine_sample(src + idx[k] * 25, 1, 5, 5, m, o.pad_mode, want), CG_OK);
        assert_memory_equal((const float *)cg_data(xa) + k * 25, want, sizeof want);
        assert_memory_not_equal(want, src + idx[k] * 25, sizeof want);
    }
    /* made again: the next draw, another batch */
    assert_int_equal(cg_dataset_batch(a, idx, 3, &xa2, &ya2), CG_OK);
    assert_memory_not_equal(cg_data(xa), cg_data(xa2), 75 * sizeof(float));
    /* one item alone: item 2 was never made in b, so it gets its draw 0 */
    cg_tensor *xi, *yi;
    assert_int_equal(cg_dataset_item(b, 2, &xi, &yi), CG_OK);
    assert_int_equal(xi->ndim, 3);
    double m[6];
    float want[25];
    cg_augment_draw(&o, 2, 0, m);
    assert_int_equal(cg_affine_sample(src + 50, 1, 5, 5, m, o.pad_mode, want), CG_OK);
    assert_memory_equal(cg_data(xi), want, sizeof want);
    /* nothing applied: the batch is the input */
    o.p_affine = 0, o.max_translate = 0;
    cg_dataset *c = cg_augment_dataset(cg_dataset_from_tensors(x, y), &o);
    assert_int_equal(cg_dataset_batch(c, idx, 3, &xa, &ya), CG_OK);
    for (int k = 0; k < 3; k++)
        assert_memory_equal((const float *)cg_data(xa) + k * 25, src + idx[k] * 25, 25 * sizeof(float));
    /* only float images */
    cg_tensor *rows = cg_from_data(CG_INT64, CG_SHAPE(2, 3), (int64_t[]){1, 2, 3, 4, 5, 6});
    cg_dataset *d = cg_augment_dataset(cg_dataset_from_tensors(rows, NULL), &o);
    assert_int_equal(cg_dataset_batch(d, idx + 1, 1, &xa, &ya), CG_ERR_FORMAT);
    assert_non_null(strstr(cg_last_error(), "float32 images"));
    o.max_rotate = -1;
    assert_null(cg_augment_dataset(cg_dataset_from_tensors(x, y), &o)); /* released, no leak */
    cg_dataset_release(a);
    cg_dataset_release(b);
    cg_dataset_release(c);
    cg_dataset_release(d);
    cg_scope_end();
}

/* ---- image folders: train augmented, valid never -------------------------------- */

static char tmp_root[256];

static int remove_entry(const char *p, const struct stat *sb, int flag, struct FTW *ftw) {
    (void)sb, (void)flag, (void)ftw;
    return remove(p);
}

static void write_image(const char *dir, const char *name, int seed) /* dir < 1024, name < 32 */ {
    char path[1200];
    snprintf(path, sizeof path, "%s/%s", dir, name);
    cg_tensor *t = cg_empty(CG_UINT8, 2, (int64_t[]){6, 6});
    uint8_t *p = cg_data(t);
    for (int i = 0; i < 36; i++) p[i] = (uint8_t)((i * 29 + seed * 53) % 256);
    assert_int_equal(cg_png_write(path, t), CG_OK);
    cg_release(t);
}

/* The float pixels of every batch of one epoch, concatenated (the caller frees). */
static float *epoch_pixels(cg_dataloader *dl, int64_t *n) {
    float *all = NULL;
    *n = 0;
    cg_tensor *xb, *yb;
    cg_scope_begin();
    while (cg_dataloader_next(dl, &xb, &yb)) {
        int64_t m = cg_numel(xb);
        all = realloc(all, (size_t)(*n + m) * sizeof *all);
        assert_non_null(all);
        memcpy(all + *n, cg_data(xb), (size_t)m * sizeof *all);
        *n += m;
    }
    cg_scope_end();
    return all;
}

static void test_folders_valid_untouched(void **state) {
    (void)state;
    char d[1024];
    const char *dirs[] = {"train/a", "train/b", "valid/a", "valid/b"};
    for (int i = 0; i < 4; i++) {
        snprintf(d, sizeof d, "%s/%s", tmp_root, dirs[i]);
        assert_int_equal(cg_mkdirs(d), CG_OK);
        for (int k = 0; k < 4; k++) {
            char name[32];
            snprintf(name, sizeof name, "%d.png", k);
            write_image(d, name, i * 4 + k);
        }
    }
    cg_image_folder_options o = cg_image_folder_defaults();
    o.item = (cg_image_item_options){.channels = 1, .to_float = true};
    o.batch_size = 4, o.seeded = true, o.seed = 3;
    cg_dataloaders *plain = cg_image_folder_dataloaders(tmp_root, &o, NULL);
    cg_augment_options ao = cg_augment_defaults();
    ao.p_affine = 1;
    o.augment = &ao;
    cg_dataloaders *aug1 = cg_image_folder_dataloaders(tmp_root, &o, NULL);
    cg_dataloaders *aug2 = cg_image_folder_dataloaders(tmp_root, &o, NULL);
    assert_non_null(plain);
    assert_non_null(aug1);
    assert_non_null(aug2);
    int64_t nc = 0;
    const char *const *names = cg_dataset_classes(cg_dataloader_dataset(aug1->train), &nc);
    assert_int_equal(nc, 2);
    assert_string_equal(names[1], "b");
    int64_t np, n1, n2;
    /* valid: the same pixels, bit for bit */
    float *vp = epoch_pixels(plain->valid, &np), *v1 = epoch_pixels(aug1->valid, &n1);
    assert_int_equal(np, 8 * 36);
    assert_int_equal(n1, np);
    assert_memory_equal(vp, v1, (size_t)np * sizeof *vp);
    /* train: the same shuffle, other pixels; the same seed gives the same ones */
    float *tp = epoch_pixels(plain->train, &np), *t1 = epoch_pixels(aug1->train, &n1),
          *t2 = epoch_pixels(aug2->train, &n2);
    assert_int_equal(np, 8 * 36);
    assert_int_equal(n1, np);
    assert_int_equal(n2, np);
    assert_memory_not_equal(tp, t1, (size_t)np * sizeof *tp);
    assert_memory_equal(t1, t2, (size_t)np * sizeof *t1);
    free(vp), free(v1), free(tp), free(t1), free(t2);
    cg_dataloaders_free(plain);
    cg_dataloaders_free(aug1);
    cg_dataloaders_free(aug2);
}

static int setup(void **state) {
    (void)state;
    snprintf(tmp_root, sizeof tmp_root, "/tmp/cgrad_test_augment_XXXXXX");
    return mkdtemp(tmp_root) ? 0 : -1;
}

static int teardown(void **state) {
    (void)state;
    return nftw(tmp_root, remove_entry, 16, FTW_DEPTH | FTW_PHYS);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_identity_exact), cmocka_unit_test(test_rotate_90),
        cmocka_unit_test(test_translate),      cmocka_unit_test(test_zoom),
        cmocka_unit_test(test_torch_grid_sample),
        cmocka_unit_test(test_draws),          cmocka_unit_test(test_dataset),
        cmocka_unit_test(test_folders_valid_untouched),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
