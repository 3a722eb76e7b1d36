/* nn/batchnorm.c — nn.BatchNorm1d and nn.BatchNorm2d.
 *
 * Parameters "weight" (ones) and "bias" (zeros), buffers "running_mean"
 * (zeros), "running_var" (ones) and "num_batches_tracked" (int64 0-d, 0): the
 * state_dict PyTorch writes, in its order.  In training mode each forward
 * normalises with the batch statistics, updates the running ones (momentum
 * 0.1, unbiased variance) and counts the batch; in eval mode it uses the
 * running statistics. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cgrad/autograd.h"
#include "cgrad/functional.h"
#include "cgrad/nn.h"
#include "cgrad/ops.h"
#include "nn/layer_util.h"

typedef struct bn_state {
    int64_t num_features;
    double eps, momentum;
    int min_dims, max_dims; /* BatchNorm1d: 2-3, BatchNorm2d: 4 */
} bn_state;

static cg_tensor *bn_forward_with(cg_module *m, cg_tensor *x, bool relu) {
    const bn_state *s = m->state;
    if (!x) return NULL;
    if (x->ndim < s->min_dims || x->ndim > s->max_dims) {
        char sx[64];
        cg_fail(CG_ERR_SHAPE, "%s: expected a %s input, got %s", m->vt->type_name,
                s->max_dims == 4 ? "4-d [N, C, H, W]" : "2-d [N, C] or 3-d [N, C, L]",
                cg_shape_str(x, sx, sizeof sx));
        return NULL;
    }
    cg_tensor *weight = m->params[0], *bias = m->params[1];
    cg_tensor *running_mean = m->buffers[0], *running_var = m->buffers[1], *count = m->buffers[2];
    if (m->training) {
        /* self.num_batches_tracked.add_(1), outside autograd. */
        double n = 0;
        cg_status st = cg_item(count, &n);
        if (!st) st = cg_fill_(count, n + 1);
        if (st) return NULL;
    }
    return (relu ? cg_batch_norm_relu : cg_batch_norm)(x, running_mean, running_var, weight, bias, m->training,
                                                       s->momentum, s->eps);
}

static cg_tensor *bn_forward(cg_module *m, cg_tensor *x) { return bn_forward_with(m, x, false); }

static void bn_extra_repr(const cg_module *m, char *buf, size_t n) {
    const bn_state *s = m->state;
    snprintf(buf, n, "%lld, eps=%g, momentum=%g, affine=True, track_running_stats=True",
             (long long)s->num_features, s->eps, s->momentum);
}

static const cg_module_vtable bn1d_vtable = {
    .type_name = "BatchNorm1d", .forward = bn_forward, .extra_repr = bn_extra_repr};
static const cg_module_vtable bn2d_vtable = {
    .type_name = "BatchNorm2d", .forward = bn_forward, .extra_repr = bn_extra_repr};

bool cg_layer_bn_then_relu(const cg_module *c, const cg_module *d) {
    return c && d && (c->vt == &bn1d_vtable || c->vt == &bn2d_vtable) && d->vt &&
           !strcmp(d->vt->type_name, "ReLU");
}

cg_tensor *cg_layer_bn_relu_forward(cg_module *bn, cg_tensor *x) {
    if (!bn || (bn->vt != &bn1d_vtable && bn->vt != &bn2d_vtable)) {
        cg_fail(CG_ERR_VALUE, "BatchNorm+ReLU: the module is not a BatchNorm1d/2d");
        return NULL;
    }
    return bn_forward_with(bn, x, true);
}

static cg_module *batch_norm(const cg_module_vtable *vt, int min_dims, int max_dims,
                             int64_t num_features, double eps, double momentum) {
    if (num_features <= 0 || num_features > CG_LAYER_MAX_FEATURES || !(eps > 0) ||
        !(momentum >= 0 && momentum <= 1)) {
        cg_fail(CG_ERR_VALUE,
                "%s: num_features must be in 1..%d, eps > 0 and momentum in [0, 1], got %lld, %g, %g",
                vt->type_name, CG_LAYER_MAX_FEATURES, (long long)num_features, eps, momentum);
        return NULL;
    }
    bn_state *s = malloc(sizeof *s);
    if (!s) {
        cg_fail(CG_ERR_NOMEM, "%s: out of memory", vt->type_name);
        return NULL;
    }
    *s = (bn_state){num_features, eps, momentum, min_dims, max_dims};
    cg_module *m = cg_module_new(vt, s);
    if (!m) return NULL;
    cg_status st = cg_layer_add_full(m, "weight", CG_FLOAT32, CG_SHAPE(num_features), 1.0, true);
    if (!st) st = cg_layer_add_full(m, "bias", CG_FLOAT32, CG_SHAPE(num_features), 0.0, true);
    if (!st) st = cg_layer_add_full(m, "running_mean", CG_FLOAT32, CG_SHAPE(num_features), 0.0, false);
    if (!st) st = cg_layer_add_full(m, "running_var", CG_FLOAT32, CG_SHAPE(num_features), 1.0, false);
    if (!st) st = cg_layer_add_full(m, "num_batches_tracked", CG_INT64, 0, NULL, 0.0, false);
    if (st) {
        cg_module_release(m);
        return NULL;
    }
    return m;
}

cg_module *cg_nn_batch_norm1d(int64_t num_features) {
    return batch_norm(&bn1d_vtable, 2, 3, num_features, 1e-5, 0.1);
}
cg_module *cg_nn_batch_norm2d(int64_t num_features) {
    return batch_norm(&bn2d_vtable, 4, 4, num_features, 1e-5, 0.1);
}
