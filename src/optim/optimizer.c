/* optim/optimizer.c — BasicOptim, fastai's SGD and Adam as fused kernel calls.
 *
 * Each parameter group keeps its optimizer state in one allocation: for a group
 * of parameters with numel n_0, n_1, ..., grad_avg and sqr_avg are each one
 * float array of sum(n_i) elements, and parameter i's slice starts at
 * offset[i].  A step walks every parameter that has a gradient and applies
 * fastai's steppers in fastai's order (weight_decay, average_grad,
 * average_sqr_grad, step_stat, then sgd_step / momentum_step / adam_step), each
 * parameter's update as one call to its backend's sgd_update or adam_update
 * (kernels/backend.h). */
#include <ctype.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "cgrad/autograd.h"
#include "cgrad/optim.h"
#include "core/dispatch.h"

/* What a group needs besides its public cg_param_group. */
typedef struct group_state {
    int64_t *offset;  /* [n_params]: start of each parameter's slice */
    int64_t *step;    /* [n_params]: fastai's step_stat, per parameter */
    bool *released;   /* [n_params]: zero_grad let this grad go (see cg_optimizer_zero_grad) */
    int64_t total;    /* sum of numel */
    float *grad_avg;  /* [total], NULL for BasicOptim/plain SGD */
    float *sqr_avg;   /* [total], Adam only */
} group_state;

struct cg_optimizer {
    cg_optim_kind kind;
    /* fastai's SGD picks its steppers once, at creation: momentum_step (with
     * average_grad) when mom != 0, sgd_step otherwise.  A schedule that changes
     * mom later changes the average's decay, never the stepper. */
    bool momentum;
    int n_groups;
    cg_param_group **groups;
    group_state **states;
};

static const char *const kind_names[CG_OPTIM_KIND_COUNT] = {"BasicOptim", "SGD", "Adam"};

cg_optim_hypers cg_optim_defaults(cg_optim_kind kind, double lr) {
    cg_optim_hypers h = {.lr = lr, .mom = 0.0, .sqr_mom = 0.99, .eps = 1e-5, .wd = 0.0};
    if (kind == CG_OPTIM_ADAM) {
        h.mom = 0.9;
        h.wd = 0.01;
    }
    return h;
}

static void group_free(cg_param_group *g, group_state *s) {
    if (g) {
        for (int i = 0; i < g->n_params; i++) cg_release(g->params[i]);
        free(g->params);
        free(g->do_wd);
        free(g);
    }
    if (s) {
        free(s->offset);
        free(s->step);
        free(s->released);
        free(s->grad_avg);
        free(s->sqr_avg);
        free(s);
    }
}

/* Allocates the averages a kind needs (SGD only with momentum), at the first step. */
static cg_status ensure_state(cg_optimizer *opt, const cg_param_group *g, group_state *s) {
    size_t bytes = (size_t)(s->total > 0 ? s->total : 1) * sizeof(float);
    (void)g;
    bool need_avg = opt->kind == CG_OPTIM_ADAM || opt->momentum;
    if (need_avg && !s->grad_avg && !(s->grad_avg = calloc(1, bytes)))
        return cg_fail(CG_ERR_NOMEM, "%s: cannot allocate %zu bytes of state", kind_names[opt->kind],
                       bytes);
    if (opt->kind == CG_OPTIM_ADAM && !s->sqr_avg && !(s->sqr_avg = calloc(1, bytes)))
        return cg_fail(CG_ERR_NOMEM, "%s: cannot allocate %zu bytes of state", kind_names[opt->kind],
                       bytes);
    return CG_OK;
}

static cg_status check_param(const cg_tensor *p, int i) {
    if (!p) return cg_fail(CG_ERR_VALUE, "optimizer: parameter %d is NULL", i);
    if (p->dtype != CG_FLOAT32)
        return cg_fail(CG_ERR_DTYPE, "optimizer: parameter %d is %s, expected float32", i,
                       cg_dtype_name(p->dtype));
    if (!cg_is_contiguous(p))
        return cg_fail(CG_ERR_VALUE, "optimizer: parameter %d is not contiguous", i);
    if (!p->requires_grad)
        return cg_fail(CG_ERR_VALUE, "optimizer: parameter %d does not require grad", i);
    return CG_OK;
}

