/* test_nn_kernels.c — the vision kernels of src/kernels/nn_kernels.h, below
 * any tensor: conv2d (oneDNN against the reference loops, and both against
 * finite differences of a double-precision forward), batch_norm and pooling
 * against values worked out by hand, and one conv -> batch_norm -> relu ->
 * max_pool stack, forward and backward, against PyTorch's numbers
 * (tests/support/conv_reference.py). */
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
#include "kernels/cpu_nn_threads.h"
#include "kernels/nn_kernels.h"
#include "kernel_check.h"

/* ---- helpers ---- */

static float *zeros(int64_t n) {
    float *v = calloc((size_t)n, sizeof *v);
    assert_non_null(v);
    return v;
}

/* max|got - want| <= tol * max(max|want|, floor): relative to the array's scale. */
static void assert_close_f(const char *what, const float *got, const float *want, int64_t n, double tol,
                           double floor) {
    double scale = floor, worst = 0;
    int64_t at = 0;
    for (int64_t i = 0; i < n; i++) scale = fmax(scale, fabs((double)want[i]));
    for (int64_t i = 0; i < n; i++) {
        double e = fabs((double)got[i] - (double)want[i]);
        if (!(e <= worst)) worst = e, at = i;
    }
    if (!(worst <= tol * scale))
        fail_msg("%s: element %lld is %.9g, expected %.9g (error %.3g > %.3g)", what, (long long)at,
                 (double)got[at], (double)want[at], worst, tol * scale);
}

static void assert_close_d(const char *what, const float *got, const double *want, int64_t n, double tol,
                           double floor) {
    float *w = malloc((size_t)n * sizeof *w);
    assert_non_null(w);
    for (int64_t i = 0; i < n; i++) w[i] = (float)want[i];
    assert_close_f(what, got, w, n, tol, floor);
    free(w);
}

static int64_t conv_x_size(const cg_conv2d_desc *d) { return d->n * d->c * d->h * d->w; }
static int64_t conv_y_size(const cg_conv2d_desc *d) { return d->n * d->oc * d->oh * d->ow; }
static int64_t conv_w_size(const cg_conv2d_desc *d) { return d->oc * (d->c / d->groups) * d->kh * d->kw; }

static cg_conv2d_desc conv_desc(int64_t n, int64_t c, int64_t h, int64_t w, int64_t oc, int64_t kh, int64_t kw,
                                int64_t sh, int64_t sw, int64_t ph, int64_t pw, int64_t dh, int64_t dw,
                                int64_t groups) {
    cg_conv2d_desc d = {.n = n, .c = c, .h = h, .w = w, .oc = oc, .kh = kh, .kw = kw, .stride_h = sh,
                        .stride_w = sw, .pad_h = ph, .pad_w = pw, .dil_h = dh, .dil_w = dw, .groups = groups};
    char msg[256];
    if (cg_conv2d_desc_init(&d, msg, sizeof msg) != CG_NN_OK) fail_msg("conv desc: %s", msg);
    return d;
}

/* ---- conv2d: the descriptor ---- */

static void test_conv_desc_sizes_and_errors(void **state) {
    (void)state;
    cg_conv2d_desc d = conv_desc(64, 3, 28, 28, 64, 7, 7, 2, 2, 3, 3, 1, 1, 1); /* resnet's stem */
    assert_int_equal(d.oh, 14);
    assert_int_equal(d.ow, 14);
    d = conv_desc(1, 4, 10, 9, 4, 3, 3, 1, 2, 2, 0, 2, 1, 2); /* dilation 2: (10+4-5)/1+1, (9-3)/2+1 */
    assert_int_equal(d.oh, 10);
    assert_int_equal(d.ow, 4);
    assert_true(cg_conv2d_flops(&d) == 2.0 * 1 * 4 * 10 * 4 * 2 * 9);

    char msg[256];
    cg_conv2d_desc bad = d;
    bad.groups = 3; /* does not divide C = 4 */
    assert_int_equal(cg_conv2d_desc_init(&bad, msg, sizeof msg), CG_NN_EINVAL);
    assert_non_null(strstr(msg, "groups"));
    bad = d;
    bad.kh = 8; /* dilated span 2*7+1 = 15 > 10 + 2*2 */
    assert_int_equal(cg_conv2d_desc_init(&bad, msg, sizeof msg), CG_NN_EINVAL);
    assert_non_null(strstr(msg, "kh"));
    bad = d;
    bad.stride_w = 0;
    assert_int_equal(cg_conv2d_desc_init(&bad, msg, sizeof msg), CG_NN_EINVAL);
    assert_non_null(strstr(msg, "stride_w = 0"));
    bad = d;
    bad.n = (int64_t)1 << 29, bad.c = (int64_t)1 << 29, bad.groups = 1;
    assert_int_equal(cg_conv2d_desc_init(&bad, NULL, 0), CG_NN_EINVAL); /* n*c*h*w overflows, no msg */
}

/* The reference forward on a 1x1x3x3 input worked by hand: a 2x2 kernel of
 * ones with bias 0.5, stride 1, no padding sums each 2x2 block. */
static void test_conv_ref_by_hand(void **state) {
    (void)state;
    cg_conv2d_desc d = conv_desc(1, 1, 3, 3, 1, 2, 2, 1, 1, 0, 0, 1, 1, 1);
    const float x[9] = {1, 2, 3, 4, 5, 6, 7, 8, 9}, w[4] = {1, 1, 1, 1}, b[1] = {0.5f};
    float y[4], dx[9], dw[4], db[1];
    cg_conv2d_forward_ref(&d, x, w, b, y);
    const float want[4] = {12.5f, 16.5f, 24.5f, 28.5f};
    assert_memory_equal(y, want, sizeof want);
    /* dy = ones: dx counts how many windows cover each input (1 2 1 / 2 4 2 / 1 2 1),
     * dw[a][b] sums the 2x2 block starting at (a,b), dbias = 4. */
    const float ones[4] = {1, 1, 1, 1};
    cg_conv2d_backward_data_ref(&d, ones, w, dx);
    const float want_dx[9] = {1, 2, 1, 2, 4, 2, 1, 2, 1};
    assert_memory_equal(dx, want_dx, sizeof want_dx);
    cg_conv2d_backward_weights_ref(&d, x, ones, dw, db);
    const float want_dw[4] = {12, 16, 24, 28};
    assert_memory_equal(dw, want_dw, sizeof want_dw);
    assert_true(db[0] == 4.0f);
}

/* ---- conv2d: oneDNN against the reference ---- */

typedef struct conv_case {
    const char *name;
    int64_t n, c, h, w, oc, kh, kw, sh, sw, ph, pw, dh, dw, groups;
} conv_case;

static const conv_case conv_cases[] = {
    {"odd sizes 3x3 pad 1", 3, 5, 9, 7, 6, 3, 3, 1, 1, 1, 1, 1, 1, 1},
    {"stride 2 pad 1", 2, 4, 11, 10, 8, 3, 3, 2, 2, 1, 1, 1, 1, 1},
    {"dilation 2", 2, 3, 10, 9, 4, 3, 3, 1, 1, 2, 2, 2, 2, 1},
    {"groups 2", 2, 6, 7, 8, 4, 3, 3, 1, 1, 1, 1, 1, 1, 2},
    {"batch 1, 1x1 stride 2", 1, 8, 5, 5, 16, 1, 1, 2, 2, 0, 0, 1, 1, 1},
    {"7x7 stride 2 pad 3 (stem)", 2, 3, 28, 28, 8, 7, 7, 2, 2, 3, 3, 1, 1, 1},
    {"3x5 kernel, stride (2,1), pad (1,2), groups 3, dilation (1,2)", 2, 6, 9, 11, 9, 3, 5, 2, 1, 1, 2, 1, 2, 3},
    {"depthwise (groups = C)", 2, 4, 6, 6, 8, 3, 3, 1, 1, 1, 1, 1, 1, 4},
    /* resnet's deep layers: 3x3 pad 1 on 2x2 and 1x1 maps (taps that read only padding) */
    {"3x3 pad 1 on 1x1", 4, 16, 1, 1, 8, 3, 3, 1, 1, 1, 1, 1, 1, 1},
    {"3x3 stride 2 pad 1 on 2x2", 3, 8, 2, 2, 16, 3, 3, 2, 2, 1, 1, 1, 1, 1},
    /* thin layers (C*KH*KW <= 16: the direct kernels, cpu_conv_direct.c): the cnn's first layer, and 12
     * taps with a stride, a padding on one side and an output width of 19 (not a multiple of any vector) */
    {"thin: 1 channel 3x3 pad 1", 3, 1, 9, 11, 6, 3, 3, 1, 1, 1, 1, 1, 1, 1},
    {"thin: 2 channels 2x3, stride (1,2), pad (0,1)", 2, 2, 6, 37, 5, 2, 3, 1, 2, 0, 1, 1, 1, 1},
};

