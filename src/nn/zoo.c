/* nn/zoo.c — architectures by name, so `cgrad train` and `cgrad predict`
 * (through a model file's "arch" metadata) build the same model.
 *
 * A model file's metadata is untrusted: the name, n_in, n_out and a hidden
 * width all come from it.  So every size is bounded (CG_MODEL_MAX_FEATURES,
 * CG_MODEL_MAX_PARAMS) before anything is allocated, and cg_model_param_shapes
 * says which tensors an architecture holds without building it, so a loader
 * can check a file's header against them first. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cgrad/nn.h"
#include "core/shape_check.h"

#define SIMPLE_NET_HIDDEN 30 /* the chapter's nn.Linear(28*28,30) */

/* The architecture's layers, parsed from its name: kind and hidden width. */
typedef enum arch_kind { ARCH_LINEAR, ARCH_LINEAR1, ARCH_MLP } arch_kind;

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
    } else {
        return cg_fail(CG_ERR_VALUE,
                       "unknown model architecture '%s' (known: linear, linear1, simple_net, mlp, mlp:<hidden>)",
                       arch);
    }
    return CG_OK;
}

cg_status cg_model_param_shapes(const char *arch, int64_t n_in, int64_t n_out, cg_param_shape *out,
                                int *n) {
    if (!out || !n) return cg_fail(CG_ERR_VALUE, "model: NULL output");
    *n = 0;
    arch_kind kind;
    int64_t hidden;
    cg_status st = parse_arch(arch, n_in, n_out, &kind, &hidden);
    if (st) return st;
    static const char *const linear_names[] = {"weight", "bias"};
    static const char *const linear1_names[] = {"weights", "bias"};
    static const char *const mlp_names[] = {"0.weight", "0.bias", "2.weight", "2.bias"};
    switch (kind) {
    case ARCH_LINEAR: /* nn.Linear: weight [out, in] */
        out[0] = (cg_param_shape){linear_names[0], 2, {n_out, n_in}};
        out[1] = (cg_param_shape){linear_names[1], 1, {n_out}};
        *n = 2;
        break;
    case ARCH_LINEAR1: /* the chapter's weights [in, out] */
        out[0] = (cg_param_shape){linear1_names[0], 2, {n_in, n_out}};
        out[1] = (cg_param_shape){linear1_names[1], 1, {n_out}};
        *n = 2;
        break;
    case ARCH_MLP:
        out[0] = (cg_param_shape){mlp_names[0], 2, {hidden, n_in}};
        out[1] = (cg_param_shape){mlp_names[1], 1, {hidden}};
        out[2] = (cg_param_shape){mlp_names[2], 2, {n_out, hidden}};
        out[3] = (cg_param_shape){mlp_names[3], 1, {n_out}};
        *n = 4;
        break;
    }
    /* Each size is at most 2^24, so a product of two fits; the sum is capped. */
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
    }
    return NULL;
}
