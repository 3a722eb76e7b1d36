/* nn/zoo.c — architectures by name, so `cgrad train` and `cgrad predict`
 * (through a model file's "arch" metadata) build the same model.
 *
 * A model file's metadata is untrusted: the name, n_in, n_out and a hidden
 * width all come from it.  So every size is bounded (CG_MODEL_MAX_FEATURES,
 * CG_MODEL_MAX_PARAMS) before anything is allocated, and cg_model_param_shapes
 * (cg_model_image_param_shapes for the image models) says which tensors an
 * architecture holds without building it, so a loader can check a file's
 * header against them first. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cgrad/nn.h"
#include "cgrad/tensor.h"
#include "core/shape_check.h"

#define SIMPLE_NET_HIDDEN 30 /* the chapter's nn.Linear(28*28,30) */

/* The architecture's layers, parsed from its name: kind and hidden width. */
typedef enum arch_kind {
    ARCH_LINEAR, ARCH_LINEAR1, ARCH_MLP, ARCH_RESNET18, ARCH_RESNET34, ARCH_CNN, ARCH_CNN_WIDE
} arch_kind;

static bool image_kind(arch_kind k) {
    return k == ARCH_RESNET18 || k == ARCH_RESNET34 || k == ARCH_CNN || k == ARCH_CNN_WIDE;
}

/* Parses and bounds arch, n_in and n_out (CG_ERR_VALUE naming the culprit). */
static cg_status parse_arch(const char *arch, int64_t n_in, int64_t n_out, arch_kind *kind,
                            int64_t *hidden) {
    if (!arch) return cg_fail(CG_ERR_VALUE, "model: no architecture name");
    size_t len = strnlen(arch, CG_MODEL_MAX_ARCH_LEN + 1);
    if (len == 0 || len > CG_MODEL_MAX_ARCH_LEN)
        return cg_fail(CG_ERR_VALUE, "model: architecture name is %s (at most %d bytes)",
                       len ? "too long" : "empty", CG_MODEL_MAX_ARCH_LEN);
    for (size_t i = 0; i < len; i++)
        if (arch[i] < 0x21 || arch[i] > 0x7e)
            return cg_fail(CG_ERR_VALUE, "model: architecture name has a byte 0x%02x that is not printable ASCII",
                           (unsigned)(unsigned char)arch[i]);
    if (n_in <= 0 || n_out <= 0 || n_in > CG_MODEL_MAX_FEATURES || n_out > CG_MODEL_MAX_FEATURES)
        return cg_fail(CG_ERR_VALUE, "model '%s': n_in and n_out must be 1 to %d, got %lld and %lld", arch,
                       CG_MODEL_MAX_FEATURES, (long long)n_in, (long long)n_out);
    *hidden = 0;
    if (!strcmp(arch, "linear")) *kind = ARCH_LINEAR;
    else if (!strcmp(arch, "linear1")) *kind = ARCH_LINEAR1;
    else if (!strcmp(arch, "simple_net") || !strcmp(arch, "mlp")) {
        *kind = ARCH_MLP;
        *hidden = SIMPLE_NET_HIDDEN;
    } else if (!strncmp(arch, "mlp:", 4)) {
        char *end;
        errno = 0;
        long long h = strtoll(arch + 4, &end, 10);
        if (errno || end == arch + 4 || *end || h <= 0 || h > CG_MODEL_MAX_FEATURES)
            return cg_fail(CG_ERR_VALUE, "model '%s': expected mlp:<hidden units> with 1 to %d units, e.g. mlp:500",
                           arch, CG_MODEL_MAX_FEATURES);
        *kind = ARCH_MLP;
        *hidden = h;
    } else if (!strcmp(arch, "resnet18")) *kind = ARCH_RESNET18;
    else if (!strcmp(arch, "resnet34")) *kind = ARCH_RESNET34;
    else if (!strcmp(arch, "cnn")) *kind = ARCH_CNN;
    else if (!strcmp(arch, "cnn-wide")) *kind = ARCH_CNN_WIDE;
    else {
        return cg_fail(CG_ERR_VALUE,
                       "unknown model architecture '%s' (known: linear, linear1, simple_net, mlp, mlp:<hidden>, "
                       "resnet18, resnet34, cnn, cnn-wide)",
                       arch);
    }
    return CG_OK;
}

