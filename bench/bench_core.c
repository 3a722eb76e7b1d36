/* bench_core — the tensor core at the chapter's shapes.
 *
 * Times each op as the chapter uses it (the pixel-similarity baseline and the
 * linear model) and prints one machine-readable line per op:
 *     RESULT<TAB><op><TAB><fastest ms>
 * plus NOTE lines.  bench/core_torch.py prints the same ops for PyTorch;
 * bench/run.sh joins the two into a table with ratios.
 *
 * Method (the same in both): 3 warm-up calls, then repeat until 0.4 s have
 * passed (at least 5, at most 1000 runs) and report the fastest run: this
 * 2-core machine is shared with other jobs, and interference only ever adds
 * time, so the minimum is the least disturbed measurement.  Each cgrad
 * call runs in its own scope, so freeing the result is part of the time, as
 * it is for PyTorch.  Threads: OMP_NUM_THREADS / OPENBLAS_NUM_THREADS (run.sh
 * sets 2, matching torch.set_num_threads(2)). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "cgrad.h"

/* This machine's single-precision peak per thread (core): 2 AVX-512 FMA
 * units x 16 lanes x 2 flops x ~2.25 GHz ~ 145 GFLOP/s, so ~290 on the 2
 * threads run.sh uses; OpenBLAS SGEMM reaches ~230 of those 290. */
#define PEAK_GFLOPS_PER_THREAD 145.0

typedef enum {
    OP_SUB_BROADCAST, OP_ABS, OP_MEAN_LAST2, OP_MNIST_DISTANCE, OP_MEAN0, OP_STACK_FLOAT,
    OP_MATMUL_LINEAR1, OP_MATMUL_BATCH, OP_MATMUL_XWT, OP_SIGMOID, OP_ADD_SMALL,
    OP_GEMM_1024, OP_COUNT
} op_id;

static const char *const op_names[OP_COUNT] = {
    [OP_SUB_BROADCAST] = "sub [1010,28,28]-[28,28]",
    [OP_ABS] = "abs [1010,28,28]",
    [OP_MEAN_LAST2] = "mean((-1,-2)) [1010,28,28]",
    [OP_MNIST_DISTANCE] = "(a-b).abs().mean((-1,-2))",
    [OP_MEAN0] = "mean(0) [6131,28,28]",
    [OP_STACK_FLOAT] = "stack 1000x[28,28] u8 .float()/255",
    [OP_MATMUL_LINEAR1] = "matmul [12396,784]@[784,1]",
    [OP_MATMUL_BATCH] = "matmul [256,784]@[784,30]",
    [OP_MATMUL_XWT] = "matmul [256,784]@[30,784].T",
    [OP_SIGMOID] = "sigmoid [12396,1]",
    [OP_ADD_SMALL] = "add [256,30]+[30]",
    [OP_GEMM_1024] = "matmul [1024,1024]@[1024,1024]",
};

/* The inputs, made once before timing. */
static cg_tensor *valid3, *mean3, *threes, *train_x, *weights, *batch, *w1, *w1t, *preds, *act,
    *bias, *sq_a, *sq_b, *images[1000];

static double now_ms(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec * 1e3 + (double)ts.tv_nsec / 1e6;
}

static cg_tensor *run_op(op_id op) {
    switch (op) {
    case OP_SUB_BROADCAST: return cg_sub(valid3, mean3);
    case OP_ABS: return cg_abs(valid3);
    case OP_MEAN_LAST2: return cg_mean(valid3, (int[]){-1, -2}, 2, false);
    case OP_MNIST_DISTANCE: return cg_mean(cg_abs(cg_sub(valid3, mean3)), (int[]){-1, -2}, 2, false);
    case OP_MEAN0: return cg_mean(threes, (int[]){0}, 1, false);
    case OP_STACK_FLOAT: return cg_div_s(cg_float(cg_stack(images, 1000, 0)), 255);
    case OP_MATMUL_LINEAR1: return cg_matmul(train_x, weights);
    case OP_MATMUL_BATCH: return cg_matmul(batch, w1);
    case OP_MATMUL_XWT: return cg_matmul(batch, cg_t(w1t));
    case OP_SIGMOID: return cg_sigmoid(preds);
    case OP_ADD_SMALL: return cg_add(act, bias);
    case OP_GEMM_1024: return cg_matmul(sq_a, sq_b);
    default: return NULL;
    }
}

