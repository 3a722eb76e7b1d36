/* Strided n-d iteration shared by the CPU kernels.
 *
 * nd_layout holds up to 4 operands of one shape.  nd_coalesce drops size-1
 * dims and merges neighbours that are contiguous for every operand, so a
 * contiguous tensor becomes one long row and a [N,1] + [1,M] broadcast keeps
 * two dims.  Kernels then loop over "rows" (all dims but the last) and run a
 * tight inner loop over the last dim with per-operand strides. */
#ifndef CGRAD_CPU_ITER_H
#define CGRAD_CPU_ITER_H

#include <stdint.h>
#include <string.h>

#include "kernels/backend.h"
#include "kernels/cpu_dispatch.h"

#define ND_MAX_OPS 4

typedef struct nd_layout {
    int ndim, nops;
    int64_t shape[CG_MAX_DIMS];
    int64_t strides[ND_MAX_OPS][CG_MAX_DIMS];
    char *base[ND_MAX_OPS]; /* element 0 of each operand */
    size_t esize[ND_MAX_OPS];
} nd_layout;

static inline void nd_init(nd_layout *L, int nops, const cg_kview *const *ts) {
    const cg_kview *ref = ts[0];
    L->nops = nops;
    L->ndim = 0;
    for (int k = 0; k < nops; k++) {
        L->base[k] = (char *)ts[k]->data;
        L->esize[k] = cg_kdtype_size(ts[k]->dtype);
    }
    for (int d = 0; d < ref->ndim; d++) {
        if (ref->shape[d] == 1) continue;
        int nd = L->ndim;
        bool merge = nd > 0;
        for (int k = 0; k < nops && merge; k++)
            merge = L->strides[k][nd - 1] == ts[k]->strides[d] * ref->shape[d];
        if (merge) {
            L->shape[nd - 1] *= ref->shape[d];
            for (int k = 0; k < nops; k++) L->strides[k][nd - 1] = ts[k]->strides[d];
        } else {
            L->shape[nd] = ref->shape[d];
            for (int k = 0; k < nops; k++) L->strides[k][nd] = ts[k]->strides[d];
            L->ndim++;
        }
    }
    /* One long row: split it so OpenMP has rows to share among threads. */
    if (L->ndim == 1 && L->shape[0] >= 65536) {
        for (int64_t c = 16; c >= 2; c /= 2)
            if (L->shape[0] % c == 0) {
                int64_t inner = L->shape[0] / c;
                L->ndim = 2;
                L->shape[1] = inner;
                L->shape[0] = c;
                for (int k = 0; k < nops; k++) {
                    L->strides[k][1] = L->strides[k][0];
                    L->strides[k][0] = L->strides[k][1] * inner;
                }
                break;
            }
    }
    if (L->ndim == 0) { /* a single element */
        L->ndim = 1;
        L->shape[0] = 1;
        for (int k = 0; k < nops; k++) L->strides[k][0] = 0;
    }
}

static inline int64_t nd_rows(const nd_layout *L) {
    int64_t r = 1;
    for (int d = 0; d < L->ndim - 1; d++) r *= L->shape[d];
    return r;
}

static inline int64_t nd_numel(const nd_layout *L) { return nd_rows(L) * L->shape[L->ndim - 1]; }

/* Element offsets of row `row` for each operand. */
static inline void nd_row_offsets(const nd_layout *L, int64_t row, int64_t *off) {
    if (L->ndim <= 2) { /* the common coalesced case: no integer division per row */
        for (int k = 0; k < L->nops; k++) off[k] = L->ndim == 2 ? row * L->strides[k][0] : 0;
        return;
    }
    for (int k = 0; k < L->nops; k++) off[k] = 0;
    for (int d = L->ndim - 2; d >= 0; d--) {
        int64_t i = row % L->shape[d];
        row /= L->shape[d];
        for (int k = 0; k < L->nops; k++) off[k] += i * L->strides[k][d];
    }
}

#define ND_PARALLEL_MIN 32768

/* OpenMP only when it pays.  `#pragma omp parallel for if (c)` still calls
 * into libgomp when c is false, and libgomp then allocates and frees a team
 * of one: ~1.5 us per call, more than a whole small op (add [256,30]+[30]).
 * ND_PARALLEL_FOR_IF(c, loop) runs `loop` (a for statement with no #pragma
 * inside) on OpenMP threads when c holds and as a plain loop otherwise;
 * ND_PARALLEL_IF(c, block) does the same for a parallel block. */
#define ND_PARALLEL_FOR_IF(cond, ...)                                   \
    do {                                                                \
        if (cond) {                                                     \
            _Pragma("omp parallel for") __VA_ARGS__                     \
        } else {                                                        \
            __VA_ARGS__                                                 \
        }                                                               \
    } while (0)
#define ND_PARALLEL_IF(cond, ...)                                       \
    do {                                                                \
        if (cond) {                                                     \
            _Pragma("omp parallel") { __VA_ARGS__ }                     \
        } else {                                                        \
            __VA_ARGS__                                                 \
        }                                                               \
    } while (0)

/* ND_TUNED_FOR(kind, cond, elements, loop): as ND_PARALLEL_FOR_IF, but
 * when cond holds the thread count (1 or all) is chosen per call by the
 * load-following chooser of cpu_nn_threads.h, one tuner per `kind`
 * (CG_EW_TUNE_*) and size class of `elements`.  On a loaded 2-core machine
 * a 2-thread region waits for a descheduled thread at its barrier: measured
 * with a load average of 10, sub [1010,28,28]-[28,28] took 12 ms on 2
 * threads against 0.35 ms on one. */
#define ND_TUNED_FOR(kind, cond, elements, ...)                               \
    do {                                                                      \
        int nd_maxt_ = (cond) ? cg_nn_max_threads() : 1;                      \
        if (nd_maxt_ > 1) {                                                   \
            cg_nn_tuner *nd_tun_ = cg_cpu_ew_tuner((kind), (elements));       \
            int nd_arm_;                                                      \
            int nd_use_ = cg_nn_tuner_pick(nd_tun_, nd_maxt_, &nd_arm_);      \
            double nd_t0_ = cg_nn_now_ms();                                   \
            if (nd_use_ > 1) {                                                \
                _Pragma("omp parallel for num_threads(nd_use_) schedule(static)") \
                __VA_ARGS__                                                   \
            } else {                                                          \
                __VA_ARGS__                                                   \
            }                                                                 \
            cg_nn_tuner_record(nd_tun_, nd_arm_, cg_nn_now_ms() - nd_t0_);    \
        } else {                                                              \
            __VA_ARGS__                                                       \
        }                                                                     \
    } while (0)

#endif
