/* The chapter's hand-written cells (see cgrad/chapter4.h): each function is
 * the Python above it, one library call per operation. */
#include "cgrad/chapter4.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "cgrad/autograd.h"
#include "cgrad/files.h"
#include "cgrad/image.h"
#include "cgrad/learner.h"
#include "cgrad/ops.h"
#include "cgrad/random.h"

/* ---- pixel similarity ------------------------------------------------------- */

/* torch.stack([tensor(Image.open(o)) for o in (root/folder).ls().sorted()]) -> uint8 [N,H,W];
 * *second (may be NULL) = the second file's path (threes[1]), malloc'd. */
static cg_tensor *stack_folder(const char *root, const char *folder, char **second) {
    char *dir = cg_path_join(root, folder);
    cg_strlist files = {0};
    cg_tensor *t = NULL;
    if (!dir) cg_fail(CG_ERR_NOMEM, "pixel similarity: no memory for a path");
    else if (cg_ls_ext(dir, ".png", &files) == CG_OK) {
        if (files.count < 2) cg_fail(CG_ERR_FORMAT, "pixel similarity: %s holds %zu PNG files (at least 2)",
                                     dir, files.count);
        else t = cg_png_read_many(&files, 0);
        if (t && second && !(*second = strdup(files.items[1]))) {
            cg_fail(CG_ERR_NOMEM, "pixel similarity: no memory for a path");
            t = NULL;
        }
    }
    cg_strlist_free(&files);
    free(dir);
    return t;
}

static cg_tensor *mnist_distance(cg_tensor *a, cg_tensor *b) {
    return cg_mean(cg_abs(cg_sub(a, b)), (int[]){-1, -2}, 2, false);
}

static double item_or_nan(cg_tensor *t) {
    double v = NAN;
    if (t && cg_item(t, &v) != CG_OK) v = NAN;
    return v;
}

cg_status cg_ch4_pixel_similarity(const char *root, cg_ch4_pixsim *out) {
    memset(out, 0, sizeof *out);
    cg_scope_begin();
    cg_tensor *threes_u8 = stack_folder(root, "train/3", &out->im3_path);
    cg_tensor *sevens_u8 = threes_u8 ? stack_folder(root, "train/7", NULL) : NULL;
    cg_tensor *valid3_u8 = sevens_u8 ? stack_folder(root, "valid/3", NULL) : NULL;
    cg_tensor *valid7_u8 = valid3_u8 ? stack_folder(root, "valid/7", NULL) : NULL;
    if (!valid7_u8) {
        cg_status st = cg_last_status();
        cg_scope_end();
        cg_ch4_pixsim_free(out);
        return st;
    }
    out->n_train3 = threes_u8->shape[0], out->n_train7 = sevens_u8->shape[0];
    out->n_valid3 = valid3_u8->shape[0], out->n_valid7 = valid7_u8->shape[0];
    out->height = threes_u8->shape[1], out->width = threes_u8->shape[2];
    cg_tensor *stacked_threes = cg_div_s(cg_float(threes_u8), 255);
    cg_tensor *stacked_sevens = cg_div_s(cg_float(sevens_u8), 255);
    cg_tensor *valid_3_tens = cg_div_s(cg_float(valid3_u8), 255);
    cg_tensor *valid_7_tens = cg_div_s(cg_float(valid7_u8), 255);
    cg_tensor *mean3 = cg_mean(stacked_threes, (int[]){0}, 1, false);
    cg_tensor *mean7 = cg_mean(stacked_sevens, (int[]){0}, 1, false);
    cg_tensor *a_3 = cg_contiguous(cg_select(stacked_threes, 0, 1));
    cg_tensor *im3 = cg_contiguous(cg_select(threes_u8, 0, 1));

    out->dist_3_abs = item_or_nan(cg_mean(cg_abs(cg_sub(a_3, mean3)), NULL, 0, false));
    out->dist_3_sqr = item_or_nan(cg_sqrt(cg_mean(cg_pow_s(cg_sub(a_3, mean3), 2), NULL, 0, false)));
    out->dist_7_abs = item_or_nan(cg_mean(cg_abs(cg_sub(a_3, mean7)), NULL, 0, false));
    out->dist_7_sqr = item_or_nan(cg_sqrt(cg_mean(cg_pow_s(cg_sub(a_3, mean7), 2), NULL, 0, false)));
    out->l1_7 = item_or_nan(cg_l1_loss(a_3, mean7));
    out->mse_sqrt_7 = item_or_nan(cg_sqrt(cg_mse_loss(a_3, mean7)));

    cg_tensor *is_3_of_3s = cg_lt(mnist_distance(valid_3_tens, mean3), mnist_distance(valid_3_tens, mean7));
    cg_tensor *is_3_of_7s = cg_lt(mnist_distance(valid_7_tens, mean3), mnist_distance(valid_7_tens, mean7));
    cg_tensor *accuracy_3s = cg_mean(cg_float(is_3_of_3s), NULL, 0, false);
    cg_tensor *accuracy_7s = cg_mean(cg_rsub_s(1, cg_float(is_3_of_7s)), NULL, 0, false);
    cg_tensor *average = cg_div_s(cg_add(accuracy_3s, accuracy_7s), 2);
    out->accuracy_3s = item_or_nan(accuracy_3s);
    out->accuracy_7s = item_or_nan(accuracy_7s);
    out->average = item_or_nan(average);
    out->right_3s = (int64_t)item_or_nan(cg_sum(is_3_of_3s, NULL, 0, false));
    out->right_7s = out->n_valid7 - (int64_t)item_or_nan(cg_sum(is_3_of_7s, NULL, 0, false));
    cg_status st = average && im3 && a_3 && !isnan(out->average) && !isnan(out->mse_sqrt_7) ? CG_OK
                                                                                          : cg_last_status();
    if (st == CG_OK) {
        out->mean3 = cg_retain(mean3), out->mean7 = cg_retain(mean7);
        out->a_3 = cg_retain(a_3), out->im3 = cg_retain(im3);
    }
    cg_scope_end();
    if (st != CG_OK) cg_ch4_pixsim_free(out);
    return st;
}

