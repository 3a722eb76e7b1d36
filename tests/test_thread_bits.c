/* test_thread_bits.c — the kernels give the same bits on one thread and on
 * two (docs/DESIGN.md, "the same bits on any thread count"), so a training
 * run's result does not depend on --threads / OMP_NUM_THREADS
 * (tests/cli/threads_bits.sh checks that end to end).  Each case runs a
 * kernel with omp_set_num_threads(1) and with omp_set_num_threads(2), on
 * shapes big enough that the two-thread call really splits its work,
 * compares the outputs bit for bit, and holds them to a double-precision
 * reference so that two equally wrong answers cannot pass. */
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

#include "kernels/cpu_kernels.h"
#include "kernels/nn_kernels.h"
#include "kernel_check.h"

/* max|got - want| <= tol * max|want| */
static void assert_close_d(const char *what, const float *got, const double *want, int64_t n, double tol) {
    double scale = 1e-30, worst = 0;
    int64_t at = 0;
    for (int64_t i = 0; i < n; i++) scale = fmax(scale, fabs(want[i]));
    for (int64_t i = 0; i < n; i++) {
        double e = fabs((double)got[i] - want[i]);
        if (!(e <= worst)) worst = e, at = i;
    }
    if (!(worst <= tol * scale))
        fail_msg("%s: element %lld is %.9g, expected %.9g", what, (long long)at, (double)got[at], want[at]);
}

static void assert_same_bits(const char *what, const float *a, const float *b, int64_t n) {
    for (int64_t i = 0; i < n; i++)
        if (memcmp(&a[i], &b[i], sizeof *a))
            fail_msg("%s: element %lld is %.9g on 1 thread, %.9g on 2", what, (long long)i, (double)a[i],
                     (double)b[i]);
}

/* ---- cg_cpu_gemm ---- */

/* The pieces are a function of the shape alone: one per 4Mi multiply-adds,
 * each at least 512 long along the longer of m and n, at most 8, rounded
 * down to a power of two (cpu_blas.c). */
static void test_gemm_pieces_follow_the_shape(void **state) {
    (void)state;
    assert_int_equal(cg_cpu_gemm_pieces(64, 10, 256), 1);      /* 163840 multiply-adds */
    assert_int_equal(cg_cpu_gemm_pieces(64, 512, 1024), 1);    /* 8 pieces' worth, but 512 / 512 = 1 long enough */
    assert_int_equal(cg_cpu_gemm_pieces(64, 1024, 512), 2);    /* 8 by the work, 1024 / 512 = 2 by the length */
    assert_int_equal(cg_cpu_gemm_pieces(1024, 1024, 1024), 2); /* 256 by the work */
    assert_int_equal(cg_cpu_gemm_pieces(3000, 64, 512), 4);    /* 23 by the work, 5 by the length: 4 */
    assert_int_equal(cg_cpu_gemm_pieces(2048, 2048, 2), 2);    /* 2 by the work (8Mi) */
    assert_int_equal(cg_cpu_gemm_pieces(8192, 8192, 64), 8);   /* capped at 8 */
    assert_int_equal(cg_cpu_gemm_pieces(511, 511, 100000), 1); /* too short to cut */
    assert_int_equal(cg_cpu_gemm_pieces(1, 1, 1), 1);
    /* no overflow of m*n*k: 2^62 multiply-adds */
    assert_int_equal(cg_cpu_gemm_pieces((int64_t)1 << 21, (int64_t)1 << 21, (int64_t)1 << 20), 8);
}

typedef struct gemm_case {
    bool ta, tb;
    int64_t m, n, k;
    float beta;
} gemm_case;

/* The cnn's Linear, whose forward and weight gradient differed between 1
 * and 2 threads before the fixed pieces (oneDNN's own threads, or one block
 * per thread), the shapes that now split (along n, along m, into 4, with
 * beta 1), a product split per thread before (64x784x784), the GEMV shapes
 * (n = 1, m = 1). */
