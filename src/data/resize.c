/* Resizing images the way fastai's Resize item transform does (and PIL under it).
 *
 * fastai's Resize(size, method, pad_mode) on a PIL image of w x h
 * (fastai/vision/augment.py, Resize.encodes and Image._do_crop_pad):
 *   squish  resize the whole image to size.
 *   crop    m = min(w/sw, h/sh) (pad: max); the box cp = (int(m*sw), int(m*sh))
 *           has the target's aspect ratio and just fits in the image (pad: just
 *           holds it); its top-left corner is tl = (int(px*(w-cpw)), int(py*(h-cph)))
 *           with (px, py) = (0.5, 0.5) on the validation set and two uniform
 *           draws in [0,1) per item on the training set.  The image is cropped to
 *           the part of the box inside it, padded where the box lies outside it
 *           (torchvision's pad: numpy's 'reflect', 'edge' or zeros), and resized
 *           to size.
 * Every size and position above is a double computed as Python computes it
 * (IEEE division and product, truncation toward zero), so the boxes are
 * fastai's exactly.
 *
 * RESAMPLING is PIL's Image.resize(size, Image.BILINEAR) (Pillow's
 * libImaging/Resample.c, which fastai calls): a separable convolution with the
 * triangle filter, widened by the scale when shrinking (so shrinking averages,
 * PIL's antialiasing):
 *   scale = in/out; fs = max(scale, 1); support = fs
 *   output pixel i: centre c = (i + 0.5) * scale,
 *     taps j in [int(c - support + 0.5), int(c + support + 0.5)) clipped to the image,
 *     weight(j) = max(0, 1 - |(j - c + 0.5) / fs|), normalised to sum 1,
 *     then converted to 22-bit fixed point: int(w * 2^22 + 0.5);
 *   out = clamp((2^21 + sum(pixel * weight)) >> 22, 0, 255).
 * The horizontal pass runs first and its result is rounded to uint8; then the
 * vertical pass.  A pass whose size does not change is skipped (with the
 * weights above it would be the identity anyway).  tests/support/
 * resize_reference.py prints PIL's output for the test images. */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "cgrad/image.h"
#include "data/image_item.h"

#define PRECISION_BITS 22

/* ---- PIL's bilinear resampling ------------------------------------------ */

/* Fixed-point weights of one pass: out[i] = sum_k w[i*ksize + k] * in[start[i] + k]
 * for k < count[i].  Pillow's precompute_coeffs + normalize_coeffs_8bpc. */
typedef struct pass_coeffs {
    int64_t ksize;
    int64_t *start, *count;
    int32_t *w;
} pass_coeffs;

static void coeffs_free(pass_coeffs *p) {
    free(p->start);
    free(p->count);
    free(p->w);
}

static cg_status coeffs_make(int64_t in, int64_t out, pass_coeffs *p) {
    memset(p, 0, sizeof *p);
    double scale = (double)in / (double)out, fs = scale < 1.0 ? 1.0 : scale;
    double support = 1.0 * fs; /* the bilinear filter's support is 1 */
    p->ksize = (int64_t)ceil(support) * 2 + 1;
    double *k = malloc((size_t)p->ksize * sizeof *k);
    p->start = malloc((size_t)out * sizeof *p->start);
    p->count = malloc((size_t)out * sizeof *p->count);
    p->w = calloc((size_t)out * (size_t)p->ksize, sizeof *p->w);
    if (!k || !p->start || !p->count || !p->w) {
        free(k);
        coeffs_free(p);
        return cg_fail(CG_ERR_NOMEM, "resize: out of memory for %lld -> %lld weights",
                       (long long)in, (long long)out);
    }
    for (int64_t i = 0; i < out; i++) {
        double center = ((double)i + 0.5) * scale, ss = 1.0 / fs, ww = 0.0;
        int64_t lo = (int64_t)(center - support + 0.5), hi = (int64_t)(center + support + 0.5);
        if (lo < 0) lo = 0;
        if (hi > in) hi = in;
        int64_t n = hi - lo;
        for (int64_t j = 0; j < n; j++) {
            double x = fabs(((double)(j + lo) - center + 0.5) * ss);
            k[j] = x < 1.0 ? 1.0 - x : 0.0;
            ww += k[j];
        }
        for (int64_t j = 0; j < n; j++) {
            double v = ww != 0.0 ? k[j] / ww : k[j];
            p->w[i * p->ksize + j] = (int32_t)(v < 0 ? -0.5 + v * (1 << PRECISION_BITS)
                                                     : 0.5 + v * (1 << PRECISION_BITS));
        }
        p->start[i] = lo;
        p->count[i] = n;
    }
    free(k);
    return CG_OK;
}