static void test_conv_fast_matches_reference(void **state) {
    (void)state;
    char msg[512];
    for (size_t k = 0; k < sizeof conv_cases / sizeof *conv_cases; k++) {
        const conv_case *t = &conv_cases[k];
        cg_conv2d_desc d = conv_desc(t->n, t->c, t->h, t->w, t->oc, t->kh, t->kw, t->sh, t->sw, t->ph, t->pw,
                                     t->dh, t->dw, t->groups);
        int64_t nx = conv_x_size(&d), ny = conv_y_size(&d), nw = conv_w_size(&d);
        float *x = sines(nx, 0.37, 0.1, 1), *w = sines(nw, 0.91, 0.3, 0.5), *b = sines(d.oc, 1.3, 0.2, 0.2);
        float *dy = sines(ny, 0.53, 0.7, 1);
        float *y = zeros(ny), *y_ref = zeros(ny), *dx = zeros(nx), *dx_ref = zeros(nx);
        float *dw = zeros(nw), *dw_ref = zeros(nw), *db = zeros(d.oc), *db_ref = zeros(d.oc);
        char what[160];
        for (int with_bias = 0; with_bias < 2; with_bias++) {
            /* twice: the first call chooses the layout, the second reuses the cached primitive */
            for (int rep = 0; rep < 2; rep++) {
                memset(y, 0, (size_t)ny * sizeof *y);
                if (cg_conv2d_forward(&d, x, w, with_bias ? b : NULL, y, msg, sizeof msg))
                    fail_msg("%s: forward: %s", t->name, msg);
                cg_conv2d_forward_ref(&d, x, w, with_bias ? b : NULL, y_ref);
                snprintf(what, sizeof what, "%s: forward%s (call %d)", t->name, with_bias ? " with bias" : "", rep + 1);
                assert_close_f(what, y, y_ref, ny, 1e-4, 1e-3);
            }
        }
        for (int rep = 0; rep < 2; rep++) {
            memset(dx, 0, (size_t)nx * sizeof *dx);
            if (cg_conv2d_backward_data(&d, dy, w, dx, msg, sizeof msg)) fail_msg("%s: bwd data: %s", t->name, msg);
            cg_conv2d_backward_data_ref(&d, dy, w, dx_ref);
            snprintf(what, sizeof what, "%s: backward data", t->name);
            assert_close_f(what, dx, dx_ref, nx, 1e-4, 1e-3);
            for (int with_bias = 0; with_bias < 2; with_bias++) {
                memset(dw, 0, (size_t)nw * sizeof *dw);
                if (cg_conv2d_backward_weights(&d, x, dy, dw, with_bias ? db : NULL, msg, sizeof msg))
                    fail_msg("%s: bwd weights: %s", t->name, msg);
                cg_conv2d_backward_weights_ref(&d, x, dy, dw_ref, db_ref);
                snprintf(what, sizeof what, "%s: backward weights", t->name);
                assert_close_f(what, dw, dw_ref, nw, 1e-4, 1e-3);
                if (with_bias) {
                    snprintf(what, sizeof what, "%s: backward bias", t->name);
                    assert_close_f(what, db, db_ref, d.oc, 1e-4, 1e-3);
                }
            }
        }
        /* the batch-GEMM kernel on its own (oneDNN may have been chosen above),
         * in 2 fixed pieces on 1 thread and on 2: the same bits */
        float *work = malloc((size_t)cg_conv2d_gemm_workspace(&d) * sizeof *work);
        float *y1 = zeros(ny), *dx1 = zeros(nx), *dw1 = zeros(nw), *db1 = zeros(d.oc);
        assert_non_null(work);
        for (int threads = 1; threads <= 2; threads++) {
            snprintf(what, sizeof what, "%s: gemm forward, %d thread(s)", t->name, threads);
            assert_int_equal(cg_conv2d_forward_gemm(&d, x, w, b, y, work, 2, threads), CG_NN_OK);
            cg_conv2d_forward_ref(&d, x, w, b, y_ref);
            assert_close_f(what, y, y_ref, ny, 1e-4, 1e-3);
            snprintf(what, sizeof what, "%s: gemm backward data, %d thread(s)", t->name, threads);
            memset(dx, 0xff, (size_t)nx * sizeof *dx); /* overwritten, not accumulated into */
            assert_int_equal(cg_conv2d_backward_data_gemm(&d, dy, w, dx, work, 2, threads), CG_NN_OK);
            assert_close_f(what, dx, dx_ref, nx, 1e-4, 1e-3);
            snprintf(what, sizeof what, "%s: gemm backward weights, %d thread(s)", t->name, threads);
            memset(dw, 0xff, (size_t)nw * sizeof *dw);
            assert_int_equal(cg_conv2d_backward_weights_gemm(&d, x, dy, dw, db, work, 2, threads), CG_NN_OK);
            assert_close_f(what, dw, dw_ref, nw, 1e-4, 1e-3);
            assert_close_f(what, db, db_ref, d.oc, 1e-4, 1e-3);
            if (threads == 1) {
                memcpy(y1, y, (size_t)ny * sizeof *y), memcpy(dx1, dx, (size_t)nx * sizeof *dx);
                memcpy(dw1, dw, (size_t)nw * sizeof *dw), memcpy(db1, db, (size_t)d.oc * sizeof *db);
            } else {
                assert_memory_equal(y, y1, (size_t)ny * sizeof *y);
                assert_memory_equal(dx, dx1, (size_t)nx * sizeof *dx);
                assert_memory_equal(dw, dw1, (size_t)nw * sizeof *dw);
                assert_memory_equal(db, db1, (size_t)d.oc * sizeof *db);
            }
        }
        free(work);
        /* the direct kernel on its own where it takes the shape, at every CPU
         * level this machine has, on 1 thread and on 2: close to the
         * reference, and the same bits on either thread count */
        if (cg_conv2d_direct_supports(&d)) {
            work = malloc((size_t)cg_conv2d_direct_workspace(&d, 2) * sizeof *work);
            assert_non_null(work);
            cg_cpu_level saved_level = cg_cpu_level_active();
            cg_conv2d_forward_ref(&d, x, w, b, y_ref);
            for (int level = 0; level < CG_CPU_LEVELS; level++) {
                if (!cg_cpu_level_set((cg_cpu_level)level)) continue;
                for (int threads = 1; threads <= 2; threads++) {
                    snprintf(what, sizeof what, "%s: direct forward, %s, %d thread(s)", t->name,
                             cg_cpu_level_name((cg_cpu_level)level), threads);
                    memset(y, 0xff, (size_t)ny * sizeof *y);
                    assert_int_equal(cg_conv2d_forward_direct(&d, x, w, b, y, work, threads), CG_NN_OK);
                    assert_close_f(what, y, y_ref, ny, 1e-4, 1e-3);
                    snprintf(what, sizeof what, "%s: direct backward weights, %s, %d thread(s)", t->name,
                             cg_cpu_level_name((cg_cpu_level)level), threads);
                    memset(dw, 0xff, (size_t)nw * sizeof *dw);
                    assert_int_equal(cg_conv2d_backward_weights_direct(&d, x, dy, dw, db, work, threads), CG_NN_OK);
                    assert_close_f(what, dw, dw_ref, nw, 1e-4, 1e-3);
                    assert_close_f(what, db, db_ref, d.oc, 1e-4, 1e-3);
                    if (threads == 1) {
                        memcpy(y1, y, (size_t)ny * sizeof *y);
                        memcpy(dw1, dw, (size_t)nw * sizeof *dw), memcpy(db1, db, (size_t)d.oc * sizeof *db);
                    } else {
                        assert_memory_equal(y, y1, (size_t)ny * sizeof *y);
                        assert_memory_equal(dw, dw1, (size_t)nw * sizeof *dw);
                        assert_memory_equal(db, db1, (size_t)d.oc * sizeof *db);
                    }
                }
            }
            cg_cpu_level_set(saved_level);
            free(work);
        } else {
            assert_int_equal(cg_conv2d_forward_direct(&d, x, w, b, y, NULL, 1), CG_NN_EINVAL);
        }
        free(y1), free(dx1), free(dw1), free(db1);
        free(x), free(w), free(b), free(dy), free(y), free(y_ref), free(dx), free(dx_ref);
        free(dw), free(dw_ref), free(db), free(db_ref);
    }
    /* one entry per (shape, pass, bias, kernel): forward x2, data x1, weights x2 */
    assert_int_equal(cg_conv2d_cache_size(), 5 * (int)(sizeof conv_cases / sizeof *conv_cases));
    cg_conv2d_cache_clear();
    assert_int_equal(cg_conv2d_cache_size(), 0);
}

/* ---- conv2d: the same bits on one thread and on all ---- */

/* A run must give the same bits in every process (README, "Reproducible
 * runs"), but cg_nn_tuner picks one thread or all of them per call by
 * timing.  So every kernel must give the same bits on either: a fresh cache
 * entry's tuner runs its first call on all threads and its second on one
 * (test_tuner_follows_the_faster_thread_count), and the third on whichever
 * was faster; all three must be equal bit for bit, for every kernel the
 * rule may pick, and close to the reference.  The two batch-16 cases are
 * big enough for oneDNN to split its work over 2 threads (on them its
 * weight backward on 2 threads differs in the last bits from 1 thread,
 * which is why that pass runs in fixed batch slices, cpu_conv_dnnl.c). */
static void test_conv_kernels_give_the_same_bits_on_any_thread_count(void **state) {
    (void)state;
    char msg[512], what[200];
    const conv_case big[] = {
        {"3x3 64->64 at 7x7, batch 16", 16, 64, 7, 7, 64, 3, 3, 1, 1, 1, 1, 1, 1, 1},
        {"1x1 stride 2 64->128 at 7x7, batch 16", 16, 64, 7, 7, 128, 1, 1, 2, 2, 0, 0, 1, 1, 1},
        {"the cnn's first layer, 1->32 3x3 at 28x28, batch 8", 8, 1, 28, 28, 32, 3, 3, 1, 1, 1, 1, 1, 1, 1},
    };
    size_t n_small = sizeof conv_cases / sizeof *conv_cases, n_big = sizeof big / sizeof *big;
    int saved = omp_get_max_threads();
    omp_set_num_threads(2);
    for (size_t k = 0; k < n_small + n_big; k++) {
        const conv_case *t = k < n_small ? &conv_cases[k] : &big[k - n_small];
        cg_conv2d_desc d = conv_desc(t->n, t->c, t->h, t->w, t->oc, t->kh, t->kw, t->sh, t->sw, t->ph, t->pw,
                                     t->dh, t->dw, t->groups);
        int64_t nx = conv_x_size(&d), ny = conv_y_size(&d), nw = conv_w_size(&d);
        float *x = sines(nx, 0.37, 0.1, 1), *w = sines(nw, 0.91, 0.3, 0.5), *b = sines(d.oc, 1.3, 0.2, 0.2);
        float *dy = sines(ny, 0.53, 0.7, 1), *ref[3] = {zeros(ny), zeros(nx), zeros(nw)}, *db_ref = zeros(d.oc);
        cg_conv2d_forward_ref(&d, x, w, b, ref[0]); /* once per case: the slow part under ASan */
        cg_conv2d_backward_data_ref(&d, dy, w, ref[1]);
        cg_conv2d_backward_weights_ref(&d, x, dy, ref[2], db_ref);
        float *got[3], *db[3];
        for (int r = 0; r < 3; r++) got[r] = zeros(nx + ny + nw), db[r] = zeros(d.oc);
        for (int kernel = CG_CONV2D_AUTO; kernel < CG_CONV2D_KERNELS; kernel++) {
            const char *kname = cg_conv2d_kernel_name((cg_conv2d_kernel)kernel);
            cg_conv2d_force_kernel((cg_conv2d_kernel)kernel);
            cg_conv2d_cache_clear(); /* fresh tuners */
            for (int pass = 0; pass < CG_CONV2D_PASSES; pass++) {
                int64_t n = pass == CG_CONV2D_FWD ? ny : pass == CG_CONV2D_BWD_DATA ? nx : nw;
                for (int r = 0; r < 3; r++) {
                    cg_nn_status st = pass == CG_CONV2D_FWD ? cg_conv2d_forward(&d, x, w, b, got[r], msg, sizeof msg)
                                      : pass == CG_CONV2D_BWD_DATA
                                          ? cg_conv2d_backward_data(&d, dy, w, got[r], msg, sizeof msg)
                                          : cg_conv2d_backward_weights(&d, x, dy, got[r], db[r], msg, sizeof msg);
                    if (st != CG_NN_OK) fail_msg("%s, %s, pass %d: %s", t->name, kname, pass, msg);
                }
                for (int r = 1; r < 3; r++) {
                    snprintf(what, sizeof what, "%s, %s, pass %d: call %d", t->name, kname, pass, r + 1);
                    if (memcmp(got[r], got[0], (size_t)n * sizeof *got[0]) ||
                        (pass == CG_CONV2D_BWD_WEIGHTS && memcmp(db[r], db[0], (size_t)d.oc * sizeof *db[0])))
                        fail_msg("%s differs in its bits from call 1 (one thread against all)", what);
                }
                snprintf(what, sizeof what, "%s, %s, pass %d", t->name, kname, pass);
                assert_close_f(what, got[0], ref[pass], n, 1e-4, 1e-3);
                if (pass == CG_CONV2D_BWD_WEIGHTS) assert_close_f(what, db[0], db_ref, d.oc, 1e-4, 1e-3);
            }
        }
        for (int r = 0; r < 3; r++) free(got[r]), free(db[r]), free(ref[r]);
        free(x), free(w), free(b), free(dy), free(db_ref);
    }
    cg_conv2d_force_kernel(CG_CONV2D_AUTO);
    cg_conv2d_cache_clear();
    omp_set_num_threads(saved);
}

/* The rule (cpu_conv_dnnl.c, docs/DESIGN.md) at the shapes it was measured
 * on: resnet18's on 28x28 MNIST and the cnn's, batch 64; both columns, the
 * AVX-512 Xeon's and the AVX2 EPYC's, on any machine (cg_conv2d_kernel_for_isa),
 * and cg_conv2d_kernel_for gives this machine's column. */