static void test_gemm_same_bits_on_one_and_two_threads(void **state) {
    (void)state;
    const gemm_case cases[] = {
        {false, true, 64, 10, 256, 0},     /* the cnn's Linear(256, 10), batch 64 */
        {true, false, 10, 256, 64, 0},     /* its weight gradient */
        {false, true, 64, 784, 784, 0},    /* split per thread before */
        {true, false, 512, 1024, 64, 0},   /* the resnet head's weight gradient: 2 pieces along n */
        {false, false, 64, 1024, 512, 1},  /* accumulating (beta 1), 2 pieces along n */
        {false, true, 2048, 64, 512, 0},   /* 4 pieces along m */
        {false, false, 1000, 1, 784, 0},   /* n = 1 */
        {true, false, 1, 300, 2000, 0.5f}, /* m = 1 */
    };
    char what[160];
    int saved = omp_get_max_threads();
    for (size_t t = 0; t < sizeof cases / sizeof *cases; t++) {
        const gemm_case *g = &cases[t];
        int64_t lda = (g->ta ? g->m : g->k) + 3, ldb = (g->tb ? g->k : g->n) + 1, ldc = g->n + 2; /* padded rows */
        int64_t na = (g->ta ? g->k : g->m) * lda, nb = (g->tb ? g->n : g->k) * ldb, nc = g->m * ldc;
        float *a = sines(na, 0.37, 0.1, 1), *b = sines(nb, 0.91, 0.3, 0.5), *c0 = sines(nc, 0.53, 0.7, 1);
        float *c[2];
        double *want = malloc((size_t)(g->m * g->n) * sizeof *want);
        assert_non_null(want);
        for (int64_t i = 0; i < g->m; i++)
            for (int64_t j = 0; j < g->n; j++) {
                double s = 0;
                for (int64_t q = 0; q < g->k; q++)
                    s += (double)(g->ta ? a[q * lda + i] : a[i * lda + q]) *
                         (double)(g->tb ? b[j * ldb + q] : b[q * ldb + j]);
                want[i * g->n + j] = 0.75 * s + (double)g->beta * (double)c0[i * ldc + j];
            }
        for (int r = 0; r < 2; r++) {
            c[r] = malloc((size_t)nc * sizeof *c[r]);
            assert_non_null(c[r]);
            memcpy(c[r], c0, (size_t)nc * sizeof *c0);
            omp_set_num_threads(r + 1);
            cg_cpu_gemm(g->ta, g->tb, g->m, g->n, g->k, 0.75f, a, lda, b, ldb, g->beta, c[r], ldc);
        }
        omp_set_num_threads(saved);
        snprintf(what, sizeof what, "gemm %c%c %lldx%lldx%lld beta %g", g->ta ? 'T' : 'N', g->tb ? 'T' : 'N',
                 (long long)g->m, (long long)g->n, (long long)g->k, (double)g->beta);
        assert_same_bits(what, c[0], c[1], nc); /* padding columns included: left alone by both */
        float *packed = malloc((size_t)(g->m * g->n) * sizeof *packed);
        assert_non_null(packed);
        for (int64_t i = 0; i < g->m; i++) memcpy(packed + i * g->n, c[0] + i * ldc, (size_t)g->n * sizeof *packed);
        assert_close_d(what, packed, want, g->m * g->n, 1e-5);
        for (int64_t i = 0; i < g->m; i++)
            for (int64_t j = g->n; j < ldc; j++) assert_true(c[0][i * ldc + j] == c0[i * ldc + j]);
        free(packed), free(want), free(a), free(b), free(c0), free(c[0]), free(c[1]);
    }
}

/* ---- conv2d ---- */

typedef struct conv_case {
    const char *name;
    int64_t n, c, hw, oc, k, stride, pad;
} conv_case;

/* Every pass of every kernel the rule may pick (and of the oneDNN layouts
 * forced), three calls on one thread and three on two (the entry's tuner
 * runs two-thread calls on one thread or on both, as it measures): six
 * equal results.  The weight backward is where it failed: oneDNN's was cut
 * into one batch slice per thread (none on one thread), the GEMM's products
 * into one piece per thread (cpu_conv_dnnl.c: both are constants now). */
