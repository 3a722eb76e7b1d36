/* Datasets over decoded images held in memory as uint8 (image folders and IDX
 * files share it): each batch is made when it is asked for, on the
 * DataLoader's worker threads when it has some, by the steps fastai's
 * pipeline takes for an item:
 *   PILImage.create   the channel layout (decoded once, when the set is made;
 *                     a gray image stays one plane and is copied to the three
 *                     RGB channels here, which is what convert('RGB') gives);
 *   Resize            crop / pad / squish and PIL's bilinear resampling (resize.c),
 *                     the box at a random position on the training split;
 *   ToTensor          [C,H,W] (or a flat row with flatten);
 *   IntToFloatTensor  float32 x/255, straight into the batch tensor.
 * See include/cgrad/dataset.h. */
#include <omp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "data/image_item.h"

/* ---- the set ---------------------------------------------------------------- */

cg_image_set *cg_image_set_new(int64_t n) {
    cg_image_set *s = calloc(1, sizeof *s);
    size_t m = (size_t)(n > 0 ? n : 1);
    if (s) {
        s->n = n;
        s->pixels = calloc(m, sizeof *s->pixels);
        s->height = calloc(m, sizeof *s->height);
        s->width = calloc(m, sizeof *s->width);
        s->channels = calloc(m, sizeof *s->channels);
        s->labels = calloc(m, sizeof *s->labels);
        atomic_init(&s->refcount, 1);
    }
    if (!s || !s->pixels || !s->height || !s->width || !s->channels || !s->labels) {
        cg_image_set_release(s);
        cg_fail(CG_ERR_NOMEM, "images: out of memory for %lld images", (long long)n);
        return NULL;
    }
    return s;
}

void cg_image_set_release(cg_image_set *s) {
    if (!s || atomic_fetch_sub(&s->refcount, 1) != 1) return;
    if (!s->arena && !s->owner && s->pixels)
        for (int64_t i = 0; i < s->n; i++) free(s->pixels[i]);
    free(s->arena);
    cg_release(s->owner);
    free(s->pixels);
    free(s->height);
    free(s->width);
    free(s->channels);
    free(s->labels);
    cg_strlist_free(&s->names);
    free(s);
}

/* The planes kept of an image stored with `stored` channels when `channels`
 * are asked for (with 3, gray and gray+alpha keep one plane, RGBA drops alpha). */
static int kept_channels(int stored, int channels) {
    if (channels == 3) return stored <= 2 ? 1 : 3;
    return channels ? channels : stored;
}

/* Image i of the set from a decoded tensor ([H,W] or [C,H,W]), keeping the
 * planes `channels` asks for: with 3, a gray (or gray+alpha) image keeps its
 * gray plane only and RGBA drops alpha (PIL's convert('RGB')). */
static int store_decoded(cg_image_set *s, int64_t i, cg_tensor *t, int channels) {
    int64_t c = t->ndim == 3 ? t->shape[0] : 1, h = t->shape[t->ndim - 2], w = t->shape[t->ndim - 1];
    c = kept_channels((int)c, channels);
    size_t bytes = (size_t)(c * h * w);
    s->pixels[i] = malloc(bytes ? bytes : 1);
    if (!s->pixels[i]) return -1;
    memcpy(s->pixels[i], cg_data(t), bytes); /* the kept planes come first */
    s->channels[i] = (uint8_t)c;
    s->height[i] = (int32_t)h;
    s->width[i] = (int32_t)w;
    return 0;
}

