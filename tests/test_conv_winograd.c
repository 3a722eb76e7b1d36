/* test_conv_winograd.c — cgrad's F(4x4, 3x3) winograd conv kernel
 * (cpu_conv_winograd.c) against the double reference kernels:
 *   - forward (with and without bias), data backward and weight backward
 *     (with and without dbias) at resnet18's
 *     shapes (64->64 at 7x7, 128->128 at 4x4, batch 64) and small odd ones
 *     (batch 1 and 3; 5x5, 6x6, 7x7, 9x11, 1x1, 2x3; 8->16, 16->8, 8->8),
 *     plain NCHW and blocked nChw8c / nChw16c on either side; the error is
 *     max |fast - ref| / max |ref| over the whole output, held to 1e-4;
 *   - the same bits on one and two threads;
 *   - through the public op with the kernel forced (cg_conv2d_force_kernel);
 *   - what it refuses (stride (2, 1), 5x5, C not a multiple of 8). */
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
    cg_conv2d_desc d = {.n = n, .c = c, .h = h, .w = w, .oc = oc, .kh = 3, .kw = 3, .stride_h = 1, .stride_w = 1,
                        .pad_h = 1, .pad_w = 1, .dil_h = 1, .dil_w = 1, .groups = 1};
    assert_int_equal(cg_conv2d_desc_init(&d, NULL, 0), CG_NN_OK);
    return d;
}

static double worst_fwd, worst_bwd, worst_wgt;

/* One shape: forward (bias on/off) and data backward in layouts xb / yb,
 * against the reference; returns nothing, asserts. */