static void test_conv_kernel_rule_at_the_measured_shapes(void **state) {
    (void)state;
    enum { P = CG_CONV2D_DNNL_PLAIN, B = CG_CONV2D_DNNL_BLOCKED, G = CG_CONV2D_GEMM, D = CG_CONV2D_DIRECT,
           W = CG_CONV2D_DNNL_WINOGRAD, WG = CG_CONV2D_WINOGRAD };
    const struct {
        int64_t c, oc, h, k, s, p;
        int want[CG_CONV2D_ISAS][3]; /* [AVX2, AVX-512][fwd, bwd data, bwd weights] */
    } rows[] = {
        /* stem: 3 channels, the data backward plain on AVX-512, blocked on AVX2 (where plain runs one thread) */
        {3, 64, 28, 7, 2, 3, {{B, B, B}, {B, P, B}}},
        /* 3x3 stride 1 onto 4x4 or more: oneDNN's winograd on AVX-512; on AVX2 (where oneDNN has none)
         * cgrad's (cpu_conv_winograd.c), every pass */
        {64, 64, 7, 3, 1, 1, {{WG, WG, WG}, {W, W, W}}},
        /* the strided 1x1 downsample at 7x7: its data backward on the GEMM (plain runs one thread); on AVX2
         * the GEMM, every pass (oneDNN's AVX2 blocked kernel is 2x slower there, plain gives other bits on
         * 1 and 2 threads at odd batches) */
        {64, 128, 7, 1, 2, 0, {{G, G, G}, {B, G, B}}},
        {128, 128, 4, 3, 1, 1, {{WG, WG, WG}, {W, W, W}}},
        /* strided 3x3 onto 4x4: the GEMM's backward passes; the forward blocked on AVX-512, the GEMM on AVX2 */
        {64, 128, 7, 3, 2, 1, {{G, G, G}, {B, G, G}}},
        /* 2x2 output of a 3x3: the GEMM, which multiplies no padding */
        {256, 256, 2, 3, 1, 1, {{G, G, G}, {G, G, G}}},
        /* 2x2 output of a 1x1 kernel: oneDNN still, but for the AVX2 weight backward */
        {128, 256, 4, 1, 2, 0, {{B, B, G}, {B, B, B}}},
        /* 2x2 output of a strided 3x3: the GEMM */
        {128, 256, 4, 3, 2, 1, {{G, G, G}, {G, G, G}}},
        /* 1x1 output, 3x3 kernel: the GEMM drops 5 dead taps */
        {256, 512, 2, 3, 2, 1, {{G, G, G}, {G, G, G}}},
        /* 1x1 output: the GEMM */
        {256, 512, 2, 1, 2, 0, {{G, G, G}, {G, G, G}}},
        /* 1x1 map: 1 live tap of 9 */
        {512, 512, 1, 3, 1, 1, {{G, G, G}, {G, G, G}}},
        /* the cnn's first layer: 1 channel, 9 taps: direct, data backward plain */
        {1, 32, 28, 3, 1, 1, {{D, P, D}, {D, P, D}}},
        {32, 64, 28, 3, 2, 1, {{B, B, B}, {B, B, B}}},
        {64, 128, 14, 3, 2, 1, {{B, B, B}, {B, B, B}}},
        /* the cnn's last: strided 3x3 onto 4x4 */
        {128, 256, 7, 3, 2, 1, {{G, G, G}, {B, G, G}}},
    };
    const char *isa_name[CG_CONV2D_ISAS] = {"avx2", "avx512"};
    for (size_t i = 0; i < sizeof rows / sizeof *rows; i++) {
        cg_conv2d_desc d = conv_desc(64, rows[i].c, rows[i].h, rows[i].h, rows[i].oc, rows[i].k, rows[i].k,
                                     rows[i].s, rows[i].s, rows[i].p, rows[i].p, 1, 1, 1);
        for (int isa = 0; isa <= CG_CONV2D_ISAS; isa++) /* isa == CG_CONV2D_ISAS: this machine's rule */
            for (int pass = 0; pass < CG_CONV2D_PASSES; pass++) {
                int col = isa < CG_CONV2D_ISAS ? isa : (int)cg_conv2d_isa_active();
                cg_conv2d_kernel k = isa < CG_CONV2D_ISAS
                                         ? cg_conv2d_kernel_for_isa(&d, (cg_conv2d_pass)pass, (cg_conv2d_isa)isa)
                                         : cg_conv2d_kernel_for(&d, (cg_conv2d_pass)pass);
                if ((int)k != rows[i].want[col][pass])
                    fail_msg("%lld->%lld %lldx%lld s%lld at %lldx%lld, pass %d, %s%s: the rule gives %s, expected %s",
                             (long long)rows[i].c, (long long)rows[i].oc, (long long)rows[i].k, (long long)rows[i].k,
                             (long long)rows[i].s, (long long)rows[i].h, (long long)rows[i].h, pass, isa_name[col],
                             isa < CG_CONV2D_ISAS ? "" : " (this machine's)", cg_conv2d_kernel_name(k),
                             cg_conv2d_kernel_name((cg_conv2d_kernel)rows[i].want[col][pass]));
            }
    }
    assert_string_equal(cg_conv2d_kernel_name(CG_CONV2D_DNNL_BLOCKED), "dnnl-blocked");
    assert_string_equal(cg_conv2d_isa_name(CG_CONV2D_ISA_AVX2), "avx2");
    assert_string_equal(cg_conv2d_isa_name(CG_CONV2D_ISA_AVX512), "avx512");
    /* This machine's column: AVX-512 (F, DQ, BW, VL: oneDNN's avx512_core) or not, by cpuid, unless
     * oneDNN is told a lower ISA. */
    if (!getenv("ONEDNN_MAX_CPU_ISA") && !getenv("DNNL_MAX_CPU_ISA"))
        assert_int_equal(cg_conv2d_isa_active(),
                         cg_cpu_level_supported(CG_CPU_AVX512) ? CG_CONV2D_ISA_AVX512 : CG_CONV2D_ISA_AVX2);
}

/* ---- conv2d: backward against finite differences ---- */

/* The forward in double: y = conv(x, w) + bias. */
static void conv_forward_d(const cg_conv2d_desc *d, const double *x, const double *w, const double *bias,
                           double *y) {
    int64_t cg = d->c / d->groups, og = d->oc / d->groups;
    for (int64_t n = 0; n < d->n; n++)
        for (int64_t o = 0; o < d->oc; o++)
            for (int64_t i = 0; i < d->oh; i++)
                for (int64_t j = 0; j < d->ow; j++) {
                    double s = bias[o];
                    for (int64_t c = 0; c < cg; c++)
                        for (int64_t a = 0; a < d->kh; a++)
                            for (int64_t b = 0; b < d->kw; b++) {
                                int64_t p = i * d->stride_h - d->pad_h + a * d->dil_h;
                                int64_t q = j * d->stride_w - d->pad_w + b * d->dil_w;
                                if (p < 0 || p >= d->h || q < 0 || q >= d->w) continue;
                                s += w[((o * cg + c) * d->kh + a) * d->kw + b] *
                                     x[((n * d->c + (o / og) * cg + c) * d->h + p) * d->w + q];
                            }
                    y[((n * d->oc + o) * d->oh + i) * d->ow + j] = s;
                }
}

/* L = sum(y * r) for the double forward. */
static double conv_loss(const cg_conv2d_desc *d, const double *x, const double *w, const double *b,
                        const double *r, double *y) {
    conv_forward_d(d, x, w, b, y);
    double s = 0;
    for (int64_t i = 0; i < conv_y_size(d); i++) s += y[i] * r[i];
    return s;
}

/* Central differences dL/dv for every element of v (h = 1e-4 in double:
 * truncation error 0 since L is linear in each argument, rounding ~1e-11). */
static void numeric_grad(const cg_conv2d_desc *d, double *x, double *w, double *b, const double *r, double *v,
                         int64_t nv, double *y, float *out) {
    for (int64_t i = 0; i < nv; i++) {
        double keep = v[i];
        v[i] = keep + 1e-4;
        double up = conv_loss(d, x, w, b, r, y);
        v[i] = keep - 1e-4;
        double down = conv_loss(d, x, w, b, r, y);
        v[i] = keep;
        out[i] = (float)((up - down) / 2e-4);
    }
}

static void test_conv_backward_matches_finite_differences(void **state) {
    (void)state;
    /* stride 2, padding, dilation 2, groups 2, odd sizes, batch 1 and 2 */
    const conv_case cases[] = {
        {"stride 2, dilation 2, groups 2", 2, 4, 9, 8, 6, 3, 3, 2, 2, 2, 1, 2, 2, 2},
        {"batch 1, 5x3 kernel", 1, 3, 7, 6, 2, 5, 3, 1, 2, 2, 1, 1, 1, 1},
    };
    char msg[512];
    for (size_t k = 0; k < sizeof cases / sizeof *cases; k++) {
        const conv_case *t = &cases[k];
        cg_conv2d_desc d = conv_desc(t->n, t->c, t->h, t->w, t->oc, t->kh, t->kw, t->sh, t->sw, t->ph, t->pw,
                                     t->dh, t->dw, t->groups);
        int64_t nx = conv_x_size(&d), ny = conv_y_size(&d), nw = conv_w_size(&d);
        float *xf = sines(nx, 0.61, 0.2, 1), *wf = sines(nw, 1.1, 0.5, 0.7), *bf = sines(d.oc, 0.8, 0.1, 0.3);
        float *rf = sines(ny, 0.29, 0.9, 1);
        double *x = malloc((size_t)nx * sizeof *x), *w = malloc((size_t)nw * sizeof *w);
        double *b = malloc((size_t)d.oc * sizeof *b), *r = malloc((size_t)ny * sizeof *r);
        double *y = malloc((size_t)ny * sizeof *y);
        assert_true(x && w && b && r && y);
        for (int64_t i = 0; i < nx; i++) x[i] = xf[i];
        for (int64_t i = 0; i < nw; i++) w[i] = wf[i];
        for (int64_t i = 0; i < d.oc; i++) b[i] = bf[i];
        for (int64_t i = 0; i < ny; i++) r[i] = rf[i];
        float *num_dx = zeros(nx), *num_dw = zeros(nw), *num_db = zeros(d.oc);
        numeric_grad(&d, x, w, b, r, x, nx, y, num_dx);
        numeric_grad(&d, x, w, b, r, w, nw, y, num_dw);
        numeric_grad(&d, x, w, b, r, b, d.oc, y, num_db);

        float *dx = zeros(nx), *dw = zeros(nw), *db = zeros(d.oc);
        char what[160];
        for (int fast = 0; fast < 2; fast++) {
            if (fast) {
                if (cg_conv2d_backward_data(&d, rf, wf, dx, msg, sizeof msg) ||
                    cg_conv2d_backward_weights(&d, xf, rf, dw, db, msg, sizeof msg))
                    fail_msg("%s: %s", t->name, msg);
            } else {
                cg_conv2d_backward_data_ref(&d, rf, wf, dx);
                cg_conv2d_backward_weights_ref(&d, xf, rf, dw, db);
            }
            snprintf(what, sizeof what, "%s: %s dx", t->name, fast ? "oneDNN" : "reference");
            assert_close_f(what, dx, num_dx, nx, 1e-4, 1e-3);
            snprintf(what, sizeof what, "%s: %s dw", t->name, fast ? "oneDNN" : "reference");
            assert_close_f(what, dw, num_dw, nw, 1e-4, 1e-3);
            snprintf(what, sizeof what, "%s: %s dbias", t->name, fast ? "oneDNN" : "reference");
            assert_close_f(what, db, num_db, d.oc, 1e-4, 1e-3);
        }
        free(xf), free(wf), free(bf), free(rf), free(x), free(w), free(b), free(r), free(y);
        free(num_dx), free(num_dw), free(num_db), free(dx), free(dw), free(db);
    }
    cg_conv2d_cache_clear();
}

