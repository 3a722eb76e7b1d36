/* test_cpu_dispatch.c — the run-time CPU levels of kernels/cpu_dispatch.h.
 *
 * Every level this CPU supports (baseline always; AVX2 and AVX-512 where
 * present) runs the dispatched loops on the same inputs, and each is held to
 * the baseline: +, -, *, / and the selections bit for bit (the variants are
 * compiled without contraction), exp/log/tanh/sigmoid (SLEEF's u10 against
 * glibc) within 2 ULP-sized relative steps, the double sums within 1e-12.
 * Then the same through the tensor API, so the kernels' use of the table is
 * covered too: mean(0) of a [611,28,28] stack and a sigmoid at each level
 * against the baseline, and sigmoid's PyTorch values at the extremes. */
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
#include "kernels/cpu_dispatch.h"

enum { N = 1000 + 13 }; /* not a multiple of any vector width */

static const cg_cpu_vec *table(cg_cpu_level l) {
    return l == CG_CPU_AVX512 ? &cg_cpu_vec_avx512 : l == CG_CPU_AVX2 ? &cg_cpu_vec_avx2 : &cg_cpu_vec_baseline;
}

/* x[i] spread over [lo, hi] without two alike (sin of a non-periodic step) */
static void inputs(float *x, double lo, double hi) {
    for (int i = 0; i < N; i++) x[i] = (float)(lo + (hi - lo) * 0.5 * (1 + sin(0.7 * i + 0.3)));
}

static void assert_ulps(const char *what, const char *level, const float *got, const float *want, double rel) {
    for (int i = 0; i < N; i++) {
        double d = fabs((double)got[i] - want[i]), s = fabs((double)want[i]);
        if (isnan(want[i]) ? !isnan(got[i]) : d > rel * s + 1e-38)
            fail_msg("%s at %s: [%d] %.9g, baseline %.9g", what, level, i, got[i], want[i]);
    }
}

static void test_names_and_levels(void **state) {
    (void)state;
    assert_string_equal(cg_cpu_level_name(CG_CPU_BASELINE), "baseline");
    assert_string_equal(cg_cpu_level_name(CG_CPU_AVX2), "avx2");
    assert_string_equal(cg_cpu_level_name(CG_CPU_AVX512), "avx512");
    assert_true(cg_cpu_level_supported(CG_CPU_BASELINE));
    /* AVX-512 here implies AVX2 (the avx512 variant uses both) */
    if (cg_cpu_level_supported(CG_CPU_AVX512)) assert_true(cg_cpu_level_supported(CG_CPU_AVX2));
    /* the level in use is one the CPU has, and setting one is read back */
    assert_true(cg_cpu_level_supported(cg_cpu_level_active()));
    assert_true(cg_cpu_level_set(CG_CPU_BASELINE));
    assert_int_equal(cg_cpu_level_active(), CG_CPU_BASELINE);
    assert_ptr_equal(cg_cpu_vec_active(), &cg_cpu_vec_baseline);
    assert_false(cg_cpu_level_set(CG_CPU_LEVELS));
}

static void test_unary_levels(void **state) {
    (void)state;
    static float x[N], pos[N], want[N], got[N];
    inputs(x, -30, 30);
    inputs(pos, 1e-3, 50);
    const struct { cg_unary_op op; const float *in; double rel; float p0, p1; } cases[] = {
        {CG_U_NEG, x, 0, 0, 0}, {CG_U_ABS, x, 0, 0, 0}, {CG_U_SQRT, pos, 0, 0, 0}, {CG_U_RELU, x, 0, 0, 0},
        {CG_U_AFFINE, x, 0, 1.5f, -0.25f}, {CG_U_CLAMP, x, 0, -2, 3}, {CG_U_POW, x, 0, 2, 0},
        {CG_U_POW, pos, 0, 1.5f, 0},
        /* SLEEF u10 and glibc are each within 1 ULP: 2 float ULPs apart at most */
        {CG_U_EXP, x, 2.4e-7, 0, 0}, {CG_U_LOG, pos, 2.4e-7, 0, 0}, {CG_U_TANH, x, 2.4e-7, 0, 0},
        {CG_U_SIGMOID, x, 3.6e-7, 0, 0},
    };
    for (int l = CG_CPU_BASELINE; l < CG_CPU_LEVELS; l++) {
        if (!cg_cpu_level_supported((cg_cpu_level)l)) continue;
        for (size_t c = 0; c < sizeof cases / sizeof *cases; c++) {
            cg_cpu_vec_baseline.unary(cases[c].op, want, cases[c].in, N, cases[c].p0, cases[c].p1);
            table((cg_cpu_level)l)->unary(cases[c].op, got, cases[c].in, N, cases[c].p0, cases[c].p1);
            char what[32];
            snprintf(what, sizeof what, "unary op %d", (int)cases[c].op);
            assert_ulps(what, cg_cpu_level_name((cg_cpu_level)l), got, want, cases[c].rel);
        }
        /* in place (out aliasing in), as cg_cpu_unary allows */
        memcpy(got, x, sizeof x);
        table((cg_cpu_level)l)->unary(CG_U_EXP, got, got, N, 0, 0);
        table((cg_cpu_level)l)->unary(CG_U_EXP, want, x, N, 0, 0);
        assert_memory_equal(got, want, sizeof got);
    }
    /* hand values every level must give: exp(0) = 1, log(1) = 0, and the
     * sigmoid's extremes as PyTorch gives them (0 and 1, no NaN) */
    float in[3] = {0, -200, 200}, out[3];
    for (int l = CG_CPU_BASELINE; l < CG_CPU_LEVELS; l++) {
        if (!cg_cpu_level_supported((cg_cpu_level)l)) continue;
        const cg_cpu_vec *v = table((cg_cpu_level)l);
        v->unary(CG_U_SIGMOID, out, in, 3, 0, 0);
        assert_true(out[0] == 0.5f && out[1] == 0.0f && out[2] == 1.0f);
        v->unary(CG_U_EXP, out, in, 1, 0, 0);
        assert_true(out[0] == 1.0f);
        float one = 1;
        v->unary(CG_U_LOG, out, &one, 1, 0, 0);
        assert_true(out[0] == 0.0f);
    }
}

