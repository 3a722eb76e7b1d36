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
 * takes 2-3 ms.  So the kernel depends on the shape.  It used to be chosen
 * by timing the four candidates on a shape's first call, but then a run's
 * bits depended on the timing (another process, another choice), so it is
 * now a fixed rule, cg_conv2d_kernel_for below, written from the table
 * `bench_conv --kernels` prints (docs/DESIGN.md has it).  A kernel oneDNN
 * refuses for a shape falls back to the next in a fixed order.
 *
 * Same bits on any thread count: each call runs on one thread or on all,
 * as the entry's cg_nn_tuner (cpu_nn_threads.h) finds faster under the
 * load of the moment, so every kernel must give the same bits on either.
 * The forward and the data backward do (each output element is summed by
 * one thread; measured on every bench row and tested), except oneDNN's
 * plain kernels', which therefore run on one thread (conv_run); oneDNN's
 * weight backward does not (it splits the batch's sum over its threads), so it
 * runs in WBWD_SLICES fixed batch slices (below); the GEMM cuts its
 * products into GEMM_BLOCKS fixed pieces (cpu_conv_gemm.c).  Both are
 * constants, not the process's thread count, so the thread count
 * (--threads, OMP_NUM_THREADS) changes the speed, never the bits (when
 * they were the thread count, a cnn epoch gave another model file on
 * --threads 1 than on --threads 2; tests/cli/threads_bits.sh).
 *
 * Cache: one entry per (descriptor, pass, bias or not, kernel), found in a
 * linked list under a global mutex; each entry has its own mutex held
 * while it runs, because its reorder buffers are shared state.  An entry
 * has one plan per thread count (1, and omp_get_max_threads()): oneDNN
 * fixes a primitive's thread partition at creation, so a primitive is
 * executed only with the thread count it was made with.  Each plan has its
 * own stream, so slices can run at once.
 *
 * Memory: a plan owns no big buffer.  Its oneDNN scratchpads (user mode,
 * dnnl_scratchpad_mode_user), its layout copies (the reorders' internal
 * buffers), the GEMM's workspace and the weight backward's slice gradients
 * live in an arena's slots, each slot one buffer grown on demand to the
 * largest plan that ran in it.  Per slot, not one buffer for all: the
 * weight backward's slices run at once, slice i in slot i (one shared
 * oneDNN scratchpad crashed when two slices ran together), and a caller
 * on another thread takes another arena.  One per plan, as before, held
 * 114 MiB of workspaces and scratchpads and 70 of layout copies and
 * primitives at once on resnet18 (heaptrack); none of it outlives a call
 * (weights are reordered on every call), so sharing changes no bits.
 * Weights are reordered on every call, never cached, because they change
 * after every optimizer step. */
#include <omp.h>
#include <stdatomic.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <oneapi/dnnl/dnnl.h>
#include <oneapi/dnnl/dnnl_debug.h>

#include "kernels/cpu_nn_threads.h"
#include "kernels/nn_kernels.h"


/* The batch-GEMM candidate (cpu_conv_gemm.c) only where its workspace stays
 * modest (it holds the whole batch's patches) and OpenBLAS's int sizes hold. */
#define GEMM_MAX_WORKSPACE ((int64_t)1 << 25) /* floats: 128 MiB */

/* One argument of a primitive: cgrad's buffer (user) and, when oneDNN wants
 * another layout, its own buffer and the reorder between them. */
typedef struct conv_arg {
    int arg;                  /* DNNL_ARG_* */
    int output;               /* written by the primitive */
    dnnl_memory_t user;       /* handle set to the caller's pointer per call */
    dnnl_memory_t internal;   /* NULL when the layouts agree; its handle points into the slot */
    size_t off;               /* internal's offset in the slot's buffer */
    dnnl_primitive_t reorder; /* user -> internal for inputs, internal -> user for outputs */
    dnnl_memory_t scratch;    /* the reorder's scratchpad (at the plan's scratch_off), or NULL */
} conv_arg;

typedef struct conv_plan {
    dnnl_primitive_t prim;
    conv_arg args[4];
    int nargs;
    int layout;
    int pass, bias;
    const cg_conv2d_desc *d;
    dnnl_stream_t stream; /* each plan its own, so that chunks run side by side */
    dnnl_memory_t scratch; /* the primitive's scratchpad (user mode: oneDNN's shared one is not safe for
                              primitives that run at once on several threads), or NULL */
    /* In the slot's buffer: the internal buffers at args[i].off, then one
     * scratchpad region at scratch_off shared by the reorders and the
     * primitive (they run one after another on the plan's in-order stream);
     * the GEMM's workspace from 0.  need: the bytes of all that. */
    size_t scratch_off, scratch_max, need;
} conv_plan;

/* oneDNN's weight backward splits the batch's sum over its threads in a way
 * that depends on the thread count (measured: the 1- and 2-thread results
 * differ in the last bits on most shapes, see docs/DESIGN.md), so it is
 * never run on more than one thread.  Instead the batch is cut into
 * WBWD_SLICES slices (fewer for a smaller batch), each slice's weight
 * gradient computed by a one-thread primitive, the slices side by side on
 * the threads or one after the other on one thread, and the slices'
 * gradients added in slice order: the same bits either way, and on any
 * thread count, since the slices do not depend on it.  Slicing costs little
 * on one thread (batch 64, SCHED_FIFO wall, this EPYC, best of several
 * runs, one primitive -> 4 slices: the cnn's 3x3 s2 64->128 at 14x14
 * 18.4 -> 18.4 ms, resnet18's winograd 128->128 at 4x4 12.1 -> 12.2, its
 * 1x1 s2 128->256 at 4x4 0.89 -> 1.00).  But slices of 16 images run
 * slower than slices of 32 on AVX-512 (3 December, the 2-core AMD EPYC
 * family 25 model 17, Zen 4; `CGRAD_BENCH_ONLY="bwd weight" bench_conv`, 2
 * threads, chrt, the least of 5 runs, 4 slices of 16 -> 2 of 32): oneDNN's
 * winograd 128->128 at 4x4 1.23 -> 0.73 ms, the cnn's 3x3 s2 64->128 at
 * 14x14 2.65 -> 2.38, the 1x1 s2 downsamples 0.84-0.89x, every other row
 * within 3%; so a slice holds at least WBWD_SLICE_IMAGES images
 * (wbwd_slices below), and 4 slices (4 threads) need a batch of 128.
 * GEMM_BLOCKS: the GEMM kernel's fixed pieces (cpu_conv_gemm.c), for the
 * same reason (blocks 1, 2, 4 within noise on one thread). */
#define WBWD_SLICES 4
#define WBWD_SLICE_IMAGES 32
#define GEMM_BLOCKS 4

/* One slot: a buffer, grown on demand, used by one plan at a time. */
typedef struct conv_slot {
    void *buf;
    size_t size;
} conv_slot;

/* What one conv call borrows: slot i for weight-backward slice i (slot 0
 * for an unsliced plan) and the slices' partial gradients.  An arena is
 * taken by one call at a time (arena_take), so one thread calling conv2d
 * reuses one arena: its memory is the largest plan's, not the sum. */