cg_status cg_optimizer_add_group(cg_optimizer *opt, cg_tensor *const *params, int n,
                                 cg_optim_hypers h) {
    if (!opt) return cg_fail(CG_ERR_VALUE, "optimizer: NULL optimizer");
    if (n < 0 || (n > 0 && !params))
        return cg_fail(CG_ERR_VALUE, "optimizer: invalid parameter list (n=%d)", n);
    for (int i = 0; i < n; i++) {
        cg_status st = check_param(params[i], i);
        if (st) return st;
    }
    cg_param_group *g = calloc(1, sizeof *g);
    group_state *s = calloc(1, sizeof *s);
    cg_param_group **groups = realloc(opt->groups, (size_t)(opt->n_groups + 1) * sizeof *groups);
    if (groups) opt->groups = groups;
    group_state **states = realloc(opt->states, (size_t)(opt->n_groups + 1) * sizeof *states);
    if (states) opt->states = states;
    size_t m = (size_t)(n > 0 ? n : 1);
    if (!g || !s || !groups || !states || !(g->params = calloc(m, sizeof *g->params)) ||
        !(g->do_wd = calloc(m, sizeof *g->do_wd)) || !(s->offset = calloc(m, sizeof *s->offset)) ||
        !(s->step = calloc(m, sizeof *s->step)) || !(s->released = calloc(m, sizeof *s->released))) {
        group_free(g, s);
        return cg_fail(CG_ERR_NOMEM, "optimizer: out of memory adding a group of %d parameters", n);
    }
    g->h = h;
    for (int i = 0; i < n; i++) {
        g->params[i] = cg_retain(params[i]);
        g->do_wd[i] = true;
        s->offset[i] = s->total;
        s->total += cg_numel(params[i]);
    }
    g->n_params = n;
    opt->groups[opt->n_groups] = g;
    opt->states[opt->n_groups] = s;
    opt->n_groups++;
    return CG_OK;
}

cg_optimizer *cg_optimizer_new(cg_optim_kind kind, cg_tensor *const *params, int n,
                               cg_optim_hypers h) {
    if ((int)kind < 0 || kind >= CG_OPTIM_KIND_COUNT) {
        cg_fail(CG_ERR_VALUE, "optimizer: unknown kind %d", (int)kind);
        return NULL;
    }
    cg_optimizer *opt = calloc(1, sizeof *opt);
    if (!opt) {
        cg_fail(CG_ERR_NOMEM, "optimizer: out of memory");
        return NULL;
    }
    opt->kind = kind;
    opt->momentum = kind == CG_OPTIM_SGD && h.mom != 0.0;
    if (cg_optimizer_add_group(opt, params, n, h)) {
        cg_optimizer_free(opt);
        return NULL;
    }
    return opt;
}

cg_optimizer *cg_basic_optim(cg_tensor *const *params, int n, double lr) {
    return cg_optimizer_new(CG_OPTIM_BASIC, params, n, cg_optim_defaults(CG_OPTIM_BASIC, lr));
}

cg_optimizer *cg_sgd(cg_tensor *const *params, int n, double lr, double mom, double wd) {
    cg_optim_hypers h = cg_optim_defaults(CG_OPTIM_SGD, lr);
    h.mom = mom;
    h.wd = wd;
    return cg_optimizer_new(CG_OPTIM_SGD, params, n, h);
}

cg_optimizer *cg_adam(cg_tensor *const *params, int n, double lr) {
    return cg_optimizer_new(CG_OPTIM_ADAM, params, n, cg_optim_defaults(CG_OPTIM_ADAM, lr));
}

static bool name_is(const char *a, const char *b) {
    for (; *a && *b; a++, b++)
        if (tolower((unsigned char)*a) != tolower((unsigned char)*b)) return false;
    return *a == *b;
}

