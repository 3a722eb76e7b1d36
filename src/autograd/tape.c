/* The tape: recording nodes as ops run, and the backward pass.
 *
 * backward() sorts the graph below the root topologically (iterative DFS, so
 * deep graphs cannot overflow the C stack), then walks it from the root down,
 * calling each node's rule from autograd/backward.c.  Gradients reaching the
 * same non-leaf tensor are summed in node->pending; gradients reaching a leaf
 * are added into leaf->grad, which therefore ACCUMULATES across calls until
 * cg_zero_grad / cg_clear_grad — PyTorch's semantics. */
#include <stdlib.h>
#include <string.h>

#include "autograd/node.h"
#include "core/dispatch.h"

static const char *const op_names[CG_OP_COUNT] = {
#define CG_OP_NAME(name, str) [CG_OP_##name] = str,
    CG_OP_LIST(CG_OP_NAME)
#undef CG_OP_NAME
};
_Static_assert(sizeof op_names / sizeof *op_names == CG_OP_COUNT, "every op needs a name");

static _Thread_local int no_grad_depth;
static unsigned backward_generation;

/* What the core calls back for (core/internal.h): installed before the first
 * node exists and before grad mode first changes. */
static const cg_autograd_hooks hooks = {
    .node_release = cg_node_release,
    .grad_fn_name = cg_grad_fn_name,
    .grad_enabled = cg_grad_enabled,
};

void cg_no_grad_begin(void) {
    cg_set_autograd_hooks(&hooks);
    no_grad_depth++;
}
void cg_no_grad_end(void) {
    if (no_grad_depth > 0) no_grad_depth--;
}
bool cg_grad_enabled(void) { return no_grad_depth == 0; }

const char *cg_grad_fn_name(const cg_tensor *t) {
    if (!t || !t->grad_fn) return NULL;
    return t->grad_fn->alias ? t->grad_fn->alias : op_names[t->grad_fn->op];
}

cg_tensor *cg_requires_grad_(cg_tensor *t, bool flag) {
    if (!t) return NULL;
    if (flag && t->dtype != CG_FLOAT32) {
        cg_fail(CG_ERR_DTYPE, "requires_grad_: only float32 tensors can require gradients, got %s",
                cg_dtype_name(t->dtype));
        return NULL;
    }
    if (t->grad_fn && !flag) {
        cg_fail(CG_ERR_GRAD,
                "requires_grad_(false) on a non-leaf tensor (made by %s); use cg_detach instead",
                cg_grad_fn_name(t));
        return NULL;
    }
    t->requires_grad = flag;
    return t;
}

void cg_zero_grad(cg_tensor *t) {
    if (t && t->grad) cg_k_fill(t->grad, 0);
}

cg_status cg_ensure_grad(cg_tensor *t) {
    if (!t) return cg_fail(CG_ERR_VALUE, "ensure_grad: NULL tensor");
    if (t->grad) return CG_OK;
    cg_scope_begin();
    cg_tensor *z = cg_zeros(CG_FLOAT32, t->ndim, t->shape);
    if (z) t->grad = cg_retain(z); /* t owns it once the scope ends */
    cg_scope_end();
    return z ? CG_OK : cg_last_status();
}

void cg_clear_grad(cg_tensor *t) {
    if (!t) return;
    cg_release(t->grad);
    t->grad = NULL;
}

/* ---- recording ----------------------------------------------------------- */
cg_node *cg_record(cg_op op, cg_tensor *out, int n_in, cg_tensor *const *in) {
    if (!out || no_grad_depth > 0) return NULL;
    bool any = false;
    for (int k = 0; k < n_in; k++) any |= in[k] && in[k]->requires_grad;
    if (!any) return NULL;
    cg_set_autograd_hooks(&hooks);
    cg_node *n = cg_pool_alloc(sizeof *n);
    if (!n) {
        cg_fail(CG_ERR_NOMEM, "out of memory recording %s", op_names[op]);
        return NULL;
    }
    memset(n, 0, sizeof *n);
    n->op = op;
    n->n_in = n_in;
    n->in = n_in <= CG_NODE_INLINE_INPUTS ? n->in_inline : malloc((size_t)n_in * sizeof *n->in);
    if (!n->in) {
        cg_pool_free(n, sizeof *n);
        cg_fail(CG_ERR_NOMEM, "out of memory recording %s", op_names[op]);
        return NULL;
    }
    for (int k = 0; k < n_in; k++) n->in[k] = cg_retain(in[k]);
    n->out = out;
    out->grad_fn = n;
    out->requires_grad = true;
    return n;
}

void cg_node_release(cg_node *n) {
    for (int k = 0; k < n->n_in; k++) cg_release(n->in[k]);
    if (n->in != n->in_inline) free(n->in);
    for (int k = 0; k < n->n_saved; k++) cg_release(n->saved[k]);
    cg_release(n->pending);
    cg_pool_free(n, sizeof *n);
}

/* ---- backward ------------------------------------------------------------ */
typedef struct node_list { cg_node **items; size_t n, cap; } node_list;

