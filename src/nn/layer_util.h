/* Helpers shared by the layer constructors in nn/ (not installed). */
#ifndef CGRAD_NN_LAYER_UTIL_H
#define CGRAD_NN_LAYER_UTIL_H

#include "cgrad/nn.h"

/* Bounds on what a layer constructor accepts: far above any real vision
 * model, low enough that no product of them overflows or asks for terabytes. */
#define CG_LAYER_MAX_CHANNELS (1 << 16)
#define CG_LAYER_MAX_KERNEL 1024
#define CG_LAYER_MAX_FEATURES (1 << 24)

/* A float32 parameter of the given shape, uniform in [-bound, bound] from the
 * default generator, requiring grad, owned only by m. */
cg_status cg_layer_add_uniform_param(cg_module *m, const char *name, int ndim, const int64_t *shape,
                                     double bound);
/* A parameter (requires_grad) or buffer filled with value, owned only by m. */
cg_status cg_layer_add_full(cg_module *m, const char *name, cg_dtype dt, int ndim,
                            const int64_t *shape, double value, bool param);

/* Whether c is a BatchNorm1d/2d and d an nn.ReLU (either may be NULL). */
bool cg_layer_bn_then_relu(const cg_module *c, const cg_module *d);
/* relu(bn(x)) for a BatchNorm1d/2d module bn, as one op (cg_batch_norm_relu):
 * the module's forward (its statistics and counter) with the ReLU fused. */
cg_tensor *cg_layer_bn_relu_forward(cg_module *bn, cg_tensor *x);

#endif
