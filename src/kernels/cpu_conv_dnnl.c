/* conv2d's fast kernels: oneDNN 2.6 convolution primitives, cached.
 *
 * Why oneDNN, and which layout (measured on the 2-core Xeon, AVX-512, 2
 * threads, batch 64; GFLOP/s, forward / backward data / backward weights):
 *
 *   shape                       plain NCHW     blocked + reorders   NHWC + reorders
 *   3x3 64->64 at 7x7           64 / 52 / 87   218 / 212 / 201      178 / 133 / 205
 *   7x7 s2 3->64 at 28x28       58 / 61 / 49   195 /  32 / 166      150 /  17 / 154
 *
 * PyTorch 1.13 (ideep) runs the same blocked kernels with the same
 * reorders: on one thread its 3x3 64->64 at 7x7 took 1.87 ms to our 1.79.
 * (bench/bench_conv.c gives the full, current table.)  im2col + one
 * OpenBLAS SGEMM over the whole batch ran at 39-42 on these two shapes, so
 * on maps of 7x7 and up oneDNN's JIT kernels, which dispatch on the CPU at
 * run time (AVX-512 or AVX2, no -march needed), are the fast path.
 * The blocked layout (format_tag_any: nChw16c on AVX-512) is 3x faster than
 * plain NCHW even when the reorders from and to cgrad's NCHW buffers are
 * paid on every call, but not on every shape: the 7x7 stem's data backward
 * is fastest plain, and on resnet's 4x4, 2x2 and 1x1 maps every oneDNN
 * layout is slow (the weight backward of 3x3 512->512 at 1x1: 28-55 ms),
 * where one batch-wide SGEMM without the all-padding taps (cpu_conv_gemm.c)
 * takes 2-3 ms.  So the kernel is chosen by measurement, per shape: the
 * first call builds the four candidates (oneDNN plain, blocked and NHWC,
 * each with the reorders it needs, and the batch GEMM), times each on that
 * call's own data (one warm-up, best of three), keeps the fastest and frees
 * the others.  The times are the calling thread's CPU time, not the wall
 * clock: on the shared machine (load 10-14 on 2 cores) a candidate timed by
 * the wall clock loses whenever the thread is descheduled, and a choice made
 * that way sticks for the whole run (measured: 32->64 3x3 s2 at 28x28, the
 * data backward kept a 22 ms plan over one of 6 ms).
 *
 * Cache: one entry per (descriptor, pass, bias or not), found in a linked
 * list under a global mutex; each entry has its own mutex held while it
 * runs, because its reorder buffers are shared state, and its own stream.
 * An entry has one plan per thread count (1, and omp_get_max_threads()):
 * oneDNN fixes a primitive's thread partition at creation, so a primitive
 * is executed only with the thread count it was made with.  Which count a
 * call uses is decided by the entry's cg_nn_tuner (cpu_nn_threads.h).
 * Weights are reordered on every call, never cached, because they change
 * after every optimizer step. */
#include <omp.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <oneapi/dnnl/dnnl.h>
#include <oneapi/dnnl/dnnl_debug.h>

#include "kernels/cpu_nn_threads.h"
#include "kernels/nn_kernels.h"

enum { PASS_FWD, PASS_BWD_DATA, PASS_BWD_WEIGHTS };
enum { LAYOUT_PLAIN, LAYOUT_BLOCKED, LAYOUT_NHWC, LAYOUT_GEMM, LAYOUT_COUNT };

/* The batch-GEMM candidate (cpu_conv_gemm.c) only where its workspace stays
 * modest (it holds the whole batch's patches) and OpenBLAS's int sizes hold. */
#define GEMM_MAX_WORKSPACE ((int64_t)1 << 25) /* floats: 128 MiB */

/* One argument of a primitive: cgrad's buffer (user) and, when oneDNN wants
 * another layout, its own buffer and the reorder between them. */
typedef struct conv_arg {
    int arg;                  /* DNNL_ARG_* */
    int output;               /* written by the primitive */
    dnnl_memory_t user;       /* handle set to the caller's pointer per call */
    dnnl_memory_t internal;   /* NULL when the layouts agree */
    dnnl_primitive_t reorder; /* user -> internal for inputs, internal -> user for outputs */
} conv_arg;

typedef struct conv_plan {
    dnnl_primitive_t prim;
    conv_arg args[4];
    int nargs;
    int layout;
    int pass, bias;
    const cg_conv2d_desc *d;
    float *work; /* LAYOUT_GEMM's workspace */
} conv_plan;

