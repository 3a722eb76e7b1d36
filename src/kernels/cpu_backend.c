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
};