cg_optimizer *cg_optimizer_by_name(const char *name, cg_tensor *const *params, int n, double lr) {
    if (name && (name_is(name, "basic") || name_is(name, "basicoptim")))
        return cg_basic_optim(params, n, lr);
    if (name && name_is(name, "sgd")) return cg_sgd(params, n, lr, 0.0, 0.0);
    if (name && name_is(name, "adam")) return cg_adam(params, n, lr);
    cg_fail(CG_ERR_VALUE, "optimizer: unknown optimizer '%s' (known: basic, sgd, adam)",
            name ? name : "(null)");
    return NULL;
}

void cg_optimizer_free(cg_optimizer *opt) {
    if (!opt) return;
    for (int i = 0; i < opt->n_groups; i++) group_free(opt->groups[i], opt->states[i]);
    free(opt->groups);
    free(opt->states);
    free(opt);
}

int cg_optimizer_n_groups(const cg_optimizer *opt) { return opt ? opt->n_groups : 0; }

cg_param_group *cg_optimizer_group(cg_optimizer *opt, int i) {
    return opt && i >= 0 && i < opt->n_groups ? opt->groups[i] : NULL;
}

cg_optim_kind cg_optimizer_kind(const cg_optimizer *opt) { return opt ? opt->kind : CG_OPTIM_KIND_COUNT; }

const char *cg_optimizer_name(const cg_optimizer *opt) {
    return opt ? kind_names[opt->kind] : "(null)";
}

cg_status cg_optimizer_set_hyper(cg_optimizer *opt, const char *name, double value) {
    if (!opt || !name) return cg_fail(CG_ERR_VALUE, "optimizer: set_hyper needs an optimizer and a name");
    size_t off;
    if (!strcmp(name, "lr")) off = offsetof(cg_optim_hypers, lr);
    else if (!strcmp(name, "mom")) off = offsetof(cg_optim_hypers, mom);
    else if (!strcmp(name, "sqr_mom")) off = offsetof(cg_optim_hypers, sqr_mom);
    else if (!strcmp(name, "eps")) off = offsetof(cg_optim_hypers, eps);
    else if (!strcmp(name, "wd")) off = offsetof(cg_optim_hypers, wd);
    else
        return cg_fail(CG_ERR_VALUE,
                       "optimizer: unknown hyper-parameter '%s' (known: lr, mom, sqr_mom, eps, wd)",
                       name);
    for (int i = 0; i < opt->n_groups; i++)
        *(double *)((char *)&opt->groups[i]->h + off) = value;
    return CG_OK;
}

void cg_optimizer_no_wd_on_1d(cg_optimizer *opt) {
    if (!opt) return;
    for (int i = 0; i < opt->n_groups; i++)
        for (int j = 0; j < opt->groups[i]->n_params; j++)
            if (opt->groups[i]->params[j]->ndim <= 1) opt->groups[i]->do_wd[j] = false;
}

cg_status cg_optimizer_step(cg_optimizer *opt) {
    if (!opt) return cg_fail(CG_ERR_VALUE, "optimizer: NULL optimizer");
    for (int gi = 0; gi < opt->n_groups; gi++) {
        cg_param_group *g = opt->groups[gi];
        group_state *s = opt->states[gi];
        cg_status st = ensure_state(opt, g, s);
        if (st) return st;
        for (int i = 0; i < g->n_params; i++) {
            cg_tensor *p = g->params[i];
            /* a grad zero_grad let go that no backward reached since: fastai
             * still steps it on zeros (the weight decay, the averages' decay) */
            if (!p->grad && s->released[i] && (st = cg_ensure_grad(p)) != CG_OK) return st;
            if (!p->grad) continue; /* fastai: all_params(with_grad=True) */
            int64_t n = cg_numel(p);
            if (cg_numel(p->grad) != n || p->grad->dtype != CG_FLOAT32)
                return cg_fail(CG_ERR_SHAPE, "%s.step: group %d parameter %d has %lld elements but its grad %lld",
                               kind_names[opt->kind], gi, i, (long long)n,
                               (long long)cg_numel(p->grad));
            /* A grad is normally contiguous; if not, step on a contiguous copy
             * made in a scope of our own. */
            bool copied = !cg_is_contiguous(p->grad);
            const cg_tensor *grad = p->grad;
            if (copied) {
                cg_scope_begin();
                cg_no_grad_begin();
                grad = cg_contiguous(p->grad);
                cg_no_grad_end();
            }
            float *pd = cg_data_f32(p);
            const float *gd = grad ? cg_data_f32(grad) : NULL;
            if (!pd || !gd) {
                if (copied) cg_scope_end();
                return cg_last_status();
            }
            s->step[i]++;
            const cg_backend *be = cg_backend_of(p);
            /* fastai's weight_decay: p.data.mul_(1 - lr*wd); BasicOptim has none */
            double decay = opt->kind != CG_OPTIM_BASIC && g->h.wd != 0.0 && g->do_wd[i]
                               ? 1.0 - g->h.lr * g->h.wd
                               : 1.0;
            if (opt->kind == CG_OPTIM_ADAM) {
                cg_adam_args a = {.lr = g->h.lr, .mom = g->h.mom, .sqr_mom = g->h.sqr_mom, .eps = g->h.eps,
                                  .decay = decay, .step = s->step[i]};
                be->adam_update(pd, gd, s->grad_avg + s->offset[i], s->sqr_avg + s->offset[i], n, &a);
            } else { /* BasicOptim and SGD: sgd_step, or momentum_step with its average */
                cg_sgd_args a = {.lr = g->h.lr, .mom = g->h.mom, .decay = decay};
                be->sgd_update(pd, gd, opt->momentum ? s->grad_avg + s->offset[i] : NULL, n, &a);
            }
            if (copied) cg_scope_end();
        }
    }
    return CG_OK;
}

