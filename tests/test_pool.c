/* test_pool.c — the CPU backend's buffer pool (kernels/cpu_alloc.c): big
 * blocks come out of one reserved region, best fit, and freed ranges join
 * their free neighbours, so what one size freed serves another size without
 * the resident memory (in use + cached) growing, as an exact-size cache
 * would; blocks never overlap and keep their contents; a trim gives the
 * cache back.  Sizes by hand: 64 KiB is the smallest big block, big sizes
 * round up to 4 KiB pages. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>

#include "cgrad.h"
#include "kernels/cpu_kernels.h"

#define KIB ((size_t)1 << 10)
#define MIB ((size_t)1 << 20)

static size_t resident(void) { return cg_mem_in_use() + cg_mem_cached(); }

/* Under AddressSanitizer each region block is followed by a poisoned 4 KiB
 * redzone, which the byte counts below leave out: those tests skip there
 * (the contents test still runs, redzones and all). */
#if defined(__SANITIZE_ADDRESS__)
#define UNDER_ASAN 1
#elif defined(__has_feature)
#if __has_feature(address_sanitizer)
#define UNDER_ASAN 1
#endif
#endif
#ifdef UNDER_ASAN
#define SKIP_UNDER_ASAN() skip()
#else
#define SKIP_UNDER_ASAN() ((void)0)
#endif

/* The region needs a 256 GiB MAP_NORESERVE reservation; where the system
 * refuses one (strict overcommit, a ulimit -v) the pool falls back to its
 * exact-size cache and the region's properties are not there to test. */
