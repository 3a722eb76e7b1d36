/* cgrad/optim.h — optimizers: the chapter's BasicOptim, fastai's SGD and Adam.
 *
 * The chapter's loop, in C:
 *
 *     cg_named_tensors ps;  cg_module_named_parameters(linear_model, &ps);
 *     cg_optimizer *opt = cg_basic_optim(ps.tensors, ps.n, 1.0);  // BasicOptim(params, lr)
 *     for (each batch xb, yb) {
 *         cg_scope_begin();
 *         cg_backward(cg_mnist_loss(cg_module_forward(linear_model, xb), yb), NULL);
 *         cg_optimizer_step(opt);        // p.data -= p.grad.data * lr
 *         cg_optimizer_zero_grad(opt);   // p.grad = None
 *         cg_scope_end();
 *     }
 *     cg_optimizer_free(opt);
 *
 * fastai's optimizers are a list of steppers applied to each parameter that has
 * a gradient, with hyper-parameters per parameter group.  The names are
 * fastai's: lr, mom (PyTorch's momentum, Adam's beta1), sqr_mom (beta2), eps, wd.
 *
 *   BasicOptim  p -= lr * grad                      zero_grad sets grad to None
 *   SGD         p *= 1 - lr*wd                      (decoupled weight decay, if wd != 0)
 *               mom == 0: p -= lr * grad
 *               mom != 0: grad_avg = mom*grad_avg + grad;  p -= lr * grad_avg
 *               (decided by mom at creation, as fastai picks its steppers then:
 *               a schedule driving mom later changes grad_avg's decay only)
 *               SGD(params, lr) with mom 0, wd 0 is BasicOptim's step exactly.
 *   Adam        p *= 1 - lr*wd                      (decoupled; skipped where do_wd is false)
 *               grad_avg = mom*grad_avg + (1-mom)*grad
 *               sqr_avg  = sqr_mom*sqr_avg + (1-sqr_mom)*grad^2
 *               step += 1
 *               p -= lr/(1-mom^step) * grad_avg / (sqrt(sqr_avg/(1-sqr_mom^step)) + eps)
 *               defaults: mom 0.9, sqr_mom 0.99, eps 1e-5, wd 0.01 (fastai's Adam)
 *
 * Parameters whose grad is NULL are skipped (fastai's all_params(with_grad=True)).
 * The updates are flat loops over each parameter's float32 data; the optimizer
 * state (grad_avg, sqr_avg) lives in one allocation per parameter group.
 *
 * Hyper-parameters can be changed before any step, per group, so a scheduler
 * (fit_one_cycle's cosine lr and mom) drives them:
 *     cg_optimizer_set_hyper(opt, "lr", lr_now);          // every group
 *     cg_optimizer_group(opt, 0)->mom = 0.95;              // one group
 * The optimizer retains its parameters (cg_retain) and releases them when freed. */
#ifndef CGRAD_OPTIM_H
#define CGRAD_OPTIM_H

#include "cgrad/tensor.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef enum cg_optim_kind {
    CG_OPTIM_BASIC = 0, /* the chapter's BasicOptim */
    CG_OPTIM_SGD,       /* fastai.optimizer.SGD */
    CG_OPTIM_ADAM,      /* fastai.optimizer.Adam */
    CG_OPTIM_KIND_COUNT
} cg_optim_kind;

/* fastai's hyper-parameters; unused ones are ignored by a kind (BasicOptim reads lr only). */
typedef struct cg_optim_hypers {
    double lr;
    double mom;     /* SGD momentum / Adam beta1 */
    double sqr_mom; /* Adam beta2 */
    double eps;     /* Adam epsilon */
    double wd;      /* decoupled weight decay: p *= 1 - lr*wd before the step */
} cg_optim_hypers;

/* fastai's defaults for each kind: BASIC {lr}, SGD {mom 0, wd 0},
 * ADAM {mom 0.9, sqr_mom 0.99, eps 1e-5, wd 0.01}; lr as given. */
cg_optim_hypers cg_optim_defaults(cg_optim_kind kind, double lr);

