/* core/shape_check.h — overflow-checked size arithmetic (internal).
 *
 * Every size that comes from a file, a flag or a caller is multiplied through
 * these before anything is allocated, so a shape like [2^40, 2^40] or a
 * hidden width of 2^62 fails with a message instead of wrapping around to a
 * small buffer that the full size is then written into.  Usable from every
 * floor above the kernels (plain integers only, no tensors). */
#ifndef CGRAD_CORE_SHAPE_CHECK_H
#define CGRAD_CORE_SHAPE_CHECK_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* The largest byte size cgrad allocates in one piece: PTRDIFF_MAX, so pointer
 * differences inside a buffer are always defined. */
#define CG_MAX_ALLOC_BYTES ((size_t)PTRDIFF_MAX)

/* *out = a * b; false (and *out untouched) when the product does not fit. */
bool cg_mul_overflow_size(size_t a, size_t b, size_t *out);
bool cg_mul_overflow_i64(int64_t a, int64_t b, int64_t *out);

/* The element count of shape[0..ndim) in *out.  False when a size is negative
 * or the product of the non-zero sizes does not fit int64_t (so contiguous
 * strides fit too).  An empty shape is 1 element; a zero size makes 0. */
bool cg_shape_numel_checked(int ndim, const int64_t *shape, int64_t *out);

/* The byte size numel(shape) * elem_size in *out.  False on a negative size,
 * on overflow, or above CG_MAX_ALLOC_BYTES. */
bool cg_shape_bytes_checked(int ndim, const int64_t *shape, size_t elem_size, size_t *out);

#endif