static void check_shape(int64_t n, int64_t c, int64_t h, int64_t w, int64_t oc, int64_t xb, int64_t yb) {
    if (!cg_cpu_level_supported(CG_CPU_AVX2)) skip();
    cg_conv2d_desc d = make(n, c, h, w, oc);
    d.x_block = xb, d.y_block = yb;
    assert_true(cg_conv2d_winograd_supports(&d));
    int64_t nx = n * c * h * w, ny = n * oc * h * w, nw = oc * c * 9;
    /* weights and inputs at the scale of PyTorch's init: |w| <= 1/sqrt(9c) */
    float *x = sines(nx, 0.37, 0.1, 1.0), *wt = sines(nw, 0.91, 0.3, 1.0 / sqrt(9.0 * (double)c));
    float *bias = sines(oc, 1.3, 0.2, 0.5), *dy = sines(ny, 0.53, 0.7, 1.0);
    float *ref = alloc_f(ny > nx ? ny : nx), *got = alloc_f(ny > nx ? ny : nx), *plain = alloc_f(ny > nx ? ny : nx);
    float *xin = alloc_f(nx), *dyin = alloc_f(ny);
    to_layout(xb, n, c, h * w, x, xin);
    to_layout(yb, n, oc, h * w, dy, dyin);
    float *work = alloc_f(cg_conv2d_winograd_workspace(&d, 2));
    cg_conv2d_desc pd = d;
    pd.x_block = pd.y_block = 0;
    for (int b = 0; b < 2; b++) {
        cg_conv2d_forward_ref(&pd, x, wt, b ? bias : NULL, ref);
        assert_int_equal(cg_conv2d_forward_winograd(&d, xin, wt, b ? bias : NULL, got, work, 2), CG_NN_OK);
        from_layout(yb, n, oc, h * w, got, plain);
        double e = rel_err(ny, plain, ref);
        if (e > worst_fwd) worst_fwd = e;
        if (e > 1e-4) fail_msg("forward %ldx%ld->%ld %ldx%ld blocks %ld/%ld bias %d: rel err %g", (long)n, (long)c,
                               (long)oc, (long)h, (long)w, (long)xb, (long)yb, b, e);
        /* the same bits on one thread */
        float *one = alloc_f(ny);
        assert_int_equal(cg_conv2d_forward_winograd(&d, xin, wt, b ? bias : NULL, one, work, 1), CG_NN_OK);
        assert_memory_equal(one, got, (size_t)ny * sizeof *one);
        free(one);
    }
    cg_conv2d_backward_data_ref(&pd, dy, wt, ref);
    assert_int_equal(cg_conv2d_backward_data_winograd(&d, dyin, wt, got, work, 2), CG_NN_OK);
    from_layout(xb, n, c, h * w, got, plain);
    double e = rel_err(nx, plain, ref);
    if (e > worst_bwd) worst_bwd = e;
    if (e > 1e-4) fail_msg("bwd data %ldx%ld->%ld %ldx%ld blocks %ld/%ld: rel err %g", (long)n, (long)c, (long)oc,
                           (long)h, (long)w, (long)xb, (long)yb, e);
    float *one = alloc_f(nx);
    assert_int_equal(cg_conv2d_backward_data_winograd(&d, dyin, wt, one, work, 1), CG_NN_OK);
    assert_memory_equal(one, got, (size_t)nx * sizeof *one);
    free(one);
    /* weight backward, with and without dbias */
    float *dwref = alloc_f(nw), *dw = alloc_f(nw), *dw1 = alloc_f(nw), *dbref = alloc_f(oc), *db = alloc_f(oc);
    float *db1 = alloc_f(oc);
    cg_conv2d_backward_weights_ref(&pd, x, dy, dwref, dbref);
    for (int b = 0; b < 2; b++) {
        assert_int_equal(cg_conv2d_backward_weights_winograd(&d, xin, dyin, dw, b ? db : NULL, work, 2), CG_NN_OK);
        e = rel_err(nw, dw, dwref);
        if (e > worst_wgt) worst_wgt = e;
        if (e > 1e-4) fail_msg("bwd weight %ldx%ld->%ld %ldx%ld blocks %ld/%ld: rel err %g", (long)n, (long)c,
                               (long)oc, (long)h, (long)w, (long)xb, (long)yb, e);
        assert_int_equal(cg_conv2d_backward_weights_winograd(&d, xin, dyin, dw1, b ? db1 : NULL, work, 1), CG_NN_OK);
        assert_memory_equal(dw, dw1, (size_t)nw * sizeof *dw);
        if (b) {
            assert_true(rel_err(oc, db, dbref) < 1e-6);
            assert_memory_equal(db, db1, (size_t)oc * sizeof *db);
        }
    }
    free(dwref), free(dw), free(dw1), free(dbref), free(db), free(db1);
    free(x), free(wt), free(bias), free(dy), free(ref), free(got), free(plain), free(xin), free(dyin), free(work);
}

static void test_small_shapes(void **state) {
    (void)state;
    static const int64_t shapes[][5] = {{1, 8, 5, 5, 16}, {3, 16, 6, 6, 8}, {3, 8, 7, 7, 8}, {1, 16, 9, 11, 16},
                                        {3, 8, 1, 1, 8},  {1, 8, 2, 3, 24}, {1, 32, 4, 4, 16}};
    static const int64_t blocks[][2] = {{0, 0}, {8, 8}, {0, 8}, {8, 0}, {16, 16}, {16, 0}};
    for (size_t s = 0; s < sizeof shapes / sizeof shapes[0]; s++)
        for (size_t b = 0; b < sizeof blocks / sizeof blocks[0]; b++) {
            const int64_t *q = shapes[s];
            if ((blocks[b][0] && q[1] % blocks[b][0]) || (blocks[b][1] && q[4] % blocks[b][1])) continue;
            check_shape(q[0], q[1], q[2], q[3], q[4], blocks[b][0], blocks[b][1]);
        }
}

static void test_resnet_shapes(void **state) {
    (void)state;
    check_shape(64, 64, 7, 7, 64, 0, 0);
    check_shape(64, 64, 7, 7, 64, 8, 8);
    check_shape(64, 128, 4, 4, 128, 8, 8);
    check_shape(64, 128, 4, 4, 128, 16, 0);
    printf("winograd max rel err (of max |ref|): forward %.3g, data backward %.3g, weight backward %.3g\n",
           worst_fwd, worst_bwd, worst_wgt);
}