cg_image_set *cg_image_set_decode(const cg_labelled_files *files, int channels) {
    int64_t n = (int64_t)files->paths.count;
    cg_image_set *s = cg_image_set_new(n);
    if (!s) return NULL;
    for (int64_t i = 0; i < n; i++) s->labels[i] = files->labels[i];
    for (int64_t i = 0; i < n; i++)
        if (cg_strlist_push(&s->names, files->paths.items[i]) != CG_OK) {
            cg_image_set_release(s);
            return NULL;
        }
    /* with 3, decode as stored and keep the gray plane of gray images */
    int decode_channels = channels == 3 ? 0 : channels;
    int64_t bad = n;
    cg_status bad_status = CG_OK;
    char bad_msg[1024] = "";
#pragma omp parallel for schedule(dynamic, 32) if (n >= 64)
    for (int64_t i = 0; i < n; i++) {
        cg_scope_begin(); /* the decoded tensor dies here, whatever scope the caller has open */
        cg_tensor *t = cg_image_read(files->paths.items[i], decode_channels);
        cg_status st = t ? CG_OK : cg_last_status();
        if (t && store_decoded(s, i, t, channels) != 0)
            st = cg_fail(CG_ERR_NOMEM, "image folder: %s: out of memory", files->paths.items[i]);
        cg_scope_end();
        if (st != CG_OK) {
#pragma omp critical(cg_image_set_decode_error)
            if (i < bad) { /* the first bad file in order, whatever the threads did */
                bad = i;
                bad_status = st;
                snprintf(bad_msg, sizeof bad_msg, "%s", cg_last_error());
            }
        }
    }
    if (bad < n) {
        cg_fail(bad_status, "%s", bad_msg);
        cg_image_set_release(s);
        return NULL;
    }
    for (int64_t i = 0; i < n; i++)
        s->bytes += (int64_t)s->channels[i] * s->height[i] * s->width[i];
    return s;
}

cg_image_set *cg_image_set_headers(const cg_labelled_files *files, int channels) {
    int64_t n = (int64_t)files->paths.count;
    cg_image_set *s = cg_image_set_new(n);
    if (!s) return NULL;
    for (int64_t i = 0; i < n; i++) {
        s->labels[i] = files->labels[i];
        int64_t h, w;
        int c;
        if (cg_strlist_push(&s->names, files->paths.items[i]) != CG_OK ||
            cg_image_info(files->paths.items[i], &h, &w, &c) != CG_OK) {
            cg_image_set_release(s);
            return NULL;
        }
        s->height[i] = (int32_t)h; /* PIL's pixel limit keeps both far below 2^31 */
        s->width[i] = (int32_t)w;
        s->channels[i] = (uint8_t)kept_channels(c, channels);
    }
    s->lazy_channels = channels;
    s->lazy = true;
    return s;
}

/* ---- items ------------------------------------------------------------------ */

typedef struct view_ctx {
    cg_image_set *set;
    int64_t *index; /* n set indices */
    int64_t n;
    cg_image_item_options o;
    atomic_uint *made; /* times each item has been made: the random boxes' draw number */
    char *kind;
} view_ctx;

static int64_t view_len(void *ctx) { return ((view_ctx *)ctx)->n; }

static void view_free(void *ctx) {
    view_ctx *v = ctx;
    cg_image_set_release(v->set);
    free(v->index);
    free(v->made);
    free(v->kind);
    free(v);
}

/* Item k's file (an image folder's), or NULL for a set without names (IDX). */
static const char *view_source(void *ctx, int64_t k) {
    const view_ctx *v = ctx;
    return v->set->names.count ? v->set->names.items[v->index[k]] : NULL;
}

static int out_channels(const view_ctx *v, int stored) { return v->o.channels ? v->o.channels : stored; }

/* Item k's shape (no batch dim); returns ndim. */
static int item_shape(const view_ctx *v, int64_t k, int64_t *shape) {
    int64_t i = v->index[k];
    int c = v->set->channels[i];
    int64_t h = v->o.resize.height ? v->o.resize.height : v->set->height[i];
    int64_t w = v->o.resize.width ? v->o.resize.width : v->set->width[i];
    int64_t oc = out_channels(v, c);
    if (v->o.flatten) {
        shape[0] = oc * h * w;
        return 1;
    }
    if (v->o.channels == 0 && c == 1) { /* a gray image as stored: [H,W] */
        shape[0] = h, shape[1] = w;
        return 2;
    }
    shape[0] = oc, shape[1] = h, shape[2] = w;
    return 3;
}

/* splitmix64: the random box positions, a pure function of (seed, item, draw). */
static uint64_t mix64(uint64_t z) {
    z += UINT64_C(0x9e3779b97f4a7c15);
    z = (z ^ (z >> 30)) * UINT64_C(0xbf58476d1ce4e5b9);
    z = (z ^ (z >> 27)) * UINT64_C(0x94d049bb133111eb);
    return z ^ (z >> 31);
}

