/* The vision layers' kernels, called through the backend of the tensors'
 * storage: tensors in, plain pointers and descriptors out (kernels/nn_kernels.h).
 * Every tensor here is contiguous float32 (int64 for pool indices, bool for
 * dropout masks) and on one device: the ops floor made sure of both. */
#include "core/dispatch.h"
#include "core/dispatch_nn.h"
#include "core/internal.h"

static cg_status kernel_failed(const char *op, cg_nn_status st, const char *msg) {
    return cg_fail(st == CG_NN_ENOMEM ? CG_ERR_NOMEM : st == CG_NN_EINVAL ? CG_ERR_SHAPE : CG_ERR_VALUE,
                   "%s: %s", op, msg[0] ? msg : "the backend's kernel failed");
}

/* An input a kernel only reads: a kept layout settled but kept (a conv's
 * input read plain by its GEMM weight backward is read blocked again by
 * batch_norm's backward); outputs and in-place buffers through cg_data. */
static const float *read_plain(const cg_tensor *t) {
    cg_storage_settle_for_reading(t->storage);
    return (const float *)t->storage->data + t->offset;
}
#define F32(t) ((float *)cg_data(t))
#define CF32(t) read_plain(t)
#define OPT_F32(t) ((t) ? (float *)cg_data(t) : NULL)

/* ---- kept layouts ------------------------------------------------------------
 * A conv2d whose primitive runs in a channel-block layout (oneDNN's
 * nChw8c on AVX2, nChw16c on AVX-512) leaves its output there, and the
 * next conv2d or batch_norm reads it as it is: no reorder out of one layer
 * and into the next (kernels/backend.h).  The tensor is the storage's
 * whole (N,C,H,W) tensor; anything else that touches its bytes settles it
 * to plain NCHW first (core/storage.c), so only these kernels ever see a
 * blocked buffer. */

/* Whether t is its storage's whole (N,C,H,W) float tensor: the only view a
 * blocked buffer can stand for. */
static bool whole_4d(const cg_tensor *t) {
    return t->ndim == 4 && t->offset == 0 && cg_is_contiguous(t) &&
           t->storage->nbytes == (size_t)cg_numel(t) * sizeof(float);
}

/* t's kept-layout buffer when t is its storage's whole tensor in `block`, else NULL. */
static float *blocked_view(const cg_tensor *t, int64_t block) {
    cg_storage *s = t->storage;
    void *buf = atomic_load_explicit(&s->blocked, memory_order_acquire);
    if (!buf || !block || s->blocked_block != block || !whole_4d(t)) return NULL;
    for (int i = 0; i < 4; i++)
        if (t->shape[i] != s->blocked_shape[i]) return NULL;
    return buf;
}

/* The block t's value is kept in (0: plain). */
static int64_t block_of(const cg_tensor *t) {
    int64_t b = t->storage->blocked_block;
    return blocked_view(t, b) ? b : 0;
}

/* Whether t is its storage's whole (N,C,H,W) tensor, C a multiple of block. */
static bool blockable(const cg_tensor *t, int64_t block) {
    return block && whole_4d(t) && t->shape[1] % block == 0;
}

/* A buffer for the fresh output y in `block`, or NULL for its plain one (no
 * block asked, y not a whole (N,C,H,W) tensor, or no memory: plain works). */
static float *blocked_out(const cg_tensor *y, int64_t block) {
    return blockable(y, block) ? cg_backend_of(y)->alloc(y->storage->nbytes) : NULL;
}

/* t in `block` for a kernel that reads that layout: its kept buffer, or a
 * blocked copy made now and kept beside the plain value, because the same
 * tensor is read again in that layout (a conv's input by its weight
 * backward, a batch_norm's gradient by the conv below it).  NULL when t
 * cannot be blocked (or no memory): the kernel then reads it plain. */
