/* CPU row kernels of the classification losses: log-softmax over rows, and
 * the negative log-likelihood's gather (forward) and scatter (backward). */
#include <math.h>

#include "kernels/cpu_iter.h"
#include "kernels/cpu_kernels.h"

void cg_cpu_log_softmax_rows(float *out, const float *in, int64_t rows, int64_t cols) {
    ND_TUNED_FOR(CG_EW_TUNE_SOFTMAX, rows * cols >= 65536 && rows > 1, rows * cols,
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

int64_t cg_cpu_nll_loss(float *out, const float *logp, const int64_t *target, int64_t rows,
                        int64_t cols) {
    double acc = 0;
    for (int64_t i = 0; i < rows; i++) {
        if (target[i] < 0 || target[i] >= cols) return i;
        acc -= logp[i * cols + target[i]];
    }
    *out = rows ? (float)(acc / (double)rows) : NAN;
    return -1;
}

void cg_cpu_nll_loss_backward(float *gx, const int64_t *target, int64_t rows, int64_t cols, double g) {
    for (int64_t i = 0; i < rows; i++) gx[i * cols + target[i]] = (float)(-g / (double)rows);
}
