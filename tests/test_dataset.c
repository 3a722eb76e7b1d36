/* Datasets (include/cgrad/dataset.h): list(zip(x, y)) row views and gathers,
 * range(n), collation and its errors, image folders and IDX files on the real
 * MNIST data. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cgrad.h"

static const char *data_path(const char *rel) {
    static char buf[4][1024];
    static int k;
    const char *mirror = getenv("CGRAD_MIRROR");
    if (!mirror) return NULL;
    char *out = buf[k++ % 4];
    snprintf(out, sizeof buf[0], "%s/%s", mirror, rel);
    return out;
}

/* x [5,3] = 0..14, y [5,1] = 100..104 */
static void make_xy(cg_tensor **x, cg_tensor **y) {
    float xs[15], ys[5];
    for (int i = 0; i < 15; i++) xs[i] = (float)i;
    for (int i = 0; i < 5; i++) ys[i] = (float)(100 + i);
    *x = cg_from_floats(CG_SHAPE(5, 3), xs);
    *y = cg_from_floats(CG_SHAPE(5, 1), ys);
}

/* dset = list(zip(x, y)); dset[2], dset[-1], out of range. */
static void test_tensor_items(void **state) {
    (void)state;
    cg_tensor *x, *y;
    make_xy(&x, &y);
    cg_dataset *ds = cg_dataset_from_tensors(x, y);
    assert_non_null(ds);
    assert_int_equal(cg_dataset_len(ds), 5);
    assert_string_equal(cg_dataset_kind(ds), "tensors");
    assert_true(cg_dataset_has_batch_getter(ds));
    cg_tensor *xi, *yi;
    assert_int_equal(cg_dataset_item(ds, 2, &xi, &yi), CG_OK);
    assert_int_equal(xi->ndim, 1);
    assert_int_equal(xi->shape[0], 3);
    assert_int_equal(yi->ndim, 1);
    assert_int_equal(yi->shape[0], 1);
    const float *p = cg_data_f32(xi);
    assert_float_equal(p[0], 6, 0);
    assert_float_equal(p[2], 8, 0);
    assert_float_equal(cg_data_f32(yi)[0], 102, 0);
    assert_ptr_equal(p, cg_data_f32(x) + 6); /* a row view, no copy */
    cg_release(xi);
    cg_release(yi);
    assert_int_equal(cg_dataset_item(ds, -1, &xi, &yi), CG_OK);
    assert_float_equal(cg_data_f32(xi)[0], 12, 0);
    cg_release(xi);
    cg_release(yi);
    assert_int_equal(cg_dataset_item(ds, 5, &xi, &yi), CG_ERR_VALUE);
    assert_null(xi);
    assert_non_null(strstr(cg_last_error(), "index 5 is out of range for 5 items"));
    assert_int_equal(cg_dataset_item(ds, -6, &xi, &yi), CG_ERR_VALUE);
    /* the dataset owns its references: the caller's may go */
    cg_release(x);
    cg_release(y);
    assert_int_equal(cg_dataset_item(ds, 4, &xi, &yi), CG_OK);
    assert_float_equal(cg_data_f32(xi)[1], 13, 0);
    cg_release(xi);
    cg_release(yi);
    cg_dataset_release(ds);
}

/* Batches: consecutive indices give a view, others a gather of rows. */
static void test_tensor_batches(void **state) {
    (void)state;
    cg_tensor *x, *y;
    make_xy(&x, &y);
    cg_dataset *ds = cg_dataset_from_tensors(x, y);
    cg_tensor *xb, *yb;
    assert_int_equal(cg_dataset_batch(ds, (int64_t[]){1, 2, 3}, 3, &xb, &yb), CG_OK);
    assert_int_equal(xb->shape[0], 3);
    assert_int_equal(xb->shape[1], 3);
    assert_ptr_equal(cg_data(xb), cg_data_f32(x) + 3);
    cg_release(xb);
    cg_release(yb);
    assert_int_equal(cg_dataset_batch(ds, (int64_t[]){4, 0, 4}, 3, &xb, &yb), CG_OK);
    static const float want_x[9] = {12, 13, 14, 0, 1, 2, 12, 13, 14};
    static const float want_y[3] = {104, 100, 104};
    assert_true(cg_is_contiguous(xb));
    assert_memory_equal(cg_data(xb), want_x, sizeof want_x);
    assert_memory_equal(cg_data(yb), want_y, sizeof want_y);
    assert_int_equal(yb->ndim, 2);
    cg_release(xb);
    cg_release(yb);
    assert_int_equal(cg_dataset_batch(ds, (int64_t[]){0, 9}, 2, &xb, &yb), CG_ERR_VALUE);
    assert_non_null(strstr(cg_last_error(), "index 9"));
    assert_int_equal(cg_dataset_batch(ds, (int64_t[]){0}, 0, &xb, &yb), CG_ERR_VALUE);
    cg_dataset_release(ds);
    cg_release(x);
    cg_release(y);
}

