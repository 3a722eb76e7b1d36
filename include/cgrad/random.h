/* cgrad/random.h — seeded random numbers, matching PyTorch's CPU generator.
 *
 * The default generator is a 32-bit Mersenne Twister (mt19937) like
 * torch.default_generator; cg_manual_seed(s) followed by cg_randn() gives the
 * same float32 values as torch.manual_seed(s); torch.randn(...). */
#ifndef CGRAD_RANDOM_H
#define CGRAD_RANDOM_H

#include "cgrad/tensor.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef struct cg_generator {
    uint32_t state[624];
    int index;
    uint64_t seed;
    bool has_next_normal;   /* PyTorch caches the second Box-Muller value */
    double next_normal;
} cg_generator;

void cg_generator_init(cg_generator *g, uint64_t seed);
uint32_t cg_generator_u32(cg_generator *g);
/* A uniform integer in [0, n), for shuffles. */
uint64_t cg_generator_below(cg_generator *g, uint64_t n);

/* The process-wide default generator (torch.default_generator). */
cg_generator *cg_default_generator(void);
void cg_manual_seed(uint64_t seed);

/* torch.rand / torch.randn / torch.randperm; gen NULL uses the default. */
cg_tensor *cg_rand(cg_generator *gen, int ndim, const int64_t *shape);
cg_tensor *cg_randn(cg_generator *gen, int ndim, const int64_t *shape);
cg_tensor *cg_randperm(cg_generator *gen, int64_t n); /* int64 */
/* In place: normal_(mean, std) and uniform_(lo, hi) on a float32 tensor. */
cg_status cg_normal_(cg_tensor *t, cg_generator *gen, double mean, double std);
cg_status cg_uniform_(cg_tensor *t, cg_generator *gen, double lo, double hi);

#ifdef __cplusplus
}
#endif
#endif
