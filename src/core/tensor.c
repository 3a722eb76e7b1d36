/* Tensor headers: allocation, reference counts, scopes, creation and access.
 * See the ownership notes in include/cgrad/tensor.h. */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "core/dispatch.h"
#include "core/internal.h"

/* ---- sizes and names ----------------------------------------------------- */
static const char *const dtype_names[CG_DTYPE_COUNT] = {"float32", "uint8", "int64", "bool"};
static const size_t dtype_sizes[CG_DTYPE_COUNT] = {4, 1, 8, 1};

const char *cg_dtype_name(cg_dtype dt) {
    return (dt >= 0 && dt < CG_DTYPE_COUNT) ? dtype_names[dt] : "invalid";
}
size_t cg_dtype_size(cg_dtype dt) { return (dt >= 0 && dt < CG_DTYPE_COUNT) ? dtype_sizes[dt] : 0; }

int64_t cg_shape_numel(int ndim, const int64_t *shape) {
    int64_t n = 1;
    for (int d = 0; d < ndim; d++) n *= shape[d];
    return n;
}
int64_t cg_numel(const cg_tensor *t) { return t ? cg_shape_numel(t->ndim, t->shape) : 0; }

void cg_contiguous_strides(int ndim, const int64_t *shape, int64_t *strides) {
    int64_t s = 1;
    for (int d = ndim - 1; d >= 0; d--) {
        strides[d] = s;
        s *= shape[d] > 0 ? shape[d] : 1;
    }
}

bool cg_is_contiguous(const cg_tensor *t) {
    /* PyTorch calls every tensor with no elements contiguous (and
     * cg_contiguous_strides gives zero-sized dims the stride of a size 1). */
    for (int d = 0; d < t->ndim; d++)
        if (t->shape[d] == 0) return true;
    int64_t s = 1;
    for (int d = t->ndim - 1; d >= 0; d--) {
        if (t->shape[d] != 1 && t->strides[d] != s) return false;
        s *= t->shape[d];
    }
    return true;
}

bool cg_same_shape(const cg_tensor *a, const cg_tensor *b) {
    if (a->ndim != b->ndim) return false;
    for (int d = 0; d < a->ndim; d++)
        if (a->shape[d] != b->shape[d]) return false;
    return true;
}

char *cg_dims_str(int ndim, const int64_t *shape, char *buf, size_t n) {
    size_t used = 0;
    used += (size_t)snprintf(buf, n, "[");
    for (int d = 0; d < ndim && used < n; d++)
        used += (size_t)snprintf(buf + used, n - used, d ? ", %lld" : "%lld", (long long)shape[d]);
    if (used < n) snprintf(buf + used, n - used, "]");
    return buf;
}

char *cg_shape_str(const cg_tensor *t, char *buf, size_t n) {
    return cg_dims_str(t->ndim, t->shape, buf, n);
}

int cg_norm_dim(const cg_tensor *t, int dim, const char *op) {
    int nd = t->ndim ? t->ndim : 1; /* a 0-d tensor accepts dim 0 / -1 like PyTorch */
    int d = dim < 0 ? dim + nd : dim;
    if (d < 0 || d >= nd) {
        char s[128];
        cg_fail(CG_ERR_DIM, "%s: dim %d is out of range for a tensor of shape %s (%d dims)", op, dim,
                cg_shape_str(t, s, sizeof s), t->ndim);
        return -1;
    }
    return d;
}

/* ---- scopes -------------------------------------------------------------- */
/* One growing array of owned references per thread; a scope is a range of it
 * starting at its mark.  cg_keep() blanks the slot and parks the tensor until
 * the scope ends, then hands it to the enclosing range. */
typedef struct tensor_list { cg_tensor **items; size_t n, cap; } tensor_list;
static _Thread_local tensor_list owned;
#define CG_SCOPE_MAX_DEPTH 256
static _Thread_local size_t marks[CG_SCOPE_MAX_DEPTH];
static _Thread_local int depth, overflow;
static _Thread_local tensor_list kept;  /* tensors kept out of the current scope */
static _Thread_local int *kept_depth;
static _Thread_local size_t kept_depth_cap;

static bool list_push(tensor_list *l, cg_tensor *t) {
    if (l->n == l->cap) {
        size_t cap = l->cap ? l->cap * 2 : 256;
        cg_tensor **items = realloc(l->items, cap * sizeof *items);
        if (!items) return false;
        l->items = items;
        l->cap = cap;
    }
    l->items[l->n++] = t;
    return true;
}

