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
 * sets 2, matching torch.set_num_threads(2)).
 *
 * The peak is measured, not assumed: the 1024^3 matmul row (OpenBLAS SGEMM)
 * is printed as `PEAK<TAB>GFLOP/s`, and the matmul rows carry their work in
 * GFLOP as a 4th field, so run.sh shows GFLOP/s and the fraction of that
 * peak (bench_conv's convention).  NOTE lines name the CPU (/proc/cpuinfo's
 * model name, as lscpu shows it) and the dispatch level the elementwise
 * loops ran at (kernels/cpu_dispatch.h; CGRAD_CPU=baseline|avx2|avx512
 * forces one). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "cgrad.h"
#include "kernels/cpu_dispatch.h"

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

/* The work of the matmul rows in GFLOP (2 m n k); 0 for the other rows. */
static double op_gflop(op_id op) {
    switch (op) {
    case OP_MATMUL_LINEAR1: return 2.0 * 12396 * 784 * 1 / 1e9;
    case OP_MATMUL_BATCH:
    case OP_MATMUL_XWT: return 2.0 * 256 * 784 * 30 / 1e9;
    case OP_GEMM_1024: return 2.0 * 1024 * 1024 * 1024 / 1e9;
    default: return 0;
    }
}

/* /proc/cpuinfo's first "model name" (what lscpu prints), or "unknown". */
static void cpu_model(char *buf, size_t n) {
    snprintf(buf, n, "unknown");
    FILE *f = fopen("/proc/cpuinfo", "r");
    if (!f) return;
    char line[512];
    while (fgets(line, sizeof line, f))
        if (!strncmp(line, "model name", 10) && strchr(line, ':')) {
            const char *v = strchr(line, ':') + 1;
            while (*v == ' ' || *v == '\t') v++;
            snprintf(buf, n, "%.*s", (int)strcspn(v, "\n"), v);
            break;
        }
    fclose(f);
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

    char model[256];
    cpu_model(model, sizeof model);
    const char *forced = getenv("CGRAD_CPU");
    printf("NOTE\tcpu: %s; elementwise dispatch level: %s%s%s%s\n", model, cg_cpu_level_name(cg_cpu_level_active()),
           forced ? " (CGRAD_CPU=" : "", forced ? forced : "", forced ? ")" : "");
    int status = 0;
    for (int op = 0; op < OP_COUNT; op++) {
        double ms = time_op((op_id)op);
        if (ms < 0) {
            fprintf(stderr, "bench_core: %s failed: %s\n", op_names[op], cg_last_error());
            status = 1;
            continue;
        }
        double gflop = op_gflop((op_id)op);
        if (gflop > 0) printf("RESULT\t%s\t%.4f\t%.6f\n", op_names[op], ms, gflop);
        else printf("RESULT\t%s\t%.4f\n", op_names[op], ms);
        if (op == OP_GEMM_1024) printf("PEAK\t%.1f\n", gflop / (ms / 1e3)); /* measured SGEMM: the peak */
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
