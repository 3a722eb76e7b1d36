/* Elementwise ops: binary with two-way broadcasting and dtype promotion,
 * unary math, comparisons and where.  Forwards only: the derivative rules
 * are in autograd/backward.c. */
#include <math.h>

#include "autograd/node.h"
#include "core/dispatch.h"

static bool is_comparison(cg_binary_op op) { return op >= CG_B_LT && op <= CG_B_NE; }

/* PyTorch's promotion for the dtypes cgrad has: float wins; integers and
 * bools compute in int64; true division is always float. */
static cg_dtype compute_dtype(cg_binary_op op, const cg_tensor *a, const cg_tensor *b) {
    if (a->dtype == CG_FLOAT32 || b->dtype == CG_FLOAT32 || op == CG_B_DIV) return CG_FLOAT32;
    return CG_INT64;
}

/* out = op(a, b) with broadcasting; records `aop` when aop >= 0. */
static cg_tensor *binary(const char *name, cg_binary_op kop, int aop, cg_tensor *a, cg_tensor *b) {
    CG_CHECK_NULL(a, b);
    int nd;
    int64_t shape[CG_MAX_DIMS];
    if (cg_broadcast_shapes(name, a->ndim, a->shape, b->ndim, b->shape, &nd, shape) != CG_OK)
        return NULL;
    if (nd > CG_MAX_DIMS) {
        cg_fail(CG_ERR_SHAPE, "%s: result would have more than %d dims", name, CG_MAX_DIMS);
        return NULL;
    }
    cg_dtype ct = compute_dtype(kop, a, b);
    cg_scope_begin();
    cg_tensor *ca = cg_cast_raw(a, ct), *cb = cg_cast_raw(b, ct);
    cg_tensor *ea = ca ? cg_expand_raw(ca, nd, shape) : NULL;
    cg_tensor *eb = cb ? cg_expand_raw(cb, nd, shape) : NULL;
    cg_tensor *out = ea && eb ? cg_tensor_new(is_comparison(kop) ? CG_BOOL : ct, nd, shape) : NULL;
    if (out) {
        cg_k_binary(kop, out, ea, eb, 0, 0);
        if (aop >= 0) cg_record((cg_op)aop, out, 2, (cg_tensor *[]){a, b});
    }
    return cg_scope_return(out);
}

cg_tensor *cg_add(cg_tensor *a, cg_tensor *b) { return binary("add", CG_B_ADD, CG_OP_ADD, a, b); }
cg_tensor *cg_sub(cg_tensor *a, cg_tensor *b) { return binary("sub", CG_B_SUB, CG_OP_SUB, a, b); }
cg_tensor *cg_mul(cg_tensor *a, cg_tensor *b) { return binary("mul", CG_B_MUL, CG_OP_MUL, a, b); }
cg_tensor *cg_div(cg_tensor *a, cg_tensor *b) { return binary("div", CG_B_DIV, CG_OP_DIV, a, b); }
cg_tensor *cg_maximum(cg_tensor *a, cg_tensor *b) {
    return binary("maximum", CG_B_MAX, CG_OP_MAXIMUM, a, b);
}
cg_tensor *cg_minimum(cg_tensor *a, cg_tensor *b) {
    return binary("minimum", CG_B_MIN, CG_OP_MINIMUM, a, b);
}
cg_tensor *cg_lt(cg_tensor *a, cg_tensor *b) { return binary("lt", CG_B_LT, -1, a, b); }
cg_tensor *cg_le(cg_tensor *a, cg_tensor *b) { return binary("le", CG_B_LE, -1, a, b); }
cg_tensor *cg_gt(cg_tensor *a, cg_tensor *b) { return binary("gt", CG_B_GT, -1, a, b); }
cg_tensor *cg_ge(cg_tensor *a, cg_tensor *b) { return binary("ge", CG_B_GE, -1, a, b); }
cg_tensor *cg_eq(cg_tensor *a, cg_tensor *b) { return binary("eq", CG_B_EQ, -1, a, b); }
cg_tensor *cg_ne(cg_tensor *a, cg_tensor *b) { return binary("ne", CG_B_NE, -1, a, b); }

