/* core/shape_check.c — overflow-checked products of sizes (see shape_check.h). */
#include "core/shape_check.h"

bool cg_mul_overflow_size(size_t a, size_t b, size_t *out) {
    size_t r;
    if (__builtin_mul_overflow(a, b, &r)) return false;
    *out = r;
    return true;
}

bool cg_mul_overflow_i64(int64_t a, int64_t b, int64_t *out) {
    int64_t r;
    if (__builtin_mul_overflow(a, b, &r)) return false;
    *out = r;
    return true;
}

bool cg_shape_numel_checked(int ndim, const int64_t *shape, int64_t *out) {
    if (ndim < 0 || (ndim > 0 && !shape)) return false;
    /* The product of the non-zero sizes must fit too, even when a zero makes
     * the count 0: contiguous strides are that product, and [0, 2^40, 2^40]
     * would overflow them. */
    int64_t n = 1;
    bool zero = false;
    for (int d = 0; d < ndim; d++) {
        if (shape[d] < 0) return false;
        if (shape[d] == 0) zero = true;
        else if (!cg_mul_overflow_i64(n, shape[d], &n)) return false;
    }
    *out = zero ? 0 : n;
    return true;
}

bool cg_shape_bytes_checked(int ndim, const int64_t *shape, size_t elem_size, size_t *out) {
    int64_t n;
    if (!cg_shape_numel_checked(ndim, shape, &n)) return false;
    size_t bytes;
    if ((uint64_t)n > SIZE_MAX || !cg_mul_overflow_size((size_t)n, elem_size, &bytes)) return false;
    if (bytes > CG_MAX_ALLOC_BYTES) return false;
    *out = bytes;
    return true;
}
