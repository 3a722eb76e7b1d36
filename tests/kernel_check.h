/* Helpers shared by the tests that hold a fast conv kernel to the double
 * reference (test_conv_winograd.c, test_conv_winograd_s2.c, test_nn_kernels.c,
 * test_thread_bits.c): deterministic inputs, buffers, the relative error, and
 * moving a buffer into and out of the blocked layouts (nChw8c / nChw16c) the
 * network keeps.  Include after cmocka.h. */
#ifndef CGRAD_TESTS_KERNEL_CHECK_H
#define CGRAD_TESTS_KERNEL_CHECK_H

#include <math.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "kernels/nn_kernels.h"

/* value[i] = scale * sin(a*i + b): deterministic, no two values alike. */
static inline float *sines(int64_t n, double a, double b, double scale) {
    float *v = malloc((size_t)(n > 0 ? n : 1) * sizeof *v);
    assert_non_null(v);
    for (int64_t i = 0; i < n; i++) v[i] = (float)(scale * sin(a * (double)i + b));
    return v;
}

/* n floats, uninitialised (at least one, so that an empty shape still gets a pointer) */
static inline float *alloc_f(int64_t n) {
    float *v = malloc((size_t)(n > 0 ? n : 1) * sizeof *v);
    assert_non_null(v);
    return v;
}

/* max |a - b| / max |b| (a NaN in a gives infinity) */
static inline double rel_err(int64_t n, const float *a, const float *b) {
    double e = 0, m = 0;
    for (int64_t i = 0; i < n; i++) {
        double d = fabs((double)a[i] - b[i]);
        if (d > e || d != d) e = d != d ? INFINITY : d;
        if (fabs(b[i]) > m) m = fabs(b[i]);
    }
    return m > 0 ? e / m : e;
}

/* out <- plain (n, c, s) in channel blocks of `block` (0: plain, copied) */
static inline void to_layout(int64_t block, int64_t n, int64_t c, int64_t s, const float *plain, float *out) {
    if (block) cg_layout_plain_to_blocked(block, n, c, s, plain, out);
    else memcpy(out, plain, (size_t)(n * c * s) * sizeof *out);
}

/* plain (n, c, s) <- in, in channel blocks of `block` (0: plain, copied) */
static inline void from_layout(int64_t block, int64_t n, int64_t c, int64_t s, const float *in, float *plain) {
    if (block) cg_layout_blocked_to_plain(block, n, c, s, in, plain);
    else memcpy(plain, in, (size_t)(n * c * s) * sizeof *plain);
}

#endif
