/* How many OpenMP threads a vision kernel (conv, batch_norm, pooling) uses.
 *
 * The machines cgrad runs on are shared: with another job on one of the two
 * cores, a 2-thread OpenMP region waits at every barrier for a thread that
 * is not scheduled, and a 0.5 ms convolution takes 20-40 ms (measured on
 * the 2-core Xeon while two compilers ran: oneDNN's 64->64 3x3 at 7x7 went
 * from 1.1 ms to 40 ms, where one thread took 2.1 ms).  A fixed thread
 * count cannot be right for both a quiet and a loaded machine, and the load
 * average reacts in minutes, not milliseconds.
 *
 * So each call site keeps a cg_nn_tuner: the last CG_NN_TUNER_WINDOW times
 * of the call on one thread and on all threads (omp_get_max_threads()),
 * and a call runs on whichever arm's fastest recent time is lower.  The
 * first calls try both.  Then the other arm is re-measured now and again:
 * every 16th call while one thread wins (so a machine whose load went
 * away gets its threads back within 16 calls), every 64th while all
 * threads win (one thread is the slower arm on a quiet machine, and each
 * re-measure costs its difference).
 *
 * The minimum, not an average: one shape's entry serves several layers
 * (resnet18's three 512->512 convs at 1x1), whose times differ by 1.5-2x
 * with what the caches hold, and an average of 1/2 old and 1/2 new let one
 * slow layer's call on two threads hand the next call to one thread (on a
 * 2-core Xeon, 6-9% of a quiet resnet18 epoch: 12.5-12.7 s against
 * 11.4-11.6 s with every call on both threads).  A load, though, makes a
 * call on all threads take 10-80x longer (a 0.5 ms conv 20-40 ms), so a
 * time above CG_NN_TUNER_JUMP times the arm's recent minimum starts the
 * window afresh: the next call already sees the load.
 *
 * Small work never gets
 * here: below CG_NN_PARALLEL_MIN elements a kernel runs on one thread (the
 * reasoning of cpu_iter.h: a team costs ~1.5 us, more than a small pass).
 *
 * Thread safety: the fields are atomics; two threads racing on one tuner
 * can lose an update, which only delays the estimate by a call. */
#ifndef CGRAD_CPU_NN_THREADS_H
#define CGRAD_CPU_NN_THREADS_H

#include <stdatomic.h>
#include <stdint.h>

#define CG_NN_PARALLEL_MIN 32768
#define CG_NN_TUNER_WINDOW 4
#define CG_NN_TUNER_JUMP 4.0

typedef struct cg_nn_tuner {
    atomic_uint_fast64_t calls;
    /* [0]: one thread, [1]: all threads; the last CG_NN_TUNER_WINDOW times, 0 = none yet */
    _Atomic double ms[2][CG_NN_TUNER_WINDOW];
    atomic_uint next[2]; /* the slot the arm's next time goes to */
} cg_nn_tuner;

/* The thread count for this call (1 or max_threads) and which estimate it
 * feeds (*arm, to pass to cg_nn_tuner_record). */
int cg_nn_tuner_pick(cg_nn_tuner *t, int max_threads, int *arm);
void cg_nn_tuner_record(cg_nn_tuner *t, int arm, double ms);
/* The arm's fastest recent time in ms (0: not measured yet). */
double cg_nn_tuner_estimate(cg_nn_tuner *t, int arm);

/* Monotonic milliseconds. */
double cg_nn_now_ms(void);
/* The calling thread's CPU time in milliseconds: what a kernel costs with the
 * time the thread spent descheduled left out (cpu_conv_dnnl.c's choice). */
double cg_nn_cpu_ms(void);
/* omp_get_max_threads(), without making callers include omp.h. */
int cg_nn_max_threads(void);

/* A tuner for one kernel family at one size class (log2 of the element
 * count), for the kernels that have no per-shape state of their own. */
enum { CG_NN_TUNE_BN_FWD, CG_NN_TUNE_BN_BWD, CG_NN_TUNE_POOL_FWD, CG_NN_TUNE_POOL_BWD, CG_NN_TUNE_DROPOUT, CG_NN_TUNE_OPTIM, CG_NN_TUNE_LAYOUT, CG_NN_TUNE_KINDS };
cg_nn_tuner *cg_nn_tuner_for(int kind, int64_t elements);

/* Runs `loop` (a for statement with no #pragma inside) on `nt` OpenMP
 * threads when nt > 1 and as a plain loop otherwise (no libgomp call). */
#define CG_NN_PARALLEL_FOR(nt, ...)                                          \
    do {                                                                     \
        int cg_nt_ = (nt);                                                   \
        if (cg_nt_ > 1) {                                                    \
            _Pragma("omp parallel for num_threads(cg_nt_) schedule(static)") \
            __VA_ARGS__                                                      \
        } else {                                                             \
            __VA_ARGS__                                                      \
        }                                                                    \
    } while (0)

/* The common pattern: pick a thread count for `elements` of work of one
 * kind, run `loop`, record its time.  (The #pragma is spelled out here, not
 * taken from CG_NN_PARALLEL_FOR: gcc misplaces a _Pragma that comes from a
 * macro expanded inside another macro's expansion.) */
#define CG_NN_TUNED_FOR(kind, elements, ...)                                 \
    do {                                                                     \
        int64_t cg_elems_ = (elements);                                      \
        int cg_maxt_ = cg_elems_ >= CG_NN_PARALLEL_MIN ? cg_nn_max_threads() : 1; \
        if (cg_maxt_ <= 1) {                                                 \
            __VA_ARGS__                                                      \
        } else {                                                             \
            cg_nn_tuner *cg_tun_ = cg_nn_tuner_for((kind), cg_elems_);       \
            int cg_arm_;                                                     \
            int cg_use_ = cg_nn_tuner_pick(cg_tun_, cg_maxt_, &cg_arm_);     \
            double cg_t0_ = cg_nn_now_ms();                                  \
            if (cg_use_ > 1) {                                               \
                _Pragma("omp parallel for num_threads(cg_use_) schedule(static)") \
                __VA_ARGS__                                                  \
            } else {                                                         \
                __VA_ARGS__                                                  \
            }                                                                \
            cg_nn_tuner_record(cg_tun_, cg_arm_, cg_nn_now_ms() - cg_t0_);   \
        }                                                                    \
    } while (0)

#endif
