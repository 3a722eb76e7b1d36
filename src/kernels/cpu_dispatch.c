/* Picks the vector level of the elementwise loops: see cpu_dispatch.h. */
#include "kernels/cpu_dispatch.h"

#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>

static _Atomic int active = -1; /* -1: not decided yet */

bool cg_cpu_level_supported(cg_cpu_level level) {
    __builtin_cpu_init();
    switch (level) {
    case CG_CPU_BASELINE: return true;
    case CG_CPU_AVX2: return __builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma");
    case CG_CPU_AVX512:
        return __builtin_cpu_supports("avx512f") && __builtin_cpu_supports("avx512dq") &&
               __builtin_cpu_supports("avx512bw") && __builtin_cpu_supports("avx512vl") &&
               cg_cpu_level_supported(CG_CPU_AVX2);
    default: return false;
    }
}

const char *cg_cpu_level_name(cg_cpu_level level) {
    static const char *const names[CG_CPU_LEVELS] = {"baseline", "avx2", "avx512"};
    return level >= 0 && level < CG_CPU_LEVELS ? names[level] : "unknown";
}

static int decide(void) {
    int best = CG_CPU_BASELINE;
    for (int l = CG_CPU_BASELINE + 1; l < CG_CPU_LEVELS; l++)
        if (cg_cpu_level_supported((cg_cpu_level)l)) best = l;
    const char *env = getenv("CGRAD_CPU");
    if (env)
        for (int l = 0; l < CG_CPU_LEVELS; l++)
            if (!strcmp(env, cg_cpu_level_name((cg_cpu_level)l)) && l < best) best = l;
    return best;
}

cg_cpu_level cg_cpu_level_active(void) {
    int l = atomic_load_explicit(&active, memory_order_relaxed);
    if (l < 0) {
        l = decide();
        atomic_store_explicit(&active, l, memory_order_relaxed);
    }
    return (cg_cpu_level)l;
}

const cg_cpu_vec *cg_cpu_vec_active(void) {
    switch (cg_cpu_level_active()) {
    case CG_CPU_AVX512: return &cg_cpu_vec_avx512;
    case CG_CPU_AVX2: return &cg_cpu_vec_avx2;
    default: return &cg_cpu_vec_baseline;
    }
}

bool cg_cpu_level_set(cg_cpu_level level) {
    if (!cg_cpu_level_supported(level)) return false;
    atomic_store_explicit(&active, (int)level, memory_order_relaxed);
    return true;
}

cg_nn_tuner *cg_cpu_ew_tuner(int kind, int64_t elements) {
    static cg_nn_tuner tuners[CG_EW_TUNE_KINDS][64];
    int b = 0;
    while (b < 63 && ((int64_t)1 << (b + 1)) <= elements) b++;
    return &tuners[kind][b];
}
