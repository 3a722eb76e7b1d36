/* Storages: reference-counted buffers on a device, allocated and freed by
 * that device's backend (kernels/backend.h); and the host memory the core
 * takes for its headers (tensors, storages, autograd nodes), which is the CPU
 * backend's pool. */
#include <pthread.h>

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
    atomic_init(&s->blocked, NULL);
    return s;
}

/* Settling is rare (a kept layout read by anything but a vision kernel)
 * and may race only with itself, so one lock serves every storage. */
static pthread_mutex_t settle_lock = PTHREAD_MUTEX_INITIALIZER;

/* Makes `data` hold the value; the blocked buffer is freed, or with
 * `keep` kept as a copy (plain_valid) for the next blocked reader.  A
 * storage kept blocked has no plain buffer (set_blocked let it go), so one
 * is allocated here; when none can be had, the blocked buffer is made plain
 * where it lies and becomes `data` (nothing kept then), so settling never
 * fails. */
static void settle(cg_storage *s, bool keep) {
    if (!atomic_load_explicit(&s->blocked, memory_order_acquire)) return;
    pthread_mutex_lock(&settle_lock);
    void *buf = atomic_load_explicit(&s->blocked, memory_order_acquire);
    if (buf) {
        const cg_backend *be = cg_backend_for(s->device);
        const int64_t *sh = s->blocked_shape;
        if (!s->data) s->data = be->alloc(s->nbytes);
        if (!s->data) {
            be->blocked_to_plain_in_place(s->blocked_block, sh[0], sh[1], sh[2] * sh[3], buf);
            s->data = buf;
            keep = false;
        } else {
            if (!s->plain_valid) be->blocked_to_plain(s->blocked_block, sh[0], sh[1], sh[2] * sh[3], buf, s->data);
            if (!keep) be->free(buf, s->nbytes);
        }
        s->plain_valid = true;
        if (!keep) atomic_store_explicit(&s->blocked, NULL, memory_order_release);
    }
    pthread_mutex_unlock(&settle_lock);
}

void cg_storage_settle(cg_storage *s) { settle(s, false); }
void cg_storage_settle_for_reading(cg_storage *s) { settle(s, true); }

void cg_storage_drop_plain(cg_storage *s) {
    s->plain_valid = false;
    cg_backend_for(s->device)->free(s->data, s->nbytes);
    s->data = NULL;
}

static void set_blocked(cg_storage *s, void *buf, int64_t block, const int64_t shape[4], bool plain_valid) {
    cg_storage_settle(s); /* an older blocked value (none in practice) goes first */
    s->plain_valid = plain_valid;
    s->blocked_block = block;
    for (int i = 0; i < 4; i++) s->blocked_shape[i] = shape[i];
    atomic_store_explicit(&s->blocked, buf, memory_order_release);
    if (!plain_valid) cg_storage_drop_plain(s); /* stale from now on: its memory serves other tensors */
}

void cg_storage_set_blocked(cg_storage *s, void *buf, int64_t block, const int64_t shape[4]) {
    set_blocked(s, buf, block, shape, false);
}

void cg_storage_set_blocked_copy(cg_storage *s, void *buf, int64_t block, const int64_t shape[4]) {
    set_blocked(s, buf, block, shape, true);
}

cg_storage *cg_storage_new(size_t nbytes) { return cg_storage_new_on(CG_CPU, nbytes); }

void cg_storage_release(cg_storage *s) {
    if (!s) return;
    if (atomic_fetch_sub(&s->refcount, 1) == 1) {
        void *blocked = atomic_load(&s->blocked);
        if (blocked) cg_backend_for(s->device)->free(blocked, s->nbytes);
        if (s->data) cg_backend_for(s->device)->free(s->data, s->nbytes); /* none while kept blocked */
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