static void random_position(uint64_t seed, int64_t k, unsigned draw, double *py, double *px) {
    uint64_t a = mix64(seed ^ mix64((uint64_t)k ^ ((uint64_t)draw << 40)));
    uint64_t b = mix64(a);
    /* fastai: self.pcts = (random.random(), random.random()), (x, y) order */
    *px = (double)(a >> 11) * (1.0 / 9007199254740992.0);
    *py = (double)(b >> 11) * (1.0 / 9007199254740992.0);
}

/* The file of image i, or "item i" for a set without names (IDX). */
static const char *set_name(const cg_image_set *s, int64_t i, char *buf, size_t n) {
    if (s->names.count) return s->names.items[i];
    snprintf(buf, n, "item %lld", (long long)i);
    return buf;
}

/* Writes item k into dst (item_shape's numel elements, float32 or uint8).  A
 * file decoded on demand lives in make_item's own scope, so that it dies with
 * the item, not with the batch. */
static cg_status make_item_in_scope(view_ctx *v, int64_t k, void *dst) {
    const cg_image_set *s = v->set;
    int64_t i = v->index[k];
    const uint8_t *src = s->pixels[i];
    int64_t c = s->channels[i], h = s->height[i], w = s->width[i];
    uint8_t *resized = NULL;
    cg_tensor *decoded = NULL;
    if (s->lazy) { /* decode_on_demand: the file, now, as the set recorded it */
        decoded = cg_image_read(s->names.items[i], s->lazy_channels == 3 ? 0 : s->lazy_channels);
        if (!decoded) return cg_last_status();
        int64_t dc = decoded->ndim == 3 ? decoded->shape[0] : 1;
        if (decoded->shape[decoded->ndim - 2] != h || decoded->shape[decoded->ndim - 1] != w ||
            kept_channels((int)dc, s->lazy_channels) != c) {
            return cg_fail(CG_ERR_STATE, "%s: %s changed since the dataset was made (it was %lldx%lld)",
                           v->kind, s->names.items[i], (long long)h, (long long)w);
        }
        src = cg_data(decoded);
    }
    if (v->o.resize.height) {
        double py = 0.5, px = 0.5; /* the validation set's centre */
        if (v->o.random_crop && v->o.resize.method != CG_RESIZE_SQUISH)
            random_position(v->o.seed, k, atomic_fetch_add(&v->made[k], 1u), &py, &px);
        int64_t oh = v->o.resize.height, ow = v->o.resize.width;
        resized = malloc((size_t)(c * oh * ow));
        if (!resized) {
            char nb[64];
            return cg_fail(CG_ERR_NOMEM, "%s: out of memory resizing %s", v->kind, set_name(s, i, nb, sizeof nb));
        }
        cg_status st = cg_resize_item_u8(src, c, h, w, &v->o.resize, py, px, resized);
        if (st != CG_OK) {
            char why[512], nb[64]; /* cg_fail must not read the message it overwrites */
            snprintf(why, sizeof why, "%s", cg_last_error());
            free(resized);
            return cg_fail(st, "%s: %s: %s", v->kind, set_name(s, i, nb, sizeof nb), why);
        }
        src = resized, h = oh, w = ow;
    }
    int64_t oc = out_channels(v, (int)c), plane = h * w;
    size_t elem = v->o.to_float ? sizeof(float) : 1;
    for (int64_t p = 0; p < oc; p++) /* a gray plane goes to every channel */
        cg_image_item_store(src + (c == 1 ? 0 : p) * plane, plane, (char *)dst + (size_t)(p * plane) * elem,
                            v->o.to_float);
    free(resized);
    return CG_OK;
}

static cg_status make_item(view_ctx *v, int64_t k, void *dst) {
    cg_scope_begin();
    cg_status st = make_item_in_scope(v, k, dst);
    cg_scope_end();
    return st;
}

static cg_status view_get(void *ctx, int64_t k, cg_tensor **x, cg_tensor **y) {
    view_ctx *v = ctx;
    int64_t shape[3];
    int ndim = item_shape(v, k, shape);
    *x = cg_empty(v->o.to_float ? CG_FLOAT32 : CG_UINT8, ndim, shape);
    if (!*x) return cg_last_status();
    cg_status st = make_item(v, k, cg_data(*x));
    if (st != CG_OK) return st;
    *y = cg_scalar_of(CG_INT64, (double)v->set->labels[v->index[k]]);
    return *y ? CG_OK : cg_last_status();
}