static inline uint8_t clip8(int64_t acc) {
    int64_t v = acc >> PRECISION_BITS; /* arithmetic shift: floor, as Pillow's lookup */
    return (uint8_t)(v < 0 ? 0 : v > 255 ? 255 : v);
}

/* One plane: src [h, w] -> dst [oh, ow]. */
static cg_status resample_plane(const uint8_t *src, int64_t h, int64_t w, uint8_t *dst, int64_t oh,
                                int64_t ow, const pass_coeffs *hz, const pass_coeffs *vt,
                                uint8_t *tmp) {
    const uint8_t *rows = src;
    if (hz) { /* horizontal: [h, w] -> tmp [h, ow] */
        for (int64_t y = 0; y < h; y++)
            for (int64_t x = 0; x < ow; x++) {
                int64_t acc = 1 << (PRECISION_BITS - 1);
                const uint8_t *in = src + y * w + hz->start[x];
                const int32_t *k = hz->w + x * hz->ksize;
                for (int64_t j = 0; j < hz->count[x]; j++) acc += (int64_t)in[j] * k[j];
                tmp[y * ow + x] = clip8(acc);
            }
        rows = tmp;
    }
    if (vt) { /* vertical: [h, ow] -> dst [oh, ow] */
        for (int64_t y = 0; y < oh; y++) {
            const int32_t *k = vt->w + y * vt->ksize;
            for (int64_t x = 0; x < ow; x++) {
                int64_t acc = 1 << (PRECISION_BITS - 1);
                const uint8_t *in = rows + vt->start[y] * ow + x;
                for (int64_t j = 0; j < vt->count[y]; j++) acc += (int64_t)in[j * ow] * k[j];
                dst[y * ow + x] = clip8(acc);
            }
        }
    } else {
        memcpy(dst, rows, (size_t)(oh * ow));
    }
    return CG_OK;
}

cg_status cg_resize_bilinear_u8(const uint8_t *src, int64_t c, int64_t h, int64_t w, uint8_t *dst,
                                int64_t oh, int64_t ow) {
    if (h < 1 || w < 1 || oh < 1 || ow < 1)
        return cg_fail(CG_ERR_VALUE, "resize: sizes must be positive, got %lldx%lld -> %lldx%lld",
                       (long long)h, (long long)w, (long long)oh, (long long)ow);
    if (h == oh && w == ow) { /* PIL returns a copy */
        memcpy(dst, src, (size_t)(c * h * w));
        return CG_OK;
    }
    pass_coeffs hz, vt;
    bool need_h = w != ow, need_v = h != oh;
    cg_status st = need_h ? coeffs_make(w, ow, &hz) : CG_OK;
    if (st == CG_OK && need_v) {
        st = coeffs_make(h, oh, &vt);
        if (st != CG_OK && need_h) coeffs_free(&hz);
    }
    if (st != CG_OK) return st;
    uint8_t *tmp = need_h ? malloc((size_t)(h * ow)) : NULL;
    if (need_h && !tmp) st = cg_fail(CG_ERR_NOMEM, "resize: out of memory for a %lldx%lld plane",
                                     (long long)h, (long long)ow);
    for (int64_t p = 0; st == CG_OK && p < c; p++)
        st = resample_plane(src + p * h * w, h, w, dst + p * oh * ow, oh, ow, need_h ? &hz : NULL,
                            need_v ? &vt : NULL, tmp);
    free(tmp);
    if (need_h) coeffs_free(&hz);
    if (need_v) coeffs_free(&vt);
    return st;
}

/* ---- crop and pad ------------------------------------------------------- */

