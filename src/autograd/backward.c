/* Every derivative rule of cgrad, in one place.
 *
 * A rule receives its node (inputs n->in[k], output n->out, saved values and
 * arguments) and the upstream gradient g, shaped like the output (g may be a
 * strided or stride-0 view).  It writes into gin[k] the gradient for input k,
 * shaped like that input, or leaves it NULL when input k needs none.  Rules
 * run under no-grad, inside a scope the engine closes (autograd/tape.c).
 * Gradients of broadcast ops are summed back to each input's shape. */
#include <math.h>
#include <string.h>

#include "autograd/node.h"
#include "core/dispatch_nn.h"
#include "ops/nn_ops.h"
#include "core/dispatch.h"

#define IN(k) (n->in[k])
#define NEEDS(k) cg_needs_grad(n, k)
/* Sum a broadcast-shaped gradient back to input k's shape. */
#define TO_INPUT(k, t) cg_sum_to_shape((t), IN(k)->ndim, IN(k)->shape)

/* out = op(g, saved) for the fused rule kernels; g and saved share a shape. */
static cg_tensor *fused(cg_binary_op op, cg_tensor *g, cg_tensor *saved, double p0, double p1) {
    cg_tensor *out = cg_tensor_new(CG_FLOAT32, g->ndim, g->shape);
    if (out) cg_k_binary(op, out, g, saved, p0, p1);
    return out;
}

static void backward_ADD(cg_node *n, cg_tensor *g, cg_tensor **gin) {
    if (NEEDS(0)) gin[0] = TO_INPUT(0, g);
    if (NEEDS(1)) gin[1] = TO_INPUT(1, g);
}

static void backward_SUB(cg_node *n, cg_tensor *g, cg_tensor **gin) {
    if (NEEDS(0)) gin[0] = TO_INPUT(0, g);
    if (NEEDS(1)) gin[1] = TO_INPUT(1, cg_neg(g));
}

static void backward_MUL(cg_node *n, cg_tensor *g, cg_tensor **gin) {
    if (NEEDS(0)) gin[0] = TO_INPUT(0, cg_mul(g, IN(1)));
    if (NEEDS(1)) gin[1] = TO_INPUT(1, cg_mul(g, IN(0)));
}

static void backward_DIV(cg_node *n, cg_tensor *g, cg_tensor **gin) {
    if (NEEDS(0)) gin[0] = TO_INPUT(0, cg_div(g, IN(1)));
    if (NEEDS(1)) /* d(a/b)/db = -a / b^2 */
        gin[1] = TO_INPUT(1, cg_neg(cg_div(cg_mul(g, IN(0)), cg_mul(IN(1), IN(1)))));
}

/* maximum/minimum: the gradient goes to the larger (smaller) input; ties
 * split it in half, as PyTorch does. */
static void extreme_pair(cg_node *n, cg_tensor *g, cg_tensor **gin, bool is_max) {
    cg_tensor *a = IN(0), *b = IN(1);
    cg_tensor *half_tie = cg_mul_s(cg_float(cg_eq(a, b)), 0.5);
    cg_tensor *a_wins = cg_float(is_max ? cg_gt(a, b) : cg_lt(a, b));
    cg_tensor *b_wins = cg_float(is_max ? cg_lt(a, b) : cg_gt(a, b));
    if (NEEDS(0)) gin[0] = TO_INPUT(0, cg_mul(g, cg_add(a_wins, half_tie)));
    if (NEEDS(1)) gin[1] = TO_INPUT(1, cg_mul(g, cg_add(b_wins, half_tie)));
}
static void backward_MAXIMUM(cg_node *n, cg_tensor *g, cg_tensor **gin) { extreme_pair(n, g, gin, true); }
static void backward_MINIMUM(cg_node *n, cg_tensor *g, cg_tensor **gin) { extreme_pair(n, g, gin, false); }

static void backward_WHERE(cg_node *n, cg_tensor *g, cg_tensor **gin) {
    cg_tensor *zero = cg_scalar(0), *cond = IN(2);
    if (NEEDS(0)) gin[0] = TO_INPUT(0, cg_where(cond, g, zero));
    if (NEEDS(1)) gin[1] = TO_INPUT(1, cg_where(cond, zero, g));
}

