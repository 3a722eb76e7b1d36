/* The vector loops of one dispatch level (see cpu_dispatch.h).  Included
 * once by each of cpu_vec_base.c, cpu_vec_avx2.c and cpu_vec_avx512.c, which
 * define CG_VEC_TABLE (the table's name) and are compiled with that level's
 * -m flags; the loops are plain C that the compiler vectorises for the
 * level, except exp/log/sigmoid/tanh, which call SLEEF on AVX2 and AVX-512.
 *
 * SLEEF (libsleef-dev 3.5): Sleef_expf8_u10avx2 / Sleef_expf16_u10avx512f,
 * and the logf / tanhf of the same names, are its "u10" functions: at most
 * 1.0 ULP from the correctly rounded result (SLEEF's documented bound;
 * glibc's expf/logf are below 1 ULP too, so single results may differ by
 * one ULP between levels).  PyTorch's CPU kernels call the same u10
 * functions (ATen's Vectorized<float>::exp/log/tanh), and its sigmoid is
 * 1 / (1 + exp(-x)) on them, which is what the vector sigmoid computes.
 * Measured on the 2-core Xeon (Sapphire Rapids, one thread, sigmoid of
 * [12396,1]): glibc scalar 0.069 ms; SLEEF AVX2 and AVX-512: see
 * README's Benchmarks. */
#ifndef CG_VEC_TABLE
#error "define CG_VEC_TABLE before including cpu_vec_impl.h"
#endif

#include <math.h>
#include <string.h>

#include "kernels/cpu_dispatch.h"

#if defined(CG_VEC_BASELINE)
/* the reference: scalar libm, whatever -march says */
#elif defined(__AVX512F__)
#include <immintrin.h>
#include <sleef.h>
#define VW 16
typedef __m512 vf;
#define VLOAD _mm512_loadu_ps
#define VSTORE _mm512_storeu_ps
#define VSET1 _mm512_set1_ps
#define VADD _mm512_add_ps
#define VSUB _mm512_sub_ps
#define VDIV _mm512_div_ps
#define VMUL _mm512_mul_ps
#define VSQRT _mm512_sqrt_ps
#define VEXP Sleef_expf16_u10avx512f
#define VLOG Sleef_logf16_u10avx512f
#define VTANH Sleef_tanhf16_u10avx512f
#elif defined(__AVX2__)
#include <immintrin.h>
#include <sleef.h>
#define VW 8
typedef __m256 vf;
#define VLOAD _mm256_loadu_ps
#define VSTORE _mm256_storeu_ps
#define VSET1 _mm256_set1_ps
#define VADD _mm256_add_ps
#define VSUB _mm256_sub_ps
#define VDIV _mm256_div_ps
#define VMUL _mm256_mul_ps
#define VSQRT _mm256_sqrt_ps
#define VEXP Sleef_expf8_u10avx2
#define VLOG Sleef_logf8_u10avx2
#define VTANH Sleef_tanhf8_u10avx2
#endif

#ifdef VW
/* PyTorch's sigmoid: 1 / (1 + exp(-x)); exp(-x) = inf for x < -88 gives 0. */
static inline vf vsigmoid(vf x) {
    const vf one = VSET1(1.0f);
    return VDIV(one, VADD(one, VEXP(VSUB(VSET1(0.0f), x))));
}
/* o[i] = FN(x[i]); the last n % VW elements go through one padded vector,
 * so every element gets the same function whatever its position. */
#define MAP_VEC(FN)                                                       \
    do {                                                                  \
        int64_t i = 0;                                                    \
        for (; i + VW <= n; i += VW) VSTORE(o + i, FN(VLOAD(x + i)));     \
        if (i < n) {                                                      \
            float buf[VW] = {0};                                          \
            memcpy(buf, x + i, (size_t)(n - i) * sizeof(float));          \
            VSTORE(buf, FN(VLOAD(buf)));                                  \
            memcpy(o + i, buf, (size_t)(n - i) * sizeof(float));          \
        }                                                                 \
    } while (0)
#endif

/* the baseline's scalar sigmoid: never exponentiates a large positive number */
static inline float sigmoid_scalar(float x) {
    if (x >= 0) return 1.0f / (1.0f + expf(-x));
    float e = expf(x);
    return e / (1.0f + e);
}

#define MAP(EXPR)                                                         \
    for (int64_t i = 0; i < n; i++) {                                     \
        float v = x[i];                                                   \
        o[i] = (EXPR);                                                    \
    }

static void vec_unary(cg_unary_op op, float *o, const float *x, int64_t n, float a, float b) {
    switch (op) {
    case CG_U_NEG: MAP(-v) break;
    case CG_U_ABS: MAP(fabsf(v)) break;
    case CG_U_SQRT: MAP(sqrtf(v)) break;
    case CG_U_RELU: MAP(v > 0 ? v : 0.0f) break;
    case CG_U_AFFINE: MAP(v * a + b) break;
    case CG_U_CLAMP: MAP(fminf(fmaxf(v, a), b)) break;
    case CG_U_POW:
        if (a == 2.0f) MAP(v * v)
        else MAP(powf(v, a))
        break;
#ifdef VW
    case CG_U_EXP: MAP_VEC(VEXP); break;
    case CG_U_LOG: MAP_VEC(VLOG); break;
    case CG_U_TANH: MAP_VEC(VTANH); break;
    case CG_U_SIGMOID: MAP_VEC(vsigmoid); break;
#else
    case CG_U_EXP: MAP(expf(v)) break;
    case CG_U_LOG: MAP(logf(v)) break;
    case CG_U_TANH: MAP(tanhf(v)) break;
    case CG_U_SIGMOID: MAP(sigmoid_scalar(v)) break;
#endif
    }
}