/* BasicOptim: p.grad = None, as the chapter's.  SGD and Adam: fastai's
 * p.grad.zero_(), kept as PyTorch 2's zero_grad(set_to_none=True): the grad is
 * let go and marked `released`, so the next backward's gradient becomes the
 * grad itself (no zero fill, no 0 + g, no second buffer of every weight's
 * size), and a step treats a released grad that no backward has reached as
 * the zero tensor fastai would hold (cg_ensure_grad).  The updates are fastai's
 * bit for bit; only a gradient's zero can differ in sign (fastai's 0 + -0 is
 * +0), which no stepper carries into a weight unless the weight is itself -0. */
void cg_optimizer_zero_grad(cg_optimizer *opt) {
    if (!opt) return;
    for (int gi = 0; gi < opt->n_groups; gi++)
        for (int i = 0; i < opt->groups[gi]->n_params; i++) {
            cg_tensor *p = opt->groups[gi]->params[i];
            if (opt->kind != CG_OPTIM_BASIC && p->grad) opt->states[gi]->released[i] = true;
            cg_clear_grad(p);
        }
}

void cg_optimizer_reset_state(cg_optimizer *opt) {
    if (!opt) return;
    for (int gi = 0; gi < opt->n_groups; gi++) {
        group_state *s = opt->states[gi];
        size_t bytes = (size_t)s->total * sizeof(float);
        if (s->grad_avg) memset(s->grad_avg, 0, bytes);
        if (s->sqr_avg) memset(s->sqr_avg, 0, bytes);
        memset(s->step, 0, (size_t)opt->groups[gi]->n_params * sizeof *s->step);
    }
}

int64_t cg_optimizer_steps(const cg_optimizer *opt) {
    if (!opt || opt->n_groups == 0 || opt->groups[0]->n_params == 0) return 0;
    return opt->states[0]->step[0];
}

cg_status cg_optimizer_param_state(cg_optimizer *opt, int group, int index,
                                   cg_optim_param_state *out) {
    if (!opt || !out || group < 0 || group >= opt->n_groups || index < 0 ||
        index >= opt->groups[group]->n_params)
        return cg_fail(CG_ERR_VALUE, "optimizer: no parameter %d in group %d (%d groups)", index,
                       group, opt ? opt->n_groups : 0);
    group_state *s = opt->states[group];
    cg_status st = ensure_state(opt, opt->groups[group], s);
    if (st) return st;
    out->numel = cg_numel(opt->groups[group]->params[index]);
    out->grad_avg = s->grad_avg ? s->grad_avg + s->offset[index] : NULL;
    out->sqr_avg = s->sqr_avg ? s->sqr_avg + s->offset[index] : NULL;
    out->step = &s->step[index];
    return CG_OK;
}
