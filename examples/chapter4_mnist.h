/* chapter4_mnist.h — the chapter's MNIST_SAMPLE tensors and its validation
 * helpers, shared by the manual training examples (and their test).
 *
 *     threes = (path/'train'/'3').ls().sorted(); sevens = ...
 *     stacked_threes = torch.stack([tensor(Image.open(o)) for o in threes]).float()/255
 *     train_x = torch.cat([stacked_threes, stacked_sevens]).view(-1, 28*28)   # [12396, 784]
 *     train_y = tensor([1]*len(threes) + [0]*len(sevens)).unsqueeze(1)         # [12396, 1]
 *     valid_x, valid_y likewise from valid/3 and valid/7                       # [2038, 784]
 *
 * Header-only (static inline functions): examples are one file each. */
#ifndef CGRAD_EXAMPLES_CHAPTER4_MNIST_H
#define CGRAD_EXAMPLES_CHAPTER4_MNIST_H

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cgrad.h"
#include "cgrad/chapter4.h"

typedef struct chapter4_data {
    cg_tensor *train_x, *train_y, *valid_x, *valid_y; /* owned by the caller's scope */
} chapter4_data;

/* path = untar_data(URLs.MNIST_SAMPLE), then the four tensors above, made by
 * the library's cg_mnist_sample_load (learner.h) and handed to the open scope. */
static inline cg_status chapter4_load(chapter4_data *d) {
    char path[4096];
    cg_mnist_sample s;
    cg_status st = cg_untar_data("mnist_sample", path, sizeof path);
    if (!st) st = cg_mnist_sample_load(path, &s);
    if (st) return st;
    d->train_x = cg_scope_adopt(s.train_x), d->train_y = cg_scope_adopt(s.train_y);
    d->valid_x = cg_scope_adopt(s.valid_x), d->valid_y = cg_scope_adopt(s.valid_y);
    return CG_OK;
}

/* A model is any function from a batch to predictions: linear1, or a module. */
typedef cg_tensor *(*chapter4_model_fn)(void *model, cg_tensor *xb);

/* def batch_accuracy(xb, yb): preds = xb.sigmoid(); correct = (preds>0.5) == yb;
 *     return correct.float().mean()                     -> cg_batch_accuracy (learner.h)
 * def validate_epoch(model):
 *     accs = [batch_accuracy(model(xb), yb) for xb,yb in valid_dl]
 *     return round(torch.stack(accs).mean().item(), 4)
 * Returns -1 on failure (message set). */
static inline double chapter4_validate_epoch(chapter4_model_fn model, void *ctx, cg_dataloader *valid_dl) {
    return cg_ch4_validate_epoch(model, ctx, valid_dl); /* cgrad/chapter4.h */
}

/* Prints a rounded accuracy as Python prints a float: 0.9696, 0.97, 0.5 */
static inline void chapter4_print_acc(double acc, const char *end) {
    char buf[32];
    snprintf(buf, sizeof buf, "%.4f", acc);
    size_t n = strlen(buf);
    while (n > 3 && buf[n - 1] == '0') buf[--n] = '\0';
    printf("%s%s", buf, end);
    fflush(stdout);
}

#endif
