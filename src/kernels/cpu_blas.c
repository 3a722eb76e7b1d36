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
#include "kernels/cpu_nn_threads.h"

/* How cg_cpu_gemm cuts a product into pieces (see there): one piece per
 * GEMM_PIECE_MACS multiply-adds, each at least GEMM_MIN_PIECE rows (or
 * columns) long, at most GEMM_MAX_PIECES, rounded down to a power of two
 * (2 or 4 threads then get equal shares); piece boundaries fall on
 * multiples of 16.  Pieces must be big for a one-thread run not to pay:
 * one thread, CPU time, SCHED_FIFO, best of 5 on the 2-core EPYC, 16
 * pieces of 32-64 against one dnnl_sgemm call: [256,784]@[784,784] 1.47x,
 * [64,784]@[784,784]^T 1.39x; with these numbers (2 pieces of 512) 1024^3
 * 1.00-1.01x, [64,1024]@[1024,512] 1.01x, the resnet head's weight
 * gradient [512,64]@[64,1024] 1.06-1.10x, smaller products one piece. */
#define GEMM_PIECE_MACS (4LL * 1024 * 1024)
#define GEMM_MAX_PIECES 8
#define GEMM_MIN_PIECE 512

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
    /* Same bits on any thread count (docs/DESIGN.md, "Threads").  A GEMM
     * library's result depends on how many threads it runs on and on the
     * shape of the call: measured with dnnl_sgemm, [64,256]@[256,10]^T
     * (164k multiply-adds) on 2 threads differs in the last bits from 1
     * thread, and so does a product split into 2 blocks of 32 rows from the
     * same product as one call of 64 rows.  So the product is cut into
     * pieces fixed by its shape alone (cg_cpu_gemm_pieces), along m or n
     * (never k: each element of C is one sum in one order), and every piece
     * is a one-thread GEMM call; the pieces run on the threads side by side
     * (mid-sized products such as simple_net's [256,784]@[784,30] ran slower
     * on the libraries' own 2 threads than on one, 0.63 vs 0.35 ms a step)
     * or one after the other: the same calls, so the same bits. */
    int64_t pieces = cg_cpu_gemm_pieces(m, n, k);
    bool by_rows = m >= n;
    int64_t len = by_rows ? m : n;
    int threads = omp_in_parallel() ? 1 : omp_get_max_threads();
    int nt = threads < pieces ? threads : (int)pieces;
    int saved = 0;
    if (nt <= 1 && threads > 1) { /* outside a region, a GEMM call is told one thread */
        saved = omp_get_max_threads();
        omp_set_num_threads(1);
    }
    CG_NN_PARALLEL_FOR(nt, for (int64_t p = 0; p < pieces; p++) {
        int64_t lo = p ? len * p / pieces / 16 * 16 : 0, hi = p + 1 < pieces ? len * (p + 1) / pieces / 16 * 16 : len;
        if (by_rows) /* rows lo..hi of op(A) and of C */
            gemm_plain(trans_a, trans_b, hi - lo, n, k, alpha, trans_a ? a + lo : a + lo * lda, lda, b, ldb, beta,
                       c + lo * ldc, ldc);
        else /* columns lo..hi of op(B) and of C */
            gemm_plain(trans_a, trans_b, m, hi - lo, k, alpha, a, lda, trans_b ? b + lo * ldb : b + lo, ldb, beta,
                       c + lo, ldc);
    });
    if (saved) omp_set_num_threads(saved);
}

int64_t cg_cpu_gemm_pieces(int64_t m, int64_t n, int64_t k) {
    int64_t len = m >= n ? m : n, other = m >= n ? n : m;
    /* macs / GEMM_PIECE_MACS without overflowing m*n*k */
    double p = (double)len * (double)other * (double)k / (double)GEMM_PIECE_MACS;
    int64_t pieces = p >= GEMM_MAX_PIECES ? GEMM_MAX_PIECES : (int64_t)p;
    if (pieces > len / GEMM_MIN_PIECE) pieces = len / GEMM_MIN_PIECE;
    int64_t pow2 = 1;
    while (pow2 * 2 <= pieces) pow2 *= 2;
    return pow2;
}
