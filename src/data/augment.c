/* Data augmentation for image batches: the affine part of fastai's
 * aug_transforms(do_flip=False), as a dataset over another one.
 *
 * fastai (fastai/vision/augment.py) draws, per item of a training batch,
 *   rotate_mat  theta uniform in [-max_rotate, max_rotate] degrees, with
 *               probability p_affine (else 0):  [[cos, sin, 0], [-sin, cos, 0]]
 *   zoom_mat    z uniform in [min_zoom, max_zoom] with probability p_affine
 *               (else 1), s = 1/z, and a centre (col_pct, row_pct) uniform in
 *               [0,1)^2:  [[s, 0, (1-s)(2 col_pct - 1)], [0, s, (1-s)(2 row_pct - 1)]]
 * and multiplies them (M = rotate @ zoom, 2x3 on homogeneous coordinates).
 * F.affine_grid(M) maps each output pixel's normalised coordinates (x, y) in
 * [-1,1] (align_corners=True: -1 and 1 are the centres of the corner pixels)
 * to the point of the input it samples, and F.grid_sample reads it there,
 * bilinear, with padding_mode (fastai's default 'reflection').  cgrad adds an
 * optional translation (max_translate, normalised units, uniform per axis;
 * fastai's only shift is the zoom's centre) and keeps fastai's Warp and
 * lighting out: a digit's contrast and perspective barely vary.
 *
 * Per item, the draws are a pure function of (seed, item index, how many times
 * the item has been made), like Resize's random boxes (image_dataset.c), so a
 * run is the same whatever the DataLoader's worker threads do.  They are not
 * torch's draws.
 *
 * Only the training set is augmented: cg_image_folder_datasets wraps its
 * training dataset alone (fastai's batch transforms have split_idx 0). */
#include <math.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>

#include "cgrad/dataset.h"
#include "cgrad/image.h"

#define PI 3.14159265358979323846

cg_augment_options cg_augment_defaults(void) {
    return (cg_augment_options){.max_rotate = 10.0, .min_zoom = 1.0, .max_zoom = 1.1, .p_affine = 0.75,
                                .pad_mode = CG_PAD_REFLECTION};
}

cg_status cg_augment_options_check(const cg_augment_options *o) {
    if (!o) return cg_fail(CG_ERR_VALUE, "augment: NULL options");
    if (!(o->max_rotate >= 0 && o->max_rotate <= 180))
        return cg_fail(CG_ERR_VALUE, "augment: max_rotate must be 0 to 180 degrees, got %g", o->max_rotate);
    if (!(o->min_zoom > 0 && o->min_zoom <= o->max_zoom && o->max_zoom <= 10))
        return cg_fail(CG_ERR_VALUE, "augment: zoom must satisfy 0 < min_zoom <= max_zoom <= 10, got %g and %g",
                       o->min_zoom, o->max_zoom);
    if (!(o->max_translate >= 0 && o->max_translate <= 2))
        return cg_fail(CG_ERR_VALUE, "augment: max_translate must be 0 to 2 (normalised units), got %g",
                       o->max_translate);
    if (!(o->p_affine >= 0 && o->p_affine <= 1))
        return cg_fail(CG_ERR_VALUE, "augment: p_affine must be in [0, 1], got %g", o->p_affine);
    if (o->pad_mode != CG_PAD_REFLECTION && o->pad_mode != CG_PAD_ZEROS && o->pad_mode != CG_PAD_BORDER)
        return cg_fail(CG_ERR_VALUE, "augment: unknown pad mode %d", (int)o->pad_mode);
    return CG_OK;
}

/* ---- the draws -------------------------------------------------------------- */

/* splitmix64's finaliser: a stream of independent-looking words from a counter. */
static uint64_t mix64(uint64_t z) {
    z += UINT64_C(0x9e3779b97f4a7c15);
    z = (z ^ (z >> 30)) * UINT64_C(0xbf58476d1ce4e5b9);
    z = (z ^ (z >> 27)) * UINT64_C(0x94d049bb133111eb);
    return z ^ (z >> 31);
}

/* uniform in [0,1) with 53 bits */
static double uniform01(uint64_t *state) {
    *state = mix64(*state);
    return (double)(*state >> 11) * (1.0 / 9007199254740992.0);
}

