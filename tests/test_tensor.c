/* Forward values of the tensor core (tensor.h): creation, element access,
 * views that share storage, copies, dtype conversion, cat and stack.
 * Expected values are the chapter's, worked by hand, or printed by
 * /usr/bin/python3 with torch 1.13 (the python is quoted beside each). */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include "core_check.h"

/* tns = tensor([[1,2,3],[4,5,6]]) from the chapter. */
static cg_tensor *chapter_tns(void) {
    return cg_from_data(CG_INT64, CG_SHAPE(2, 3), (int64_t[]){1, 2, 3, 4, 5, 6});
}

/* torch.arange(0, n).float().view(shape): handy numbered elements. */
static cg_tensor *numbered(int ndim, const int64_t *shape) {
    int64_t n = 1;
    for (int d = 0; d < ndim; d++) n *= shape[d];
    return cg_view(cg_arange(CG_FLOAT32, 0, (double)n, 1), ndim, shape);
}

static bool same_storage(const cg_tensor *a, const cg_tensor *b) { return a->storage == b->storage; }

/* ---- creation --------------------------------------------------------------- */
static void test_zeros_ones_full(void **state) {
    (void)state;
    cg_tensor *z = cg_zeros(CG_FLOAT32, CG_SHAPE(2, 3));
    CHECK_SHAPE(z, 2, 3);
    CHECK_DTYPE(z, CG_FLOAT32);
    CHECK_VALUES(z, 0, 0, 0, 0, 0, 0, 0);
    assert_true(cg_is_contiguous(z));
    /* an empty tensor is contiguous, as in PyTorch, whatever its other sizes */
    cg_tensor *empty = cg_empty(CG_FLOAT32, CG_SHAPE(3, 256, 0));
    assert_non_null(empty);
    assert_true(cg_is_contiguous(empty));
    cg_release(empty);
    assert_int_equal(z->strides[0], 3);
    assert_int_equal(z->strides[1], 1);

    cg_tensor *o = cg_ones(CG_INT64, CG_SHAPE(4));
    CHECK_DTYPE(o, CG_INT64);
    CHECK_VALUES(o, 0, 1, 1, 1, 1);

    cg_tensor *f = cg_full(CG_FLOAT32, CG_SHAPE(2, 2), 0.5);
    CHECK_VALUES(f, 0, 0.5, 0.5, 0.5, 0.5);
    cg_tensor *fi = cg_full(CG_INT64, CG_SHAPE(3), -7);
    CHECK_VALUES(fi, 0, -7, -7, -7);
    cg_tensor *fb = cg_full(CG_BOOL, CG_SHAPE(2), 3); /* any nonzero is true */
    CHECK_VALUES(fb, 0, 1, 1);

    cg_tensor *zl = cg_zeros_like(f), *ol = cg_ones_like(fi);
    CHECK_SHAPE(zl, 2, 2);
    CHECK_VALUES(zl, 0, 0, 0, 0, 0);
    CHECK_DTYPE(ol, CG_INT64);
    CHECK_VALUES(ol, 0, 1, 1, 1);

    /* An empty dim is allowed, like torch.zeros(0, 3). */
    cg_tensor *e = cg_zeros(CG_FLOAT32, CG_SHAPE(0, 3));
    CHECK_SHAPE(e, 0, 3);
    assert_int_equal(cg_numel(e), 0);
}

static void test_arange(void **state) {
    (void)state;
    /* torch.arange(0,20) -> int64 0..19; the chapter's `time` is its .float() */
    cg_tensor *a = cg_arange(CG_INT64, 0, 20, 1);
    CHECK_SHAPE(a, 20);
    CHECK_DTYPE(a, CG_INT64);
    for (int64_t i = 0; i < 20; i++) assert_int_equal((int64_t)check_at(a, i), i);
    cg_tensor *time = cg_float(a);
    CHECK_DTYPE(time, CG_FLOAT32);
    assert_true(check_at(time, 19) == 19.0);

    /* torch.arange(0,1,0.1).tolist() ends at 0.8999999761581421 (10 values) */
    cg_tensor *f = cg_arange(CG_FLOAT32, 0, 1, 0.1);
    CHECK_SHAPE(f, 10);
    CHECK_VALUES(f, 1e-7, 0.0, 0.10000000149011612, 0.20000000298023224, 0.30000001192092896,
                 0.4000000059604645, 0.5, 0.6000000238418579, 0.699999988079071, 0.800000011920929,
                 0.8999999761581421);
    /* torch.arange(5,0,-2) -> tensor([5, 3, 1]) */
    CHECK_VALUES(cg_arange(CG_INT64, 5, 0, -2), 0, 5, 3, 1);
    /* an empty range: torch.arange(3, 3) */
    CHECK_SHAPE(cg_arange(CG_INT64, 3, 3, 1), 0);
}