static const float *as_blocked(const cg_tensor *t, int64_t block) {
    const float *p = blocked_view(t, block);
    if (p || !blockable(t, block)) return p;
    const float *plain = CF32(t); /* settles a value kept in another block */
    const cg_backend *be = cg_backend_of(t);
    float *buf = be->alloc(t->storage->nbytes);
    if (!buf) return NULL;
    be->plain_to_blocked(block, t->shape[0], t->shape[1], t->shape[2] * t->shape[3], plain, buf);
    cg_storage_set_blocked_copy(t->storage, buf, block, t->shape);
    return buf;
}

/* Hands y the buffer `buf` filled in `block` (status OK) or gives it back. */
static void blocked_done(cg_tensor *y, float *buf, int64_t block, cg_nn_status st) {
    if (!buf) return;
    if (st == CG_NN_OK) cg_storage_set_blocked(y->storage, buf, block, y->shape);
    else cg_backend_of(y)->free(buf, y->storage->nbytes);
}

/* The blocks a conv pass runs its x and y sides in (0 and 0 when the backend keeps none). */
static void native_blocks(const cg_backend *be, const cg_conv2d_desc *d, cg_conv2d_pass pass, int64_t *xb,
                          int64_t *yb) {
    char msg[256];
    if (be->conv2d_native_blocks(d, pass, xb, yb, msg, sizeof msg) != CG_NN_OK) *xb = *yb = 0; /* the run reports */
}

/* An input of a conv pass: its kept buffer when it is in the pass's block (*desc_block = it), else plain. */
static const float *conv_input(const cg_tensor *t, int64_t native, int64_t *desc_block) {
    const float *p = as_blocked(t, native);
    if (p) *desc_block = native;
    return p ? p : CF32(t);
}

cg_status cg_k_conv2d_forward(const cg_conv2d_desc *d, const cg_tensor *x, const cg_tensor *w,
                              const cg_tensor *bias, cg_tensor *y) {
    char msg[256] = "";
    const cg_backend *be = cg_backend_of(y);
    cg_conv2d_desc dd = *d;
    int64_t nx, ny;
    native_blocks(be, d, CG_CONV2D_FWD, &nx, &ny);
    const float *xp = conv_input(x, nx, &dd.x_block);
    float *yk = blocked_out(y, ny);
    if (yk) dd.y_block = ny;
    cg_nn_status st = be->conv2d_forward(&dd, xp, CF32(w), OPT_F32(bias), yk ? yk : F32(y), msg, sizeof msg);
    blocked_done(y, yk, ny, st);
    return st ? kernel_failed("conv2d", st, msg) : CG_OK;
}

cg_status cg_k_conv2d_backward_data(const cg_conv2d_desc *d, const cg_tensor *dy, const cg_tensor *w,
                                    cg_tensor *dx) {
    char msg[256] = "";
    const cg_backend *be = cg_backend_of(dx);
    cg_conv2d_desc dd = *d;
    int64_t nx, ny;
    native_blocks(be, d, CG_CONV2D_BWD_DATA, &nx, &ny);
    const float *dyp = conv_input(dy, ny, &dd.y_block);
    float *dxk = blocked_out(dx, nx);
    if (dxk) dd.x_block = nx;
    cg_nn_status st = be->conv2d_backward_data(&dd, dyp, CF32(w), dxk ? dxk : F32(dx), msg, sizeof msg);
    blocked_done(dx, dxk, nx, st);
    return st ? kernel_failed("conv2d backward (data)", st, msg) : CG_OK;
}

cg_status cg_k_conv2d_backward_weights(const cg_conv2d_desc *d, const cg_tensor *x, const cg_tensor *dy,
                                       cg_tensor *dw, cg_tensor *dbias) {
    char msg[256] = "";
    const cg_backend *be = cg_backend_of(dw);
    cg_conv2d_desc dd = *d;
    int64_t nx, ny;
    native_blocks(be, d, CG_CONV2D_BWD_WEIGHTS, &nx, &ny);
    const float *xp = conv_input(x, nx, &dd.x_block), *dyp = conv_input(dy, ny, &dd.y_block);
    cg_nn_status st = be->conv2d_backward_weights(&dd, xp, dyp, F32(dw), OPT_F32(dbias), msg, sizeof msg);
    return st ? kernel_failed("conv2d backward (weights)", st, msg) : CG_OK;
}