/* "[3, 28, 28]" */
static const char *dims_str(int ndim, const int64_t *shape, char *buf, size_t n) {
    size_t used = (size_t)snprintf(buf, n, "[");
    for (int d = 0; d < ndim && used < n; d++)
        used += (size_t)snprintf(buf + used, n - used, d ? ", %lld" : "%lld", (long long)shape[d]);
    if (used < n) snprintf(buf + used, n - used, "]");
    return buf;
}

static const char *item_name(const view_ctx *v, int64_t k, char *buf, size_t n) {
    int64_t i = v->index[k];
    if (v->set->names.count) return v->set->names.items[i];
    snprintf(buf, n, "item %lld", (long long)k);
    return buf;
}

/* The whole batch straight into one tensor [n, ...]: no per-item tensors. */
static cg_status view_get_batch(void *ctx, const int64_t *indices, int64_t n, cg_tensor **xb,
                                cg_tensor **yb) {
    view_ctx *v = ctx;
    int64_t shape0[4], shape[3];
    int ndim0 = item_shape(v, indices[0], shape0 + 1);
    shape0[0] = n;
    for (int64_t k = 1; k < n; k++) {
        int ndim = item_shape(v, indices[k], shape);
        bool same = ndim == ndim0;
        for (int d = 0; same && d < ndim; d++) same = shape[d] == shape0[d + 1];
        if (!same) {
            char a[96], b[96], na[64], nb[64];
            return cg_fail(CG_ERR_SHAPE,
                           "%s: cannot batch %s (shape %s) with %s (shape %s): every image of a "
                           "batch must have the same size (resize them: --size N, or "
                           "cg_image_item_options.resize)",
                           v->kind, item_name(v, indices[k], nb, sizeof nb), dims_str(ndim, shape, b, sizeof b),
                           item_name(v, indices[0], na, sizeof na), dims_str(ndim0, shape0 + 1, a, sizeof a));
        }
    }
    *xb = cg_empty(v->o.to_float ? CG_FLOAT32 : CG_UINT8, ndim0 + 1, shape0);
    if (!*xb) return cg_last_status();
    size_t item_bytes = (size_t)(cg_numel(*xb) / n) * (v->o.to_float ? sizeof(float) : 1);
    for (int64_t k = 0; k < n; k++) {
        cg_status st = make_item(v, indices[k], (char *)cg_data(*xb) + (size_t)k * item_bytes);
        if (st != CG_OK) return st;
    }
    *yb = cg_empty(CG_INT64, 1, &n);
    if (!*yb) return cg_last_status();
    int64_t *labels = cg_data(*yb);
    for (int64_t k = 0; k < n; k++) labels[k] = v->set->labels[v->index[indices[k]]];
    return CG_OK;
}

cg_dataset *cg_image_set_dataset(cg_image_set *set, const int64_t *index, int64_t n,
                                 const cg_image_item_options *opts, const char *kind) {
    view_ctx *v = calloc(1, sizeof *v);
    size_t m = (size_t)(n > 0 ? n : 1);
    if (v) {
        v->index = malloc(m * sizeof *v->index);
        v->made = calloc(m, sizeof *v->made);
        v->kind = strdup(kind);
    }
    if (!v || !v->index || !v->made || !v->kind) {
        if (v) free(v->index), free(v->made), free(v->kind);
        free(v);
        cg_fail(CG_ERR_NOMEM, "%s: out of memory", kind);
        return NULL;
    }
    for (int64_t k = 0; k < n; k++) v->index[k] = index ? index[k] : k;
    v->n = n;
    v->o = *opts;
    atomic_fetch_add(&set->refcount, 1);
    v->set = set;
    static const cg_dataset_ops ops = {view_len, view_get, view_get_batch, view_free, view_source};
    cg_dataset *ds = cg_dataset_new(kind, &ops, v);
    if (!ds) view_free(v);
    else cg_dataset_set_nbytes(ds, set->bytes); /* shared with the other view of a split */
    return ds;
}