/* A 0-d operand for the scalar forms: int64 when both the tensor and the
 * value are integral (tns+1 stays int64), float32 otherwise (tns*1.5). */
static cg_tensor *scalar_like(const cg_tensor *t, double s) {
    bool integral = t && t->dtype != CG_FLOAT32 && s == floor(s) && fabs(s) < 9e15;
    return cg_scalar_of(integral ? CG_INT64 : CG_FLOAT32, s);
}

#define SCALAR_FORM(fname, call)                      \
    cg_tensor *fname(cg_tensor *a, double s) {        \
        CG_CHECK_NULL(a);                             \
        cg_scope_begin();                             \
        cg_tensor *b = scalar_like(a, s);             \
        return cg_scope_return(call);                 \
    }
SCALAR_FORM(cg_add_s, cg_add(a, b))
SCALAR_FORM(cg_sub_s, cg_sub(a, b))
SCALAR_FORM(cg_mul_s, cg_mul(a, b))
SCALAR_FORM(cg_div_s, cg_div(a, b))
SCALAR_FORM(cg_lt_s, cg_lt(a, b))
SCALAR_FORM(cg_le_s, cg_le(a, b))
SCALAR_FORM(cg_gt_s, cg_gt(a, b))
SCALAR_FORM(cg_ge_s, cg_ge(a, b))
SCALAR_FORM(cg_eq_s, cg_eq(a, b))
SCALAR_FORM(cg_ne_s, cg_ne(a, b))

cg_tensor *cg_rsub_s(double s, cg_tensor *a) {
    CG_CHECK_NULL(a);
    cg_scope_begin();
    cg_tensor *b = scalar_like(a, s);
    return cg_scope_return(cg_sub(b, a));
}

cg_tensor *cg_rdiv_s(double s, cg_tensor *a) {
    CG_CHECK_NULL(a);
    cg_scope_begin();
    cg_tensor *b = scalar_like(a, s);
    return cg_scope_return(cg_div(b, a));
}

cg_tensor *cg_where(cg_tensor *cond, cg_tensor *a, cg_tensor *b) {
    CG_CHECK_NULL(cond, a, b);
    int n1, nd;
    int64_t s1[CG_MAX_DIMS], shape[CG_MAX_DIMS];
    if (cg_broadcast_shapes("where", cond->ndim, cond->shape, a->ndim, a->shape, &n1, s1) != CG_OK ||
        cg_broadcast_shapes("where", n1, s1, b->ndim, b->shape, &nd, shape) != CG_OK)
        return NULL;
    cg_dtype ct = a->dtype == CG_FLOAT32 || b->dtype == CG_FLOAT32 ? CG_FLOAT32 : CG_INT64;
    cg_scope_begin();
    cg_tensor *ca = cg_cast_raw(a, ct), *cb = cg_cast_raw(b, ct);
    cg_tensor *ec = cg_expand_raw(cond, nd, shape);
    cg_tensor *ea = ca ? cg_expand_raw(ca, nd, shape) : NULL;
    cg_tensor *eb = cb ? cg_expand_raw(cb, nd, shape) : NULL;
    cg_tensor *out = ec && ea && eb ? cg_tensor_new(ct, nd, shape) : NULL;
    if (out) {
        cg_k_where(out, ec, ea, eb);
        cg_node *n = cg_record(CG_OP_WHERE, out, 3, (cg_tensor *[]){a, b, cond});
        (void)n; /* the condition rides along as input 2; it never requires grad */
    }
    return cg_scope_return(out);
}

/* ---- unary ---------------------------------------------------------------- */
static cg_tensor *unary(cg_unary_op kop, cg_op aop, cg_tensor *t, double p0, double p1) {
    CG_CHECK_NULL(t);
    cg_scope_begin();
    cg_tensor *ft = cg_cast_raw(t, CG_FLOAT32);
    cg_tensor *out = ft ? cg_tensor_new(CG_FLOAT32, t->ndim, t->shape) : NULL;
    if (out) {
        cg_k_unary(kop, out, ft, p0, p1);
        cg_node *n = cg_record(aop, out, 1, &t);
        if (n) {
            n->p[0] = p0;
            n->p[1] = p1;
        }
    }
    return cg_scope_return(out);
}