static int region_possible(void) {
    size_t n = (size_t)256 << 30;
    void *p = mmap(NULL, n, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
    if (p == MAP_FAILED) return 0;
    munmap(p, n);
    return 1;
}

/* Four adjacent 1 MiB blocks, freed, make one 4 MiB range: a 4 MiB block
 * then takes it, and 1 MiB blocks again take it back, with in use + cached
 * the same throughout (an exact-size cache would hold 8 MiB after the 4 MiB
 * block, and 12 after the second 1 MiB round had it been 3 MiB). */
static void test_freed_ranges_join_and_serve_other_sizes(void **state) {
    (void)state;
    SKIP_UNDER_ASAN();
    if (!region_possible()) skip();
    cg_pool_trim();
    void *a[4];
    for (int i = 0; i < 4; i++) assert_non_null(a[i] = cg_cpu_alloc(MIB));
    size_t top = resident(); /* all 4 MiB in use */
    for (int i = 0; i < 4; i++) cg_cpu_free(a[i], MIB);
    assert_int_equal(resident(), top);
    void *big = cg_cpu_alloc(4 * MIB);
    assert_non_null(big);
    assert_int_equal(resident(), top);
    memset(big, 0x5a, 4 * MIB); /* the whole joined range is the block's */
    cg_cpu_free(big, 4 * MIB);
    /* three 1 MiB + one 512 KiB + one 512 KiB: the 4 MiB range again */
    void *b[5];
    size_t sz[5] = {MIB, MIB, MIB, 512 * KIB, 512 * KIB};
    for (int i = 0; i < 5; i++) assert_non_null(b[i] = cg_cpu_alloc(sz[i]));
    assert_int_equal(resident(), top);
    for (int i = 0; i < 5; i++) cg_cpu_free(b[i], sz[i]);
    assert_int_equal(resident(), top);
    cg_pool_trim(); /* nothing in use above the range: it all goes back */
    assert_int_equal(cg_mem_cached(), 0);
}

/* A block of n bytes (not a page multiple) counts as n rounded up to 4 KiB,
 * a small one as n rounded up to 64: cg_mem_in_use says so. */
static void test_sizes_round(void **state) {
    (void)state;
    size_t base = cg_mem_in_use();
    void *p = cg_cpu_alloc(64 * KIB + 1);
    assert_non_null(p);
    assert_int_equal(cg_mem_in_use() - base, 68 * KIB);
    assert_int_equal((uintptr_t)p % 4096, 0);
    void *q = cg_cpu_alloc(100);
    assert_non_null(q);
    assert_int_equal(cg_mem_in_use() - base, 68 * KIB + 128);
    assert_int_equal((uintptr_t)q % 64, 0);
    cg_cpu_free(p, 64 * KIB + 1);
    cg_cpu_free(q, 100);
    assert_int_equal(cg_mem_in_use(), base);
}

/* 3000 random allocations and frees of 64 KiB..1 MiB blocks (and a few
 * small ones), each filled with its own byte: every block is aligned, none
 * overlaps another, and each still holds its byte when it is freed.  After
 * the last free and a trim, nothing is in use or cached. */
static void test_random_blocks_keep_their_contents(void **state) {
    (void)state;
    enum { SLOTS = 48, STEPS = 3000 };
    unsigned char *p[SLOTS] = {0};
    size_t n[SLOTS] = {0};
    size_t base = cg_mem_in_use();
    uint64_t rng = 0x9e3779b97f4a7c15u;
    for (int step = 0; step < STEPS; step++) {
        rng = rng * 6364136223846793005u + 1442695040888963407u;
        int s = (int)((rng >> 33) % SLOTS);
        if (p[s]) {
            unsigned char want = (unsigned char)(s + 1);
            for (size_t i = 0; i < n[s]; i += 509) assert_int_equal(p[s][i], want);
            assert_int_equal(p[s][n[s] - 1], want);
            cg_cpu_free(p[s], n[s]);
            p[s] = NULL;
            continue;
        }
        size_t r = (size_t)(rng >> 40);
        n[s] = r % 8 == 0 ? 1 + r % 4000 : 64 * KIB + r % MIB;
        p[s] = cg_cpu_alloc(n[s]);
        assert_non_null(p[s]);
        assert_int_equal((uintptr_t)p[s] % (n[s] >= 64 * KIB ? 4096 : 64), 0);
        for (int t = 0; t < SLOTS; t++) /* no overlap with any live block */
            if (t != s && p[t]) assert_true(p[s] + n[s] <= p[t] || p[t] + n[t] <= p[s]);
        memset(p[s], s + 1, n[s]);
    }
    for (int s = 0; s < SLOTS; s++)
        if (p[s]) {
            unsigned char want = (unsigned char)(s + 1);
            assert_int_equal(p[s][0], want);
            assert_int_equal(p[s][n[s] - 1], want);
            cg_cpu_free(p[s], n[s]);
        }
    assert_int_equal(cg_mem_in_use(), base);
    cg_pool_trim();
    assert_int_equal(cg_mem_cached(), 0);
}

/* A training-like cycle, 20 rounds: six 800 KiB activations, three 1600
 * KiB gradients, the activations freed, two 3 MiB stem gradients, all
 * freed.  By hand: the activations at [0, 4800K), the gradients at [4800K,
 * 9600K); the first stem block takes [0, 3072K) of the activations' freed
 * range, the second finds no 3 MiB left below and goes on top, [9600K,
 * 12672K).  Everything freed joins into one range, which the next rounds
 * carve within (their first stem block fits [9600K, 12672K) exactly): 12672 KiB resident from the first round on, where an
 * exact-size cache holds 4800 + 4800 + 6144 = 15744 KiB. */
static void test_cycle_stays_flat(void **state) {
    (void)state;
    SKIP_UNDER_ASAN();
    if (!region_possible()) skip();
    cg_pool_trim();
    size_t base = resident();
    for (int round = 0; round < 20; round++) {
        void *act[6], *grad[3];
        for (int i = 0; i < 6; i++) assert_non_null(act[i] = cg_cpu_alloc(800 * KIB));
        for (int i = 0; i < 3; i++) assert_non_null(grad[i] = cg_cpu_alloc(1600 * KIB));
        for (int i = 5; i >= 0; i--) cg_cpu_free(act[i], 800 * KIB);
        void *stem[2];
        for (int i = 0; i < 2; i++) assert_non_null(stem[i] = cg_cpu_alloc(3 * MIB));
        if (round == 0) assert_ptr_equal(stem[0], act[0]); /* later rounds find [9600K, 12672K) free */
        for (int i = 0; i < 2; i++) cg_cpu_free(stem[i], 3 * MIB);
        for (int i = 0; i < 3; i++) cg_cpu_free(grad[i], 1600 * KIB);
        assert_int_equal(resident() - base, 12672 * KIB);
    }
    cg_pool_trim();
    assert_int_equal(cg_mem_cached(), 0);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_freed_ranges_join_and_serve_other_sizes),
        cmocka_unit_test(test_sizes_round),
        cmocka_unit_test(test_random_blocks_keep_their_contents),
        cmocka_unit_test(test_cycle_stays_flat),
    };
    int failed = cmocka_run_group_tests(tests, NULL, NULL);
    cg_pool_trim();
    return failed;
}
