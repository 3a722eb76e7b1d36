/* nn/sequential.c — nn.Sequential: children "0".."n-1", applied in order. */
#include <stdio.h>
#include <string.h>

#include "cgrad/nn.h"
#include "cgrad/ops.h"

/* nn.ReLU right after a BatchNorm: it may run over the BatchNorm's output
 * (cg_relu_over; BatchNorm's rule does not read its output, and nothing
 * but this loop sees that tensor), one activation instead of two. */
static bool relu_after_bn(const cg_module *prev, const cg_module *c) {
    return prev && c && prev->vt && c->vt && !strcmp(c->vt->type_name, "ReLU") &&
           (!strcmp(prev->vt->type_name, "BatchNorm2d") || !strcmp(prev->vt->type_name, "BatchNorm1d"));
}

static cg_tensor *sequential_forward(cg_module *m, cg_tensor *x) {
    if (m->n_children == 0) return cg_scope_adopt(cg_retain(x)); /* nn.Sequential() is identity */
    /* Intermediate activations die in our scope unless autograd holds them. */
    cg_scope_begin();
    cg_tensor *y = x;
    for (int i = 0; i < m->n_children && y; i++)
        y = i > 0 && relu_after_bn(m->children[i - 1], m->children[i]) ? cg_relu_over(y)
                                                                        : cg_module_forward(m->children[i], y);
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
