/* Image-folder datasets (root/<split>/<class>/NAME.png, fastai's
 * ImageDataLoaders.from_folder) and the DataLoaders pair built on them.
 * Images are decoded when an item or a batch is asked for: on the DataLoader's
 * worker threads when it has some.  See include/cgrad/dataset.h. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cgrad/dataloader.h"
#include "cgrad/files.h"
#include "cgrad/image.h"
#include "data/image_item.h"

typedef struct folder_ctx {
    cg_labelled_files files;
    cg_image_item_options opts;
} folder_ctx;

cg_image_item_options cg_image_item_defaults(void) {
    return (cg_image_item_options){.channels = 3, .to_float = true};
}

/* "[3, 28, 28]" */
static char *dims_str(int ndim, const int64_t *shape, char *buf, size_t n) {
    size_t used = (size_t)snprintf(buf, n, "[");
    for (int d = 0; d < ndim && used < n; d++)
        used += (size_t)snprintf(buf + used, n - used, d ? ", %lld" : "%lld", (long long)shape[d]);
    if (used < n) snprintf(buf + used, n - used, "]");
    return buf;
}

static int64_t folder_len(void *ctx) { return (int64_t)((folder_ctx *)ctx)->files.paths.count; }

/* The decoded pixels of item i (uint8, contiguous) and the item's shape:
 * channels 1 gives [1,H,W] (PyTorch's gray image), otherwise what the reader
 * gives ([H,W] as stored gray, [C,H,W] for color). */
static cg_tensor *decode(folder_ctx *c, int64_t i, int *ndim, int64_t *shape) {
    cg_tensor *img = cg_png_read(c->files.paths.items[i], c->opts.channels);
    if (!img) return NULL;
    *ndim = img->ndim;
    memcpy(shape, img->shape, (size_t)img->ndim * sizeof *shape);
    if (c->opts.channels == 1 && img->ndim == 2) {
        *ndim = 3;
        shape[0] = 1;
        shape[1] = img->shape[0];
        shape[2] = img->shape[1];
    }
    return img;
}

static cg_status folder_get(void *ctx, int64_t i, cg_tensor **x, cg_tensor **y) {
    folder_ctx *c = ctx;
    int ndim;
    int64_t shape[CG_MAX_DIMS];
    cg_tensor *img = decode(c, i, &ndim, shape);
    if (!img) return cg_last_status();
    *x = cg_empty(c->opts.to_float ? CG_FLOAT32 : CG_UINT8, ndim, shape);
    if (!*x) return cg_last_status();
    cg_image_item_store(cg_data(img), cg_numel(img), cg_data(*x), c->opts.to_float);
    *y = cg_scalar_of(CG_INT64, (double)c->files.labels[i]);
    return *y ? CG_OK : cg_last_status();
}

/* Decodes the images straight into one batch tensor [n, ...]: no per-item
 * tensors are kept, and each decoded image is freed as soon as it is copied. */