void cg_ch4_pixsim_free(cg_ch4_pixsim *p) {
    if (!p) return;
    cg_release(p->im3);
    cg_release(p->mean3);
    cg_release(p->mean7);
    cg_release(p->a_3);
    free(p->im3_path);
    memset(p, 0, sizeof *p);
}

/* ---- the roller coaster ------------------------------------------------------- */

cg_status cg_ch4_speed_data(cg_tensor **time, cg_tensor **speed) {
    *time = cg_arange(CG_FLOAT32, 0, 20, 1);
    cg_tensor *noise = *time ? cg_mul_s(cg_randn(NULL, CG_SHAPE(20)), 3) : NULL;
    cg_tensor *curve = noise ? cg_add_s(cg_mul_s(cg_pow_s(cg_sub_s(*time, 9.5), 2), 0.75), 1) : NULL;
    *speed = curve ? cg_add(noise, curve) : NULL;
    return *speed ? CG_OK : cg_last_status();
}

cg_tensor *cg_ch4_quadratic(cg_tensor *t, cg_tensor *params) {
    cg_tensor *a = cg_select(params, 0, 0), *b = cg_select(params, 0, 1), *c = cg_select(params, 0, 2);
    return cg_add(cg_add(cg_mul(a, cg_pow_s(t, 2)), cg_mul(b, t)), c);
}

cg_status cg_ch4_apply_step(cg_tensor *params, cg_tensor *time, cg_tensor *speed, double lr,
                            double *loss_out, cg_tensor **preds_out) {
    cg_scope_begin();
    cg_tensor *preds = cg_ch4_quadratic(time, params);
    cg_tensor *loss = cg_mean(cg_pow_s(cg_sub(preds, speed), 2), NULL, 0, false); /* mse */
    cg_status st = cg_backward(loss, NULL);
    if (st == CG_OK) st = cg_item(loss, loss_out);
    if (st == CG_OK) {
        cg_no_grad_begin();
        st = cg_axpy_(params, -lr, params->grad);
        cg_no_grad_end();
        cg_clear_grad(params);
    }
    cg_tensor *kept = st == CG_OK && preds_out ? cg_detach(preds) : NULL;
    if (st == CG_OK && preds_out && !kept) st = cg_last_status();
    if (kept) cg_keep(kept);
    cg_scope_end();
    if (preds_out) *preds_out = st == CG_OK ? kept : NULL;
    return st;
}

