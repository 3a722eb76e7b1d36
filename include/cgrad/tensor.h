/* cgrad/tensor.h — n-dimensional arrays with PyTorch's semantics.
 *
 * A cg_tensor is a strided view into a reference-counted storage buffer:
 * element (i0,...,ik) lives at data + offset + sum(i_d * strides[d]) elements.
 * Shapes are row-major in PyTorch's order (N,C,H,W).  Up to CG_MAX_DIMS dims;
 * a 0-d tensor (ndim 0) holds one value, like torch.tensor(3.).
 *
 * OWNERSHIP (read this once)
 * --------------------------
 * Every function that returns a cg_tensor* returns a NEW reference.  Who owns
 * that reference depends on whether a scope is open on this thread:
 *
 *   - no scope open: the caller owns it and gives it back with cg_release().
 *   - a scope open (cg_scope_begin): the innermost scope owns it, and
 *     cg_scope_end() releases everything created since cg_scope_begin().
 *     cg_keep(t) takes t out of the innermost scope and hands it to the
 *     enclosing scope (or to the caller when no scope encloses it).
 *
 * Scopes make a training step read like Python:
 *
 *     for (each batch) {
 *         cg_scope_begin();
 *         cg_tensor *loss = cg_mse_loss(model_forward(xb), yb);
 *         cg_backward(loss, NULL);
 *         sgd_step(params);
 *         cg_scope_end();              // every temporary of the step dies here
 *     }
 *
 * Parameters made before the loop are not in that scope, so they survive.
 * A view (cg_view, cg_slice, cg_permute, ...) retains its storage: the storage
 * lives until the last view of it is released.  A tensor's .grad is owned by
 * the tensor.  An autograd node is owned by the tensor it produced and retains
 * that op's inputs, so a loss keeps its whole graph alive until it is released.
 *
 * WHY REFCOUNTS + SCOPES, NOT AN ARENA: an arena needs its size guessed in
 * advance (ggml's lesson) and cannot free one tensor early; plain refcounts make
 * C code that chains ops unreadable.  Scopes give arena-like bulk freeing with
 * exact lifetimes, and freed buffers go back to a per-size pool (kernels/cpu_alloc.c),
 * so a training loop of any length reuses the same buffers: after the first
 * step there is no malloc in the hot path and memory stays flat.
 *
 * THREADS: scopes, the no-grad flag and the last error are per thread.  The
 * buffer pool is shared and locked.  A tensor may be handed from one thread to
 * another (a DataLoader worker to the training loop) but not used by two at once.
 */
#ifndef CGRAD_TENSOR_H
#define CGRAD_TENSOR_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include "cgrad/dtype.h" /* cg_dtype, cg_device, CG_MAX_DIMS */
#include "cgrad/status.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef struct cg_storage cg_storage; /* the buffer; see core/storage.c */
typedef struct cg_node cg_node;       /* an autograd tape entry; see autograd */

/* Fields are public for reading (t->shape[0], t->ndim); change them only
 * through the API. */
typedef struct cg_tensor {
    cg_dtype dtype;
    int ndim;
    int64_t shape[CG_MAX_DIMS];
    int64_t strides[CG_MAX_DIMS]; /* in elements, not bytes; may be 0 (expand) */
    int64_t offset;               /* in elements, into the storage           */
    cg_storage *storage;
    int refcount;

    /* autograd */
    bool requires_grad;
    struct cg_tensor *grad; /* owned; NULL until a backward reaches it      */
    cg_node *grad_fn;       /* owned; NULL for leaves and no-grad results    */
} cg_tensor;

/* ---- names and sizes ---------------------------------------------------- */
const char *cg_dtype_name(cg_dtype dt);   /* "float32", "uint8", ...        */
size_t cg_dtype_size(cg_dtype dt);       /* bytes per element              */
int64_t cg_numel(const cg_tensor *t);
bool cg_is_contiguous(const cg_tensor *t);
bool cg_same_shape(const cg_tensor *a, const cg_tensor *b);
/* Writes "[6131, 28, 28]" into buf (always NUL-terminated); returns buf. */
char *cg_shape_str(const cg_tensor *t, char *buf, size_t n);
/* Normalises a possibly negative dim (-1 = last); -1 on error (message set). */
int cg_norm_dim(const cg_tensor *t, int dim, const char *op);

/* ---- memory ------------------------------------------------------------- */
cg_tensor *cg_retain(cg_tensor *t);
void cg_release(cg_tensor *t); /* NULL is fine */
void cg_scope_begin(void);
void cg_scope_end(void);
cg_tensor *cg_keep(cg_tensor *t); /* returns t, now owned one level up */
/* Hands a reference the caller owns (e.g. one made on another thread, with no
 * scope open there) to this thread's innermost scope, if one is open.  Returns t. */
cg_tensor *cg_scope_adopt(cg_tensor *t);
/* Frees the cached buffers of the pool (call at exit to keep leak checkers quiet). */
void cg_pool_trim(void);
/* Bytes held by live tensors, and by the pool's cache; for tests and benches. */
size_t cg_mem_in_use(void);
size_t cg_mem_cached(void);

