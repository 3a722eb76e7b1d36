/* The vector loops for x86-64's baseline (SSE2): see cpu_dispatch.h and cpu_vec_impl.h.
 * CMakeLists.txt gives this file its -m flags and -ffp-contract=off. */
#define CG_VEC_BASELINE 1
#define CG_VEC_TABLE cg_cpu_vec_baseline
#include "kernels/cpu_vec_impl.h"