/* ---- train_epoch / validate_epoch ------------------------------------------------ */

cg_tensor *cg_ch4_linear1_forward(void *ctx, cg_tensor *xb) {
    const cg_ch4_linear1 *m = ctx;
    return cg_add(cg_matmul(xb, m->weights), m->bias);
}

cg_tensor *cg_ch4_module_forward(void *ctx, cg_tensor *xb) { return cg_module_forward(ctx, xb); }

double cg_ch4_validate_epoch(cg_ch4_model_fn model, void *ctx, cg_dataloader *valid_dl) {
    cg_scope_begin();
    cg_no_grad_begin(); /* no graph is needed to measure */
    int64_t n = 0, cap = 0;
    cg_tensor **accs = NULL;
    cg_tensor *xb, *yb;
    cg_status st = CG_OK;
    while (cg_dataloader_next(valid_dl, &xb, &yb)) {
        if (n == cap) {
            int64_t ncap = cap ? 2 * cap : 16;
            cg_tensor **grown = realloc(accs, (size_t)ncap * sizeof *grown);
            if (!grown) {
                st = cg_fail(CG_ERR_NOMEM, "validate_epoch: no memory for %lld batches", (long long)ncap);
                cg_dataloader_reset(valid_dl);
                break;
            }
            accs = grown, cap = ncap;
        }
        if (!(accs[n++] = cg_batch_accuracy(model(ctx, xb), yb))) {
            st = cg_last_status();
            cg_dataloader_reset(valid_dl);
            break;
        }
    }
    if (st == CG_OK) st = cg_dataloader_status(valid_dl);
    if (st == CG_OK && n == 0) st = cg_fail(CG_ERR_VALUE, "validate_epoch: the validation loader is empty");
    if (st == CG_OK && n > INT32_MAX) st = cg_fail(CG_ERR_VALUE, "validate_epoch: %lld batches", (long long)n);
    double acc = -1;
    if (st == CG_OK && cg_item(cg_mean(cg_stack(accs, (int)n, 0), NULL, 0, false), &acc) == CG_OK)
        acc = round(acc * 1e4) / 1e4;
    else
        acc = -1;
    free(accs);
    cg_no_grad_end();
    cg_scope_end();
    return acc;
}

cg_status cg_ch4_train_epoch(cg_ch4_model_fn model, void *ctx, cg_dataloader *dl, double lr,
                             cg_tensor *const *params, int n_params) {
    cg_tensor *xb, *yb;
    for (;;) {
        cg_scope_begin(); /* open before next(): the batch belongs to this step's scope */
        if (!cg_dataloader_next(dl, &xb, &yb)) {
            cg_scope_end();
            break;
        }
        cg_status st = cg_backward(cg_mnist_loss(model(ctx, xb), yb), NULL); /* calc_grad */
        cg_no_grad_begin(); /* p.data: an update autograd does not see */
        for (int i = 0; st == CG_OK && i < n_params; i++) {
            st = cg_axpy_(params[i], -lr, params[i]->grad);
            cg_zero_grad(params[i]);
        }
        cg_no_grad_end();
        cg_scope_end();
        if (st != CG_OK) {
            cg_dataloader_reset(dl);
            return st;
        }
    }
    return cg_dataloader_status(dl);
}

cg_status cg_ch4_train_epoch_opt(cg_module *model, cg_optimizer *opt, cg_dataloader *dl) {
    cg_tensor *xb, *yb;
    for (;;) {
        cg_scope_begin();
        if (!cg_dataloader_next(dl, &xb, &yb)) {
            cg_scope_end();
            break;
        }
        cg_status st = cg_backward(cg_mnist_loss(cg_module_forward(model, xb), yb), NULL);
        if (st == CG_OK) st = cg_optimizer_step(opt);
        cg_optimizer_zero_grad(opt);
        cg_scope_end();
        if (st != CG_OK) {
            cg_dataloader_reset(dl);
            return st;
        }
    }
    return cg_dataloader_status(dl);
}
