/* IDX datasets (LeCun's MNIST files): an images file and a labels file read
 * whole into memory and served as a tensor dataset, so batches are row
 * gathers.  See include/cgrad/dataset.h. */
#include <stdio.h>
#include <string.h>

#include "cgrad/dataset.h"
#include "cgrad/image.h"
#include "data/image_item.h"

/* images uint8 [N,H,W] -> items [H,W] (channels 0), [1,H,W] or [C,H,W]
 * (gray copied to every channel), uint8 or float32 /255. */
static cg_tensor *image_items(cg_tensor *images, const cg_image_item_options *o) {
    int64_t n = images->shape[0], h = images->shape[1], w = images->shape[2];
    int ch = o->channels ? o->channels : 1;
    int64_t shape4[4] = {n, ch, h, w}, shape3[3] = {n, h, w};
    cg_tensor *x = o->channels ? cg_empty(o->to_float ? CG_FLOAT32 : CG_UINT8, 4, shape4)
                               : cg_empty(o->to_float ? CG_FLOAT32 : CG_UINT8, 3, shape3);
    if (!x) return NULL;
    const uint8_t *src = cg_data(images);
    size_t elem = o->to_float ? sizeof(float) : 1;
    char *dst = cg_data(x);
    for (int64_t i = 0; i < n; i++)
        for (int c = 0; c < ch; c++)
            cg_image_item_store(src + i * h * w, h * w, dst + ((size_t)(i * ch + c) * (size_t)(h * w)) * elem,
                                o->to_float);
    return x;
}

cg_dataset *cg_dataset_idx(const char *images_path, const char *labels_path,
                           const cg_image_item_options *opts) {
    cg_image_item_options o = opts ? *opts : (cg_image_item_options){.channels = 0, .to_float = true};
    if (cg_image_item_check(&o, "idx dataset") != CG_OK) return NULL;
    if (!images_path || !labels_path) {
        cg_fail(CG_ERR_VALUE, "idx dataset: both an images and a labels file are needed");
        return NULL;
    }
    cg_dataset *ds = NULL;
    cg_scope_begin(); /* the files' tensors die here; the dataset keeps its own */
    cg_tensor *images = cg_idx_read(images_path);
    cg_tensor *labels = images ? cg_idx_read(labels_path) : NULL;
    char a[128], b[128];
    if (!labels) goto done;
    if (images->ndim != 3 || images->dtype != CG_UINT8) {
        cg_fail(CG_ERR_FORMAT, "idx dataset: %s holds %s %s; expected uint8 images [N,H,W]",
                images_path, cg_dtype_name(images->dtype), cg_shape_str(images, a, sizeof a));
        goto done;
    }
    if (labels->ndim != 1 || labels->shape[0] != images->shape[0]) {
        cg_fail(CG_ERR_SHAPE, "idx dataset: %s has %lld images (%s) but %s holds labels of shape %s",
                images_path, (long long)images->shape[0], cg_shape_str(images, a, sizeof a),
                labels_path, cg_shape_str(labels, b, sizeof b));
        goto done;
    }
    cg_tensor *x = o.channels == 0 && !o.to_float ? images : image_items(images, &o);
    cg_tensor *y = cg_long(labels); /* PyTorch's int64 targets */
    if (!x || !y) goto done;
    ds = cg_dataset_from_tensors(x, y);
    if (!ds) goto done;
    /* Digit labels: the classes are "0".."9" (MNIST's vocab). */
    const int64_t *lab = cg_data(y);
    int64_t max = -1, n = y->shape[0];
    for (int64_t i = 0; i < n; i++) max = lab[i] > max ? lab[i] : max;
    if (max >= 0 && max <= 9) {
        static const char *const digits[10] = {"0", "1", "2", "3", "4", "5", "6", "7", "8", "9"};
        if (cg_dataset_set_classes(ds, digits, 10) != CG_OK) {
            cg_dataset_release(ds);
            ds = NULL;
        }
    }
done:
    cg_scope_end();
    return ds;
}
