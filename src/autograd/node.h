/* An autograd tape entry: what produced a tensor and what its backward needs.
 * Owned by the tensor it produced (tensor->grad_fn); retains its inputs and
 * any saved tensor; points back to its output without owning it. */
#ifndef CGRAD_NODE_H
#define CGRAD_NODE_H

#include "autograd/op_table.h"
#include "cgrad/autograd.h"
#include "cgrad/ops.h"
#include "core/internal.h"

#define CG_NODE_INLINE_INPUTS 3
#define CG_NODE_MAX_SAVED 4 /* BatchNorm saves its mean and inverse std */

struct cg_node {
    cg_op op;
    int n_in;
    cg_tensor **in; /* points at in_inline or a malloc'd array (cat) */
    cg_tensor *in_inline[CG_NODE_INLINE_INPUTS];
    cg_tensor *saved[CG_NODE_MAX_SAVED]; /* owned; e.g. argmax indices, nll_loss's target */
    int n_saved;
    cg_tensor *out;   /* weak: the node lives exactly as long as its output */
    double p[2];      /* scalar arguments: exponent, clamp bounds, ... */
    int64_t iv[CG_MAX_DIMS + 2]; /* integer arguments: dims, start/step, ... */
    int n_iv;
    const char *alias;  /* PyTorch's name when it differs from the op's (TransposeBackward0) */
    cg_tensor *pending; /* gradient being accumulated during a backward pass */
    unsigned mark;      /* visit mark of the current backward pass */
    bool consumed;      /* cg_backward_once ran its rule and let its inputs and saved tensors go */
};

/* Records `op` producing `out` from inputs when grad mode is on and some input
 * requires grad: sets out->grad_fn and out->requires_grad.  Returns the node
 * (to fill saved/p/iv), or NULL when nothing needs recording or on failure
 * (check cg_last_status if it matters). */
cg_node *cg_record(cg_op op, cg_tensor *out, int n_in, cg_tensor *const *in);

/* Saves t (retained) for the backward rule, as n->saved[n->n_saved++].  An op
 * saves a fixed number of tensors, at most CG_NODE_MAX_SAVED. */
static inline void cg_node_save(cg_node *n, cg_tensor *t) {
    if (n->n_saved < CG_NODE_MAX_SAVED) n->saved[n->n_saved++] = cg_retain(t);
}

/* Frees a node: its inputs, saved tensors and pending gradient (autograd/tape.c).
 * The core calls it through the hook tape.c installs, when the output dies. */
void cg_node_release(cg_node *n);

/* The derivative rules (autograd/backward.c): given the node and the upstream
 * gradient g (out's shape), writes into gin[k] a new reference (in the current
 * scope) holding the gradient for input k, or NULL when input k needs none. */
typedef void (*cg_backward_fn)(cg_node *n, cg_tensor *g, cg_tensor **gin);
extern const cg_backward_fn cg_backward_rules[CG_OP_COUNT];

/* Names the node that produced t as PyTorch would (t may have no node). */
static inline void cg_grad_fn_alias(cg_tensor *t, const char *name) {
    if (t && t->grad_fn) t->grad_fn->alias = name;
}

static inline bool cg_needs_grad(const cg_node *n, int k) { return n->in[k]->requires_grad; }

/* Whether n's rule reads its output's values (so that output must not be
 * written over, cg_relu_over / cg_add_over): sqrt, exp, sigmoid, tanh,
 * log_softmax, and BatchNorm with its ReLU fused (the mask). */
static inline bool cg_node_reads_output(const cg_node *n) {
    switch (n->op) {
    case CG_OP_SQRT: case CG_OP_EXP: case CG_OP_SIGMOID: case CG_OP_TANH: case CG_OP_LOG_SOFTMAX: return true;
    case CG_OP_BATCH_NORM: return n->n_iv > 3 && n->iv[3];
    default: return false;
    }
}

#endif