static void test_binary_levels(void **state) {
    (void)state;
    static float a[N], b[N], want[N], got[N];
    inputs(a, -5, 5);
    inputs(b, 0.1, 2);
    a[7] = NAN; /* max/min keep a NaN of a */
    const cg_binary_op ops[] = {CG_B_ADD, CG_B_SUB, CG_B_MUL, CG_B_DIV, CG_B_MAX, CG_B_MIN,
                                CG_B_RELU_BACK, CG_B_SIGMOID_BACK, CG_B_TANH_BACK, CG_B_ABS_BACK,
                                CG_B_SQRT_BACK, CG_B_CLAMP_BACK, CG_B_POW_BACK};
    for (int l = CG_CPU_BASELINE; l < CG_CPU_LEVELS; l++) {
        if (!cg_cpu_level_supported((cg_cpu_level)l)) continue;
        for (size_t k = 0; k < sizeof ops / sizeof *ops; k++)
            for (int mode = 0; mode < 3; mode++) { /* both arrays, b scalar, a scalar */
                bool as = mode == 2, bs = mode == 1;
                float p0 = ops[k] == CG_B_POW_BACK ? 2.0f : 0.5f; /* the vector pow_back is x**2's */
                assert_true(cg_cpu_vec_baseline.binary(ops[k], want, a, b, N, as, bs, p0, 1.5f));
                assert_true(table((cg_cpu_level)l)->binary(ops[k], got, a, b, N, as, bs, p0, 1.5f));
                char what[32];
                snprintf(what, sizeof what, "binary op %d mode %d", (int)ops[k], mode);
                assert_ulps(what, cg_cpu_level_name((cg_cpu_level)l), got, want, 0);
            }
        /* pow_back other than 2 and the comparisons stay with the caller */
        assert_false(table((cg_cpu_level)l)->binary(CG_B_POW_BACK, got, a, b, N, false, false, 3, 0));
        assert_false(table((cg_cpu_level)l)->binary(CG_B_LT, got, a, b, N, false, false, 0, 0));
    }
    /* a hand value: 1.5 + 2.25 = 3.75, 1.5 / 0.5 = 3 */
    float x = 1.5f, y = 2.25f, h = 0.5f, o = 0;
    for (int l = CG_CPU_BASELINE; l < CG_CPU_LEVELS; l++) {
        if (!cg_cpu_level_supported((cg_cpu_level)l)) continue;
        table((cg_cpu_level)l)->binary(CG_B_ADD, &o, &x, &y, 1, false, false, 0, 0);
        assert_true(o == 3.75f);
        table((cg_cpu_level)l)->binary(CG_B_DIV, &o, &x, &h, 1, false, true, 0, 0);
        assert_true(o == 3.0f);
    }
}

/* fastai's Adam block at every level: the baseline's scalar loop's bits,
 * weight decay on, two steps so the averages are nonzero going in. */