static void test_conv_same_bits_on_one_and_two_threads(void **state) {
    (void)state;
    const conv_case cases[] = {
        {"3x3 s2 32->64 at 14x14, batch 8 (the cnn's second conv, smaller)", 8, 32, 14, 64, 3, 2, 1},
        {"3x3 64->64 at 7x7, batch 8", 8, 64, 7, 64, 3, 1, 1},
        {"1x1 s2 64->128 at 7x7, batch 5 (plain: odd batches differed)", 5, 64, 7, 128, 1, 2, 0},
        {"3x3 128->128 at 2x2, batch 8 (the GEMM's)", 8, 128, 2, 128, 3, 1, 1},
        {"3x3 64->64 at 7x7, batch 1 (one slice; plain's forward differed)", 1, 64, 7, 64, 3, 1, 1},
        {"3x3 64->64 at 7x7, batch 3", 3, 64, 7, 64, 3, 1, 1},
    };
    const cg_conv2d_kernel kernels[] = {CG_CONV2D_AUTO, CG_CONV2D_DNNL_BLOCKED, CG_CONV2D_DNNL_PLAIN, CG_CONV2D_GEMM};
    char msg[512], what[256];
    int saved = omp_get_max_threads();
    for (size_t t = 0; t < sizeof cases / sizeof *cases; t++) {
        const conv_case *cc = &cases[t];
        cg_conv2d_desc d = {.n = cc->n, .c = cc->c, .h = cc->hw, .w = cc->hw, .oc = cc->oc, .kh = cc->k, .kw = cc->k,
                            .stride_h = cc->stride, .stride_w = cc->stride, .pad_h = cc->pad, .pad_w = cc->pad,
                            .dil_h = 1, .dil_w = 1, .groups = 1};
        if (cg_conv2d_desc_init(&d, msg, sizeof msg) != CG_NN_OK) fail_msg("%s: %s", cc->name, msg);
        int64_t nx = d.n * d.c * d.h * d.w, ny = d.n * d.oc * d.oh * d.ow, nw = d.oc * d.c * d.kh * d.kw;
        float *x = sines(nx, 0.37, 0.1, 1), *w = sines(nw, 0.91, 0.3, 0.5), *dy = sines(ny, 0.53, 0.7, 1);
        float *ref[3], db_ref_f[128];
        int64_t size[3] = {ny, nx, nw};
        for (int p = 0; p < 3; p++) ref[p] = calloc((size_t)size[p], sizeof(float)), assert_non_null(ref[p]);
        cg_conv2d_forward_ref(&d, x, w, NULL, ref[0]);
        cg_conv2d_backward_data_ref(&d, dy, w, ref[1]);
        cg_conv2d_backward_weights_ref(&d, x, dy, ref[2], db_ref_f);
        for (size_t kk = 0; kk < sizeof kernels / sizeof *kernels; kk++) {
            cg_conv2d_force_kernel(kernels[kk]);
            cg_conv2d_cache_clear(); /* fresh entries and tuners */
            for (int p = 0; p < 3; p++) {
                float *got[6], db[6][128];
                for (int r = 0; r < 6; r++) {
                    got[r] = calloc((size_t)size[p], sizeof(float));
                    assert_non_null(got[r]);
                    omp_set_num_threads(r < 3 ? 1 : 2);
                    cg_nn_status st = p == 0   ? cg_conv2d_forward(&d, x, w, NULL, got[r], msg, sizeof msg)
                                      : p == 1 ? cg_conv2d_backward_data(&d, dy, w, got[r], msg, sizeof msg)
                                               : cg_conv2d_backward_weights(&d, x, dy, got[r], db[r], msg, sizeof msg);
                    omp_set_num_threads(saved);
                    if (st != CG_NN_OK) fail_msg("%s, %s, pass %d: %s", cc->name, cg_conv2d_kernel_name(kernels[kk]), p, msg);
                }
                for (int r = 1; r < 6; r++) {
                    snprintf(what, sizeof what, "%s, %s, pass %d, call %d against call 1", cc->name,
                             cg_conv2d_kernel_name(kernels[kk]), p, r + 1);
                    assert_same_bits(what, got[0], got[r], size[p]);
                    if (p == 2) assert_same_bits(what, db[0], db[r], d.oc);
                }
                double *want = malloc((size_t)size[p] * sizeof *want);
                assert_non_null(want);
                for (int64_t i = 0; i < size[p]; i++) want[i] = ref[p][i];
                snprintf(what, sizeof what, "%s, %s, pass %d", cc->name, cg_conv2d_kernel_name(kernels[kk]), p);
                assert_close_d(what, got[0], want, size[p], 1e-4);
                free(want);
                for (int r = 0; r < 6; r++) free(got[r]);
            }
        }
        for (int p = 0; p < 3; p++) free(ref[p]);
        free(x), free(w), free(dy);
    }
    cg_conv2d_force_kernel(CG_CONV2D_AUTO);
    cg_conv2d_cache_clear();
}

