/* The direct conv kernels (cpu_conv_direct.c) on a blocked y / dy: the
 * forward writes nChw8c / nChw16c, the weight backward reads a dy in it.
 * Both must give exactly the plain kernel's bits (the same products in the
 * same order, only stored elsewhere), at every CPU level this machine has,
 * on 1 thread and on 2, and stay close to the double-precision reference;
 * shapes the kernel cannot take in a block are refused. */
#include <math.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "kernels/cpu_dispatch.h"
#include "kernels/nn_kernels.h"

static float *sines(int64_t n, double freq, double phase, double amp) {
    float *p = malloc((size_t)n * sizeof *p);
    assert_non_null(p);
    for (int64_t i = 0; i < n; i++) p[i] = (float)(amp * sin(freq * (double)i + phase));
    return p;
}

static cg_conv2d_desc desc(int64_t n, int64_t c, int64_t h, int64_t w, int64_t oc, int64_t k, int64_t s,
                           int64_t p) {
    cg_conv2d_desc d = {.n = n, .c = c, .h = h, .w = w, .oc = oc, .kh = k, .kw = k, .stride_h = s,
                        .stride_w = s, .pad_h = p, .pad_w = p, .dil_h = 1, .dil_w = 1, .groups = 1};
    char msg[256];
    if (cg_conv2d_desc_init(&d, msg, sizeof msg) != CG_NN_OK) fail_msg("descriptor: %s", msg);
    return d;
}

/* Element (n, o, q) of a blocked (N, OC/B, P, B) buffer, written out here
 * rather than taken from the library's index function. */
static float blocked_at(const float *b, int64_t oc, int64_t p, int64_t block, int64_t n, int64_t o, int64_t q) {
    return b[((n * (oc / block) + o / block) * p + q) * block + o % block];
}