/* out's buffer for an elementwise op on operands kept in `block`: the
 * blocked buffer of the operand out shares its storage with (in place: it
 * then holds the only valid value), or a new one for a fresh out; NULL when
 * neither holds. */
static float *kept_out(cg_tensor *out, int64_t block, const cg_tensor *a, const cg_tensor *b, bool *fresh) {
    *fresh = false;
    if (!blockable(out, block)) return NULL;
    for (int i = 0; i < 2; i++) {
        const cg_tensor *t = i ? b : a;
        if (t && t->storage == out->storage) {
            float *buf = blocked_view(out, block);
            if (buf && out->storage->data) cg_storage_drop_plain(out->storage); /* written below, blocked only */
            return buf;
        }
    }
    if (atomic_load(&out->storage->blocked)) return NULL;
    *fresh = true;
    return blocked_out(out, block);
}

/* a contiguous view of the blocked buffer buf with t's shape */
static cg_kview kept_view(const cg_tensor *t, const float *buf) {
    cg_kview v = {.data = (void *)buf, .dtype = t->dtype, .ndim = t->ndim};
    int64_t stride = 1;
    for (int d = t->ndim - 1; d >= 0; d--) v.shape[d] = t->shape[d], v.strides[d] = stride, stride *= t->shape[d];
    return v;
}

/* the block every operand is kept in and of out's shape, or 0 */
static int64_t kept_block(const cg_tensor *out, const cg_tensor *a, const cg_tensor *b) {
    if (out->dtype != CG_FLOAT32 || a->dtype != CG_FLOAT32 || (b && b->dtype != CG_FLOAT32)) return 0;
    int64_t blk = block_of(a);
    if (!blk || !cg_same_shape(a, out) || (b && (block_of(b) != blk || !cg_same_shape(b, out)))) return 0;
    return blk;
}

bool cg_k_unary_kept(cg_unary_op op, cg_tensor *out, const cg_tensor *in, double p0, double p1) {
    int64_t blk = kept_block(out, in, NULL);
    bool fresh;
    const float *ip = blk ? blocked_view(in, blk) : NULL;
    float *op_buf = ip ? kept_out(out, blk, in, NULL, &fresh) : NULL;
    if (!op_buf) return false;
    cg_kview o = kept_view(out, op_buf), i = kept_view(in, ip);
    cg_backend_of(out)->unary(op, &o, &i, p0, p1);
    if (fresh) cg_storage_set_blocked(out->storage, op_buf, blk, out->shape);
    return true;
}

bool cg_k_binary_kept(cg_binary_op op, cg_tensor *out, const cg_tensor *a, const cg_tensor *b, double p0,
                      double p1) {
    int64_t blk = kept_block(out, a, b);
    bool fresh;
    const float *ap = blk ? blocked_view(a, blk) : NULL, *bp = blk ? blocked_view(b, blk) : NULL;
    float *op_buf = ap && bp ? kept_out(out, blk, a, b, &fresh) : NULL;
    if (!op_buf) return false;
    cg_kview o = kept_view(out, op_buf), ka = kept_view(a, ap), kb = kept_view(b, bp);
    cg_backend_of(out)->binary(op, &o, &ka, &kb, p0, p1);
    if (fresh) cg_storage_set_blocked(out->storage, op_buf, blk, out->shape);
    return true;
}

/* batch_norm on a kept layout: x (and, backward, dy and y) in one block,
 * the output left in it; otherwise every tensor plain.  x must be 4-d
 * (BatchNorm2d): the block layout is (N, C, H*W). */
