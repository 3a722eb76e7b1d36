/* bench_conv — the vision kernels at the shapes resnet18 meets on 28x28
 * MNIST (batch 64) and at the shapes of `--model cnn`.
 *
 * Rows (bench/conv_torch.py prints the same op names for PyTorch):
 *   conv <shape> fwd | bwd data | bwd weight    cg_conv2d_* (oneDNN, cached)
 *   batchnorm <shape> fwd train | bwd           cg_batchnorm_*
 *   batchnorm+relu <shape> fwd train | bwd      the same with the ReLU fused (desc.relu)
 *   maxpool / adaptive pools                    cg_*_pool2d_*
 * Each prints RESULT<TAB>op<TAB>fastest ms[<TAB>GFLOP of work]; the work
 * column lets bench/run.sh print GFLOP/s and the fraction of this machine's
 * measured peak, which is the first row: a 1024^3 SGEMM (the faster of
 * OpenBLAS's cblas_sgemm and oneDNN's dnnl_sgemm, the best dense float
 * throughput available here; 1024 rather than 2048 so
 * that 0.4 s holds ~40 runs and the fastest is likely undisturbed on a
 * shared machine), printed as `PEAK<TAB>GFLOP/s`.  A conv row's work is
 * the nominal 2*N*OC*OH*OW*(C/groups)*KH*KW, so a kernel that skips taps
 * reading only padding (cpu_conv_gemm.c on 1x1 and 2x2 maps) can show more
 * GFLOP/s than the peak.
 *
 * Method, as bench_core and the torch script: 3 warm-up calls (the first
 * call of a conv shape builds the primitive its rule picks), then repeat
 * until 0.4 s have passed (at least 5, at most 1000 runs) and keep the
 * fastest, by the wall clock or, with CGRAD_BENCH_CLOCK=cpu, by the
 * process's CPU time (for one-thread runs on a loaded machine; the torch
 * script reads the same variable).  Threads: OMP_NUM_THREADS (run.sh sets
 * it for both sides).  CGRAD_BENCH_ONLY=text runs only the rows whose name
 * contains text (to profile one row; with --kernels, the shapes whose name
 * contains it); CGRAD_BENCH_KERNEL=gemm (or another
 * name of cg_conv2d_kernel_name) forces that kernel on every conv row.
 *
 * `bench_conv --kernels [THREADS]` prints instead the table behind the
 * conv kernel rule (cg_conv2d_kernel_for): every kernel forced on every
 * conv row, its one-thread CPU time, its wall time on THREADS, and whether
 * a call on one thread and one on THREADS give the same bits; the header's
 * rule column names the ISA column of the rule this machine uses. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <cblas.h>
#include <omp.h>
#include <oneapi/dnnl/dnnl.h>

#include "../src/kernels/nn_kernels.h"

#define N 64

typedef struct conv_shape {
    const char *name;
    int c, oc, h, k, s, p;
} conv_shape;

/* The same table as bench/conv_torch.py. */
static const conv_shape convs[] = {
    {"stem 7x7s2 3->64 28", 3, 64, 28, 7, 2, 3},
    {"3x3 64->64 7", 64, 64, 7, 3, 1, 1},
    {"3x3s2 64->128 7", 64, 128, 7, 3, 2, 1},
    {"1x1s2 64->128 7", 64, 128, 7, 1, 2, 0},
    {"3x3 128->128 4", 128, 128, 4, 3, 1, 1},
    {"3x3s2 128->256 4", 128, 256, 4, 3, 2, 1},
    {"1x1s2 128->256 4", 128, 256, 4, 1, 2, 0},
    {"3x3 256->256 2", 256, 256, 2, 3, 1, 1},
    {"3x3s2 256->512 2", 256, 512, 2, 3, 2, 1},
    {"1x1s2 256->512 2", 256, 512, 2, 1, 2, 0},
    {"3x3 512->512 1", 512, 512, 1, 3, 1, 1},
    {"cnn 3x3 1->32 28", 1, 32, 28, 3, 1, 1},
    {"cnn 3x3s2 32->64 28", 32, 64, 28, 3, 2, 1},
    {"cnn 3x3s2 64->128 14", 64, 128, 14, 3, 2, 1},
    {"cnn 3x3s2 128->256 7", 128, 256, 7, 3, 2, 1},
};

