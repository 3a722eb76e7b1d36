/* io/predict.c — fastai's learn.predict for model files: an image file becomes
 * the model's input as the file's metadata says, and the output becomes class
 * probabilities with the loss function's activation (softmax for the
 * cross-entropy image models), in eval mode: BatchNorm uses its running
 * statistics, Dropout passes through. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cgrad/autograd.h"
#include "cgrad/image.h"
#include "cgrad/ops.h"
#include "cgrad/weights.h"

/* The Resize of metadata "size"/"resize_method" (none without "size"). */
static cg_status resize_of(const cg_metadata *md, cg_resize_options *o) {
    memset(o, 0, sizeof *o);
    const char *size = cg_metadata_get(md, "size"), *method = cg_metadata_get(md, "resize_method");
    if (!size) return CG_OK;
    char *end;
    errno = 0;
    long long n = strtoll(size, &end, 10);
    if (errno || end == size || *end || n < 1 || n > CG_RESIZE_MAX)
        return cg_fail(CG_ERR_FORMAT, "model metadata \"size\" is \"%.64s\", expected 1 to %d", size, CG_RESIZE_MAX);
    o->height = o->width = n;
    if (method && cg_resize_method_parse(method, &o->method))
        return cg_fail(CG_ERR_FORMAT, "model metadata \"resize_method\" is \"%.64s\", expected crop, pad or squish",
                       method);
    return CG_OK;
}

cg_tensor *cg_model_input_from_png(const cg_metadata *md, const char *png_path) {
    if (!png_path) {
        cg_fail(CG_ERR_VALUE, "predict: no image path");
        return NULL;
    }
    const char *spec = cg_metadata_get(md, "input");
    int channels = 1;
    int64_t h = 0, w = 0;
    if (spec && cg_model_parse_input(spec, &channels, &h, &w)) return NULL;
    cg_scope_begin();
    /* PILImage.create: gray [H,W] or RGB [3,H,W], PNG or JPEG by content */
    cg_tensor *img = cg_image_read(png_path, channels == 1 ? 1 : 3);
    cg_tensor *x = img ? cg_model_input_from_image(md, img, png_path) : NULL;
    if (x) cg_keep(x);
    cg_scope_end();
    return x;
}

cg_tensor *cg_model_input_from_image(const cg_metadata *md, const cg_tensor *image, const char *png_path) {
    if (!image || image->dtype != CG_UINT8 || image->ndim < 2 || image->ndim > 3) {
        cg_fail(CG_ERR_VALUE, "predict: %s: want a uint8 image [H,W] or [C,H,W]", png_path ? png_path : "image");
        return NULL;
    }
    if (!png_path) png_path = "image";
    const char *spec = cg_metadata_get(md, "input");
    const char *n_in_s = cg_metadata_get(md, "n_in");
    long long n_in = n_in_s ? strtoll(n_in_s, NULL, 10) : 0;
    bool image_model = cg_model_takes_images(cg_metadata_get(md, "arch"));
    int channels = 1;
    int64_t h = 0, w = 0; /* 0: any size whose H*W is n_in */
    if (spec && cg_model_parse_input(spec, &channels, &h, &w)) return NULL;
    cg_resize_options resize;
    if (resize_of(md, &resize)) return NULL;
    cg_scope_begin();
    /* the channels the model takes: a gray plane copied to RGB's three (PIL's
     * convert('RGB')), one plane as [H,W] for gray */
    int64_t ih0 = image->shape[image->ndim - 2], iw0 = image->shape[image->ndim - 1];
    int64_t ic0 = image->ndim == 3 ? image->shape[0] : 1;
    cg_tensor *img = (cg_tensor *)image;
    if (channels == 3 && ic0 == 1)
        img = cg_contiguous(cg_expand(cg_reshape(img, CG_SHAPE(1, ih0, iw0)), CG_SHAPE(3, ih0, iw0)));
    else if (channels == 1 && image->ndim == 3 && ic0 == 1)
        img = cg_reshape(img, CG_SHAPE(ih0, iw0));
    else if (ic0 != (channels == 1 ? 1 : 3)) {
        cg_fail(CG_ERR_SHAPE, "%s: the image has %lld channels, the model takes %d", png_path, (long long)ic0,
                channels);
        img = NULL;
    }
    /* the validation set's Resize: the centre box */
    if (img && resize.height) img = cg_image_resize_item(img, &resize, 0.5, 0.5);
    cg_tensor *x = NULL;
    if (img) {
        int64_t ih = img->shape[img->ndim - 2], iw = img->shape[img->ndim - 1];
        if ((h && (ih != h || iw != w)) || (!h && channels == 1 && n_in > 0 && ih * iw != n_in)) {
            if (h)
                cg_fail(CG_ERR_SHAPE, "%s: image is %lldx%lld, the model takes %lldx%lld", png_path,
                        (long long)ih, (long long)iw, (long long)h, (long long)w);
            else
                cg_fail(CG_ERR_SHAPE, "%s: image is %lldx%lld = %lld pixels, the model takes %lld",
                        png_path, (long long)ih, (long long)iw, (long long)(ih * iw), n_in);
        } else if (image_model) {
            /* bytes/255 (fastai's IntToFloatTensor), then a batch of one [1,C,H,W] */
            x = cg_div_s(cg_float(img), 255.0);
            x = cg_reshape(x, CG_SHAPE(1, channels, ih, iw));
        } else {
            x = cg_div_s(cg_float(img), 255.0);
            x = channels == 1 ? cg_reshape(x, CG_SHAPE(1, -1)) : cg_unsqueeze(x, 0);
            if (x && channels == 1 && n_in > 0 && x->shape[1] != n_in) {
                cg_fail(CG_ERR_SHAPE, "%s: %lld pixels, the model takes %lld", png_path,
                        (long long)x->shape[1], n_in);
                x = NULL;
            }
        }
    }
    if (x) cg_keep(x);
    cg_scope_end();
    return x;
}

