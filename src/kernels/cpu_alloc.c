/* The CPU backend's allocator, a buffer pool: freed tensor buffers are
 * cached by exact size and handed out again, so a training loop that repeats
 * the same shapes stops calling malloc after its first step and its memory
 * stays flat.  The core floor also takes its host-side headers (tensors,
 * storages, autograd nodes) from here, so cg_mem_in_use counts them too.
 *
 * Buckets are keyed by byte size (rounded up to 64) in a small open-addressed
 * table; each bucket is a free list threaded through the blocks themselves.
 * The cache is capped (CG_POOL_CAP bytes, default 512 MiB, env
 * CGRAD_POOL_CAP_MB): past the cap, freed blocks go straight back to free().
 * One mutex guards it: DataLoader workers allocate too. */
#include <pthread.h>
#include <stdlib.h>
#include <string.h>

#include "kernels/cpu_kernels.h"

#define POOL_BUCKETS 512
#define POOL_ALIGN 64

typedef struct free_block { struct free_block *next; } free_block;
typedef struct bucket { size_t size; free_block *head; } bucket;

static pthread_mutex_t pool_lock = PTHREAD_MUTEX_INITIALIZER;
static bucket buckets[POOL_BUCKETS];
static size_t cached_bytes, in_use_bytes, cap_bytes;

static size_t round_size(size_t n) {
    if (n == 0) n = 1;
    return (n + POOL_ALIGN - 1) & ~(size_t)(POOL_ALIGN - 1);
}

static size_t pool_cap(void) {
    if (!cap_bytes) {
        const char *env = getenv("CGRAD_POOL_CAP_MB");
        long mb = env ? atol(env) : 512;
        cap_bytes = (mb > 0 ? (size_t)mb : 0) << 20;
        if (!cap_bytes) cap_bytes = 1; /* 0 disables caching */
    }
    return cap_bytes;
}

/* The bucket for `size`, or an empty slot for it; NULL if the table is full. */
static bucket *find_bucket(size_t size, int create) {
    size_t h = (size / POOL_ALIGN) * 2654435761u % POOL_BUCKETS;
    for (size_t i = 0; i < POOL_BUCKETS; i++) {
        bucket *b = &buckets[(h + i) % POOL_BUCKETS];
        if (b->size == size) return b;
        if (b->size == 0) {
            if (!create) return NULL;
            b->size = size;
            return b;
        }
    }
    return NULL;
}

void *cg_cpu_alloc(size_t nbytes) {
    size_t size = round_size(nbytes);
    pthread_mutex_lock(&pool_lock);
    bucket *b = find_bucket(size, 0);
    free_block *blk = b ? b->head : NULL;
    if (blk) {
        b->head = blk->next;
        cached_bytes -= size;
    }
    in_use_bytes += size;
    pthread_mutex_unlock(&pool_lock);
    if (blk) return blk;
    void *p = aligned_alloc(POOL_ALIGN, size);
    if (!p) {
        pthread_mutex_lock(&pool_lock);
        in_use_bytes -= size;
        pthread_mutex_unlock(&pool_lock);
    }
    return p;
}

void cg_cpu_free(void *p, size_t nbytes) {
    if (!p) return;
    size_t size = round_size(nbytes);
    pthread_mutex_lock(&pool_lock);
    in_use_bytes -= size;
    bucket *b = cached_bytes + size <= pool_cap() ? find_bucket(size, 1) : NULL;
    if (b) {
        free_block *blk = p;
        blk->next = b->head;
        b->head = blk;
        cached_bytes += size;
        p = NULL;
    }
    pthread_mutex_unlock(&pool_lock);
    free(p);
}

void cg_cpu_trim(void) {
    pthread_mutex_lock(&pool_lock);
    for (int i = 0; i < POOL_BUCKETS; i++) {
        free_block *blk = buckets[i].head;
        while (blk) {
            free_block *next = blk->next;
            free(blk);
            blk = next;
        }
        buckets[i].head = NULL;
        buckets[i].size = 0;
    }
    cached_bytes = 0;
    pthread_mutex_unlock(&pool_lock);
}

size_t cg_cpu_mem_in_use(void) {
    pthread_mutex_lock(&pool_lock);
    size_t n = in_use_bytes;
    pthread_mutex_unlock(&pool_lock);
    return n;
}

size_t cg_cpu_mem_cached(void) {
    pthread_mutex_lock(&pool_lock);
    size_t n = cached_bytes;
    pthread_mutex_unlock(&pool_lock);
    return n;
}