static void list_free_if_unused(tensor_list *l) {
    if (depth == 0 && l->n == 0) {
        free(l->items);
        l->items = NULL;
        l->cap = 0;
    }
}

void cg_scope_begin(void) {
    /* A fixed stack: opening a scope can never fail.  Past its depth the extra
     * scopes merge into the innermost one (they are the innermost until they end). */
    if (depth == CG_SCOPE_MAX_DEPTH || overflow > 0) {
        overflow++;
        return;
    }
    marks[depth++] = owned.n;
}

void cg_scope_end(void) {
    if (overflow > 0) {
        overflow--;
        return;
    }
    if (depth == 0) return;
    size_t start = marks[--depth];
    /* Release in reverse creation order: results die before their inputs. */
    for (size_t i = owned.n; i > start; i--) cg_release(owned.items[i - 1]);
    owned.n = start;
    /* Tensors kept at this depth move to the enclosing scope (or the caller). */
    while (kept.n && kept_depth[kept.n - 1] == depth + 1) {
        cg_tensor *t = kept.items[--kept.n];
        if (depth > 0) list_push(&owned, t);
    }
    if (depth == 0) {
        list_free_if_unused(&owned);
        if (kept.n == 0) {
            free(kept.items);
            kept = (tensor_list){0};
            free(kept_depth);
            kept_depth = NULL;
            kept_depth_cap = 0;
        }
    }
}

/* Room for one more kept tensor, made before anything moves so a failed
 * allocation leaves the tensor where it was (in its scope, released there). */
static bool reserve_kept(void) {
    if (kept.n < kept_depth_cap && kept.n < kept.cap) return true;
    size_t cap = (kept_depth_cap > kept.cap ? kept_depth_cap : kept.cap) * 2;
    if (cap < 16) cap = 16;
    int *kd = realloc(kept_depth, cap * sizeof *kd);
    if (kd) kept_depth = kd, kept_depth_cap = cap;
    cg_tensor **items = kd ? realloc(kept.items, cap * sizeof *items) : NULL;
    if (items) kept.items = items, kept.cap = cap;
    return kd && items;
}

cg_tensor *cg_keep(cg_tensor *t) {
    if (!t || depth == 0) return t;
    for (size_t i = owned.n; i > marks[depth - 1]; i--) {
        if (owned.items[i - 1] != t) continue;
        if (!reserve_kept()) {
            cg_fail(CG_ERR_NOMEM, "keep: out of memory; the tensor stays in its scope");
            return t;
        }
        memmove(&owned.items[i - 1], &owned.items[i], (owned.n - i) * sizeof *owned.items);
        owned.n--;
        kept_depth[kept.n] = depth;
        kept.items[kept.n++] = t;
        return t;
    }
    return t; /* not owned by this scope: nothing to move */
}

cg_tensor *cg_scope_adopt(cg_tensor *t) {
    if (t && depth > 0 && !list_push(&owned, t))
        cg_fail(CG_ERR_NOMEM, "scope_adopt: out of memory; the caller still owns the tensor");
    return t;
}

/* ---- headers ------------------------------------------------------------- */
static cg_tensor *header_new(void) {
    cg_tensor *t = cg_pool_alloc(sizeof *t);
    if (!t) {
        cg_fail(CG_ERR_NOMEM, "out of memory allocating a tensor header");
        return NULL;
    }
    memset(t, 0, sizeof *t);
    t->refcount = 1;
    if (depth > 0 && !list_push(&owned, t)) {
        cg_pool_free(t, sizeof *t);
        cg_fail(CG_ERR_NOMEM, "out of memory registering a tensor with its scope");
        return NULL;
    }
    return t;
}

/* ---- autograd's hooks ------------------------------------------------------ */
static const cg_autograd_hooks *autograd_hooks; /* set once, read by every thread */

void cg_set_autograd_hooks(const cg_autograd_hooks *hooks) {
    if (__atomic_load_n(&autograd_hooks, __ATOMIC_ACQUIRE) != hooks)
        __atomic_store_n(&autograd_hooks, hooks, __ATOMIC_RELEASE);
}

const char *cg_hook_grad_fn_name(const cg_tensor *t) {
    const cg_autograd_hooks *h = __atomic_load_n(&autograd_hooks, __ATOMIC_ACQUIRE);
    return h && t && t->grad_fn ? h->grad_fn_name(t) : NULL;
}