static void backward_NEG(cg_node *n, cg_tensor *g, cg_tensor **gin) { gin[0] = cg_neg(g); }
static void backward_ABS(cg_node *n, cg_tensor *g, cg_tensor **gin) {
    gin[0] = fused(CG_B_ABS_BACK, g, IN(0), 0, 0);
}
static void backward_SQRT(cg_node *n, cg_tensor *g, cg_tensor **gin) {
    gin[0] = fused(CG_B_SQRT_BACK, g, n->out, 0, 0);
}
static void backward_EXP(cg_node *n, cg_tensor *g, cg_tensor **gin) { gin[0] = cg_mul(g, n->out); }
static void backward_LOG(cg_node *n, cg_tensor *g, cg_tensor **gin) { gin[0] = cg_div(g, IN(0)); }
static void backward_SIGMOID(cg_node *n, cg_tensor *g, cg_tensor **gin) {
    gin[0] = fused(CG_B_SIGMOID_BACK, g, n->out, 0, 0);
}
static void backward_RELU(cg_node *n, cg_tensor *g, cg_tensor **gin) {
    gin[0] = fused(CG_B_RELU_BACK, g, IN(0), 0, 0);
}
static void backward_TANH(cg_node *n, cg_tensor *g, cg_tensor **gin) {
    gin[0] = fused(CG_B_TANH_BACK, g, n->out, 0, 0);
}
static void backward_POW(cg_node *n, cg_tensor *g, cg_tensor **gin) {
    gin[0] = fused(CG_B_POW_BACK, g, IN(0), n->p[0], 0);
}
static void backward_CLAMP(cg_node *n, cg_tensor *g, cg_tensor **gin) {
    gin[0] = fused(CG_B_CLAMP_BACK, g, IN(0), n->p[0], n->p[1]);
}

/* g reshaped to the keepdim shape of a reduction over mask, then expanded
 * (stride 0, no copy) over the input's shape. */
static cg_tensor *spread(cg_node *n, cg_tensor *g) {
    int64_t kshape[CG_MAX_DIMS];
    unsigned mask = (unsigned)n->iv[0];
    for (int d = 0; d < IN(0)->ndim; d++) kshape[d] = (mask >> d) & 1 ? 1 : IN(0)->shape[d];
    cg_tensor *gk = cg_reshape(g, IN(0)->ndim, kshape);
    return gk ? cg_expand_raw(gk, IN(0)->ndim, IN(0)->shape) : NULL;
}

static void backward_SUM(cg_node *n, cg_tensor *g, cg_tensor **gin) { gin[0] = spread(n, g); }

static void backward_MEAN(cg_node *n, cg_tensor *g, cg_tensor **gin) {
    int64_t count = 1;
    for (int d = 0; d < IN(0)->ndim; d++)
        if ((n->iv[0] >> d) & 1) count *= IN(0)->shape[d];
    gin[0] = spread(n, cg_mul_s(g, 1.0 / (double)count));
}

/* max/min over dims: the gradient goes to the position that was picked
 * (saved[0]: the int64 indices, contiguous, in the keepdim shape). */
static void extreme_reduce(cg_node *n, cg_tensor *g, cg_tensor **gin) {
    const cg_tensor *x = IN(0);
    unsigned mask = (unsigned)n->iv[0];
    cg_tensor *out = cg_zeros(CG_FLOAT32, x->ndim, x->shape);
    int64_t kshape[CG_MAX_DIMS];
    for (int d = 0; d < x->ndim; d++) kshape[d] = (mask >> d) & 1 ? 1 : x->shape[d];
    cg_tensor *gk = cg_contiguous(cg_reshape(g, x->ndim, kshape));
    if (!out || !gk) return;
    cg_k_reduce_index_backward(out, gk, n->saved[0], mask);
    gin[0] = out;
}
static void backward_MAX_DIM(cg_node *n, cg_tensor *g, cg_tensor **gin) { extreme_reduce(n, g, gin); }
static void backward_MIN_DIM(cg_node *n, cg_tensor *g, cg_tensor **gin) { extreme_reduce(n, g, gin); }

/* C = A @ B  =>  dA = dC @ B^T, dB = A^T @ dC, with 1-d operands promoted
 * and broadcast batch dims summed away. */
static void backward_MATMUL(cg_node *n, cg_tensor *g, cg_tensor **gin) {
    cg_tensor *a = IN(0), *b = IN(1);
    cg_tensor *a2 = a->ndim == 1 ? cg_unsqueeze(a, 0) : a;
    cg_tensor *b2 = b->ndim == 1 ? cg_unsqueeze(b, 1) : b;
    cg_tensor *g2 = g;
    if (a->ndim == 1) g2 = cg_unsqueeze(g2, g2->ndim - (b->ndim == 1 ? 0 : 1));
    if (b->ndim == 1) g2 = cg_unsqueeze(g2, g2->ndim);
    if (NEEDS(0)) {
        cg_tensor *da = cg_matmul(g2, cg_transpose(b2, -1, -2));
        da = da ? cg_sum_to_shape(da, a2->ndim, a2->shape) : NULL;
        gin[0] = cg_reshape(da, a->ndim, a->shape);
    }
    if (NEEDS(1)) {
        cg_tensor *db = cg_matmul(cg_transpose(a2, -1, -2), g2);
        db = db ? cg_sum_to_shape(db, b2->ndim, b2->shape) : NULL;
        gin[1] = cg_reshape(db, b->ndim, b->shape);
    }
}