static void test_linspace(void **state) {
    (void)state;
    /* torch.linspace(0,1,7).tolist() */
    CHECK_VALUES(cg_linspace(0, 1, 7), 1e-7, 0.0, 0.1666666716337204, 0.3333333432674408, 0.5,
                 0.6666666269302368, 0.8333333134651184, 1.0);
    /* torch.linspace(-3,5,10).tolist() */
    CHECK_VALUES(cg_linspace(-3, 5, 10), 1e-6, -3.0, -2.1111111640930176, -1.2222222089767456,
                 -0.3333333134651184, 0.5555555820465088, 1.4444444179534912, 2.3333332538604736,
                 3.222222328186035, 4.111111164093018, 5.0);
    CHECK_VALUES(cg_linspace(2, 9, 1), 0, 2);
    CHECK_SHAPE(cg_linspace(0, 1, 0), 0);
}

static void test_from_data_and_scalars(void **state) {
    (void)state;
    cg_tensor *tns = chapter_tns();
    CHECK_SHAPE(tns, 2, 3);
    CHECK_VALUES(tns, 0, 1, 2, 3, 4, 5, 6);

    cg_tensor *px = cg_from_data(CG_UINT8, CG_SHAPE(2, 2), (uint8_t[]){0, 128, 254, 255});
    CHECK_DTYPE(px, CG_UINT8);
    CHECK_VALUES(px, 0, 0, 128, 254, 255);

    cg_tensor *xt = cg_from_floats(CG_SHAPE(3), (float[]){3, 4, 10});
    CHECK_VALUES(xt, 0, 3, 4, 10);

    /* tensor(3.) and tensor(1): 0-d, one element */
    cg_tensor *s = cg_scalar(3.0);
    CHECK_SHAPE0(s);
    CHECK_DTYPE(s, CG_FLOAT32);
    assert_int_equal(cg_numel(s), 1);
    double v = 0;
    assert_int_equal(cg_item(s, &v), CG_OK);
    assert_true(v == 3.0);
    cg_tensor *one = cg_scalar_of(CG_INT64, 1);
    CHECK_DTYPE(one, CG_INT64);
    assert_int_equal(cg_item(one, &v), CG_OK);
    assert_true(v == 1.0);

    /* CG_SHAPE(6131, 28, 28) is `3, (int64_t[]){6131, 28, 28}` */
    cg_tensor *st = cg_empty(CG_UINT8, CG_SHAPE(6131, 28, 28));
    assert_int_equal(st->ndim, 3);
    char buf[64];
    assert_string_equal(cg_shape_str(st, buf, sizeof buf), "[6131, 28, 28]");
    assert_int_equal(cg_numel(st), 6131 * 28 * 28);
    cg_tensor *z = cg_scalar(0);
    assert_string_equal(cg_shape_str(z, buf, sizeof buf), "[]");
}

static void test_names_and_sizes(void **state) {
    (void)state;
    assert_string_equal(cg_dtype_name(CG_FLOAT32), "float32");
    assert_string_equal(cg_dtype_name(CG_UINT8), "uint8");
    assert_string_equal(cg_dtype_name(CG_INT64), "int64");
    assert_string_equal(cg_dtype_name(CG_BOOL), "bool");
    assert_int_equal(cg_dtype_size(CG_FLOAT32), 4);
    assert_int_equal(cg_dtype_size(CG_UINT8), 1);
    assert_int_equal(cg_dtype_size(CG_INT64), 8);
    assert_int_equal(cg_dtype_size(CG_BOOL), 1);
    cg_tensor *t = cg_zeros(CG_FLOAT32, CG_SHAPE(2, 3, 4));
    assert_int_equal(cg_norm_dim(t, -1, "test"), 2);
    assert_int_equal(cg_norm_dim(t, 0, "test"), 0);
    assert_int_equal(cg_norm_dim(t, -3, "test"), 0);
    assert_int_equal(cg_norm_dim(t, 3, "test"), -1);
    CHECK_ERROR(CG_ERR_DIM, "[2, 3, 4]");
}