bool cg_hook_grad_enabled(void) {
    const cg_autograd_hooks *h = __atomic_load_n(&autograd_hooks, __ATOMIC_ACQUIRE);
    return h ? h->grad_enabled() : true;
}

cg_tensor *cg_retain(cg_tensor *t) {
    if (t) __atomic_add_fetch(&t->refcount, 1, __ATOMIC_RELAXED);
    return t;
}

void cg_release(cg_tensor *t) {
    if (!t) return;
    if (__atomic_sub_fetch(&t->refcount, 1, __ATOMIC_ACQ_REL) != 0) return;
    cg_storage_release(t->storage);
    cg_release(t->grad);
    if (t->grad_fn) /* only autograd makes nodes, and it installed its hooks first */
        __atomic_load_n(&autograd_hooks, __ATOMIC_ACQUIRE)->node_release(t->grad_fn);
    cg_pool_free(t, sizeof *t);
}

static cg_status check_shape(const char *op, int ndim, const int64_t *shape) {
    if (ndim < 0 || ndim > CG_MAX_DIMS)
        return cg_fail(CG_ERR_SHAPE, "%s: %d dims requested; cgrad supports 0 to %d", op, ndim,
                       CG_MAX_DIMS);
    for (int d = 0; d < ndim; d++)
        if (shape[d] < 0)
            return cg_fail(CG_ERR_SHAPE, "%s: size %lld at dim %d is negative", op,
                           (long long)shape[d], d);
    return CG_OK;
}

cg_tensor *cg_tensor_new(cg_dtype dt, int ndim, const int64_t *shape) {
    if (dt < 0 || dt >= CG_DTYPE_COUNT) {
        cg_fail(CG_ERR_DTYPE, "invalid dtype %d", (int)dt);
        return NULL;
    }
    if (check_shape("tensor", ndim, shape) != CG_OK) return NULL;
    /* Sizes come from files and flags: the element count and the byte size
     * are checked before allocating, never wrapped around (shape_check.h). */
    size_t nbytes;
    if (!cg_shape_bytes_checked(ndim, shape, cg_dtype_size(dt), &nbytes)) {
        char dims[CG_MAX_DIMS * 24 + 4];
        cg_fail(CG_ERR_SHAPE, "tensor: shape %s of %s is too large (its size overflows, or exceeds %zu bytes)",
                cg_dims_str(ndim, shape, dims, sizeof dims), cg_dtype_name(dt), (size_t)CG_MAX_ALLOC_BYTES);
        return NULL;
    }
    int64_t n = cg_shape_numel(ndim, shape);
    cg_storage *s = cg_storage_new(nbytes);
    if (!s) {
        cg_fail(CG_ERR_NOMEM, "out of memory allocating %lld elements of %s", (long long)n,
                cg_dtype_name(dt));
        return NULL;
    }
    cg_tensor *t = header_new();
    if (!t) {
        cg_storage_release(s);
        return NULL;
    }
    t->dtype = dt;
    t->ndim = ndim;
    if (ndim) memcpy(t->shape, shape, (size_t)ndim * sizeof *shape);
    cg_contiguous_strides(ndim, shape, t->strides);
    t->storage = s;
    return t;
}

cg_tensor *cg_tensor_view_of(const cg_tensor *src, int ndim, const int64_t *shape,
                             const int64_t *strides, int64_t offset) {
    cg_tensor *t = header_new();
    if (!t) return NULL;
    t->dtype = src->dtype;
    t->ndim = ndim;
    if (ndim) {
        memcpy(t->shape, shape, (size_t)ndim * sizeof *shape);
        memcpy(t->strides, strides, (size_t)ndim * sizeof *strides);
    }
    t->offset = offset;
    t->storage = src->storage;
    atomic_fetch_add(&src->storage->refcount, 1);
    return t;
}

/* ---- creation ------------------------------------------------------------ */
cg_tensor *cg_empty(cg_dtype dt, int ndim, const int64_t *shape) {
    return cg_tensor_new(dt, ndim, shape);
}

cg_tensor *cg_full(cg_dtype dt, int ndim, const int64_t *shape, double value) {
    cg_tensor *t = cg_tensor_new(dt, ndim, shape);
    if (t) cg_k_fill(t, value);
    return t;
}
cg_tensor *cg_zeros(cg_dtype dt, int ndim, const int64_t *shape) { return cg_full(dt, ndim, shape, 0); }
cg_tensor *cg_ones(cg_dtype dt, int ndim, const int64_t *shape) { return cg_full(dt, ndim, shape, 1); }
cg_tensor *cg_zeros_like(const cg_tensor *t) {
    CG_CHECK_NULL(t);
    return cg_zeros(t->dtype, t->ndim, t->shape);
}
cg_tensor *cg_ones_like(const cg_tensor *t) {
    CG_CHECK_NULL(t);
    return cg_ones(t->dtype, t->ndim, t->shape);
}

