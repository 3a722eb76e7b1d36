/* conv2d: the descriptor check and the reference kernels.
 *
 * The reference kernels are the definition in nn_kernels.h written as
 * loops, one output (or one gradient element) at a time with a double
 * accumulator.  They are slow on purpose: the tests hold the oneDNN kernels
 * of cpu_conv_dnnl.c to them. */
#include <stdio.h>
#include <string.h>

#include "kernels/nn_kernels.h"

/* oneDNN's dims are int64 but its offsets are computed in int64 as well:
 * keep every buffer's element count below 2^62 so no product overflows. */
#define CONV_MAX_ELEMS ((int64_t)1 << 62)

static cg_nn_status bad(char *msg, size_t size, const char *what, int64_t value, const char *rule) {
    if (msg && size) snprintf(msg, size, "conv2d: %s = %lld, %s", what, (long long)value, rule);
    return CG_NN_EINVAL;
}

/* a*b*c*d <= CONV_MAX_ELEMS, all positive. */
static int product_fits(int64_t a, int64_t b, int64_t c, int64_t d) {
    int64_t v[4] = {a, b, c, d}, p = 1;
    for (int i = 0; i < 4; i++) {
        if (v[i] <= 0 || p > CONV_MAX_ELEMS / v[i]) return 0;
        p *= v[i];
    }
    return 1;
}

cg_nn_status cg_conv2d_desc_init(cg_conv2d_desc *d, char *msg, size_t msg_size) {
    const struct {
        const char *name;
        int64_t v, min;
    } f[] = {{"n", d->n, 1},         {"c", d->c, 1},           {"h", d->h, 1},
             {"w", d->w, 1},         {"oc", d->oc, 1},         {"kh", d->kh, 1},
             {"kw", d->kw, 1},       {"stride_h", d->stride_h, 1}, {"stride_w", d->stride_w, 1},
             {"pad_h", d->pad_h, 0}, {"pad_w", d->pad_w, 0},   {"dil_h", d->dil_h, 1},
             {"dil_w", d->dil_w, 1}, {"groups", d->groups, 1}};
    for (size_t i = 0; i < sizeof f / sizeof *f; i++) {
        if (f[i].v < f[i].min) return bad(msg, msg_size, f[i].name, f[i].v, f[i].min ? "must be >= 1" : "must be >= 0");
        if (f[i].v > ((int64_t)1 << 30)) return bad(msg, msg_size, f[i].name, f[i].v, "is larger than 2^30");
    }
    if (d->c % d->groups) return bad(msg, msg_size, "c", d->c, "is not divisible by groups");
    if (d->oc % d->groups) return bad(msg, msg_size, "oc", d->oc, "is not divisible by groups");
    if (d->x_block && ((d->x_block != 8 && d->x_block != 16) || d->c % d->x_block))
        return bad(msg, msg_size, "x_block", d->x_block, "must be 0, or 8 or 16 dividing c");
    if (d->y_block && ((d->y_block != 8 && d->y_block != 16) || d->oc % d->y_block))
        return bad(msg, msg_size, "y_block", d->y_block, "must be 0, or 8 or 16 dividing oc");
    /* Sizes are <= 2^30, so these fit comfortably in int64. */
    int64_t span_h = d->dil_h * (d->kh - 1) + 1, span_w = d->dil_w * (d->kw - 1) + 1;
    if (span_h > d->h + 2 * d->pad_h)
        return bad(msg, msg_size, "kh", d->kh, "(dilated) is larger than the padded input height");
    if (span_w > d->w + 2 * d->pad_w)
        return bad(msg, msg_size, "kw", d->kw, "(dilated) is larger than the padded input width");
    d->oh = (d->h + 2 * d->pad_h - span_h) / d->stride_h + 1;
    d->ow = (d->w + 2 * d->pad_w - span_w) / d->stride_w + 1;
    if (!product_fits(d->n, d->c, d->h, d->w)) return bad(msg, msg_size, "n*c*h*w with n", d->n, "overflows");
    if (!product_fits(d->n, d->oc, d->oh, d->ow))
        return bad(msg, msg_size, "n*oc*oh*ow with n", d->n, "overflows");
    if (!product_fits(d->oc, d->c / d->groups, d->kh, d->kw))
        return bad(msg, msg_size, "oc*c/groups*kh*kw with oc", d->oc, "overflows");
    return CG_NN_OK;
}

double cg_conv2d_flops(const cg_conv2d_desc *d) {
    return 2.0 * (double)d->n * (double)d->oc * (double)d->oh * (double)d->ow * (double)(d->c / d->groups) *
           (double)d->kh * (double)d->kw;
}

/* The input row/column that output i, tap a reads, or -1 outside. */
static inline int64_t tap(int64_t i, int64_t a, int64_t stride, int64_t pad, int64_t dil, int64_t size) {
    int64_t p = i * stride - pad + a * dil;
    return p >= 0 && p < size ? p : -1;
}

