/* The printer against PyTorch: every expected string below is repr(t) as the
 * installed torch 1.13 prints it (/usr/bin/python3), with the python that
 * produced it in the comment above.
 * tests/support/print_reference.py prints them all again. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cgrad.h"

/* Formats t and compares with want; on a mismatch shows both in full. */
#define assert_prints(t, want) assert_prints_at((t), (want), __FILE__, __LINE__)
static void assert_prints_at(const cg_tensor *t, const char *want, const char *file, int line) {
    if (!t) fail_msg("%s:%d: tensor is NULL: %s", file, line, cg_last_error());
    char *got = cg_format(t);
    if (!got) fail_msg("%s:%d: cg_format failed: %s", file, line, cg_last_error());
    if (strcmp(got, want) != 0) {
        print_error("%s:%d: printed\n%s\nbut PyTorch prints\n%s\n", file, line, got, want);
        free(got);
        fail();
    }
    free(got);
}

static int setup(void **state) {
    (void)state;
    cg_scope_begin();
    return 0;
}
static int teardown(void **state) {
    (void)state;
    cg_scope_end();
    return 0;
}

/* tns = tensor([[1,2,3],[4,5,6]]) */
static cg_tensor *chapter_tns(void) {
    return cg_from_data(CG_INT64, CG_SHAPE(2, 3), (const int64_t[]){1, 2, 3, 4, 5, 6});
}

/* ---- the chapter's tensors ------------------------------------------------ */
static void test_chapter_tns(void **state) {
    (void)state;
    cg_tensor *tns = chapter_tns();
    /* tns */
    assert_prints(tns, "tensor([[1, 2, 3],\n"
                       "        [4, 5, 6]])");
    /* tns+1 */
    assert_prints(cg_add_s(tns, 1), "tensor([[2, 3, 4],\n"
                                    "        [5, 6, 7]])");
    /* tns*1.5 */
    assert_prints(cg_mul_s(tns, 1.5), "tensor([[1.5000, 3.0000, 4.5000],\n"
                                      "        [6.0000, 7.5000, 9.0000]])");
    /* tns.type(), (tns*1.5).type() */
    assert_string_equal(cg_type_name(tns), "torch.LongTensor");
    assert_string_equal(cg_type_name(cg_mul_s(tns, 1.5)), "torch.FloatTensor");
}

/* Views are read through their strides. */
static void test_views(void **state) {
    (void)state;
    cg_tensor *tns = chapter_tns();
    /* tns[1] */
    assert_prints(cg_select(tns, 0, 1), "tensor([4, 5, 6])");
    /* tns[:,1] */
    assert_prints(cg_select(tns, 1, 1), "tensor([2, 5])");
    /* tns[1,1:3] */
    assert_prints(cg_slice(cg_select(tns, 0, 1), 0, 1, 3, 1), "tensor([5, 6])");
    /* tns.T */
    assert_prints(cg_t(tns), "tensor([[1, 4],\n"
                             "        [2, 5],\n"
                             "        [3, 6]])");
}

/* tensor([6., 8., 20.])  (the chapter's xt.grad): integral floats as "6.", padded */
static void test_integral_floats(void **state) {
    (void)state;
    assert_prints(cg_from_floats(CG_SHAPE(3), (const float[]){6, 8, 20}), "tensor([ 6.,  8., 20.])");
    /* torch.tensor(6.) */
    assert_prints(cg_scalar(6), "tensor(6.)");
    /* torch.tensor(1) */
    assert_prints(cg_scalar_of(CG_INT64, 1), "tensor(1)");
    /* torch.tensor(-0.5) */
    assert_prints(cg_scalar(-0.5), "tensor(-0.5000)");
    /* torch.zeros(3) */
    assert_prints(cg_zeros(CG_FLOAT32, CG_SHAPE(3)), "tensor([0., 0., 0.])");
    /* torch.tensor([-0.0, 0.0]) */
    assert_prints(cg_from_floats(CG_SHAPE(2), (const float[]){-0.0f, 0.0f}), "tensor([-0., 0.])");
}