/* numpy.pad's index for position i of a padded axis over n source pixels. */
static int64_t pad_index(int64_t i, int64_t n, cg_pad_mode mode) {
    if (i >= 0 && i < n) return i;
    if (mode == CG_PAD_ZEROS) return -1;
    if (mode == CG_PAD_BORDER || n == 1) return i < 0 ? 0 : n - 1;
    int64_t period = 2 * (n - 1), j = i % period; /* 'reflect': mirrored, edge not repeated */
    if (j < 0) j += period;
    return j < n ? j : period - j;
}

cg_status cg_crop_pad_u8(const uint8_t *src, int64_t c, int64_t h, int64_t w, int64_t top,
                         int64_t left, int64_t oh, int64_t ow, cg_pad_mode mode, uint8_t *dst) {
    /* fastai crops to the part of the box inside the image, then pads that crop:
     * the padding reflects the cropped image, not the whole one. */
    int64_t y0 = top > 0 ? top : 0, x0 = left > 0 ? left : 0;
    int64_t y1 = top + oh < h ? top + oh : h, x1 = left + ow < w ? left + ow : w;
    int64_t ch = y1 - y0, cw = x1 - x0;
    if (ch < 1 || cw < 1)
        return cg_fail(CG_ERR_VALUE, "crop_pad: the box %lldx%lld at (%lld, %lld) misses the %lldx%lld "
                       "image", (long long)oh, (long long)ow, (long long)top, (long long)left,
                       (long long)h, (long long)w);
    int64_t pad_top = top < 0 ? -top : 0, pad_left = left < 0 ? -left : 0;
    for (int64_t p = 0; p < c; p++)
        for (int64_t y = 0; y < oh; y++) {
            int64_t sy = pad_index(y - pad_top, ch, mode);
            uint8_t *out = dst + (p * oh + y) * ow;
            if (sy < 0) {
                memset(out, 0, (size_t)ow);
                continue;
            }
            const uint8_t *row = src + (p * h + y0 + sy) * w + x0;
            for (int64_t x = 0; x < ow; x++) {
                int64_t sx = pad_index(x - pad_left, cw, mode);
                out[x] = sx < 0 ? 0 : row[sx];
            }
        }
    return CG_OK;
}

/* ---- fastai's Resize --------------------------------------------------- */

void cg_resize_box(int64_t h, int64_t w, const cg_resize_options *o, double pct_y, double pct_x,
                   int64_t *top, int64_t *left, int64_t *box_h, int64_t *box_w) {
    if (o->method == CG_RESIZE_SQUISH) {
        *top = *left = 0;
        *box_h = h, *box_w = w;
        return;
    }
    double rw = (double)w / (double)o->width, rh = (double)h / (double)o->height;
    bool take_w = o->method == CG_RESIZE_PAD ? rw > rh : rw < rh;
    double m = take_w ? rw : rh;
    *box_w = (int64_t)(m * (double)o->width);
    *box_h = (int64_t)(m * (double)o->height);
    *left = (int64_t)(pct_x * (double)(w - *box_w));
    *top = (int64_t)(pct_y * (double)(h - *box_h));
}

cg_status cg_resize_item_u8(const uint8_t *src, int64_t c, int64_t h, int64_t w,
                            const cg_resize_options *o, double pct_y, double pct_x, uint8_t *dst) {
    int64_t top, left, bh, bw;
    cg_resize_box(h, w, o, pct_y, pct_x, &top, &left, &bh, &bw);
    if (bh < 1 || bw < 1)
        return cg_fail(CG_ERR_VALUE, "resize: a %lldx%lld image gives an empty %lldx%lld crop for size "
                       "%lldx%lld", (long long)h, (long long)w, (long long)bh, (long long)bw,
                       (long long)o->height, (long long)o->width);
    if (top == 0 && left == 0 && bh == h && bw == w)
        return cg_resize_bilinear_u8(src, c, h, w, dst, o->height, o->width);
    int64_t n;
    if (__builtin_mul_overflow(bh, bw, &n) || __builtin_mul_overflow(n, c, &n) || n > CG_IMAGE_MAX_BYTES)
        return cg_fail(CG_ERR_VALUE, "resize: a %lldx%lld pad box is too large", (long long)bh,
                       (long long)bw);
    uint8_t *box = malloc((size_t)n);
    if (!box) return cg_fail(CG_ERR_NOMEM, "resize: out of memory for a %lldx%lld box", (long long)bh,
                             (long long)bw);
    cg_status st = cg_crop_pad_u8(src, c, h, w, top, left, bh, bw, o->pad_mode, box);
    if (st == CG_OK) st = cg_resize_bilinear_u8(box, c, bh, bw, dst, o->height, o->width);
    free(box);
    return st;
}

