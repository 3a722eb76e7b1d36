/* CPU fused optimizer updates: fastai's steppers on contiguous floats.
 *
 * Each update is one call per parameter and keeps fastai's order and
 * arithmetic exactly (weight_decay as its own pass first, then the step), so
 * results match PyTorch/fastai bit for bit (tests/test_optim.c). */
#include <math.h>

#include "kernels/cpu_dispatch.h"
#include "kernels/cpu_kernels.h"
#include "kernels/cpu_nn_threads.h"

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

/* One block of Adam: weight_decay (when decay != 1: p *= decay, as its own
 * pass would, element by element) then average_grad(dampening=True),
 * average_sqr_grad, step_stat, adam_step.  Same float operations in the same
 * order as the two-pass form, so the result is bit for bit the same.  The
 * loop is cg_cpu_vec's adam (cpu_vec_impl.h), compiled per CPU level; the
 * baseline's is the plain scalar loop, and every level gives its bits
 * (test_cpu_dispatch). */
/* Memory-bound (7 floats moved per parameter: 330 MB a step for resnet18's
 * 11.7M), so it is vectorised and, for big tensors, split into blocks over
 * the threads the tuner picks (cpu_nn_threads.h). */
#define ADAM_BLOCK 16384
void cg_cpu_adam_update(float *p, const float *g, float *avg, float *sqr, int64_t n,
                        const cg_adam_args *h) {
    float f = (float)h->decay;
    float m = (float)h->mom, dm = (float)(1.0 - h->mom);
    float s = (float)h->sqr_mom, ds = (float)(1.0 - h->sqr_mom);
    double debias1 = 1.0 - pow(h->mom, (double)h->step);     /* debias(mom, 1-mom, step) */
    float debias2 = (float)(1.0 - pow(h->sqr_mom, (double)h->step));
    float a = (float)(-h->lr / debias1), eps = (float)h->eps;
    int64_t blocks = (n + ADAM_BLOCK - 1) / ADAM_BLOCK;
    /* the blocks run the dispatched vector loop (cpu_dispatch.h), same bits as adam_block */
    const cg_cpu_vec *vec = cg_cpu_vec_active();
    const cg_adam_coef c = {f, m, dm, s, ds, a, debias2, eps};
    CG_NN_TUNED_FOR(CG_NN_TUNE_OPTIM, n, for (int64_t b = 0; b < blocks; b++) {
        int64_t i0 = b * ADAM_BLOCK, len = n - i0 < ADAM_BLOCK ? n - i0 : ADAM_BLOCK;
        vec->adam(p + i0, g + i0, avg + i0, sqr + i0, len, &c);
    });
}
