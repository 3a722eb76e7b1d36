/* nn/linear1.c — the chapter's hand-made model as a module:
 *
 *     weights = init_params((28*28,1)); bias = init_params(1)
 *     def linear1(xb): return xb@weights + bias
 *
 * weights is [in, out] (the chapter's layout, not nn.Linear's [out, in]) and
 * both are drawn from randn * std, weights first, so after the same seed they
 * equal the chapter's.  `cgrad train --model linear1 --opt basic` runs the
 * chapter's "Putting It All Together" with the Learner around it. */
#include <stdio.h>

#include "cgrad/nn.h"
#include "cgrad/ops.h"

static cg_tensor *linear1_forward(cg_module *m, cg_tensor *x) {
    cg_scope_begin(); /* the product dies here; the sum is handed out */
    cg_tensor *y = cg_add(cg_matmul(x, m->params[0]), m->params[1]);
    cg_keep(y);
    cg_scope_end();
    return y;
}

static void linear1_extra_repr(const cg_module *m, char *buf, size_t n) {
    snprintf(buf, n, "weights=[%lld, %lld]", (long long)m->params[0]->shape[0],
             (long long)m->params[0]->shape[1]);
}

static const cg_module_vtable linear1_vtable = {
    .type_name = "Linear1", .forward = linear1_forward, .extra_repr = linear1_extra_repr};

cg_module *cg_nn_linear1(int64_t n_in, int64_t n_out, double std) {
    if (n_in <= 0 || n_out <= 0) {
        cg_fail(CG_ERR_VALUE, "linear1: sizes must be positive, got %lld and %lld", (long long)n_in,
                (long long)n_out);
        return NULL;
    }
    cg_module *m = cg_module_new(&linear1_vtable, NULL);
    if (!m) return NULL;
    cg_scope_begin();
    cg_tensor *weights = cg_init_params(CG_SHAPE(n_in, n_out), std);
    cg_tensor *bias = weights ? cg_init_params(CG_SHAPE(n_out), std) : NULL;
    cg_status st = bias ? cg_module_add_param(m, "weights", weights) : cg_last_status();
    if (!st) st = cg_module_add_param(m, "bias", bias);
    cg_scope_end(); /* the module holds its own references */
    if (st) {
        cg_module_release(m);
        return NULL;
    }
    return m;
}