/* The same expressions as cpu_elementwise.c's strided loops, so each level
 * gives the same bits (no contraction: -ffp-contract=off). */
#define BIN(EXPR)                                                                    \
    do {                                                                             \
        if (b_scalar) {                                                              \
            const float y = pb[0];                                                   \
            for (int64_t i = 0; i < n; i++) { float x = pa[i]; o[i] = (EXPR); }      \
        } else if (a_scalar) {                                                       \
            const float x = pa[0];                                                   \
            for (int64_t i = 0; i < n; i++) { float y = pb[i]; o[i] = (EXPR); }      \
        } else {                                                                     \
            for (int64_t i = 0; i < n; i++) { float x = pa[i], y = pb[i]; o[i] = (EXPR); } \
        }                                                                            \
    } while (0)

static bool vec_binary(cg_binary_op op, float *o, const float *pa, const float *pb, int64_t n, bool a_scalar,
                       bool b_scalar, float p0, float p1) {
    switch (op) {
    case CG_B_ADD: BIN(x + y); return true;
    case CG_B_SUB: BIN(x - y); return true;
    case CG_B_MUL: BIN(x * y); return true;
    case CG_B_DIV: BIN(x / y); return true;
    case CG_B_MAX: BIN((x > y || isnan(x)) ? x : y); return true;
    case CG_B_MIN: BIN((x < y || isnan(x)) ? x : y); return true;
    case CG_B_RELU_BACK: BIN(y > 0 ? x : 0.0f); return true;
    case CG_B_SIGMOID_BACK: BIN(x * y * (1.0f - y)); return true;
    case CG_B_TANH_BACK: BIN(x * (1.0f - y * y)); return true;
    case CG_B_ABS_BACK: BIN(y > 0 ? x : (y < 0 ? -x : 0.0f)); return true;
    case CG_B_SQRT_BACK: BIN(x * 0.5f / y); return true;
    case CG_B_CLAMP_BACK: BIN((y >= p0 && y <= p1) ? x : 0.0f); return true;
    case CG_B_POW_BACK:
        if (p0 != 2.0f) return false;
        BIN(x * 2.0f * y);
        return true;
    default: return false;
    }
}

/* acc[i] += x[0][i], then x[1][i], ...: the rows added in order, in double,
 * eight at a time so acc stays in registers across them (the same order and
 * bits as one row at a time). */
static void vec_accumulate(double *acc, const float *const *x, int nrows, int64_t n) {
    int r = 0;
    for (; r + 8 <= nrows; r += 8) {
        const float *x0 = x[r], *x1 = x[r + 1], *x2 = x[r + 2], *x3 = x[r + 3];
        const float *x4 = x[r + 4], *x5 = x[r + 5], *x6 = x[r + 6], *x7 = x[r + 7];
        for (int64_t i = 0; i < n; i++) {
            double a = acc[i];
            a += x0[i], a += x1[i], a += x2[i], a += x3[i];
            a += x4[i], a += x5[i], a += x6[i], a += x7[i];
            acc[i] = a;
        }
    }
    for (; r < nrows; r++) {
        const float *x0 = x[r];
        for (int64_t i = 0; i < n; i++) acc[i] += x0[i];
    }
}

static double vec_sum(const float *x, int64_t n) {
    double s = 0;
    /* simd: lets the compiler split the chain of dependent adds */
#pragma omp simd reduction(+ : s)
    for (int64_t i = 0; i < n; i++) s += x[i];
    return s;
}

/* Adam's block (cg_cpu_vec.adam): memory-bound on one core (7 floats moved
 * per parameter), but on x86-64's baseline the 4-lane sqrt and divide
 * cost ~7% more than AVX-512's 16 lanes (11.7M parameters, resnet18 with
 * its head: 16.8 -> 15.6 ms a step, one thread).  Written with intrinsics,
 * not left to the compiler: these files are built with math-errno, which
 * keeps sqrtf scalar.  Same operations in the same order as the scalar
 * loop, no fused multiply-adds: the same bits. */
static inline void adam_one(float *p, const float *g, float *avg, float *sqr, int64_t i, const cg_adam_coef *c) {
    float pi = p[i] * c->f;
    float gi = g[i];
    float av = avg[i] * c->m + c->dm * gi;
    float sq = sqr[i] * c->s + c->ds * gi * gi;
    avg[i] = av;
    sqr[i] = sq;
    p[i] = pi + c->a * (av / (sqrtf(sq / c->debias2) + c->eps));
}

static void vec_adam(float *p, const float *g, float *avg, float *sqr, int64_t n, const cg_adam_coef *c) {
    int64_t i = 0;
#ifdef VW
    const vf f = VSET1(c->f), m = VSET1(c->m), dm = VSET1(c->dm), s = VSET1(c->s), ds = VSET1(c->ds);
    const vf a = VSET1(c->a), d2 = VSET1(c->debias2), eps = VSET1(c->eps);
    for (; i + VW <= n; i += VW) {
        vf pi = VMUL(VLOAD(p + i), f), gi = VLOAD(g + i);
        vf av = VADD(VMUL(VLOAD(avg + i), m), VMUL(dm, gi));
        vf sq = VADD(VMUL(VLOAD(sqr + i), s), VMUL(VMUL(ds, gi), gi));
        VSTORE(avg + i, av);
        VSTORE(sqr + i, sq);
        VSTORE(p + i, VADD(pi, VMUL(a, VDIV(av, VADD(VSQRT(VDIV(sq, d2)), eps)))));
    }
#endif
    for (; i < n; i++) adam_one(p, g, avg, sqr, i, c);
}

const cg_cpu_vec CG_VEC_TABLE = {vec_unary, vec_binary, vec_accumulate, vec_sum, vec_adam};
