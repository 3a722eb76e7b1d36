/* The CPU backend's allocator, a buffer pool: freed tensor buffers are kept
 * and handed out again, so a training loop that repeats the same shapes
 * stops calling malloc after its first step.  The core floor also takes its
 * host-side headers (tensors, storages, autograd nodes) from here, so
 * cg_mem_in_use counts them too.  Two parts:
 *
 * Big blocks (BIG_MIN and up, rounded to whole pages) are carved out of one
 * reserved range of address space (the region: REGION_RESERVE bytes mapped
 * MAP_NORESERVE, whose pages become memory only when first touched), best
 * fit, and freed ranges coalesce with their free neighbours, so a freed
 * buffer serves any later size that fits.  An exact-size cache could not:
 * it keeps, per size, the most blocks of that size ever live at once, and
 * those maxima add up to more than was ever live at one moment (resnet18's
 * backward frees its layers' activations while the stem's larger gradients
 * are new blocks: on a 10-step cut of the resnet18 epoch the pool's peak in
 * use was 111.0 MiB and the sum of the per-size maxima 131.7, both counted
 * by a pool instrumented for it, not kept; what any build shows is the
 * epoch's peak RSS, `/usr/bin/time -v cgrad train --data mnist_sample
 * --model resnet18 --epochs 1 --lr 0.1 --one-cycle`: 315,916 kB with the
 * exact-size cache, 278,156 kB with the region).  The resident
 * memory is the region's high-water mark, touched once: no page is given
 * back and faulted in again during training.  The free ranges are an
 * address-sorted array, scanned for the best fit (a training step frees
 * into a few dozen ranges).
 *
 * Small blocks, big ones when the region cannot be had (the reservation
 * refused, e.g. with strict overcommit, or full), and every block when
 * caching is off are cached by exact size (rounded up to 64) in a small
 * open-addressed table; each bucket is a free list threaded through the
 * blocks themselves.
 *
 * The cache is capped (default 512 MiB, env CGRAD_POOL_CAP_MB): past the
 * cap, exact-size blocks go back to free() and the region's freed pages to
 * the system (madvise MADV_DONTNEED; the range stays the region's).
 * CGRAD_POOL_CAP_MB=0 turns caching off: every block is malloc's, as tools
 * like heaptrack and valgrind want.  cg_pool_trim gives everything cached
 * back (a free range below a block still in use stays the region's, and
 * cg_mem_cached's, with its pages given back).  One mutex guards it all: DataLoader workers allocate too.  Under
 * AddressSanitizer the region's freed ranges are poisoned, so a use after
 * free is still caught. */
#include <pthread.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>

#include "kernels/cpu_kernels.h"

#if defined(__SANITIZE_ADDRESS__)
#define CG_ASAN 1
#elif defined(__has_feature)
#if __has_feature(address_sanitizer)
#define CG_ASAN 1
#endif
#endif
#ifdef CG_ASAN
#include <sanitizer/asan_interface.h>
#define POISON(p, n) ASAN_POISON_MEMORY_REGION((p), (n))
#define UNPOISON(p, n) ASAN_UNPOISON_MEMORY_REGION((p), (n))
#define REDZONE PAGE /* after each region block, poisoned: an overflow into the next block is caught */
#else
#define POISON(p, n) ((void)(p), (void)(n))
#define UNPOISON(p, n) ((void)(p), (void)(n))
#define REDZONE 0
#endif

#define POOL_BUCKETS 512
#define POOL_ALIGN 64
#define PAGE ((size_t)4096)
#define BIG_MIN ((size_t)64 << 10)
#define REGION_RESERVE ((size_t)256 << 30)

typedef struct free_block { struct free_block *next; } free_block;
typedef struct bucket { size_t size; free_block *head; } bucket;
typedef struct range { size_t off, len; } range; /* a free range of the region, in bytes from its start */

static pthread_mutex_t pool_lock = PTHREAD_MUTEX_INITIALIZER;
static bucket buckets[POOL_BUCKETS];
static size_t cached_bytes, in_use_bytes, cap_bytes;

/* the region: region_state 0 not tried, 1 reserved, -1 refused */
static int region_state;
static char *region;
static size_t region_top;         /* bytes carved so far: the ranges below it are blocks or free */
static range *free_ranges;        /* address order, none adjacent (the last may end at region_top) */
static size_t n_free, free_cap;
static size_t region_free;        /* the free ranges' bytes (cached, resident unless given back) */

