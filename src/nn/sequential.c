/* nn/sequential.c — nn.Sequential: children "0".."n-1", applied in order. */
#include <stdio.h>
#include <string.h>

#include "cgrad/nn.h"
#include "cgrad/ops.h"
#include "nn/layer_util.h"

/* nn.ReLU right after a BatchNorm: the pair runs as one op
 * (cg_layer_bn_relu_forward, cg_batch_norm_relu): one pass writes relu(bn(x))
 * and one activation is kept, and the backward masks the gradient inside
 * BatchNorm's. */
static cg_tensor *sequential_forward(cg_module *m, cg_tensor *x) {
    if (m->n_children == 0) return cg_scope_adopt(cg_retain(x)); /* nn.Sequential() is identity */
    /* Intermediate activations die in our scope unless autograd holds them. */
    cg_scope_begin();
    cg_tensor *y = x;
    for (int i = 0; i < m->n_children && y; i++) {
        cg_module *c = m->children[i], *next = i + 1 < m->n_children ? m->children[i + 1] : NULL;
        if (cg_layer_bn_then_relu(c, next)) {
            y = cg_layer_bn_relu_forward(c, y);
            i++;
        } else {
            y = cg_module_forward(c, y);
        }
    }
    if (y) cg_keep(y);
    cg_scope_end();
    return y;
}

static const cg_module_vtable sequential_vtable = {.type_name = "Sequential",
                                                   .forward = sequential_forward};

cg_status cg_nn_sequential_append(cg_module *seq, cg_module *m) {
    if (!seq || seq->vt != &sequential_vtable) {
        cg_module_release(m);
        return cg_fail(CG_ERR_VALUE, "Sequential.append: not a Sequential module");
    }
    char name[24];
    snprintf(name, sizeof name, "%d", seq->n_children);
    return cg_module_add_child(seq, name, m);
}

cg_module *cg_nn_sequential(int n, cg_module *const *mods) {
    cg_module *seq = cg_module_new(&sequential_vtable, NULL);
    cg_status st = seq ? CG_OK : cg_last_status();
    for (int i = 0; i < n; i++) {
        if (st) { /* every reference was handed to us: release the rest */
            cg_module_release(mods[i]);
        } else if (!mods[i]) {
            /* a constructor failed: keep its reason in the message */
            char cause[256];
            snprintf(cause, sizeof cause, "%s", cg_last_error());
            st = cg_fail(cg_last_status() ? cg_last_status() : CG_ERR_VALUE,
                         "Sequential: module %d is NULL (%s)", i, cause);
        } else {
            st = cg_nn_sequential_append(seq, mods[i]); /* consumes mods[i] */
        }
    }
    if (st) {
        cg_module_release(seq);
        return NULL;
    }
    return seq;
}