cg_tensor *cg_from_data(cg_dtype dt, int ndim, const int64_t *shape, const void *data) {
    if (!data) {
        cg_fail(CG_ERR_VALUE, "from_data: data pointer is NULL");
        return NULL;
    }
    cg_tensor *t = cg_tensor_new(dt, ndim, shape);
    if (t) cg_backend_of(t)->from_host(cg_data(t), data, (size_t)cg_numel(t) * cg_dtype_size(dt));
    return t;
}
cg_tensor *cg_from_floats(int ndim, const int64_t *shape, const float *data) {
    return cg_from_data(CG_FLOAT32, ndim, shape, data);
}
cg_tensor *cg_scalar_of(cg_dtype dt, double v) { return cg_full(dt, 0, NULL, v); }
cg_tensor *cg_scalar(double v) { return cg_scalar_of(CG_FLOAT32, v); }

cg_tensor *cg_arange(cg_dtype dt, double start, double end, double step) {
    if (step == 0 || !isfinite(start) || !isfinite(end) || !isfinite(step)) {
        cg_fail(CG_ERR_VALUE, "arange(%g, %g, %g): step must be nonzero and bounds finite", start,
                end, step);
        return NULL;
    }
    double count = ceil((end - start) / step);
    int64_t n = count > 0 ? (int64_t)count : 0;
    cg_tensor *t = cg_tensor_new(dt, 1, &n);
    if (!t) return NULL;
    cg_kview k = cg_kview_of(t);
    cg_backend_of(t)->arange(&k, start, step);
    return t;
}

cg_tensor *cg_linspace(double start, double end, int64_t steps) {
    if (steps < 0) {
        cg_fail(CG_ERR_VALUE, "linspace: steps must be >= 0, got %lld", (long long)steps);
        return NULL;
    }
    cg_tensor *t = cg_tensor_new(CG_FLOAT32, 1, &steps);
    if (!t) return NULL;
    if (steps > 0) {
        cg_kview k = cg_kview_of(t);
        cg_backend_of(t)->linspace(&k, start, end);
    }
    return t;
}

/* ---- access -------------------------------------------------------------- */
void *cg_data(const cg_tensor *t) {
    cg_storage_settle(t->storage);
    return (char *)t->storage->data + t->offset * (int64_t)cg_dtype_size(t->dtype);
}

float *cg_data_f32(const cg_tensor *t) {
    if (!t) return NULL;
    if (t->dtype != CG_FLOAT32) {
        cg_fail(CG_ERR_DTYPE, "expected a float32 tensor, got %s", cg_dtype_name(t->dtype));
        return NULL;
    }
    return cg_data(t);
}

static int64_t elem_offset(const cg_tensor *t, const int64_t *index) {
    int64_t off = 0;
    for (int d = 0; d < t->ndim; d++) off += index[d] * t->strides[d];
    return off;
}

double cg_get(const cg_tensor *t, const int64_t *index) {
    return cg_k_read(t, elem_offset(t, index));
}

cg_status cg_set(cg_tensor *t, const int64_t *index, double value) {
    if (!t) return cg_fail(CG_ERR_VALUE, "set: NULL tensor");
    for (int d = 0; d < t->ndim; d++)
        if (index[d] < 0 || index[d] >= t->shape[d]) {
            char s[128];
            return cg_fail(CG_ERR_DIM, "set: index %lld is out of range for dim %d of shape %s",
                           (long long)index[d], d, cg_shape_str(t, s, sizeof s));
        }
    cg_k_write(t, elem_offset(t, index), value);
    return CG_OK;
}

cg_status cg_item(const cg_tensor *t, double *out) {
    if (!t) return cg_fail(CG_ERR_VALUE, "item: NULL tensor");
    if (cg_numel(t) != 1) {
        char s[128];
        return cg_fail(CG_ERR_SHAPE,
                       "item: a tensor with %lld elements (shape %s) cannot be converted to a scalar",
                       (long long)cg_numel(t), cg_shape_str(t, s, sizeof s));
    }
    *out = cg_k_read(t, 0);
    return CG_OK;
}
