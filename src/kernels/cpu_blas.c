/* CPU matrix kernel: GEMM through oneDNN's dnnl_sgemm, or OpenBLAS's
 * cblas_sgemm/sgemv where CGRAD_GEMM=openblas asks for it.
 *
 * Why oneDNN by default: OpenBLAS picks its kernels by CPU model, and
 * Debian's 0.3.21 does not know newer Xeons (family 6 model 207 here): it
 * runs its SSE3 "Prescott" kernels on them.  bench_core's matmul rows, one
 * thread (README, "Which GEMM"): 1024^3 16.7 ms on oneDNN, 142 on OpenBLAS,
 * 19.7 with OpenBLAS's SkylakeX kernels forced; simple_net's
 * [256,784]@[784,30] 0.099 / 0.549 / 0.158 ms.
 * oneDNN dispatches on the CPU at run time as OpenBLAS does (AVX-512, AVX2). */
#include <cblas.h>
#include <omp.h>
#include <oneapi/dnnl/dnnl.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>

#include "kernels/cpu_kernels.h"

/* Between these sizes (multiply-adds) cg_cpu_gemm splits the work itself. */
#define GEMM_SPLIT_MIN_MACS (256LL * 1024)
#define GEMM_SPLIT_MAX_MACS (64LL * 1024 * 1024)

static bool use_openblas;
static pthread_once_t choice_once = PTHREAD_ONCE_INIT;

static void choose_gemm(void) {
    const char *e = getenv("CGRAD_GEMM");
    use_openblas = e && strcmp(e, "openblas") == 0;
}

/* Row-major C[m,n] = alpha op(A)[m,k] op(B)[k,n] + beta C, on the calling
 * thread's OpenMP team (one thread inside an active parallel region). */
static void gemm_plain(bool trans_a, bool trans_b, int64_t m, int64_t n, int64_t k, float alpha,
                       const float *a, int64_t lda, const float *b, int64_t ldb, float beta, float *c,
                       int64_t ldc) {
    if (!use_openblas) {
        dnnl_sgemm(trans_a ? 'T' : 'N', trans_b ? 'T' : 'N', m, n, k, alpha, a, lda, b, ldb, beta, c, ldc);
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

void cg_cpu_gemm(bool trans_a, bool trans_b, int64_t m, int64_t n, int64_t k, float alpha,
                 const float *a, int64_t lda, const float *b, int64_t ldb, float beta, float *c,
                 int64_t ldc) {
    if (m == 0 || n == 0) return;
    if (k == 0) { /* BLAS leaves C untouched when k is 0 only if beta is 1 */
        for (int64_t i = 0; i < m; i++)
            for (int64_t j = 0; j < n; j++) c[i * ldc + j] = beta == 0 ? 0 : beta * c[i * ldc + j];
        return;
    }
    pthread_once(&choice_once, choose_gemm);
    /* Mid-sized products (simple_net's [256,784]@[784,30] and its weight
     * gradient) ran slower on OpenBLAS's own 2 threads than on one (measured:
     * 0.63 vs 0.35 ms per training step).  Split them ourselves into one
     * block of rows (or columns) per thread: inside an active OpenMP region
     * the GEMM runs single-threaded, so each thread does one plain GEMM.  The
     * split is along m or n, never k, and fixed by the thread count, so the
     * bits depend on the thread count alone. */
    int threads = omp_get_max_threads();
    int64_t macs = m * n * k;
    if (threads > 1 && !omp_in_parallel() && macs >= GEMM_SPLIT_MIN_MACS && macs <= GEMM_SPLIT_MAX_MACS &&
        (m >= 64 || n >= 64)) {
        bool by_rows = m >= n;
        int64_t len = by_rows ? m : n;
#pragma omp parallel num_threads(threads)
        {
            int t = omp_get_thread_num(), nt = omp_get_num_threads();
            int64_t lo = len * t / nt, hi = len * (t + 1) / nt;
            if (hi > lo) {
                if (by_rows) /* rows lo..hi of op(A) and of C */
                    gemm_plain(trans_a, trans_b, hi - lo, n, k, alpha, trans_a ? a + lo : a + lo * lda, lda, b,
                               ldb, beta, c + lo * ldc, ldc);
                else /* columns lo..hi of op(B) and of C */
                    gemm_plain(trans_a, trans_b, m, hi - lo, k, alpha, a, lda, trans_b ? b + lo * ldb : b + lo,
                               ldb, beta, c + lo, ldc);
            }
        }
        return;
    }
    gemm_plain(trans_a, trans_b, m, n, k, alpha, a, lda, b, ldb, beta, c, ldc);
}
