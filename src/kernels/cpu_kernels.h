/* The CPU backend's functions, one per entry of its table (kernels/cpu_backend.c).
 * See kernels/backend.h for what each computes; here only what is CPU-specific. */
#ifndef CGRAD_CPU_KERNELS_H
#define CGRAD_CPU_KERNELS_H

#include "kernels/backend.h"

/* memory (kernels/cpu_alloc.c): a caching allocator, see there */
void *cg_cpu_alloc(size_t nbytes);
void cg_cpu_free(void *p, size_t nbytes);
size_t cg_cpu_mem_in_use(void);
size_t cg_cpu_mem_cached(void);
void cg_cpu_trim(void);

/* elementwise (kernels/cpu_elementwise.c) */
void cg_cpu_fill(const cg_kview *t, double v);
void cg_cpu_copy(const cg_kview *dst, const cg_kview *src);
/* o[r*os + i] = x[r + i*xs] for r < rows, i < n: a float transpose in
 * cache tiles of SSE 4x4 blocks (cpu_elementwise.c); also the layout
 * conversions' per-plane step (cpu_layout.c). */
void cg_cpu_copy_transposed(float *o, int64_t os, const float *x, int64_t xs, int64_t rows, int64_t n);
void cg_cpu_arange(const cg_kview *t, double start, double step);
void cg_cpu_linspace(const cg_kview *t, double start, double end);
void cg_cpu_unary(cg_unary_op op, const cg_kview *out, const cg_kview *in, double p0, double p1);
void cg_cpu_binary(cg_binary_op op, const cg_kview *out, const cg_kview *a, const cg_kview *b,
                   double p0, double p1);
void cg_cpu_where(const cg_kview *out, const cg_kview *cond, const cg_kview *a, const cg_kview *b);

/* reductions (kernels/cpu_reduce.c) */
void cg_cpu_reduce(cg_reduce_op op, const cg_kview *out, const cg_kview *index, const cg_kview *in,
                   unsigned mask);
void cg_cpu_reduce_index_backward(const cg_kview *gx, const cg_kview *g, const cg_kview *index,
                                  unsigned mask);

/* matrices and rows (kernels/cpu_blas.c, kernels/cpu_loss.c) */
void cg_cpu_gemm(bool trans_a, bool trans_b, int64_t m, int64_t n, int64_t k, float alpha,
                 const float *a, int64_t lda, const float *b, int64_t ldb, float beta, float *c,
                 int64_t ldc);
/* How many pieces cg_cpu_gemm cuts an (m,k)@(k,n) product into, along the
 * longer of m and n: a function of the shape alone, so the result's bits do
 * not depend on the thread count (cpu_blas.c). */
int64_t cg_cpu_gemm_pieces(int64_t m, int64_t n, int64_t k);
void cg_cpu_log_softmax_rows(float *out, const float *in, int64_t rows, int64_t cols);
int64_t cg_cpu_nll_loss(float *out, const float *logp, const int64_t *target, int64_t rows,
                        int64_t cols);
void cg_cpu_nll_loss_backward(float *gx, const int64_t *target, int64_t rows, int64_t cols, double g);

/* fused optimizer updates (kernels/cpu_optim.c) */
void cg_cpu_axpy(float *p, const float *x, int64_t n, double alpha);
void cg_cpu_sgd_update(float *p, const float *g, float *grad_avg, int64_t n, const cg_sgd_args *a);
void cg_cpu_adam_update(float *p, const float *g, float *grad_avg, float *sqr_avg, int64_t n,
                        const cg_adam_args *a);

#endif
