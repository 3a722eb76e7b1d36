/* Internals of the tensor core, shared with the ops and autograd above it.
 * Not installed; nothing above the ops floor includes it, and nothing in it
 * knows autograd (autograd reaches in through the hooks below). */
#ifndef CGRAD_CORE_INTERNAL_H
#define CGRAD_CORE_INTERNAL_H

#include <stdatomic.h>

#include "cgrad/tensor.h"
#include "core/shape_check.h" /* cg_shape_numel_checked, cg_mul_overflow_size */

/* A reference-counted buffer.  `data` is memory of `device`, from that
 * device's backend (kernels/backend.h); every kernel call on it goes to
 * cg_backend_for(device) (core/dispatch.c). */
struct cg_storage {
    void *data;
    size_t nbytes;
    atomic_int refcount;
    cg_device device;
    /* A kept layout (kernels/backend.h): when `blocked` is set, the value
     * is there, nbytes of it in the backend's channel-block layout
     * (blocked_block: 8 or 16) of the (N,C,H,W) tensor blocked_shape, and
     * `data` is NULL (or with plain_valid a copy of the value) until
     * cg_storage_settle converts it back: a value kept blocked costs one
     * buffer, not two. */
    void *_Atomic blocked;
    int64_t blocked_block;
    int64_t blocked_shape[4];
    bool plain_valid; /* `data` holds the value too (blocked is a copy made for a kernel) */
};

/* ---- storages and header memory (core/storage.c) ------------------------- */
/* Host memory for headers: the CPU backend's pool (64-byte aligned; NULL on failure). */
void *cg_pool_alloc(size_t nbytes);
void cg_pool_free(void *p, size_t nbytes);
cg_storage *cg_storage_new_on(cg_device device, size_t nbytes); /* refcount 1 */
cg_storage *cg_storage_new(size_t nbytes);                      /* on the CPU */
void cg_storage_release(cg_storage *s);
/* Kept layouts (the vision layers' dispatch, core/dispatch_nn.c).
 * settle: if s holds its value in a blocked layout, converts it into
 * `data` and frees the blocked buffer; every plain access to a storage's
 * bytes (cg_data, the dispatch's views) calls it first, so nothing but the
 * kernels that asked for a layout ever sees one.  Cannot fail.
 * set_blocked: s's value is now buf (nbytes from its backend's alloc), in
 * `block` for the (N,C,H,W) tensor shape; s owns buf, and its plain
 * buffer is freed (settling allocates another).  A storage is
 * settled by reading it, so a kernel that writes a storage plain cannot
 * leave a stale blocked copy behind. */
void cg_storage_settle(cg_storage *s);
void cg_storage_set_blocked(cg_storage *s, void *buf, int64_t block, const int64_t shape[4]);
/* For a kernel that only reads s: `data` made to hold the value too, the
 * blocked buffer kept (a later reader in that layout needs no copy; any
 * other access settles as above, which then only frees it). */
void cg_storage_settle_for_reading(cg_storage *s);
/* The same for a copy of a value `data` still holds (settling then only frees it). */
void cg_storage_set_blocked_copy(cg_storage *s, void *buf, int64_t block, const int64_t shape[4]);
/* s's blocked buffer is about to be written in place: the plain copy is
 * stale, and its buffer freed (data NULL until a settle). */
void cg_storage_drop_plain(cg_storage *s);

/* ---- what the core needs from autograd (core/tensor.c) ------------------- */
/* The core sits below autograd and never calls it.  Autograd installs these
 * before it makes its first node or changes grad mode (autograd/tape.c), so
 * until then there are no nodes to free or name and grad mode is on. */
typedef struct cg_autograd_hooks {
    void (*node_release)(cg_node *n);                /* a tensor with a grad_fn dies */
    const char *(*grad_fn_name)(const cg_tensor *t); /* printing grad_fn=<...> */
    bool (*grad_enabled)(void);                      /* in-place fills refuse such leaves */
} cg_autograd_hooks;
void cg_set_autograd_hooks(const cg_autograd_hooks *hooks);
/* The hooks' answers, with the defaults above when none are installed. */
const char *cg_hook_grad_fn_name(const cg_tensor *t);
bool cg_hook_grad_enabled(void);

/* ---- tensor construction (core/tensor.c) -------------------------------- */
/* A new contiguous tensor of dtype/shape with uninitialised data, registered
 * with the current scope.  NULL (message set) on bad shape or no memory. */
cg_tensor *cg_tensor_new(cg_dtype dt, int ndim, const int64_t *shape);
/* A new tensor header viewing t's storage with the given layout (retains the
 * storage), registered with the current scope; no autograd. */
cg_tensor *cg_tensor_view_of(const cg_tensor *t, int ndim, const int64_t *shape,
                             const int64_t *strides, int64_t offset);
void cg_contiguous_strides(int ndim, const int64_t *shape, int64_t *strides);
int64_t cg_shape_numel(int ndim, const int64_t *shape);
/* Formats a shape like "[3, 4]" into buf. */
char *cg_dims_str(int ndim, const int64_t *shape, char *buf, size_t n);

/* Broadcasts shapes a and b (NumPy rules); CG_ERR_SHAPE naming op on failure. */
cg_status cg_broadcast_shapes(const char *op, int na, const int64_t *sa, int nb,
                              const int64_t *sb, int *nout, int64_t *sout);
/* A stride-0 view of t expanded to shape (no autograd; kernels' helper). */
cg_tensor *cg_expand_raw(const cg_tensor *t, int ndim, const int64_t *shape);
/* Sums g over the dims that broadcasting added or stretched so that the result
 * has `shape` (the backward of broadcasting).  Returns g retained if equal. */
cg_tensor *cg_sum_to_shape(cg_tensor *g, int ndim, const int64_t *shape);
/* t converted to dtype dt (t retained when it already is). */
cg_tensor *cg_cast_raw(cg_tensor *t, cg_dtype dt);

/* Whether t is a contiguous float32 tensor from element 0 of a storage that
 * only the caller's one reference reaches (no other header or view), so its
 * buffer may be written over or kept as it is (autograd's .grad stealing,
 * cg_relu_over).  Callers add their own autograd conditions. */
static inline bool cg_sole_float_buffer(const cg_tensor *t) {
    return t->refcount == 1 && t->dtype == CG_FLOAT32 && t->offset == 0 && cg_is_contiguous(t) &&
           atomic_load(&t->storage->refcount) == 1;
}

/* Internal scope helpers for ops: begin, then end keeping one result. */
static inline cg_tensor *cg_scope_return(cg_tensor *result) {
    cg_keep(result);
    cg_scope_end();
    return result;
}

#define CG_CHECK_NULL(...)                                            \
    do {                                                              \
        const void *cg_args_[] = {__VA_ARGS__};                       \
        for (size_t cg_i_ = 0; cg_i_ < sizeof cg_args_ / sizeof *cg_args_; cg_i_++) \
            if (!cg_args_[cg_i_]) {                                   \
                if (cg_last_status() == CG_OK)                        \
                    cg_fail(CG_ERR_VALUE, "%s: NULL tensor argument", __func__); \
                return NULL;                                          \
            }                                                         \
    } while (0)

#endif