void cg_augment_draw(const cg_augment_options *o, int64_t item, unsigned draw, double m[6]) {
    uint64_t st = mix64(o->seed ^ mix64((uint64_t)item ^ ((uint64_t)draw << 40)));
    /* every draw is taken whatever p_affine says, so the streams of the
     * parameters do not shift when one of them is not applied */
    double u_rot_p = uniform01(&st), u_rot = uniform01(&st);
    double u_zoom_p = uniform01(&st), u_zoom = uniform01(&st);
    double col_pct = uniform01(&st), row_pct = uniform01(&st);
    double u_tx = uniform01(&st), u_ty = uniform01(&st);
    double deg = u_rot_p < o->p_affine ? -o->max_rotate + 2.0 * o->max_rotate * u_rot : 0.0;
    double z = u_zoom_p < o->p_affine ? o->min_zoom + (o->max_zoom - o->min_zoom) * u_zoom : 1.0;
    double th = deg * PI / 180.0, c = cos(th), s = sin(th), k = 1.0 / z;
    double zc = (1.0 - k) * (2.0 * col_pct - 1.0), zr = (1.0 - k) * (2.0 * row_pct - 1.0);
    double tx = o->max_translate * (2.0 * u_tx - 1.0), ty = o->max_translate * (2.0 * u_ty - 1.0);
    /* rotate @ zoom, then the translation added to the sampled point (the sums
     * start from +0.0 so that nothing applied is the identity bit for bit, no -0) */
    m[0] = c * k, m[1] = 0.0 + s * k, m[2] = 0.0 + c * zc + s * zr + tx;
    m[3] = 0.0 - s * k, m[4] = c * k, m[5] = 0.0 + c * zr - s * zc + ty;
}

/* ---- the sampling ------------------------------------------------------------- */

/* grid_sample's source index fix-up (align_corners=True) for border and
 * reflection; zeros leaves it alone (taps outside read 0). */
static double fix_coord(double x, int64_t size, cg_pad_mode mode) {
    if (mode == CG_PAD_ZEROS) return x;
    double hi = (double)(size - 1);
    if (mode == CG_PAD_REFLECTION) {
        if (size == 1) return 0.0;
        /* reflect about 0 and size-1: period 2(size-1) */
        x = fabs(x);
        double flips = floor(x / hi), extra = fmod(x, hi);
        x = fmod(flips, 2.0) == 0.0 ? extra : hi - extra;
    }
    return x < 0 ? 0 : x > hi ? hi : x;
}

static float tap(const float *plane, int64_t h, int64_t w, int64_t y, int64_t x) {
    return y >= 0 && y < h && x >= 0 && x < w ? plane[y * w + x] : 0.0f;
}

cg_status cg_affine_sample(const float *src, int64_t c, int64_t h, int64_t w, const double m[6],
                           cg_pad_mode mode, float *dst) {
    if (!src || !dst || !m) return cg_fail(CG_ERR_VALUE, "affine sample: NULL buffer");
    if (c <= 0 || h <= 0 || w <= 0)
        return cg_fail(CG_ERR_SHAPE, "affine sample: image [%lld, %lld, %lld] is empty", (long long)c,
                       (long long)h, (long long)w);
    /* The matrix on normalised coordinates, xn = 2j/(w-1) - 1, yn = 2i/(h-1) - 1,
     * as pixel coordinates: xs = (m0 xn + m1 yn + m2 + 1)(w-1)/2, so
     *   xs = ax j + bx i + cx,  ys = ay j + by i + cy
     * (for the identity exactly xs = j, ys = i; a side of 1 has the centre
     * only: its normalised coordinate is 0). */
    double sx = (double)(w - 1) / 2.0, sy = (double)(h - 1) / 2.0;
    double ux = w > 1 ? 2.0 / (double)(w - 1) : 0.0, uy = h > 1 ? 2.0 / (double)(h - 1) : 0.0;
    double x0n = w > 1 ? -1.0 : 0.0, y0n = h > 1 ? -1.0 : 0.0; /* pixel 0's normalised coordinate */
    double ax = m[0] * ux * sx, bx = m[1] * uy * sx, cx = (m[0] * x0n + m[1] * y0n + m[2] + 1.0) * sx;
    double ay = m[3] * ux * sy, by = m[4] * uy * sy, cy = (m[3] * x0n + m[4] * y0n + m[5] + 1.0) * sy;
    for (int64_t i = 0; i < h; i++)
        for (int64_t j = 0; j < w; j++) {
            double xs = fix_coord(ax * (double)j + bx * (double)i + cx, w, mode);
            double ys = fix_coord(ay * (double)j + by * (double)i + cy, h, mode);
            double fx = floor(xs), fy = floor(ys);
            int64_t x0 = (int64_t)fx, y0 = (int64_t)fy;
            float wx = (float)(xs - fx), wy = (float)(ys - fy);
            for (int64_t p = 0; p < c; p++) {
                const float *pl = src + p * h * w;
                /* the far taps are skipped at weight 0, so a pixel read exactly
                 * is its own value (the identity gives the input back bit for bit) */
                float top = tap(pl, h, w, y0, x0), bot = 0.0f;
                if (wx != 0.0f) top = top * (1.0f - wx) + tap(pl, h, w, y0, x0 + 1) * wx;
                if (wy != 0.0f) {
                    bot = tap(pl, h, w, y0 + 1, x0);
                    if (wx != 0.0f) bot = bot * (1.0f - wx) + tap(pl, h, w, y0 + 1, x0 + 1) * wx;
                    top = top * (1.0f - wy) + bot * wy;
                }
                dst[p * h * w + i * w + j] = top;
            }
        }
    return CG_OK;
}

