/* Storages: reference-counted buffers on a device, allocated and freed by
 * that device's backend (kernels/backend.h); and the host memory the core
 * takes for its headers (tensors, storages, autograd nodes), which is the CPU
 * backend's pool. */
#include "core/internal.h"
#include "kernels/backend.h"

void *cg_pool_alloc(size_t nbytes) { return cg_cpu_backend.alloc(nbytes); }
void cg_pool_free(void *p, size_t nbytes) { cg_cpu_backend.free(p, nbytes); }

cg_storage *cg_storage_new_on(cg_device device, size_t nbytes) {
    const cg_backend *be = cg_backend_for(device);
    if (!be) return NULL;
    cg_storage *s = cg_pool_alloc(sizeof *s); /* headers are pooled too */
    if (!s) return NULL;
    s->data = be->alloc(nbytes);
    if (!s->data) {
        cg_pool_free(s, sizeof *s);
        return NULL;
    }
    s->nbytes = nbytes;
    s->device = device;
    atomic_init(&s->refcount, 1);
    return s;
}

cg_storage *cg_storage_new(size_t nbytes) { return cg_storage_new_on(CG_CPU, nbytes); }

void cg_storage_release(cg_storage *s) {
    if (!s) return;
    if (atomic_fetch_sub(&s->refcount, 1) == 1) {
        cg_backend_for(s->device)->free(s->data, s->nbytes);
        cg_pool_free(s, sizeof *s);
    }
}

/* ---- the allocators' books, summed over every device with a backend ------ */
void cg_pool_trim(void) {
    for (int d = 0; d < CG_DEVICE_COUNT; d++)
        if (cg_backend_for((cg_device)d)) cg_backend_for((cg_device)d)->trim();
}

size_t cg_mem_in_use(void) {
    size_t n = 0;
    for (int d = 0; d < CG_DEVICE_COUNT; d++)
        if (cg_backend_for((cg_device)d)) n += cg_backend_for((cg_device)d)->mem_in_use();
    return n;
}

size_t cg_mem_cached(void) {
    size_t n = 0;
    for (int d = 0; d < CG_DEVICE_COUNT; d++)
        if (cg_backend_for((cg_device)d)) n += cg_backend_for((cg_device)d)->mem_cached();
    return n;
}