/* ---- element access ------------------------------------------------------------ */
static void test_get_set_item(void **state) {
    (void)state;
    cg_tensor *tns = chapter_tns();
    assert_true(cg_get(tns, (int64_t[]){1, 2}) == 6);
    assert_int_equal(cg_set(tns, (int64_t[]){0, 1}, 20), CG_OK);
    CHECK_VALUES(tns, 0, 1, 20, 3, 4, 5, 6);
    assert_int_equal(cg_set(tns, (int64_t[]){2, 0}, 1), CG_ERR_DIM);

    cg_tensor *u8 = cg_zeros(CG_UINT8, CG_SHAPE(2));
    assert_int_equal(cg_set(u8, (int64_t[]){1}, 200), CG_OK);
    CHECK_VALUES(u8, 0, 0, 200);

    double v = -1;
    cg_tensor *one = cg_from_floats(CG_SHAPE(1, 1), (float[]){0.25f});
    assert_int_equal(cg_item(one, &v), CG_OK); /* one element of any shape */
    assert_true(v == 0.25);
    assert_int_equal(cg_item(tns, &v), CG_ERR_SHAPE);
    CHECK_ERROR(CG_ERR_SHAPE, "[2, 3]");

    /* cg_data on a contiguous tensor is its first element */
    float *p = cg_data_f32(one);
    assert_non_null(p);
    assert_true(p[0] == 0.25f);
    assert_null(cg_data_f32(tns));
    CHECK_ERROR(CG_ERR_DTYPE, "int64");
}

/* ---- views share storage --------------------------------------------------------- */
static void test_chapter_indexing(void **state) {
    (void)state;
    cg_tensor *tns = chapter_tns();
    /* tns[1] -> tensor([4, 5, 6]) */
    cg_tensor *row = cg_select(tns, 0, 1);
    CHECK_SHAPE(row, 3);
    CHECK_VALUES(row, 0, 4, 5, 6);
    /* tns[:,1] -> tensor([2, 5]) */
    cg_tensor *col = cg_select(tns, 1, 1);
    CHECK_SHAPE(col, 2);
    CHECK_VALUES(col, 0, 2, 5);
    assert_int_equal(col->strides[0], 3);
    /* tns[1,1:3] -> tensor([5, 6]) */
    cg_tensor *part = cg_slice(cg_select(tns, 0, 1), 0, 1, 3, 1);
    CHECK_VALUES(part, 0, 5, 6);
    /* tns[-1] is the last row */
    CHECK_VALUES(cg_select(tns, 0, -1), 0, 4, 5, 6);

    /* all of them view tns's buffer: writing through a view changes the base */
    assert_true(same_storage(row, tns) && same_storage(col, tns) && same_storage(part, tns));
    assert_int_equal(cg_set(col, (int64_t[]){0}, 20), CG_OK); /* tns[0,1] = 20 */
    assert_int_equal(cg_set(part, (int64_t[]){1}, 60), CG_OK); /* tns[1,2] = 60 */
    CHECK_VALUES(tns, 0, 1, 20, 3, 4, 5, 60);
    CHECK_VALUES(row, 0, 4, 5, 60);
}

static void test_slice_steps_and_negative_bounds(void **state) {
    (void)state;
    cg_tensor *a = cg_arange(CG_INT64, 0, 10, 1);
    CHECK_VALUES(cg_slice(a, 0, 1, 8, 3), 0, 1, 4, 7);          /* a[1:8:3] */
    CHECK_VALUES(cg_slice(a, 0, -3, CG_END, 1), 0, 7, 8, 9);    /* a[-3:] */
    CHECK_VALUES(cg_slice(a, 0, -5, -2, 1), 0, 5, 6, 7);        /* a[-5:-2] */
    CHECK_VALUES(cg_slice(a, 0, 0, CG_END, 4), 0, 0, 4, 8);     /* a[::4] */
    CHECK_VALUES(cg_slice(a, 0, 7, 100, 1), 0, 7, 8, 9);        /* a[7:100]: clamped */
    CHECK_VALUES(cg_slice(a, 0, -100, 2, 1), 0, 0, 1);          /* a[-100:2] */
    CHECK_SHAPE(cg_slice(a, 0, 6, 3, 1), 0);                    /* a[6:3] is empty */
    CHECK_SHAPE(cg_slice(a, 0, 12, CG_END, 1), 0);              /* a[12:] is empty */

    /* a slice along dim 1 with a step, and along dim -1 of a 3-d tensor */
    cg_tensor *m = numbered(CG_SHAPE(3, 5));
    cg_tensor *s = cg_slice(m, 1, 0, CG_END, 2); /* m[:, ::2] */
    CHECK_SHAPE(s, 3, 3);
    CHECK_VALUES(s, 0, 0, 2, 4, 5, 7, 9, 10, 12, 14);
    assert_int_equal(s->strides[1], 2);
    assert_false(cg_is_contiguous(s));
    cg_tensor *c = numbered(CG_SHAPE(2, 2, 4));
    CHECK_VALUES(cg_slice(c, -1, 1, -1, 1), 0, 1, 2, 5, 6, 9, 10, 13, 14); /* c[..., 1:-1] */
    cg_tensor *rows = cg_slice(m, 0, 1, CG_END, 1); /* m[1:] keeps contiguity */
    assert_true(cg_is_contiguous(rows));
    assert_int_equal(rows->offset, 5);

    /* writing through a strided slice */
    assert_int_equal(cg_fill_(s, -1), CG_OK);
    CHECK_VALUES(m, 0, -1, 1, -1, 3, -1, -1, 6, -1, 8, -1, -1, 11, -1, 13, -1);
}