/* ---- the dataset ---------------------------------------------------------------- */

typedef struct augment_ctx {
    cg_dataset *inner;
    cg_augment_options o;
    atomic_uint *made; /* times each item has been made: its draw number */
    int64_t n;
} augment_ctx;

static int64_t aug_len(void *ctx) { return ((augment_ctx *)ctx)->n; }

static void aug_free(void *ctx) {
    augment_ctx *a = ctx;
    cg_dataset_release(a->inner);
    free(a->made);
    free(a);
}

/* x [n, C, H, W] or [n, H, W] (an item: [C,H,W] or [H,W]) float32 -> a new
 * tensor, item k transformed with the draw of item index[k]. */
static cg_status augment_batch(augment_ctx *a, cg_tensor *x, const int64_t *index, int64_t n, bool batched,
                               cg_tensor **out) {
    int item_dims = x->ndim - (batched ? 1 : 0);
    if (x->dtype != CG_FLOAT32 || (item_dims != 2 && item_dims != 3))
        return cg_fail(CG_ERR_FORMAT, "augment: %s items must be float32 images [C,H,W] or [H,W], got %s with %d dims",
                       cg_dataset_kind(a->inner), cg_dtype_name(x->dtype), item_dims);
    int64_t h = x->shape[x->ndim - 2], w = x->shape[x->ndim - 1];
    int64_t c = item_dims == 3 ? x->shape[x->ndim - 3] : 1;
    cg_tensor *xc = cg_contiguous(x);
    cg_tensor *y = xc ? cg_empty(CG_FLOAT32, x->ndim, x->shape) : NULL;
    if (!y) return cg_last_status();
    const float *src = cg_data(xc);
    float *dst = cg_data(y);
    int64_t item = c * h * w;
    for (int64_t k = 0; k < n; k++) {
        double m[6];
        cg_augment_draw(&a->o, index[k], atomic_fetch_add(&a->made[index[k]], 1u), m);
        cg_status st = cg_affine_sample(src + k * item, c, h, w, m, a->o.pad_mode, dst + k * item);
        if (st != CG_OK) return st;
    }
    *out = y;
    return CG_OK;
}

static cg_status aug_get(void *ctx, int64_t i, cg_tensor **x, cg_tensor **y) {
    augment_ctx *a = ctx;
    cg_status st = cg_dataset_item(a->inner, i, x, y);
    return st != CG_OK ? st : augment_batch(a, *x, &i, 1, false, x);
}

static cg_status aug_get_batch(void *ctx, const int64_t *idx, int64_t n, cg_tensor **xb, cg_tensor **yb) {
    augment_ctx *a = ctx;
    cg_status st = cg_dataset_batch(a->inner, idx, n, xb, yb);
    return st != CG_OK ? st : augment_batch(a, *xb, idx, n, true, xb);
}

static const char *aug_source(void *ctx, int64_t i) {
    return cg_dataset_item_source(((augment_ctx *)ctx)->inner, i);
}

cg_dataset *cg_augment_dataset(cg_dataset *inner, const cg_augment_options *o) {
    if (!inner) {
        cg_fail(CG_ERR_VALUE, "augment: NULL dataset");
        return NULL;
    }
    if (cg_augment_options_check(o) != CG_OK) {
        cg_dataset_release(inner);
        return NULL;
    }
    int64_t n = cg_dataset_len(inner);
    augment_ctx *a = calloc(1, sizeof *a);
    if (a) a->made = calloc((size_t)(n > 0 ? n : 1), sizeof *a->made);
    if (!a || !a->made) {
        if (a) free(a->made);
        free(a);
        cg_dataset_release(inner);
        cg_fail(CG_ERR_NOMEM, "augment: out of memory for %lld items", (long long)n);
        return NULL;
    }
    for (int64_t k = 0; k < n; k++) atomic_init(&a->made[k], 0u);
    a->inner = inner, a->o = *o, a->n = n;
    static const cg_dataset_ops ops = {aug_len, aug_get, aug_get_batch, aug_free, aug_source};
    cg_dataset *ds = cg_dataset_new(cg_dataset_kind(inner), &ops, a);
    if (!ds) {
        aug_free(a);
        return NULL;
    }
    int64_t nc = 0;
    const char *const *names = cg_dataset_classes(inner, &nc);
    if (nc && cg_dataset_set_classes(ds, names, nc) != CG_OK) {
        cg_dataset_release(ds); /* frees a, and inner with it */
        return NULL;
    }
    cg_dataset_set_nbytes(ds, cg_dataset_nbytes(inner));
    return ds;
}