void cg_prediction_free(cg_prediction *p) {
    if (!p) return;
    for (int64_t i = 0; p->names && i < p->n_classes; i++) free(p->names[i]);
    free(p->names);
    free(p->probs);
    memset(p, 0, sizeof *p);
}

/* Class names from "classes" (cg_model_classes: the JSON array or the older
 * "7,3"), or "0","1",... when absent.  The count must be the model's. */
static cg_status class_names(const cg_metadata *md, cg_prediction *p) {
    int64_t n = 0;
    char **names = NULL;
    cg_status st = cg_model_classes(md, &n, &names);
    if (st) return st;
    if (names && n != p->n_classes) {
        cg_model_classes_free(n, names);
        return cg_fail(CG_ERR_FORMAT, "predict: metadata \"classes\" names %lld classes, the model has %lld",
                       (long long)n, (long long)p->n_classes);
    }
    if (names) {
        p->names = names;
        return CG_OK;
    }
    p->names = calloc((size_t)p->n_classes, sizeof *p->names);
    if (!p->names) return cg_fail(CG_ERR_NOMEM, "predict: out of memory");
    for (int64_t k = 0; k < p->n_classes; k++) {
        char buf[24];
        snprintf(buf, sizeof buf, "%lld", (long long)k);
        if (!(p->names[k] = strdup(buf))) return cg_fail(CG_ERR_NOMEM, "predict: out of memory");
    }
    return CG_OK;
}

cg_status cg_model_predict(cg_module *m, const cg_metadata *md, cg_tensor *x, cg_prediction *out) {
    if (!out) return cg_fail(CG_ERR_VALUE, "predict: NULL output");
    memset(out, 0, sizeof *out);
    if (!m || !x) return x ? cg_fail(CG_ERR_VALUE, "predict: NULL model") : cg_last_status();
    const char *loss_name = cg_metadata_get(md, "loss");
    const cg_loss *loss = loss_name ? cg_loss_by_name(loss_name) : NULL;
    if (loss_name && !loss) return cg_last_status();

    bool was_training = m->training; /* restored below, as learn.predict leaves the mode */
    cg_module_eval(m);
    cg_scope_begin();
    cg_no_grad_begin();
    cg_status st = CG_OK;
    cg_tensor *y = cg_module_forward(m, x);
    if (y && y->ndim >= 1 && y->shape[0] != 1) {
        char s[64];
        st = cg_fail(CG_ERR_SHAPE, "predict: expected a batch of one, the model returned %s",
                     cg_shape_str(y, s, sizeof s));
    }
    if (!st && !y) st = cg_last_status();
    if (!st) y = cg_reshape(y, CG_SHAPE(-1)); /* [n_out] */
    int64_t n_out = y ? cg_numel(y) : 0;
    /* One output: sigmoid gives P(label 1); several: the loss's activation (softmax). */
    cg_tensor *probs = NULL;
    if (!st) {
        if (loss && !loss->activation) probs = y; /* a regression loss: outputs as they are */
        else if (n_out == 1) probs = cg_sigmoid(y);
        else probs = loss ? loss->activation(y) : cg_softmax(y, -1);
        probs = cg_contiguous(probs);
        if (!probs) st = cg_last_status();
    }
    if (!st) {
        out->n_classes = n_out == 1 && !(loss && !loss->activation) ? 2 : n_out;
        out->probs = malloc((size_t)out->n_classes * sizeof *out->probs);
        if (!out->probs) st = cg_fail(CG_ERR_NOMEM, "predict: out of memory");
    }
    if (!st) {
        const float *pd = cg_data_f32(probs);
        if (out->n_classes == 2 && n_out == 1) {
            out->probs[0] = 1.0 - pd[0];
            out->probs[1] = pd[0];
        } else {
            for (int64_t i = 0; i < n_out; i++) out->probs[i] = pd[i];
        }
        for (int64_t i = 1; i < out->n_classes; i++)
            if (out->probs[i] > out->probs[out->label]) out->label = i;
        out->probability = out->probs[out->label];
        st = class_names(md, out);
        if (!st) out->name = out->names[out->label];
    }
    cg_no_grad_end();
    cg_scope_end();
    cg_module_train(m, was_training);
    if (st) cg_prediction_free(out);
    return st;
}