typedef struct conv_arena {
    conv_slot slot[WBWD_SLICES];
    float *partial;
    size_t partial_size; /* floats */
    struct conv_arena *next;
} conv_arena;

typedef struct conv_entry {
    cg_conv2d_desc d;
    int pass, bias;
    int kernel; /* the cg_conv2d_kernel asked for (the plans may hold a fallback) */
    pthread_mutex_t lock;
    conv_plan *plans[2]; /* [0]: one thread, [1]: max threads (built on first use) */
    int plan_threads[2];
    /* the chunked weight backward (WBWD_SLICES above): nchunks > 0 once built */
    int nchunks;
    cg_conv2d_desc chunk_d[WBWD_SLICES];
    conv_plan *chunk[WBWD_SLICES];
    cg_nn_tuner tuner;
    /* cg_conv2d_native_blocks' answer for this (plain) shape and pass, once found */
    int blocks_known;
    int64_t native_x, native_y;
    struct conv_entry *next;
} conv_entry;

static pthread_mutex_t cache_lock = PTHREAD_MUTEX_INITIALIZER;
static dnnl_engine_t engine;
static conv_entry *cache;
static int cache_count;
static conv_arena *free_arenas; /* under cache_lock */

#define SLOT_ALIGN ((size_t)4096)
static size_t align_up(size_t n) { return (n + 63) & ~(size_t)63; }

/* Slot s holds at least `need` bytes (4096-aligned), growing it if not. */
static int slot_reserve(conv_slot *s, size_t need) {
    if (s->size >= need) return 0;
    size_t size = (need + SLOT_ALIGN - 1) & ~(SLOT_ALIGN - 1);
    void *buf = aligned_alloc(SLOT_ALIGN, size);
    if (!buf) return -1;
    free(s->buf);
    s->buf = buf;
    s->size = size;
    return 0;
}

static conv_arena *arena_take(void) {
    pthread_mutex_lock(&cache_lock);
    conv_arena *a = free_arenas;
    if (a) free_arenas = a->next;
    pthread_mutex_unlock(&cache_lock);
    return a ? a : calloc(1, sizeof *a);
}

static void arena_give(conv_arena *a) {
    pthread_mutex_lock(&cache_lock);
    a->next = free_arenas;
    free_arenas = a;
    pthread_mutex_unlock(&cache_lock);
}

static void arena_free(conv_arena *a) {
    for (int i = 0; i < WBWD_SLICES; i++) free(a->slot[i].buf);
    free(a->partial);
    free(a);
}

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
        if (p->args[i].scratch) dnnl_memory_destroy(p->args[i].scratch);
        if (p->args[i].internal) dnnl_memory_destroy(p->args[i].internal);
        if (p->args[i].user) dnnl_memory_destroy(p->args[i].user);
    }
    if (p->prim) dnnl_primitive_destroy(p->prim);
    if (p->stream) dnnl_stream_destroy(p->stream);
    if (p->scratch) dnnl_memory_destroy(p->scratch);
    free(p);
}

/* A memory object for pd's scratchpad (attr user mode) with no buffer of
 * its own (plan_run points it into the slot), *out = NULL if it needs
 * none; p->scratch_max grows to its size. */
static dnnl_status_t scratch_create(conv_plan *p, dnnl_memory_t *out, const_dnnl_primitive_desc_t pd) {
    *out = NULL;
    const dnnl_memory_desc_t *md = dnnl_primitive_desc_query_md(pd, dnnl_query_scratchpad_md, 0);
    size_t size = md ? dnnl_memory_desc_get_size(md) : 0;
    if (size == 0) return dnnl_success;
    if (size > p->scratch_max) p->scratch_max = size;
    return dnnl_memory_create(out, md, engine, DNNL_MEMORY_NONE);
}