static void test_refuses(void **state) {
    (void)state;
    cg_conv2d_desc d = make(1, 8, 6, 6, 8);
    if (!cg_cpu_level_supported(CG_CPU_AVX2)) {
        assert_false(cg_conv2d_winograd_supports(&d));
        return;
    }
    assert_true(cg_conv2d_winograd_supports(&d));
    cg_conv2d_desc s2 = d; /* stride (2, 1); stride 2 both ways is test_conv_winograd_s2's */
    s2.stride_h = 2;
    assert_int_equal(cg_conv2d_desc_init(&s2, NULL, 0), CG_NN_OK);
    assert_false(cg_conv2d_winograd_supports(&s2));
    cg_conv2d_desc c12 = make(1, 12, 6, 6, 8);
    assert_false(cg_conv2d_winograd_supports(&c12));
    float buf[8];
    assert_int_equal(cg_conv2d_forward_winograd(&c12, buf, buf, NULL, buf, buf, 1), CG_NN_EINVAL);
    cg_conv2d_desc k5 = d;
    k5.kh = k5.kw = 5, k5.pad_h = k5.pad_w = 2;
    assert_int_equal(cg_conv2d_desc_init(&k5, NULL, 0), CG_NN_OK);
    assert_false(cg_conv2d_winograd_supports(&k5));
}

/* The public entry points with the kernel forced, on 1 and 2 OpenMP threads. */
static void test_public_op(void **state) {
    (void)state;
    if (!cg_cpu_level_supported(CG_CPU_AVX2)) skip();
    cg_conv2d_desc d = make(3, 16, 7, 7, 24);
    int64_t nx = 3 * 16 * 49, ny = 3 * 24 * 49;
    float *x = sines(nx, 0.37, 0.1, 1.0), *wt = sines(24 * 16 * 9, 0.91, 0.3, 0.08), *bias = sines(24, 1.3, 0.2, 0.5);
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
    float *dref = alloc_f(nx), *dgot = alloc_f(nx);
    cg_conv2d_backward_data_ref(&d, dy, wt, dref);
    omp_set_num_threads(2);
    assert_int_equal(cg_conv2d_backward_data(&d, dy, wt, dgot, msg, sizeof msg), CG_NN_OK);
    assert_true(rel_err(nx, dgot, dref) < 1e-4);
    /* the weight backward, with dbias */
    float *dw = alloc_f(24 * 16 * 9), *dwref = alloc_f(24 * 16 * 9), *db = alloc_f(24), *dbref = alloc_f(24);
    cg_conv2d_backward_weights_ref(&d, x, dy, dwref, dbref);
    assert_int_equal(cg_conv2d_backward_weights(&d, x, dy, dw, db, msg, sizeof msg), CG_NN_OK);
    assert_true(rel_err(24 * 16 * 9, dw, dwref) < 1e-4);
    assert_true(rel_err(24, db, dbref) < 1e-4);
    /* native blocks: the CPU's block on both sides */
    int64_t xb, yb;
    assert_int_equal(cg_conv2d_native_blocks(&d, CG_CONV2D_FWD, &xb, &yb, msg, sizeof msg), CG_NN_OK);
    assert_int_equal(xb, cg_conv2d_preferred_block());
    assert_int_equal(yb, cg_conv2d_preferred_block());
    omp_set_num_threads(saved);
    cg_conv2d_force_kernel(CG_CONV2D_AUTO);
    assert_string_equal(cg_conv2d_kernel_name(CG_CONV2D_WINOGRAD), "winograd");
    free(x), free(wt), free(bias), free(dy), free(ref), free(got), free(got1), free(dref), free(dgot);
    free(dw), free(dwref), free(db), free(dbref);
    cg_conv2d_cache_clear();
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_small_shapes),
        cmocka_unit_test(test_resnet_shapes),
        cmocka_unit_test(test_refuses),
        cmocka_unit_test(test_public_op),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