/* ---- autograd suffixes ---------------------------------------------------- */
static void test_requires_grad_and_grad_fn(void **state) {
    (void)state;
    /* xt = tensor(3.).requires_grad_(); xt */
    cg_tensor *xt = cg_requires_grad_(cg_scalar(3), true);
    assert_prints(xt, "tensor(3., requires_grad=True)");
    /* yt = xt**2; yt */
    assert_prints(cg_pow_s(xt, 2), "tensor(9., grad_fn=<PowBackward0>)");
    /* xv = tensor([3.,4.,10.]).requires_grad_(); xv; (xv**2).sum() */
    cg_tensor *xv = cg_requires_grad_(cg_from_floats(CG_SHAPE(3), (const float[]){3, 4, 10}), true);
    assert_prints(xv, "tensor([ 3.,  4., 10.], requires_grad=True)");
    assert_prints(cg_sum(cg_pow_s(xv, 2), NULL, 0, false), "tensor(125., grad_fn=<SumBackward0>)");
    /* torch.manual_seed(0); torch.randn(3).requires_grad_()   (also checks randn) */
    cg_manual_seed(0);
    assert_prints(cg_requires_grad_(cg_randn(NULL, CG_SHAPE(3)), true),
                  "tensor([ 1.5410, -0.2934, -2.1788], requires_grad=True)");
}

/* grad_fn names of other ops, as PyTorch names them:
 *   x = torch.tensor([[0.5,1.25],[3.,-2.]]).requires_grad_()
 *   (x*2).mean(); x.view(4); torch.sigmoid(x); x.T */
static void test_grad_fn_names(void **state) {
    (void)state;
    cg_tensor *x = cg_requires_grad_(
        cg_from_floats(CG_SHAPE(2, 2), (const float[]){0.5f, 1.25f, 3.0f, -2.0f}), true);
    assert_prints(cg_mean(cg_mul_s(x, 2), NULL, 0, false), "tensor(1.3750, grad_fn=<MeanBackward0>)");
    assert_prints(cg_view(x, CG_SHAPE(4)),
                  "tensor([ 0.5000,  1.2500,  3.0000, -2.0000], grad_fn=<ViewBackward0>)");
    assert_prints(cg_sigmoid(x), "tensor([[0.6225, 0.7773],\n"
                                 "        [0.9526, 0.1192]], grad_fn=<SigmoidBackward0>)");
    assert_prints(cg_t(x), "tensor([[ 0.5000,  3.0000],\n"
                           "        [ 1.2500, -2.0000]], grad_fn=<TBackward0>)");
}

/* The suffix moves to its own line when the last line would pass 80 columns.
 * (torch.arange(24, dtype=torch.float32) * 1.25).requires_grad_() */
static void test_suffix_wraps(void **state) {
    (void)state;
    float v[24];
    for (int i = 0; i < 24; i++) v[i] = (float)i * 1.25f;
    cg_tensor *t = cg_requires_grad_(cg_from_floats(CG_SHAPE(24), v), true);
    assert_prints(t,
                  "tensor([ 0.0000,  1.2500,  2.5000,  3.7500,  5.0000,  6.2500,  7.5000,  8.7500,\n"
                  "        10.0000, 11.2500, 12.5000, 13.7500, 15.0000, 16.2500, 17.5000, 18.7500,\n"
                  "        20.0000, 21.2500, 22.5000, 23.7500, 25.0000, 26.2500, 27.5000, 28.7500],\n"
                  "       requires_grad=True)");
}

/* ---- number formats -------------------------------------------------------- */
static void test_negative_and_fractional(void **state) {
    (void)state;
    /* torch.tensor([-1.5, 2.25, -3.0, 0.125]) */
    assert_prints(cg_from_floats(CG_SHAPE(4), (const float[]){-1.5f, 2.25f, -3.0f, 0.125f}),
                  "tensor([-1.5000,  2.2500, -3.0000,  0.1250])");
    /* torch.tensor([0.9, 0.4, 0.2]) -- the chapter's prds */
    assert_prints(cg_from_floats(CG_SHAPE(3), (const float[]){0.9f, 0.4f, 0.2f}),
                  "tensor([0.9000, 0.4000, 0.2000])");
    /* torch.tensor([1,0,1]) -- trgts */
    assert_prints(cg_from_data(CG_INT64, CG_SHAPE(3), (const int64_t[]){1, 0, 1}),
                  "tensor([1, 0, 1])");
}