static void test_tensor_errors(void **state) {
    (void)state;
    cg_tensor *x = cg_zeros(CG_FLOAT32, CG_SHAPE(5, 3));
    cg_tensor *y = cg_zeros(CG_INT64, CG_SHAPE(4));
    assert_null(cg_dataset_from_tensors(x, y));
    assert_int_equal(cg_last_status(), CG_ERR_SHAPE);
    assert_non_null(strstr(cg_last_error(), "x has 5 items (shape [5, 3]) but y has 4 (shape [4])"));
    cg_tensor *s = cg_scalar(1);
    assert_null(cg_dataset_from_tensors(s, NULL));
    assert_int_equal(cg_last_status(), CG_ERR_SHAPE);
    cg_release(s);
    cg_release(x);
    cg_release(y);
}

/* A tensor that requires grad: the dataset's items carry no autograd history. */
static void test_tensor_detached(void **state) {
    (void)state;
    cg_tensor *x = cg_requires_grad_(cg_ones(CG_FLOAT32, CG_SHAPE(4, 2)), true);
    cg_dataset *ds = cg_dataset_from_tensors(x, NULL);
    cg_tensor *xi, *yi;
    assert_int_equal(cg_dataset_item(ds, 1, &xi, &yi), CG_OK);
    assert_null(yi);
    assert_false(xi->requires_grad);
    assert_null(xi->grad_fn);
    cg_release(xi);
    cg_dataset_release(ds);
    cg_release(x);
}

/* range(15): 0-d int64 items; a batch of them is int64 [n]. */
static void test_range(void **state) {
    (void)state;
    cg_dataset *ds = cg_dataset_range(15);
    assert_int_equal(cg_dataset_len(ds), 15);
    cg_tensor *xi, *yi;
    assert_int_equal(cg_dataset_item(ds, 7, &xi, &yi), CG_OK);
    assert_int_equal(xi->ndim, 0);
    assert_int_equal(xi->dtype, CG_INT64);
    double v;
    assert_int_equal(cg_item(xi, &v), CG_OK);
    assert_float_equal(v, 7, 0);
    assert_null(yi);
    cg_release(xi);
    cg_tensor *xb, *yb;
    assert_int_equal(cg_dataset_batch(ds, (int64_t[]){3, 12, 8}, 3, &xb, &yb), CG_OK);
    assert_int_equal(xb->ndim, 1);
    assert_int_equal(xb->shape[0], 3);
    assert_memory_equal(cg_data(xb), ((int64_t[]){3, 12, 8}), 3 * sizeof(int64_t));
    assert_null(yb);
    cg_release(xb);
    cg_dataset_release(ds);
    assert_null(cg_dataset_range(-1));
    assert_int_equal(cg_last_status(), CG_ERR_VALUE);
}

/* default_collate: stacks, and names shapes and dtypes it cannot stack. */
static void test_collate(void **state) {
    (void)state;
    cg_scope_begin();
    cg_tensor *a = cg_full(CG_FLOAT32, CG_SHAPE(2, 2), 1);
    cg_tensor *b = cg_transpose(cg_from_floats(CG_SHAPE(2, 2), (float[]){1, 2, 3, 4}), 0, 1);
    cg_tensor *out = cg_collate((cg_tensor *[]){a, b}, 2, "x");
    assert_non_null(out);
    assert_int_equal(out->ndim, 3);
    assert_int_equal(out->shape[0], 2);
    /* b is a transposed (strided) view: collated as [[1,3],[2,4]] */
    assert_memory_equal(cg_data(out), ((float[]){1, 1, 1, 1, 1, 3, 2, 4}), 8 * sizeof(float));
    cg_tensor *c = cg_zeros(CG_FLOAT32, CG_SHAPE(3, 28, 28));
    cg_tensor *d = cg_zeros(CG_FLOAT32, CG_SHAPE(1, 28, 28));
    assert_null(cg_collate((cg_tensor *[]){c, c, d}, 3, "x"));
    assert_int_equal(cg_last_status(), CG_ERR_SHAPE);
    assert_non_null(strstr(cg_last_error(),
                           "cannot stack x of item 0 (shape [3, 28, 28]) with item 2 (shape [1, 28, 28])"));
    cg_tensor *e = cg_zeros(CG_INT64, CG_SHAPE(3, 28, 28));
    assert_null(cg_collate((cg_tensor *[]){c, e}, 2, "y"));
    assert_int_equal(cg_last_status(), CG_ERR_DTYPE);
    assert_non_null(strstr(cg_last_error(), "y of item 0 (float32) with item 1 (int64)"));
    cg_scope_end();
}

