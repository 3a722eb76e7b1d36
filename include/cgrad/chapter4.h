/* cgrad/chapter4.h — the cells of fastbook chapter 4 that the book writes by
 * hand before it reaches the Learner: pixel similarity, the roller-coaster
 * SGD example, and the linear model's train_epoch / validate_epoch.  The
 * examples (examples/) and `cgrad chapter4` both call these, so the
 * chapter's numbers come from one place.
 *
 *     cg_ch4_pixsim p;
 *     cg_ch4_pixel_similarity(root, &p);      // root: cg_untar_data("mnist_sample")
 *     // p.average == 0.9511 (the book's), p.mean3, p.mean7 ...
 *     cg_ch4_pixsim_free(&p);
 *
 * Tensors returned through out-parameters are new references owned by the
 * innermost open scope (tensor.h) unless the comment says otherwise. */
#ifndef CGRAD_CHAPTER4_H
#define CGRAD_CHAPTER4_H

#include <stdint.h>

#include "cgrad/dataloader.h"
#include "cgrad/nn.h"
#include "cgrad/optim.h"
#include "cgrad/status.h"
#include "cgrad/tensor.h"

#ifdef __cplusplus
extern "C" {
#endif

/* ---- First Try: Pixel Similarity ------------------------------------------
 *   stacked_threes = torch.stack([tensor(Image.open(o)) for o in threes]).float()/255
 *   mean3 = stacked_threes.mean(0); a_3 = stacked_threes[1]
 *   dist_3_abs = (a_3 - mean3).abs().mean(); dist_3_sqr = ((a_3 - mean3)**2).mean().sqrt()
 *   mnist_distance(a,b) = (a-b).abs().mean((-1,-2))
 *   is_3(x) = mnist_distance(x,mean3) < mnist_distance(x,mean7)
 *   accuracy_3s = is_3(valid_3_tens).float().mean(); accuracy_7s = (1 - is_3(valid_7_tens).float()).mean() */
typedef struct cg_ch4_pixsim {
    int64_t n_train3, n_train7, n_valid3, n_valid7, height, width;
    cg_tensor *im3;          /* uint8 [28,28]: tensor(Image.open(threes[1])); owned (no scope) */
    char *im3_path;          /* threes[1] (malloc'd) */
    cg_tensor *mean3, *mean7; /* float [28,28], owned (no scope) */
    cg_tensor *a_3;          /* stacked_threes[1], float [28,28], owned */
    double dist_3_abs, dist_3_sqr, dist_7_abs, dist_7_sqr; /* a_3 to mean3, mean7 */
    double l1_7, mse_sqrt_7; /* F.l1_loss(a_3, mean7), F.mse_loss(a_3, mean7).sqrt() */
    double accuracy_3s, accuracy_7s, average;
    int64_t right_3s, right_7s; /* valid 3s called 3, valid 7s called 7 */
} cg_ch4_pixsim;
/* root: an MNIST_SAMPLE folder (train/3, train/7, valid/3, valid/7 of PNGs). */
cg_status cg_ch4_pixel_similarity(const char *root, cg_ch4_pixsim *out);
void cg_ch4_pixsim_free(cg_ch4_pixsim *p); /* leaves *p zeroed */

/* ---- An End-to-End SGD Example ---------------------------------------------
 *   time = torch.arange(0,20).float()
 *   speed = torch.randn(20)*3 + 0.75*(time-9.5)**2 + 1     (the default generator)
 *   def f(t, params): a,b,c = params; return a*(t**2) + (b*t) + c
 *   def mse(preds, targets): return ((preds-targets)**2).mean() */
cg_status cg_ch4_speed_data(cg_tensor **time, cg_tensor **speed);
cg_tensor *cg_ch4_quadratic(cg_tensor *t, cg_tensor *params);
/* apply_step(params): preds = f(time, params); loss = mse(preds, speed);
 * loss.backward(); params.data -= lr * params.grad.data; params.grad = None.
 * *loss_out = loss.item(); *preds_out (may be NULL) = the preds, detached. */
cg_status cg_ch4_apply_step(cg_tensor *params, cg_tensor *time, cg_tensor *speed, double lr,
                            double *loss_out, cg_tensor **preds_out);

/* ---- Putting It All Together: the hand-written training loop -------------- */
/* A model is any function from a batch to predictions: linear1, or a module. */
typedef cg_tensor *(*cg_ch4_model_fn)(void *ctx, cg_tensor *xb);
/* def linear1(xb): return xb@weights + bias   (ctx: a cg_ch4_linear1) */
typedef struct cg_ch4_linear1 {
    cg_tensor *weights, *bias; /* [784,1], [1]: init_params, borrowed */
} cg_ch4_linear1;
cg_tensor *cg_ch4_linear1_forward(void *ctx, cg_tensor *xb);
/* ctx: a cg_module (cg_module_forward). */
cg_tensor *cg_ch4_module_forward(void *ctx, cg_tensor *xb);
/* def validate_epoch(model):
 *     accs = [batch_accuracy(model(xb), yb) for xb,yb in valid_dl]
 *     return round(torch.stack(accs).mean().item(), 4)
 * Under no_grad.  Returns -1 on failure (message set). */
double cg_ch4_validate_epoch(cg_ch4_model_fn model, void *ctx, cg_dataloader *valid_dl);
/* def train_epoch(model, lr, params):
 *     for xb,yb in dl:
 *         mnist_loss(model(xb), yb).backward()          (calc_grad)
 *         for p in params: p.data -= p.grad*lr; p.grad.zero_() */
cg_status cg_ch4_train_epoch(cg_ch4_model_fn model, void *ctx, cg_dataloader *dl, double lr,
                             cg_tensor *const *params, int n_params);
/* def train_epoch(model):
 *     for xb,yb in dl: calc_grad(xb, yb, model); opt.step(); opt.zero_grad() */
cg_status cg_ch4_train_epoch_opt(cg_module *model, cg_optimizer *opt, cg_dataloader *dl);

#ifdef __cplusplus
}
#endif
#endif