/* ---- the tensor API (image.h) ------------------------------------------- */

/* img: uint8 [H,W] or [C,H,W]; a contiguous copy (or img itself, retained) in *c. */
static cg_status image_planes(const cg_tensor *img, const char *who, cg_tensor **c, int64_t *ch,
                              int64_t *h, int64_t *w) {
    char s[128];
    if (!img) return cg_last_status() != CG_OK ? cg_last_status()
                                               : cg_fail(CG_ERR_VALUE, "%s: NULL image", who);
    if (img->dtype != CG_UINT8 || (img->ndim != 2 && img->ndim != 3))
        return cg_fail(CG_ERR_SHAPE, "%s: expected a uint8 image [H,W] or [C,H,W], got %s %s", who,
                       cg_dtype_name(img->dtype), cg_shape_str(img, s, sizeof s));
    *ch = img->ndim == 3 ? img->shape[0] : 1;
    *h = img->shape[img->ndim - 2];
    *w = img->shape[img->ndim - 1];
    if (*ch < 1 || *h < 1 || *w < 1)
        return cg_fail(CG_ERR_SHAPE, "%s: empty image %s", who, cg_shape_str(img, s, sizeof s));
    *c = cg_contiguous((cg_tensor *)img);
    return *c ? CG_OK : cg_last_status();
}

static cg_status check_size(int64_t c, int64_t oh, int64_t ow, const char *who) {
    int64_t n;
    if (oh < 1 || ow < 1 || __builtin_mul_overflow(oh, ow, &n) || __builtin_mul_overflow(n, c, &n) ||
        n > CG_IMAGE_MAX_BYTES)
        return cg_fail(CG_ERR_VALUE, "%s: output size %lldx%lld (x%lld channels) must be positive "
                       "and at most %lld bytes", who, (long long)oh, (long long)ow, (long long)c,
                       (long long)CG_IMAGE_MAX_BYTES);
    return CG_OK;
}

/* A new image shaped like img ([H,W] or [C,H,W]) with size oh x ow.  Made in a
 * scope of our own and retained, so that this file owns it whatever scopes the
 * caller has open, and finish() may release it. */
static cg_tensor *image_like(const cg_tensor *img, int64_t c, int64_t oh, int64_t ow) {
    cg_scope_begin();
    cg_tensor *t = img->ndim == 2 ? cg_empty(CG_UINT8, 2, (int64_t[]){oh, ow})
                                  : cg_empty(CG_UINT8, 3, (int64_t[]){c, oh, ow});
    if (t) cg_retain(t);
    cg_scope_end();
    return t;
}

/* Releases src; on failure releases out too, else hands it to the caller (its
 * innermost scope, when one is open, as for any tensor a call returns). */
static cg_tensor *finish(cg_tensor *out, cg_tensor *src, cg_status st) {
    cg_release(src);
    if (st != CG_OK) {
        cg_release(out);
        return NULL;
    }
    return cg_scope_adopt(out);
}

cg_tensor *cg_image_resize(const cg_tensor *img, int64_t height, int64_t width) {
    cg_tensor *c = NULL;
    int64_t ch, h, w;
    cg_scope_begin();
    cg_status st = image_planes(img, "resize", &c, &ch, &h, &w);
    if (st == CG_OK) cg_retain(c);
    cg_scope_end();
    if (st == CG_OK) st = check_size(ch, height, width, "resize");
    cg_tensor *out = st == CG_OK ? image_like(img, ch, height, width) : NULL;
    if (st == CG_OK && !out) st = cg_last_status();
    if (st == CG_OK) st = cg_resize_bilinear_u8(cg_data(c), ch, h, w, cg_data(out), height, width);
    return finish(out, c, st);
}