/* ---- batch_norm ---- */

/* x is (N=2, C=2, H=1, W=2):  n0: c0 {1, 2}, c1 {3, 5};  n1: c0 {3, 6}, c1 {7, 9}.
 * Channel 0 holds {1,2,3,6}: mean 3, squared deviations 4+1+0+9 = 14, so the
 * biased var is 14/4 = 3.5 and the unbiased 14/3.  Channel 1 holds {3,5,7,9}:
 * mean 6, deviations 9+1+1+9 = 20, var 5, unbiased 20/3. */
static const float bn_x[8] = {1, 2, 3, 5, 3, 6, 7, 9};

static void test_batchnorm_train_and_eval_by_hand(void **state) {
    (void)state;
    cg_batchnorm_desc d = {.n = 2, .c = 2, .hw = 2, .eps = 1e-5, .momentum = 0.1};
    assert_int_equal(cg_batchnorm_desc_init(&d, true, NULL, 0), CG_NN_OK);
    const float gamma[2] = {2.0f, 0.5f}, beta[2] = {1.0f, -1.0f};
    const double mean[2] = {3, 6}, var[2] = {3.5, 5}, unbiased[2] = {14.0 / 3, 20.0 / 3};
    for (int fast = 0; fast < 2; fast++) {
        float y[8], save_mean[2], save_invstd[2], rm[2] = {0, 0}, rv[2] = {1, 1};
        (fast ? cg_batchnorm_forward_train : cg_batchnorm_forward_train_ref)(&d, bn_x, gamma, beta, y, save_mean,
                                                                              save_invstd, rm, rv);
        double want_y[8];
        for (int i = 0; i < 8; i++) {
            int c = (i / 2) % 2;
            want_y[i] = (bn_x[i] - mean[c]) / sqrt(var[c] + 1e-5) * gamma[c] + beta[c];
        }
        /* e.g. y[0] = (1-3)/sqrt(3.50001)*2 + 1 = -1.1380851... */
        assert_float_equal(y[0], -1.13808516f, 1e-5);
        assert_close_d("bn train y", y, want_y, 8, 1e-6, 1);
        assert_float_equal(save_mean[0], 3.0f, 1e-6);
        assert_float_equal(save_mean[1], 6.0f, 1e-6);
        assert_float_equal(save_invstd[0], 1 / sqrt(3.5 + 1e-5), 1e-6);
        assert_float_equal(save_invstd[1], 1 / sqrt(5 + 1e-5), 1e-6);
        /* running stats after one step from (0, 1) with momentum 0.1 and the unbiased var:
         * mean 0.1*3 = 0.3, 0.1*6 = 0.6; var 0.9 + 0.1*14/3 = 1.3666667, 0.9 + 0.1*20/3 = 1.5666667 */
        assert_float_equal(rm[0], 0.3f, 1e-6);
        assert_float_equal(rm[1], 0.6f, 1e-6);
        assert_float_equal(rv[0], 0.9 + 0.1 * unbiased[0], 1e-6);
        assert_float_equal(rv[1], 1.5666667f, 1e-6);

        /* eval uses those running stats, not the batch's */
        float ye[8], em[2], ei[2];
        cg_batchnorm_forward_eval(&d, bn_x, gamma, beta, rm, rv, ye, em, ei);
        for (int i = 0; i < 8; i++) {
            int c = (i / 2) % 2;
            want_y[i] = (bn_x[i] - rm[c]) / sqrt(rv[c] + 1e-5) * gamma[c] + beta[c];
        }
        assert_float_equal(ye[0], (1 - 0.3) / sqrt(1.3666667 + 1e-5) * 2 + 1, 1e-5);
        assert_close_d("bn eval y", ye, want_y, 8, 1e-6, 1);
        assert_float_equal(em[1], 0.6f, 0);
        assert_float_equal(ei[0], 1 / sqrt(1.3666667 + 1e-5), 1e-6);
    }
    /* affine=False and no running stats: y is the plain standardised x */
    float y[8], sm[2], si[2];
    cg_batchnorm_forward_train(&d, bn_x, NULL, NULL, y, sm, si, NULL, NULL);
    assert_float_equal(y[3], (5 - 6) / sqrt(5 + 1e-5), 1e-6);

    /* BatchNorm1d's (N, C): x (3, 1) = {1, 2, 6}: mean 3, var (4+1+9)/3 */
    cg_batchnorm_desc d1 = {.n = 3, .c = 1, .hw = 1, .eps = 1e-5, .momentum = 0.1};
    const float x1[3] = {1, 2, 6};
    float rm = 0, rv = 1;
    cg_batchnorm_forward_train(&d1, x1, NULL, NULL, y, sm, si, &rm, &rv);
    assert_float_equal(y[2], 3 / sqrt(14.0 / 3 + 1e-5), 1e-6);
    assert_float_equal(rv, 0.9 + 0.1 * 7, 1e-6); /* unbiased var 14/2 = 7 */

    /* errors: one value per channel cannot be normalised in training */
    char msg[256];
    cg_batchnorm_desc one = {.n = 1, .c = 4, .hw = 1, .eps = 1e-5, .momentum = 0.1};
    assert_int_equal(cg_batchnorm_desc_init(&one, true, msg, sizeof msg), CG_NN_EINVAL);
    assert_non_null(strstr(msg, "more than 1 value per channel"));
    assert_int_equal(cg_batchnorm_desc_init(&one, false, msg, sizeof msg), CG_NN_OK);
    one.eps = 0;
    assert_int_equal(cg_batchnorm_desc_init(&one, false, msg, sizeof msg), CG_NN_EINVAL);
    assert_non_null(strstr(msg, "eps"));
}

/* BN forward in double, for finite differences: L = sum(y * r). */
static double bn_loss(const cg_batchnorm_desc *d, bool training, const double *x, const double *g,
                      const double *b, const double *rm, const double *rv, const double *r) {
    double loss = 0, m = (double)(d->n * d->hw);
    for (int64_t c = 0; c < d->c; c++) {
        double mean = 0, var = 0;
        for (int64_t n = 0; n < d->n; n++)
            for (int64_t k = 0; k < d->hw; k++) mean += x[(n * d->c + c) * d->hw + k];
        mean /= m;
        for (int64_t n = 0; n < d->n; n++)
            for (int64_t k = 0; k < d->hw; k++) {
                double t = x[(n * d->c + c) * d->hw + k] - mean;
                var += t * t;
            }
        var /= m;
        if (!training) mean = rm[c], var = rv[c];
        for (int64_t n = 0; n < d->n; n++)
            for (int64_t k = 0; k < d->hw; k++) {
                int64_t i = (n * d->c + c) * d->hw + k;
                loss += r[i] * ((x[i] - mean) / sqrt(var + d->eps) * g[c] + b[c]);
            }
    }
    return loss;
}

static void test_batchnorm_backward_matches_finite_differences(void **state) {
    (void)state;
    cg_batchnorm_desc shapes[] = {{.n = 3, .c = 4, .hw = 5, .eps = 1e-5, .momentum = 0.1},
                                  {.n = 7, .c = 3, .hw = 1, .eps = 1e-5, .momentum = 0.1}};
    for (int s = 0; s < 2; s++)
        for (int training = 0; training < 2; training++) {
            const cg_batchnorm_desc *d = &shapes[s];
            int64_t nx = d->n * d->c * d->hw;
            float *xf = sines(nx, 0.77, 0.3, 2), *rf = sines(nx, 0.41, 0.6, 1);
            float *gf = sines(d->c, 0.9, 1.0, 1), *bf = sines(d->c, 1.9, 0.1, 0.5);
            float rmf[4] = {0.1f, -0.2f, 0.3f, 0.0f}, rvf[4] = {0.5f, 1.5f, 0.8f, 1.2f};
            double *x = malloc((size_t)nx * sizeof *x), *r = malloc((size_t)nx * sizeof *r), g[4], b[4], rm[4], rv[4];
            assert_true(x && r);
            for (int64_t i = 0; i < nx; i++) x[i] = xf[i], r[i] = rf[i];
            for (int64_t c = 0; c < d->c; c++) g[c] = gf[c], b[c] = bf[c], rm[c] = rmf[c], rv[c] = rvf[c];
            float *num_dx = zeros(nx), num_dg[4], num_db[4];
            const double h = 1e-5;
            for (int64_t i = 0; i < nx; i++) {
                double keep = x[i];
                x[i] = keep + h;
                double up = bn_loss(d, training, x, g, b, rm, rv, r);
                x[i] = keep - h;
                double down = bn_loss(d, training, x, g, b, rm, rv, r);
                x[i] = keep;
                num_dx[i] = (float)((up - down) / (2 * h));
            }
            for (int64_t c = 0; c < d->c; c++) {
                double keep = g[c];
                g[c] = keep + h;
                double up = bn_loss(d, training, x, g, b, rm, rv, r);
                g[c] = keep - h;
                double down = bn_loss(d, training, x, g, b, rm, rv, r);
                g[c] = keep;
                num_dg[c] = (float)((up - down) / (2 * h));
                keep = b[c];
                b[c] = keep + h;
                up = bn_loss(d, training, x, g, b, rm, rv, r);
                b[c] = keep - h;
                down = bn_loss(d, training, x, g, b, rm, rv, r);
                b[c] = keep;
                num_db[c] = (float)((up - down) / (2 * h));
            }
            float *y = zeros(nx), *dx = zeros(nx), sm[4], si[4], dg[4], db[4];
            for (int fast = 0; fast < 2; fast++) {
                if (training) cg_batchnorm_forward_train(d, xf, gf, bf, y, sm, si, NULL, NULL);
                else cg_batchnorm_forward_eval(d, xf, gf, bf, rmf, rvf, y, sm, si);
                (fast ? cg_batchnorm_backward : cg_batchnorm_backward_ref)(d, training, rf, xf, y, gf, sm, si, dx, dg,
                                                                            db);
                char what[96];
                snprintf(what, sizeof what, "bn %s %s dx (hw %lld)", fast ? "fast" : "ref",
                         training ? "train" : "eval", (long long)d->hw);
                assert_close_f(what, dx, num_dx, nx, 1e-4, 1e-2);
                assert_close_f("bn dgamma", dg, num_dg, d->c, 1e-4, 1e-2);
                assert_close_f("bn dbeta", db, num_db, d->c, 1e-4, 1e-2);
            }
            free(xf), free(rf), free(gf), free(bf), free(x), free(r), free(num_dx), free(y), free(dx);
        }
}

