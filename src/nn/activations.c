/* nn/activations.c — parameter-free layers: nn.ReLU, nn.Sigmoid, nn.Flatten. */
#include <stdio.h>
#include <stdlib.h>

#include "cgrad/nn.h"
#include "cgrad/ops.h"

static cg_tensor *relu_forward(cg_module *m, cg_tensor *x) {
    (void)m;
    return cg_relu(x);
}

static cg_tensor *sigmoid_forward(cg_module *m, cg_tensor *x) {
    (void)m;
    return cg_sigmoid(x);
}

static const cg_module_vtable relu_vtable = {.type_name = "ReLU", .forward = relu_forward};
static const cg_module_vtable sigmoid_vtable = {.type_name = "Sigmoid", .forward = sigmoid_forward};

cg_module *cg_nn_relu(void) { return cg_module_new(&relu_vtable, NULL); }
cg_module *cg_nn_sigmoid(void) { return cg_module_new(&sigmoid_vtable, NULL); }

typedef struct flatten_state {
    int start_dim, end_dim;
} flatten_state;

static cg_tensor *flatten_forward(cg_module *m, cg_tensor *x) {
    const flatten_state *s = m->state;
    return cg_flatten(x, s->start_dim, s->end_dim);
}

static void flatten_extra_repr(const cg_module *m, char *buf, size_t n) {
    const flatten_state *s = m->state;
    snprintf(buf, n, "start_dim=%d, end_dim=%d", s->start_dim, s->end_dim);
}

static const cg_module_vtable flatten_vtable = {
    .type_name = "Flatten", .forward = flatten_forward, .extra_repr = flatten_extra_repr};

cg_module *cg_nn_flatten(int start_dim, int end_dim) {
    flatten_state *s = malloc(sizeof *s);
    if (!s) {
        cg_fail(CG_ERR_NOMEM, "Flatten: out of memory");
        return NULL;
    }
    *s = (flatten_state){start_dim, end_dim};
    return cg_module_new(&flatten_vtable, s);
}