static void backward_VIEW(cg_node *n, cg_tensor *g, cg_tensor **gin) {
    gin[0] = cg_reshape(g, IN(0)->ndim, IN(0)->shape);
}

static void backward_PERMUTE(cg_node *n, cg_tensor *g, cg_tensor **gin) {
    int inverse[CG_MAX_DIMS];
    for (int k = 0; k < IN(0)->ndim; k++) inverse[n->iv[k]] = k;
    gin[0] = cg_permute(g, inverse);
}

/* slice/select: scatter g into zeros of the input's shape. */
static void backward_SLICE(cg_node *n, cg_tensor *g, cg_tensor **gin) {
    const cg_tensor *x = IN(0);
    int d = (int)n->iv[0];
    int64_t start = n->iv[1], step = n->iv[2];
    bool removed = n->iv[3];
    cg_tensor *out = cg_zeros(CG_FLOAT32, x->ndim, x->shape);
    if (!out) return;
    cg_tensor *region;
    if (removed)
        region = cg_select(out, d, start);
    else
        region = cg_slice(out, d, start, start + step * (g->shape[d] - 1) + 1, step);
    if (region) cg_k_copy(region, g);
    gin[0] = out;
}

static void backward_EXPAND(cg_node *n, cg_tensor *g, cg_tensor **gin) { gin[0] = TO_INPUT(0, g); }

static void backward_CAT(cg_node *n, cg_tensor *g, cg_tensor **gin) {
    int d = (int)n->iv[0];
    int64_t off = 0;
    for (int k = 0; k < n->n_in; k++) {
        int64_t len = IN(k)->shape[d];
        if (NEEDS(k)) gin[k] = cg_slice(g, d, off, off + len, 1);
        off += len;
    }
}

static void backward_COPY(cg_node *n, cg_tensor *g, cg_tensor **gin) {
    gin[0] = cg_scope_adopt(cg_retain(g));
}

/* y = x - logsumexp(x)  =>  dx = g - exp(y) * sum(g, dim) */
static void backward_LOG_SOFTMAX(cg_node *n, cg_tensor *g, cg_tensor **gin) {
    int d = (int)n->iv[0];
    cg_tensor *s = cg_sum(g, &d, 1, true);
    gin[0] = cg_sub(g, cg_mul(cg_exp(n->out), s));
}

/* loss = -mean_i logp[i, y_i]  =>  dlogp[i, y_i] = -g / N
 * (saved[0]: the int64 targets, contiguous) */
static void backward_NLL_LOSS(cg_node *n, cg_tensor *g, cg_tensor **gin) {
    const cg_tensor *lp = IN(0);
    cg_tensor *out = cg_zeros(CG_FLOAT32, 2, lp->shape);
    double gv;
    if (!out || cg_item(g, &gv) != CG_OK) return;
    cg_backend_of(out)->nll_loss_backward(cg_data(out), cg_data(n->saved[0]), lp->shape[0], lp->shape[1],
                                          gv);
    gin[0] = out;
}

/* ---- vision layers: fused rules over the backend's kernels ---------------- */
static void backward_CONV2D(cg_node *n, cg_tensor *g, cg_tensor **gin) {
    cg_conv2d_desc d;
    cg_tensor *gc = cg_contiguous(g);
    if (!gc || cg_conv2d_describe(IN(0), IN(1), n->iv, &d)) return;
    if (NEEDS(0)) { /* dx needs the weight */
        cg_tensor *w = cg_contiguous(IN(1));
        cg_tensor *dx = w ? cg_tensor_new(CG_FLOAT32, IN(0)->ndim, IN(0)->shape) : NULL;
        if (dx && !cg_k_conv2d_backward_data(&d, gc, w, dx)) gin[0] = dx;
    }
    bool need_bias = n->n_in > 2 && NEEDS(2);
    if (NEEDS(1) || need_bias) { /* dw (and dbias) need the input */
        cg_tensor *x = cg_contiguous(IN(0));
        cg_tensor *dw = x ? cg_tensor_new(CG_FLOAT32, IN(1)->ndim, IN(1)->shape) : NULL;
        cg_tensor *db = need_bias ? cg_tensor_new(CG_FLOAT32, CG_SHAPE(d.oc)) : NULL;
        if (dw && (db || !need_bias) && !cg_k_conv2d_backward_weights(&d, x, gc, dw, db)) {
            if (NEEDS(1)) gin[1] = dw;
            if (need_bias) gin[2] = db;
        }
    }
}

