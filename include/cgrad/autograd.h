/* cgrad/autograd.h — reverse-mode automatic differentiation, eager like PyTorch.
 *
 * The chapter's first gradient, in C:
 *
 *     cg_tensor *xt = cg_requires_grad_(cg_scalar(3.0), true);
 *     cg_tensor *yt = cg_pow_s(xt, 2);      // records PowBackward on the tape
 *     cg_backward(yt, NULL);                // dy/dx = 2x
 *     cg_print(xt->grad);                   // tensor(6.)
 *
 * Gradients ACCUMULATE into .grad across backward calls until zeroed
 * (cg_zero_grad), exactly as the chapter's calc_grad demonstrates.
 * backward() does not free the graph: it dies with the tensors (see the
 * ownership notes in tensor.h); cg_backward_once frees it as it goes. */
#ifndef CGRAD_AUTOGRAD_H
#define CGRAD_AUTOGRAD_H

#include "cgrad/tensor.h"

#ifdef __cplusplus
extern "C" {
#endif

/* t.requires_grad_(flag); only float32 leaves may require grad.  Returns t. */
cg_tensor *cg_requires_grad_(cg_tensor *t, bool flag);
/* loss.backward(): root must hold one element unless grad (same shape as root)
 * is given.  Leaves' .grad accumulate.  CG_ERR_GRAD with a message on misuse. */
cg_status cg_backward(cg_tensor *root, cg_tensor *grad);
/* loss.backward() as PyTorch runs it by default (retain_graph=False): the same
 * gradients, but each node lets its inputs and saved tensors go once its rule
 * has run, so an activation is freed as soon as the backward is past it, not
 * when the tensors die.  A later backward through that graph fails
 * (CG_ERR_GRAD); the tensors still held keep their values. */
cg_status cg_backward_once(cg_tensor *root, cg_tensor *grad);
/* p.grad.zero_() when p has a grad; otherwise nothing. */
void cg_zero_grad(cg_tensor *t);
/* p.grad = None */
void cg_clear_grad(cg_tensor *t);
/* Gives t a float32 zero .grad of its shape when it has none (fastai's zeroed
 * grad for a parameter no backward reached); CG_OK if it already has one. */
cg_status cg_ensure_grad(cg_tensor *t);

/* with torch.no_grad(): ... — nestable, per thread. */
void cg_no_grad_begin(void);
void cg_no_grad_end(void);
bool cg_grad_enabled(void);

/* Name of the node that produced t, as PyTorch prints it ("PowBackward0"), or NULL. */
const char *cg_grad_fn_name(const cg_tensor *t);

#ifdef __cplusplus
}
#endif
#endif
