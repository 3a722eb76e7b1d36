/* The CPU backend's table: host memory from the buffer pool, kernels on
 * OpenMP threads and OpenBLAS.  Host and device are the same memory, so the
 * copies are memcpy and synchronize has nothing to wait for. */
#include <string.h>

#include "kernels/cpu_kernels.h"

static void cpu_copy_bytes(void *dst, const void *src, size_t nbytes) {
    if (nbytes) memcpy(dst, src, nbytes);
}

static void cpu_synchronize(void) {}

const cg_backend cg_cpu_backend = {
    .name = "cpu",
    .device = CG_CPU,
    .alloc = cg_cpu_alloc,
    .free = cg_cpu_free,
    .to_host = cpu_copy_bytes,
    .from_host = cpu_copy_bytes,
    .synchronize = cpu_synchronize,
    .mem_in_use = cg_cpu_mem_in_use,
    .mem_cached = cg_cpu_mem_cached,
    .trim = cg_cpu_trim,
    .fill = cg_cpu_fill,
    .copy = cg_cpu_copy,
    .arange = cg_cpu_arange,
    .linspace = cg_cpu_linspace,
    .unary = cg_cpu_unary,
    .binary = cg_cpu_binary,
    .where = cg_cpu_where,
    .reduce = cg_cpu_reduce,
    .reduce_index_backward = cg_cpu_reduce_index_backward,
    .gemm = cg_cpu_gemm,
    .log_softmax_rows = cg_cpu_log_softmax_rows,
    .nll_loss = cg_cpu_nll_loss,
    .nll_loss_backward = cg_cpu_nll_loss_backward,
    .axpy = cg_cpu_axpy,
    .sgd_update = cg_cpu_sgd_update,
    .adam_update = cg_cpu_adam_update,
    .conv2d_native_blocks = cg_conv2d_native_blocks,
    .blocked_to_plain = cg_layout_blocked_to_plain,
    .plain_to_blocked = cg_layout_plain_to_blocked,
    .blocked_to_plain_in_place = cg_layout_blocked_to_plain_in_place,
    .preferred_block = cg_conv2d_preferred_block,
    .conv2d_forward = cg_conv2d_forward,
    .conv2d_backward_data = cg_conv2d_backward_data,
    .conv2d_backward_weights = cg_conv2d_backward_weights,
    .batchnorm_forward_train = cg_batchnorm_forward_train,
    .batchnorm_forward_eval = cg_batchnorm_forward_eval,
    .batchnorm_backward = cg_batchnorm_backward,
    .max_pool2d_forward = cg_max_pool2d_forward,
    .adaptive_max_pool2d_forward = cg_adaptive_max_pool2d_forward,
    .max_pool2d_backward = cg_max_pool2d_backward,
    .avg_pool2d_forward = cg_avg_pool2d_forward,
    .avg_pool2d_backward = cg_avg_pool2d_backward,
    .adaptive_avg_pool2d_forward = cg_adaptive_avg_pool2d_forward,
    .adaptive_avg_pool2d_backward = cg_adaptive_avg_pool2d_backward,
    .dropout_apply = cg_dropout_apply,
};