static void test_batchnorm_fast_matches_reference(void **state) {
    (void)state;
    /* large enough for the threaded channel path (>= CG_NN_PARALLEL_MIN
     * elements), small maps (HW = 4, 9, 16: rows cut in 4 runs of at most
     * 2048 values), one of 9600 values a row (channel by channel), one
     * whose batch is not a multiple of the channel path's 4 images a loop
     * (7x7 maps, odd like the cnn's) and BatchNorm1d's HW = 1 */
    const cg_batchnorm_desc shapes[7] = {{.n = 16, .c = 24, .hw = 121, .eps = 1e-5, .momentum = 0.1},
                                         {.n = 7, .c = 12, .hw = 49, .eps = 1e-5, .momentum = 0.1},
                                         {.n = 9, .c = 40, .hw = 4, .eps = 1e-5, .momentum = 0.1},
                                         {.n = 5, .c = 200, .hw = 9, .eps = 1e-5, .momentum = 0.1},
                                         {.n = 3, .c = 600, .hw = 16, .eps = 1e-5, .momentum = 0.1},
                                         {.n = 7, .c = 600, .hw = 1, .eps = 1e-5, .momentum = 0.1},
                                         {.n = 20, .c = 256, .hw = 16, .eps = 1e-5, .momentum = 0.1}};
    for (int s = 0; s < 7; s++) {
        const cg_batchnorm_desc d = shapes[s];
        int64_t nx = d.n * d.c * d.hw;
        float *x = sines(nx, 0.013, 0.1, 3), *dy = sines(nx, 0.7, 0.2, 1), *g = sines(d.c, 0.5, 1.0, 1);
        float *b = sines(d.c, 0.3, 0.0, 1);
        float *y = zeros(nx), *y_ref = zeros(nx), *dx = zeros(nx), *dx_ref = zeros(nx);
        float sm[600], si[600], sm_r[600], si_r[600], rm[600] = {0}, rv[600], rm_r[600] = {0}, rv_r[600];
        float dg[600], db[600], dg_r[600], db_r[600];
        for (int c = 0; c < 600; c++) rv[c] = rv_r[c] = 1;
        float *y0 = zeros(nx), *dx0 = zeros(nx), dg0[600], db0[600];
        for (int rep = 0; rep < 3; rep++) { /* the tuner's first calls try both thread counts */
            cg_batchnorm_forward_train(&d, x, g, b, y, sm, si, rm, rv);
            /* the same bits whichever thread count the tuner took */
            if (rep == 0) memcpy(y0, y, (size_t)nx * sizeof *y);
            else assert_memory_equal(y, y0, (size_t)nx * sizeof *y);
            cg_batchnorm_forward_train_ref(&d, x, g, b, y_ref, sm_r, si_r, rm_r, rv_r);
            assert_close_f("bn fast y", y, y_ref, nx, 1e-5, 1);
            assert_close_f("bn fast mean", sm, sm_r, d.c, 1e-5, 1);
            assert_close_f("bn fast invstd", si, si_r, d.c, 1e-5, 1);
            assert_close_f("bn fast running_mean", rm, rm_r, d.c, 1e-5, 1);
            assert_close_f("bn fast running_var", rv, rv_r, d.c, 1e-5, 1);
            for (int training = 0; training < 2; training++) {
                cg_batchnorm_backward(&d, training, dy, x, NULL, g, sm, si, dx, dg, db);
                if (training && rep == 0) {
                    memcpy(dx0, dx, (size_t)nx * sizeof *dx);
                    memcpy(dg0, dg, (size_t)d.c * sizeof *dg), memcpy(db0, db, (size_t)d.c * sizeof *db);
                } else if (training) {
                    assert_memory_equal(dx, dx0, (size_t)nx * sizeof *dx);
                    assert_memory_equal(dg, dg0, (size_t)d.c * sizeof *dg);
                    assert_memory_equal(db, db0, (size_t)d.c * sizeof *db);
                }
                cg_batchnorm_backward_ref(&d, training, dy, x, NULL, g, sm_r, si_r, dx_ref, dg_r, db_r);
                assert_close_f("bn fast dx", dx, dx_ref, nx, 1e-4, 1e-3);
                assert_close_f("bn fast dgamma", dg, dg_r, d.c, 1e-4, 1e-3);
                assert_close_f("bn fast dbeta", db, db_r, d.c, 1e-4, 1e-3);
            }
        }
        free(x), free(dy), free(g), free(b), free(y), free(y_ref), free(dx), free(dx_ref), free(y0), free(dx0);
    }
}

/* d.relu (BatchNorm then ReLU in one op) gives exactly the bits of the two
 * steps: y = relu(batchnorm(x)), and the backward of dy equals the plain
 * backward of dy*(y > 0), for the channel, row and small paths, in training
 * and in eval, fast and reference kernels. */
static void test_batchnorm_relu_is_batchnorm_then_relu(void **state) {
    (void)state;
    const cg_batchnorm_desc shapes[] = {{.n = 16, .c = 24, .hw = 121, .eps = 1e-5, .momentum = 0.1},
                                        {.n = 8, .c = 32, .hw = 784, .eps = 1e-5, .momentum = 0.1},
                                        {.n = 7, .c = 12, .hw = 49, .eps = 1e-5, .momentum = 0.1},
                                        {.n = 9, .c = 40, .hw = 4, .eps = 1e-5, .momentum = 0.1},
                                        {.n = 20, .c = 256, .hw = 16, .eps = 1e-5, .momentum = 0.1},
                                        {.n = 7, .c = 600, .hw = 1, .eps = 1e-5, .momentum = 0.1}};
    for (size_t s = 0; s < sizeof shapes / sizeof *shapes; s++)
        for (int fast = 0; fast < 2; fast++) {
            cg_batchnorm_desc plain = shapes[s], fused = shapes[s];
            fused.relu = true;
            int64_t nx = plain.n * plain.c * plain.hw;
            float *x = sines(nx, 0.013, 0.1, 3), *dy = sines(nx, 0.7, 0.2, 1), *g = sines(plain.c, 0.5, 1.0, 1);
            float *b = sines(plain.c, 0.3, 0.0, 1), *y = zeros(nx), *yf = zeros(nx), *gm = zeros(nx);
            float *dx = zeros(nx), *dxf = zeros(nx);
            float sm[600], si[600], smf[600], sif[600], dg[600], db[600], dgf[600], dbf[600];
            float rm[600] = {0}, rv[600], rmf[600] = {0}, rvf[600];
            for (int c = 0; c < 600; c++) rv[c] = rvf[c] = 1;
            int relus = 0;
            for (int training = 1; training >= 0; training--) {
                if (training) {
                    (fast ? cg_batchnorm_forward_train : cg_batchnorm_forward_train_ref)(&plain, x, g, b, y, sm, si,
                                                                                         rm, rv);
                    (fast ? cg_batchnorm_forward_train : cg_batchnorm_forward_train_ref)(&fused, x, g, b, yf, smf,
                                                                                         sif, rmf, rvf);
                    assert_memory_equal(rm, rmf, (size_t)plain.c * sizeof *rm);
                    assert_memory_equal(rv, rvf, (size_t)plain.c * sizeof *rv);
                } else { /* eval: the running statistics the training step left */
                    cg_batchnorm_forward_eval(&plain, x, g, b, rm, rv, y, sm, si);
                    cg_batchnorm_forward_eval(&fused, x, g, b, rm, rv, yf, smf, sif);
                }
                assert_memory_equal(sm, smf, (size_t)plain.c * sizeof *sm);
                assert_memory_equal(si, sif, (size_t)plain.c * sizeof *si);
                for (int64_t i = 0; i < nx; i++) {
                    float r = y[i] > 0 ? y[i] : 0.0f;
                    assert_memory_equal(&yf[i], &r, sizeof r);
                    gm[i] = yf[i] > 0 ? dy[i] : 0.0f;
                    relus += yf[i] > 0;
                }
                (fast ? cg_batchnorm_backward : cg_batchnorm_backward_ref)(&plain, training, gm, x, NULL, g, sm, si,
                                                                            dx, dg, db);
                (fast ? cg_batchnorm_backward : cg_batchnorm_backward_ref)(&fused, training, dy, x, yf, g, smf, sif,
                                                                            dxf, dgf, dbf);
                assert_memory_equal(dx, dxf, (size_t)nx * sizeof *dx);
                assert_memory_equal(dg, dgf, (size_t)plain.c * sizeof *dg);
                assert_memory_equal(db, dbf, (size_t)plain.c * sizeof *db);
            }
            /* both sides of the mask occur */
            assert_true(relus > nx / 4 && relus < 2 * nx - nx / 4);
            free(x), free(dy), free(g), free(b), free(y), free(yf), free(gm), free(dx), free(dxf);
        }
}

/* ---- pooling ---- */

/* A 4x4 plane pooled by 3x3 windows, stride 2, padding 1 (torchvision's stem):
 *      1 5 2 0      window (0,0): rows 0-1, cols 0-1: {1,5,3,4}        -> 5 at 1
 *      3 4 9 1      window (0,1): rows 0-1, cols 1-3: {5,2,0,4,9,1}    -> 9 at 6
 *      8 0 6 7      window (1,0): rows 1-3, cols 0-1: {3,4,8,0,2,3}    -> 8 at 8
 *      2 3 1 5      window (1,1): rows 1-3, cols 1-3: 9 again          -> 9 at 6 */
static const float pool_x[16] = {1, 5, 2, 0, 3, 4, 9, 1, 8, 0, 6, 7, 2, 3, 1, 5};

static void test_max_pool_by_hand(void **state) {
    (void)state;
    cg_pool2d_desc d = {.n = 1, .c = 1, .h = 4, .w = 4, .kh = 3, .kw = 3, .stride_h = 2, .stride_w = 2,
                        .pad_h = 1, .pad_w = 1};
    assert_int_equal(cg_pool2d_desc_init(&d, NULL, 0), CG_NN_OK);
    assert_int_equal(d.oh, 2);
    assert_int_equal(d.ow, 2);
    for (int fast = 0; fast < 2; fast++) {
        float y[4];
        int64_t idx[4];
        (fast ? cg_max_pool2d_forward : cg_max_pool2d_forward_ref)(&d, pool_x, y, idx);
        const float want[4] = {5, 9, 8, 9};
        const int64_t want_idx[4] = {1, 6, 8, 6};
        assert_memory_equal(y, want, sizeof want);
        assert_memory_equal(idx, want_idx, sizeof want_idx);
    }
    /* backward adds where windows share a maximum: dx[6] = 2 + 4 */
    const float dy[4] = {1, 2, 3, 4};
    const int64_t idx[4] = {1, 6, 8, 6};
    float dx[16];
    memset(dx, 0xff, sizeof dx); /* overwritten, not accumulated into */
    cg_max_pool2d_backward(&d, dy, idx, dx);
    const float want_dx[16] = {0, 1, 0, 0, 0, 0, 6, 0, 3, 0, 0, 0, 0, 0, 0, 0};
    assert_memory_equal(dx, want_dx, sizeof want_dx);

    /* ties keep the first maximum; NaN wins as in PyTorch */
    const float tie[4] = {2, 2, 2, NAN};
    cg_pool2d_desc t = {.n = 1, .c = 1, .h = 2, .w = 2, .kh = 2, .kw = 1, .stride_h = 1, .stride_w = 1};
    assert_int_equal(cg_pool2d_desc_init(&t, NULL, 0), CG_NN_OK);
    float ty[2];
    int64_t ti[2];
    for (int fast = 0; fast < 2; fast++) {
        (fast ? cg_max_pool2d_forward : cg_max_pool2d_forward_ref)(&t, tie, ty, ti);
        assert_true(ty[0] == 2 && ti[0] == 0);
        assert_true(isnan(ty[1]) && ti[1] == 3);
    }

    /* several NaNs: the last one wins (torch 1.13: max_pool2d([nan,1,nan,2], (1,4))
     * gives index 2, and [3,nan,5,nan] index 3) */
    const float nans[8] = {NAN, 1, NAN, 2, 3, NAN, 5, NAN};
    cg_pool2d_desc row = {.n = 1, .c = 2, .h = 1, .w = 4, .kh = 1, .kw = 4, .stride_h = 1, .stride_w = 1};
    assert_int_equal(cg_pool2d_desc_init(&row, NULL, 0), CG_NN_OK);
    for (int fast = 0; fast < 2; fast++) {
        (fast ? cg_max_pool2d_forward : cg_max_pool2d_forward_ref)(&row, nans, ty, ti);
        assert_true(isnan(ty[0]) && isnan(ty[1]));
        assert_int_equal(ti[0], 2);
        assert_int_equal(ti[1], 3);
    }

    char msg[256];
    cg_pool2d_desc bad = d;
    bad.pad_h = 2; /* more than kernel/2 */
    assert_int_equal(cg_pool2d_desc_init(&bad, msg, sizeof msg), CG_NN_EINVAL);
    assert_non_null(strstr(msg, "pad_h = 2"));
}