/* Appends one float32 tensor's name and shape (dims past ndim are ignored). */
static void add_shape(cg_param_shape *out, int *n, const char *name, int ndim, int64_t d0, int64_t d1,
                      int64_t d2, int64_t d3) {
    cg_param_shape *p = &out[(*n)++];
    memset(p, 0, sizeof *p);
    size_t len = strnlen(name, sizeof p->name - 1);
    memcpy(p->name, name, len); /* the rest is zero */
    p->dtype = CG_FLOAT32;
    p->ndim = ndim;
    int64_t d[4] = {d0, d1, d2, d3};
    for (int i = 0; i < ndim; i++) p->shape[i] = d[i];
}

static cg_status check_total(const char *arch, int64_t n_in, int64_t n_out, cg_param_shape *out, int *n);

cg_status cg_model_param_shapes(const char *arch, int64_t n_in, int64_t n_out, cg_param_shape *out,
                                int *n) {
    if (!out || !n) return cg_fail(CG_ERR_VALUE, "model: NULL output");
    *n = 0;
    arch_kind kind;
    int64_t hidden;
    cg_status st = parse_arch(arch, n_in, n_out, &kind, &hidden);
    if (st) return st;
    if (image_kind(kind))
        return cg_fail(CG_ERR_VALUE, "model '%s' takes images [C,H,W]: use cg_model_image_param_shapes", arch);
    switch (kind) {
    case ARCH_LINEAR: /* nn.Linear: weight [out, in] */
        add_shape(out, n, "weight", 2, n_out, n_in, 0, 0);
        add_shape(out, n, "bias", 1, n_out, 0, 0, 0);
        break;
    case ARCH_LINEAR1: /* the chapter's weights [in, out] */
        add_shape(out, n, "weights", 2, n_in, n_out, 0, 0);
        add_shape(out, n, "bias", 1, n_out, 0, 0, 0);
        break;
    case ARCH_MLP:
        add_shape(out, n, "0.weight", 2, hidden, n_in, 0, 0);
        add_shape(out, n, "0.bias", 1, hidden, 0, 0, 0);
        add_shape(out, n, "2.weight", 2, n_out, hidden, 0, 0);
        add_shape(out, n, "2.bias", 1, n_out, 0, 0, 0);
        break;
    default: break;
    }
    return check_total(arch, n_in, n_out, out, n);
}

/* Each size is at most 2^24, so a product of two fits; the sum is capped.
 * (The image models' 4-d shapes are at most 512*512*3*3 or 512*2^24.) */
static cg_status check_total(const char *arch, int64_t n_in, int64_t n_out, cg_param_shape *out, int *n) {
    int64_t total = 0;
    for (int i = 0; i < *n; i++) {
        int64_t numel;
        if (!cg_shape_numel_checked(out[i].ndim, out[i].shape, &numel) || numel > CG_MODEL_MAX_PARAMS - total) {
            *n = 0;
            return cg_fail(CG_ERR_VALUE, "model '%s' with n_in %lld and n_out %lld has more than %lld parameters",
                           arch, (long long)n_in, (long long)n_out, (long long)CG_MODEL_MAX_PARAMS);
        }
        total += numel;
    }
    return CG_OK;
}

static cg_module *mlp(int64_t n_in, int64_t hidden, int64_t n_out) {
    return CG_SEQUENTIAL(cg_nn_linear(n_in, hidden, true), cg_nn_relu(),
                         cg_nn_linear(hidden, n_out, true));
}

cg_module *cg_model_create(const char *arch, int64_t n_in, int64_t n_out) {
    /* The bounds first: nothing is allocated for a model over the caps. */
    cg_param_shape shapes[CG_MODEL_MAX_TENSORS];
    int n;
    if (cg_model_param_shapes(arch, n_in, n_out, shapes, &n)) return NULL;
    arch_kind kind;
    int64_t hidden;
    if (parse_arch(arch, n_in, n_out, &kind, &hidden)) return NULL;
    switch (kind) {
    case ARCH_LINEAR: return cg_nn_linear(n_in, n_out, true);
    case ARCH_LINEAR1: return cg_nn_linear1(n_in, n_out, 1.0); /* init_params, std 1 */
    case ARCH_MLP: return mlp(n_in, hidden, n_out);
    default: break; /* the image models: refused by cg_model_param_shapes */
    }
    return NULL;
}

