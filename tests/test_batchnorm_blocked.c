/* test_batchnorm_blocked.c — batch_norm on oneDNN's blocked layouts
 * (cg_batchnorm_desc.block = 8 or 16: nChw8c / nChw16c, value (n, c, s) at
 * ((n*(C/B) + c/B)*HW + s)*B + c%B), cpu_batchnorm_blocked.c:
 *   - a small case worked out by hand;
 *   - the fast blocked kernels against the reference kernels on the same
 *     blocked buffers, and against the plain kernels on the same values
 *     permuted to (N,C,HW) here by hand, training and eval forward and
 *     backward, fused ReLU and not, N = 1 and odd, HW = 1 (BatchNorm1d's
 *     shape) and odd;
 *   - the same bits on one and two threads, and at every CPU level;
 *   - cg_batchnorm_desc_init's checks of the block. */
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

/* ---- helpers ---- */

/* value[i] = offset + scale * sin(a*i + b): deterministic, no two values alike. */
static float *sines(int64_t n, double a, double b, double scale, double offset) {
    float *v = malloc((size_t)(n > 0 ? n : 1) * sizeof *v);
    assert_non_null(v);
    for (int64_t i = 0; i < n; i++) v[i] = (float)(offset + scale * sin(a * (double)i + b));
    return v;
}

static float *alloc_f(int64_t n) {
    float *v = malloc((size_t)n * sizeof *v);
    assert_non_null(v);
    return v;
}

/* The blocked index of (n, c, s), written out here rather than taken from the library. */
static int64_t blocked_at(int64_t B, int64_t C, int64_t HW, int64_t n, int64_t c, int64_t s) {
    return ((n * (C / B) + c / B) * HW + s) * B + c % B;
}

/* plain (N,C,HW) -> blocked */
static void to_blocked(int64_t B, int64_t N, int64_t C, int64_t HW, const float *plain, float *blk) {
    for (int64_t n = 0; n < N; n++)
        for (int64_t c = 0; c < C; c++)
            for (int64_t s = 0; s < HW; s++) blk[blocked_at(B, C, HW, n, c, s)] = plain[(n * C + c) * HW + s];
}

/* blocked -> plain (N,C,HW) */
static void to_plain(int64_t B, int64_t N, int64_t C, int64_t HW, const float *blk, float *plain) {
    for (int64_t n = 0; n < N; n++)
        for (int64_t c = 0; c < C; c++)
            for (int64_t s = 0; s < HW; s++) plain[(n * C + c) * HW + s] = blk[blocked_at(B, C, HW, n, c, s)];
}