/* Adds argument `arg` of primitive descriptor pd with cgrad's layout `user_md`. */
static int plan_add_arg(conv_plan *p, const_dnnl_primitive_desc_t pd, int arg, int output,
                        const dnnl_memory_desc_t *user_md, const_dnnl_primitive_attr_t attr, char *msg,
                        size_t msg_size) {
    conv_arg *a = &p->args[p->nargs++];
    memset(a, 0, sizeof *a);
    a->arg = arg;
    a->output = output;
    const dnnl_memory_desc_t *want = dnnl_primitive_desc_query_md(pd, dnnl_query_exec_arg_md, arg);
    dnnl_primitive_desc_t rpd = NULL;
    DNNL_TRY(dnnl_memory_create(&a->user, user_md, engine, DNNL_MEMORY_NONE));
    if (want && !dnnl_memory_desc_equal(want, user_md)) {
        DNNL_TRY(dnnl_memory_create(&a->internal, want, engine, DNNL_MEMORY_NONE));
        a->off = p->scratch_off;
        p->scratch_off += align_up(dnnl_memory_desc_get_size(want));
        if (output) DNNL_TRY(dnnl_reorder_primitive_desc_create(&rpd, want, engine, user_md, engine, attr));
        else DNNL_TRY(dnnl_reorder_primitive_desc_create(&rpd, user_md, engine, want, engine, attr));
        DNNL_TRY(scratch_create(p, &a->scratch, rpd));
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

/* Whether cgrad's own kernel (the GEMM, the direct one) takes this shape
 * and pass; oneDNN's layouts answer 1 (only building the primitive tells). */
static int own_kernel_takes(const cg_conv2d_desc *d, int pass, int kernel) {
    if (kernel == CG_CONV2D_WINOGRAD) /* plain or blocked x / y; at stride 2 no weight backward */
        return cg_conv2d_winograd_supports(d) && (pass != CG_CONV2D_BWD_WEIGHTS || d->stride_h == 1);
    if (kernel == CG_CONV2D_GEMM && (d->x_block || d->y_block))
        return 0; /* it reads and writes plain NCHW only (the direct kernel says which blocks it takes) */
    if (kernel == CG_CONV2D_GEMM)
        return d->kh * d->kw <= CG_CONV2D_GEMM_MAX_TAPS && cg_conv2d_gemm_workspace(d) <= GEMM_MAX_WORKSPACE;
    if (kernel == CG_CONV2D_DIRECT) return pass != CG_CONV2D_BWD_DATA && cg_conv2d_direct_supports(d);
    return 1;
}

/* cgrad's buffer layout for a descriptor's x_block / y_block (nn_kernels.h). */
static dnnl_format_tag_t block_tag(int64_t block) {
    return block == 8 ? dnnl_aBcd8b : block == 16 ? dnnl_aBcd16b : dnnl_nchw;
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
    dnnl_primitive_attr_t attr = NULL;
    if (layout == CG_CONV2D_GEMM || layout == CG_CONV2D_DIRECT || layout == CG_CONV2D_WINOGRAD) {
        if (!own_kernel_takes(d, pass, layout)) {
            free(p);
            return NULL; /* not a candidate here; oneDNN's layouts remain */
        }
        /* the direct kernel's workspace depends on the thread count: plan_run sizes it */
        p->need = layout == CG_CONV2D_GEMM       ? (size_t)cg_conv2d_gemm_workspace(d) * sizeof(float)
                  : layout == CG_CONV2D_WINOGRAD ? (size_t)cg_conv2d_winograd_workspace(d, 1) * sizeof(float)
                                                 : 0;
        return p;
    }
    DNNL_TRY(dnnl_stream_create(&p->stream, engine, dnnl_stream_default_flags));
    DNNL_TRY(dnnl_primitive_attr_create(&attr));
    DNNL_TRY(dnnl_primitive_attr_set_scratchpad_mode(attr, dnnl_scratchpad_mode_user));
    int64_t g = d->groups;
    dnnl_dims_t xd = {d->n, d->c, d->h, d->w}, yd = {d->n, d->oc, d->oh, d->ow}, bd = {d->oc};
    dnnl_dims_t wd = {d->oc, d->c, d->kh, d->kw}, gwd = {g, d->oc / g, d->c / g, d->kh, d->kw};
    dnnl_dims_t strides = {d->stride_h, d->stride_w}, dil = {d->dil_h - 1, d->dil_w - 1};
    dnnl_dims_t pad = {d->pad_h, d->pad_w}; /* oneDNN floors the output size as PyTorch does */
    int wnd = g > 1 ? 5 : 4;
    dnnl_format_tag_t wtag = g > 1 ? dnnl_goihw : dnnl_oihw;
    dnnl_memory_desc_t ux, uw, uy, ub, ix, iw, iy;
    DNNL_TRY(dnnl_memory_desc_init_by_tag(&ux, 4, xd, dnnl_f32, block_tag(d->x_block)));
    DNNL_TRY(dnnl_memory_desc_init_by_tag(&uw, wnd, g > 1 ? gwd : wd, dnnl_f32, wtag));
    DNNL_TRY(dnnl_memory_desc_init_by_tag(&uy, 4, yd, dnnl_f32, block_tag(d->y_block)));
    DNNL_TRY(dnnl_memory_desc_init_by_tag(&ub, 1, bd, dnnl_f32, dnnl_a));
    dnnl_format_tag_t act = layout == CG_CONV2D_DNNL_PLAIN ? dnnl_nchw : layout == CG_CONV2D_DNNL_NHWC ? dnnl_nhwc : dnnl_format_tag_any;
    DNNL_TRY(dnnl_memory_desc_init_by_tag(&ix, 4, xd, dnnl_f32, act));
    DNNL_TRY(dnnl_memory_desc_init_by_tag(&iy, 4, yd, dnnl_f32, act));
    DNNL_TRY(dnnl_memory_desc_init_by_tag(&iw, wnd, g > 1 ? gwd : wd, dnnl_f32,
                                          layout == CG_CONV2D_DNNL_PLAIN ? wtag : dnnl_format_tag_any));

    dnnl_convolution_desc_t cd;
    /* the winograd kernel is the blocked layout with oneDNN's winograd algorithm (F(4x4, 3x3) on AVX-512;
     * oneDNN refuses it elsewhere, and plan_for falls back to blocked) */
    dnnl_alg_kind_t alg = layout == CG_CONV2D_DNNL_WINOGRAD ? dnnl_convolution_winograd : dnnl_convolution_direct;
    DNNL_TRY(dnnl_dilated_convolution_forward_desc_init(&cd, dnnl_forward_training, alg,
                                                        &ix, &iw, bias && pass == CG_CONV2D_FWD ? &ub : NULL, &iy,
                                                        strides, dil, pad, pad));
    DNNL_TRY(dnnl_primitive_desc_create(&fwd_pd, &cd, attr, engine, NULL));
    if (pass == CG_CONV2D_FWD) {
        pd = fwd_pd;
        fwd_pd = NULL;
        if (plan_add_arg(p, pd, DNNL_ARG_SRC, 0, &ux, attr, msg, msg_size) ||
            plan_add_arg(p, pd, DNNL_ARG_WEIGHTS, 0, &uw, attr, msg, msg_size) ||
            (bias && plan_add_arg(p, pd, DNNL_ARG_BIAS, 0, &ub, attr, msg, msg_size)) ||
            plan_add_arg(p, pd, DNNL_ARG_DST, 1, &uy, attr, msg, msg_size))
            goto fail;
    } else if (pass == CG_CONV2D_BWD_DATA) {
        DNNL_TRY(dnnl_dilated_convolution_backward_data_desc_init(&cd, alg, &ix, &iw, &iy,
                                                                  strides, dil, pad, pad));
        DNNL_TRY(dnnl_primitive_desc_create(&pd, &cd, attr, engine, fwd_pd));
        if (plan_add_arg(p, pd, DNNL_ARG_DIFF_DST, 0, &uy, attr, msg, msg_size) ||
            plan_add_arg(p, pd, DNNL_ARG_WEIGHTS, 0, &uw, attr, msg, msg_size) ||
            plan_add_arg(p, pd, DNNL_ARG_DIFF_SRC, 1, &ux, attr, msg, msg_size))
            goto fail;
    } else {
        DNNL_TRY(dnnl_dilated_convolution_backward_weights_desc_init(&cd, alg, &ix, &iw,
                                                                     bias ? &ub : NULL, &iy, strides, dil,
                                                                     pad, pad));
        DNNL_TRY(dnnl_primitive_desc_create(&pd, &cd, attr, engine, fwd_pd));
        if (plan_add_arg(p, pd, DNNL_ARG_SRC, 0, &ux, attr, msg, msg_size) ||
            plan_add_arg(p, pd, DNNL_ARG_DIFF_DST, 0, &uy, attr, msg, msg_size) ||
            plan_add_arg(p, pd, DNNL_ARG_DIFF_WEIGHTS, 1, &uw, attr, msg, msg_size) ||
            (bias && plan_add_arg(p, pd, DNNL_ARG_DIFF_BIAS, 1, &ub, attr, msg, msg_size)))
            goto fail;
    }
    DNNL_TRY(scratch_create(p, &p->scratch, pd));
    p->need = p->scratch_off + p->scratch_max;
    DNNL_TRY(dnnl_primitive_create(&p->prim, pd));
    dnnl_primitive_desc_destroy(pd);
    if (fwd_pd) dnnl_primitive_desc_destroy(fwd_pd);
    dnnl_primitive_attr_destroy(attr);
    return p;
fail:
    if (attr) dnnl_primitive_attr_destroy(attr);
    if (pd) dnnl_primitive_desc_destroy(pd);
    if (fwd_pd) dnnl_primitive_desc_destroy(fwd_pd);
    plan_free(p);
    return NULL;
}

/* Runs plan p on the caller's buffers (ptrs in the order of p->args), on
 * the current thread count, with its buffers in `slot` (grown to p->need);
 * `blocks`: the threads the direct kernels' workspace is sized for (the
 * GEMM's fixed split is GEMM_BLOCKS, whatever the thread count). */
static int plan_run(conv_plan *p, conv_slot *slot, void *const *ptrs, int blocks, char *msg, size_t msg_size) {
    dnnl_stream_t stream = p->stream;
    size_t need = p->layout == CG_CONV2D_DIRECT ? (size_t)cg_conv2d_direct_workspace(p->d, blocks) * sizeof(float)
                                                : p->need;
    if (slot_reserve(slot, need)) {
        if (msg && msg_size) snprintf(msg, msg_size, "conv2d: out of memory for a %zu-byte workspace", need);
        return -1;
    }
    char *buf = slot->buf;
    if (p->layout == CG_CONV2D_DIRECT) { /* its workspace is per thread: sized for all `blocks` of them */
        int threads = omp_get_max_threads();
        if (p->pass == CG_CONV2D_FWD)
            return cg_conv2d_forward_direct(p->d, ptrs[0], ptrs[1], p->bias ? ptrs[2] : NULL, ptrs[p->bias ? 3 : 2],
                                            slot->buf, threads) ? -1 : 0;
        return cg_conv2d_backward_weights_direct(p->d, ptrs[0], ptrs[1], ptrs[2], p->bias ? ptrs[3] : NULL, slot->buf,
                                                 threads) ? -1 : 0;
    }
    if (p->layout == CG_CONV2D_WINOGRAD) {
        int threads = omp_get_max_threads();
        if (p->pass == CG_CONV2D_FWD)
            return cg_conv2d_forward_winograd(p->d, ptrs[0], ptrs[1], p->bias ? ptrs[2] : NULL,
                                              ptrs[p->bias ? 3 : 2], slot->buf, threads) ? -1 : 0;
        if (p->pass == CG_CONV2D_BWD_DATA)
            return cg_conv2d_backward_data_winograd(p->d, ptrs[0], ptrs[1], ptrs[2], slot->buf, threads) ? -1 : 0;
        return cg_conv2d_backward_weights_winograd(p->d, ptrs[0], ptrs[1], ptrs[2], p->bias ? ptrs[3] : NULL,
                                                   slot->buf, threads) ? -1 : 0;
    }
    if (p->layout == CG_CONV2D_GEMM) {
        int threads = omp_get_max_threads();
        float *work = slot->buf;
        if (p->pass == CG_CONV2D_FWD)
            return cg_conv2d_forward_gemm(p->d, ptrs[0], ptrs[1], p->bias ? ptrs[2] : NULL, ptrs[p->bias ? 3 : 2],
                                          work, GEMM_BLOCKS, threads) ? -1 : 0;
        if (p->pass == CG_CONV2D_BWD_DATA)
            return cg_conv2d_backward_data_gemm(p->d, ptrs[0], ptrs[1], ptrs[2], work, GEMM_BLOCKS, threads) ? -1 : 0;
        return cg_conv2d_backward_weights_gemm(p->d, ptrs[0], ptrs[1], ptrs[2], p->bias ? ptrs[3] : NULL, work,
                                               GEMM_BLOCKS, threads) ? -1 : 0;
    }
    /* Set on every call: the slot moves when it grows, and setting a
     * blocked buffer's handle zero-pads its padding, which another plan
     * sharing the slot may have written. */
    if (p->scratch) DNNL_TRY(dnnl_memory_set_data_handle(p->scratch, buf + p->scratch_off));
    dnnl_exec_arg_t exec[5];
    for (int i = 0; i < p->nargs; i++) {
        conv_arg *a = &p->args[i];
        DNNL_TRY(dnnl_memory_set_data_handle(a->user, ptrs[i]));
        if (a->internal) DNNL_TRY(dnnl_memory_set_data_handle(a->internal, buf + a->off));
        if (a->scratch) DNNL_TRY(dnnl_memory_set_data_handle(a->scratch, buf + p->scratch_off));
        if (a->reorder && !a->output) {
            dnnl_exec_arg_t r[3] = {{DNNL_ARG_FROM, a->user}, {DNNL_ARG_TO, a->internal}, {DNNL_ARG_SCRATCHPAD, a->scratch}};
            DNNL_TRY(dnnl_primitive_execute(a->reorder, stream, a->scratch ? 3 : 2, r));
        }
        exec[i].arg = a->arg;
        exec[i].memory = a->internal ? a->internal : a->user;
    }
    int nexec = p->nargs;
    if (p->scratch) exec[nexec++] = (dnnl_exec_arg_t){DNNL_ARG_SCRATCHPAD, p->scratch};
    DNNL_TRY(dnnl_primitive_execute(p->prim, stream, nexec, exec));
    for (int i = 0; i < p->nargs; i++) {
        conv_arg *a = &p->args[i];
        if (a->reorder && a->output) {
            dnnl_exec_arg_t r[3] = {{DNNL_ARG_FROM, a->internal}, {DNNL_ARG_TO, a->user}, {DNNL_ARG_SCRATCHPAD, a->scratch}};
            DNNL_TRY(dnnl_primitive_execute(a->reorder, stream, a->scratch ? 3 : 2, r));
        }
    }
    DNNL_TRY(dnnl_stream_wait(stream));
    return 0;
fail:
    return -1;
}

const char *cg_conv2d_kernel_name(cg_conv2d_kernel k) {
    switch (k) {
    case CG_CONV2D_DNNL_PLAIN: return "dnnl-plain";
    case CG_CONV2D_DNNL_BLOCKED: return "dnnl-blocked";
    case CG_CONV2D_DNNL_NHWC: return "dnnl-nhwc";
    case CG_CONV2D_GEMM: return "gemm";
    case CG_CONV2D_DIRECT: return "direct";
    case CG_CONV2D_DNNL_WINOGRAD: return "dnnl-winograd";
    case CG_CONV2D_WINOGRAD: return "winograd";
    default: return "auto";
    }
}

/* The rule, from the table bench_conv --kernels prints (docs/DESIGN.md has
 * the numbers), in two columns, one per ISA, because oneDNN's kernels rank
 * differently on each.  The column is this CPU's (cg_conv2d_isa_active:
 * oneDNN's effective ISA, found once at run time), so one build picks per
 * machine, and a machine always picks the same; cg_conv2d_kernel_for_isa
 * gives either column anywhere (the test checks both).
 *
 * AVX-512 (one-thread CPU time, fastest of 21 calls over 3 runs, on the
 * 2-core Xeon; every row at batch 64).  In words:
 *  - output maps of 2x2 and 1x1 (resnet's last two stages on 28x28
 *    images) go to the batch GEMM (cpu_conv_gemm.c), every pass, when the
 *    kernel has several taps or the map is 1x1: it multiplies no padding
 *    (one GEMM per class of outputs that read the same taps) where
 *    oneDNN's direct kernels are at 10-30% of their large-map speed.  One
 *    thread, CPU ms, fwd / data / weights, GEMM against the rule before:
 *    3x3 256->256 at 2x2 1.44 / 1.24 / 1.44 vs 2.27 / 1.84 / 3.41 (blocked,
 *    blocked, the all-taps GEMM), 3x3 s2 128->256 at 4x4 1.06 / 0.92 / 1.13
 *    vs 1.16 / 1.52 / 1.68, 3x3 s2 256->512 at 2x2 0.94 / 1.08 / 1.02 vs
 *    1.22 / 1.53 / 1.19, 3x3 512->512 at 1x1 0.65 / 0.59 / 0.74 vs 0.83 /
 *    0.97 / 1.09, 1x1 s2 256->512 at 2x2 0.20 / 0.19 / 0.20 vs 0.31 / 0.32 /
 *    0.32;  a 1x1 kernel onto 2x2 stays blocked (GEMM within 10%, slower on
 *    2 threads);
 *  - the backward passes of a strided multi-tap kernel onto a map of up to
 *    4x4 also go to the GEMM: 3x3 s2 64->128 at 7x7 data / weights 1.00 /
 *    0.96 vs 1.21 / 1.12 (blocked), the cnn's 3x3 s2 128->256 at 7x7 3.77 /
 *    3.91 vs 4.85 / 5.35; their forward stays blocked on AVX-512 (0.78
 *    vs the GEMM's 1.16).  On AVX2 the forward runs the GEMM too (3
 *    December, EPYC, chrt, --kernels 2, 3 runs, 1-thread CPU ms: 64->128
 *    at 7x7 2.15-2.21 vs blocked 2.87-3.82, the cnn's 128->256 at 7x7
 *    6.1-7.6 vs 8.4-11.7; the 64->128 bench row in kept layouts, two
 *    builds alternating, 1.19-1.24 vs 1.40-1.46 ms 2-thread wall, a
 *    6,400-digit cnn epoch 4.53-5.10 vs 4.79-5.83 s);
 *  - a first layer with fewer than 16 input channels pads them to oneDNN's
 *    16-channel block: with C*KH*KW < 16 (the cnn's 1->32 3x3) cgrad's own
 *    direct kernels (cpu_conv_direct.c) run the forward and the weight
 *    backward (0.38 and 0.42 ms against oneDNN plain's 0.69 and 1.04; plain
 *    where groups > 1), and plain NCHW the data backward of any C < 16
 *    (the stem 4.8 vs 10.1 ms);
 *  - the strided 1x1 downsample at 7x7 runs its data backward on the GEMM:
 *    plain was faster than blocked on the Xeon (0.35 vs 0.87 ms), but
 *    plain runs on one thread (conv_run, for the bits), and on the Zen 4
 *    EPYC (AVX-512; 3 December, `bench_conv` in the network's layouts, 2
 *    threads, chrt, 5 runs) the GEMM took 0.137-0.165 ms against plain's
 *    0.332-0.389 (PyTorch 1.13: 0.295);
 *  - a 3x3 stride-1 conv onto a map of 4x4 or more: the blocked layout
 *    with oneDNN's winograd algorithm (F(4x4, 3x3), AVX-512 only; oneDNN
 *    refuses it elsewhere and the blocked direct kernel runs): 3x3 64->64
 *    at 7x7 1.26 / 1.28 / 1.54 ms -> 1.03 / 1.07 / 1.11 (fwd / data /
 *    weights), 3x3 128->128 at 4x4 1.74 / 1.39 / 2.08 -> 1.24 / 1.25 /
 *    1.20; on 2x2 and 1x1 maps it is 2-10x slower;
 *  - everything else: oneDNN's blocked layout (nChw16c on AVX-512, nChw8c
 *    on AVX2), 1.5-3x faster than plain on every other row even with the
 *    reorders from and to cgrad's NCHW.  NHWC came within 10% on some rows
 *    and never won by more than noise.
 *
 * AVX2 (a CPU whose oneDNN ISA lacks avx512_core; measured on the 2-core
 * AMD EPYC, Zen 3: `chrt -f 10 bench_conv --kernels 2`, 5 runs of every row
 * and 5 more of the 1x1 s2 64->128, 1x1 s2 128->256 and 3x3 128->128 rows
 * (CGRAD_BENCH_ONLY), the minimum of each
 * cell; one-thread CPU ms / two-thread wall ms): the AVX-512 column but for
 * three things.
 *  - The strided 1x1 downsample at 7x7 runs the GEMM, every pass: forward
 *    1.54 / 0.76 (blocked) -> 0.66 / 0.33, weight backward 1.61 / 0.79 ->
 *    0.64 / 0.38 (oneDNN's AVX2 blocked kernel is 1.4-2.9x slower there, in
 *    every run), data backward 0.70 / 0.35 (plain) -> 0.67 / 0.36.  Plain
 *    was as fast, but on AVX2 its forward and data backward give other bits
 *    on 1 thread than on 2 at odd batch sizes (1, 3, 5, 7, 9: the last
 *    batch of an epoch), and the GEMM gives the same at every batch.
 *  - The weight backward onto any other output map of up to 4x4 goes to
 *    the GEMM too (but for the 3x3 stride-1 ones, winograd's below): 3x3
 *    128->128 at 4x4 11.07 / 5.82 (blocked) -> 8.09 / 4.20, 1x1 s2
 *    128->256 at 4x4 (2x2 out) 0.88 / 0.44 -> 0.57 / 0.31.
 *    The GEMM's CPU time was lower in every run (by 8-69% and 6-129%),
 *    its wall time in 8 and 9 of 10 (the weaker evidence of the three).
 *  - Winograd: oneDNN has none on AVX2, so the 3x3 stride-1 pad-1 passes
 *    (C, OC multiples of 8; maps of 4x4 and up) run cgrad's own F(4x4,
 *    3x3) (cpu_conv_winograd.c; on 2 December, --kernels 2 on plain
 *    buffers, 2-3 runs, under chrt): 3x3 64->64 at 7x7 forward 2.78 /
 *    1.42 (blocked) -> 1.67 / 0.88, data backward 2.36 / 1.21 -> 1.65 /
 *    0.88, weight backward 3.33 / 1.70 (blocked) -> 2.35 / 1.40; 3x3
 *    128->128 at 4x4 forward 3.59 / 1.82 -> 2.02 / 1.06, data backward
 *    2.99 / 1.50 -> 1.80 / 0.94, weight backward 3.67 / 1.95 (the GEMM)
 *    -> 1.74 / 0.93.  Maps above 7x7 take it too (unmeasured: fewer
 *    wasted tile rows there, so at least as far ahead).
 * Everywhere else the AVX-512 choice is also the AVX2 one or within the
 * run-to-run spread (which reaches 50% on this VM between identical
 * kernels): the GEMM was 10-17% ahead of blocked on the forwards of 3x3 s2
 * 64->128 at 7x7 and 3x3 128->128 at 4x4, NHWC and the GEMM 10-20% on the
 * 1x1 s2 128->256 forward and data backward.  None of these held in every
 * run.  The stem's data backward (C < 16 with OC*KH*KW >= 1024) runs
 * blocked: plain runs on one thread (conv_run, for the bits), and on
 * 2 December (`CGRAD_BENCH_ONLY=stem bench_conv --kernels 2`, 3 runs) plain
 * took 4.35-4.50 ms on one thread and on two, blocked 4.36-4.40 on one and
 * 2.18-2.21 on two (PyTorch 1.13: 3.38); the cnn's 1->32 (OC*KH*KW 288)
 * stays plain: 0.76-0.81 against blocked's 3.61-3.81 / 1.78-1.89. */
cg_conv2d_kernel cg_conv2d_kernel_for_isa(const cg_conv2d_desc *d, cg_conv2d_pass pass, cg_conv2d_isa isa) {
    int64_t out = d->oh * d->ow, taps = d->kh * d->kw, red = (d->c / d->groups) * taps;
    int strided = d->stride_h > 1 || d->stride_w > 1, avx2 = isa != CG_CONV2D_ISA_AVX512;
    if (out == 1 || (out <= 4 && taps > 1)) return CG_CONV2D_GEMM;
    if ((pass != CG_CONV2D_FWD || avx2) && out <= 16 && taps > 1 && strided) return CG_CONV2D_GEMM;
    if (pass == CG_CONV2D_BWD_DATA && d->c / d->groups < 16)
        /* on AVX2 a deep one (the stem: OC*KH*KW 3136) runs blocked on 2 threads */
        return avx2 && d->oc * taps >= 1024 ? CG_CONV2D_DNNL_BLOCKED : CG_CONV2D_DNNL_PLAIN;
    if (pass != CG_CONV2D_BWD_DATA && red < 16)
        return cg_conv2d_direct_supports(d) ? CG_CONV2D_DIRECT : CG_CONV2D_DNNL_PLAIN;
    if (taps == 1 && strided && d->h * d->w >= 49) { /* the strided 1x1 downsample at 7x7 and up */
        if (avx2 || pass == CG_CONV2D_BWD_DATA) return CG_CONV2D_GEMM;
    }
    int wino = d->kh == 3 && d->kw == 3 && d->stride_h == 1 && d->stride_w == 1 && d->dil_h == 1 &&
               d->dil_w == 1 && d->groups == 1 && out >= 16;
    /* oneDNN has winograd on AVX-512 only: cgrad's own (cpu_conv_winograd.c) on AVX2, every pass; on a CPU
     * without AVX2 it refuses and conv_run falls back to blocked */
    if (wino && avx2 && d->pad_h == 1 && d->pad_w == 1 && d->c % 8 == 0 && d->oc % 8 == 0)
        return CG_CONV2D_WINOGRAD;
    if (avx2 && pass == CG_CONV2D_BWD_WEIGHTS && out <= 16) return CG_CONV2D_GEMM;
    if (wino) return avx2 ? CG_CONV2D_DNNL_BLOCKED : CG_CONV2D_DNNL_WINOGRAD;
    return CG_CONV2D_DNNL_BLOCKED;
}

cg_conv2d_isa cg_conv2d_isa_active(void) {
    static atomic_int isa = -1; /* oneDNN fixes its ISA at its first use, so once is enough */
    int v = atomic_load_explicit(&isa, memory_order_relaxed);
    if (v < 0) {
        unsigned e = (unsigned)dnnl_get_effective_cpu_isa(), a512 = (unsigned)dnnl_cpu_isa_avx512_core;
        v = (e & a512) == a512 ? CG_CONV2D_ISA_AVX512 : CG_CONV2D_ISA_AVX2;
        atomic_store_explicit(&isa, v, memory_order_relaxed);
    }
    return (cg_conv2d_isa)v;
}

const char *cg_conv2d_isa_name(cg_conv2d_isa isa) { return isa == CG_CONV2D_ISA_AVX512 ? "avx512" : "avx2"; }

cg_conv2d_kernel cg_conv2d_kernel_for(const cg_conv2d_desc *d, cg_conv2d_pass pass) {
    return cg_conv2d_kernel_for_isa(d, pass, cg_conv2d_isa_active());
}

static int desc_equal(const cg_conv2d_desc *a, const cg_conv2d_desc *b) {
    return a->n == b->n && a->c == b->c && a->h == b->h && a->w == b->w && a->oc == b->oc && a->kh == b->kh &&
           a->kw == b->kw && a->stride_h == b->stride_h && a->stride_w == b->stride_w && a->pad_h == b->pad_h &&
           a->pad_w == b->pad_w && a->dil_h == b->dil_h && a->dil_w == b->dil_w && a->groups == b->groups &&
           a->x_block == b->x_block && a->y_block == b->y_block;
}

static conv_entry *entry_get(const cg_conv2d_desc *d, int pass, int bias, int kernel, char *msg,
                             size_t msg_size) {
    pthread_mutex_lock(&cache_lock);
    conv_entry *e = cache;
    while (e && !(e->pass == pass && e->bias == bias && e->kernel == kernel && desc_equal(&e->d, d))) e = e->next;
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
        if (!e) {
            if (msg && msg_size) snprintf(msg, msg_size, "conv2d: out of memory for a cache entry");
            pthread_mutex_unlock(&cache_lock);
            return NULL;
        }
        e->d = *d;
        e->pass = pass;
        e->bias = bias;
        e->kernel = kernel;
        pthread_mutex_init(&e->lock, NULL);
        e->next = cache;
        cache = e;
        cache_count++;
    }
    pthread_mutex_unlock(&cache_lock);
    return e;
}

/* Builds the plan of e's kernel, or when that kernel cannot take the shape
 * (oneDNN refuses it, the GEMM's workspace would be too big) the first of
 * the others in a fixed order that can: the same shape always gets the
 * same kernel. */
static conv_plan *plan_for(const cg_conv2d_desc *d, int pass, int bias, int kernel, char *msg, size_t msg_size) {
    static const int order[CG_CONV2D_KERNELS] = {CG_CONV2D_DNNL_BLOCKED, CG_CONV2D_DNNL_PLAIN, CG_CONV2D_DNNL_NHWC,
                                                 CG_CONV2D_GEMM, CG_CONV2D_DIRECT, CG_CONV2D_DNNL_WINOGRAD,
                                                 CG_CONV2D_WINOGRAD};
    conv_plan *p = plan_build(d, pass, bias, kernel, msg, msg_size);
    for (int i = 0; !p && i < CG_CONV2D_KERNELS; i++)
        if (order[i] != kernel) p = plan_build(d, pass, bias, order[i], msg, msg_size);
    if (p && msg && msg_size) msg[0] = 0; /* a refused kernel is not an error */
    if (!p && msg && msg_size && !msg[0]) snprintf(msg, msg_size, "conv2d: oneDNN has no primitive");
    return p;
}

static void chunks_free(conv_entry *e) {
    for (int i = 0; i < e->nchunks; i++) plan_free(e->chunk[i]);
    e->nchunks = 0;
}

/* How many slices a batch of n images is cut into: slices of at least
 * WBWD_SLICE_IMAGES images, at most WBWD_SLICES of them, and 2 whenever
 * n >= 2 (so two threads always share the pass).  Batch 64: 2 slices of 32,
 * 128: 4.  A function of n alone, so the bits never depend on the threads. */
static int wbwd_slices(int64_t n) {
    int64_t k = n / WBWD_SLICE_IMAGES;
    if (k > WBWD_SLICES) k = WBWD_SLICES;
    if (k < 2) k = 2;
    return (int)(k > n ? n : k);
}

/* Builds e's chunked weight backward: slice i holds images
 * [n*i/k, n*(i+1)/k) with k = wbwd_slices(n); every primitive is made on
 * one thread. */
static int chunks_build(conv_entry *e, char *msg, size_t msg_size) {
    int k = wbwd_slices(e->d.n);
    int saved = omp_get_max_threads();
    omp_set_num_threads(1);
    int ok = 1;
    for (int i = 0; i < k && ok; i++) {
        e->chunk_d[i] = e->d;
        e->chunk_d[i].n = e->d.n * (i + 1) / k - e->d.n * i / k;
        e->chunk[i] = plan_for(&e->chunk_d[i], e->pass, e->bias, e->kernel, msg, msg_size);
        e->nchunks = i + 1;
        ok = e->chunk[i] != NULL;
    }
    omp_set_num_threads(saved);
    if (!ok) chunks_free(e);
    return ok ? 0 : -1;
}

/* Runs the chunked weight backward on `threads` (1 or all): ptrs are x, dy,
 * dw, dbias as cg_conv2d_backward_weights takes them. */
static int chunks_run(conv_entry *e, conv_arena *ar, void *const *ptrs, int threads, char *msg, size_t msg_size) {
    const cg_conv2d_desc *d = &e->d;
    int64_t xs = d->c * d->h * d->w, ys = d->oc * d->oh * d->ow;
    int64_t nw = d->oc * (d->c / d->groups) * d->kh * d->kw, nb = e->bias ? d->oc : 0;
    int k = e->nchunks;
    size_t np = (size_t)((k - 1) * (nw + nb)); /* chunk i > 0 writes slice i-1 */
    if (np > ar->partial_size) {
        float *partial = malloc(np * sizeof *partial);
        if (!partial) {
            if (msg && msg_size) snprintf(msg, msg_size, "conv2d: out of memory for %d weight-gradient slices", k);
            return -1;
        }
        free(ar->partial);
        ar->partial = partial;
        ar->partial_size = np;
    }
    char fail_msg[WBWD_SLICES][160]; /* each slice's own: no lock (nor #pragma) inside the loop */
    int failed[WBWD_SLICES] = {0};
    /* On one thread, say so to OpenMP as well: the slices' reorders size
     * their parallel regions by omp_get_max_threads() when they run outside
     * a region, and a 2-thread reorder on a loaded machine waits for the
     * descheduled thread (measured: 3x3 64->64 at 7x7 bwd weight 8.0 ms per
     * call at load 8, against 1.6 on one thread) */
    int nt = threads > k ? k : threads, saved = omp_get_max_threads();
    if (nt <= 1 && saved > 1) omp_set_num_threads(1);
    CG_NN_PARALLEL_FOR(nt, for (int i = 0; i < k; i++) {
        int64_t n0 = d->n * i / k;
        float *slice = i ? ar->partial + (i - 1) * (nw + nb) : NULL;
        void *cp[4] = {(float *)ptrs[0] + n0 * xs, (float *)ptrs[1] + n0 * ys, i ? slice : ptrs[2],
                       e->bias ? (i ? (void *)(slice + nw) : ptrs[3]) : NULL};
        failed[i] = plan_run(e->chunk[i], &ar->slot[i], cp, 1, fail_msg[i], sizeof fail_msg[i]) != 0;
    });
    if (nt <= 1 && saved > 1) omp_set_num_threads(saved);
    for (int i = 0; i < k; i++)
        if (failed[i]) {
            if (msg && msg_size) snprintf(msg, msg_size, "%s", fail_msg[i]);
            return -1;
        }
    float *dw = ptrs[2], *db = e->bias ? ptrs[3] : NULL;
    for (int i = 1; i < k; i++) { /* in slice order, whatever ran where */
        const float *slice = ar->partial + (i - 1) * (nw + nb);
        for (int64_t j = 0; j < nw; j++) dw[j] += slice[j];
        for (int64_t j = 0; j < nb; j++) db[j] += slice[nw + j];
    }
    return 0;
}

static _Atomic int forced_kernel = CG_CONV2D_AUTO;

void cg_conv2d_force_kernel(cg_conv2d_kernel k) { atomic_store(&forced_kernel, (int)k); }

static cg_nn_status conv_run(const cg_conv2d_desc *d, int pass, int bias, void *const *ptrs, char *msg,
                             size_t msg_size) {
    if (msg && msg_size) msg[0] = 0;
    int kernel = atomic_load(&forced_kernel);
    if (kernel < 0 || kernel >= CG_CONV2D_KERNELS) kernel = cg_conv2d_kernel_for(d, (cg_conv2d_pass)pass);
    /* one of cgrad's own kernels forced on a shape it does not take: the
     * fallback (plan_for's order) is oneDNN, which needs the weight
     * backward's slices; say so now */
    if (!own_kernel_takes(d, pass, kernel)) kernel = CG_CONV2D_DNNL_BLOCKED;
    conv_entry *e = entry_get(d, pass, bias, kernel, msg, msg_size);
    if (!e) return CG_NN_ENOMEM;
    conv_arena *ar = arena_take();
    if (!ar) {
        if (msg && msg_size) snprintf(msg, msg_size, "conv2d: out of memory for a workspace arena");
        return CG_NN_ENOMEM;
    }
    pthread_mutex_lock(&e->lock);
    int max_threads = omp_get_max_threads(), arm;
    int threads = cg_nn_tuner_pick(&e->tuner, max_threads, &arm);
    /* oneDNN's plain (NCHW) kernels cut their work by the thread count in
     * ways that change the bits: 1 and 2 threads differ in the last bits
     * in the forward of 3x3 64->64 at 7x7 at batch 1 and 3 (im2col and
     * sgemm), and on AVX2 in the forward and data backward of 1x1 s2
     * 64->128 at 7x7 at odd batches (tests/test_thread_bits.c).  So they
     * run on one thread.  The rule gives them the data backward of thin
     * layers (C/groups < 16: the stem's and the cnn's first conv, which
     * autograd skips when the input needs no gradient) and, on AVX-512, of
     * the strided 1x1 downsamples at 7x7 and up (64->128 at batch 64: 0.70
     * ms on one thread, 0.38 on two, on the EPYC), so this costs little. */
    if (kernel == CG_CONV2D_DNNL_PLAIN && pass != CG_CONV2D_BWD_WEIGHTS) threads = 1, arm = 0;
    cg_nn_status status = CG_NN_OK;
    double t0 = cg_nn_now_ms();
    if (pass == CG_CONV2D_BWD_WEIGHTS && kernel != CG_CONV2D_GEMM && kernel != CG_CONV2D_DIRECT &&
        kernel != CG_CONV2D_WINOGRAD) {
        /* sliced on any thread count, one thread included (WBWD_SLICES) */
        if (!e->nchunks && chunks_build(e, msg, msg_size)) status = CG_NN_EBACKEND;
        else if (chunks_run(e, ar, ptrs, threads, msg, msg_size)) status = CG_NN_EBACKEND;
    } else {
        /* One plan per thread count: oneDNN fixes a primitive's partition
         * when it is made.  The forward and data backward give the same bits
         * on either (each output is summed by one thread: measured, and
         * tested in test_nn_kernels), as does the GEMM (its fixed pieces,
         * cpu_conv_gemm.c). */
        if (e->plans[arm] && e->plan_threads[arm] != threads) { /* omp_set_num_threads changed since */
            plan_free(e->plans[arm]);
            e->plans[arm] = NULL;
        }
        if (threads != max_threads) omp_set_num_threads(threads);
        if (!e->plans[arm]) {
            e->plans[arm] = plan_for(&e->d, e->pass, e->bias, e->kernel, msg, msg_size);
            e->plan_threads[arm] = threads;
        }
        if (!e->plans[arm] || plan_run(e->plans[arm], &ar->slot[0], ptrs, max_threads, msg, msg_size))
            status = CG_NN_EBACKEND;
        if (threads != max_threads) omp_set_num_threads(max_threads);
    }
    if (status == CG_NN_OK) cg_nn_tuner_record(&e->tuner, arm, cg_nn_now_ms() - t0);
    pthread_mutex_unlock(&e->lock);
    arena_give(ar);
    return status;
}

/* -1: not yet read from CGRAD_LAYOUTS ("plain" turns keeping off, for
 * comparisons; anything else, or unset, leaves it on) */
static atomic_int keep_layouts = -1;

void cg_conv2d_keep_layouts(bool on) { atomic_store(&keep_layouts, on); }
bool cg_conv2d_keeps_layouts(void) {
    int v = atomic_load(&keep_layouts);
    if (v < 0) {
        const char *e = getenv("CGRAD_LAYOUTS");
        v = !(e && strcmp(e, "plain") == 0);
        atomic_store(&keep_layouts, v);
    }
    return v;
}

int64_t cg_conv2d_preferred_block(void) {
    if (!cg_conv2d_keeps_layouts()) return 0;
    return cg_conv2d_isa_active() == CG_CONV2D_ISA_AVX512 ? 16 : 8;
}

/* 8 or 16 when md is (n, c, h, w) in nChw8c / nChw16c, else 0. */
static int64_t md_block(const dnnl_memory_desc_t *md, int64_t n, int64_t c, int64_t h, int64_t w) {
    for (int64_t b = 8; b <= 16; b += 8) {
        dnnl_memory_desc_t t;
        dnnl_dims_t dims = {n, c, h, w};
        if (c % b == 0 && dnnl_memory_desc_init_by_tag(&t, 4, dims, dnnl_f32, block_tag(b)) == dnnl_success &&
            dnnl_memory_desc_equal(&t, md))
            return b;
    }
    return 0;
}

/* The layout plan p runs argument `arg` in: the block of its internal
 * buffer, 0 where it runs on cgrad's plain buffer (no internal) or in a
 * layout that is not a channel block. */
static int64_t plan_arg_block(const conv_plan *p, int arg, int64_t n, int64_t c, int64_t h, int64_t w) {
    for (int i = 0; i < p->nargs; i++)
        if (p->args[i].arg == arg && p->args[i].internal) {
            const dnnl_memory_desc_t *md = NULL;
            if (dnnl_memory_get_memory_desc(p->args[i].internal, &md) != dnnl_success || !md) return 0;
            return md_block(md, n, c, h, w);
        }
    return 0;
}

cg_nn_status cg_conv2d_native_blocks(const cg_conv2d_desc *d, cg_conv2d_pass pass, int64_t *x_block,
                                     int64_t *y_block, char *msg, size_t msg_size) {
    *x_block = *y_block = 0;
    if (msg && msg_size) msg[0] = 0;
    if (!cg_conv2d_keeps_layouts()) return CG_NN_OK;
    cg_conv2d_desc pd = *d;
    pd.x_block = pd.y_block = 0;
    int kernel = atomic_load(&forced_kernel);
    if (kernel < 0 || kernel >= CG_CONV2D_KERNELS) kernel = cg_conv2d_kernel_for(&pd, pass);
    /* cgrad's winograd reads and writes the CPU's block as it is */
    if (kernel == CG_CONV2D_WINOGRAD) {
        if (own_kernel_takes(&pd, pass, kernel)) {
            *x_block = *y_block = cg_conv2d_preferred_block();
            return CG_NN_OK;
        }
        kernel = CG_CONV2D_DNNL_BLOCKED; /* conv_run's fallback */
    }
    /* cgrad's direct kernels write y (read dy) in the CPU's block, x plain */
    if (kernel == CG_CONV2D_DIRECT) {
        pd.y_block = cg_conv2d_preferred_block();
        if (pd.y_block && own_kernel_takes(&pd, pass, kernel)) *y_block = pd.y_block;
        return CG_NN_OK;
    }
    /* only oneDNN's blocked kernels run in a channel-block layout; a shape
     * they refuse falls back to plain or to cgrad's own, and the plan says so */
    if (kernel != CG_CONV2D_DNNL_BLOCKED && kernel != CG_CONV2D_DNNL_WINOGRAD) return CG_NN_OK;
    conv_entry *e = entry_get(&pd, pass, 0, kernel, msg, msg_size);
    if (!e) return CG_NN_ENOMEM;
    cg_nn_status st = CG_NN_OK;
    pthread_mutex_lock(&e->lock);
    if (!e->blocks_known) {
        /* a plan made for the question alone (the formats oneDNN picks do
         * not depend on the thread count or on the batch slice) */
        conv_plan *p = plan_for(&pd, pass, 0, kernel, msg, msg_size);
        if (!p) {
            st = CG_NN_EBACKEND;
        } else {
            if (p->layout == CG_CONV2D_DNNL_BLOCKED || p->layout == CG_CONV2D_DNNL_WINOGRAD) {
                int xa = pass == CG_CONV2D_BWD_DATA ? DNNL_ARG_DIFF_SRC : DNNL_ARG_SRC;
                int ya = pass == CG_CONV2D_FWD ? DNNL_ARG_DST : DNNL_ARG_DIFF_DST;
                e->native_x = plan_arg_block(p, xa, pd.n, pd.c, pd.h, pd.w);
                e->native_y = plan_arg_block(p, ya, pd.n, pd.oc, pd.oh, pd.ow);
            }
            plan_free(p);
            e->blocks_known = 1;
        }
    }
    *x_block = e->native_x;
    *y_block = e->native_y;
    pthread_mutex_unlock(&e->lock);
    return st;
}

cg_nn_status cg_conv2d_forward(const cg_conv2d_desc *d, const float *x, const float *w, const float *bias,
                               float *y, char *msg, size_t msg_size) {
    void *ptrs[4] = {(void *)x, (void *)w, bias ? (void *)bias : (void *)y, (void *)y};
    return conv_run(d, CG_CONV2D_FWD, bias != NULL, ptrs, msg, msg_size);
}

cg_nn_status cg_conv2d_backward_data(const cg_conv2d_desc *d, const float *dy, const float *w, float *dx,
                                     char *msg, size_t msg_size) {
    void *ptrs[3] = {(void *)dy, (void *)w, dx};
    return conv_run(d, CG_CONV2D_BWD_DATA, 0, ptrs, msg, msg_size);
}

cg_nn_status cg_conv2d_backward_weights(const cg_conv2d_desc *d, const float *x, const float *dy,
                                        float *dw, float *dbias, char *msg, size_t msg_size) {
    void *ptrs[4] = {(void *)x, (void *)dy, dw, dbias};
    return conv_run(d, CG_CONV2D_BWD_WEIGHTS, dbias != NULL, ptrs, msg, msg_size);
}

void cg_conv2d_cache_clear(void) {
    pthread_mutex_lock(&cache_lock);
    while (cache) {
        conv_entry *e = cache;
        cache = e->next;
        plan_free(e->plans[0]);
        plan_free(e->plans[1]);
        chunks_free(e);
        pthread_mutex_destroy(&e->lock);
        free(e);
    }
    cache_count = 0;
    while (free_arenas) {
        conv_arena *a = free_arenas;
        free_arenas = a->next;
        arena_free(a);
    }
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
