/* nn/pooling.c — nn.MaxPool2d, nn.AvgPool2d, nn.AdaptiveAvgPool2d,
 * nn.AdaptiveMaxPool2d, and fastai's AdaptiveConcatPool2d (max then avg,
 * concatenated on channels: [N,C,H,W] -> [N,2C,OH,OW]). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cgrad/functional.h"
#include "cgrad/nn.h"
#include "nn/layer_util.h"

typedef struct pool_state {
    int64_t kernel[2], stride[2], padding[2]; /* window pools */
    int64_t out[2];                           /* adaptive pools */
} pool_state;

static cg_tensor *max_pool_forward(cg_module *m, cg_tensor *x) {
    const pool_state *s = m->state;
    return cg_max_pool2d(x, s->kernel, s->stride, s->padding);
}
static cg_tensor *avg_pool_forward(cg_module *m, cg_tensor *x) {
    const pool_state *s = m->state;
    return cg_avg_pool2d(x, s->kernel, s->stride, s->padding);
}
static cg_tensor *adaptive_avg_forward(cg_module *m, cg_tensor *x) {
    const pool_state *s = m->state;
    return cg_adaptive_avg_pool2d(x, s->out[0], s->out[1]);
}
static cg_tensor *adaptive_max_forward(cg_module *m, cg_tensor *x) {
    const pool_state *s = m->state;
    return cg_adaptive_max_pool2d(x, s->out[0], s->out[1]);
}

/* PyTorch prints a pair that was given as one int as that int. */
static int print_pair(char *buf, size_t n, const int64_t *v) {
    if (v[0] == v[1]) return snprintf(buf, n, "%lld", (long long)v[0]);
    return snprintf(buf, n, "(%lld, %lld)", (long long)v[0], (long long)v[1]);
}

static void window_repr(const cg_module *m, char *buf, size_t n, bool max) {
    const pool_state *s = m->state;
    size_t u = (size_t)snprintf(buf, n, "kernel_size=");
    if (u < n) u += (size_t)print_pair(buf + u, n - u, s->kernel);
    if (u < n) u += (size_t)snprintf(buf + u, n - u, ", stride=");
    if (u < n) u += (size_t)print_pair(buf + u, n - u, s->stride);
    if (u < n) u += (size_t)snprintf(buf + u, n - u, ", padding=");
    if (u < n) u += (size_t)print_pair(buf + u, n - u, s->padding);
    if (u < n && max) snprintf(buf + u, n - u, ", dilation=1, ceil_mode=False");
}
static void max_pool_repr(const cg_module *m, char *buf, size_t n) { window_repr(m, buf, n, true); }
static void avg_pool_repr(const cg_module *m, char *buf, size_t n) { window_repr(m, buf, n, false); }
static void adaptive_repr(const cg_module *m, char *buf, size_t n) {
    const pool_state *s = m->state;
    size_t u = (size_t)snprintf(buf, n, "output_size=");
    if (u < n) print_pair(buf + u, n - u, s->out);
}

static const cg_module_vtable max_pool_vtable = {
    .type_name = "MaxPool2d", .forward = max_pool_forward, .extra_repr = max_pool_repr};
static const cg_module_vtable avg_pool_vtable = {
    .type_name = "AvgPool2d", .forward = avg_pool_forward, .extra_repr = avg_pool_repr};
static const cg_module_vtable adaptive_avg_vtable = {
    .type_name = "AdaptiveAvgPool2d", .forward = adaptive_avg_forward, .extra_repr = adaptive_repr};
static const cg_module_vtable adaptive_max_vtable = {
    .type_name = "AdaptiveMaxPool2d", .forward = adaptive_max_forward, .extra_repr = adaptive_repr};