typedef struct bn_shape {
    const char *name;
    int c, h;
} bn_shape;

static const bn_shape bns[] = {
    {"64x14x14", 64, 14}, {"64x7x7", 64, 7}, {"128x4x4", 128, 4}, {"256x2x2", 256, 2},
    {"512x1x1", 512, 1}, {"cnn 32x28x28", 32, 28}, {"cnn 128x7x7", 128, 7},
};

/* BatchNorm+ReLU: the stem's (resnet18, after the 7x7 conv) and the cnn's first */
static const bn_shape bn_relus[] = {{"64x14x14", 64, 14}, {"cnn 32x28x28", 32, 28}};

static double now_ms(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec * 1e3 + (double)ts.tv_nsec / 1e6;
}

static int cmp_double(const void *a, const void *b) {
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

/* What one timed call runs. */
typedef struct job {
    int kind;
    cg_conv2d_desc cd;
    cg_batchnorm_desc bd;
    cg_pool2d_desc pd;
    float *a, *b, *c, *d, *e, *f, *g;
    float *h; /* BatchNorm backward: the forward's y, the fused ReLU's mask (NULL without the ReLU) */
    int64_t *idx;
    int sgemm_n;
} job;

enum { J_CONV_FWD, J_CONV_BWD_DATA, J_CONV_BWD_WEIGHT, J_BN_FWD, J_BN_BWD, J_MAXPOOL_FWD, J_MAXPOOL_BWD,
       J_ADAPTIVE_AVG, J_ADAPTIVE_MAX, J_SGEMM, J_DNNL_SGEMM };

static char msg[512];

static int run(const job *j) {
    switch (j->kind) {
    case J_CONV_FWD: return cg_conv2d_forward(&j->cd, j->a, j->b, NULL, j->c, msg, sizeof msg);
    case J_CONV_BWD_DATA: return cg_conv2d_backward_data(&j->cd, j->c, j->b, j->a, msg, sizeof msg);
    case J_CONV_BWD_WEIGHT: return cg_conv2d_backward_weights(&j->cd, j->a, j->c, j->b, NULL, msg, sizeof msg);
    case J_BN_FWD:
        cg_batchnorm_forward_train(&j->bd, j->a, j->d, j->e, j->b, j->f, j->g, j->f + 512, j->g + 512);
        return 0;
    case J_BN_BWD: cg_batchnorm_backward(&j->bd, true, j->c, j->a, j->h, j->d, j->f, j->g, j->b, j->e, j->e + 512); return 0;
    case J_MAXPOOL_FWD: cg_max_pool2d_forward(&j->pd, j->a, j->b, j->idx); return 0;
    case J_MAXPOOL_BWD: cg_max_pool2d_backward(&j->pd, j->b, j->idx, j->a); return 0;
    case J_ADAPTIVE_AVG: cg_adaptive_avg_pool2d_forward(&j->pd, j->a, j->b); return 0;
    case J_ADAPTIVE_MAX: cg_adaptive_max_pool2d_forward(&j->pd, j->a, j->b, j->idx); return 0;
    case J_SGEMM:
        cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, j->sgemm_n, j->sgemm_n, j->sgemm_n, 1.0f, j->a,
                    j->sgemm_n, j->b, j->sgemm_n, 0.0f, j->c, j->sgemm_n);
        return 0;
    case J_DNNL_SGEMM:
        return dnnl_sgemm('N', 'N', j->sgemm_n, j->sgemm_n, j->sgemm_n, 1.0f, j->a, j->sgemm_n, j->b, j->sgemm_n,
                          0.0f, j->c, j->sgemm_n) != dnnl_success;
    }
    return -1;
}

static double cpu_ms(void) {
    struct timespec ts;
    clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &ts);
    return (double)ts.tv_sec * 1e3 + (double)ts.tv_nsec / 1e6;
}