static cg_status folder_get_batch(void *ctx, const int64_t *indices, int64_t n, cg_tensor **xb,
                                  cg_tensor **yb) {
    folder_ctx *c = ctx;
    int ndim0 = 0;
    int64_t shape0[CG_MAX_DIMS + 1];
    size_t item_bytes = 0;
    int64_t item_numel = 0;
    for (int64_t k = 0; k < n; k++) {
        cg_scope_begin(); /* the decoded image dies at the end of this iteration */
        int ndim;
        int64_t shape[CG_MAX_DIMS];
        cg_tensor *img = decode(c, indices[k], &ndim, shape);
        if (!img) {
            cg_scope_end();
            return cg_last_status();
        }
        if (k == 0) { /* the first image fixes the batch's shape */
            ndim0 = ndim;
            shape0[0] = n;
            memcpy(shape0 + 1, shape, (size_t)ndim * sizeof *shape);
            item_numel = cg_numel(img);
            item_bytes = (size_t)item_numel * (c->opts.to_float ? sizeof(float) : 1);
            *xb = cg_empty(c->opts.to_float ? CG_FLOAT32 : CG_UINT8, ndim0 + 1, shape0);
            if (!*xb) {
                cg_scope_end();
                return cg_last_status();
            }
            cg_keep(*xb); /* the batch outlives this iteration's scope */
        }
        bool same = ndim == ndim0;
        for (int d = 0; same && d < ndim; d++) same = shape[d] == shape0[d + 1];
        if (!same) {
            char a[128], b[128];
            cg_status st = cg_fail(
                CG_ERR_SHAPE,
                "image folder: cannot batch %s (shape %s) with %s (shape %s): every image of a "
                "batch must have the same size",
                c->files.paths.items[indices[k]], dims_str(ndim, shape, b, sizeof b),
                c->files.paths.items[indices[0]], dims_str(ndim0, shape0 + 1, a, sizeof a));
            cg_scope_end();
            return st;
        }
        cg_image_item_store(cg_data(img), item_numel, (char *)cg_data(*xb) + (size_t)k * item_bytes,
                            c->opts.to_float);
        cg_scope_end();
    }
    *yb = cg_empty(CG_INT64, 1, &n);
    if (!*yb) return cg_last_status();
    int64_t *labels = cg_data(*yb);
    for (int64_t k = 0; k < n; k++) labels[k] = c->files.labels[indices[k]];
    return CG_OK;
}

static void folder_free(void *ctx) {
    folder_ctx *c = ctx;
    cg_labelled_files_free(&c->files);
    free(c);
}

cg_dataset *cg_dataset_image_folder(const char *root, const char *split,
                                    const cg_image_item_options *opts) {
    if (!root || !split) {
        cg_fail(CG_ERR_VALUE, "image folder: root and split must be given");
        return NULL;
    }
    folder_ctx *c = calloc(1, sizeof *c);
    if (!c) {
        cg_fail(CG_ERR_NOMEM, "image folder: out of memory");
        return NULL;
    }
    c->opts = opts ? *opts : cg_image_item_defaults();
    if (cg_image_item_check(&c->opts, "image folder") != CG_OK ||
        cg_image_folder_list(root, split, &c->files) != CG_OK) {
        folder_free(c);
        return NULL;
    }
    static const cg_dataset_ops ops = {folder_len, folder_get, folder_get_batch, folder_free};
    cg_dataset *ds = cg_dataset_new("image folder", &ops, c);
    if (!ds) {
        folder_free(c);
        return NULL;
    }
    if (cg_dataset_set_classes(ds, (const char *const *)c->files.classes.items,
                               (int64_t)c->files.classes.count) != CG_OK) {
        cg_dataset_release(ds);
        return NULL;
    }
    return ds;
}

cg_dataloaders *cg_image_dataloaders_from_folder(const char *root, int64_t bs, int num_workers,
                                                 bool seeded, uint64_t seed) {
    cg_dataset *train = cg_dataset_image_folder(root, "train", NULL);
    cg_dataset *valid = train ? cg_dataset_image_folder(root, "valid", NULL) : NULL;
    if (!valid) {
        cg_dataset_release(train);
        return NULL;
    }
    if (bs <= 0) bs = 64;
    cg_dataloader_options to = {.batch_size = bs, .shuffle = true, .drop_last = true,
                                .num_workers = num_workers, .seeded = seeded, .seed = seed};
    cg_dataloader_options vo = {.batch_size = bs, .num_workers = num_workers};
    cg_dataloader *tdl = cg_dataloader_new(train, &to);
    cg_dataloader *vdl = tdl ? cg_dataloader_new(valid, &vo) : NULL;
    cg_dataset_release(train); /* the loaders hold their own references */
    cg_dataset_release(valid);
    return cg_dataloaders_new(tdl, vdl);
}