static void test_scientific(void **state) {
    (void)state;
    /* torch.tensor([1e-5, 1.0, 1000.0])     max/min > 1000 */
    assert_prints(cg_from_floats(CG_SHAPE(3), (const float[]){1e-5f, 1.0f, 1000.0f}),
                  "tensor([1.0000e-05, 1.0000e+00, 1.0000e+03])");
    /* torch.tensor([0.001, 123.456, -7.0])  mixed magnitudes */
    assert_prints(cg_from_floats(CG_SHAPE(3), (const float[]){0.001f, 123.456f, -7.0f}),
                  "tensor([ 1.0000e-03,  1.2346e+02, -7.0000e+00])");
    /* torch.tensor([1e9, 2.0])              max > 1e8, integral */
    assert_prints(cg_from_floats(CG_SHAPE(2), (const float[]){1e9f, 2.0f}),
                  "tensor([1.0000e+09, 2.0000e+00])");
    /* torch.tensor([1e8, 3.0])              ratio > 1000, integral */
    assert_prints(cg_from_floats(CG_SHAPE(2), (const float[]){1e8f, 3.0f}),
                  "tensor([1.0000e+08, 3.0000e+00])");
    /* torch.tensor([1e-5, 2e-5])            min < 1e-4 */
    assert_prints(cg_from_floats(CG_SHAPE(2), (const float[]){1e-5f, 2e-5f}),
                  "tensor([1.0000e-05, 2.0000e-05])");
}

static void test_nonfinite(void **state) {
    (void)state;
    /* torch.tensor([float('nan'), 1.5, float('inf'), -float('inf')]) */
    assert_prints(cg_from_floats(CG_SHAPE(4), (const float[]){NAN, 1.5f, INFINITY, -INFINITY}),
                  "tensor([   nan, 1.5000,    inf,   -inf])");
    /* torch.tensor([float('nan'), 2.0, -float('inf')]) */
    assert_prints(cg_from_floats(CG_SHAPE(3), (const float[]){-NAN, 2.0f, -INFINITY}),
                  "tensor([nan, 2., -inf])");
}

/* ---- other dtypes ------------------------------------------------------------ */
/* The chapter's tensor(im3)[4:10,4:10]: im3 is train/3/10000.png of MNIST_SAMPLE
 *   im3 = Image.open(path/'train'/'3'/'10000.png'); tensor(im3)[4:10,4:10] */
static void test_uint8_image_slice(void **state) {
    (void)state;
    static const uint8_t pixels[36] = {0, 0,   0,   0,   0,   0,   0, 0,  0,   0,   0,   29,
                                       0, 0,   0,   48,  166, 224, 0, 93, 244, 249, 253, 187,
                                       0, 107, 253, 253, 230, 48,  0, 3,  20,  20,  15,  0};
    /* put the 6x6 patch inside a 10x10 image so the slice is a strided view */
    uint8_t image[100] = {0};
    for (int r = 0; r < 6; r++)
        for (int c = 0; c < 6; c++) image[(r + 4) * 10 + c + 4] = pixels[r * 6 + c];
    cg_tensor *im = cg_from_data(CG_UINT8, CG_SHAPE(10, 10), image);
    cg_tensor *patch = cg_slice(cg_slice(im, 0, 4, 10, 1), 1, 4, 10, 1);
    assert_prints(patch, "tensor([[  0,   0,   0,   0,   0,   0],\n"
                         "        [  0,   0,   0,   0,   0,  29],\n"
                         "        [  0,   0,   0,  48, 166, 224],\n"
                         "        [  0,  93, 244, 249, 253, 187],\n"
                         "        [  0, 107, 253, 253, 230,  48],\n"
                         "        [  0,   3,  20,  20,  15,   0]], dtype=torch.uint8)");
    assert_string_equal(cg_type_name(patch), "torch.ByteTensor");
    /* tensor(im3)[4:10,4:10].float()/255 */
    assert_prints(cg_div_s(cg_float(patch), 255),
                  "tensor([[0.0000, 0.0000, 0.0000, 0.0000, 0.0000, 0.0000],\n"
                  "        [0.0000, 0.0000, 0.0000, 0.0000, 0.0000, 0.1137],\n"
                  "        [0.0000, 0.0000, 0.0000, 0.1882, 0.6510, 0.8784],\n"
                  "        [0.0000, 0.3647, 0.9569, 0.9765, 0.9922, 0.7333],\n"
                  "        [0.0000, 0.4196, 0.9922, 0.9922, 0.9020, 0.1882],\n"
                  "        [0.0000, 0.0118, 0.0784, 0.0784, 0.0588, 0.0000]])");
    /* torch.tensor([0, 255, 7], dtype=torch.uint8) */
    assert_prints(cg_from_data(CG_UINT8, CG_SHAPE(3), (const uint8_t[]){0, 255, 7}),
                  "tensor([  0, 255,   7], dtype=torch.uint8)");
}