static int64_t bn_block(const cg_batchnorm_desc *d, const cg_tensor *x) {
    int64_t b = x->ndim == 4 ? block_of(x) : 0;
    return b && d->c % b == 0 ? b : 0;
}

/* The forward's block: x's, or for a plain (N,C,H,W) x of 7x7 or more the
 * backend's preferred one, x copied into it (kept for the backward): the
 * conv2d after it reads the output as it is, where it would copy a plain
 * output anyway, and the backward gets its gradient in that block (the
 * cnn's first BatchNorm, after cgrad's own direct conv).  Not on smaller
 * maps: there the rule runs the convs on cgrad's GEMM, in plain NCHW. */
static int64_t bn_forward_block(const cg_batchnorm_desc *d, const cg_tensor *x) {
    int64_t b = bn_block(d, x);
    if (b || x->ndim != 4 || d->hw < 49) return b;
    int64_t pb = cg_backend_of(x)->preferred_block();
    return pb && d->c % pb == 0 && as_blocked(x, pb) ? pb : 0;
}

/* The forward's x and y buffers and dd (d with its block): both in the
 * block when y gets a blocked buffer, else both plain. */
typedef struct bn_io {
    cg_batchnorm_desc dd;
    const float *x;
    float *y, *y_kept; /* y_kept: y's blocked buffer, for blocked_done */
} bn_io;

static bn_io bn_forward_io(const cg_batchnorm_desc *d, const cg_tensor *x, cg_tensor *y) {
    bn_io io = {.dd = *d};
    int64_t b = bn_forward_block(d, x);
    io.y_kept = blocked_out(y, b);
    io.dd.block = io.y_kept ? b : 0;
    io.x = io.y_kept ? blocked_view(x, b) : CF32(x);
    io.y = io.y_kept ? io.y_kept : F32(y);
    return io;
}

void cg_k_batchnorm_forward_train(const cg_batchnorm_desc *d, const cg_tensor *x, const cg_tensor *gamma,
                                  const cg_tensor *beta, cg_tensor *y, cg_tensor *mean, cg_tensor *invstd,
                                  cg_tensor *running_mean, cg_tensor *running_var) {
    bn_io io = bn_forward_io(d, x, y);
    cg_backend_of(y)->batchnorm_forward_train(&io.dd, io.x, OPT_F32(gamma), OPT_F32(beta), io.y, F32(mean),
                                              F32(invstd), OPT_F32(running_mean), OPT_F32(running_var));
    blocked_done(y, io.y_kept, io.dd.block, CG_NN_OK);
}

void cg_k_batchnorm_forward_eval(const cg_batchnorm_desc *d, const cg_tensor *x, const cg_tensor *gamma,
                                 const cg_tensor *beta, const cg_tensor *running_mean,
                                 const cg_tensor *running_var, cg_tensor *y, cg_tensor *mean,
                                 cg_tensor *invstd) {
    bn_io io = bn_forward_io(d, x, y);
    cg_backend_of(y)->batchnorm_forward_eval(&io.dd, io.x, OPT_F32(gamma), OPT_F32(beta), CF32(running_mean),
                                             CF32(running_var), io.y, OPT_F32(mean), OPT_F32(invstd));
    blocked_done(y, io.y_kept, io.dd.block, CG_NN_OK);
}

void cg_k_batchnorm_backward(const cg_batchnorm_desc *d, bool training, const cg_tensor *dy,
                             const cg_tensor *x, const cg_tensor *y, const cg_tensor *gamma,
                             const cg_tensor *mean, const cg_tensor *invstd, cg_tensor *dx, cg_tensor *dgamma,
                             cg_tensor *dbeta) {
    cg_batchnorm_desc dd = *d;
    /* x (the conv output it normalised) sets the layout; a plain dy (from a
     * kernel below that writes plain) or y is copied into it, one copy
     * instead of settling x and y */
    int64_t b = bn_block(d, x);
    const float *dyp = b ? as_blocked(dy, b) : NULL, *yp = NULL;
    if (b && d->relu && y && !(yp = as_blocked(y, b))) b = 0;
    if (!dyp) b = 0;
    float *dxk = dx ? blocked_out(dx, b) : NULL;
    if (dx && !dxk) b = 0;
    dd.block = b;
    const float *xp = b ? blocked_view(x, b) : CF32(x);
    if (!b) dyp = CF32(dy), yp = y ? CF32(y) : NULL;
    cg_backend_of(dy)->batchnorm_backward(&dd, training, dyp, xp, yp, OPT_F32(gamma), CF32(mean), CF32(invstd),
                                          dxk ? dxk : OPT_F32(dx), OPT_F32(dgamma), OPT_F32(dbeta));
    if (dx) blocked_done(dx, dxk, b, CG_NN_OK);
}

