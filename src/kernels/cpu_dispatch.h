/* Run-time CPU dispatch of the hot elementwise and reduction loops.
 *
 * One build runs on every x86-64 machine (CGRAD_NATIVE is off by default),
 * so the loops that gain from wide vectors are compiled three times from
 * one source, kernels/cpu_vec_impl.h:
 *   - baseline  (cpu_vec_base.c):   x86-64's SSE2, scalar libm for exp/log/tanh;
 *   - avx2      (cpu_vec_avx2.c):   -mavx2 -mfma, SLEEF's 8-lane functions;
 *   - avx512    (cpu_vec_avx512.c): -mavx512f/dq/bw/vl, SLEEF's 16-lane ones.
 * The first call picks the widest level the CPU supports
 * (__builtin_cpu_supports); CGRAD_CPU=baseline|avx2|avx512 forces a lower
 * one (a level the CPU lacks falls back to the best it has), so the tests
 * and the benchmark can run every path on a machine that has them.
 *
 * The variants are compiled with -ffp-contract=off: +, -, *, / give the same
 * bits at every level.  What may differ: exp/log/sigmoid/tanh (SLEEF's u10
 * functions, within 1 ULP, against glibc's, within 1 ULP: the two can round
 * differently) and the contiguous double-precision sum, whose order follows
 * the vector width (differences far below float precision). */
#ifndef CGRAD_CPU_DISPATCH_H
#define CGRAD_CPU_DISPATCH_H

#include <stdbool.h>
#include <stdint.h>

#include "kernels/backend.h"
#include "kernels/cpu_nn_threads.h"

typedef enum cg_cpu_level { CG_CPU_BASELINE, CG_CPU_AVX2, CG_CPU_AVX512, CG_CPU_LEVELS } cg_cpu_level;

/* Adam's per-step constants, in float (cpu_optim.c computes them once per parameter). */
typedef struct cg_adam_coef {
    float f, m, dm, s, ds, a, debias2, eps;
} cg_adam_coef;

/* The loops one level provides.  All operands contiguous. */
typedef struct cg_cpu_vec {
    /* o[i] = op(x[i]) for the float32 unary ops (p0, p1 as in cg_cpu_unary) */
    void (*unary)(cg_unary_op op, float *o, const float *x, int64_t n, float p0, float p1);
    /* o[i] = op(a[i], b[i]) for the float32 ops with a float32 result
     * (everything but the comparisons); a_scalar / b_scalar: that operand is
     * one value used for every i.  Returns false for an op it does not do. */
    bool (*binary)(cg_binary_op op, float *o, const float *a, const float *b, int64_t n, bool a_scalar,
                   bool b_scalar, float p0, float p1);
    /* acc[i] += x[r][i] for r < nrows in order, i < n: the kept-rows sum (mean(0)) */
    void (*accumulate)(double *acc, const float *const *x, int nrows, int64_t n);
    /* the sum of x[0..n) in double */
    double (*sum)(const float *x, int64_t n);
    /* One block of fastai's Adam (cpu_optim.c): per i, p = p*f, then
     * avg = avg*m + dm*g, sqr = sqr*s + (ds*g)*g, p += a*(avg/(sqrt(sqr/debias2)+eps)),
     * each operation rounded in float in that order, so every level gives the same bits. */
    void (*adam)(float *p, const float *g, float *avg, float *sqr, int64_t n, const cg_adam_coef *c);
} cg_cpu_vec;

extern const cg_cpu_vec cg_cpu_vec_baseline, cg_cpu_vec_avx2, cg_cpu_vec_avx512;

/* The level in use (decided at the first call, from the CPU and CGRAD_CPU). */
cg_cpu_level cg_cpu_level_active(void);
/* The loops of the level in use. */
const cg_cpu_vec *cg_cpu_vec_active(void);
/* Whether this CPU can run `level`. */
bool cg_cpu_level_supported(cg_cpu_level level);
/* Switches to `level` (for tests and benchmarks); false if the CPU lacks it. */
bool cg_cpu_level_set(cg_cpu_level level);
/* "baseline", "avx2", "avx512" */
const char *cg_cpu_level_name(cg_cpu_level level);

/* Thread choice for the elementwise/reduction kernels under load: the
 * per-call chooser of kernels/cpu_nn_threads.h (time on one thread against
 * all threads, the faster kept, the other re-measured now and then), one
 * tuner per kernel family and size class. */
enum { CG_EW_TUNE_UNARY, CG_EW_TUNE_BINARY, CG_EW_TUNE_COPY, CG_EW_TUNE_REDUCE, CG_EW_TUNE_ROWS, CG_EW_TUNE_SOFTMAX,
       CG_EW_TUNE_KINDS };
cg_nn_tuner *cg_cpu_ew_tuner(int kind, int64_t elements);

#endif
