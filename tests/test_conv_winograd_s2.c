/* test_conv_winograd_s2.c — cgrad's stride-2 winograd conv kernel
 * (cpu_conv_winograd_s2.c, polyphase F(4, 2)) against the double reference:
 *   - forward (with and without bias) and data backward at the cnn's shapes
 *     (32->64 at 28x28, 64->128 at 14x14, 128->256 at 7x7, batch 64) and
 *     small odd ones (batch 1 and 3; 1x1, 2x2, 5x9, 7x7, 14x14), plain NCHW
 *     and blocked nChw8c / nChw16c on either side; the error is
 *     max |fast - ref| / max |ref| over the whole output, held to 1e-4;
 *   - the same bits on one and two threads;
 *   - through the public op with the kernel forced (cg_conv2d_force_kernel);
 *   - what it refuses (stride 2 with pad 0, stride (2, 1), the weight
 *     backward at stride 2). */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <math.h>
#include <omp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "kernels/cpu_dispatch.h"
#include "kernels/nn_kernels.h"
#include "kernel_check.h"

static cg_conv2d_desc make(int64_t n, int64_t c, int64_t h, int64_t w, int64_t oc) {
    cg_conv2d_desc d = {.n = n, .c = c, .h = h, .w = w, .oc = oc, .kh = 3, .kw = 3, .stride_h = 2, .stride_w = 2,
                        .pad_h = 1, .pad_w = 1, .dil_h = 1, .dil_w = 1, .groups = 1};
    assert_int_equal(cg_conv2d_desc_init(&d, NULL, 0), CG_NN_OK);
    return d;
}

static double worst_fwd, worst_bwd;

/* One shape: forward (bias on/off) and data backward in layouts xb / yb */
static void check_shape(int64_t n, int64_t c, int64_t h, int64_t w, int64_t oc, int64_t xb, int64_t yb) {
    if (!cg_cpu_level_supported(CG_CPU_AVX2)) skip();
    cg_conv2d_desc d = make(n, c, h, w, oc);
    d.x_block = xb, d.y_block = yb;
    assert_true(cg_conv2d_winograd_supports(&d));
    int64_t hw = h * w, ohw = d.oh * d.ow, nx = n * c * hw, ny = n * oc * ohw, nw = oc * c * 9;
    int64_t nmax = nx > ny ? nx : ny;
    /* weights and inputs at the scale of PyTorch's init: |w| <= 1/sqrt(9c) */
    float *x = sines(nx, 0.37, 0.1, 1.0), *wt = sines(nw, 0.91, 0.3, 1.0 / sqrt(9.0 * (double)c));
    float *bias = sines(oc, 1.3, 0.2, 0.5), *dy = sines(ny, 0.53, 0.7, 1.0);
    float *ref = alloc_f(nmax), *got = alloc_f(nmax), *one = alloc_f(nmax), *plain = alloc_f(nmax);
    float *xin = alloc_f(nx), *dyin = alloc_f(ny);
    to_layout(xb, n, c, hw, x, xin);
    to_layout(yb, n, oc, ohw, dy, dyin);
    float *work = alloc_f(cg_conv2d_winograd_workspace(&d, 2));
    cg_conv2d_desc pd = d;
    pd.x_block = pd.y_block = 0;
    for (int b = 0; b < 2; b++) {
        cg_conv2d_forward_ref(&pd, x, wt, b ? bias : NULL, ref);
        assert_int_equal(cg_conv2d_forward_winograd(&d, xin, wt, b ? bias : NULL, got, work, 2), CG_NN_OK);
        from_layout(yb, n, oc, ohw, got, plain);
        double e = rel_err(ny, plain, ref);
        if (e > worst_fwd) worst_fwd = e;
        if (e > 1e-4) fail_msg("forward %ldx%ld->%ld %ldx%ld blocks %ld/%ld bias %d: rel err %g", (long)n, (long)c,
                               (long)oc, (long)h, (long)w, (long)xb, (long)yb, b, e);
        assert_int_equal(cg_conv2d_forward_winograd(&d, xin, wt, b ? bias : NULL, one, work, 1), CG_NN_OK);
        assert_memory_equal(one, got, (size_t)ny * sizeof *one);
    }
    cg_conv2d_backward_data_ref(&pd, dy, wt, ref);
    assert_int_equal(cg_conv2d_backward_data_winograd(&d, dyin, wt, got, work, 2), CG_NN_OK);
    from_layout(xb, n, c, hw, got, plain);
    double e = rel_err(nx, plain, ref);
    if (e > worst_bwd) worst_bwd = e;
    if (e > 1e-4) fail_msg("bwd data %ldx%ld->%ld %ldx%ld blocks %ld/%ld: rel err %g", (long)n, (long)c, (long)oc,
                           (long)h, (long)w, (long)xb, (long)yb, e);
    assert_int_equal(cg_conv2d_backward_data_winograd(&d, dyin, wt, one, work, 1), CG_NN_OK);
    assert_memory_equal(one, got, (size_t)nx * sizeof *one);
    free(x), free(wt), free(bias), free(dy), free(ref), free(got), free(one), free(plain), free(xin), free(dyin);
    free(work);
}