/* ---- batch_norm ---- */

/* Per channel over N*HW values; above CG_NN_PARALLEL_MIN elements the
 * kernel gives channels to threads.  Forward (with the running statistics)
 * and backward, fused ReLU and not. */
static void test_batchnorm_same_bits_on_one_and_two_threads(void **state) {
    (void)state;
    enum { N = 16, C = 24, HW = 196 };
    const int64_t nx = (int64_t)N * C * HW;
    float *x = sines(nx, 0.37, 0.1, 2), *dy = sines(nx, 0.53, 0.7, 1), *gamma = sines(C, 1.3, 0.2, 1);
    float *beta = sines(C, 0.7, 0.4, 0.5);
    for (int relu = 0; relu < 2; relu++) {
        cg_batchnorm_desc d = {.n = N, .c = C, .hw = HW, .eps = 1e-5, .momentum = 0.1, .relu = relu};
        assert_int_equal(cg_batchnorm_desc_init(&d, true, NULL, 0), CG_NN_OK);
        float *y[2], *dx[2], mean[2][C], invstd[2][C], rm[2][C], rv[2][C], dg[2][C], dbt[2][C];
        int saved = omp_get_max_threads();
        for (int r = 0; r < 2; r++) {
            y[r] = malloc((size_t)nx * sizeof(float)), dx[r] = malloc((size_t)nx * sizeof(float));
            assert_non_null(y[r]), assert_non_null(dx[r]);
            for (int c = 0; c < C; c++) rm[r][c] = 0.1f * (float)c, rv[r][c] = 1.0f + 0.05f * (float)c;
            omp_set_num_threads(r + 1);
            for (int rep = 0; rep < 3; rep++) { /* three calls: the tuner tries both thread counts */
                cg_batchnorm_forward_train(&d, x, gamma, beta, y[r], mean[r], invstd[r], rm[r], rv[r]);
                cg_batchnorm_backward(&d, true, dy, x, y[r], gamma, mean[r], invstd[r], dx[r], dg[r], dbt[r]);
            }
            omp_set_num_threads(saved);
        }
        const char *what = relu ? "batch_norm + relu" : "batch_norm";
        assert_same_bits(what, y[0], y[1], nx);
        assert_same_bits(what, dx[0], dx[1], nx);
        assert_same_bits(what, mean[0], mean[1], C), assert_same_bits(what, invstd[0], invstd[1], C);
        assert_same_bits(what, rm[0], rm[1], C), assert_same_bits(what, rv[0], rv[1], C);
        assert_same_bits(what, dg[0], dg[1], C), assert_same_bits(what, dbt[0], dbt[1], C);
        /* and right: the reference kernel's values */
        float *yr = malloc((size_t)nx * sizeof(float)), *dxr = malloc((size_t)nx * sizeof(float));
        double *want = malloc((size_t)nx * sizeof *want);
        assert_non_null(yr), assert_non_null(dxr), assert_non_null(want);
        float mr[C], ir[C], dgr[C], dbr[C];
        cg_batchnorm_forward_train_ref(&d, x, gamma, beta, yr, mr, ir, NULL, NULL);
        cg_batchnorm_backward_ref(&d, true, dy, x, yr, gamma, mr, ir, dxr, dgr, dbr);
        for (int64_t i = 0; i < nx; i++) want[i] = yr[i];
        assert_close_d(what, y[0], want, nx, 1e-5);
        for (int64_t i = 0; i < nx; i++) want[i] = dxr[i];
        assert_close_d(what, dx[0], want, nx, 1e-4);
        free(yr), free(dxr), free(want);
        for (int r = 0; r < 2; r++) free(y[r]), free(dx[r]);
    }
    free(x), free(dy), free(gamma), free(beta);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_gemm_pieces_follow_the_shape),
        cmocka_unit_test(test_gemm_same_bits_on_one_and_two_threads),
        cmocka_unit_test(test_conv_same_bits_on_one_and_two_threads),
        cmocka_unit_test(test_batchnorm_same_bits_on_one_and_two_threads),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
