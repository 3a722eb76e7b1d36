/* nn/cnn.c — the CNN that `--model cnn` trains on full MNIST:
 *
 *   conv_bn(C,32,1) · conv_bn(32,64,2) · conv_bn(64,128,2) · conv_bn(128,256,2)
 *   · AdaptiveAvgPool2d(1) · Flatten · Linear(256, n_out)
 *   conv_bn(ci,co,s) = Conv2d(ci,co,3,stride=s,padding=1,bias=False) · BatchNorm2d(co) · ReLU
 *
 * As a PyTorch nn.Sequential of nn.Sequentials, so its state_dict names are
 * "0.0.weight" (the first conv), "0.1.running_mean", ..., "6.weight", and a
 * PyTorch twin built the same way (bench/cnn_torch.py) loads its weights.
 * 28x28 -> 28 -> 14 -> 7 -> 4 -> 1x1.
 *
 * `--model cnn-wide` (cg_nn_mnist_cnn_wide), for the >= 99.6% recipe: the same
 * net with a stride-1 conv_bn after each of the middle two downsamplings (more
 * depth where the maps are 14x14 and 7x7, which costs less than at 28x28) and
 * Dropout(0.25) before the Linear:
 *
 *   conv_bn(C,32,1) · conv_bn(32,64,2) · conv_bn(64,64,1) · conv_bn(64,128,2)
 *   · conv_bn(128,128,1) · conv_bn(128,256,2) · AdaptiveAvgPool2d(1) · Flatten
 *   · Dropout(0.25) · Linear(256, n_out)
 *
 * state_dict names "0.0.weight" ... "5.1.num_batches_tracked", "9.weight",
 * "9.bias"; 28x28 -> 28 -> 14 -> 14 -> 7 -> 7 -> 4 -> 1x1. */
#include "cgrad/functional.h"
#include "cgrad/nn.h"

static cg_module *conv_bn(int64_t ci, int64_t co, int64_t stride) {
    return CG_SEQUENTIAL(cg_nn_conv2d(ci, co, (int64_t[]){3, 3},
                                      &(cg_conv2d_opts){.stride = {stride, stride}, .padding = {1, 1}}, false),
                         cg_nn_batch_norm2d(co), cg_nn_relu());
}

static bool check_sizes(const char *name, int64_t in_channels, int64_t n_out) {
    if (in_channels < 1 || in_channels > 4096 || n_out < 1 || n_out > (1 << 20)) {
        cg_fail(CG_ERR_VALUE, "%s: in_channels must be in 1..4096 and n_out in 1..%d, got %lld and %lld", name,
                1 << 20, (long long)in_channels, (long long)n_out);
        return false;
    }
    return true;
}

cg_module *cg_nn_mnist_cnn(int64_t in_channels, int64_t n_out) {
    if (!check_sizes("cnn", in_channels, n_out)) return NULL;
    return CG_SEQUENTIAL(conv_bn(in_channels, 32, 1), conv_bn(32, 64, 2), conv_bn(64, 128, 2),
                         conv_bn(128, 256, 2), cg_nn_adaptive_avg_pool2d(1, 1), cg_nn_flatten(1, -1),
                         cg_nn_linear(256, n_out, true));
}

cg_module *cg_nn_mnist_cnn_wide(int64_t in_channels, int64_t n_out) {
    if (!check_sizes("cnn-wide", in_channels, n_out)) return NULL;
    return CG_SEQUENTIAL(conv_bn(in_channels, 32, 1), conv_bn(32, 64, 2), conv_bn(64, 64, 1), conv_bn(64, 128, 2),
                         conv_bn(128, 128, 1), conv_bn(128, 256, 2), cg_nn_adaptive_avg_pool2d(1, 1),
                         cg_nn_flatten(1, -1), cg_nn_dropout(0.25), cg_nn_linear(256, n_out, true));
}