/* max|got - want| <= tol * max(max|want|, 1e-30): relative to the array's scale */
static void assert_close(const char *what, const float *got, const float *want, int64_t n, double tol) {
    double scale = 1e-30, worst = 0;
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

static void assert_same_bits(const char *what, const float *a, const float *b, int64_t n) {
    for (int64_t i = 0; i < n; i++)
        if (memcmp(&a[i], &b[i], sizeof *a))
            fail_msg("%s: element %lld is %.9g against %.9g", what, (long long)i, (double)a[i], (double)b[i]);
}

/* ---- by hand ---- */

/* N=2, C=8, HW=2, block 8: channel c holds c/4 + {0, 1} in image 0 and
 * c/4 + {2, 3} in image 1, so mean_c = c/4 + 1.5, var = 1.25 (biased),
 * invstd = 1/sqrt(1.25 + 1e-5); gamma_c = 1 + c/8, beta_c = -c/16. */
static void test_blocked_by_hand(void **state) {
    (void)state;
    enum { N = 2, C = 8, HW = 2, B = 8 };
    cg_batchnorm_desc d = {.n = N, .c = C, .hw = HW, .eps = 1e-5, .momentum = 0.1, .block = B};
    assert_int_equal(cg_batchnorm_desc_init(&d, true, NULL, 0), CG_NN_OK);
    float x[N * C * HW], y[N * C * HW], dy[N * C * HW], dx[N * C * HW], g[C], b[C], sm[C], si[C], rm[C], rv[C];
    float dg[C], db[C];
    for (int n = 0; n < N; n++)
        for (int c = 0; c < C; c++)
            for (int s = 0; s < HW; s++) x[(n * HW + s) * B + c] = (float)c / 4 + (float)(2 * n + s); /* one block */
    for (int c = 0; c < C; c++) g[c] = 1 + (float)c / 8, b[c] = -(float)c / 16, rm[c] = 0, rv[c] = 1;
    cg_batchnorm_forward_train(&d, x, g, b, y, sm, si, rm, rv);
    const double invstd = 1 / sqrt(1.25 + 1e-5);
    for (int c = 0; c < C; c++) {
        assert_float_equal(sm[c], c / 4.0 + 1.5, 1e-6);
        assert_float_equal(si[c], invstd, 1e-6);
        assert_float_equal(rm[c], 0.1 * (c / 4.0 + 1.5), 1e-6);
        assert_float_equal(rv[c], 0.9 + 0.1 * 1.25 * 4 / 3, 1e-6); /* unbiased: M/(M-1) = 4/3 */
        for (int n = 0; n < N; n++)
            for (int s = 0; s < HW; s++) {
                double want = (2 * n + s - 1.5) * invstd * (1 + c / 8.0) - c / 16.0;
                assert_float_equal(y[(n * HW + s) * B + c], want, 1e-5);
            }
    }
    /* backward, dy = 1 at (n=0, s=0), 0 elsewhere: dbeta = 1, dgamma = xhat there = -1.5*invstd,
     * dx = g*invstd*(dy - 1/4 - xhat*dgamma/4) */
    memset(dy, 0, sizeof dy);
    for (int c = 0; c < C; c++) dy[c] = 1;
    cg_batchnorm_backward(&d, true, dy, x, y, g, sm, si, dx, dg, db);
    for (int c = 0; c < C; c++) {
        assert_float_equal(db[c], 1, 1e-6);
        assert_float_equal(dg[c], -1.5 * invstd, 1e-5);
        for (int n = 0; n < N; n++)
            for (int s = 0; s < HW; s++) {
                double xhat = (2 * n + s - 1.5) * invstd, one = n == 0 && s == 0;
                double want = (1 + c / 8.0) * invstd * (one - 0.25 - xhat * (-1.5 * invstd) / 4);
                assert_float_equal(dx[(n * HW + s) * B + c], want, 1e-5);
            }
    }
}

/* ---- fast blocked against reference blocked and against plain ---- */

typedef struct shape {
    int64_t n, c, hw;
} shape;

/* Every output of the four passes for one descriptor: forward train (y, the
 * saved and running statistics), backward train (dx, dgamma, dbeta), forward
 * eval (y) and backward eval (dx, dgamma, dbeta).  Buffers in d's layout. */
typedef struct outs {
    float *y, *dx, *ye, *dxe;
    float *sm, *si, *rm, *rv, *dg, *db, *dge, *dbe;
    /* per channel, the sums of the terms' sizes of dg, db, dge, dbe
     * (sum |dy*xhat|, sum |dy|, dy masked): what their rounding scales with */
    double *dga, *dba, *dgea, *dbea;
} outs;

static void outs_alloc(outs *o, int64_t nx, int64_t c) {
    o->y = alloc_f(nx), o->dx = alloc_f(nx), o->ye = alloc_f(nx), o->dxe = alloc_f(nx);
    float **v[] = {&o->sm, &o->si, &o->rm, &o->rv, &o->dg, &o->db, &o->dge, &o->dbe};
    for (size_t i = 0; i < sizeof v / sizeof *v; i++) *v[i] = alloc_f(c);
    double **a[] = {&o->dga, &o->dba, &o->dgea, &o->dbea};
    for (size_t i = 0; i < sizeof a / sizeof *a; i++) *a[i] = calloc((size_t)c, sizeof(double)), assert_non_null(*a[i]);
}

static void outs_free(outs *o) {
    float *v[] = {o->y, o->dx, o->ye, o->dxe, o->sm, o->si, o->rm, o->rv, o->dg, o->db, o->dge, o->dbe};
    for (size_t i = 0; i < sizeof v / sizeof *v; i++) free(v[i]);
    free(o->dga), free(o->dba), free(o->dgea), free(o->dbea);
}

/* the channel of buffer index i in d's layout */
static int64_t chan_of(const cg_batchnorm_desc *d, int64_t i) {
    if (!d->block) return (i / d->hw) % d->c;
    return (i / (d->hw * d->block)) % (d->c / d->block) * d->block + i % d->block;
}

/* ga[c] += |g*(x-mean)*invstd|, ba[c] += |g| over channel c's values, g = dy
 * masked by y > 0 when d->relu */
static void abs_sums(const cg_batchnorm_desc *d, const float *x, const float *dy, const float *y, const float *mean,
                     const float *invstd, double *ga, double *ba) {
    for (int64_t i = 0; i < d->n * d->c * d->hw; i++) {
        int64_t c = chan_of(d, i);
        double g = d->relu && !(y[i] > 0) ? 0 : dy[i];
        ga[c] += fabs(g * ((double)x[i] - mean[c]) * invstd[c]), ba[c] += fabs(g);
    }
}

/* Runs the four passes, fast (ref = false) or reference.  There is no
 * reference eval forward: ref = true computes it here in double. */
static void run_all(const cg_batchnorm_desc *d, bool ref, const float *x, const float *dy, const float *g,
                    const float *b, const float *rm0, const float *rv0, outs *o) {
    const int64_t C = d->c, nx = d->n * d->c * d->hw;
    memcpy(o->rm, rm0, (size_t)C * sizeof(float)), memcpy(o->rv, rv0, (size_t)C * sizeof(float));
    float *esm = alloc_f(C), *esi = alloc_f(C);
    if (!ref) {
        cg_batchnorm_forward_train(d, x, g, b, o->y, o->sm, o->si, o->rm, o->rv);
        cg_batchnorm_backward(d, true, dy, x, o->y, g, o->sm, o->si, o->dx, o->dg, o->db);
        cg_batchnorm_forward_eval(d, x, g, b, rm0, rv0, o->ye, esm, esi);
        cg_batchnorm_backward(d, false, dy, x, o->ye, g, esm, esi, o->dxe, o->dge, o->dbe);
    } else {
        cg_batchnorm_forward_train_ref(d, x, g, b, o->y, o->sm, o->si, o->rm, o->rv);
        cg_batchnorm_backward_ref(d, true, dy, x, o->y, g, o->sm, o->si, o->dx, o->dg, o->db);
        /* eval by its definition */
        for (int64_t i = 0; i < nx; i++) {
            int64_t c = chan_of(d, i);
            double v = ((double)x[i] - rm0[c]) / sqrt((double)rv0[c] + d->eps) * (g ? g[c] : 1) + (b ? b[c] : 0);
            o->ye[i] = (float)(d->relu && !(v > 0) ? 0 : v);
        }
        for (int64_t c = 0; c < C; c++) esm[c] = rm0[c], esi[c] = (float)(1 / sqrt((double)rv0[c] + d->eps));
        cg_batchnorm_backward_ref(d, false, dy, x, o->ye, g, esm, esi, o->dxe, o->dge, o->dbe);
    }
    abs_sums(d, x, dy, o->y, o->sm, o->si, o->dga, o->dba);
    abs_sums(d, x, dy, o->ye, esm, esi, o->dgea, o->dbea);
    free(esm), free(esi);
}

/* Per channel |got - want| <= tol * abs[c]: a sum's rounding error is
 * relative to the sum of its terms' sizes, not to the sum (dgamma = sum
 * dy*xhat cancels: these data's plain kernel is 1.4e-5 of max|dgamma| off
 * the double reference). */
static void assert_sum_close(const char *what, const float *got, const float *want, const double *abs, int64_t n,
                             double tol) {
    for (int64_t c = 0; c < n; c++)
        if (!(fabs((double)got[c] - (double)want[c]) <= tol * abs[c]))
            fail_msg("%s: channel %lld is %.9g, expected %.9g (error %.3g > %.3g)", what, (long long)c,
                     (double)got[c], (double)want[c], fabs((double)got[c] - (double)want[c]), tol * abs[c]);
}

/* got (in `block`'s layout when got_blocked, else in want's) against want
 * (plain, or blocked when got is): the buffers and the statistics within
 * tol of their scale, the backward's sums within 1e-6 of their terms' */
static void compare(const char *what, const shape *s, int64_t block, const outs *got, const outs *want,
                    bool got_blocked, double tol) {
    const int64_t nx = s->n * s->c * s->hw, C = s->c;
    float *t = alloc_f(nx);
    char name[160];
    const float *gv[] = {got->y, got->dx, got->ye, got->dxe}, *wv[] = {want->y, want->dx, want->ye, want->dxe};
    const char *vn[] = {"y", "dx", "eval y", "eval dx"};
    for (int k = 0; k < 4; k++) {
        if (got_blocked) to_plain(block, s->n, C, s->hw, gv[k], t);
        else memcpy(t, gv[k], (size_t)nx * sizeof(float));
        snprintf(name, sizeof name, "%s %s, block %lld, %lldx%lldx%lld", what, vn[k], (long long)block,
                 (long long)s->n, (long long)C, (long long)s->hw);
        assert_close(name, t, wv[k], nx, tol);
    }
    const float *gc[] = {got->sm, got->si, got->rm, got->rv, got->dg, got->db, got->dge, got->dbe};
    const float *wc[] = {want->sm, want->si, want->rm, want->rv, want->dg, want->db, want->dge, want->dbe};
    const char *cn[] = {"mean", "invstd", "running_mean", "running_var", "dgamma", "dbeta", "eval dgamma",
                        "eval dbeta"};
    const double *abs[] = {want->dga, want->dba, want->dgea, want->dbea};
    for (int k = 0; k < 8; k++) {
        snprintf(name, sizeof name, "%s %s, block %lld, %lldx%lldx%lld", what, cn[k], (long long)block,
                 (long long)s->n, (long long)C, (long long)s->hw);
        if (k < 4) assert_close(name, gc[k], wc[k], C, tol);
        else assert_sum_close(name, gc[k], wc[k], abs[k - 4], C, 1e-6);
    }
    free(t);
}

static void test_blocked_matches_reference_and_plain(void **state) {
    (void)state;
    const shape shapes[] = {{1, 16, 196}, {7, 32, 49}, {7, 64, 1}, {4, 32, 196}, {2, 16, 13},
                            {3, 64, 5},   {1, 32, 2},  {16, 32, 49}};
    for (size_t si = 0; si < sizeof shapes / sizeof *shapes; si++) {
        const shape *s = &shapes[si];
        const int64_t nx = s->n * s->c * s->hw, C = s->c;
        /* values off zero (mean ~0.7) so the mean matters; dy with a mean too */
        float *x = sines(nx, 0.37, 0.1, 2, 0.7), *dy = sines(nx, 0.53, 0.7, 1, 0.2);
        float *g = sines(C, 1.3, 0.2, 0.5, 1), *b = sines(C, 0.7, 0.4, 0.5, 0);
        float *rm0 = sines(C, 0.9, 0.3, 0.2, 0.1), *rv0 = sines(C, 1.1, 0.5, 0.3, 1.2);
        float *xb = alloc_f(nx), *dyb = alloc_f(nx);
        for (int64_t block = 8; block <= 16; block += 8) {
            if (C % block) continue;
            to_blocked(block, s->n, C, s->hw, x, xb);
            to_blocked(block, s->n, C, s->hw, dy, dyb);
            for (int relu = 0; relu < 2; relu++)
                for (int affine = 0; affine < 2; affine++) {
                    if (!affine && relu) continue; /* affine=False once, without the ReLU */
                    const float *gg = affine ? g : NULL, *bb = affine ? b : NULL;
                    cg_batchnorm_desc dp = {.n = s->n, .c = C, .hw = s->hw, .eps = 1e-5, .momentum = 0.1,
                                            .relu = relu};
                    cg_batchnorm_desc db = dp;
                    db.block = block;
                    assert_int_equal(cg_batchnorm_desc_init(&db, true, NULL, 0), CG_NN_OK);
                    outs fast_b, ref_b, fast_p;
                    outs_alloc(&fast_b, nx, C), outs_alloc(&ref_b, nx, C), outs_alloc(&fast_p, nx, C);
                    run_all(&db, false, xb, dyb, gg, bb, rm0, rv0, &fast_b);
                    run_all(&db, true, xb, dyb, gg, bb, rm0, rv0, &ref_b);
                    run_all(&dp, false, x, dy, gg, bb, rm0, rv0, &fast_p);
                    /* the reference's buffers to plain, to compare in one frame */
                    float *t = alloc_f(nx);
                    float **rv[] = {&ref_b.y, &ref_b.dx, &ref_b.ye, &ref_b.dxe};
                    for (int k = 0; k < 4; k++) {
                        to_plain(block, s->n, C, s->hw, *rv[k], t);
                        memcpy(*rv[k], t, (size_t)nx * sizeof(float));
                    }
                    free(t);
                    /* M = N*HW = 2: y and dx of the fast kernels (plain ones
                     * too, by the same amount) are 1.1e-5 and 5e-5 of their
                     * scale off the reference's (x*scale + shift in float,
                     * and dx ~ 0 there: two values per channel) */
                    const double tol = s->n * s->hw <= 2 ? 1e-4 : 1e-5;
                    compare(relu ? "fast vs ref, relu:" : "fast vs ref:", s, block, &fast_b, &ref_b, true, tol);
                    compare(relu ? "blocked vs plain, relu:" : "blocked vs plain:", s, block, &fast_b, &fast_p,
                            true, 1e-5);
                    /* and the plain reference agrees with the blocked one (the index function) */
                    outs ref_p;
                    outs_alloc(&ref_p, nx, C);
                    run_all(&dp, true, x, dy, gg, bb, rm0, rv0, &ref_p);
                    compare("ref plain vs ref blocked:", s, block, &ref_p, &ref_b, false, 1e-6);
                    outs_free(&ref_p);
                    outs_free(&fast_b), outs_free(&ref_b), outs_free(&fast_p);
                }
        }
        free(x), free(dy), free(g), free(b), free(rm0), free(rv0), free(xb), free(dyb);
    }
}

/* The fused ReLU's edges as the plain kernels have them: relu(NaN) = relu(-0)
 * = +0, and the backward's mask passes dy only where y > 0 (not at y = NaN,
 * -0, +0).  Eval forward and eval backward compute each value alone (y =
 * x*scale + shift, dx = k*dy), so blocked and plain give the same bits. */
static void test_blocked_relu_edges_match_plain(void **state) {
    (void)state;
    enum { N = 3, C = 16, HW = 5, NX = N * C * HW };
    float x[NX], dy[NX], xb[NX], dyb[NX], yp[NX], yb[NX], t[NX], dxp[NX], dxb[NX], g[C], b[C], rm[C], rv[C];
    const float edges[] = {NAN, -0.0f, 0.0f, INFINITY, -INFINITY, 1e-30f, -1e-30f};
    for (int i = 0; i < NX; i++) x[i] = (float)sin(0.37 * i), dy[i] = (float)cos(0.53 * i);
    for (int i = 0; i < NX; i += 3) x[i] = edges[(i / 3) % 7];
    for (int c = 0; c < C; c++) g[c] = 1 + 0.1f * (float)c, b[c] = c % 2 ? 0.0f : -0.0f, rm[c] = 0, rv[c] = 1;
    for (int64_t block = 8; block <= 16; block += 8) {
        cg_batchnorm_desc dp = {.n = N, .c = C, .hw = HW, .eps = 1e-5, .momentum = 0.1, .relu = true};
        cg_batchnorm_desc db = dp;
        db.block = block;
        to_blocked(block, N, C, HW, x, xb), to_blocked(block, N, C, HW, dy, dyb);
        float smp[C], sip[C], smb[C], sib[C], dgp[C], dbp[C], dgb[C], dbb[C];
        cg_batchnorm_forward_eval(&dp, x, g, b, rm, rv, yp, smp, sip);
        cg_batchnorm_forward_eval(&db, xb, g, b, rm, rv, yb, smb, sib);
        to_plain(block, N, C, HW, yb, t);
        assert_same_bits("relu edges: eval y", t, yp, NX);
        for (int i = 0; i < NX; i += 3) /* NaN, -0, -inf, -1e-30 (and 0) went to +0 */
            if (!(x[i] > 0)) assert_true(t[i] == 0 && !signbit(t[i]));
        cg_batchnorm_backward(&dp, false, dy, x, yp, g, smp, sip, dxp, dgp, dbp);
        cg_batchnorm_backward(&db, false, dyb, xb, yb, g, smb, sib, dxb, dgb, dbb);
        to_plain(block, N, C, HW, dxb, t);
        assert_same_bits("relu edges: eval dx", t, dxp, NX);
        /* masked: 0, where x is finite (both kernels compute dx = k*dy + a*x + b,
         * a = b = 0 in eval, so an infinite or NaN x gives NaN even there) */
        for (int i = 0; i < NX; i++)
            if (!(yp[i] > 0) && isfinite(x[i])) assert_true(t[i] == 0);
    }
}

/* ---- same bits: on one and two threads, at every CPU level ---- */

/* One call of each pass (training forward with running statistics and
 * backward, eval forward and backward) into o. */
static void run_fast(const cg_batchnorm_desc *d, const float *x, const float *dy, const float *g, const float *b,
                     const float *rm0, const float *rv0, outs *o) {
    run_all(d, false, x, dy, g, b, rm0, rv0, o);
}

static void assert_outs_same_bits(const char *what, const outs *a, const outs *o, int64_t nx, int64_t c) {
    const float *av[] = {a->y, a->dx, a->ye, a->dxe}, *ov[] = {o->y, o->dx, o->ye, o->dxe};
    for (int k = 0; k < 4; k++) assert_same_bits(what, av[k], ov[k], nx);
    const float *ac[] = {a->sm, a->si, a->rm, a->rv, a->dg, a->db, a->dge, a->dbe};
    const float *oc[] = {o->sm, o->si, o->rm, o->rv, o->dg, o->db, o->dge, o->dbe};
    for (int k = 0; k < 8; k++) assert_same_bits(what, ac[k], oc[k], c);
}

/* Shapes above CG_NN_PARALLEL_MIN elements with 4 and 2 channel blocks, so
 * two threads split the blocks; three calls per thread count (the tuner
 * tries both counts on a 2-thread call). */
static void test_blocked_same_bits_on_one_and_two_threads(void **state) {
    (void)state;
    const struct {
        int64_t n, c, hw, block;
    } cases[] = {{16, 32, 196, 8}, {9, 32, 121, 16}, {64, 64, 1, 8}};
    for (size_t ci = 0; ci < sizeof cases / sizeof *cases; ci++) {
        const int64_t N = cases[ci].n, C = cases[ci].c, HW = cases[ci].hw, nx = N * C * HW;
        float *x = sines(nx, 0.37, 0.1, 2, 0.7), *dy = sines(nx, 0.53, 0.7, 1, 0.2);
        float *g = sines(C, 1.3, 0.2, 0.5, 1), *b = sines(C, 0.7, 0.4, 0.5, 0);
        float *rm0 = sines(C, 0.9, 0.3, 0.2, 0.1), *rv0 = sines(C, 1.1, 0.5, 0.3, 1.2);
        for (int relu = 0; relu < 2; relu++) {
            cg_batchnorm_desc d = {.n = N, .c = C, .hw = HW, .eps = 1e-5, .momentum = 0.1, .relu = relu,
                                   .block = cases[ci].block};
            assert_int_equal(cg_batchnorm_desc_init(&d, true, NULL, 0), CG_NN_OK);
            outs o[2], ref;
            int saved = omp_get_max_threads();
            for (int r = 0; r < 2; r++) {
                outs_alloc(&o[r], nx, C);
                omp_set_num_threads(r + 1);
                for (int rep = 0; rep < 3; rep++) run_fast(&d, x, dy, g, b, rm0, rv0, &o[r]);
                omp_set_num_threads(saved);
            }
            assert_outs_same_bits(relu ? "blocked + relu, 1 vs 2 threads" : "blocked, 1 vs 2 threads", &o[0],
                                  &o[1], nx, C);
            /* and right, so that two equally wrong answers cannot pass */
            outs_alloc(&ref, nx, C);
            run_all(&d, true, x, dy, g, b, rm0, rv0, &ref);
            shape s = {N, C, HW};
            compare("threads vs ref:", &s, d.block, &o[0], &ref, false, 1e-5); /* both blocked */
            outs_free(&ref), outs_free(&o[0]), outs_free(&o[1]);
        }
        free(x), free(dy), free(g), free(b), free(rm0), free(rv0);
    }
}

/* Lanes never mix and nothing is fused: every level this CPU has gives the
 * baseline's bits. */
static void test_blocked_same_bits_at_every_level(void **state) {
    (void)state;
    const cg_cpu_level saved = cg_cpu_level_active();
    const struct {
        int64_t n, c, hw, block;
    } cases[] = {{5, 32, 49, 8}, {3, 32, 13, 16}, {6, 16, 1, 16}, {2, 64, 7, 8}};
    for (size_t ci = 0; ci < sizeof cases / sizeof *cases; ci++) {
        const int64_t N = cases[ci].n, C = cases[ci].c, HW = cases[ci].hw, nx = N * C * HW;
        float *x = sines(nx, 0.37, 0.1, 2, 0.7), *dy = sines(nx, 0.53, 0.7, 1, 0.2);
        float *g = sines(C, 1.3, 0.2, 0.5, 1), *b = sines(C, 0.7, 0.4, 0.5, 0);
        float *rm0 = sines(C, 0.9, 0.3, 0.2, 0.1), *rv0 = sines(C, 1.1, 0.5, 0.3, 1.2);
        for (int relu = 0; relu < 2; relu++) {
            cg_batchnorm_desc d = {.n = N, .c = C, .hw = HW, .eps = 1e-5, .momentum = 0.1, .relu = relu,
                                   .block = cases[ci].block};
            outs base, lv;
            outs_alloc(&base, nx, C);
            assert_true(cg_cpu_level_set(CG_CPU_BASELINE));
            run_fast(&d, x, dy, g, b, rm0, rv0, &base);
            for (int level = CG_CPU_AVX2; level < CG_CPU_LEVELS; level++) {
                if (!cg_cpu_level_set((cg_cpu_level)level)) continue;
                outs_alloc(&lv, nx, C);
                run_fast(&d, x, dy, g, b, rm0, rv0, &lv);
                char what[96];
                snprintf(what, sizeof what, "%s vs baseline, block %lld%s", cg_cpu_level_name((cg_cpu_level)level),
                         (long long)d.block, relu ? ", relu" : "");
                assert_outs_same_bits(what, &base, &lv, nx, C);
                outs_free(&lv);
            }
            cg_cpu_level_set(saved);
            outs_free(&base);
        }
        free(x), free(dy), free(g), free(b), free(rm0), free(rv0);
    }
}

/* ---- desc_init ---- */

static void test_blocked_desc_init_checks_the_block(void **state) {
    (void)state;
    char msg[256];
    cg_batchnorm_desc d = {.n = 2, .c = 32, .hw = 4, .eps = 1e-5, .momentum = 0.1};
    assert_int_equal(cg_batchnorm_desc_init(&d, true, msg, sizeof msg), CG_NN_OK); /* 0: plain */
    d.block = 8;
    assert_int_equal(cg_batchnorm_desc_init(&d, true, msg, sizeof msg), CG_NN_OK);
    d.block = 16;
    assert_int_equal(cg_batchnorm_desc_init(&d, true, msg, sizeof msg), CG_NN_OK);
    d.block = 4;
    assert_int_equal(cg_batchnorm_desc_init(&d, true, msg, sizeof msg), CG_NN_EINVAL);
    assert_non_null(strstr(msg, "block = 4"));
    d.block = -8;
    assert_int_equal(cg_batchnorm_desc_init(&d, false, msg, sizeof msg), CG_NN_EINVAL);
    d.block = 32;
    assert_int_equal(cg_batchnorm_desc_init(&d, false, msg, sizeof msg), CG_NN_EINVAL);
    d.block = 16, d.c = 24; /* 24 % 16 */
    assert_int_equal(cg_batchnorm_desc_init(&d, false, msg, sizeof msg), CG_NN_EINVAL);
    assert_non_null(strstr(msg, "multiple of block"));
    assert_non_null(strstr(msg, "c = 24"));
    d.block = 8; /* 24 % 8 == 0 */
    assert_int_equal(cg_batchnorm_desc_init(&d, false, msg, sizeof msg), CG_NN_OK);
    d.c = 12;
    assert_int_equal(cg_batchnorm_desc_init(&d, false, msg, sizeof msg), CG_NN_EINVAL);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_blocked_by_hand),
        cmocka_unit_test(test_blocked_matches_reference_and_plain),
        cmocka_unit_test(test_blocked_relu_edges_match_plain),
        cmocka_unit_test(test_blocked_same_bits_on_one_and_two_threads),
        cmocka_unit_test(test_blocked_same_bits_at_every_level),
        cmocka_unit_test(test_blocked_desc_init_checks_the_block),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
