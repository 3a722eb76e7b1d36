/* bench_allreduce: what data-parallel training costs on this machine, for the
 * gradient sizes of simple_net (23,891 floats), the cnn (390,890) and
 * resnet18 (11,704,896, 45 MB).  Run under mpirun:
 *
 *     OMP_NUM_THREADS=1 mpirun --oversubscribe -np 2 build/bench/bench_allreduce
 *
 * For each model, on every rank: one training step's forward + backward at the
 * per-rank batch of a global batch (simple_net 256 on [784], cnn and resnet18
 * 64 on [1|3,28,28]: 128 / 32 / 32 per rank at 2 ranks), then the gradient
 * average exactly as training does it (cg_dist_average_gradients: pack into
 * 25 MB buckets, MPI_Allreduce, divide, unpack).  Each is the fastest of
 * several runs (the machine is shared), the allreduce timed between barriers
 * and taken as the slowest rank's.  Prints the time, the algorithm bandwidth
 * (bytes / t) and the ring's bus bandwidth (2(p-1)/p * bytes / t, what each
 * link carried), and the fraction of a step the allreduce costs.
 *
 * Output in bench/run.sh's protocol (RESULT lines: each model's step and
 * allreduce in ms; the table as NOTE lines); run.sh starts it under
 * `mpirun --oversubscribe -np 2` (CGRAD_BENCH_RANKS), one thread a rank.
 * Started without mpirun it runs as one rank and says so. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "cgrad.h"
#include "cgrad/dist.h"

static double now(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}

/* the slowest rank's value (max over ranks) */
static double slowest(double t) {
    double v[1] = {t};
    int p = cg_dist_size();
    /* a sum of one-hot vectors is a max gather in a few lines */
    double *all = calloc((size_t)p, sizeof *all);
    all[cg_dist_rank()] = v[0];
    cg_dist_allreduce_sum(all, p);
    double m = 0;
    for (int i = 0; i < p; i++) m = fmax(m, all[i]);
    free(all);
    return m;
}

static void barrier(void) {
    double z = 0;
    cg_dist_allreduce_sum(&z, 1);
}

typedef struct bench_model {
    const char *name;
    int64_t global_bs;
    int64_t c, hw; /* input [c, hw, hw]; hw 0: a flat [c] vector */
    int reps;
} bench_model;

static cg_module *make(const bench_model *b) {
    if (!strcmp(b->name, "simple_net")) return cg_model_create("simple_net", 784, 1);
    if (!strcmp(b->name, "cnn")) return cg_nn_mnist_cnn(1, 10); /* MNIST's 10 digits */
    return cg_vision_model("resnet18", 3, 2);
}

int main(int argc, char **argv) {
    if (!cg_dist_available()) {
        printf("bench_allreduce: this cgrad was built without MPI\n");
        return 0;
    }
    if (cg_dist_init(&argc, &argv) != CG_OK) {
        fprintf(stderr, "bench_allreduce: %s\n", cg_last_error());
        return 1;
    }
    int p = cg_dist_size(), rank = cg_dist_rank();
    if (p == 1)
        printf("NOTE\tone rank: start it with mpirun -np 2 (bench/run.sh does) to measure a real allreduce\n");
    static const bench_model models[] = {
        {"simple_net", 256, 784, 0, 20},
        {"cnn", 64, 1, 28, 10},
        {"resnet18", 64, 3, 28, 5},
    };
    if (rank == 0)
        printf("NOTE\t%d ranks; per-rank batch = global / %d; times are the fastest of several runs, slowest rank\n"
               "NOTE\t%-10s %10s %9s %6s %10s %10s %10s %10s %8s\n",
               p, p, "model", "floats", "MB", "bs/rk", "step ms", "allred ms", "algbw GB/s", "busbw GB/s",
               "share");
    for (size_t k = 0; k < sizeof models / sizeof models[0]; k++) {
        const bench_model *b = &models[k];
        cg_manual_seed(0);
        cg_module *m = make(b);
        if (!m) {
            fprintf(stderr, "bench_allreduce: %s: %s\n", b->name, cg_last_error());
            cg_dist_abort(1);
        }
        int64_t n = cg_module_count_elements(m), bs = b->global_bs / p;
        double step = INFINITY, ar = INFINITY;
        cg_dist_buckets buckets;
        if (cg_dist_buckets_init(&buckets, 0) != CG_OK) cg_dist_abort(1);
        for (int r = 0; r < b->reps; r++) {
            cg_module_zero_grad(m);
            cg_scope_begin();
            cg_tensor *x = b->hw ? cg_randn(NULL, CG_SHAPE(bs, b->c, b->hw, b->hw)) : cg_randn(NULL, CG_SHAPE(bs, b->c));
            double t0 = now();
            cg_tensor *loss = cg_sum(cg_module_forward(m, x), NULL, 0, false);
            if (!loss || cg_backward(loss, NULL) != CG_OK) {
                fprintf(stderr, "bench_allreduce: %s: %s\n", b->name, cg_last_error());
                cg_dist_abort(1);
            }
            double t1 = now();
            cg_scope_end();
            barrier();
            double t2 = now();
            double lossv = 0;
            if (cg_dist_average_gradients(&buckets, m, &lossv) != CG_OK) {
                fprintf(stderr, "bench_allreduce: %s\n", cg_last_error());
                cg_dist_abort(1);
            }
            double t3 = now();
            if (r > 0) { /* the first run warms caches and allocators */
                step = fmin(step, slowest(t1 - t0));
                ar = fmin(ar, slowest(t3 - t2));
            }
        }
        double bytes = (double)n * 4;
        if (rank == 0) {
            printf("NOTE\t%-10s %10lld %9.2f %6lld %10.3f %10.3f %10.2f %10.2f %7.1f%%\n", b->name, (long long)n,
                   bytes / 1e6, (long long)bs, 1e3 * step, 1e3 * ar, bytes / ar / 1e9,
                   2.0 * (p - 1) / p * bytes / ar / 1e9, 100 * ar / (step + ar));
            printf("RESULT\t%s step, %lld per rank\t%.3f\n", b->name, (long long)bs, 1e3 * step);
            printf("RESULT\t%s allreduce, %d ranks, %.2f MB\t%.3f\n", b->name, p, bytes / 1e6, 1e3 * ar);
            fflush(stdout);
        }
        cg_dist_buckets_free(&buckets);
        cg_module_release(m);
    }
    cg_dist_finalize();
    return 0;
}