cg_tensor *cg_neg(cg_tensor *t) {
    if (t && t->dtype != CG_FLOAT32) return cg_rsub_s(0, t); /* stays int64 */
    return unary(CG_U_NEG, CG_OP_NEG, t, 0, 0);
}
cg_tensor *cg_abs(cg_tensor *t) {
    if (t && t->dtype != CG_FLOAT32) {
        cg_scope_begin();
        return cg_scope_return(cg_maximum(t, cg_neg(t)));
    }
    return unary(CG_U_ABS, CG_OP_ABS, t, 0, 0);
}
cg_tensor *cg_sqrt(cg_tensor *t) { return unary(CG_U_SQRT, CG_OP_SQRT, t, 0, 0); }
cg_tensor *cg_exp(cg_tensor *t) { return unary(CG_U_EXP, CG_OP_EXP, t, 0, 0); }
cg_tensor *cg_log(cg_tensor *t) { return unary(CG_U_LOG, CG_OP_LOG, t, 0, 0); }
cg_tensor *cg_sigmoid(cg_tensor *t) { return unary(CG_U_SIGMOID, CG_OP_SIGMOID, t, 0, 0); }
cg_tensor *cg_relu(cg_tensor *t) { return unary(CG_U_RELU, CG_OP_RELU, t, 0, 0); }

/* relu(t) written over t's buffer: a second header on t's storage, no new
 * buffer.  Only when t is a plain float32 buffer of its own that nobody
 * else holds (refcount 1, the caller's scope) and not a leaf that needs a
 * gradient; otherwise cg_relu.  The node keeps t as its input, whose values
 * are now relu(t): the rule's mask (t > 0) is relu(t) > 0, the same bits. */
static bool overwritable(const cg_tensor *t) {
    return cg_sole_float_buffer(t) && !t->grad && !(t->requires_grad && !t->grad_fn) &&
           !(t->grad_fn && cg_node_reads_output(t->grad_fn));
}

cg_tensor *cg_relu_over(cg_tensor *t) {
    CG_CHECK_NULL(t);
    if (!overwritable(t)) return cg_relu(t);
    cg_tensor *out = cg_tensor_view_of(t, t->ndim, t->shape, t->strides, 0);
    if (!out) return NULL;
    cg_k_unary(CG_U_RELU, out, t, 0, 0);
    cg_record(CG_OP_RELU, out, 1, &t);
    return out;
}
/* a + b written over a's buffer, on cg_relu_over's terms for a (b of a's
 * shape, float32; otherwise cg_add).  Add's rule reads neither input. */
cg_tensor *cg_add_over(cg_tensor *a, cg_tensor *b) {
    CG_CHECK_NULL(a, b);
    if (!overwritable(a) || b->dtype != CG_FLOAT32 || !cg_same_shape(a, b)) return cg_add(a, b);
    cg_tensor *out = cg_tensor_view_of(a, a->ndim, a->shape, a->strides, 0);
    if (!out) return NULL;
    cg_k_binary(CG_B_ADD, out, a, b, 0, 0);
    cg_record(CG_OP_ADD, out, 2, (cg_tensor *[]){a, b});
    return out;
}

cg_tensor *cg_tanh(cg_tensor *t) { return unary(CG_U_TANH, CG_OP_TANH, t, 0, 0); }
cg_tensor *cg_pow_s(cg_tensor *t, double e) { return unary(CG_U_POW, CG_OP_POW, t, e, 0); }
cg_tensor *cg_clamp(cg_tensor *t, double lo, double hi) {
    if (lo > hi) {
        cg_fail(CG_ERR_VALUE, "clamp: min %g is greater than max %g", lo, hi);
        return NULL;
    }
    return unary(CG_U_CLAMP, CG_OP_CLAMP, t, lo, hi);
}