/* Classes are copied and owned by the dataset. */
static void test_classes(void **state) {
    (void)state;
    cg_dataset *ds = cg_dataset_range(3);
    int64_t n;
    assert_null(cg_dataset_classes(ds, &n));
    assert_int_equal(n, 0);
    char names[2][4] = {"3", "7"};
    assert_int_equal(cg_dataset_set_classes(ds, (const char *const[]){names[0], names[1]}, 2), CG_OK);
    names[0][0] = 'x';
    const char *const *cl = cg_dataset_classes(ds, &n);
    assert_int_equal(n, 2);
    assert_string_equal(cl[0], "3");
    assert_string_equal(cl[1], "7");
    cg_dataset_release(ds);
}

/* MNIST_SAMPLE/train: 6131 threes then 6265 sevens; items [3,28,28] float /255
 * (fastai's RGB PILImage), labels 0 and 1. */
static void test_image_folder(void **state) {
    (void)state;
    const char *root = data_path("mnist_sample");
    if (!root) skip();
    cg_dataset *ds = cg_dataset_image_folder(root, "train", NULL);
    assert_non_null(ds);
    assert_int_equal(cg_dataset_len(ds), 12396);
    int64_t n;
    const char *const *cl = cg_dataset_classes(ds, &n);
    assert_int_equal(n, 2);
    assert_string_equal(cl[0], "3");
    assert_string_equal(cl[1], "7");
    cg_tensor *x, *y;
    assert_int_equal(cg_dataset_item(ds, 1, &x, &y), CG_OK); /* train/3/10000.png */
    assert_int_equal(x->dtype, CG_FLOAT32);
    assert_int_equal(x->ndim, 3);
    assert_int_equal(x->shape[0], 3);
    assert_int_equal(x->shape[1], 28);
    assert_int_equal(x->shape[2], 28);
    double label;
    cg_item(y, &label);
    assert_float_equal(label, 0, 0);
    /* the chapter's im3_t[4:10,4:10] row 4: 0 0 0 0 0 29 -> /255 */
    cg_tensor *gray = cg_png_read(data_path("mnist_sample/train/3/10000.png"), 0);
    assert_non_null(gray);
    const uint8_t *g = cg_data(gray);
    const float *f = cg_data_f32(x);
    for (int c = 0; c < 3; c++)
        for (int i = 0; i < 28 * 28; i++) assert_true(f[c * 784 + i] == (float)g[i] / 255.0f);
    assert_float_equal(f[5 * 28 + 9] * 255, g[5 * 28 + 9], 1e-4);
    cg_release(gray);
    cg_release(x);
    cg_release(y);
    assert_int_equal(cg_dataset_item(ds, 12395, &x, &y), CG_OK);
    cg_item(y, &label);
    assert_float_equal(label, 1, 0);
    cg_release(x);
    cg_release(y);

    /* a batch decoded straight into [n,3,28,28], equal to the items */
    cg_tensor *xb, *yb;
    assert_int_equal(cg_dataset_batch(ds, (int64_t[]){6130, 6131, 0}, 3, &xb, &yb), CG_OK);
    assert_int_equal(xb->shape[0], 3);
    assert_memory_equal(cg_data(yb), ((int64_t[]){0, 1, 0}), 3 * sizeof(int64_t));
    assert_int_equal(cg_dataset_item(ds, 6131, &x, &y), CG_OK);
    assert_memory_equal(cg_data(x), (float *)cg_data(xb) + 3 * 784, 3 * 784 * sizeof(float));
    cg_release(x);
    cg_release(y);
    cg_release(xb);
    cg_release(yb);
    cg_dataset_release(ds);

    /* gray uint8 items: [1,28,28] */
    ds = cg_dataset_image_folder(root, "valid", &(cg_image_item_options){.channels = 1});
    assert_int_equal(cg_dataset_len(ds), 2038);
    assert_int_equal(cg_dataset_item(ds, 0, &x, &y), CG_OK);
    assert_int_equal(x->dtype, CG_UINT8);
    assert_int_equal(x->ndim, 3);
    assert_int_equal(x->shape[0], 1);
    cg_release(x);
    cg_release(y);
    cg_dataset_release(ds);

    assert_null(cg_dataset_image_folder(root, "test", NULL));
    assert_int_not_equal(cg_last_status(), CG_OK);
    assert_null(cg_dataset_image_folder(root, "train", &(cg_image_item_options){.channels = 2}));
    assert_int_equal(cg_last_status(), CG_ERR_VALUE);
}