static void test_bool(void **state) {
    (void)state;
    /* torch.tensor([True, False, True]) */
    cg_tensor *b = cg_from_data(CG_BOOL, CG_SHAPE(3), (const bool[]){true, false, true});
    assert_prints(b, "tensor([ True, False,  True])");
    assert_string_equal(cg_type_name(b), "torch.BoolTensor");
    /* torch.tensor([[True],[False]]) */
    assert_prints(cg_from_data(CG_BOOL, CG_SHAPE(2, 1), (const bool[]){true, false}),
                  "tensor([[ True],\n"
                  "        [False]])");
}

static void test_empty(void **state) {
    (void)state;
    /* torch.tensor([]) */
    assert_prints(cg_empty(CG_FLOAT32, CG_SHAPE(0)), "tensor([])");
    /* torch.tensor([], dtype=torch.int64) */
    assert_prints(cg_empty(CG_INT64, CG_SHAPE(0)), "tensor([], dtype=torch.int64)");
    /* torch.zeros(0, 3) */
    assert_prints(cg_empty(CG_FLOAT32, CG_SHAPE(0, 3)), "tensor([], size=(0, 3))");
}

/* ---- layout: nesting, wrapping, summarising -------------------------------- */
/* torch.arange(24).view(2,3,4) */
static void test_3d(void **state) {
    (void)state;
    int64_t v[24];
    for (int i = 0; i < 24; i++) v[i] = i;
    assert_prints(cg_from_data(CG_INT64, CG_SHAPE(2, 3, 4), v),
                  "tensor([[[ 0,  1,  2,  3],\n"
                  "         [ 4,  5,  6,  7],\n"
                  "         [ 8,  9, 10, 11]],\n"
                  "\n"
                  "        [[12, 13, 14, 15],\n"
                  "         [16, 17, 18, 19],\n"
                  "         [20, 21, 22, 23]]])");
}

/* torch.arange(30, dtype=torch.float32) * 1.25: 8 elements per 80-column line */
static void test_line_wrapping(void **state) {
    (void)state;
    float v[30];
    for (int i = 0; i < 30; i++) v[i] = (float)i * 1.25f;
    assert_prints(cg_from_floats(CG_SHAPE(30), v),
                  "tensor([ 0.0000,  1.2500,  2.5000,  3.7500,  5.0000,  6.2500,  7.5000,  8.7500,\n"
                  "        10.0000, 11.2500, 12.5000, 13.7500, 15.0000, 16.2500, 17.5000, 18.7500,\n"
                  "        20.0000, 21.2500, 22.5000, 23.7500, 25.0000, 26.2500, 27.5000, 28.7500,\n"
                  "        30.0000, 31.2500, 32.5000, 33.7500, 35.0000, 36.2500])");
}

/* More than 1000 elements: summarised; the format is chosen from the shown ones.
 *   torch.arange(1010, dtype=torch.float32) / 7
 *   torch.arange(1010) */
static void test_summarised_vector(void **state) {
    (void)state;
    float v[1010];
    int64_t w[1010];
    for (int i = 0; i < 1010; i++) {
        v[i] = (float)i / 7.0f;
        w[i] = i;
    }
    assert_prints(cg_from_floats(CG_SHAPE(1010), v),
                  "tensor([0.0000e+00, 1.4286e-01, 2.8571e-01,  ..., 1.4386e+02, 1.4400e+02,\n"
                  "        1.4414e+02])");
    assert_prints(cg_from_data(CG_INT64, CG_SHAPE(1010), w),
                  "tensor([   0,    1,    2,  ..., 1007, 1008, 1009])");
}

