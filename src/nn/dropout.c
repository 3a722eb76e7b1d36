/* nn/dropout.c — nn.Dropout(p): cg_dropout in training mode, identity in eval. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>

#include "cgrad/functional.h"
#include "cgrad/nn.h"

typedef struct dropout_state {
    double p;
} dropout_state;

static cg_tensor *dropout_forward(cg_module *m, cg_tensor *x) {
    const dropout_state *s = m->state;
    return cg_dropout(x, s->p, m->training);
}

static void dropout_extra_repr(const cg_module *m, char *buf, size_t n) {
    const dropout_state *s = m->state;
    snprintf(buf, n, "p=%g, inplace=False", s->p);
}

static const cg_module_vtable dropout_vtable = {
    .type_name = "Dropout", .forward = dropout_forward, .extra_repr = dropout_extra_repr};

cg_module *cg_nn_dropout(double p) {
    if (!(p >= 0 && p <= 1)) {
        cg_fail(CG_ERR_VALUE, "Dropout: p must be in [0, 1], got %g", p);
        return NULL;
    }
    dropout_state *s = malloc(sizeof *s);
    if (!s) {
        cg_fail(CG_ERR_NOMEM, "Dropout: out of memory");
        return NULL;
    }
    s->p = p;
    return cg_module_new(&dropout_vtable, s);
}