/* Inputs x[, weight][, bias]; saved mean and invstd; iv: has weight, has
 * bias, training, ReLU fused (its mask read from the output, y > 0). */
static void backward_BATCH_NORM(cg_node *n, cg_tensor *g, cg_tensor **gin) {
    int kw = n->iv[0] ? 1 : -1, kb = n->iv[1] ? (n->iv[0] ? 2 : 1) : -1;
    bool training = n->iv[2];
    cg_batchnorm_desc d = cg_batch_norm_describe(IN(0), n->p[0], n->p[1]);
    d.relu = n->iv[3];
    cg_tensor *gc = cg_contiguous(g), *xc = cg_contiguous(IN(0));
    cg_tensor *wc = kw > 0 ? cg_contiguous(IN(kw)) : NULL;
    if (!gc || !xc || (kw > 0 && !wc)) return;
    bool need_w = kw > 0 && NEEDS(kw), need_b = kb > 0 && NEEDS(kb);
    cg_tensor *dx = NEEDS(0) ? cg_tensor_new(CG_FLOAT32, IN(0)->ndim, IN(0)->shape) : NULL;
    cg_tensor *dgamma = need_w ? cg_tensor_new(CG_FLOAT32, CG_SHAPE(d.c)) : NULL;
    cg_tensor *dbeta = need_b ? cg_tensor_new(CG_FLOAT32, CG_SHAPE(d.c)) : NULL;
    if ((NEEDS(0) && !dx) || (need_w && !dgamma) || (need_b && !dbeta)) return;
    cg_k_batchnorm_backward(&d, training, gc, xc, d.relu ? n->out : NULL, wc, n->saved[0], n->saved[1], dx,
                            dgamma, dbeta);
    gin[0] = dx;
    if (need_w) gin[kw] = dgamma;
    if (need_b) gin[kb] = dbeta;
}

static void pool_backward(cg_node *n, cg_tensor *g, cg_tensor **gin, cg_pool2d_kind kind) {
    bool adaptive = kind == CG_POOL_ADAPTIVE_MAX || kind == CG_POOL_ADAPTIVE_AVG;
    cg_pool2d_desc d = cg_pool2d_describe(IN(0), adaptive, n->iv);
    d.oh = g->shape[2]; /* the forward's output size */
    d.ow = g->shape[3];
    cg_tensor *gc = cg_contiguous(g);
    cg_tensor *dx = gc ? cg_tensor_new(CG_FLOAT32, IN(0)->ndim, IN(0)->shape) : NULL;
    if (!dx) return;
    cg_k_pool2d_backward(kind, &d, gc, n->n_saved ? n->saved[0] : NULL, dx);
    gin[0] = dx;
}
static void backward_MAX_POOL2D(cg_node *n, cg_tensor *g, cg_tensor **gin) { pool_backward(n, g, gin, CG_POOL_MAX); }
static void backward_AVG_POOL2D(cg_node *n, cg_tensor *g, cg_tensor **gin) { pool_backward(n, g, gin, CG_POOL_AVG); }
static void backward_ADAPTIVE_MAX_POOL2D(cg_node *n, cg_tensor *g, cg_tensor **gin) {
    pool_backward(n, g, gin, CG_POOL_ADAPTIVE_MAX);
}
static void backward_ADAPTIVE_AVG_POOL2D(cg_node *n, cg_tensor *g, cg_tensor **gin) {
    pool_backward(n, g, gin, CG_POOL_ADAPTIVE_AVG);
}

/* dx = dy * mask * scale: the forward's multiply on the gradient. */
static void backward_DROPOUT(cg_node *n, cg_tensor *g, cg_tensor **gin) {
    cg_tensor *gc = cg_contiguous(g);
    cg_tensor *dx = gc ? cg_tensor_new(CG_FLOAT32, g->ndim, g->shape) : NULL;
    if (!dx) return;
    cg_k_dropout_apply(gc, n->saved[0], (float)n->p[0], dx);
    gin[0] = dx;
}

const cg_backward_fn cg_backward_rules[CG_OP_COUNT] = {
#define CG_OP_RULE(name, str) [CG_OP_##name] = backward_##name,
    CG_OP_LIST(CG_OP_RULE)
#undef CG_OP_RULE
};
