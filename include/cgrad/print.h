/* cgrad/print.h — tensors printed as PyTorch prints them:
 *     tensor([[1, 2, 3],
 *             [4, 5, 6]])
 *     tensor([[1.5000, 3.0000, 4.5000],
 *             [6.0000, 7.5000, 9.0000]])
 *     tensor(6.)        tensor([ 6.,  8., 20.])
 *     tensor(0.1114, grad_fn=<MeanBackward0>)
 * Large tensors (more than 1000 elements) are summarised with "...". */
#ifndef CGRAD_PRINT_H
#define CGRAD_PRINT_H

#include "cgrad/tensor.h"

#ifdef __cplusplus
extern "C" {
#endif

/* Formats t into a newly malloc'd string (caller frees); NULL on failure. */
char *cg_format(const cg_tensor *t);
/* Writes cg_format(t) and a newline to f. */
cg_status cg_fprint(FILE *f, const cg_tensor *t);
/* cg_fprint(stdout, t) */
cg_status cg_print(const cg_tensor *t);
/* t.type(): "torch.LongTensor", "torch.FloatTensor", ... */
const char *cg_type_name(const cg_tensor *t);

#ifdef __cplusplus
}
#endif
#endif