static int cmp_double(const void *a, const void *b) {
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

/* Fastest milliseconds of one call; -1 if the op failed. */
static double time_op(op_id op) {
    enum { MAX_RUNS = 1000 };
    static double times[MAX_RUNS];
    for (int i = 0; i < 3; i++) {
        cg_scope_begin();
        cg_tensor *r = run_op(op);
        cg_scope_end();
        if (!r) return -1;
    }
    int n = 0;
    double start = now_ms();
    while (n < MAX_RUNS && (n < 5 || now_ms() - start < 400)) {
        double t0 = now_ms();
        cg_scope_begin();
        run_op(op);
        cg_scope_end();
        times[n++] = now_ms() - t0;
    }
    qsort(times, (size_t)n, sizeof *times, cmp_double);
    return times[0];
}

static cg_tensor *uniform(int ndim, const int64_t *shape) { return cg_rand(NULL, ndim, shape); }

int main(int argc, char **argv) {
    if (argc > 1 && (!strcmp(argv[1], "--help") || !strcmp(argv[1], "-h"))) {
        printf("usage: bench_core\nTimes the tensor core at fastbook chapter 4's shapes; prints\n"
               "RESULT<TAB>op<TAB>fastest ms lines (bench/run.sh pairs them with PyTorch).\n");
        return 0;
    }
    cg_manual_seed(42);
    /* the pixel-similarity baseline: valid_3_tens, mean3, stacked_threes */
    valid3 = uniform(CG_SHAPE(1010, 28, 28));
    mean3 = uniform(CG_SHAPE(28, 28));
    threes = uniform(CG_SHAPE(6131, 28, 28));
    for (int i = 0; i < 1000; i++) {
        images[i] = cg_empty(CG_UINT8, CG_SHAPE(28, 28));
        if (images[i]) cg_fill_(images[i], (double)(i % 256));
    }
    /* the linear model: train_x @ weights, a mini-batch through 784->30 */
    train_x = uniform(CG_SHAPE(12396, 784));
    weights = uniform(CG_SHAPE(784, 1));
    batch = uniform(CG_SHAPE(256, 784));
    w1 = uniform(CG_SHAPE(784, 30));
    w1t = uniform(CG_SHAPE(30, 784));
    preds = uniform(CG_SHAPE(12396, 1));
    act = uniform(CG_SHAPE(256, 30));
    bias = uniform(CG_SHAPE(30));
    sq_a = uniform(CG_SHAPE(1024, 1024));
    sq_b = uniform(CG_SHAPE(1024, 1024));
    if (!valid3 || !mean3 || !threes || !train_x || !weights || !batch || !w1 || !w1t || !preds ||
        !act || !bias || !sq_a || !sq_b || !images[999]) {
        fprintf(stderr, "bench_core: %s\n", cg_last_error());
        return 1;
    }

    int status = 0;
    for (int op = 0; op < OP_COUNT; op++) {
        double ms = time_op((op_id)op);
        if (ms < 0) {
            fprintf(stderr, "bench_core: %s failed: %s\n", op_names[op], cg_last_error());
            status = 1;
            continue;
        }
        printf("RESULT\t%s\t%.4f\n", op_names[op], ms);
        if (op == OP_GEMM_1024) {
            const char *env = getenv("OMP_NUM_THREADS");
            int threads = env && atoi(env) > 0 ? atoi(env) : 2;
            double gflops = 2.0 * 1024 * 1024 * 1024 / (ms * 1e6), peak = PEAK_GFLOPS_PER_THREAD * threads;
            printf("NOTE\tGEMM 1024: %.1f GFLOP/s = %.0f%% of this machine's ~%.0f GFLOP/s AVX-512 "
                   "peak on %d thread(s) (OpenBLAS SGEMM reaches ~80%% of peak)\n",
                   gflops, 100 * gflops / peak, peak, threads);
        }
        fflush(stdout);
    }
    printf("NOTE\tmemory: %.1f MiB in live tensors, %.1f MiB cached by the pool\n",
           (double)cg_mem_in_use() / (1 << 20), (double)cg_mem_cached() / (1 << 20));

    cg_tensor *all[] = {valid3, mean3, threes, train_x, weights, batch, w1, w1t, preds, act, bias, sq_a, sq_b};
    for (size_t i = 0; i < sizeof all / sizeof *all; i++) cg_release(all[i]);
    for (int i = 0; i < 1000; i++) cg_release(images[i]);
    cg_pool_trim();
    return status;
}