/* ---- image architectures --------------------------------------------------- */

bool cg_model_takes_images(const char *arch) {
    return arch && (!strcmp(arch, "resnet18") || !strcmp(arch, "resnet34") || !strcmp(arch, "cnn") ||
                    !strcmp(arch, "cnn-wide"));
}

/* The builders' own bound on the class count (resnet.c, cnn.c). */
#define IMAGE_MAX_OUT (1 << 20)

static cg_status check_image(const char *arch, int64_t c, int64_t h, int64_t w, int64_t n_out) {
    if (c < 1 || c > CG_MODEL_MAX_CHANNELS || h < 1 || h > CG_MODEL_MAX_SIDE || w < 1 || w > CG_MODEL_MAX_SIDE)
        return cg_fail(CG_ERR_VALUE, "model '%s': images must have 1 to %d channels and sides of 1 to %d, got "
                       "[%lld, %lld, %lld]", arch ? arch : "(null)", CG_MODEL_MAX_CHANNELS, CG_MODEL_MAX_SIDE,
                       (long long)c, (long long)h, (long long)w);
    if (cg_model_takes_images(arch) && (n_out < 1 || n_out > IMAGE_MAX_OUT))
        return cg_fail(CG_ERR_VALUE, "model '%s': n_out must be 1 to %d, got %lld", arch, IMAGE_MAX_OUT,
                       (long long)n_out);
    return CG_OK;
}

/* "prefix" + "suffix" as a state_dict name (at most 38 bytes here; cut to n-1
 * otherwise, by hand: snprintf's truncation warning cannot see the bound). */
static const char *join(char *buf, size_t n, const char *prefix, const char *suffix) {
    size_t a = strnlen(prefix, n - 1), b = strnlen(suffix, n - 1 - a);
    memcpy(buf, prefix, a);
    memcpy(buf + a, suffix, b);
    buf[a + b] = '\0';
    return buf;
}

/* A bias-free Conv2d's weight [co, ci, k, k]. */
static void add_conv(cg_param_shape *out, int *n, const char *prefix, int64_t co, int64_t ci, int64_t k) {
    char name[CG_MODEL_MAX_NAME];
    add_shape(out, n, join(name, sizeof name, prefix, "weight"), 4, co, ci, k, k);
}

/* BatchNorm1d/2d(f): weight, bias (parameters), then running_mean,
 * running_var and the 0-d int64 num_batches_tracked (buffers). */
static void add_bn(cg_param_shape *out, int *n, const char *prefix, int64_t f) {
    static const char *const names[] = {"weight", "bias", "running_mean", "running_var"};
    char name[CG_MODEL_MAX_NAME];
    for (int i = 0; i < 4; i++) add_shape(out, n, join(name, sizeof name, prefix, names[i]), 1, f, 0, 0, 0);
    add_shape(out, n, join(name, sizeof name, prefix, "num_batches_tracked"), 0, 0, 0, 0, 0);
    out[*n - 1].dtype = CG_INT64;
}

/* fastai's vision model over torchvision's resnet (resnet.c): body "0." is
 * conv1, bn1, relu, maxpool, layer1..4 of BasicBlocks (conv1, bn1, relu, conv2,
 * bn2, and a downsample conv+bn where the shape changes); head "1." is
 * concat pool, flatten, BatchNorm1d(1024) at 2, Linear(1024,512) at 4,
 * BatchNorm1d(512) at 6 and Linear(512,n_out) at 8, without biases. */