/* ---- creation ----------------------------------------------------------- */
/* shape is an array of ndim sizes; ndim 0 makes a 0-d tensor. */
cg_tensor *cg_empty(cg_dtype dt, int ndim, const int64_t *shape);
cg_tensor *cg_zeros(cg_dtype dt, int ndim, const int64_t *shape);
cg_tensor *cg_ones(cg_dtype dt, int ndim, const int64_t *shape);
cg_tensor *cg_full(cg_dtype dt, int ndim, const int64_t *shape, double value);
/* Copies count = prod(shape) elements of type dt from data. */
cg_tensor *cg_from_data(cg_dtype dt, int ndim, const int64_t *shape, const void *data);
cg_tensor *cg_from_floats(int ndim, const int64_t *shape, const float *data);
/* 0-d tensors: tensor(3.), tensor(1) */
cg_tensor *cg_scalar(double v);            /* float32 */
cg_tensor *cg_scalar_of(cg_dtype dt, double v);
/* torch.arange(start, end, step): float32 or int64. */
cg_tensor *cg_arange(cg_dtype dt, double start, double end, double step);
cg_tensor *cg_linspace(double start, double end, int64_t steps);
cg_tensor *cg_zeros_like(const cg_tensor *t);
cg_tensor *cg_ones_like(const cg_tensor *t);
/* Shorthand for literal shapes: CG_SHAPE(2,3) expands to `2, (int64_t[]){2,3}`. */
#define CG_SHAPE(...) \
    (int)(sizeof((int64_t[]){__VA_ARGS__}) / sizeof(int64_t)), (int64_t[]){__VA_ARGS__}

/* ---- element access ----------------------------------------------------- */
/* Pointer to element 0 of t's data (storage + offset).  For raw loops on a
 * contiguous tensor; check cg_is_contiguous or call cg_contiguous first. */
void *cg_data(const cg_tensor *t);
float *cg_data_f32(const cg_tensor *t); /* NULL (message set) if not float32 */
/* The single value of a one-element tensor, as a double (Python's .item()). */
cg_status cg_item(const cg_tensor *t, double *out);
/* Reads element at a full index (one entry per dim), any dtype. */
double cg_get(const cg_tensor *t, const int64_t *index);
cg_status cg_set(cg_tensor *t, const int64_t *index, double value);

/* ---- conversion and copies ---------------------------------------------- */
cg_tensor *cg_to_dtype(cg_tensor *t, cg_dtype dt); /* new tensor; differentiable f32->f32 */
cg_tensor *cg_float(cg_tensor *t);                 /* .float() */
cg_tensor *cg_long(cg_tensor *t);                  /* .long()  */
cg_tensor *cg_contiguous(cg_tensor *t); /* t itself (retained) if already contiguous */
cg_tensor *cg_clone(cg_tensor *t);      /* a contiguous copy; differentiable */
cg_tensor *cg_detach(cg_tensor *t);     /* a view sharing storage, no grad */
/* dst[...] = src, with src broadcast to dst's shape and cast to its dtype. */
cg_status cg_copy_(cg_tensor *dst, const cg_tensor *src);
cg_status cg_fill_(cg_tensor *t, double value);
cg_status cg_zero_(cg_tensor *t);

/* ---- views (no copy; all differentiable) -------------------------------- */
/* view/reshape: one size may be -1.  cg_view fails on a non-contiguous layout;
 * cg_reshape copies when it must. */
cg_tensor *cg_view(cg_tensor *t, int ndim, const int64_t *shape);
cg_tensor *cg_reshape(cg_tensor *t, int ndim, const int64_t *shape);
cg_tensor *cg_flatten(cg_tensor *t, int start_dim, int end_dim);
/* t[start:stop:step] along dim; negative start/stop count from the end and are
 * clamped like Python.  CG_END as stop means "to the end". */
#define CG_END INT64_MAX
cg_tensor *cg_slice(cg_tensor *t, int dim, int64_t start, int64_t stop, int64_t step);
/* t[index] along dim: removes that dim.  cg_select(t,0,1) is tns[1],
 * cg_select(t,1,1) is tns[:,1]. */
cg_tensor *cg_select(cg_tensor *t, int dim, int64_t index);
cg_tensor *cg_permute(cg_tensor *t, const int *dims);
cg_tensor *cg_transpose(cg_tensor *t, int dim0, int dim1);
cg_tensor *cg_t(cg_tensor *t); /* .T of a 1-d or 2-d tensor */
cg_tensor *cg_unsqueeze(cg_tensor *t, int dim);
cg_tensor *cg_squeeze(cg_tensor *t, int dim); /* dim of size 1; no-op otherwise */
/* Broadcasts to shape; -1 keeps a dim's size.  Stride 0 on new/expanded dims. */
cg_tensor *cg_expand(cg_tensor *t, int ndim, const int64_t *shape);

/* ---- joining ------------------------------------------------------------ */
cg_tensor *cg_cat(cg_tensor *const *ts, int n, int dim);
cg_tensor *cg_stack(cg_tensor *const *ts, int n, int dim);

#ifdef __cplusplus
}
#endif
#endif
