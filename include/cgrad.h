/* cgrad.h — the one header a cgrad program includes.
 *
 * cgrad is a deep-learning library in C that follows PyTorch's semantics and
 * fastai's conveniences closely enough that fastbook's chapter 4 ("Under the
 * Hood: Training a Digit Classifier") reads the same in C.
 *
 * A tour, on the chapter's own examples:
 *
 *   // tensors (tensor.h): shapes, views, broadcasting
 *   cg_tensor *tns = cg_from_data(CG_INT64, CG_SHAPE(2, 3),
 *                                 (int64_t[]){1, 2, 3, 4, 5, 6});
 *   cg_print(cg_select(tns, 1, 1));              // tns[:,1]   -> tensor([2, 5])
 *   cg_print(cg_mul_s(tns, 1.5));                // tns*1.5
 *
 *   // autograd (autograd.h): f(x) = sum(x**2), grad = 2x
 *   cg_tensor *xt = cg_requires_grad_(cg_from_floats(CG_SHAPE(3), (float[]){3, 4, 10}), true);
 *   cg_backward(cg_sum(cg_pow_s(xt, 2), NULL, 0, false), NULL);
 *   cg_print(xt->grad);                          // tensor([ 6.,  8., 20.])
 *
 * Memory: every returned tensor is a new reference, owned by the innermost
 * cg_scope_begin()/cg_scope_end() pair if one is open (see tensor.h).
 * Errors: NULL or a cg_status, with the reason in cg_last_error() (status.h).
 */
#ifndef CGRAD_H
#define CGRAD_H

#include "cgrad/status.h"
#include "cgrad/tensor.h"
#include "cgrad/ops.h"
#include "cgrad/functional.h"
#include "cgrad/autograd.h"
#include "cgrad/random.h"
#include "cgrad/print.h"
#include "cgrad/fileio.h"
#include "cgrad/datasets.h"
#include "cgrad/nn.h"
#include "cgrad/optim.h"
#include "cgrad/weights.h"
#include "cgrad/files.h"
#include "cgrad/image.h"
#include "cgrad/dataset.h"
#include "cgrad/dataloader.h"
#include "cgrad/draw.h"
#include "cgrad/interpretation.h"
#include "cgrad/learner.h"
#include "cgrad/checkpoint.h"
#include "cgrad/chapter4.h"
#include "cgrad/plot.h"
#include "cgrad/version.h"

#endif