static void check_shape(int64_t n, int64_t c, int64_t hw, int64_t oc, int64_t k, int64_t s, int64_t pad,
                        int64_t block) {
    cg_conv2d_desc d = desc(n, c, hw, hw, oc, k, s, pad), db_d = d;
    db_d.y_block = block;
    if (!cg_conv2d_direct_supports(&d)) fail_msg("the direct kernel refuses %lld->%lld plain", (long long)c,
                                                 (long long)oc);
    int64_t p = d.oh * d.ow, nx = n * c * hw * hw, ny = n * oc * p, nw = oc * c * k * k;
    float *x = sines(nx, 0.37, 0.1, 1), *w = sines(nw, 0.91, 0.3, 0.5), *bias = sines(oc, 1.3, 0.2, 0.2);
    float *dy = sines(ny, 0.53, 0.7, 1), *dy_blk = malloc((size_t)ny * sizeof *dy_blk);
    float *y = malloc((size_t)ny * sizeof *y), *y_blk = malloc((size_t)ny * sizeof *y_blk);
    float *y_ref = malloc((size_t)ny * sizeof *y_ref), *y_blk1 = malloc((size_t)ny * sizeof *y_blk1);
    float *dw = malloc((size_t)nw * sizeof *dw), *dw_blk = malloc((size_t)nw * sizeof *dw_blk);
    float *dw_ref = malloc((size_t)nw * sizeof *dw_ref), *dbias = malloc((size_t)oc * sizeof *dbias);
    float *dbias_blk = malloc((size_t)oc * sizeof *dbias_blk), *dbias_ref = malloc((size_t)oc * sizeof *dbias_ref);
    float *work = malloc((size_t)cg_conv2d_direct_workspace(&db_d, 2) * sizeof *work);
    assert_true(dy_blk && y && y_blk && y_ref && y_blk1 && dw && dw_blk && dw_ref && dbias && dbias_blk &&
                dbias_ref && work);
    for (int64_t i = 0; i < n; i++) /* dy in the block, by hand */
        for (int64_t o = 0; o < oc; o++)
            for (int64_t q = 0; q < p; q++)
                dy_blk[((i * (oc / block) + o / block) * p + q) * block + o % block] = dy[(i * oc + o) * p + q];
    cg_conv2d_forward_ref(&d, x, w, bias, y_ref);
    cg_conv2d_backward_weights_ref(&d, x, dy, dw_ref, dbias_ref);
    cg_cpu_level saved = cg_cpu_level_active();
    int levels_run = 0;
    for (int level = 0; level < CG_CPU_LEVELS; level++) {
        if (!cg_cpu_level_set((cg_cpu_level)level)) continue;
        if (!cg_conv2d_direct_supports(&db_d)) continue; /* a block narrower than this level's vector */
        levels_run++;
        for (int threads = 1; threads <= 2; threads++) {
            const char *lv = cg_cpu_level_name((cg_cpu_level)level);
            memset(y_blk, 0xff, (size_t)ny * sizeof *y_blk);
            assert_int_equal(cg_conv2d_forward_direct(&d, x, w, bias, y, work, threads), CG_NN_OK);
            assert_int_equal(cg_conv2d_forward_direct(&db_d, x, w, bias, y_blk, work, threads), CG_NN_OK);
            for (int64_t i = 0; i < n; i++)
                for (int64_t o = 0; o < oc; o++)
                    for (int64_t q = 0; q < p; q++) {
                        float plain = y[(i * oc + o) * p + q], got = blocked_at(y_blk, oc, p, block, i, o, q);
                        if (memcmp(&plain, &got, sizeof got))
                            fail_msg("%s, %d thread(s), block %lld: y[%lld,%lld,%lld] blocked %.9g, plain %.9g", lv,
                                     threads, (long long)block, (long long)i, (long long)o, (long long)q, got,
                                     plain);
                        double ref = y_ref[(i * oc + o) * p + q];
                        if (fabs(got - ref) > 1e-4 * (1 + fabs(ref)))
                            fail_msg("%s: y[%lld,%lld,%lld] %.9g, reference %.9g", lv, (long long)i, (long long)o,
                                     (long long)q, got, ref);
                    }
            if (threads == 1) memcpy(y_blk1, y_blk, (size_t)ny * sizeof *y_blk);
            else assert_memory_equal(y_blk, y_blk1, (size_t)ny * sizeof *y_blk);
            assert_int_equal(cg_conv2d_backward_weights_direct(&d, x, dy, dw, dbias, work, threads), CG_NN_OK);
            assert_int_equal(cg_conv2d_backward_weights_direct(&db_d, x, dy_blk, dw_blk, dbias_blk, work, threads),
                             CG_NN_OK);
            assert_memory_equal(dw_blk, dw, (size_t)nw * sizeof *dw);
            assert_memory_equal(dbias_blk, dbias, (size_t)oc * sizeof *dbias);
            for (int64_t i = 0; i < nw; i++)
                if (fabs(dw_blk[i] - dw_ref[i]) > 1e-4 * (1 + fabs(dw_ref[i])))
                    fail_msg("%s: dw[%lld] %.9g, reference %.9g", lv, (long long)i, dw_blk[i], dw_ref[i]);
            for (int64_t i = 0; i < oc; i++)
                if (fabs(dbias_blk[i] - dbias_ref[i]) > 1e-4 * (1 + fabs(dbias_ref[i])))
                    fail_msg("%s: dbias[%lld] %.9g, reference %.9g", lv, (long long)i, dbias_blk[i], dbias_ref[i]);
        }
    }
    cg_cpu_level_set(saved);
    assert_true(levels_run > 0);
    free(x), free(w), free(bias), free(dy), free(dy_blk), free(y), free(y_blk), free(y_ref), free(y_blk1);
    free(dw), free(dw_blk), free(dw_ref), free(dbias), free(dbias_blk), free(dbias_ref), free(work);
}

/* The cnn's first layer at its size, batch 64 and an odd batch. */
static void test_cnn_first_layer_block_8(void **state) {
    (void)state;
    check_shape(64, 1, 28, 32, 3, 1, 1, 8);
    check_shape(3, 1, 28, 32, 3, 1, 1, 8);
}

/* Block 16 (AVX-512's); an output plane of 5x5 = 25 positions, not a
 * multiple of any vector (the unfused tail), a stride, 2 channels and a 2x2 kernel. */
static void test_odd_planes_and_block_16(void **state) {
    (void)state;
    check_shape(2, 1, 28, 32, 3, 1, 1, 16);
    check_shape(3, 2, 9, 16, 2, 2, 1, 8);
    check_shape(1, 1, 5, 8, 3, 1, 1, 8);
}

/* What the kernel cannot take in a block: channels not a whole number of
 * blocks, and a blocked x (its inputs are thin: C*KH*KW <= 16). */
static void test_refusals(void **state) {
    (void)state;
    cg_conv2d_desc d = desc(2, 1, 8, 8, 12, 3, 1, 1);
    d.y_block = 8;
    assert_false(cg_conv2d_direct_supports(&d));
    assert_int_equal(cg_conv2d_forward_direct(&d, NULL, NULL, NULL, NULL, NULL, 1), CG_NN_EINVAL);
    d = desc(2, 8, 8, 8, 16, 1, 1, 0);
    assert_true(cg_conv2d_direct_supports(&d));
    d.x_block = 8;
    assert_false(cg_conv2d_direct_supports(&d));
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_cnn_first_layer_block_8),
        cmocka_unit_test(test_odd_planes_and_block_16),
        cmocka_unit_test(test_refusals),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