/* max_pool2d on a kept layout: x kept in a block leaves y in it (resnet's
 * stem pool, between its BatchNorm+ReLU and layer1's convs), and a dy kept
 * in one gives a dx in it; idx stays plain.  Otherwise plain. */
static bool max_pool_kept(const cg_pool2d_desc *d, const cg_tensor *in, cg_tensor *out, const cg_tensor *idx,
                          bool forward) {
    int64_t b = block_of(in);
    if (!b || !blockable(out, b) || !blockable(in, b) || d->h * d->w >= INT32_MAX) return false;
    float *buf = blocked_out(out, b);
    if (!buf) return false;
    cg_pool2d_desc dd = *d;
    dd.block = b;
    const cg_backend *be = cg_backend_of(out);
    if (forward) be->max_pool2d_forward(&dd, blocked_view(in, b), buf, (int64_t *)cg_data(idx));
    else be->max_pool2d_backward(&dd, blocked_view(in, b), (const int64_t *)cg_data(idx), buf);
    blocked_done(out, buf, b, CG_NN_OK);
    return true;
}

void cg_k_pool2d_forward(cg_pool2d_kind kind, const cg_pool2d_desc *d, const cg_tensor *x, cg_tensor *y,
                         cg_tensor *idx) {
    const cg_backend *be = cg_backend_of(y);
    if (kind == CG_POOL_MAX && max_pool_kept(d, x, y, idx, true)) return;
    int64_t *pi = idx ? (int64_t *)cg_data(idx) : NULL;
    switch (kind) {
    case CG_POOL_MAX: be->max_pool2d_forward(d, CF32(x), F32(y), pi); break;
    case CG_POOL_AVG: be->avg_pool2d_forward(d, CF32(x), F32(y)); break;
    case CG_POOL_ADAPTIVE_MAX: be->adaptive_max_pool2d_forward(d, CF32(x), F32(y), pi); break;
    case CG_POOL_ADAPTIVE_AVG: be->adaptive_avg_pool2d_forward(d, CF32(x), F32(y)); break;
    }
}

void cg_k_pool2d_backward(cg_pool2d_kind kind, const cg_pool2d_desc *d, const cg_tensor *dy,
                          const cg_tensor *idx, cg_tensor *dx) {
    const cg_backend *be = cg_backend_of(dx);
    if (kind == CG_POOL_MAX && max_pool_kept(d, dy, dx, idx, false)) return;
    switch (kind) {
    case CG_POOL_MAX:
    case CG_POOL_ADAPTIVE_MAX: be->max_pool2d_backward(d, CF32(dy), (const int64_t *)cg_data(idx), F32(dx)); break;
    case CG_POOL_AVG: be->avg_pool2d_backward(d, CF32(dy), F32(dx)); break;
    case CG_POOL_ADAPTIVE_AVG: be->adaptive_avg_pool2d_backward(d, CF32(dy), F32(dx)); break;
    }
}

void cg_k_dropout_apply(const cg_tensor *x, const cg_tensor *mask, float scale, cg_tensor *y) {
    cg_backend_of(y)->dropout_apply(cg_numel(x), CF32(x), (const uint8_t *)cg_data(mask), scale, F32(y));
}
