/* nn/linear.c — nn.Linear and F.linear.
 *
 * weight is [out_features, in_features] (PyTorch's layout, so state_dicts
 * travel both ways) and y = x @ weight.T + bias: x [N, in] -> y [N, out]. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>

#include "cgrad/autograd.h"
#include "cgrad/nn.h"
#include "cgrad/ops.h"
#include "cgrad/random.h"
#include "nn/layer_util.h"

typedef struct linear_state {
    int64_t in_features, out_features;
    bool bias;
} linear_state;

cg_tensor *cg_linear(cg_tensor *x, cg_tensor *weight, cg_tensor *bias) {
    if (!x || !weight) return NULL;
    if (weight->ndim != 2) {
        char s[64];
        cg_fail(CG_ERR_SHAPE, "linear: weight must be 2-d [out, in], got %s", cg_shape_str(weight, s, sizeof s));
        return NULL;
    }
    if (x->ndim < 1 || x->shape[x->ndim - 1] != weight->shape[1]) {
        char sx[64], sw[64];
        cg_fail(CG_ERR_SHAPE, "linear: input %s does not end in in_features %lld (weight %s)",
                cg_shape_str(x, sx, sizeof sx), (long long)weight->shape[1],
                cg_shape_str(weight, sw, sizeof sw));
        return NULL;
    }
    /* Temporaries (the transposed view, the product) die in our own scope. */
    cg_scope_begin();
    cg_tensor *y = cg_matmul(x, cg_t(weight));
    if (bias) y = cg_add(y, bias);
    if (y) cg_keep(y);
    cg_scope_end();
    return y;
}

static cg_tensor *linear_forward(cg_module *m, cg_tensor *x) {
    return cg_linear(x, m->params[0], m->n_params > 1 ? m->params[1] : NULL);
}

static void linear_extra_repr(const cg_module *m, char *buf, size_t n) {
    const linear_state *s = m->state;
    snprintf(buf, n, "in_features=%lld, out_features=%lld, bias=%s", (long long)s->in_features,
             (long long)s->out_features, s->bias ? "True" : "False");
}

static const cg_module_vtable linear_vtable = {
    .type_name = "Linear", .forward = linear_forward, .extra_repr = linear_extra_repr};

cg_status cg_init_uniform_(cg_tensor *t, double bound) {
    if (!t) return cg_last_status();
    cg_no_grad_begin();
    cg_status st = cg_uniform_(t, NULL, -bound, bound);
    cg_no_grad_end();
    return st;
}

cg_module *cg_nn_linear(int64_t in_features, int64_t out_features, bool bias) {
    if (in_features <= 0 || out_features <= 0) {
        cg_fail(CG_ERR_VALUE, "Linear: in_features and out_features must be positive, got %lld and %lld",
                (long long)in_features, (long long)out_features);
        return NULL;
    }
    linear_state *s = malloc(sizeof *s);
    if (!s) {
        cg_fail(CG_ERR_NOMEM, "Linear: out of memory");
        return NULL;
    }
    *s = (linear_state){in_features, out_features, bias};
    cg_module *m = cg_module_new(&linear_vtable, s);
    if (!m) return NULL;
    /* reset_parameters(): kaiming_uniform_(weight, a=sqrt(5)) has gain
     * sqrt(2/(1+5)) and bound gain*sqrt(3/fan_in) = 1/sqrt(fan_in); the bias
     * is drawn from the same bound.  Weight first, then bias, as PyTorch does. */
    double bound = 1.0 / sqrt((double)in_features);
    cg_status st = cg_layer_add_uniform_param(m, "weight", CG_SHAPE(out_features, in_features), bound);
    if (!st && bias) st = cg_layer_add_uniform_param(m, "bias", CG_SHAPE(out_features), bound);
    if (st) {
        cg_module_release(m);
        return NULL;
    }
    return m;
}

cg_tensor *cg_init_params(int ndim, const int64_t *shape, double std) {
    cg_tensor *t = cg_randn(NULL, ndim, shape);
    if (!t) return NULL;
    if (std != 1.0 && cg_mul_s_(t, std) != CG_OK) {
        cg_release(t); /* not reached in practice: t does not require grad yet */
        return NULL;
    }
    return cg_requires_grad_(t, true);
}
