/* Calling the backend: from tensors to descriptors and the table.
 *
 * The ops and autograd floors run every loop over tensor data through these.
 * Each cg_k_* builds plain descriptors (cg_kview) of its tensors and calls
 * the entry of the backend that owns their storage, read from
 * storage->device (kernels/backend.h).  Entries on raw pointers (gemm, the
 * loss rows, the optimizer updates) are called as cg_backend_of(t)->entry().
 * All operands of one call live on one device: the ops floor makes outputs
 * on its inputs' device. */
#ifndef CGRAD_CORE_DISPATCH_H
#define CGRAD_CORE_DISPATCH_H

#include "cgrad/tensor.h"
#include "kernels/backend.h"

/* The descriptor of t: its data pointer (offset applied), dtype, shape, strides. */
cg_kview cg_kview_of(const cg_tensor *t);
/* The backend of t's storage (never NULL for a tensor cgrad made). */
const cg_backend *cg_backend_of(const cg_tensor *t);

void cg_k_fill(cg_tensor *t, double v);
void cg_k_copy(cg_tensor *dst, const cg_tensor *src);
void cg_k_unary(cg_unary_op op, cg_tensor *out, const cg_tensor *in, double p0, double p1);
void cg_k_binary(cg_binary_op op, cg_tensor *out, const cg_tensor *a, const cg_tensor *b,
                 double p0, double p1);
void cg_k_where(cg_tensor *out, const cg_tensor *cond, const cg_tensor *a, const cg_tensor *b);
/* index may be NULL (sums) */
void cg_k_reduce(cg_reduce_op op, cg_tensor *out, cg_tensor *index, const cg_tensor *in,
                 unsigned mask);
void cg_k_reduce_index_backward(cg_tensor *gx, const cg_tensor *g, const cg_tensor *index,
                                unsigned mask);

/* Element access through a host copy of one element (any device, any dtype);
 * offset counts elements from element 0 of t. */
double cg_k_read(const cg_tensor *t, int64_t offset);
void cg_k_write(cg_tensor *t, int64_t offset, double v);

/* Host access to all of t's data, for code that must walk it on the host
 * (printing, random fills in PyTorch's order).  Returns a host pointer to t's
 * element 0, valid for t's strides: t's own memory on the CPU, otherwise a
 * host copy of its whole storage.  cg_host_end releases it, copying it back
 * to the device first when write_back.  NULL (message set) when out of memory. */
void *cg_host_begin(const cg_tensor *t);
void cg_host_end(const cg_tensor *t, void *host, bool write_back);

#endif