static void test_avg_pool_by_hand(void **state) {
    (void)state;
    /* [1 2; 3 4], 2x2 windows, stride 1, padding 1: 3x3 output, every window divided
     * by 4 (count_include_pad): corners hold one value, edges two, the centre all. */
    const float x[4] = {1, 2, 3, 4};
    cg_pool2d_desc d = {.n = 1, .c = 1, .h = 2, .w = 2, .kh = 2, .kw = 2, .stride_h = 1, .stride_w = 1,
                        .pad_h = 1, .pad_w = 1};
    assert_int_equal(cg_pool2d_desc_init(&d, NULL, 0), CG_NN_OK);
    const float want[9] = {0.25f, 0.75f, 0.5f, 1.0f, 2.5f, 1.5f, 0.75f, 1.75f, 1.0f};
    float y[9], dx[4];
    cg_avg_pool2d_forward(&d, x, y);
    assert_memory_equal(y, want, sizeof want);
    cg_avg_pool2d_forward_ref(&d, x, y);
    assert_memory_equal(y, want, sizeof want);
    /* dy = ones: every input sits in 4 windows, each passing 1/4 */
    const float ones[9] = {1, 1, 1, 1, 1, 1, 1, 1, 1}, want_dx[4] = {1, 1, 1, 1};
    cg_avg_pool2d_backward(&d, ones, dx);
    assert_memory_equal(dx, want_dx, sizeof want_dx);
    cg_avg_pool2d_backward_ref(&d, ones, dx);
    assert_memory_equal(dx, want_dx, sizeof want_dx);
}

/* Adaptive windows for in = 5, out = 3: [floor(i*5/3), ceil((i+1)*5/3)) =
 * [0,2), [1,4), [3,5) — overlapping, of sizes 2, 3, 2.  On the ramp
 * x[p][q] = 5p + q the average of window (i,j) is 5*m[i] + m[j] with the
 * window means m = {0.5, 2, 3.5}, and the max is at (last row, last col)
 * = {1, 3, 4}. */
static void test_adaptive_pool_windows_by_hand(void **state) {
    (void)state;
    float x[25];
    for (int i = 0; i < 25; i++) x[i] = (float)i;
    cg_pool2d_desc d = {.n = 1, .c = 1, .h = 5, .w = 5, .oh = 3, .ow = 3};
    assert_int_equal(cg_adaptive_pool2d_desc_init(&d, NULL, 0), CG_NN_OK);
    const double m[3] = {0.5, 2, 3.5};
    const int last[3] = {1, 3, 4};
    float y[9], yr[9];
    int64_t idx[9], idxr[9];
    cg_adaptive_avg_pool2d_forward(&d, x, y);
    cg_adaptive_avg_pool2d_forward_ref(&d, x, yr);
    for (int i = 0; i < 3; i++)
        for (int j = 0; j < 3; j++) {
            assert_float_equal(y[i * 3 + j], 5 * m[i] + m[j], 1e-6);
            assert_float_equal(yr[i * 3 + j], 5 * m[i] + m[j], 1e-6);
        }
    cg_adaptive_max_pool2d_forward(&d, x, y, idx);
    cg_adaptive_max_pool2d_forward_ref(&d, x, yr, idxr);
    for (int i = 0; i < 3; i++)
        for (int j = 0; j < 3; j++) {
            assert_int_equal(idx[i * 3 + j], 5 * last[i] + last[j]);
            assert_int_equal(idxr[i * 3 + j], 5 * last[i] + last[j]);
            assert_true(y[i * 3 + j] == (float)(5 * last[i] + last[j]));
        }
    /* backward of the average: row 1 of the input is in windows 0 and 1 (sizes 2
     * and 3), so dx[1][1] = sum over those 2x2 window pairs of 1/size:
     * (1/2 + 1/3) * (1/2 + 1/3) = 25/36 with dy = ones. */
    const float ones[9] = {1, 1, 1, 1, 1, 1, 1, 1, 1};
    float dx[25], dxr[25];
    cg_adaptive_avg_pool2d_backward(&d, ones, dx);
    cg_adaptive_avg_pool2d_backward_ref(&d, ones, dxr);
    assert_float_equal(dx[6], 25.0 / 36, 1e-6);
    assert_float_equal(dx[0], 0.25, 1e-6);          /* window (0,0) only, size 2x2 */
    assert_float_equal(dx[12], 1.0 / 9, 1e-6);      /* (2,2): the middle window only, 3x3 */
    assert_close_f("adaptive avg backward", dx, dxr, 25, 1e-6, 1);
    /* adaptive max backward goes through the same scatter as max_pool2d */
    cg_max_pool2d_backward(&d, ones, idx, dx);
    assert_float_equal(dx[24], 1, 0); /* (4,4): the max of window (2,2) only */
    assert_float_equal(dx[8], 1, 0);  /* (1,3): window (0,1) */
    assert_float_equal(dx[0], 0, 0);

    char msg[128];
    cg_pool2d_desc bad = d;
    bad.oh = 0;
    assert_int_equal(cg_adaptive_pool2d_desc_init(&bad, msg, sizeof msg), CG_NN_EINVAL);
    assert_non_null(strstr(msg, "oh = 0"));
}

/* The fast max pools give the reference's bits where windows tie: values
 * drawn from {-1, -0, +0, 1} (ReLU outputs tie at 0 all the time), windows
 * of -inf only (beside the padding), and a NaN in some rows (the last NaN
 * wins), on resnet's stem pool (3x3 s2 p1, also at odd sizes), an
 * overlapping 2x3 s1 one and adaptive windows. */
static void test_max_pool_ties_match_reference(void **state) {
    (void)state;
    cg_pool2d_desc stem = {.n = 2, .c = 3, .h = 14, .w = 14, .kh = 3, .kw = 3, .stride_h = 2, .stride_w = 2,
                           .pad_h = 1, .pad_w = 1};
    cg_pool2d_desc lap = {.n = 2, .c = 3, .h = 9, .w = 11, .kh = 2, .kw = 3, .stride_h = 1, .stride_w = 1,
                          .pad_h = 1, .pad_w = 1};
    assert_int_equal(cg_pool2d_desc_init(&stem, NULL, 0), CG_NN_OK);
    assert_int_equal(cg_pool2d_desc_init(&lap, NULL, 0), CG_NN_OK);
    cg_pool2d_desc odd = {.n = 2, .c = 3, .h = 13, .w = 11, .kh = 3, .kw = 3, .stride_h = 2, .stride_w = 2,
                          .pad_h = 1, .pad_w = 1}; /* the stem's plane-at-once path, odd sizes */
    assert_int_equal(cg_pool2d_desc_init(&odd, NULL, 0), CG_NN_OK);
    cg_pool2d_desc adapt = {.n = 2, .c = 3, .h = 14, .w = 14, .oh = 3, .ow = 5};
    cg_pool2d_desc global = {.n = 2, .c = 3, .h = 4, .w = 4, .oh = 1, .ow = 1}; /* cpu_pool.c's global_max */
    const float pick[4] = {-1.0f, -0.0f, 0.0f, 1.0f};
    const cg_pool2d_desc *ds[5] = {&stem, &lap, &odd, &adapt, &global};
    for (int k = 0; k < 5; k++) {
        const cg_pool2d_desc *d = ds[k];
        int64_t nx = d->n * d->c * d->h * d->w, ny = d->n * d->c * d->oh * d->ow;
        float *x = zeros(nx), *y = zeros(ny), *yr = zeros(ny);
        int64_t *idx = malloc((size_t)ny * sizeof *idx), *idxr = malloc((size_t)ny * sizeof *idxr);
        assert_true(idx && idxr);
        uint32_t r = 12345;
        for (int64_t i = 0; i < nx; i++) {
            r = r * 1103515245u + 12345u;
            x[i] = pick[(r >> 16) % 4];
        }
        for (int64_t i = 0; i < 2 * d->w; i++) x[i] = -INFINITY; /* plane 0, rows 0-1: windows of -inf only */
        x[d->h * d->w + 3 * d->w + 2] = NAN;                         /* plane 1, row 3: two NaNs */
        x[d->h * d->w + 3 * d->w + 3] = NAN;
        x[2 * d->h * d->w + 5] = -NAN;
        (k >= 3 ? cg_adaptive_max_pool2d_forward : cg_max_pool2d_forward)(d, x, y, idx);
        (k >= 3 ? cg_adaptive_max_pool2d_forward_ref : cg_max_pool2d_forward_ref)(d, x, yr, idxr);
        assert_memory_equal(idx, idxr, (size_t)ny * sizeof *idx);
        assert_memory_equal(y, yr, (size_t)ny * sizeof *y);
        free(x), free(y), free(yr), free(idx), free(idxr);
    }
}

/* max_pool2d on a channel block (cpu_pool_blocked.c) gives the plain
 * kernel's y, idx and dx bits: the stem's 3x3/2 pad 1, and a 3x2 window with
 * strides 2 and 1 on odd maps, over ties of -1, -0, +0 and 1, windows of
 * -inf only, NaNs of both signs and overlapping windows (the backward's
 * sums); blocks 8 and 16, at every CPU level this machine has, on 1 and 2
 * threads. */
static void test_max_pool_blocked_matches_plain(void **state) {
    (void)state;
    cg_pool2d_desc stem = {.n = 2, .c = 32, .h = 14, .w = 14, .kh = 3, .kw = 3, .stride_h = 2, .stride_w = 2,
                           .pad_h = 1, .pad_w = 1};
    cg_pool2d_desc odd = {.n = 3, .c = 16, .h = 9, .w = 7, .kh = 3, .kw = 2, .stride_h = 2, .stride_w = 1,
                          .pad_h = 1, .pad_w = 1};
    assert_int_equal(cg_pool2d_desc_init(&stem, NULL, 0), CG_NN_OK);
    assert_int_equal(cg_pool2d_desc_init(&odd, NULL, 0), CG_NN_OK);
    const cg_pool2d_desc *ds[2] = {&stem, &odd};
    const float pick[4] = {-1.0f, -0.0f, 0.0f, 1.0f};
    cg_cpu_level saved = cg_cpu_level_active();
    int runs = 0, saved_threads = omp_get_max_threads();
    for (int k = 0; k < 2; k++) {
        const cg_pool2d_desc *d = ds[k];
        const int64_t s = d->h * d->w, nx = d->n * d->c * s, ny = d->n * d->c * d->oh * d->ow;
        float *x = zeros(nx), *xb = zeros(nx), *y = zeros(ny), *yb = zeros(ny), *yu = zeros(ny);
        float *dy = sines(ny, 0.61, 0.3, 1), *dyb = zeros(ny), *dx = zeros(nx), *dxb = zeros(nx), *dxu = zeros(nx);
        int64_t *idx = malloc((size_t)ny * sizeof *idx), *idxb = malloc((size_t)ny * sizeof *idxb);
        assert_true(idx && idxb);
        uint32_t r = 777;
        for (int64_t i = 0; i < nx; i++) {
            r = r * 1103515245u + 12345u;
            x[i] = pick[(r >> 16) % 4];
        }
        for (int64_t i = 0; i < 2 * d->w; i++) x[i] = -INFINITY; /* plane 0, rows 0-1 */
        x[s + 3 * d->w + 2] = NAN, x[s + 3 * d->w + 3] = -NAN;    /* plane 1, row 3 */
        x[9 * s + 4] = NAN;                                        /* plane 9: another block at 8 */
        cg_max_pool2d_forward(d, x, y, idx);
        cg_max_pool2d_backward(d, dy, idx, dx);
        for (int64_t block = 8; block <= 16; block += 8)
            for (int level = 0; level < CG_CPU_LEVELS; level++) {
                if (!cg_cpu_level_set((cg_cpu_level)level)) continue;
                for (int threads = 1; threads <= 2; threads++) {
                    omp_set_num_threads(threads);
                    cg_pool2d_desc db = *d;
                    db.block = block;
                    cg_layout_plain_to_blocked(block, d->n, d->c, s, x, xb);
                    memset(idxb, 0xff, (size_t)ny * sizeof *idxb);
                    cg_max_pool2d_forward(&db, xb, yb, idxb);
                    cg_layout_blocked_to_plain(block, d->n, d->c, d->oh * d->ow, yb, yu);
                    assert_memory_equal(yu, y, (size_t)ny * sizeof *y);
                    assert_memory_equal(idxb, idx, (size_t)ny * sizeof *idx);
                    cg_layout_plain_to_blocked(block, d->n, d->c, d->oh * d->ow, dy, dyb);
                    cg_max_pool2d_backward(&db, dyb, idxb, dxb);
                    cg_layout_blocked_to_plain(block, d->n, d->c, s, dxb, dxu);
                    assert_memory_equal(dxu, dx, (size_t)nx * sizeof *dx);
                    runs++;
                }
            }
        free(x), free(xb), free(y), free(yb), free(yu), free(dy), free(dyb), free(dx), free(dxb), free(dxu);
        free(idx), free(idxb);
    }
    cg_cpu_level_set(saved);
    omp_set_num_threads(saved_threads);
    assert_true(runs >= 2 * 2 * 2); /* two shapes, two blocks, the baseline level at least, two thread counts */
}