static void test_image_crop(void **state) {
    (void)state;
    /* im3[4:10,4:10] of a 28x28 image: a 6x6 window, still a view */
    cg_tensor *im3 = cg_view(cg_arange(CG_INT64, 0, 784, 1), CG_SHAPE(28, 28));
    cg_tensor *crop = cg_slice(cg_slice(im3, 0, 4, 10, 1), 1, 4, 10, 1);
    CHECK_SHAPE(crop, 6, 6);
    assert_true(same_storage(crop, im3));
    assert_int_equal(crop->strides[0], 28);
    assert_int_equal(crop->strides[1], 1);
    assert_int_equal(crop->offset, 4 * 28 + 4);
    assert_true(cg_get(crop, (int64_t[]){0, 0}) == 116);  /* 4*28+4 */
    assert_true(cg_get(crop, (int64_t[]){5, 5}) == 261);  /* 9*28+9 */
    assert_true(cg_get(crop, (int64_t[]){2, 3}) == 175);  /* 6*28+7 */
    assert_int_equal(cg_set(crop, (int64_t[]){5, 5}, 0), CG_OK);
    assert_true(cg_get(im3, (int64_t[]){9, 9}) == 0);
    /* ten_2[1:, 1:] from the chapter's questionnaire: tensor([[10,12],[16,18]]) of 2*(1..9) */
    cg_tensor *ten_2 = cg_mul_s(cg_view(cg_arange(CG_INT64, 1, 10, 1), CG_SHAPE(3, 3)), 2);
    CHECK_VALUES(cg_slice(cg_slice(ten_2, 0, 1, CG_END, 1), 1, 1, CG_END, 1), 0, 10, 12, 16, 18);
}

static void test_view_and_reshape(void **state) {
    (void)state;
    cg_tensor *a = cg_arange(CG_FLOAT32, 0, 24, 1);
    cg_tensor *v = cg_view(a, CG_SHAPE(2, -1, 4));
    CHECK_SHAPE(v, 2, 3, 4);
    assert_true(same_storage(v, a));
    assert_int_equal(v->strides[0], 12);
    assert_int_equal(v->strides[1], 4);
    assert_true(cg_get(v, (int64_t[]){1, 2, 3}) == 23);
    CHECK_SHAPE(cg_view(a, CG_SHAPE(-1)), 24);
    CHECK_SHAPE(cg_view(a, CG_SHAPE(-1, 28 * 0 + 8)), 3, 8);
    /* the chapter's view(-1, 28*28): [2, 28, 28] -> [2, 784] */
    cg_tensor *imgs = cg_zeros(CG_FLOAT32, CG_SHAPE(2, 28, 28));
    CHECK_SHAPE(cg_view(imgs, CG_SHAPE(-1, 28 * 28)), 2, 784);
    /* a 1-element tensor views as 0-d and back */
    cg_tensor *one = cg_from_floats(CG_SHAPE(1), (float[]){5});
    CHECK_SHAPE0(cg_view(one, 0, NULL));

    /* view refuses a transposed layout; reshape copies it, in logical order */
    cg_tensor *m = numbered(CG_SHAPE(2, 3));
    cg_tensor *mt = cg_t(m);
    assert_null(cg_view(mt, CG_SHAPE(6)));
    CHECK_ERROR(CG_ERR_SHAPE, "[3, 2]");
    cg_clear_error();
    cg_tensor *r = cg_reshape(mt, CG_SHAPE(6));
    CHECK_VALUES(r, 0, 0, 3, 1, 4, 2, 5);
    assert_false(same_storage(r, m));
    /* reshape of a contiguous tensor is a view */
    cg_tensor *r2 = cg_reshape(m, CG_SHAPE(3, 2));
    assert_true(same_storage(r2, m));
    CHECK_VALUES(r2, 0, 0, 1, 2, 3, 4, 5);
    /* flatten(1) of [2,3,4] -> [2,12]; flatten(0,-1) -> [24] */
    CHECK_SHAPE(cg_flatten(v, 1, -1), 2, 12);
    CHECK_SHAPE(cg_flatten(v, 0, -1), 24);
    CHECK_SHAPE(cg_flatten(v, 0, 1), 6, 4);
}

/* The contiguous copy of a float .T view (cpu_elementwise.c's tiled
 * transpose, 32x32 tiles of 4x4 blocks): every value where it belongs, on
 * shapes with whole tiles, ragged tiles and ragged 4x4 blocks, and a
 * transposed slice (a source row stride above the row length). */