/* t10k IDX files: 10000 images, labels 7, 2, 1, 0, 4, ... and the published
 * per-digit counts. */
static void test_idx(void **state) {
    (void)state;
    const char *images = data_path("mnist/t10k-images-idx3-ubyte.gz");
    const char *labels = data_path("mnist/t10k-labels-idx1-ubyte.gz");
    if (!images) skip();
    cg_dataset *ds = cg_dataset_idx(images, labels, NULL);
    assert_non_null(ds);
    assert_int_equal(cg_dataset_len(ds), 10000);
    int64_t n;
    const char *const *cl = cg_dataset_classes(ds, &n);
    assert_int_equal(n, 10);
    assert_string_equal(cl[9], "9");
    cg_tensor *x, *y;
    assert_int_equal(cg_dataset_item(ds, 0, &x, &y), CG_OK);
    assert_int_equal(x->ndim, 2);
    assert_int_equal(x->shape[0], 28);
    assert_int_equal(x->dtype, CG_FLOAT32);
    assert_int_equal(y->dtype, CG_INT64);
    assert_int_equal(y->ndim, 0);
    double v;
    cg_item(y, &v);
    assert_float_equal(v, 7, 0);
    cg_release(x);
    cg_release(y);
    /* all labels in one gather: per-digit counts */
    int64_t *all = malloc(10000 * sizeof *all);
    for (int64_t i = 0; i < 10000; i++) all[i] = 9999 - i;
    cg_tensor *xb, *yb;
    assert_int_equal(cg_dataset_batch(ds, all, 10000, &xb, &yb), CG_OK);
    int64_t counts[10] = {0};
    for (int64_t i = 0; i < 10000; i++) counts[((int64_t *)cg_data(yb))[i]]++;
    static const int64_t want[10] = {980, 1135, 1032, 1010, 982, 892, 958, 1028, 974, 1009};
    assert_memory_equal(counts, want, sizeof want);
    assert_int_equal(((int64_t *)cg_data(yb))[9999], 7); /* item 0 came last */
    cg_release(xb);
    cg_release(yb);
    free(all);
    cg_dataset_release(ds);

    /* channels 1, uint8: [1,28,28] bytes */
    ds = cg_dataset_idx(images, labels, &(cg_image_item_options){.channels = 1});
    assert_int_equal(cg_dataset_item(ds, 0, &x, &y), CG_OK);
    assert_int_equal(x->ndim, 3);
    assert_int_equal(x->dtype, CG_UINT8);
    cg_release(x);
    cg_release(y);
    cg_dataset_release(ds);

    /* images and labels of different files */
    assert_null(cg_dataset_idx(images, data_path("mnist/train-labels-idx1-ubyte.gz"), NULL));
    assert_int_equal(cg_last_status(), CG_ERR_SHAPE);
    assert_non_null(strstr(cg_last_error(), "10000 images"));
    assert_null(cg_dataset_idx(labels, labels, NULL));
    assert_int_equal(cg_last_status(), CG_ERR_FORMAT);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_tensor_items),    cmocka_unit_test(test_tensor_batches),
        cmocka_unit_test(test_tensor_errors),   cmocka_unit_test(test_tensor_detached),
        cmocka_unit_test(test_range),           cmocka_unit_test(test_collate),
        cmocka_unit_test(test_classes),         cmocka_unit_test(test_image_folder),
        cmocka_unit_test(test_idx),
    };
    int failed = cmocka_run_group_tests(tests, NULL, NULL);
    cg_pool_trim();
    return failed;
}