static void resnet_shapes(int depth, int64_t c, int64_t n_out, cg_param_shape *out, int *n) {
    static const int blocks18[4] = {2, 2, 2, 2}, blocks34[4] = {3, 4, 6, 3};
    const int *blocks = depth == 18 ? blocks18 : blocks34;
    add_conv(out, n, "0.0.", 64, c, 7);
    add_bn(out, n, "0.1.", 64);
    int64_t inplanes = 64;
    for (int layer = 0; layer < 4; layer++) {
        int64_t planes = (int64_t)64 << layer;
        for (int b = 0; b < blocks[layer]; b++) {
            char p[CG_MODEL_MAX_NAME], q[CG_MODEL_MAX_NAME];
            snprintf(p, sizeof p, "0.%d.%d.", 4 + layer, b);
            add_conv(out, n, join(q, sizeof q, p, "conv1."), planes, inplanes, 3);
            add_bn(out, n, join(q, sizeof q, p, "bn1."), planes);
            add_conv(out, n, join(q, sizeof q, p, "conv2."), planes, planes, 3);
            add_bn(out, n, join(q, sizeof q, p, "bn2."), planes);
            if (b == 0 && (layer > 0 || inplanes != planes)) {
                add_conv(out, n, join(q, sizeof q, p, "downsample.0."), planes, inplanes, 1);
                add_bn(out, n, join(q, sizeof q, p, "downsample.1."), planes);
            }
            inplanes = planes;
        }
    }
    add_bn(out, n, "1.2.", 1024);
    add_shape(out, n, "1.4.weight", 2, 512, 1024, 0, 0);
    add_bn(out, n, "1.6.", 512);
    add_shape(out, n, "1.8.weight", 2, n_out, 512, 0, 0);
}

/* cnn.c: four conv_bn Sequentials (conv 3x3 without bias, BatchNorm2d, ReLU)
 * at 0..3, then pool, flatten and Linear(256, n_out) at 6; cnn-wide's six
 * (32, 64, 64, 128, 128, 256) at 0..5, then pool, flatten, dropout and the
 * Linear at 9. */
static void cnn_shapes(bool wide, int64_t c, int64_t n_out, cg_param_shape *out, int *n) {
    static const int64_t narrow[4] = {32, 64, 128, 256}, wider[6] = {32, 64, 64, 128, 128, 256};
    const int64_t *widths = wide ? wider : narrow;
    int blocks = wide ? 6 : 4;
    int64_t ci = c;
    for (int i = 0; i < blocks; i++) {
        char p[CG_MODEL_MAX_NAME];
        snprintf(p, sizeof p, "%d.0.", i);
        add_conv(out, n, p, widths[i], ci, 3);
        snprintf(p, sizeof p, "%d.1.", i);
        add_bn(out, n, p, widths[i]);
        ci = widths[i];
    }
    add_shape(out, n, wide ? "9.weight" : "6.weight", 2, n_out, 256, 0, 0);
    add_shape(out, n, wide ? "9.bias" : "6.bias", 1, n_out, 0, 0, 0);
}

cg_status cg_model_image_param_shapes(const char *arch, int64_t c, int64_t h, int64_t w, int64_t n_out,
                                      cg_param_shape *out, int *n) {
    if (!out || !n) return cg_fail(CG_ERR_VALUE, "model: NULL output");
    *n = 0;
    cg_status st = check_image(arch, c, h, w, n_out);
    if (st) return st;
    if (!cg_model_takes_images(arch)) /* a flat model over the flattened image */
        return cg_model_param_shapes(arch, c * h * w, n_out, out, n);
    arch_kind kind;
    int64_t hidden;
    st = parse_arch(arch, c, n_out, &kind, &hidden); /* the name; the sizes were bounded above */
    if (st) return st;
    if (kind == ARCH_CNN || kind == ARCH_CNN_WIDE) cnn_shapes(kind == ARCH_CNN_WIDE, c, n_out, out, n);
    else resnet_shapes(kind == ARCH_RESNET18 ? 18 : 34, c, n_out, out, n);
    return check_total(arch, c, n_out, out, n);
}

cg_module *cg_model_create_image(const char *arch, int64_t c, int64_t h, int64_t w, int64_t n_out) {
    /* Bounded first, as cg_model_create: nothing allocated over the caps.  The
     * list is on the heap: 256 entries of 104 bytes. */
    cg_param_shape *shapes = malloc(CG_MODEL_MAX_TENSORS * sizeof *shapes);
    if (!shapes) {
        cg_fail(CG_ERR_NOMEM, "model: out of memory");
        return NULL;
    }
    int n = 0;
    cg_status st = cg_model_image_param_shapes(arch, c, h, w, n_out, shapes, &n);
    free(shapes);
    if (st) return NULL;
    if (!cg_model_takes_images(arch)) return cg_model_create(arch, c * h * w, n_out);
    if (!strcmp(arch, "cnn")) return cg_nn_mnist_cnn(c, n_out);
    if (!strcmp(arch, "cnn-wide")) return cg_nn_mnist_cnn_wide(c, n_out);
    return cg_vision_model(arch, c, n_out);
}