/* torch.arange(1200, dtype=torch.float32).view(40, 30) / 3 */
static void test_summarised_matrix(void **state) {
    (void)state;
    float v[1200];
    for (int i = 0; i < 1200; i++) v[i] = (float)i / 3.0f;
    assert_prints(cg_from_floats(CG_SHAPE(40, 30), v),
                  "tensor([[0.0000e+00, 3.3333e-01, 6.6667e-01,  ..., 9.0000e+00, 9.3333e+00,\n"
                  "         9.6667e+00],\n"
                  "        [1.0000e+01, 1.0333e+01, 1.0667e+01,  ..., 1.9000e+01, 1.9333e+01,\n"
                  "         1.9667e+01],\n"
                  "        [2.0000e+01, 2.0333e+01, 2.0667e+01,  ..., 2.9000e+01, 2.9333e+01,\n"
                  "         2.9667e+01],\n"
                  "        ...,\n"
                  "        [3.7000e+02, 3.7033e+02, 3.7067e+02,  ..., 3.7900e+02, 3.7933e+02,\n"
                  "         3.7967e+02],\n"
                  "        [3.8000e+02, 3.8033e+02, 3.8067e+02,  ..., 3.8900e+02, 3.8933e+02,\n"
                  "         3.8967e+02],\n"
                  "        [3.9000e+02, 3.9033e+02, 3.9067e+02,  ..., 3.9900e+02, 3.9933e+02,\n"
                  "         3.9967e+02]])");
}

/* torch.arange(2400).view(8, 10, 30): "...," between blocks, a blank line between 2-d slices */
static void test_summarised_3d(void **state) {
    (void)state;
    static int64_t v[2400];
    for (int i = 0; i < 2400; i++) v[i] = i;
    assert_prints(cg_from_data(CG_INT64, CG_SHAPE(8, 10, 30), v),
                  "tensor([[[   0,    1,    2,  ...,   27,   28,   29],\n"
                  "         [  30,   31,   32,  ...,   57,   58,   59],\n"
                  "         [  60,   61,   62,  ...,   87,   88,   89],\n"
                  "         ...,\n"
                  "         [ 210,  211,  212,  ...,  237,  238,  239],\n"
                  "         [ 240,  241,  242,  ...,  267,  268,  269],\n"
                  "         [ 270,  271,  272,  ...,  297,  298,  299]],\n"
                  "\n"
                  "        [[ 300,  301,  302,  ...,  327,  328,  329],\n"
                  "         [ 330,  331,  332,  ...,  357,  358,  359],\n"
                  "         [ 360,  361,  362,  ...,  387,  388,  389],\n"
                  "         ...,\n"
                  "         [ 510,  511,  512,  ...,  537,  538,  539],\n"
                  "         [ 540,  541,  542,  ...,  567,  568,  569],\n"
                  "         [ 570,  571,  572,  ...,  597,  598,  599]],\n"
                  "\n"
                  "        [[ 600,  601,  602,  ...,  627,  628,  629],\n"
                  "         [ 630,  631,  632,  ...,  657,  658,  659],\n"
                  "         [ 660,  661,  662,  ...,  687,  688,  689],\n"
                  "         ...,\n"
                  "         [ 810,  811,  812,  ...,  837,  838,  839],\n"
                  "         [ 840,  841,  842,  ...,  867,  868,  869],\n"
                  "         [ 870,  871,  872,  ...,  897,  898,  899]],\n"
                  "\n"
                  "        ...,\n"
                  "\n"
                  "        [[1500, 1501, 1502,  ..., 1527, 1528, 1529],\n"
                  "         [1530, 1531, 1532,  ..., 1557, 1558, 1559],\n"
                  "         [1560, 1561, 1562,  ..., 1587, 1588, 1589],\n"
                  "         ...,\n"
                  "         [1710, 1711, 1712,  ..., 1737, 1738, 1739],\n"
                  "         [1740, 1741, 1742,  ..., 1767, 1768, 1769],\n"
                  "         [1770, 1771, 1772,  ..., 1797, 1798, 1799]],\n"
                  "\n"
                  "        [[1800, 1801, 1802,  ..., 1827, 1828, 1829],\n"
                  "         [1830, 1831, 1832,  ..., 1857, 1858, 1859],\n"
                  "         [1860, 1861, 1862,  ..., 1887, 1888, 1889],\n"
                  "         ...,\n"
                  "         [2010, 2011, 2012,  ..., 2037, 2038, 2039],\n"
                  "         [2040, 2041, 2042,  ..., 2067, 2068, 2069],\n"
                  "         [2070, 2071, 2072,  ..., 2097, 2098, 2099]],\n"
                  "\n"
                  "        [[2100, 2101, 2102,  ..., 2127, 2128, 2129],\n"
                  "         [2130, 2131, 2132,  ..., 2157, 2158, 2159],\n"
                  "         [2160, 2161, 2162,  ..., 2187, 2188, 2189],\n"
                  "         ...,\n"
                  "         [2310, 2311, 2312,  ..., 2337, 2338, 2339],\n"
                  "         [2340, 2341, 2342,  ..., 2367, 2368, 2369],\n"
                  "         [2370, 2371, 2372,  ..., 2397, 2398, 2399]]])");
}