static void test_small_shapes(void **state) {
    (void)state;
    static const int64_t shapes[][5] = {{1, 8, 7, 7, 16}, {3, 16, 5, 9, 8},  {3, 8, 1, 1, 8},   {1, 8, 2, 2, 24},
                                        {3, 8, 14, 14, 8}, {1, 16, 8, 8, 16}, {3, 32, 9, 6, 16}, {1, 8, 28, 28, 8}};
    static const int64_t blocks[][2] = {{0, 0}, {8, 8}, {0, 8}, {8, 0}, {16, 16}, {16, 0}, {0, 16}};
    for (size_t s = 0; s < sizeof shapes / sizeof shapes[0]; s++)
        for (size_t b = 0; b < sizeof blocks / sizeof blocks[0]; b++) {
            const int64_t *q = shapes[s];
            if ((blocks[b][0] && q[1] % blocks[b][0]) || (blocks[b][1] && q[4] % blocks[b][1])) continue;
            check_shape(q[0], q[1], q[2], q[3], q[4], blocks[b][0], blocks[b][1]);
        }
}

static void test_model_shapes(void **state) {
    (void)state;
    check_shape(64, 32, 28, 28, 64, 0, 0);
    check_shape(64, 32, 28, 28, 64, 8, 8);
    check_shape(64, 64, 14, 14, 128, 8, 8);
    check_shape(64, 128, 7, 7, 256, 8, 16);
    check_shape(64, 64, 7, 7, 128, 0, 8);
    check_shape(64, 128, 4, 4, 256, 16, 16);
    printf("winograd s2 max rel err (of max |ref|): forward %.3g, data backward %.3g\n", worst_fwd, worst_bwd);
}

static void test_refuses(void **state) {
    (void)state;
    cg_conv2d_desc d = make(1, 8, 6, 6, 8);
    if (!cg_cpu_level_supported(CG_CPU_AVX2)) {
        assert_false(cg_conv2d_winograd_supports(&d));
        return;
    }
    assert_true(cg_conv2d_winograd_supports(&d));
    cg_conv2d_desc p0 = d; /* pad 0 */
    p0.pad_h = p0.pad_w = 0;
    assert_int_equal(cg_conv2d_desc_init(&p0, NULL, 0), CG_NN_OK);
    assert_false(cg_conv2d_winograd_supports(&p0));
    cg_conv2d_desc s21 = d; /* stride (2, 1) */
    s21.stride_w = 1;
    assert_int_equal(cg_conv2d_desc_init(&s21, NULL, 0), CG_NN_OK);
    assert_false(cg_conv2d_winograd_supports(&s21));
    cg_conv2d_desc s3 = d;
    s3.stride_h = s3.stride_w = 3;
    assert_int_equal(cg_conv2d_desc_init(&s3, NULL, 0), CG_NN_OK);
    assert_false(cg_conv2d_winograd_supports(&s3));
    cg_conv2d_desc c12 = make(1, 12, 6, 6, 8);
    assert_false(cg_conv2d_winograd_supports(&c12));
    float buf[8];
    assert_int_equal(cg_conv2d_forward_winograd(&c12, buf, buf, NULL, buf, buf, 1), CG_NN_EINVAL);
    /* no weight backward at stride 2 */
    assert_int_equal(cg_conv2d_backward_weights_winograd(&d, buf, buf, buf, NULL, buf, 1), CG_NN_EINVAL);
}

