/* nn/conv.c — nn.Conv2d.
 *
 * weight is [out_channels, in_channels/groups, kH, kW] and bias [out_channels],
 * PyTorch's layout and state_dict names ("weight", "bias"), so weights travel
 * both ways.  x [N, C, H, W] -> y [N, OC, OH, OW] through cg_conv2d. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>

#include "cgrad/autograd.h"
#include "cgrad/functional.h"
#include "cgrad/nn.h"
#include "nn/layer_util.h"

typedef struct conv_state {
    int64_t in_channels, out_channels, kernel[2];
    cg_conv2d_opts opts; /* stride, padding, dilation, groups as given (normalised) */
    bool bias;
} conv_state;

static cg_tensor *conv_forward(cg_module *m, cg_tensor *x) {
    const conv_state *s = m->state;
    return cg_conv2d(x, m->params[0], s->bias ? m->params[1] : NULL, &s->opts);
}

static void conv_extra_repr(const cg_module *m, char *buf, size_t n) {
    const conv_state *s = m->state;
    const cg_conv2d_opts *o = &s->opts;
    size_t u = (size_t)snprintf(buf, n, "%lld, %lld, kernel_size=(%lld, %lld), stride=(%lld, %lld)",
                                (long long)s->in_channels, (long long)s->out_channels,
                                (long long)s->kernel[0], (long long)s->kernel[1],
                                (long long)o->stride[0], (long long)o->stride[1]);
    /* PyTorch prints padding, dilation and groups only when they differ from the defaults. */
    if (u < n && (o->padding[0] || o->padding[1]))
        u += (size_t)snprintf(buf + u, n - u, ", padding=(%lld, %lld)", (long long)o->padding[0],
                              (long long)o->padding[1]);
    if (u < n && (o->dilation[0] != 1 || o->dilation[1] != 1))
        u += (size_t)snprintf(buf + u, n - u, ", dilation=(%lld, %lld)", (long long)o->dilation[0],
                              (long long)o->dilation[1]);
    if (u < n && o->groups != 1) u += (size_t)snprintf(buf + u, n - u, ", groups=%lld", (long long)o->groups);
    if (u < n && !s->bias) snprintf(buf + u, n - u, ", bias=False");
}

static const cg_module_vtable conv_vtable = {
    .type_name = "Conv2d", .forward = conv_forward, .extra_repr = conv_extra_repr};

cg_module *cg_nn_conv2d(int64_t in_channels, int64_t out_channels, const int64_t *kernel_size,
                        const cg_conv2d_opts *opts, bool bias) {
    cg_conv2d_opts o = opts ? *opts : (cg_conv2d_opts){0};
    for (int i = 0; i < 2; i++) {
        if (!o.stride[i]) o.stride[i] = 1;
        if (!o.dilation[i]) o.dilation[i] = 1;
    }
    if (!o.groups) o.groups = 1;
    int64_t kh = kernel_size ? kernel_size[0] : 0, kw = kernel_size ? kernel_size[1] : 0;
    if (in_channels <= 0 || out_channels <= 0 || kh <= 0 || kw <= 0 || kh > CG_LAYER_MAX_KERNEL ||
        kw > CG_LAYER_MAX_KERNEL || in_channels > CG_LAYER_MAX_CHANNELS ||
        out_channels > CG_LAYER_MAX_CHANNELS) {
        cg_fail(CG_ERR_VALUE,
                "Conv2d: channels must be in 1..%d and the kernel in 1..%d, got %lld -> %lld, kernel (%lld, %lld)",
                CG_LAYER_MAX_CHANNELS, CG_LAYER_MAX_KERNEL, (long long)in_channels,
                (long long)out_channels, (long long)kh, (long long)kw);
        return NULL;
    }
    if (o.stride[0] < 1 || o.stride[1] < 1 || o.dilation[0] < 1 || o.dilation[1] < 1 ||
        o.padding[0] < 0 || o.padding[1] < 0 || o.groups < 1 || in_channels % o.groups ||
        out_channels % o.groups) {
        cg_fail(CG_ERR_VALUE,
                "Conv2d: stride and dilation must be >= 1, padding >= 0, and groups (%lld) must divide "
                "in_channels %lld and out_channels %lld",
                (long long)o.groups, (long long)in_channels, (long long)out_channels);
        return NULL;
    }
    conv_state *s = malloc(sizeof *s);
    if (!s) {
        cg_fail(CG_ERR_NOMEM, "Conv2d: out of memory");
        return NULL;
    }
    *s = (conv_state){in_channels, out_channels, {kh, kw}, o, bias};
    cg_module *m = cg_module_new(&conv_vtable, s);
    if (!m) return NULL;
    /* reset_parameters(): kaiming_uniform_(weight, a=sqrt(5)) gives the bound
     * 1/sqrt(fan_in) with fan_in = in_channels/groups * kH * kW; the bias is
     * drawn from the same bound.  Weight first, then bias, as PyTorch draws. */
    double bound = 1.0 / sqrt((double)(in_channels / o.groups * kh * kw));
    cg_status st = cg_layer_add_uniform_param(m, "weight",
                                              CG_SHAPE(out_channels, in_channels / o.groups, kh, kw), bound);
    if (!st && bias) st = cg_layer_add_uniform_param(m, "bias", CG_SHAPE(out_channels), bound);
    if (st) {
        cg_module_release(m);
        return NULL;
    }
    return m;
}