typedef struct conv_entry {
    cg_conv2d_desc d;
    int pass, bias;
    pthread_mutex_t lock;
    dnnl_stream_t stream;
    conv_plan *plans[2]; /* [0]: one thread, [1]: max threads (built on first use) */
    int plan_threads[2];
    cg_nn_tuner tuner;
    struct conv_entry *next;
} conv_entry;

static pthread_mutex_t cache_lock = PTHREAD_MUTEX_INITIALIZER;
static dnnl_engine_t engine;
static conv_entry *cache;
static int cache_count;

#define DNNL_TRY(call)                                                                         \
    do {                                                                                       \
        dnnl_status_t st_ = (call);                                                            \
        if (st_ != dnnl_success) {                                                             \
            if (msg && msg_size)                                                               \
                snprintf(msg, msg_size, "conv2d: oneDNN %s failed: %s", #call, dnnl_status2str(st_)); \
            goto fail;                                                                         \
        }                                                                                      \
    } while (0)

static void plan_free(conv_plan *p) {
    if (!p) return;
    for (int i = 0; i < p->nargs; i++) {
        if (p->args[i].reorder) dnnl_primitive_destroy(p->args[i].reorder);
        if (p->args[i].internal) dnnl_memory_destroy(p->args[i].internal);
        if (p->args[i].user) dnnl_memory_destroy(p->args[i].user);
    }
    if (p->prim) dnnl_primitive_destroy(p->prim);
    free(p->work);
    free(p);
}

/* Adds argument `arg` of primitive descriptor pd with cgrad's layout `user_md`. */
static int plan_add_arg(conv_plan *p, const_dnnl_primitive_desc_t pd, int arg, int output,
                        const dnnl_memory_desc_t *user_md, char *msg, size_t msg_size) {
    conv_arg *a = &p->args[p->nargs++];
    memset(a, 0, sizeof *a);
    a->arg = arg;
    a->output = output;
    const dnnl_memory_desc_t *want = dnnl_primitive_desc_query_md(pd, dnnl_query_exec_arg_md, arg);
    dnnl_primitive_desc_t rpd = NULL;
    DNNL_TRY(dnnl_memory_create(&a->user, user_md, engine, DNNL_MEMORY_NONE));
    if (want && !dnnl_memory_desc_equal(want, user_md)) {
        DNNL_TRY(dnnl_memory_create(&a->internal, want, engine, DNNL_MEMORY_ALLOCATE));
        if (output) DNNL_TRY(dnnl_reorder_primitive_desc_create(&rpd, want, engine, user_md, engine, NULL));
        else DNNL_TRY(dnnl_reorder_primitive_desc_create(&rpd, user_md, engine, want, engine, NULL));
        dnnl_status_t st = dnnl_primitive_create(&a->reorder, rpd);
        dnnl_primitive_desc_destroy(rpd);
        rpd = NULL;
        DNNL_TRY(st);
    }
    return 0;
fail:
    if (rpd) dnnl_primitive_desc_destroy(rpd);
    return -1;
}

/* Builds the primitive of `pass` for descriptor d in `layout`, on the
 * current thread count.  NULL (with msg) when oneDNN refuses. */
static conv_plan *plan_build(const cg_conv2d_desc *d, int pass, int bias, int layout, char *msg,
                             size_t msg_size) {
    conv_plan *p = calloc(1, sizeof *p);
    if (!p) {
        if (msg && msg_size) snprintf(msg, msg_size, "conv2d: out of memory for a oneDNN plan");
        return NULL;
    }
    p->layout = layout;
    p->pass = pass, p->bias = bias, p->d = d;
    dnnl_primitive_desc_t fwd_pd = NULL, pd = NULL;
    if (layout == LAYOUT_GEMM) {
        int64_t size = cg_conv2d_gemm_workspace(d);
        if (d->kh * d->kw > CG_CONV2D_GEMM_MAX_TAPS || size > GEMM_MAX_WORKSPACE ||
            !(p->work = malloc((size_t)size * sizeof *p->work))) {
            free(p);
            return NULL; /* not a candidate here; oneDNN's layouts remain */
        }
        return p;
    }
    int64_t g = d->groups;
    dnnl_dims_t xd = {d->n, d->c, d->h, d->w}, yd = {d->n, d->oc, d->oh, d->ow}, bd = {d->oc};
    dnnl_dims_t wd = {d->oc, d->c, d->kh, d->kw}, gwd = {g, d->oc / g, d->c / g, d->kh, d->kw};
    dnnl_dims_t strides = {d->stride_h, d->stride_w}, dil = {d->dil_h - 1, d->dil_w - 1};
    dnnl_dims_t pad = {d->pad_h, d->pad_w}; /* oneDNN floors the output size as PyTorch does */
    int wnd = g > 1 ? 5 : 4;
    dnnl_format_tag_t wtag = g > 1 ? dnnl_goihw : dnnl_oihw;
    dnnl_memory_desc_t ux, uw, uy, ub, ix, iw, iy;
    DNNL_TRY(dnnl_memory_desc_init_by_tag(&ux, 4, xd, dnnl_f32, dnnl_nchw));
    DNNL_TRY(dnnl_memory_desc_init_by_tag(&uw, wnd, g > 1 ? gwd : wd, dnnl_f32, wtag));
    DNNL_TRY(dnnl_memory_desc_init_by_tag(&uy, 4, yd, dnnl_f32, dnnl_nchw));
    DNNL_TRY(dnnl_memory_desc_init_by_tag(&ub, 1, bd, dnnl_f32, dnnl_a));
    dnnl_format_tag_t act = layout == LAYOUT_PLAIN ? dnnl_nchw : layout == LAYOUT_NHWC ? dnnl_nhwc : dnnl_format_tag_any;
    DNNL_TRY(dnnl_memory_desc_init_by_tag(&ix, 4, xd, dnnl_f32, act));
    DNNL_TRY(dnnl_memory_desc_init_by_tag(&iy, 4, yd, dnnl_f32, act));
    DNNL_TRY(dnnl_memory_desc_init_by_tag(&iw, wnd, g > 1 ? gwd : wd, dnnl_f32,
                                          layout == LAYOUT_PLAIN ? wtag : dnnl_format_tag_any));

    dnnl_convolution_desc_t cd;
    DNNL_TRY(dnnl_dilated_convolution_forward_desc_init(&cd, dnnl_forward_training, dnnl_convolution_direct,
                                                        &ix, &iw, bias && pass == PASS_FWD ? &ub : NULL, &iy,
                                                        strides, dil, pad, pad));
    DNNL_TRY(dnnl_primitive_desc_create(&fwd_pd, &cd, NULL, engine, NULL));
    if (pass == PASS_FWD) {
        pd = fwd_pd;
        fwd_pd = NULL;
        if (plan_add_arg(p, pd, DNNL_ARG_SRC, 0, &ux, msg, msg_size) ||
            plan_add_arg(p, pd, DNNL_ARG_WEIGHTS, 0, &uw, msg, msg_size) ||
            (bias && plan_add_arg(p, pd, DNNL_ARG_BIAS, 0, &ub, msg, msg_size)) ||
            plan_add_arg(p, pd, DNNL_ARG_DST, 1, &uy, msg, msg_size))
            goto fail;
    } else if (pass == PASS_BWD_DATA) {
        DNNL_TRY(dnnl_dilated_convolution_backward_data_desc_init(&cd, dnnl_convolution_direct, &ix, &iw, &iy,
                                                                  strides, dil, pad, pad));
        DNNL_TRY(dnnl_primitive_desc_create(&pd, &cd, NULL, engine, fwd_pd));
        if (plan_add_arg(p, pd, DNNL_ARG_DIFF_DST, 0, &uy, msg, msg_size) ||
            plan_add_arg(p, pd, DNNL_ARG_WEIGHTS, 0, &uw, msg, msg_size) ||
            plan_add_arg(p, pd, DNNL_ARG_DIFF_SRC, 1, &ux, msg, msg_size))
            goto fail;
    } else {
        DNNL_TRY(dnnl_dilated_convolution_backward_weights_desc_init(&cd, dnnl_convolution_direct, &ix, &iw,
                                                                     bias ? &ub : NULL, &iy, strides, dil,
                                                                     pad, pad));
        DNNL_TRY(dnnl_primitive_desc_create(&pd, &cd, NULL, engine, fwd_pd));
        if (plan_add_arg(p, pd, DNNL_ARG_SRC, 0, &ux, msg, msg_size) ||
            plan_add_arg(p, pd, DNNL_ARG_DIFF_DST, 0, &uy, msg, msg_size) ||
            plan_add_arg(p, pd, DNNL_ARG_DIFF_WEIGHTS, 1, &uw, msg, msg_size) ||
            (bias && plan_add_arg(p, pd, DNNL_ARG_DIFF_BIAS, 1, &ub, msg, msg_size)))
            goto fail;
    }
    DNNL_TRY(dnnl_primitive_create(&p->prim, pd));
    dnnl_primitive_desc_destroy(pd);
    if (fwd_pd) dnnl_primitive_desc_destroy(fwd_pd);
    return p;
fail:
    if (pd) dnnl_primitive_desc_destroy(pd);
    if (fwd_pd) dnnl_primitive_desc_destroy(fwd_pd);
    plan_free(p);
    return NULL;
}

/* Runs plan p on the caller's buffers (ptrs in the order of p->args). */
static int plan_run(conv_plan *p, dnnl_stream_t stream, void *const *ptrs, char *msg, size_t msg_size) {
    if (p->layout == LAYOUT_GEMM) {
        int threads = omp_get_max_threads();
        if (p->pass == PASS_FWD)
            return cg_conv2d_forward_gemm(p->d, ptrs[0], ptrs[1], p->bias ? ptrs[2] : NULL, ptrs[p->bias ? 3 : 2],
                                          p->work, threads) ? -1 : 0;
        if (p->pass == PASS_BWD_DATA) return cg_conv2d_backward_data_gemm(p->d, ptrs[0], ptrs[1], ptrs[2], p->work, threads) ? -1 : 0;
        return cg_conv2d_backward_weights_gemm(p->d, ptrs[0], ptrs[1], ptrs[2], p->bias ? ptrs[3] : NULL, p->work,
                                               threads) ? -1 : 0;
    }
    dnnl_exec_arg_t exec[4];
    for (int i = 0; i < p->nargs; i++) {
        conv_arg *a = &p->args[i];
        DNNL_TRY(dnnl_memory_set_data_handle(a->user, ptrs[i]));
        if (a->reorder && !a->output) {
            dnnl_exec_arg_t r[2] = {{DNNL_ARG_FROM, a->user}, {DNNL_ARG_TO, a->internal}};
            DNNL_TRY(dnnl_primitive_execute(a->reorder, stream, 2, r));
        }
        exec[i].arg = a->arg;
        exec[i].memory = a->internal ? a->internal : a->user;
    }
    DNNL_TRY(dnnl_primitive_execute(p->prim, stream, p->nargs, exec));
    for (int i = 0; i < p->nargs; i++) {
        conv_arg *a = &p->args[i];
        if (a->reorder && a->output) {
            dnnl_exec_arg_t r[2] = {{DNNL_ARG_FROM, a->internal}, {DNNL_ARG_TO, a->user}};
            DNNL_TRY(dnnl_primitive_execute(a->reorder, stream, 2, r));
        }
    }
    DNNL_TRY(dnnl_stream_wait(stream));
    return 0;
fail:
    return -1;
}

/* Builds every layout's plan, runs each on this call's data and keeps the
 * fastest.  The outputs hold a complete result afterwards (every candidate
 * writes all of them). */
static conv_plan *plan_choose(conv_entry *e, void *const *ptrs, char *msg, size_t msg_size) {
    conv_plan *best = NULL;
    double best_ms = 0;
    for (int layout = 0; layout < LAYOUT_COUNT; layout++) {
        conv_plan *p = plan_build(&e->d, e->pass, e->bias, layout, msg, msg_size);
        if (!p) continue;
        double ms = 0;
        for (int rep = 0; rep < 4; rep++) {
            double t0 = cg_nn_cpu_ms();
            if (plan_run(p, e->stream, ptrs, msg, msg_size)) {
                ms = -1;
                break;
            }
            double t = cg_nn_cpu_ms() - t0;
            if (rep == 1 || (rep > 1 && t < ms)) ms = t; /* rep 0 warms up; the best of 3 */
        }
        if (ms < 0) {
            plan_free(p);
            continue;
        }
        if (!best || ms < best_ms) {
            plan_free(best);
            best = p;
            best_ms = ms;
        } else {
            plan_free(p);
        }
    }
    if (best && msg && msg_size) msg[0] = 0; /* a refused candidate is not an error */
    if (!best && msg && msg_size && !msg[0]) snprintf(msg, msg_size, "conv2d: oneDNN has no primitive");
    return best;
}

static int desc_equal(const cg_conv2d_desc *a, const cg_conv2d_desc *b) {
    return a->n == b->n && a->c == b->c && a->h == b->h && a->w == b->w && a->oc == b->oc && a->kh == b->kh &&
           a->kw == b->kw && a->stride_h == b->stride_h && a->stride_w == b->stride_w && a->pad_h == b->pad_h &&
           a->pad_w == b->pad_w && a->dil_h == b->dil_h && a->dil_w == b->dil_w && a->groups == b->groups;
}

static conv_entry *entry_get(const cg_conv2d_desc *d, int pass, int bias, char *msg, size_t msg_size) {
    pthread_mutex_lock(&cache_lock);
    conv_entry *e = cache;
    while (e && !(e->pass == pass && e->bias == bias && desc_equal(&e->d, d))) e = e->next;
    if (!e) {
        if (!engine) {
            dnnl_status_t st = dnnl_engine_create(&engine, dnnl_cpu, 0);
            if (st != dnnl_success) {
                engine = NULL;
                if (msg && msg_size) snprintf(msg, msg_size, "conv2d: oneDNN engine: %s", dnnl_status2str(st));
                pthread_mutex_unlock(&cache_lock);
                return NULL;
            }
        }
        e = calloc(1, sizeof *e);
        dnnl_status_t st = dnnl_success;
        if (e) st = dnnl_stream_create(&e->stream, engine, dnnl_stream_default_flags);
        if (!e || st != dnnl_success) {
            if (msg && msg_size)
                snprintf(msg, msg_size, "conv2d: %s", e ? dnnl_status2str(st) : "out of memory for a cache entry");
            free(e);
            pthread_mutex_unlock(&cache_lock);
            return NULL;
        }
        e->d = *d;
        e->pass = pass;
        e->bias = bias;
        pthread_mutex_init(&e->lock, NULL);
        e->next = cache;
        cache = e;
        cache_count++;
    }
    pthread_mutex_unlock(&cache_lock);
    return e;
}

static cg_nn_status conv_run(const cg_conv2d_desc *d, int pass, int bias, void *const *ptrs, char *msg,
                             size_t msg_size) {
    if (msg && msg_size) msg[0] = 0;
    conv_entry *e = entry_get(d, pass, bias, msg, msg_size);
    if (!e) return CG_NN_ENOMEM;
    pthread_mutex_lock(&e->lock);
    int max_threads = omp_get_max_threads(), arm;
    int threads = cg_nn_tuner_pick(&e->tuner, max_threads, &arm);
    if (e->plans[arm] && e->plan_threads[arm] != threads) { /* omp_set_num_threads changed since */
        plan_free(e->plans[arm]);
        e->plans[arm] = NULL;
    }
    int saved = max_threads;
    if (threads != saved) omp_set_num_threads(threads);
    cg_nn_status status = CG_NN_OK;
    if (!e->plans[arm]) {
        e->plans[arm] = plan_choose(e, ptrs, msg, msg_size);
        e->plan_threads[arm] = threads;
        if (!e->plans[arm]) status = CG_NN_EBACKEND;
    } else {
        double t0 = cg_nn_now_ms();
        if (plan_run(e->plans[arm], e->stream, ptrs, msg, msg_size)) status = CG_NN_EBACKEND;
        else cg_nn_tuner_record(&e->tuner, arm, cg_nn_now_ms() - t0);
    }
    if (threads != saved) omp_set_num_threads(saved);
    pthread_mutex_unlock(&e->lock);
    return status;
}

cg_nn_status cg_conv2d_forward(const cg_conv2d_desc *d, const float *x, const float *w, const float *bias,
                               float *y, char *msg, size_t msg_size) {
    void *ptrs[4] = {(void *)x, (void *)w, bias ? (void *)bias : (void *)y, (void *)y};
    return conv_run(d, PASS_FWD, bias != NULL, ptrs, msg, msg_size);
}

cg_nn_status cg_conv2d_backward_data(const cg_conv2d_desc *d, const float *dy, const float *w, float *dx,
                                     char *msg, size_t msg_size) {
    void *ptrs[3] = {(void *)dy, (void *)w, dx};
    return conv_run(d, PASS_BWD_DATA, 0, ptrs, msg, msg_size);
}

cg_nn_status cg_conv2d_backward_weights(const cg_conv2d_desc *d, const float *x, const float *dy,
                                        float *dw, float *dbias, char *msg, size_t msg_size) {
    void *ptrs[4] = {(void *)x, (void *)dy, dw, dbias};
    return conv_run(d, PASS_BWD_WEIGHTS, dbias != NULL, ptrs, msg, msg_size);
}

void cg_conv2d_cache_clear(void) {
    pthread_mutex_lock(&cache_lock);
    while (cache) {
        conv_entry *e = cache;
        cache = e->next;
        plan_free(e->plans[0]);
        plan_free(e->plans[1]);
        dnnl_stream_destroy(e->stream);
        pthread_mutex_destroy(&e->lock);
        free(e);
    }
    cache_count = 0;
    if (engine) dnnl_engine_destroy(engine);
    engine = NULL;
    pthread_mutex_unlock(&cache_lock);
}

int cg_conv2d_cache_size(void) {
    pthread_mutex_lock(&cache_lock);
    int n = cache_count;
    pthread_mutex_unlock(&cache_lock);
    return n;
}