static void test_transposed_copy_tiles(void **state) {
    (void)state;
    const int64_t shapes[4][2] = {{64, 96}, {37, 70}, {33, 130}, {1000, 37}};
    for (int s = 0; s < 4; s++) {
        int64_t r = shapes[s][0], c = shapes[s][1];
        cg_tensor *x = numbered(CG_SHAPE(r, c)); /* x[i][j] = i*c + j */
        cg_tensor *t = cg_contiguous(cg_t(x));   /* t[j][i] = i*c + j */
        assert_non_null(t);
        CHECK_SHAPE(t, c, r);
        assert_true(cg_is_contiguous(t));
        const float *p = cg_data_f32(t);
        for (int64_t j = 0; j < c; j++)
            for (int64_t i = 0; i < r; i++) assert_true(p[j * r + i] == (float)(i * c + j));
    }
    /* columns 3..66 of a [40, 100]: .T strides (1, 100) over 64 rows of 40 */
    cg_tensor *x = numbered(CG_SHAPE(40, 100));
    cg_tensor *sl = cg_t(cg_slice(x, 1, 3, 67, 1));
    cg_tensor *t = cg_contiguous(sl);
    CHECK_SHAPE(t, 64, 40);
    const float *p = cg_data_f32(t);
    for (int64_t j = 0; j < 64; j++)
        for (int64_t i = 0; i < 40; i++) assert_true(p[j * 40 + i] == (float)(i * 100 + j + 3));
}

static void test_permute_transpose(void **state) {
    (void)state;
    cg_tensor *x = numbered(CG_SHAPE(2, 3, 4));
    int dims[] = {2, 0, 1};
    cg_tensor *p = cg_permute(x, dims);
    CHECK_SHAPE(p, 4, 2, 3);
    assert_true(same_storage(p, x));
    assert_int_equal(p->strides[0], 1);
    assert_int_equal(p->strides[1], 12);
    assert_int_equal(p->strides[2], 4);
    /* p[k,i,j] = x[i,j,k] = 12i + 4j + k */
    assert_true(cg_get(p, (int64_t[]){3, 1, 2}) == 12 + 8 + 3);
    /* negative dims in permute: permute(-1, -3, -2) is the same */
    cg_tensor *pn = cg_permute(x, (int[]){-1, -3, -2});
    CHECK_SHAPE(pn, 4, 2, 3);
    assert_true(cg_get(pn, (int64_t[]){3, 1, 2}) == 23);

    cg_tensor *tr = cg_transpose(x, 0, -1);
    CHECK_SHAPE(tr, 4, 3, 2);
    assert_true(cg_get(tr, (int64_t[]){1, 2, 1}) == 12 + 8 + 1);

    cg_tensor *m = numbered(CG_SHAPE(2, 3));
    cg_tensor *mt = cg_t(m);
    CHECK_SHAPE(mt, 3, 2);
    CHECK_VALUES(mt, 0, 0, 3, 1, 4, 2, 5);
    assert_false(cg_is_contiguous(mt));
    /* .T of a 1-d tensor is itself */
    cg_tensor *v = cg_arange(CG_FLOAT32, 0, 3, 1);
    CHECK_SHAPE(cg_t(v), 3);
    /* transposing back is contiguous again */
    assert_true(cg_is_contiguous(cg_t(mt)));
}

static void test_unsqueeze_squeeze(void **state) {
    (void)state;
    /* tensor([1]*3).unsqueeze(1) as the chapter builds train_y: [3] -> [3,1] */
    cg_tensor *y = cg_ones(CG_INT64, CG_SHAPE(3));
    cg_tensor *y1 = cg_unsqueeze(y, 1);
    CHECK_SHAPE(y1, 3, 1);
    assert_true(same_storage(y, y1));
    CHECK_SHAPE(cg_unsqueeze(y, 0), 1, 3);
    CHECK_SHAPE(cg_unsqueeze(y, -1), 3, 1);
    CHECK_SHAPE(cg_unsqueeze(cg_scalar(2), 0), 1);

    cg_tensor *x = numbered(CG_SHAPE(2, 3));
    cg_tensor *u = cg_unsqueeze(x, 1); /* [2,1,3] */
    CHECK_SHAPE(u, 2, 1, 3);
    assert_true(cg_is_contiguous(u));
    CHECK_VALUES(u, 0, 0, 1, 2, 3, 4, 5);

    CHECK_SHAPE(cg_squeeze(u, 1), 2, 3);
    CHECK_SHAPE(cg_squeeze(u, -2), 2, 3);
    CHECK_SHAPE(cg_squeeze(u, 0), 2, 1, 3); /* not size 1: no-op, like PyTorch */
    CHECK_SHAPE(cg_squeeze(y1, 1), 3);
    /* unsqueeze of a transposed view keeps element order */
    cg_tensor *tu = cg_unsqueeze(cg_t(x), 0);
    CHECK_SHAPE(tu, 1, 3, 2);
    CHECK_VALUES(tu, 0, 0, 3, 1, 4, 2, 5);
}

