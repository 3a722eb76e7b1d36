/* The chapter's MNIST_SAMPLE tensors and DataLoaders, built exactly as the
 * notebook builds them (see learner.h). */
#include <stdlib.h>
#include <string.h>

#include "cgrad/autograd.h"
#include "cgrad/files.h"
#include "cgrad/image.h"
#include "cgrad/learner.h"
#include "cgrad/ops.h"

/* torch.stack([tensor(Image.open(o)) for o in (root/split/digit).ls().sorted()]) -> uint8 [N,28,28] */
static cg_tensor *stack_digit(const char *root, const char *split, const char *digit) {
    char *split_dir = cg_path_join(root, split);
    char *dir = split_dir ? cg_path_join(split_dir, digit) : NULL;
    free(split_dir);
    if (!dir) {
        cg_fail(CG_ERR_NOMEM, "mnist_sample: no memory for a path");
        return NULL;
    }
    cg_strlist files = {0};
    cg_tensor *stacked = NULL;
    if (cg_ls_ext(dir, ".png", &files) == CG_OK) {
        if (files.count == 0)
            cg_fail(CG_ERR_FORMAT, "mnist_sample: %s holds no .png file", dir);
        else
            stacked = cg_png_read_many(&files, 1);
    }
    cg_strlist_free(&files);
    free(dir);
    return stacked;
}

/* x: cat(threes, sevens).view(-1, 784).float()/255; y: [1]*n3 + [0]*n7, unsqueezed */
static cg_status build_split(const char *root, const char *split, cg_tensor **x, cg_tensor **y) {
    cg_scope_begin();
    cg_tensor *threes = stack_digit(root, split, "3");
    cg_tensor *sevens = threes ? stack_digit(root, split, "7") : NULL;
    cg_status st = CG_OK;
    if (!threes || !sevens) st = cg_last_status();
    if (st == CG_OK) {
        int64_t n3 = threes->shape[0], n7 = sevens->shape[0];
        cg_tensor *both = cg_cat((cg_tensor *[]){threes, sevens}, 2, 0);
        /* retained, not kept: the struct owns them whether or not the caller has a scope open */
        *x = cg_retain(cg_view(cg_div_s(cg_float(both), 255.0), CG_SHAPE(-1, 28 * 28)));
        cg_tensor *labels = cg_zeros(CG_INT64, CG_SHAPE(n3 + n7, 1));
        if (labels) {
            int64_t *l = cg_data(labels);
            for (int64_t i = 0; i < n3; i++) l[i] = 1;
        }
        *y = cg_retain(labels);
        if (!*x || !*y) st = cg_last_status();
    }
    cg_scope_end();
    return st;
}

cg_status cg_mnist_sample_load(const char *root, cg_mnist_sample *out) {
    memset(out, 0, sizeof *out);
    cg_status st = build_split(root, "train", &out->train_x, &out->train_y);
    if (st == CG_OK) st = build_split(root, "valid", &out->valid_x, &out->valid_y);
    if (st != CG_OK) cg_mnist_sample_free(out);
    return st;
}

void cg_mnist_sample_free(cg_mnist_sample *s) {
    if (!s) return;
    cg_release(s->train_x);
    cg_release(s->train_y);
    cg_release(s->valid_x);
    cg_release(s->valid_y);
    memset(s, 0, sizeof *s);
}

cg_dataloaders *cg_mnist_sample_dls(const cg_mnist_sample *s, int64_t bs) {
    /* the chapter's dl and valid_dl: in order, last partial batch kept */
    return cg_tensor_dataloaders(s->train_x, s->train_y, s->valid_x, s->valid_y, bs, false, 0);
}