/* The public entry points with the kernel forced, on 1 and 2 OpenMP threads. */
static void test_public_op(void **state) {
    (void)state;
    if (!cg_cpu_level_supported(CG_CPU_AVX2)) skip();
    cg_conv2d_desc d = make(3, 16, 13, 13, 24);
    int64_t nx = 3 * 16 * 169, ny = 3 * 24 * d.oh * d.ow, nw = 24 * 16 * 9;
    float *x = sines(nx, 0.37, 0.1, 1.0), *wt = sines(nw, 0.91, 0.3, 0.08), *bias = sines(24, 1.3, 0.2, 0.5);
    float *dy = sines(ny, 0.53, 0.7, 1.0), *ref = alloc_f(ny), *got = alloc_f(ny), *got1 = alloc_f(ny);
    char msg[256];
    cg_conv2d_force_kernel(CG_CONV2D_WINOGRAD);
    int saved = omp_get_max_threads();
    cg_conv2d_forward_ref(&d, x, wt, bias, ref);
    omp_set_num_threads(2);
    assert_int_equal(cg_conv2d_forward(&d, x, wt, bias, got, msg, sizeof msg), CG_NN_OK);
    omp_set_num_threads(1);
    assert_int_equal(cg_conv2d_forward(&d, x, wt, bias, got1, msg, sizeof msg), CG_NN_OK);
    assert_true(rel_err(ny, got, ref) < 1e-4);
    assert_memory_equal(got, got1, (size_t)ny * sizeof *got);
    float *dref = alloc_f(nx), *dgot = alloc_f(nx), *dgot1 = alloc_f(nx);
    cg_conv2d_backward_data_ref(&d, dy, wt, dref);
    omp_set_num_threads(2);
    assert_int_equal(cg_conv2d_backward_data(&d, dy, wt, dgot, msg, sizeof msg), CG_NN_OK);
    omp_set_num_threads(1);
    assert_int_equal(cg_conv2d_backward_data(&d, dy, wt, dgot1, msg, sizeof msg), CG_NN_OK);
    assert_true(rel_err(nx, dgot, dref) < 1e-4);
    assert_memory_equal(dgot, dgot1, (size_t)nx * sizeof *dgot);
    /* the weight backward, forced to winograd, falls back to oneDNN and is still right */
    float *dw = alloc_f(nw), *dwref = alloc_f(nw), *db = alloc_f(24), *dbref = alloc_f(24);
    omp_set_num_threads(2);
    cg_conv2d_backward_weights_ref(&d, x, dy, dwref, dbref);
    assert_int_equal(cg_conv2d_backward_weights(&d, x, dy, dw, db, msg, sizeof msg), CG_NN_OK);
    assert_true(rel_err(nw, dw, dwref) < 1e-4);
    assert_true(rel_err(24, db, dbref) < 1e-4);
    /* native blocks of the forward: the CPU's block on both sides */
    int64_t xb, yb;
    assert_int_equal(cg_conv2d_native_blocks(&d, CG_CONV2D_FWD, &xb, &yb, msg, sizeof msg), CG_NN_OK);
    assert_int_equal(xb, cg_conv2d_preferred_block());
    assert_int_equal(yb, cg_conv2d_preferred_block());
    omp_set_num_threads(saved);
    cg_conv2d_force_kernel(CG_CONV2D_AUTO);
    free(x), free(wt), free(bias), free(dy), free(ref), free(got), free(got1), free(dref), free(dgot), free(dgot1);
    free(dw), free(dwref), free(db), free(dbref);
    cg_conv2d_cache_clear();
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_small_shapes),
        cmocka_unit_test(test_model_shapes),
        cmocka_unit_test(test_refuses),
        cmocka_unit_test(test_public_op),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