static void test_expand(void **state) {
    (void)state;
    cg_tensor *c = cg_from_floats(CG_SHAPE(3, 1), (float[]){1, 2, 3});
    cg_tensor *e = cg_expand(c, CG_SHAPE(3, 4));
    CHECK_SHAPE(e, 3, 4);
    assert_int_equal(e->strides[1], 0);
    assert_true(same_storage(e, c));
    CHECK_VALUES(e, 0, 1, 1, 1, 1, 2, 2, 2, 2, 3, 3, 3, 3);
    /* new leading dims get stride 0 too; -1 keeps a size */
    cg_tensor *e2 = cg_expand(c, CG_SHAPE(2, -1, 2));
    CHECK_SHAPE(e2, 2, 3, 2);
    assert_int_equal(e2->strides[0], 0);
    assert_int_equal(e2->strides[2], 0);
    CHECK_VALUES(e2, 0, 1, 1, 2, 2, 3, 3, 1, 1, 2, 2, 3, 3);
    /* writing to the base shows through every expanded position */
    assert_int_equal(cg_set(c, (int64_t[]){1, 0}, 9), CG_OK);
    assert_true(cg_get(e, (int64_t[]){1, 3}) == 9);
    /* a contiguous copy of an expanded tensor materialises it */
    cg_tensor *m = cg_contiguous(e);
    assert_false(same_storage(m, e));
    CHECK_VALUES(m, 0, 1, 1, 1, 1, 9, 9, 9, 9, 3, 3, 3, 3);
}

static void test_contiguous_copies_only_when_needed(void **state) {
    (void)state;
    cg_tensor *x = numbered(CG_SHAPE(2, 3));
    int before = x->refcount;
    cg_tensor *same = cg_contiguous(x);
    assert_ptr_equal(same, x);
    assert_int_equal(x->refcount, before + 1); /* a new reference, owned by the scope */

    cg_tensor *xt = cg_t(x);
    cg_tensor *c = cg_contiguous(xt);
    assert_ptr_not_equal(c, xt);
    assert_false(same_storage(c, x));
    assert_true(cg_is_contiguous(c));
    CHECK_SHAPE(c, 3, 2);
    CHECK_VALUES(c, 0, 0, 3, 1, 4, 2, 5);

    /* clone always copies; the copy is independent */
    cg_tensor *k = cg_clone(x);
    assert_false(same_storage(k, x));
    assert_int_equal(cg_fill_(k, 7), CG_OK);
    CHECK_VALUES(x, 0, 0, 1, 2, 3, 4, 5);
    /* clone of a strided slice is contiguous with the slice's values */
    cg_tensor *ks = cg_clone(cg_slice(x, 1, 0, CG_END, 2));
    assert_true(cg_is_contiguous(ks));
    CHECK_VALUES(ks, 0, 0, 2, 3, 5);

    /* detach: shares storage, drops autograd */
    cg_tensor *w = cg_requires_grad_(cg_ones(CG_FLOAT32, CG_SHAPE(3)), true);
    cg_tensor *w2 = cg_mul_s(w, 2);
    assert_true(w2->requires_grad);
    cg_tensor *d = cg_detach(w2);
    assert_false(d->requires_grad);
    assert_null(d->grad_fn);
    assert_true(same_storage(d, w2));
    assert_int_equal(cg_set(d, (int64_t[]){0}, -4), CG_OK);
    assert_true(cg_get(w2, (int64_t[]){0}) == -4);
    /* an op on a detached tensor records nothing */
    assert_false(cg_add_s(d, 1)->requires_grad);
}

static void test_dtype_conversion(void **state) {
    (void)state;
    /* image bytes -> float, as tensor(Image.open(...)).float()/255 */
    cg_tensor *px = cg_from_data(CG_UINT8, CG_SHAPE(4), (uint8_t[]){0, 1, 128, 255});
    cg_tensor *f = cg_float(px);
    CHECK_DTYPE(f, CG_FLOAT32);
    CHECK_VALUES(f, 0, 0, 1, 128, 255);
    CHECK_VALUES(cg_div_s(f, 255), 1e-7, 0, 1.0 / 255, 128.0 / 255, 1);
    /* int64 -> float, and a strided int64 view */
    cg_tensor *i = cg_arange(CG_INT64, 0, 6, 1);
    CHECK_VALUES(cg_float(cg_slice(i, 0, 1, CG_END, 2)), 0, 1, 3, 5);
    /* torch.tensor([1.7,-1.7,2.5]).long() -> tensor([ 1, -1,  2]) (truncation) */
    cg_tensor *l = cg_long(cg_from_floats(CG_SHAPE(3), (float[]){1.7f, -1.7f, 2.5f}));
    CHECK_DTYPE(l, CG_INT64);
    CHECK_VALUES(l, 0, 1, -1, 2);
    /* torch.tensor([3.9,255.0,0.5]).to(torch.uint8) -> tensor([  3, 255,   0]) */
    cg_tensor *u = cg_to_dtype(cg_from_floats(CG_SHAPE(3), (float[]){3.9f, 255, 0.5f}), CG_UINT8);
    CHECK_DTYPE(u, CG_UINT8);
    CHECK_VALUES(u, 0, 3, 255, 0);
    /* bool: nonzero is true, and true converts back to 1 */
    cg_tensor *b = cg_to_dtype(cg_from_floats(CG_SHAPE(4), (float[]){0, -0.5f, 2, 0}), CG_BOOL);
    CHECK_DTYPE(b, CG_BOOL);
    CHECK_VALUES(b, 0, 0, 1, 1, 0);
    CHECK_VALUES(cg_float(b), 0, 0, 1, 1, 0);
    CHECK_VALUES(cg_long(b), 0, 0, 1, 1, 0);
    /* to the same dtype: the tensor itself */
    assert_ptr_equal(cg_to_dtype(f, CG_FLOAT32), f);
}

