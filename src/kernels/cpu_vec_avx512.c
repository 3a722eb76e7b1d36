/* The vector loops for AVX-512 F/DQ/BW/VL (-mavx512f ...): see cpu_dispatch.h and cpu_vec_impl.h.
 * CMakeLists.txt gives this file its -m flags and -ffp-contract=off. */
#define CG_VEC_TABLE cg_cpu_vec_avx512
#include "kernels/cpu_vec_impl.h"
