/* cgrad/dtype.h — element types, devices and the dimension limit.
 *
 * The smallest vocabulary every floor shares: the kernels describe buffers
 * with it (src/kernels/backend.h) without knowing what a cg_tensor is, and
 * cgrad/tensor.h builds its tensors on it. */
#ifndef CGRAD_DTYPE_H
#define CGRAD_DTYPE_H

#ifdef __cplusplus
extern "C" {
#endif

#define CG_MAX_DIMS 8

typedef enum cg_dtype {
    CG_FLOAT32 = 0, /* torch.float32: all the math            */
    CG_UINT8,       /* torch.uint8: image bytes                */
    CG_INT64,       /* torch.int64: labels, indices            */
    CG_BOOL,        /* torch.bool: results of comparisons      */
    CG_DTYPE_COUNT
} cg_dtype;

/* Where a storage's bytes live; each device has one backend (src/kernels/backend.h). */
typedef enum cg_device { CG_CPU = 0, CG_DEVICE_COUNT } cg_device;

#ifdef __cplusplus
}
#endif
#endif
