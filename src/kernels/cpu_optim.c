/* CPU fused optimizer updates: fastai's steppers on contiguous floats.
 *
 * Each update is one call per parameter and keeps fastai's order and
 * arithmetic exactly (weight_decay as its own pass first, then the step), so
 * results match PyTorch/fastai bit for bit (tests/test_optim.c). */
#include <math.h>

#include "kernels/cpu_kernels.h"

void cg_cpu_axpy(float *p, const float *x, int64_t n, double alpha) {
    float a = (float)alpha;
    for (int64_t i = 0; i < n; i++) p[i] += a * x[i];
}

/* fastai's weight_decay: p.data.mul_(1 - lr*wd) */
static void weight_decay(float *p, int64_t n, double decay) {
    float f = (float)decay;
    for (int64_t i = 0; i < n; i++) p[i] *= f;
}

/* sgd_step (BasicOptim too): p.data.add_(grad, alpha=-lr) */
static void sgd_step(float *p, const float *g, int64_t n, double lr) {
    float a = (float)-lr;
    for (int64_t i = 0; i < n; i++) p[i] += a * g[i];
}

/* average_grad(dampening=False) then momentum_step:
 * grad_avg = grad_avg*mom + grad;  p -= lr*grad_avg */
static void momentum_step(float *p, const float *g, float *avg, int64_t n, double lr, double mom) {
    float a = (float)-lr, m = (float)mom;
    for (int64_t i = 0; i < n; i++) {
        avg[i] = avg[i] * m + g[i];
        p[i] += a * avg[i];
    }
}

void cg_cpu_sgd_update(float *p, const float *g, float *grad_avg, int64_t n, const cg_sgd_args *a) {
    if (a->decay != 1.0) weight_decay(p, n, a->decay);
    if (grad_avg)
        momentum_step(p, g, grad_avg, n, a->lr, a->mom);
    else
        sgd_step(p, g, n, a->lr);
}

/* average_grad(dampening=True), average_sqr_grad, step_stat, adam_step. */
void cg_cpu_adam_update(float *p, const float *g, float *avg, float *sqr, int64_t n,
                        const cg_adam_args *h) {
    if (h->decay != 1.0) weight_decay(p, n, h->decay);
    float m = (float)h->mom, dm = (float)(1.0 - h->mom);
    float s = (float)h->sqr_mom, ds = (float)(1.0 - h->sqr_mom);
    double debias1 = 1.0 - pow(h->mom, (double)h->step);     /* debias(mom, 1-mom, step) */
    float debias2 = (float)(1.0 - pow(h->sqr_mom, (double)h->step));
    float a = (float)(-h->lr / debias1), eps = (float)h->eps;
    for (int64_t i = 0; i < n; i++) {
        avg[i] = avg[i] * m + dm * g[i];
        sqr[i] = sqr[i] * s + ds * g[i] * g[i];
        p[i] += a * (avg[i] / (sqrtf(sqr[i] / debias2) + eps));
    }
}