cg_tensor *cg_image_crop_pad(const cg_tensor *img, int64_t top, int64_t left, int64_t height,
                             int64_t width, cg_pad_mode mode) {
    cg_tensor *c = NULL;
    int64_t ch, h, w;
    cg_scope_begin();
    cg_status st = image_planes(img, "crop_pad", &c, &ch, &h, &w);
    if (st == CG_OK) cg_retain(c);
    cg_scope_end();
    if (st == CG_OK && (mode < CG_PAD_REFLECTION || mode > CG_PAD_BORDER))
        st = cg_fail(CG_ERR_VALUE, "crop_pad: unknown pad mode %d", (int)mode);
    if (st == CG_OK) st = check_size(ch, height, width, "crop_pad");
    cg_tensor *out = st == CG_OK ? image_like(img, ch, height, width) : NULL;
    if (st == CG_OK && !out) st = cg_last_status();
    if (st == CG_OK)
        st = cg_crop_pad_u8(cg_data(c), ch, h, w, top, left, height, width, mode, cg_data(out));
    return finish(out, c, st);
}

cg_status cg_resize_options_check(const cg_resize_options *o) {
    if (o->height == 0 && o->width == 0) return CG_OK;
    if (o->height < 1 || o->width < 1 || o->height > CG_RESIZE_MAX || o->width > CG_RESIZE_MAX)
        return cg_fail(CG_ERR_VALUE, "resize: size %lldx%lld must be between 1 and %d on each side",
                       (long long)o->height, (long long)o->width, CG_RESIZE_MAX);
    if (o->method < CG_RESIZE_CROP || o->method > CG_RESIZE_SQUISH)
        return cg_fail(CG_ERR_VALUE, "resize: unknown method %d", (int)o->method);
    if (o->pad_mode < CG_PAD_REFLECTION || o->pad_mode > CG_PAD_BORDER)
        return cg_fail(CG_ERR_VALUE, "resize: unknown pad mode %d", (int)o->pad_mode);
    return CG_OK;
}

cg_tensor *cg_image_resize_item(const cg_tensor *img, const cg_resize_options *o, double pct_y,
                                double pct_x) {
    if (!o) {
        cg_fail(CG_ERR_VALUE, "resize: NULL options");
        return NULL;
    }
    if (cg_resize_options_check(o) != CG_OK) return NULL;
    if (!(pct_y >= 0 && pct_y <= 1 && pct_x >= 0 && pct_x <= 1)) {
        cg_fail(CG_ERR_VALUE, "resize: the crop position (%g, %g) must lie in [0, 1]", pct_y, pct_x);
        return NULL;
    }
    cg_tensor *c = NULL;
    int64_t ch, h, w;
    cg_scope_begin();
    cg_status st = image_planes(img, "resize", &c, &ch, &h, &w);
    if (st == CG_OK) cg_retain(c);
    cg_scope_end();
    if (st == CG_OK && o->height == 0) { /* no resize: a copy */
        cg_tensor *copy = cg_clone(c);
        cg_release(c);
        return copy;
    }
    cg_tensor *out = st == CG_OK ? image_like(img, ch, o->height, o->width) : NULL;
    if (st == CG_OK && !out) st = cg_last_status();
    if (st == CG_OK) st = cg_resize_item_u8(cg_data(c), ch, h, w, o, pct_y, pct_x, cg_data(out));
    return finish(out, c, st);
}

cg_status cg_resize_method_parse(const char *name, cg_resize_method *out) {
    if (name && !strcmp(name, "crop")) *out = CG_RESIZE_CROP;
    else if (name && !strcmp(name, "pad")) *out = CG_RESIZE_PAD;
    else if (name && (!strcmp(name, "squish") || !strcmp(name, "squash"))) *out = CG_RESIZE_SQUISH;
    else return cg_fail(CG_ERR_VALUE, "resize method must be crop, pad or squish (squash), got '%s'",
                        name ? name : "(null)");
    return CG_OK;
}
