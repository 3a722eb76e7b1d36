/* nn/zoo.c — architectures by name, so `cgrad train` and `cgrad predict`
 * (through a model file's "arch" metadata) build the same model. */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "cgrad/nn.h"

#define SIMPLE_NET_HIDDEN 30 /* the chapter's nn.Linear(28*28,30) */

static cg_module *mlp(int64_t n_in, int64_t hidden, int64_t n_out) {
    return CG_SEQUENTIAL(cg_nn_linear(n_in, hidden, true), cg_nn_relu(),
                         cg_nn_linear(hidden, n_out, true));
}

cg_module *cg_model_create(const char *arch, int64_t n_in, int64_t n_out) {
    if (!arch) {
        cg_fail(CG_ERR_VALUE, "model: no architecture name");
        return NULL;
    }
    if (n_in <= 0 || n_out <= 0) {
        cg_fail(CG_ERR_VALUE, "model '%s': n_in and n_out must be positive, got %lld and %lld", arch,
                (long long)n_in, (long long)n_out);
        return NULL;
    }
    if (!strcmp(arch, "linear")) return cg_nn_linear(n_in, n_out, true);
    if (!strcmp(arch, "linear1")) return cg_nn_linear1(n_in, n_out, 1.0); /* init_params, std 1 */
    if (!strcmp(arch, "simple_net") || !strcmp(arch, "mlp")) return mlp(n_in, SIMPLE_NET_HIDDEN, n_out);
    if (!strncmp(arch, "mlp:", 4)) {
        char *end;
        errno = 0;
        long long hidden = strtoll(arch + 4, &end, 10);
        if (errno || end == arch + 4 || *end || hidden <= 0) {
            cg_fail(CG_ERR_VALUE, "model '%s': expected mlp:<hidden units>, e.g. mlp:500", arch);
            return NULL;
        }
        return mlp(n_in, hidden, n_out);
    }
    cg_fail(CG_ERR_VALUE, "unknown model architecture '%s' (known: linear, linear1, simple_net, mlp, mlp:<hidden>)",
            arch);
    return NULL;
}