static bool push_node(node_list *l, cg_node *n) {
    if (l->n == l->cap) {
        size_t cap = l->cap ? l->cap * 2 : 64;
        cg_node **items = realloc(l->items, cap * sizeof *items);
        if (!items) return false;
        l->items = items;
        l->cap = cap;
    }
    l->items[l->n++] = n;
    return true;
}

/* Post-order DFS: a node comes after every node it consumes from. */
static cg_status topo_sort(cg_node *root, node_list *order) {
    unsigned gen = __atomic_add_fetch(&backward_generation, 1, __ATOMIC_RELAXED);
    node_list stack = {0};
    node_list child = {0}; /* next input index per stack entry, stored as pointers */
    cg_status st = CG_OK;
    root->mark = gen;
    if (!push_node(&stack, root) || !push_node(&child, NULL)) st = CG_ERR_NOMEM;
    while (st == CG_OK && stack.n) {
        cg_node *n = stack.items[stack.n - 1];
        uintptr_t k = (uintptr_t)child.items[child.n - 1];
        if ((int)k < n->n_in) {
            child.items[child.n - 1] = (cg_node *)(k + 1);
            cg_tensor *in = n->in[k];
            if (in->requires_grad && in->grad_fn && in->grad_fn->mark != gen) {
                in->grad_fn->mark = gen;
                if (!push_node(&stack, in->grad_fn) || !push_node(&child, NULL)) st = CG_ERR_NOMEM;
            }
        } else {
            stack.n--;
            child.n--;
            if (!push_node(order, n)) st = CG_ERR_NOMEM;
        }
    }
    free(stack.items);
    free(child.items);
    return st == CG_OK ? CG_OK : cg_fail(st, "backward: out of memory sorting the graph");
}

/* Whether t is a plain contiguous float32 buffer of its own that only the
 * caller's one reference reaches: no other header, view, node or .grad.  The
 * tape may then keep it as a .grad or sum into it. */
static bool sole_buffer(const cg_tensor *t) {
    return cg_sole_float_buffer(t) && t->storage->nbytes == (size_t)cg_numel(t) * sizeof(float) &&
           !t->grad_fn && !t->grad;
}

/* Adds gradient g (input's shape) into the leaf's .grad.  A first gradient
 * that a rule made in this pass and nobody else holds (refcount 1: the rule's
 * scope) becomes the .grad itself instead of being copied, as PyTorch does. */
static cg_status accumulate_leaf(cg_tensor *leaf, cg_tensor *g, bool made_here) {
    if (!leaf->grad) {
        if (made_here && sole_buffer(g) && cg_same_shape(g, leaf) &&
            g->storage->device == leaf->storage->device) {
            leaf->grad = cg_retain(g); /* the scope's reference dies at scope end */
            return CG_OK;
        }
        cg_tensor *owned = cg_tensor_new(CG_FLOAT32, leaf->ndim, leaf->shape);
        if (!owned) return cg_last_status();
        cg_k_copy(owned, g);
        leaf->grad = cg_retain(owned); /* the scope's reference dies at scope end */
    } else {
        cg_k_binary(CG_B_ADD, leaf->grad, leaf->grad, g, 0, 0);
    }
    return CG_OK;
}

/* Passes input k's gradient on: into a leaf's .grad or its producer's pending sum. */
static cg_status pass_on(cg_node *n, int k, cg_tensor *gk) {
    cg_tensor *in = n->in[k];
    if (!gk)
        return cg_last_status() != CG_OK
                   ? cg_last_status()
                   : cg_fail(CG_ERR_GRAD, "backward: %s gave no gradient for its input %d",
                             cg_grad_fn_name(n->out), k);
    if (!in->grad_fn) return accumulate_leaf(in, gk, true);
    cg_tensor *sum = gk, *pending = in->grad_fn->pending;
    if (pending) { /* pending + gk: both have the input's shape (the rules' contract) */
        if (!cg_same_shape(pending, gk)) {
            char s1[128], s2[128];
            return cg_fail(CG_ERR_GRAD, "backward: %s gave input %d a gradient of shape %s, another gave %s",
                           cg_grad_fn_name(n->out), k, cg_shape_str(gk, s1, sizeof s1),
                           cg_shape_str(pending, s2, sizeof s2));
        }
        /* into gk's own buffer when this rule made it and nobody else holds it */
        if (!(sole_buffer(gk) && gk->storage->device == pending->storage->device))
            sum = cg_tensor_new(CG_FLOAT32, gk->ndim, gk->shape);
        if (!sum) return cg_last_status();
        cg_k_binary(CG_B_ADD, sum, pending, gk, 0, 0);
    }
    cg_release(in->grad_fn->pending);
    in->grad_fn->pending = cg_retain(sum);
    return CG_OK;
}

/* Runs node n's rule on its pending gradient (if any reached it) and passes
 * the gradients on to its inputs. */