static size_t round_size(size_t n) {
    if (n == 0) n = 1;
    if (n >= BIG_MIN) return (n + PAGE - 1) & ~(PAGE - 1);
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

/* ---- the region (under the lock) -------------------------------------- */
static bool region_ready(void) {
    if (region_state == 0) {
        region_state = -1;
        if (pool_cap() > 1) {
            void *p = mmap(NULL, REGION_RESERVE, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE,
                           -1, 0);
            if (p != MAP_FAILED) {
                region = p;
                region_state = 1;
            }
        }
    }
    return region_state == 1;
}

static bool in_region(const void *p) {
    return region && (const char *)p >= region && (const char *)p < region + REGION_RESERVE;
}

/* The best-fitting free range for size bytes (the smallest that holds it,
 * the lowest of equals), carved from its start; else the top, together with
 * the free range ending there if any.  NULL when the region is full. */
static void *region_take(size_t size) {
    size_t best = n_free;
    for (size_t i = 0; i < n_free; i++)
        if (free_ranges[i].len >= size && (best == n_free || free_ranges[i].len < free_ranges[best].len)) best = i;
    size_t off;
    if (best < n_free) {
        off = free_ranges[best].off;
        free_ranges[best].off += size;
        free_ranges[best].len -= size;
        if (!free_ranges[best].len) {
            memmove(free_ranges + best, free_ranges + best + 1, (n_free - best - 1) * sizeof *free_ranges);
            n_free--;
        }
        region_free -= size;
    } else {
        /* at the top, from the free range that ends there if one does */
        off = region_top;
        bool last = n_free && free_ranges[n_free - 1].off + free_ranges[n_free - 1].len == region_top;
        if (last) off = free_ranges[n_free - 1].off;
        if (REGION_RESERVE - off < size) return NULL;
        if (last) {
            region_free -= free_ranges[n_free - 1].len;
            n_free--;
        }
        region_top = off + size;
    }
    UNPOISON(region + off, size - REDZONE);
    POISON(region + off + size - REDZONE, REDZONE);
    return region + off;
}

/* Frees [off, off+len), joined with its free neighbours; returns the joined
 * range (for the cap), len 0 if it could not be noted.  A range ending at the
 * top stays a free range (its pages stay touched): the top is the region's
 * high water, lowered only by a trim. */
static range region_give(size_t off, size_t len) {
    POISON(region + off, len);
    /* the first free range after it */
    size_t lo = 0, hi = n_free;
    while (lo < hi) {
        size_t mid = (lo + hi) / 2;
        if (free_ranges[mid].off < off) lo = mid + 1;
        else hi = mid;
    }
    bool join_prev = lo > 0 && free_ranges[lo - 1].off + free_ranges[lo - 1].len == off;
    bool join_next = lo < n_free && off + len == free_ranges[lo].off;
    range r = {off, len};
    if (join_prev) {
        r.off = free_ranges[lo - 1].off;
        r.len += free_ranges[lo - 1].len;
    }
    if (join_next) r.len += free_ranges[lo].len;
    if (join_prev && join_next) {
        free_ranges[lo - 1] = r;
        memmove(free_ranges + lo, free_ranges + lo + 1, (n_free - lo - 1) * sizeof *free_ranges);
        n_free--;
    } else if (join_prev) {
        free_ranges[lo - 1] = r;
    } else if (join_next) {
        free_ranges[lo] = r;
    } else {
        if (n_free == free_cap) {
            size_t cap = free_cap ? 2 * free_cap : 64;
            range *grown = realloc(free_ranges, cap * sizeof *grown);
            if (!grown) { /* no room to note it: its pages go back, its addresses are lost */
                madvise(region + off, len, MADV_DONTNEED);
                return (range){0, 0};
            }
            free_ranges = grown;
            free_cap = cap;
        }
        memmove(free_ranges + lo + 1, free_ranges + lo, (n_free - lo) * sizeof *free_ranges);
        free_ranges[lo] = r;
        n_free++;
    }
    region_free += len;
    return r;
}

/* ---- the exact-size cache (under the lock) ---------------------------- */
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
    void *p = NULL;
    pthread_mutex_lock(&pool_lock);
    in_use_bytes += size;
    if (size >= BIG_MIN && region_ready()) p = region_take(size + REDZONE);
    if (!p) {
        bucket *b = find_bucket(size, 0);
        free_block *blk = b ? b->head : NULL;
        if (blk) {
            b->head = blk->next;
            cached_bytes -= size;
            p = blk;
        }
    }
    pthread_mutex_unlock(&pool_lock);
    if (p) return p;
    p = aligned_alloc(size >= BIG_MIN ? PAGE : POOL_ALIGN, size);
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
    if (in_region(p)) {
        range r = region_give((size_t)((char *)p - region), size + REDZONE);
        /* over the cap: the joined range's pages go back to the system */
        if (r.len && region_free + cached_bytes > pool_cap()) madvise(region + r.off, r.len, MADV_DONTNEED);
        pthread_mutex_unlock(&pool_lock);
        return;
    }
    bucket *b = cached_bytes + region_free + size <= pool_cap() ? find_bucket(size, 1) : NULL;
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
    /* the region's free pages go back; a free range at the top lowers it */
    for (size_t i = 0; i < n_free; i++) madvise(region + free_ranges[i].off, free_ranges[i].len, MADV_DONTNEED);
    if (n_free && free_ranges[n_free - 1].off + free_ranges[n_free - 1].len == region_top) {
        region_top = free_ranges[n_free - 1].off;
        region_free -= free_ranges[n_free - 1].len;
        n_free--;
    }
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
    size_t n = cached_bytes + region_free;
    pthread_mutex_unlock(&pool_lock);
    return n;
}
