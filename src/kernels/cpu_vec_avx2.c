/* The vector loops for AVX2 + FMA (-mavx2 -mfma): see cpu_dispatch.h and cpu_vec_impl.h.
 * CMakeLists.txt gives this file its -m flags and -ffp-contract=off. */
#define CG_VEC_TABLE cg_cpu_vec_avx2
#include "kernels/cpu_vec_impl.h"
