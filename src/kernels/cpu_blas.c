/* CPU matrix kernels: GEMM through OpenBLAS, and row-wise log-softmax. */
#include <cblas.h>
#include <math.h>

#include "kernels/cpu_iter.h"
#include "kernels/kernels.h"

void cg_k_gemm(bool trans_a, bool trans_b, int64_t m, int64_t n, int64_t k, float alpha,
               const float *a, int64_t lda, const float *b, int64_t ldb, float beta, float *c,
               int64_t ldc) {
    if (m == 0 || n == 0) return;
    if (k == 0) { /* BLAS leaves C untouched when k is 0 only if beta is 1 */
        for (int64_t i = 0; i < m; i++)
            for (int64_t j = 0; j < n; j++) c[i * ldc + j] = beta == 0 ? 0 : beta * c[i * ldc + j];
        return;
    }
    /* Matrix-vector products (the chapter's train_x@weights is [12396,784]@[784,1])
     * go to sgemv: OpenBLAS's sgemm packs the whole matrix first, ~4x slower. */
    if (n == 1) { /* c[:,0] = op(A) @ x, x[k] = op(B)[k,0] */
        cblas_sgemv(CblasRowMajor, trans_a ? CblasTrans : CblasNoTrans, (blasint)(trans_a ? k : m),
                    (blasint)(trans_a ? m : k), alpha, a, (blasint)lda, b, (blasint)(trans_b ? 1 : ldb), beta,
                    c, (blasint)ldc);
        return;
    }
    if (m == 1) { /* c[0,:] = op(B)^T @ x, x[k] = op(A)[0,k] */
        cblas_sgemv(CblasRowMajor, trans_b ? CblasNoTrans : CblasTrans, (blasint)(trans_b ? n : k),
                    (blasint)(trans_b ? k : n), alpha, b, (blasint)ldb, a, (blasint)(trans_a ? lda : 1), beta,
                    c, 1);
        return;
    }
    cblas_sgemm(CblasRowMajor, trans_a ? CblasTrans : CblasNoTrans, trans_b ? CblasTrans : CblasNoTrans,
                (blasint)m, (blasint)n, (blasint)k, alpha, a, (blasint)lda, b, (blasint)ldb, beta, c,
                (blasint)ldc);
}

void cg_k_log_softmax_rows(float *out, const float *in, int64_t rows, int64_t cols) {
    ND_PARALLEL_FOR_IF(rows * cols >= 65536,
        for (int64_t r = 0; r < rows; r++) {
            const float *x = in + r * cols;
            float *y = out + r * cols;
            float mx = -INFINITY;
            for (int64_t j = 0; j < cols; j++) mx = x[j] > mx ? x[j] : mx;
            double s = 0;
            for (int64_t j = 0; j < cols; j++) s += exp((double)(x[j] - mx));
            float lse = mx + (float)log(s);
            for (int64_t j = 0; j < cols; j++) y[j] = x[j] - lse;
        }
    );
}
