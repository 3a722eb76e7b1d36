/* nn/init.c — torch.nn.init.kaiming_normal_.
 *
 * For a weight [out, in, *kernel] the receptive field is prod(kernel);
 * fan_in = in * receptive and fan_out = out * receptive.  The std is
 * gain / sqrt(fan) with gain = sqrt(2 / (1 + a^2)) (leaky_relu's; a = 0 is
 * relu's sqrt(2)), and the values are drawn with normal_(0, std) from the
 * default generator, as PyTorch draws them. */
#include <math.h>

#include "cgrad/autograd.h"
#include "cgrad/nn.h"
#include "cgrad/random.h"

cg_status cg_kaiming_normal_(cg_tensor *t, double a, cg_fan_mode mode) {
    if (!t) return cg_last_status() ? cg_last_status() : cg_fail(CG_ERR_VALUE, "kaiming_normal_: NULL tensor");
    if (t->ndim < 2) {
        char s[64];
        return cg_fail(CG_ERR_SHAPE,
                       "kaiming_normal_: fan in and fan out can not be computed for a tensor with fewer "
                       "than 2 dimensions (got %s)",
                       cg_shape_str(t, s, sizeof s));
    }
    int64_t receptive = 1;
    for (int d = 2; d < t->ndim; d++) receptive *= t->shape[d];
    int64_t fan = (mode == CG_FAN_OUT ? t->shape[0] : t->shape[1]) * receptive;
    if (fan <= 0) return cg_fail(CG_ERR_SHAPE, "kaiming_normal_: the tensor has no elements");
    double std = sqrt(2.0 / (1.0 + a * a)) / sqrt((double)fan);
    cg_no_grad_begin();
    cg_status st = cg_normal_(t, NULL, 0.0, std);
    cg_no_grad_end();
    return st;
}