/* A stride-0 (expanded) view prints its repeated values.
 *   torch.tensor([1.5, -2.0]).expand(2, 2) */
static void test_expanded_view(void **state) {
    (void)state;
    cg_tensor *v = cg_from_floats(CG_SHAPE(2), (const float[]){1.5f, -2.0f});
    assert_prints(cg_expand(v, CG_SHAPE(2, 2)), "tensor([[ 1.5000, -2.0000],\n"
                                               "        [ 1.5000, -2.0000]])");
}

/* ---- cg_fprint and errors -------------------------------------------------- */
static void test_fprint_and_errors(void **state) {
    (void)state;
    FILE *f = tmpfile();
    assert_non_null(f);
    assert_int_equal(cg_fprint(f, chapter_tns()), CG_OK);
    rewind(f);
    char buf[128] = {0};
    size_t n = fread(buf, 1, sizeof buf - 1, f);
    fclose(f);
    assert_int_equal(n, strlen("tensor([[1, 2, 3],\n        [4, 5, 6]])\n"));
    assert_string_equal(buf, "tensor([[1, 2, 3],\n        [4, 5, 6]])\n");

    cg_clear_error();
    assert_null(cg_format(NULL));
    assert_int_equal(cg_last_status(), CG_ERR_VALUE);
    assert_int_not_equal(cg_fprint(stdout, NULL), CG_OK);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_chapter_tns, setup, teardown),
        cmocka_unit_test_setup_teardown(test_views, setup, teardown),
        cmocka_unit_test_setup_teardown(test_integral_floats, setup, teardown),
        cmocka_unit_test_setup_teardown(test_requires_grad_and_grad_fn, setup, teardown),
        cmocka_unit_test_setup_teardown(test_grad_fn_names, setup, teardown),
        cmocka_unit_test_setup_teardown(test_suffix_wraps, setup, teardown),
        cmocka_unit_test_setup_teardown(test_negative_and_fractional, setup, teardown),
        cmocka_unit_test_setup_teardown(test_scientific, setup, teardown),
        cmocka_unit_test_setup_teardown(test_nonfinite, setup, teardown),
        cmocka_unit_test_setup_teardown(test_uint8_image_slice, setup, teardown),
        cmocka_unit_test_setup_teardown(test_bool, setup, teardown),
        cmocka_unit_test_setup_teardown(test_empty, setup, teardown),
        cmocka_unit_test_setup_teardown(test_3d, setup, teardown),
        cmocka_unit_test_setup_teardown(test_line_wrapping, setup, teardown),
        cmocka_unit_test_setup_teardown(test_summarised_vector, setup, teardown),
        cmocka_unit_test_setup_teardown(test_summarised_matrix, setup, teardown),
        cmocka_unit_test_setup_teardown(test_summarised_3d, setup, teardown),
        cmocka_unit_test_setup_teardown(test_expanded_view, setup, teardown),
        cmocka_unit_test_setup_teardown(test_fprint_and_errors, setup, teardown),
    };
    int failed = cmocka_run_group_tests(tests, NULL, NULL);
    cg_pool_trim();
    return failed;
}