static cg_status run_node(cg_node *n) {
    cg_tensor *g = n->pending;
    n->pending = NULL;
    if (!g) return CG_OK;
    cg_status st = CG_OK;
    cg_tensor *gin_inline[CG_NODE_INLINE_INPUTS] = {0};
    cg_tensor **gin = n->n_in <= CG_NODE_INLINE_INPUTS ? gin_inline : calloc((size_t)n->n_in, sizeof *gin);
    if (!gin) {
        cg_release(g);
        return cg_fail(CG_ERR_NOMEM, "backward: out of memory");
    }
    cg_scope_begin(); /* this node's temporaries die once passed on */
    cg_backward_rules[n->op](n, g, gin);
    for (int k = 0; k < n->n_in && st == CG_OK; k++)
        if (n->in[k]->requires_grad) st = pass_on(n, k, gin[k]);
    cg_scope_end();
    if (gin != gin_inline) free(gin);
    cg_release(g);
    return st;
}

/* cg_backward_once: node n has run; its inputs and saved tensors go, so an
 * activation dies as soon as its last holder's rule ran (PyTorch frees the
 * saved tensors the same way when retain_graph is false). */
static void consume(cg_node *n) {
    for (int k = 0; k < n->n_in; k++) cg_release(n->in[k]);
    if (n->in != n->in_inline) free(n->in);
    n->in = n->in_inline;
    n->n_in = 0;
    for (int k = 0; k < n->n_saved; k++) cg_release(n->saved[k]);
    n->n_saved = 0;
    n->consumed = true;
}

static cg_status check_not_consumed(const node_list *order) {
    for (size_t i = 0; i < order->n; i++)
        if (order->items[i]->consumed)
            return cg_fail(CG_ERR_GRAD,
                           "backward: the graph through %s was already freed by cg_backward_once "
                           "(use cg_backward to backward through it again)",
                           cg_grad_fn_name(order->items[i]->out));
    return CG_OK;
}

static cg_status backward_run(cg_tensor *root, cg_tensor *grad, bool keep_graph) {
    if (!root) return cg_fail(CG_ERR_VALUE, "backward: NULL tensor");
    if (!root->requires_grad)
        return cg_fail(CG_ERR_GRAD,
                       "backward: the tensor does not require grad and has no grad_fn "
                       "(call cg_requires_grad_ on a leaf it depends on)");
    char s1[128], s2[128];
    if (!grad && cg_numel(root) != 1)
        return cg_fail(CG_ERR_GRAD,
                       "backward: grad can be implicitly created only for scalar outputs; the "
                       "root has shape %s — pass a gradient of that shape",
                       cg_shape_str(root, s1, sizeof s1));
    if (grad && !cg_same_shape(grad, root))
        return cg_fail(CG_ERR_SHAPE, "backward: gradient shape %s does not match the root's shape %s",
                       cg_shape_str(grad, s1, sizeof s1), cg_shape_str(root, s2, sizeof s2));
    if (grad && grad->dtype != CG_FLOAT32)
        return cg_fail(CG_ERR_DTYPE, "backward: gradient must be float32, got %s",
                       cg_dtype_name(grad->dtype));

    cg_scope_begin();
    cg_no_grad_begin();
    cg_status st = CG_OK;
    cg_tensor *g0 = grad ? grad : cg_ones(CG_FLOAT32, root->ndim, root->shape);
    if (!g0) st = cg_last_status();
    node_list order = {0};
    if (st == CG_OK && !root->grad_fn) {
        st = accumulate_leaf(root, g0, false);
    } else if (st == CG_OK && (st = topo_sort(root->grad_fn, &order)) == CG_OK &&
               (st = check_not_consumed(&order)) == CG_OK) {
        root->grad_fn->pending = cg_retain(g0);
        /* once: the engine holds every node's output until that node has
         * run (the node dies with it), since its consumers let go of it */
        for (size_t i = 0; !keep_graph && i < order.n; i++) cg_retain(order.items[i]->out);
        size_t i = order.n;
        while (i-- > 0) {
            cg_node *n = order.items[i];
            st = run_node(n);
            if (!keep_graph) {
                consume(n);
                cg_release(n->out); /* n may be freed here */
            }
            if (st != CG_OK) break;
        }
        /* On failure, drop the sums still waiting so a later backward starts
         * clean: every node when the graph stays, else those not yet run
         * (below i), which the engine still holds. */
        size_t left = keep_graph ? order.n : i;
        for (size_t j = 0; st != CG_OK && j < left; j++) {
            cg_release(order.items[j]->pending);
            order.items[j]->pending = NULL;
        }
        for (size_t j = 0; st != CG_OK && !keep_graph && j < left; j++) cg_release(order.items[j]->out);
    }
    free(order.items);
    cg_no_grad_end();
    cg_scope_end();
    return st;
}

cg_status cg_backward(cg_tensor *root, cg_tensor *grad) { return backward_run(root, grad, true); }
cg_status cg_backward_once(cg_tensor *root, cg_tensor *grad) { return backward_run(root, grad, false); }