/* Fastest milliseconds of one call; -1 if it failed. */
static double time_job(const job *j) {
    enum { MAX_RUNS = 1000 };
    static double times[MAX_RUNS];
    for (int i = 0; i < 3; i++)
        if (run(j)) return -1;
    int n = 0;
    double start = now_ms();
    /* CGRAD_BENCH_CLOCK=cpu: process CPU time per call (conv_torch.py reads
     * the same variable), for one-thread runs on a loaded machine */
    const char *clock = getenv("CGRAD_BENCH_CLOCK");
    int cpu = clock && !strcmp(clock, "cpu");
    while (n < MAX_RUNS && (n < 5 || now_ms() - start < 400)) {
        double t0 = cpu ? cpu_ms() : now_ms();
        run(j);
        times[n++] = (cpu ? cpu_ms() : now_ms()) - t0;
    }
    qsort(times, (size_t)n, sizeof *times, cmp_double);
    return times[0];
}

static float *filled(int64_t n, double a) {
    float *v = malloc((size_t)n * sizeof *v);
    if (!v) {
        fprintf(stderr, "bench_conv: out of memory\n");
        exit(1);
    }
    for (int64_t i = 0; i < n; i++) v[i] = (float)sin(a * (double)i);
    return v;
}


/* Fastest process CPU milliseconds of one call (OMP_NUM_THREADS=1 makes it
 * the work, whatever else the machine runs); -1 if it failed. */
static double cpu_time_job(const job *j, int runs) {
    double best = -1;
    if (run(j)) return -1;
    for (int i = 0; i < runs; i++) {
        double t0 = cpu_ms();
        run(j);
        double t = cpu_ms() - t0;
        if (best < 0 || t < best) best = t;
    }
    return best;
}

/* The output buffer of a conv job. */
static float *conv_out(const job *j, int64_t *n) {
    const cg_conv2d_desc *d = &j->cd;
    if (j->kind == J_CONV_FWD) return *n = d->n * d->oc * d->oh * d->ow, j->c;
    if (j->kind == J_CONV_BWD_DATA) return *n = d->n * d->c * d->h * d->w, j->a;
    return *n = d->oc * (d->c / d->groups) * d->kh * d->kw, j->b;
}

/* --kernels: every conv kernel on every conv row, forced in turn: its CPU
 * time on one thread (OMP_NUM_THREADS=1), its wall time on `threads`,
 * whether, at `threads`, a call on one thread and a call on all of them
 * (the two choices of cg_nn_tuner) give the same bits, and what the rule
 * picks.  The
 * measurements behind cg_conv2d_kernel_for (docs/DESIGN.md). */
static int kernel_table(const conv_shape *shapes, size_t count, int threads) {
    const char *pass[3] = {"fwd", "bwd data", "bwd weight"};
    printf("op\tkernel\tcpu ms (1 thread)\twall ms (%d threads)\tsame bits on 1 and %d threads\trule (%s)\n", threads,
           threads, cg_conv2d_isa_name(cg_conv2d_isa_active()));
    const char *only = getenv("CGRAD_BENCH_ONLY");
    for (size_t i = 0; i < count; i++) {
        const conv_shape *s = &shapes[i];
        if (only && *only && !strstr(s->name, only)) continue;
        job j = {.cd = {.n = N, .c = s->c, .h = s->h, .w = s->h, .oc = s->oc, .kh = s->k, .kw = s->k,
                        .stride_h = s->s, .stride_w = s->s, .pad_h = s->p, .pad_w = s->p, .dil_h = 1, .dil_w = 1,
                        .groups = 1}};
        if (cg_conv2d_desc_init(&j.cd, msg, sizeof msg)) return 1;
        int64_t nx = (int64_t)N * s->c * s->h * s->h, nw = (int64_t)s->oc * s->c * s->k * s->k;
        int64_t ny = (int64_t)N * s->oc * j.cd.oh * j.cd.ow;
        float *x = filled(nx, 0.37), *w = filled(nw, 0.11), *y = filled(ny, 0.53);
        for (int k = 0; k < 3; k++) {
            cg_conv2d_kernel rule = cg_conv2d_kernel_for(&j.cd, (cg_conv2d_pass)k);
            for (int kern = 0; kern < CG_CONV2D_KERNELS; kern++) {
                j.kind = J_CONV_FWD + k;
                memcpy(j.a = malloc((size_t)nx * 4), x, (size_t)nx * 4);
                memcpy(j.b = malloc((size_t)nw * 4), w, (size_t)nw * 4);
                memcpy(j.c = malloc((size_t)ny * 4), y, (size_t)ny * 4);
                cg_conv2d_force_kernel((cg_conv2d_kernel)kern);
                int64_t n_out;
                float *out = conv_out(&j, &n_out), *one = malloc((size_t)n_out * 4);
                omp_set_num_threads(1);
                double c1 = cpu_time_job(&j, 7);
                memcpy(one, out, (size_t)n_out * 4);
                /* A fresh entry: its tuner runs call 1 on all threads and
                 * call 2 on one (cpu_nn_threads.c), so comparing them
                 * compares the two thread counts a run may mix. */
                omp_set_num_threads(threads);
                cg_conv2d_cache_clear();
                int same = c1 >= 0;
                for (int r = 0; r < 2 && same; r++) {
                    same = !run(&j);
                    if (r == 0) memcpy(one, out, (size_t)n_out * 4);
                    else same = same && !memcmp(one, out, (size_t)n_out * 4);
                }
                double w2 = -1;
                for (int r = 0; r < 7 && c1 >= 0; r++) {
                    double t0 = now_ms();
                    run(&j);
                    double t = now_ms() - t0;
                    if (w2 < 0 || t < w2) w2 = t;
                }
                printf("%s %s\t%s\t%.3f\t%.3f\t%s\t%s\n", s->name, pass[k], cg_conv2d_kernel_name((cg_conv2d_kernel)kern),
                       c1, w2, same ? "yes" : "NO", kern == (int)rule ? "<- rule" : "");
                fflush(stdout);
                free(one), free(j.a), free(j.b), free(j.c);
            }
        }
        free(x), free(w), free(y);
        cg_conv2d_cache_clear();
    }
    cg_conv2d_force_kernel(CG_CONV2D_AUTO);
    return 0;
}