/* ---- joining ----------------------------------------------------------------- */
static void test_cat(void **state) {
    (void)state;
    cg_tensor *a = numbered(CG_SHAPE(2, 3));
    cg_tensor *b = cg_add_s(numbered(CG_SHAPE(1, 3)), 10);
    cg_tensor *c0 = cg_cat((cg_tensor *[]){a, b}, 2, 0);
    CHECK_SHAPE(c0, 3, 3);
    CHECK_VALUES(c0, 0, 0, 1, 2, 3, 4, 5, 10, 11, 12);

    cg_tensor *d = cg_add_s(numbered(CG_SHAPE(2, 2)), 100);
    cg_tensor *c1 = cg_cat((cg_tensor *[]){a, d}, 2, 1);
    CHECK_SHAPE(c1, 2, 5);
    CHECK_VALUES(c1, 0, 0, 1, 2, 100, 101, 3, 4, 5, 102, 103);
    cg_tensor *cn = cg_cat((cg_tensor *[]){a, d, a}, 3, -1);
    CHECK_SHAPE(cn, 2, 8);
    CHECK_VALUES(cn, 0, 0, 1, 2, 100, 101, 0, 1, 2, 3, 4, 5, 102, 103, 3, 4, 5);
    /* non-contiguous inputs: a.T (3x2) and a column */
    cg_tensor *ct = cg_cat((cg_tensor *[]){cg_t(a), cg_slice(cg_t(a), 1, 0, 1, 1)}, 2, 1);
    CHECK_SHAPE(ct, 3, 3);
    CHECK_VALUES(ct, 0, 0, 3, 0, 1, 4, 1, 2, 5, 2);
    /* the chapter's train_x: cat([stacked_threes, stacked_sevens]) of 1-d label lists */
    cg_tensor *ones = cg_ones(CG_INT64, CG_SHAPE(3)), *zeros = cg_zeros(CG_INT64, CG_SHAPE(2));
    CHECK_VALUES(cg_cat((cg_tensor *[]){ones, zeros}, 2, 0), 0, 1, 1, 1, 0, 0);
}

static void test_cat_mixed_dtypes(void **state) {
    (void)state;
    /* torch.cat([tensor([1,2]), tensor([0.5])]) -> tensor([1.0000, 2.0000, 0.5000]) */
    cg_tensor *i = cg_from_data(CG_INT64, CG_SHAPE(2), (int64_t[]){1, 2});
    cg_tensor *f = cg_from_floats(CG_SHAPE(1), (float[]){0.5f});
    cg_tensor *c = cg_cat((cg_tensor *[]){i, f}, 2, 0);
    CHECK_DTYPE(c, CG_FLOAT32);
    CHECK_VALUES(c, 0, 1, 2, 0.5);
    /* torch.cat([tensor([1,2],dtype=torch.uint8), tensor([300])]) -> tensor([  1,   2, 300]) */
    cg_tensor *u = cg_from_data(CG_UINT8, CG_SHAPE(2), (uint8_t[]){1, 2});
    cg_tensor *big = cg_from_data(CG_INT64, CG_SHAPE(1), (int64_t[]){300});
    cg_tensor *ub = cg_cat((cg_tensor *[]){u, big}, 2, 0);
    CHECK_DTYPE(ub, CG_INT64);
    CHECK_VALUES(ub, 0, 1, 2, 300);
}

