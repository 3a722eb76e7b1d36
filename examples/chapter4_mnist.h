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

typedef struct chapter4_data {
    cg_tensor *train_x, *train_y, *valid_x, *valid_y; /* owned by the caller's scope */
} chapter4_data;

/* torch.stack([tensor(Image.open(o)) for o in (root/folder).ls().sorted()]).float()/255 */
static inline cg_tensor *chapter4_stack_folder(const char *root, const char *folder) {
    char *dir = cg_path_join(root, folder);
    cg_strlist files = {0};
    cg_tensor *t = NULL;
    if (dir && cg_ls_ext(dir, ".png", &files) == CG_OK)
        t = cg_div_s(cg_float(cg_png_read_many(&files, 0)), 255);
    cg_strlist_free(&files);
    free(dir);
    return t;
}

/* x = cat([threes, sevens]).view(-1, 784), y = [1]*len(threes) + [0]*len(sevens) as [N,1] int64 */
static inline cg_status chapter4_split(const char *path, const char *split, cg_tensor **x, cg_tensor **y) {
    char f3[64], f7[64];
    snprintf(f3, sizeof f3, "%s/3", split);
    snprintf(f7, sizeof f7, "%s/7", split);
    cg_tensor *threes = chapter4_stack_folder(path, f3), *sevens = chapter4_stack_folder(path, f7);
    if (!threes || !sevens) return cg_last_status();
    *x = cg_view(cg_cat((cg_tensor *[]){threes, sevens}, 2, 0), CG_SHAPE(-1, 28 * 28));
    int64_t n3 = threes->shape[0], n7 = sevens->shape[0];
    cg_tensor *ones = cg_ones(CG_INT64, CG_SHAPE(n3)), *zeros = cg_zeros(CG_INT64, CG_SHAPE(n7));
    *y = cg_unsqueeze(cg_cat((cg_tensor *[]){ones, zeros}, 2, 0), 1);
    return *x && *y ? CG_OK : cg_last_status();
}

/* path = untar_data(URLs.MNIST_SAMPLE), then the four tensors. */
static inline cg_status chapter4_load(chapter4_data *d) {
    char path[4096];
    cg_status st = cg_untar_data("mnist_sample", path, sizeof path);
    if (!st) st = chapter4_split(path, "train", &d->train_x, &d->train_y);
    if (!st) st = chapter4_split(path, "valid", &d->valid_x, &d->valid_y);
    return st;
}

/* def batch_accuracy(xb, yb):
 *     preds = xb.sigmoid()
 *     correct = (preds>0.5) == yb
 *     return correct.float().mean() */
static inline cg_tensor *chapter4_batch_accuracy(cg_tensor *xb, cg_tensor *yb) {
    cg_tensor *preds = cg_sigmoid(xb);
    cg_tensor *correct = cg_eq(cg_gt_s(preds, 0.5), yb);
    return cg_mean(cg_float(correct), NULL, 0, false);
}

/* A model is any function from a batch to predictions: linear1, or a module. */
typedef cg_tensor *(*chapter4_model_fn)(void *model, cg_tensor *xb);

/* def validate_epoch(model):
 *     accs = [batch_accuracy(model(xb), yb) for xb,yb in valid_dl]
 *     return round(torch.stack(accs).mean().item(), 4)
 * Returns -1 on failure (message set). */
static inline double chapter4_validate_epoch(chapter4_model_fn model, void *ctx, cg_dataloader *valid_dl) {
    cg_scope_begin();
    cg_no_grad_begin(); /* no graph is needed to measure */
    cg_tensor *accs[64];
    int n = 0;
    cg_tensor *xb, *yb;
    while (cg_dataloader_next(valid_dl, &xb, &yb)) {
        if (n < 64) accs[n++] = chapter4_batch_accuracy(model(ctx, xb), yb);
        else {
            cg_fail(CG_ERR_VALUE, "validate_epoch: more than 64 validation batches");
            n = -1;
            cg_dataloader_reset(valid_dl);
            break;
        }
    }
    double acc = -1;
    if (n > 0 && cg_dataloader_status(valid_dl) == CG_OK &&
        cg_item(cg_mean(cg_stack(accs, n, 0), NULL, 0, false), &acc) == CG_OK)
        acc = round(acc * 1e4) / 1e4;
    else
        acc = -1;
    cg_no_grad_end();
    cg_scope_end();
    return acc;
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
