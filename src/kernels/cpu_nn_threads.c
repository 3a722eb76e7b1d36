/* The per-call thread choice of the vision kernels: see cpu_nn_threads.h. */
#include "kernels/cpu_nn_threads.h"

#include <omp.h>
#include <time.h>

double cg_nn_now_ms(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec * 1e3 + (double)ts.tv_nsec / 1e6;
}

double cg_nn_cpu_ms(void) {
    struct timespec ts;
    clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);
    return (double)ts.tv_sec * 1e3 + (double)ts.tv_nsec / 1e6;
}

int cg_nn_max_threads(void) { return omp_get_max_threads(); }

double cg_nn_tuner_estimate(cg_nn_tuner *t, int arm) {
    double best = 0;
    for (int i = 0; i < CG_NN_TUNER_WINDOW; i++) {
        double v = atomic_load_explicit(&t->ms[arm][i], memory_order_relaxed);
        if (v > 0 && (best == 0 || v < best)) best = v;
    }
    return best;
}

int cg_nn_tuner_pick(cg_nn_tuner *t, int max_threads, int *arm) {
    if (max_threads <= 1) {
        *arm = 0;
        return 1;
    }
    uint64_t k = atomic_fetch_add_explicit(&t->calls, 1, memory_order_relaxed);
    double one = cg_nn_tuner_estimate(t, 0), all = cg_nn_tuner_estimate(t, 1);
    int a;
    if (one == 0 || all == 0) a = one == 0 && all != 0 ? 0 : 1; /* measure each once first */
    else {
        a = all <= one ? 1 : 0;
        if (k % (a ? 64 : 16) == 15) a = !a; /* re-measure the other */
    }
    *arm = a;
    return a ? max_threads : 1;
}

void cg_nn_tuner_record(cg_nn_tuner *t, int arm, double ms) {
    if (ms <= 0) ms = 1e-6;
    double best = cg_nn_tuner_estimate(t, arm);
    if (best > 0 && ms > CG_NN_TUNER_JUMP * best) /* a load came: forget the quiet times */
        for (int i = 0; i < CG_NN_TUNER_WINDOW; i++) atomic_store_explicit(&t->ms[arm][i], 0.0, memory_order_relaxed);
    unsigned slot = atomic_fetch_add_explicit(&t->next[arm], 1, memory_order_relaxed) % CG_NN_TUNER_WINDOW;
    atomic_store_explicit(&t->ms[arm][slot], ms, memory_order_relaxed);
}

cg_nn_tuner *cg_nn_tuner_for(int kind, int64_t elements) {
    static cg_nn_tuner tuners[CG_NN_TUNE_KINDS][64];
    int b = 0;
    while (b < 63 && ((int64_t)1 << (b + 1)) <= elements) b++;
    return &tuners[kind][b];
}