static void test_stack(void **state) {
    (void)state;
    cg_tensor *a = numbered(CG_SHAPE(2, 3));
    cg_tensor *b = cg_add_s(a, 10);
    cg_tensor *s0 = cg_stack((cg_tensor *[]){a, b}, 2, 0);
    CHECK_SHAPE(s0, 2, 2, 3);
    CHECK_VALUES(s0, 0, 0, 1, 2, 3, 4, 5, 10, 11, 12, 13, 14, 15);
    cg_tensor *s1 = cg_stack((cg_tensor *[]){a, b}, 2, 1);
    CHECK_SHAPE(s1, 2, 2, 3);
    CHECK_VALUES(s1, 0, 0, 1, 2, 10, 11, 12, 3, 4, 5, 13, 14, 15);
    cg_tensor *sl = cg_stack((cg_tensor *[]){a, b}, 2, -1);
    CHECK_SHAPE(sl, 2, 3, 2);
    CHECK_VALUES(sl, 0, 0, 10, 1, 11, 2, 12, 3, 13, 4, 14, 5, 15);
    /* torch.stack(three_tensors).float()/255 from the chapter: uint8 images */
    cg_tensor *im1 = cg_full(CG_UINT8, CG_SHAPE(2, 2), 255), *im2 = cg_zeros(CG_UINT8, CG_SHAPE(2, 2));
    cg_tensor *st = cg_div_s(cg_float(cg_stack((cg_tensor *[]){im1, im2, im1}, 3, 0)), 255);
    CHECK_SHAPE(st, 3, 2, 2);
    CHECK_VALUES(st, 0, 1, 1, 1, 1, 0, 0, 0, 0, 1, 1, 1, 1);
    /* stacking 0-d tensors gives a vector */
    cg_tensor *v = cg_stack((cg_tensor *[]){cg_scalar(1), cg_scalar(2)}, 2, 0);
    CHECK_SHAPE(v, 2);
    CHECK_VALUES(v, 0, 1, 2);
}

/* ---- memory ------------------------------------------------------------------ */
static void test_refcounts_and_scopes(void **state) {
    (void)state;
    cg_scope_end(); /* leave the fixture's scope: this test manages references itself */
    size_t base = cg_mem_in_use();

    /* a kept view outlives its scope and keeps its base's storage alive */
    cg_scope_begin();
    cg_tensor *a = cg_zeros(CG_FLOAT32, CG_SHAPE(100));
    cg_tensor *v = cg_keep(cg_slice(a, 0, 10, 20, 1));
    cg_scope_end();
    assert_true(cg_mem_in_use() > base);
    assert_int_equal(cg_fill_(v, 3), CG_OK);
    cg_tensor *s = cg_sum(v, NULL, 0, false);
    double total = 0;
    assert_int_equal(cg_item(s, &total), CG_OK);
    assert_true(total == 30);
    cg_release(s);
    cg_release(v);
    assert_int_equal(cg_mem_in_use(), base);

    /* nested scopes: kept in the inner one, freed by the outer one */
    cg_scope_begin();
    cg_scope_begin();
    cg_tensor *k = cg_keep(cg_ones(CG_FLOAT32, CG_SHAPE(50)));
    (void)cg_ones(CG_FLOAT32, CG_SHAPE(70));
    cg_scope_end();
    assert_true(cg_get(k, (int64_t[]){49}) == 1);
    cg_scope_end();
    assert_int_equal(cg_mem_in_use(), base);

    /* without any scope, the caller owns results */
    cg_tensor *t = cg_ones(CG_FLOAT32, CG_SHAPE(8));
    cg_tensor *r = cg_retain(t);
    cg_release(t);
    assert_true(cg_get(r, (int64_t[]){7}) == 1); /* still alive: one reference left */
    cg_release(r);
    assert_int_equal(cg_mem_in_use(), base);
    cg_scope_begin(); /* the fixture's teardown closes it */
}

int main(void) {
    const struct CMUnitTest tests[] = {
        CORE_TEST(test_zeros_ones_full),
        CORE_TEST(test_arange),
        CORE_TEST(test_linspace),
        CORE_TEST(test_from_data_and_scalars),
        CORE_TEST(test_names_and_sizes),
        CORE_TEST(test_get_set_item),
        CORE_TEST(test_chapter_indexing),
        CORE_TEST(test_slice_steps_and_negative_bounds),
        CORE_TEST(test_image_crop),
        CORE_TEST(test_view_and_reshape),
        CORE_TEST(test_permute_transpose),
        CORE_TEST(test_transposed_copy_tiles),
        CORE_TEST(test_unsqueeze_squeeze),
        CORE_TEST(test_expand),
        CORE_TEST(test_contiguous_copies_only_when_needed),
        CORE_TEST(test_dtype_conversion),
        CORE_TEST(test_cat),
        CORE_TEST(test_cat_mixed_dtypes),
        CORE_TEST(test_stack),
        CORE_TEST(test_refcounts_and_scopes),
    };
    int failed = cmocka_run_group_tests(tests, NULL, NULL);
    cg_pool_trim();
    return failed;
}