typedef struct cg_param_group {
    int n_params;
    cg_tensor **params; /* retained */
    bool *do_wd;        /* per parameter; false = no weight decay (biases, BatchNorm) */
    cg_optim_hypers h;  /* read at every step: change freely between steps */
} cg_param_group;

typedef struct cg_optimizer cg_optimizer;

/* A new optimizer with one group holding params[0..n-1] and hyper-parameters h.
 * Fails (CG_ERR_VALUE / CG_ERR_DTYPE) on a NULL, non-float32, non-contiguous
 * or non-requires-grad parameter, naming its index. */
cg_optimizer *cg_optimizer_new(cg_optim_kind kind, cg_tensor *const *params, int n,
                               cg_optim_hypers h);
/* Shorthands with fastai's signatures and defaults. */
cg_optimizer *cg_basic_optim(cg_tensor *const *params, int n, double lr);
cg_optimizer *cg_sgd(cg_tensor *const *params, int n, double lr, double mom, double wd);
cg_optimizer *cg_adam(cg_tensor *const *params, int n, double lr); /* fastai defaults */
/* By name, for the Learner and CLI: "basic", "sgd", "adam" (case-insensitive). */
cg_optimizer *cg_optimizer_by_name(const char *name, cg_tensor *const *params, int n, double lr);
void cg_optimizer_free(cg_optimizer *opt); /* NULL is fine */

/* Adds a parameter group (fastai's splitter / param_groups); hyper-parameters h. */
cg_status cg_optimizer_add_group(cg_optimizer *opt, cg_tensor *const *params, int n,
                                 cg_optim_hypers h);
int cg_optimizer_n_groups(const cg_optimizer *opt);
cg_param_group *cg_optimizer_group(cg_optimizer *opt, int i); /* NULL if out of range */
cg_optim_kind cg_optimizer_kind(const cg_optimizer *opt); /* CG_OPTIM_KIND_COUNT for NULL */
const char *cg_optimizer_name(const cg_optimizer *opt);   /* "BasicOptim", "SGD", "Adam" */

/* Sets one hyper-parameter in every group: "lr", "mom", "sqr_mom", "eps", "wd". */
cg_status cg_optimizer_set_hyper(cg_optimizer *opt, const char *name, double value);
/* fastai's wd_bn_bias=False: no weight decay on parameters with ndim <= 1
 * (biases, BatchNorm weights and biases).  Every parameter starts with do_wd
 * true; the Learner calls this unless the user asked for wd_bn_bias. */
void cg_optimizer_no_wd_on_1d(cg_optimizer *opt);

/* One update of every parameter that has a gradient (under no-grad; flat loops). */
cg_status cg_optimizer_step(cg_optimizer *opt);
/* BasicOptim: p.grad = None.  SGD/Adam: fastai's p.grad.zero_() as PyTorch 2's
 * set_to_none: p.grad is NULL afterwards, and a step before any backward reaches
 * p again steps it on zeros, as fastai does (the next backward's gradient
 * becomes the grad, with no zero fill and no second buffer). */
void cg_optimizer_zero_grad(cg_optimizer *opt);
/* Forgets the averages and step counts (a fresh start, as after create_opt). */
void cg_optimizer_reset_state(cg_optimizer *opt);
/* Number of steps taken (the step count of the first group's first parameter). */
int64_t cg_optimizer_steps(const cg_optimizer *opt);

/* One parameter's state (fastai's Optimizer.state[p]), for checkpoints: live
 * pointers into the optimizer, writable, valid until it is freed.  The
 * averages the kind keeps are allocated here if no step made them yet (zeros,
 * what the first step would start from); grad_avg is NULL for BasicOptim and
 * SGD without momentum, sqr_avg for all but Adam.  CG_ERR_VALUE out of range. */
typedef struct cg_optim_param_state {
    int64_t numel;
    float *grad_avg; /* [numel] or NULL */
    float *sqr_avg;  /* [numel] or NULL */
    int64_t *step;   /* fastai's step_stat: steps this parameter took */
} cg_optim_param_state;
cg_status cg_optimizer_param_state(cg_optimizer *opt, int group, int index,
                                   cg_optim_param_state *out);

#ifdef __cplusplus
}
#endif
#endif