/* Pool backward kernels against finite differences of their forwards, and
 * the fast forwards against the reference on planes enough for threads. */
static void test_pool_fast_matches_reference_and_gradients(void **state) {
    (void)state;
    cg_pool2d_desc fixed = {.n = 8, .c = 32, .h = 15, .w = 13, .kh = 3, .kw = 2, .stride_h = 2, .stride_w = 1,
                            .pad_h = 1, .pad_w = 1};
    assert_int_equal(cg_pool2d_desc_init(&fixed, NULL, 0), CG_NN_OK);
    cg_pool2d_desc adapt = {.n = 8, .c = 32, .h = 15, .w = 13, .oh = 4, .ow = 6};
    int64_t nx = 8 * 32 * 15 * 13;
    float *x = sines(nx, 0.731, 0.2, 1); /* distinct values: no ties for the max */
    for (int a = 0; a < 2; a++) {
        const cg_pool2d_desc *d = a ? &adapt : &fixed;
        int64_t ny = d->n * d->c * d->oh * d->ow;
        float *y = zeros(ny), *yr = zeros(ny), *dy = sines(ny, 0.3, 0.1, 1), *dx = zeros(nx), *dxr = zeros(nx);
        int64_t *idx = malloc((size_t)ny * sizeof *idx), *idxr = malloc((size_t)ny * sizeof *idxr);
        assert_true(idx && idxr);
        for (int rep = 0; rep < 3; rep++) {
            (a ? cg_adaptive_max_pool2d_forward : cg_max_pool2d_forward)(d, x, y, idx);
            (a ? cg_adaptive_max_pool2d_forward_ref : cg_max_pool2d_forward_ref)(d, x, yr, idxr);
            assert_memory_equal(y, yr, (size_t)ny * sizeof *y);
            assert_memory_equal(idx, idxr, (size_t)ny * sizeof *idx);
            (a ? cg_adaptive_avg_pool2d_forward : cg_avg_pool2d_forward)(d, x, y);
            (a ? cg_adaptive_avg_pool2d_forward_ref : cg_avg_pool2d_forward_ref)(d, x, yr);
            assert_close_f("avg pool fast forward", y, yr, ny, 1e-6, 1);
            (a ? cg_adaptive_avg_pool2d_backward : cg_avg_pool2d_backward)(d, dy, dx);
            (a ? cg_adaptive_avg_pool2d_backward_ref : cg_avg_pool2d_backward_ref)(d, dy, dxr);
            assert_close_f("avg pool fast backward", dx, dxr, nx, 1e-6, 1);
        }
        /* finite differences on the first plane: L = sum(y * dy); linear in x
         * for the average, piecewise linear for the max (h far below the gaps) */
        cg_pool2d_desc one = *d;
        one.n = 1, one.c = 1;
        int64_t px = one.h * one.w, py = one.oh * one.ow;
        float *xp = malloc((size_t)px * sizeof *xp), *yp = zeros(py), gmax[195], gavg[195];
        int64_t ip[256];
        assert_true(xp && px <= 195 && py <= 256);
        memcpy(xp, x, (size_t)px * sizeof *xp);
        (a ? cg_adaptive_max_pool2d_forward : cg_max_pool2d_forward)(&one, xp, yp, ip);
        cg_max_pool2d_backward(&one, dy, ip, gmax);
        (a ? cg_adaptive_avg_pool2d_backward : cg_avg_pool2d_backward)(&one, dy, gavg);
        for (int64_t i = 0; i < px; i++) {
            double lmax[2], lavg[2];
            for (int s = 0; s < 2; s++) {
                float keep = xp[i];
                xp[i] = keep + (s ? -1e-3f : 1e-3f);
                (a ? cg_adaptive_max_pool2d_forward : cg_max_pool2d_forward)(&one, xp, yp, ip);
                lmax[s] = 0;
                for (int64_t k = 0; k < py; k++) lmax[s] += (double)yp[k] * dy[k];
                (a ? cg_adaptive_avg_pool2d_forward : cg_avg_pool2d_forward)(&one, xp, yp);
                lavg[s] = 0;
                for (int64_t k = 0; k < py; k++) lavg[s] += (double)yp[k] * dy[k];
                xp[i] = keep;
            }
            assert_float_equal(gmax[i], (lmax[0] - lmax[1]) / 2e-3, 2e-3);
            assert_float_equal(gavg[i], (lavg[0] - lavg[1]) / 2e-3, 2e-3);
        }
        free(y), free(yr), free(dy), free(dx), free(dxr), free(idx), free(idxr), free(xp), free(yp);
    }
    /* global average and max (adaptive to 1x1, cpu_pool.c's contiguous
     * paths; max: the largest value's first place up to 64 values a plane,
     * the column pass above) on 15x13, 4x4 and 1x1 planes, the average's
     * backward too */
    const int64_t gh[3] = {15, 4, 1}, gw[3] = {13, 4, 1};
    float *gdy = sines(256, 0.37, 0.1, 1), *gdx = zeros(nx), *gdxr = zeros(nx);
    for (int k = 0; k < 3; k++) {
        cg_pool2d_desc g = {.n = 8, .c = 32, .h = gh[k], .w = gw[k], .oh = 1, .ow = 1};
        assert_int_equal(cg_adaptive_pool2d_desc_init(&g, NULL, 0), CG_NN_OK);
        int64_t ng = 256 * gh[k] * gw[k];
        float y[256], yr[256];
        int64_t idx[256], idxr[256];
        cg_adaptive_avg_pool2d_forward(&g, x, y);
        cg_adaptive_avg_pool2d_forward_ref(&g, x, yr);
        assert_close_f("global avg pool forward", y, yr, 256, 1e-6, 1);
        cg_adaptive_max_pool2d_forward(&g, x, y, idx);
        cg_adaptive_max_pool2d_forward_ref(&g, x, yr, idxr);
        assert_memory_equal(y, yr, sizeof y);
        assert_memory_equal(idx, idxr, sizeof idx);
        cg_adaptive_avg_pool2d_backward(&g, gdy, gdx);
        cg_adaptive_avg_pool2d_backward_ref(&g, gdy, gdxr);
        assert_close_f("global avg pool backward", gdx, gdxr, ng, 1e-6, 1);
        for (int64_t i = 0; i < ng; i++) /* every value of plane p: dy[p] / (h*w) */
            assert_float_equal(gdx[i], gdy[i / (gh[k] * gw[k])] / (float)(gh[k] * gw[k]), 0);
    }
    free(gdy), free(gdx), free(gdxr);
    free(x);
}

/* ---- dropout ---- */

static void test_dropout_applies_mask_and_scale(void **state) {
    (void)state;
    /* p = 0.25: kept values are scaled by 1/(1-p) = 4/3 */
    const float x[5] = {3, -6, 1.5f, 9, 0.75f};
    const uint8_t mask[5] = {1, 0, 1, 1, 0};
    float y[5];
    cg_dropout_apply(5, x, mask, 1 / (1 - 0.25f), y);
    const float want[5] = {4, 0, 2, 12, 0};
    for (int i = 0; i < 5; i++) assert_float_equal(y[i], want[i], 1e-6);
    /* in place, and long enough for the blocked, threaded path */
    int64_t n = 100003;
    float *v = sines(n, 0.1, 0, 1);
    uint8_t *m = malloc((size_t)n);
    assert_non_null(m);
    for (int64_t i = 0; i < n; i++) m[i] = (uint8_t)(i % 3 != 0);
    cg_dropout_apply(n, v, m, 2.0f, v);
    for (int64_t i = 0; i < n; i += 997)
        assert_float_equal(v[i], (i % 3 ? 2 * (float)sin(0.1 * (double)i) : 0.0f), 1e-6);
    assert_float_equal(v[n - 2], 2 * (float)sin(0.1 * (double)(n - 2)), 1e-6); /* (n-2) % 3 = 2: kept */
    assert_float_equal(v[n - 1], 0, 0);                                       /* (n-1) % 3 = 0: dropped */
    free(v);
    free(m);
}

/* ---- PyTorch literals: conv -> batch_norm -> relu -> max_pool ---- */