void cg_conv2d_forward_ref(const cg_conv2d_desc *d, const float *x, const float *w, const float *bias,
                           float *y) {
    int64_t cg = d->c / d->groups, og = d->oc / d->groups;
    for (int64_t n = 0; n < d->n; n++)
        for (int64_t o = 0; o < d->oc; o++) {
            int64_t g = o / og;
            for (int64_t i = 0; i < d->oh; i++)
                for (int64_t j = 0; j < d->ow; j++) {
                    double s = bias ? bias[o] : 0.0;
                    for (int64_t c = 0; c < cg; c++)
                        for (int64_t a = 0; a < d->kh; a++) {
                            int64_t ih = tap(i, a, d->stride_h, d->pad_h, d->dil_h, d->h);
                            if (ih < 0) continue;
                            for (int64_t b = 0; b < d->kw; b++) {
                                int64_t iw = tap(j, b, d->stride_w, d->pad_w, d->dil_w, d->w);
                                if (iw < 0) continue;
                                s += (double)w[((o * cg + c) * d->kh + a) * d->kw + b] *
                                     x[((n * d->c + g * cg + c) * d->h + ih) * d->w + iw];
                            }
                        }
                    y[((n * d->oc + o) * d->oh + i) * d->ow + j] = (float)s;
                }
        }
}

/* dx[n,c,p,q] = sum over the outputs (o,i,j) and taps (a,b) that read
 * (p,q) of w[o,c',a,b] * dy[n,o,i,j]: gathered per input element so each is
 * written once. */
void cg_conv2d_backward_data_ref(const cg_conv2d_desc *d, const float *dy, const float *w, float *dx) {
    int64_t cg = d->c / d->groups, og = d->oc / d->groups;
    for (int64_t n = 0; n < d->n; n++)
        for (int64_t c = 0; c < d->c; c++) {
            int64_t g = c / cg, cl = c - g * cg;
            for (int64_t p = 0; p < d->h; p++)
                for (int64_t q = 0; q < d->w; q++) {
                    double s = 0;
                    for (int64_t a = 0; a < d->kh; a++) {
                        /* p = i*stride - pad + a*dil  =>  i = (p + pad - a*dil) / stride */
                        int64_t ti = p + d->pad_h - a * d->dil_h;
                        if (ti < 0 || ti % d->stride_h) continue;
                        int64_t i = ti / d->stride_h;
                        if (i >= d->oh) continue;
                        for (int64_t b = 0; b < d->kw; b++) {
                            int64_t tj = q + d->pad_w - b * d->dil_w;
                            if (tj < 0 || tj % d->stride_w) continue;
                            int64_t j = tj / d->stride_w;
                            if (j >= d->ow) continue;
                            for (int64_t o = g * og; o < (g + 1) * og; o++)
                                s += (double)w[((o * cg + cl) * d->kh + a) * d->kw + b] *
                                     dy[((n * d->oc + o) * d->oh + i) * d->ow + j];
                        }
                    }
                    dx[((n * d->c + c) * d->h + p) * d->w + q] = (float)s;
                }
        }
}

void cg_conv2d_backward_weights_ref(const cg_conv2d_desc *d, const float *x, const float *dy, float *dw,
                                    float *dbias) {
    int64_t cg = d->c / d->groups, og = d->oc / d->groups;
    for (int64_t o = 0; o < d->oc; o++) {
        int64_t g = o / og;
        for (int64_t c = 0; c < cg; c++)
            for (int64_t a = 0; a < d->kh; a++)
                for (int64_t b = 0; b < d->kw; b++) {
                    double s = 0;
                    for (int64_t n = 0; n < d->n; n++)
                        for (int64_t i = 0; i < d->oh; i++) {
                            int64_t ih = tap(i, a, d->stride_h, d->pad_h, d->dil_h, d->h);
                            if (ih < 0) continue;
                            for (int64_t j = 0; j < d->ow; j++) {
                                int64_t iw = tap(j, b, d->stride_w, d->pad_w, d->dil_w, d->w);
                                if (iw < 0) continue;
                                s += (double)dy[((n * d->oc + o) * d->oh + i) * d->ow + j] *
                                     x[((n * d->c + g * cg + c) * d->h + ih) * d->w + iw];
                            }
                        }
                    dw[((o * cg + c) * d->kh + a) * d->kw + b] = (float)s;
                }
        if (dbias) {
            double s = 0;
            for (int64_t n = 0; n < d->n; n++)
                for (int64_t k = 0; k < d->oh * d->ow; k++) s += dy[(n * d->oc + o) * d->oh * d->ow + k];
            dbias[o] = (float)s;
        }
    }
}