static void test_adam_levels(void **state) {
    (void)state;
    static float g[N], p0[N], want_p[N], want_a[N], want_s[N], got_p[N], got_a[N], got_s[N];
    inputs(g, -3, 3);
    inputs(p0, -1, 1);
    const cg_adam_coef c = {.f = 0.999f, .m = 0.9f, .dm = 0.1f, .s = 0.99f, .ds = 0.01f, .a = -1e-3f,
                            .debias2 = 0.0199f, .eps = 1e-5f};
    for (int l = CG_CPU_BASELINE; l < CG_CPU_LEVELS; l++) {
        if (!cg_cpu_level_supported((cg_cpu_level)l)) continue;
        float *pp = l == CG_CPU_BASELINE ? want_p : got_p, *aa = l == CG_CPU_BASELINE ? want_a : got_a;
        float *ss = l == CG_CPU_BASELINE ? want_s : got_s;
        memcpy(pp, p0, sizeof p0);
        memset(aa, 0, sizeof want_a), memset(ss, 0, sizeof want_s);
        for (int step = 0; step < 2; step++) table((cg_cpu_level)l)->adam(pp, g, aa, ss, N, &c);
        if (l == CG_CPU_BASELINE) continue;
        const char *name = cg_cpu_level_name((cg_cpu_level)l);
        assert_ulps("adam p", name, got_p, want_p, 0);
        assert_ulps("adam grad_avg", name, got_a, want_a, 0);
        assert_ulps("adam sqr_avg", name, got_s, want_s, 0);
    }
    /* by hand, one element, one step from zero averages: avg = 0.1*2 = 0.2,
     * sqr = 0.01*2*2 = 0.04, p = 1*0.999 - 1e-3 * 0.2/(sqrt(0.04/0.0199) + 1e-5) */
    float p = 1, gg = 2, av = 0, sq = 0;
    cg_cpu_vec_baseline.adam(&p, &gg, &av, &sq, 1, &c);
    assert_float_equal(p, 0.999 - 1e-3 * 0.2 / (sqrt(0.04 / 0.0199) + 1e-5), 1e-6);
}

static void test_sums_levels(void **state) {
    (void)state;
    enum { ROWS = 37 };
    static float x[ROWS][N];
    const float *rows[ROWS];
    for (int r = 0; r < ROWS; r++) {
        inputs(x[r], -1 - r, 1 + r);
        rows[r] = x[r];
    }
    static double want[N], got[N];
    memset(want, 0, sizeof want);
    cg_cpu_vec_baseline.accumulate(want, rows, ROWS, N);
    /* by hand for one column: the rows added in order in double */
    double col = 0;
    for (int r = 0; r < ROWS; r++) col += x[r][5];
    assert_true(want[5] == col);
    double sum0 = 0;
    for (int i = 0; i < N; i++) sum0 += x[0][i];
    for (int l = CG_CPU_BASELINE; l < CG_CPU_LEVELS; l++) {
        if (!cg_cpu_level_supported((cg_cpu_level)l)) continue;
        memset(got, 0, sizeof got);
        table((cg_cpu_level)l)->accumulate(got, rows, ROWS, N);
        assert_memory_equal(got, want, sizeof got); /* same order at every width */
        double s = table((cg_cpu_level)l)->sum(x[0], N);
        assert_true(fabs(s - sum0) <= 1e-12 * (fabs(sum0) + 1));
    }
}

/* Through the tensor API: the kernels use the level that is set. */
static void test_ops_at_each_level(void **state) {
    (void)state;
    cg_manual_seed(7);
    cg_scope_begin();
    cg_tensor *stack = cg_rand(NULL, CG_SHAPE(611, 28, 28));
    cg_tensor *x = cg_sub_s(cg_mul_s(cg_rand(NULL, CG_SHAPE(12396, 1)), 40), 20);
    assert_non_null(stack);
    assert_non_null(x);
    assert_true(cg_cpu_level_set(CG_CPU_BASELINE));
    cg_tensor *m0 = cg_mean(stack, (int[]){0}, 1, false), *s0 = cg_sigmoid(x);
    assert_non_null(m0);
    assert_non_null(s0);
    /* mean(0) by hand in double for one pixel */
    const float *sv = cg_data_f32(stack);
    double px = 0;
    for (int i = 0; i < 611; i++) px += sv[(int64_t)i * 784 + 123];
    assert_true(fabs(cg_data_f32(m0)[123] - px / 611) < 1.2e-7); /* 2 float ULPs at ~0.5 */
    for (int l = CG_CPU_AVX2; l < CG_CPU_LEVELS; l++) {
        if (!cg_cpu_level_set((cg_cpu_level)l)) continue;
        cg_tensor *m = cg_mean(stack, (int[]){0}, 1, false), *s = cg_sigmoid(x);
        assert_non_null(m);
        assert_non_null(s);
        assert_memory_equal(cg_data_f32(m), cg_data_f32(m0), 784 * sizeof(float));
        for (int i = 0; i < 12396; i++)
            if (fabsf(cg_data_f32(s)[i] - cg_data_f32(s0)[i]) > 3.6e-7f * cg_data_f32(s0)[i] + 1e-30f)
                fail_msg("sigmoid at %s: [%d] %.9g, baseline %.9g", cg_cpu_level_name((cg_cpu_level)l), i,
                         cg_data_f32(s)[i], cg_data_f32(s0)[i]);
    }
    cg_scope_end();
    cg_cpu_level_set(CG_CPU_BASELINE);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_names_and_levels),
        cmocka_unit_test(test_unary_levels),
        cmocka_unit_test(test_binary_levels),
        cmocka_unit_test(test_sums_levels),
        cmocka_unit_test(test_adam_levels),
        cmocka_unit_test(test_ops_at_each_level),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