/* Printed by tests/support/conv_reference.py (run it to regenerate): */
/* tests/support/conv_reference.py, torch 1.13.0a0 */
static const double ref_out[54] = {0.75366633, 1.87972458, 1.87972458, 1.32225488, 1.88338072, 1.87972458, 1.32225488, 1.88338072, 1.58256921, 2.21739414, 2.21739414, 0.445469849, 2.21739414, 2.21739414, 1.47209434, 1.72383155, 1.50920841, 1.50920841, 0.600294668, 1.23595175, 1.23595175, 1.26284099, 1.93564641, 1.66512191, 1.33337554, 1.33337554, 0.232162992, 0.488518031, 1.27095934, 1.27095934, 1.42988397, 1.89387365, 1.49099099, 1.31785185, 1.31785185, 0.630890143, 1.59113134, 1.59113134, 1.47460235, 1.75276332, 2.07917164, 2.07917164, 0.862159373, 2.07917164, 2.07917164, 1.38669232, 1.95478083, 1.57054021, 1.95689377, 1.95689377, 1.57054021, 1.95689377, 1.95689377, 0.791256121};
static const int64_t ref_idx[54] = {0, 8, 8, 16, 17, 8, 16, 17, 18, 6, 6, 4, 6, 6, 14, 15, 23, 23, 5, 3, 3, 11, 12, 13, 21, 21, 19, 5, 3, 3, 11, 12, 13, 21, 21, 19, 1, 1, 9, 10, 18, 18, 20, 18, 18, 6, 7, 8, 16, 16, 8, 16, 16, 24};
static const double ref_dx[100] = {0.514385742, -0.104914267, -0.456238058, 0.529772397, 0.114638601, -0.287874707, 0.479948267, 0.231374963, -0.226564014, 0.340224111, -0.193873346, -0.280455654, 0.0247498951, -0.292833678, -0.383018054, -0.324171457, 0.175125628, 0.0932381268, -0.0460626444, 0.218598615, 0.156514112, -0.170909029, 0.0788216685, -0.292832842, -0.273115503, 0.491789543, 0.36201079, -0.565420031, 0.333436816, 0.445830953, -0.57585748, -0.107254637, 0.402480173, -0.353483568, -0.0419551454, -0.0989987934, -0.348930102, -0.115801763, -0.0377576818, -0.547896318, -0.34381277, -0.102119178, 0.123785159, -0.200925095, 0.152793203, 0.337965125, 0.0673448648, 0.157814552, 0.0141399953, -0.292201887, -0.309205491, 0.00381265872, -0.175434022, 0.0261771283, 0.117770731, 0.185612676, -0.0562970798, 0.495133555, -0.0435652778, -0.00687580335, -0.282048697, 0.149433231, -0.0400238986, 0.108436421, 0.0274860473, -0.465272295, -0.122470559, 0.273739803, -0.387549487, -0.217765852, 0.408803295, 0.027389984, -0.265794117, 0.102239417, -0.00388586754, -0.205790527, -0.0225601403, -0.00229213758, -0.170240218, 0.234792335, 0.330049768, -0.136514384, 0.352130505, 0.268281324, -0.0858981978, -0.673997219, -0.178525866, -0.204401536, -0.201284615, -0.137081037, -0.198376149, -0.298432658, 0.317293016, -0.152660175, -0.261083173, 0.385854872, 0.298293165, -0.275209596, 0.168889777, 0.0995817311};
static const double ref_dw[54] = {0.134567757, 0.349272661, 0.789032471, -0.267715706, -0.570492684, -0.713648709, 0.462419353, 0.765789126, 0.364066993, -0.406112952, -0.41603144, 0.222206469, 0.425268762, 0.337171323, -0.54650134, -0.177846988, 0.116593682, 0.799641094, -1.09456732, -0.119636348, 0.80754635, 0.747330899, 0.174331211, -0.487633041, -0.898980866, -1.1915181, -0.572901351, -0.767395482, -1.32935678, -0.987847583, 0.0785101017, 0.541824723, 0.887825363, 0.979620516, -0.0348347304, -1.05559458, 0.892674595, 0.913439456, 0.284580236, -0.345892782, -0.442992952, -0.00502363102, -0.764273672, -0.160789385, 0.185482699, -0.34116231, -0.096410789, 0.40636862, 0.07559635, 0.312938508, 0.168796452, -0.28444165, -1.02232881, -0.806051597};
static const double ref_dbias[3] = {-5.55111512e-17, -5.55111512e-16, -1.66533454e-16};
static const double ref_dgamma[3] = {11.3543045, -4.31052554, -5.55434043};
static const double ref_dbeta[3] = {7.59382534, -3.00644739, -3.89588076};
static const double ref_running_mean[3] = {0.00540614482, 0.0233405701, -0.0283067397};
static const double ref_running_var[3] = {1.36117462, 1.29227506, 1.37258757};

static void test_conv_bn_relu_maxpool_matches_pytorch(void **state) {
    (void)state;
    /* the script's inputs: value[i] = scale * sin(a*i + b) over the flat index */
    cg_conv2d_desc cd = conv_desc(2, 2, 5, 5, 3, 3, 3, 1, 1, 1, 1, 1, 1, 1);
    float *x = sines(100, 0.7, 0.1, 1.0), *w = sines(54, 1.3, 0.4, 0.5), *bias = sines(3, 2.1, 0.2, 0.3);
    float *gamma = sines(3, 0.9, 0.3, 0.2), *beta = sines(3, 1.7, 0.5, 0.1), *up = sines(54, 0.45, 0.25, 1.0);
    for (int c = 0; c < 3; c++) gamma[c] = (float)(1.0 + 0.2 * sin(0.9 * c + 0.3));
    cg_batchnorm_desc bd = {.n = 2, .c = 3, .hw = 25, .eps = 1e-5, .momentum = 0.1};
    cg_pool2d_desc pd = {.n = 2, .c = 3, .h = 5, .w = 5, .kh = 3, .kw = 3, .stride_h = 2, .stride_w = 2,
                         .pad_h = 1, .pad_w = 1};
    assert_int_equal(cg_batchnorm_desc_init(&bd, true, NULL, 0), CG_NN_OK);
    assert_int_equal(cg_pool2d_desc_init(&pd, NULL, 0), CG_NN_OK);
    char msg[256];
    float conv[150], bn[150], relu[150], out[54], sm[3], si[3], rm[3] = {0, 0, 0}, rv[3] = {1, 1, 1};
    int64_t idx[54];
    if (cg_conv2d_forward(&cd, x, w, bias, conv, msg, sizeof msg)) fail_msg("%s", msg);
    cg_batchnorm_forward_train(&bd, conv, gamma, beta, bn, sm, si, rm, rv);
    for (int i = 0; i < 150; i++) relu[i] = bn[i] > 0 ? bn[i] : 0;
    cg_max_pool2d_forward(&pd, relu, out, idx);
    assert_close_d("stack output", out, ref_out, 54, 1e-5, 1);
    assert_memory_equal(idx, ref_idx, sizeof idx);
    assert_close_d("running_mean", rm, ref_running_mean, 3, 1e-5, 1e-2);
    assert_close_d("running_var", rv, ref_running_var, 3, 1e-5, 1);

    float g_relu[150], g_bn[150], g_conv[150], dx[100], dw[54], db[3], dgamma[3], dbeta[3];
    cg_max_pool2d_backward(&pd, up, idx, g_relu);
    for (int i = 0; i < 150; i++) g_bn[i] = bn[i] > 0 ? g_relu[i] : 0;
    cg_batchnorm_backward(&bd, true, g_bn, conv, NULL, gamma, sm, si, g_conv, dgamma, dbeta);
    if (cg_conv2d_backward_data(&cd, g_conv, w, dx, msg, sizeof msg) ||
        cg_conv2d_backward_weights(&cd, x, g_conv, dw, db, msg, sizeof msg))
        fail_msg("%s", msg);
    assert_close_d("dx", dx, ref_dx, 100, 1e-4, 1e-2);
    assert_close_d("dw", dw, ref_dw, 54, 1e-4, 1e-2);
    assert_close_d("dgamma", dgamma, ref_dgamma, 3, 1e-5, 1);
    assert_close_d("dbeta", dbeta, ref_dbeta, 3, 1e-5, 1);
    /* the bias gradient vanishes through batch_norm: zero up to rounding */
    for (int c = 0; c < 3; c++) assert_true(fabs(db[c] - ref_dbias[c]) < 1e-5);
    free(x), free(w), free(bias), free(gamma), free(beta), free(up);
    cg_conv2d_cache_clear();
}

/* ---- the thread choice ---- */

static void test_tuner_follows_the_faster_thread_count(void **state) {
    (void)state;
    cg_nn_tuner t = {0};
    int arm;
    /* one thread available: nothing to choose */
    assert_int_equal(cg_nn_tuner_pick(&t, 1, &arm), 1);
    assert_int_equal(arm, 0);
    /* the first two calls measure each count once: all threads, then one */
    cg_nn_tuner u = {0};
    assert_int_equal(cg_nn_tuner_pick(&u, 2, &arm), 2);
    cg_nn_tuner_record(&u, arm, 10.0); /* a loaded machine: 2 threads take 10 ms */
    assert_int_equal(cg_nn_tuner_pick(&u, 2, &arm), 1);
    cg_nn_tuner_record(&u, arm, 2.0); /* one thread 2 ms */
    /* then one thread, except that every 16th call re-measures all threads */
    int two = 0;
    for (int k = 2; k < 18; k++) {
        int n = cg_nn_tuner_pick(&u, 2, &arm);
        two += n == 2;
        assert_int_equal(k % 16 == 15 ? 2 : 1, n);
    }
    assert_int_equal(two, 1);
    /* the load goes away: one time of 1 ms on 2 threads is the arm's best, below 2 */
    cg_nn_tuner_record(&u, 1, 1.0);
    assert_true(cg_nn_tuner_estimate(&u, 1) == 1.0);
    assert_int_equal(cg_nn_tuner_pick(&u, 2, &arm), 2); /* call 18 */
    assert_int_equal(arm, 1);
    /* a slower call of the same entry (another layer, colder caches: 3.5x, under
     * the 4x jump) leaves the best at 1 ms, where an average would pass 2 */
    cg_nn_tuner_record(&u, 1, 3.5);
    assert_true(cg_nn_tuner_estimate(&u, 1) == 1.0);
    /* while all threads win, one thread is re-measured once in 64 calls */
    int one = 0;
    for (int k = 19; k < 19 + 64; k++) {
        int n = cg_nn_tuner_pick(&u, 2, &arm);
        one += n == 1;
        assert_int_equal(k % 64 == 15 ? 1 : 2, n);
    }
    assert_int_equal(one, 1);
    /* a load again: 2 threads take 30 ms, over 4x the best, so the window restarts
     * and the very next call goes to one thread */
    cg_nn_tuner_record(&u, 1, 30.0);
    assert_true(cg_nn_tuner_estimate(&u, 1) == 30.0);
    assert_int_equal(cg_nn_tuner_pick(&u, 2, &arm), 1);
    /* the window keeps the last 4 times: a slowdown under 4x shows once the
     * quiet times have left it */
    cg_nn_tuner v = {0};
    cg_nn_tuner_record(&v, 0, 2.0);
    cg_nn_tuner_record(&v, 1, 1.0);
    for (int i = 0; i < 3; i++) {
        cg_nn_tuner_record(&v, 1, 3.0);
        assert_true(cg_nn_tuner_estimate(&v, 1) == 1.0);
    }
    cg_nn_tuner_record(&v, 1, 3.0);
    assert_true(cg_nn_tuner_estimate(&v, 1) == 3.0);
    assert_int_equal(cg_nn_tuner_pick(&v, 2, &arm), 1);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_conv_desc_sizes_and_errors),
        cmocka_unit_test(test_conv_ref_by_hand),
        cmocka_unit_test(test_conv_fast_matches_reference),
        cmocka_unit_test(test_conv_kernels_give_the_same_bits_on_any_thread_count),
        cmocka_unit_test(test_conv_kernel_rule_at_the_measured_shapes),
        cmocka_unit_test(test_conv_backward_matches_finite_differences),
        cmocka_unit_test(test_batchnorm_train_and_eval_by_hand),
        cmocka_unit_test(test_batchnorm_backward_matches_finite_differences),
        cmocka_unit_test(test_batchnorm_relu_is_batchnorm_then_relu),
        cmocka_unit_test(test_batchnorm_fast_matches_reference),
        cmocka_unit_test(test_max_pool_by_hand),
        cmocka_unit_test(test_max_pool_ties_match_reference),
        cmocka_unit_test(test_avg_pool_by_hand),
        cmocka_unit_test(test_adaptive_pool_windows_by_hand),
        cmocka_unit_test(test_pool_fast_matches_reference_and_gradients),
        cmocka_unit_test(test_max_pool_blocked_matches_plain),
        cmocka_unit_test(test_dropout_applies_mask_and_scale),
        cmocka_unit_test(test_conv_bn_relu_maxpool_matches_pytorch),
        cmocka_unit_test(test_tuner_follows_the_faster_thread_count),
    };
    int failed = cmocka_run_group_tests(tests, NULL, NULL);
    cg_conv2d_cache_clear();
    return failed;
}