static cg_module *window_pool(const cg_module_vtable *vt, const int64_t *kernel, const int64_t *stride,
                              const int64_t *padding) {
    pool_state s;
    memset(&s, 0, sizeof s);
    for (int i = 0; i < 2; i++) {
        s.kernel[i] = kernel ? kernel[i] : 0;
        s.stride[i] = stride ? stride[i] : s.kernel[i];
        s.padding[i] = padding ? padding[i] : 0;
        if (s.kernel[i] < 1 || s.kernel[i] > CG_LAYER_MAX_KERNEL || s.stride[i] < 1 ||
            s.padding[i] < 0 || 2 * s.padding[i] > s.kernel[i]) {
            cg_fail(CG_ERR_VALUE,
                    "%s: kernel must be in 1..%d, stride >= 1 and padding in 0..kernel/2, got kernel %lld, "
                    "stride %lld, padding %lld",
                    vt->type_name, CG_LAYER_MAX_KERNEL, (long long)s.kernel[i], (long long)s.stride[i],
                    (long long)s.padding[i]);
            return NULL;
        }
    }
    pool_state *p = malloc(sizeof *p);
    if (!p) {
        cg_fail(CG_ERR_NOMEM, "%s: out of memory", vt->type_name);
        return NULL;
    }
    *p = s;
    return cg_module_new(vt, p);
}

static cg_module *adaptive_pool(const cg_module_vtable *vt, int64_t out_h, int64_t out_w) {
    if (out_h < 1 || out_w < 1 || out_h > CG_LAYER_MAX_FEATURES || out_w > CG_LAYER_MAX_FEATURES) {
        cg_fail(CG_ERR_VALUE, "%s: output_size must be positive, got (%lld, %lld)", vt->type_name,
                (long long)out_h, (long long)out_w);
        return NULL;
    }
    pool_state *p = calloc(1, sizeof *p);
    if (!p) {
        cg_fail(CG_ERR_NOMEM, "%s: out of memory", vt->type_name);
        return NULL;
    }
    p->out[0] = out_h;
    p->out[1] = out_w;
    return cg_module_new(vt, p);
}

cg_module *cg_nn_max_pool2d(const int64_t *kernel, const int64_t *stride, const int64_t *padding) {
    return window_pool(&max_pool_vtable, kernel, stride, padding);
}
cg_module *cg_nn_avg_pool2d(const int64_t *kernel, const int64_t *stride, const int64_t *padding) {
    return window_pool(&avg_pool_vtable, kernel, stride, padding);
}
cg_module *cg_nn_adaptive_avg_pool2d(int64_t out_h, int64_t out_w) {
    return adaptive_pool(&adaptive_avg_vtable, out_h, out_w);
}
cg_module *cg_nn_adaptive_max_pool2d(int64_t out_h, int64_t out_w) {
    return adaptive_pool(&adaptive_max_vtable, out_h, out_w);
}

/* fastai's AdaptiveConcatPool2d(size=1): children "ap" (avg) and "mp" (max),
 * forward torch.cat([self.mp(x), self.ap(x)], 1). */
static cg_tensor *concat_pool_forward(cg_module *m, cg_tensor *x) {
    cg_scope_begin();
    cg_tensor *parts[2] = {cg_module_forward(m->children[1], x), cg_module_forward(m->children[0], x)};
    cg_tensor *y = parts[0] && parts[1] ? cg_cat(parts, 2, 1) : NULL;
    if (y) cg_keep(y);
    cg_scope_end();
    return y;
}

static const cg_module_vtable concat_pool_vtable = {.type_name = "AdaptiveConcatPool2d",
                                                    .forward = concat_pool_forward};

cg_module *cg_nn_adaptive_concat_pool2d(int64_t size) {
    cg_module *m = cg_module_new(&concat_pool_vtable, NULL);
    if (!m) return NULL;
    cg_status st = cg_module_add_child(m, "ap", cg_nn_adaptive_avg_pool2d(size, size));
    if (!st) st = cg_module_add_child(m, "mp", cg_nn_adaptive_max_pool2d(size, size));
    if (st) {
        cg_module_release(m);
        return NULL;
    }
    return m;
}