static int report(const char *op, const job *j, double gflop) {
    /* CGRAD_BENCH_ONLY=text: only the rows whose name contains it (for perf) */
    const char *only = getenv("CGRAD_BENCH_ONLY");
    if (only && *only && !strstr(op, only)) return 0;
    double ms = time_job(j);
    if (ms < 0) {
        fprintf(stderr, "bench_conv: %s failed: %s\n", op, msg);
        return 1;
    }
    if (gflop > 0) printf("RESULT\t%s\t%.4f\t%.6f\n", op, ms, gflop);
    else printf("RESULT\t%s\t%.4f\n", op, ms);
    fflush(stdout);
    return 0;
}

int main(int argc, char **argv) {
    if (argc > 1 && (!strcmp(argv[1], "--help") || !strcmp(argv[1], "-h"))) {
        printf("usage: bench_conv [--kernels [THREADS]]\nTimes conv2d, batch_norm and pooling kernels at resnet18's and the cnn's\n"
               "MNIST shapes; prints RESULT<TAB>op<TAB>ms<TAB>GFLOP lines and the measured SGEMM PEAK\n"
               "(bench/run.sh pairs them with bench/conv_torch.py).  CGRAD_BENCH_CLOCK=cpu times by CPU time.\n"
               "--kernels: every conv kernel on every conv row (the table behind the kernel rule).\n");
        return 0;
    }
    if (argc > 1 && !strcmp(argv[1], "--kernels"))
        return kernel_table(convs, sizeof convs / sizeof *convs, argc > 2 ? atoi(argv[2]) : omp_get_max_threads());
    int status = 0;
    char op[128];
    /* CGRAD_BENCH_KERNEL=name (cg_conv2d_kernel_name's): force one conv kernel on every row, for profiling */
    const char *force = getenv("CGRAD_BENCH_KERNEL");
    for (int k = 0; force && k < CG_CONV2D_KERNELS; k++)
        if (!strcmp(force, cg_conv2d_kernel_name((cg_conv2d_kernel)k))) cg_conv2d_force_kernel((cg_conv2d_kernel)k);

    /* The machine's peak, measured now: a 1024^3 SGEMM, OpenBLAS's and
     * oneDNN's, the faster of the two (OpenBLAS 0.3.21 runs its SSE3 kernels
     * on CPU models it does not know, cpu_conv_gemm.c). */
    job sg = {.kind = J_SGEMM, .sgemm_n = 1024};
    sg.a = filled(1024 * 1024, 0.1), sg.b = filled(1024 * 1024, 0.2), sg.c = filled(1024 * 1024, 0.3);
    double gemm_gflop = 2.0 * 1024.0 * 1024.0 * 1024.0 / 1e9, gemm_ms = time_job(&sg);
    sg.kind = J_DNNL_SGEMM;
    double dnnl_ms = time_job(&sg);
    double peak_ms = dnnl_ms > 0 && dnnl_ms < gemm_ms ? dnnl_ms : gemm_ms;
    printf("PEAK\t%.1f\n", gemm_gflop / (peak_ms / 1e3));
    printf("RESULT\tsgemm 1024^3 (peak)\t%.4f\t%.6f\n", peak_ms, gemm_gflop);
    printf("NOTE\tpeak: 1024^3 SGEMM %.1f GFLOP/s by OpenBLAS, %.1f by oneDNN\n", gemm_gflop / (gemm_ms / 1e3),
           gemm_gflop / (dnnl_ms / 1e3));
    free(sg.a), free(sg.b), free(sg.c);

    for (size_t i = 0; i < sizeof convs / sizeof *convs; i++) {
        const conv_shape *s = &convs[i];
        job j = {.cd = {.n = N, .c = s->c, .h = s->h, .w = s->h, .oc = s->oc, .kh = s->k, .kw = s->k,
                        .stride_h = s->s, .stride_w = s->s, .pad_h = s->p, .pad_w = s->p, .dil_h = 1, .dil_w = 1,
                        .groups = 1}};
        if (cg_conv2d_desc_init(&j.cd, msg, sizeof msg)) {
            fprintf(stderr, "bench_conv: %s\n", msg);
            return 1;
        }
        int64_t nx = (int64_t)N * s->c * s->h * s->h, nw = (int64_t)s->oc * s->c * s->k * s->k;
        int64_t ny = (int64_t)N * s->oc * j.cd.oh * j.cd.ow;
        j.a = filled(nx, 0.37), j.b = filled(nw, 0.11), j.c = filled(ny, 0.53);
        double gflop = cg_conv2d_flops(&j.cd) / 1e9;
        const char *pass[3] = {"fwd", "bwd data", "bwd weight"};
        cg_conv2d_desc plain_d = j.cd;
        for (int k = 0; k < 3; k++) {
            j.kind = J_CONV_FWD + k;
            /* in the layouts a network passes between its layers (kept
             * layouts, core/dispatch_nn.c): x and y in the blocks the pass's
             * primitive runs in, so no reorder, as mid-network; plain NCHW
             * where it runs plain (CGRAD_LAYOUTS=plain: every row plain, with
             * oneDNN's reorders, as PyTorch's NCHW tensors run) */
            j.cd = plain_d;
            if (cg_conv2d_native_blocks(&plain_d, (cg_conv2d_pass)k, &j.cd.x_block, &j.cd.y_block, msg, sizeof msg))
                j.cd.x_block = j.cd.y_block = 0;
            snprintf(op, sizeof op, "conv %s %s", s->name, pass[k]);
            status |= report(op, &j, gflop);
        }
        free(j.a), free(j.b), free(j.c);
    }

    for (size_t i = 0; i < sizeof bns / sizeof *bns; i++) {
        const bn_shape *s = &bns[i];
        job j = {.bd = {.n = N, .c = s->c, .hw = (int64_t)s->h * s->h, .eps = 1e-5, .momentum = 0.1}};
        /* blocked where training runs it blocked: after the convs of maps of
         * 4x4 and up (oneDNN's blocked kernels; below them the rule runs the
         * GEMM, which writes plain) */
        int64_t pb = cg_conv2d_preferred_block();
        if (j.bd.hw >= 16 && pb && s->c % pb == 0) j.bd.block = pb;
        int64_t nx = j.bd.n * j.bd.c * j.bd.hw;
        j.a = filled(nx, 0.37), j.b = filled(nx, 0.1), j.c = filled(nx, 0.53);
        j.d = filled(512, 0.2), j.e = filled(1024, 0.3), j.f = filled(1024, 0.0), j.g = filled(1024, 0.0);
        for (int c = 0; c < 1024; c++) j.g[c] = 1;
        j.kind = J_BN_FWD;
        snprintf(op, sizeof op, "batchnorm %s fwd train", s->name);
        status |= report(op, &j, 0);
        j.kind = J_BN_BWD;
        snprintf(op, sizeof op, "batchnorm %s bwd", s->name);
        status |= report(op, &j, 0);
        free(j.a), free(j.b), free(j.c), free(j.d), free(j.e), free(j.f), free(j.g);
    }
    /* BatchNorm with the ReLU that follows it fused (the kernel of cg_batch_norm_relu):
     * the forward writes relu(y); the backward masks dy by y > 0 first, so
     * it reads the forward's y (about half zeros: x is a sine, centred). */
    for (size_t i = 0; i < sizeof bn_relus / sizeof *bn_relus; i++) {
        const bn_shape *s = &bn_relus[i];
        job j = {.bd = {.n = N, .c = s->c, .hw = (int64_t)s->h * s->h, .eps = 1e-5, .momentum = 0.1, .relu = true}};
        int64_t pb = cg_conv2d_preferred_block(); /* as above */
        if (j.bd.hw >= 16 && pb && s->c % pb == 0) j.bd.block = pb;
        int64_t nx = j.bd.n * j.bd.c * j.bd.hw;
        j.a = filled(nx, 0.37), j.b = filled(nx, 0.1), j.c = filled(nx, 0.53), j.h = filled(nx, 0.0);
        j.d = filled(512, 0.2), j.e = filled(1024, 0.3), j.f = filled(1024, 0.0), j.g = filled(1024, 0.0);
        for (int c = 0; c < 1024; c++) j.g[c] = 1;
        j.kind = J_BN_FWD;
        snprintf(op, sizeof op, "batchnorm+relu %s fwd train", s->name);
        status |= report(op, &j, 0);
        /* the backward's y, mean and invstd from one forward */
        cg_batchnorm_forward_train(&j.bd, j.a, j.d, j.e, j.h, j.f, j.g, NULL, NULL);
        j.kind = J_BN_BWD;
        snprintf(op, sizeof op, "batchnorm+relu %s bwd", s->name);
        status |= report(op, &j, 0);
        free(j.a), free(j.b), free(j.c), free(j.d), free(j.e), free(j.f), free(j.g), free(j.h);
    }

    {
        job j = {.pd = {.n = N, .c = 64, .h = 14, .w = 14, .kh = 3, .kw = 3, .stride_h = 2, .stride_w = 2,
                        .pad_h = 1, .pad_w = 1}};
        if (cg_pool2d_desc_init(&j.pd, msg, sizeof msg)) return 1;
        j.a = filled((int64_t)N * 64 * 14 * 14, 0.37), j.b = filled((int64_t)N * 64 * 7 * 7, 0.2);
        j.idx = malloc((size_t)N * 64 * 7 * 7 * sizeof *j.idx);
        if (!j.idx) return 1;
        j.kind = J_MAXPOOL_FWD;
        status |= report("maxpool 3x3s2p1 64x14->7 fwd", &j, 0);
        j.kind = J_MAXPOOL_BWD;
        status |= report("maxpool 3x3s2p1 64x14->7 bwd", &j, 0);
        free(j.a), free(j.b), free(j.idx);
    }
    {
        job j = {.pd = {.n = N, .c = 256, .h = 4, .w = 4, .oh = 1, .ow = 1}};
        j.a = filled((int64_t)N * 256 * 16, 0.37), j.b = filled((int64_t)N * 256, 0.2);
        j.idx = malloc((size_t)N * 256 * sizeof *j.idx);
        if (!j.idx) return 1;
        j.kind = J_ADAPTIVE_AVG;
        status |= report("adaptive avgpool 256x4->1 fwd", &j, 0);
        j.kind = J_ADAPTIVE_MAX;
        status |= report("adaptive maxpool 256x4->1 fwd", &j, 0);
        free(j.a), free(j.b), free(j.idx);
    }
    printf("NOTE\t%d cached conv entries (shape x pass); kernels by cg_conv2d_kernel_for (%s column), threads per call by "
           "cg_nn_tuner; conv GFLOP/s count the nominal work, taps on padding included\n",
           cg_conv2d_cache_size(), cg_conv2d_isa_name(cg_conv2d_isa_active()));
    cg_conv2d_cache_clear();
    return status;
}
