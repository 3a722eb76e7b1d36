/* Datasets: the generic object (len + item getter, refcounted), collation, and
 * the two in-memory datasets, list(zip(x, y)) and range(n).
 * See include/cgrad/dataset.h. */
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>

#include "cgrad/dataset.h"

struct cg_dataset {
    char *kind;
    cg_dataset_ops ops;
    void *ctx;
    atomic_int refcount;
    char **classes;
    int64_t n_classes;
    int64_t nbytes; /* held in memory; -1 unknown */
};

/* ---- the object ---------------------------------------------------------- */

cg_dataset *cg_dataset_new(const char *kind, const cg_dataset_ops *ops, void *ctx) {
    if (!ops || !ops->len || !ops->get) {
        cg_fail(CG_ERR_VALUE, "dataset: ops must have a len and a get function");
        return NULL;
    }
    cg_dataset *ds = calloc(1, sizeof *ds);
    char *k = strdup(kind ? kind : "custom");
    if (!ds || !k) {
        free(ds);
        free(k);
        cg_fail(CG_ERR_NOMEM, "dataset: out of memory");
        return NULL;
    }
    ds->kind = k;
    ds->ops = *ops;
    ds->ctx = ctx;
    ds->nbytes = -1;
    atomic_init(&ds->refcount, 1);
    return ds;
}

cg_dataset *cg_dataset_retain(cg_dataset *ds) {
    if (ds) atomic_fetch_add(&ds->refcount, 1);
    return ds;
}

static void free_classes(cg_dataset *ds) {
    for (int64_t i = 0; i < ds->n_classes; i++) free(ds->classes[i]);
    free(ds->classes);
    ds->classes = NULL;
    ds->n_classes = 0;
}

void cg_dataset_release(cg_dataset *ds) {
    if (!ds || atomic_fetch_sub(&ds->refcount, 1) != 1) return;
    if (ds->ops.free) ds->ops.free(ds->ctx);
    free_classes(ds);
    free(ds->kind);
    free(ds);
}

int64_t cg_dataset_len(const cg_dataset *ds) { return ds ? ds->ops.len(ds->ctx) : 0; }
const char *cg_dataset_kind(const cg_dataset *ds) { return ds ? ds->kind : "none"; }
bool cg_dataset_has_batch_getter(const cg_dataset *ds) { return ds && ds->ops.get_batch; }
const char *cg_dataset_item_source(const cg_dataset *ds, int64_t i) {
    if (!ds || !ds->ops.source || i < 0 || i >= ds->ops.len(ds->ctx)) return NULL;
    return ds->ops.source(ds->ctx, i);
}
int64_t cg_dataset_nbytes(const cg_dataset *ds) { return ds ? ds->nbytes : -1; }
void cg_dataset_set_nbytes(cg_dataset *ds, int64_t nbytes) {
    if (ds) ds->nbytes = nbytes;
}

const char *const *cg_dataset_classes(const cg_dataset *ds, int64_t *n) {
    if (n) *n = ds ? ds->n_classes : 0;
    return ds && ds->n_classes ? (const char *const *)ds->classes : NULL;
}

cg_status cg_dataset_set_classes(cg_dataset *ds, const char *const *names, int64_t n) {
    if (!ds) return cg_fail(CG_ERR_VALUE, "dataset: NULL dataset");
    if (n < 0 || (n > 0 && !names))
        return cg_fail(CG_ERR_VALUE, "dataset: bad class list (%lld names)", (long long)n);
    char **copy = n ? calloc((size_t)n, sizeof *copy) : NULL;
    if (n && !copy) return cg_fail(CG_ERR_NOMEM, "dataset: out of memory copying classes");
    for (int64_t i = 0; i < n; i++) {
        copy[i] = strdup(names[i] ? names[i] : "");
        if (!copy[i]) {
            for (int64_t j = 0; j < i; j++) free(copy[j]);
            free(copy);
            return cg_fail(CG_ERR_NOMEM, "dataset: out of memory copying classes");
        }
    }
    free_classes(ds);
    ds->classes = copy;
    ds->n_classes = n;
    return CG_OK;
}

/* ---- items and batches --------------------------------------------------- */

static cg_status check_index(const cg_dataset *ds, int64_t i, int64_t len) {
    if (i < 0 || i >= len)
        return cg_fail(CG_ERR_VALUE, "dataset (%s): index %lld is out of range for %lld items",
                       ds->kind, (long long)i, (long long)len);
    return CG_OK;
}

cg_status cg_dataset_item(cg_dataset *ds, int64_t i, cg_tensor **x, cg_tensor **y) {
    if (x) *x = NULL;
    if (y) *y = NULL;
    if (!ds || !x || !y) return cg_fail(CG_ERR_VALUE, "dataset: NULL argument to cg_dataset_item");
    int64_t len = ds->ops.len(ds->ctx);
    int64_t j = i < 0 ? i + len : i;
    if (i < 0 && j < 0) j = i; /* report the index the caller gave */
    cg_status st = check_index(ds, j, len);
    if (st != CG_OK) return st;
    cg_scope_begin(); /* on failure, whatever get() made dies here */
    st = ds->ops.get(ds->ctx, j, x, y);
    if (st == CG_OK && !*x)
        st = cg_fail(CG_ERR_STATE, "dataset (%s): item %lld has no x", ds->kind, (long long)j);
    if (st == CG_OK) {
        cg_keep(*x);
        cg_keep(*y);
    } else {
        *x = *y = NULL;
    }
    cg_scope_end();
    return st;
}

/* Stacks items[0..n-1] into [n, ...shape]; `index` (may be NULL) maps a batch
 * position to the dataset index named in messages. */
static cg_tensor *collate_field(cg_tensor *const *items, int64_t n, const char *what,
                                const int64_t *index, const char *kind) {
    if (n < 1) {
        cg_fail(CG_ERR_VALUE, "collate: nothing to stack (%lld items)", (long long)n);
        return NULL;
    }
    const cg_tensor *first = items[0];
    for (int64_t k = 0; k < n; k++) {
        const cg_tensor *t = items[k];
        long long ik = (long long)(index ? index[k] : k), i0 = (long long)(index ? index[0] : 0);
        if (!t) {
            cg_fail(CG_ERR_VALUE, "collate%s%s: %s of item %lld is missing (NULL)",
                    kind ? " " : "", kind ? kind : "", what, ik);
            return NULL;
        }
        if (t->ndim + 1 > CG_MAX_DIMS) {
            cg_fail(CG_ERR_SHAPE, "collate: %s of item %lld has %d dims; a batch of it would "
                    "have more than %d", what, ik, t->ndim, CG_MAX_DIMS);
            return NULL;
        }
        bool same_shape = t->ndim == first->ndim;
        for (int d = 0; same_shape && d < t->ndim; d++) same_shape = t->shape[d] == first->shape[d];
        if (!same_shape) {
            char a[128], b[128];
            cg_fail(CG_ERR_SHAPE, "collate%s%s: cannot stack %s of item %lld (shape %s) with "
                    "item %lld (shape %s): every item of a batch must have the same shape",
                    kind ? " " : "", kind ? kind : "", what, i0, cg_shape_str(first, a, sizeof a),
                    ik, cg_shape_str(t, b, sizeof b));
            return NULL;
        }
        if (t->dtype != first->dtype) {
            cg_fail(CG_ERR_DTYPE, "collate%s%s: cannot stack %s of item %lld (%s) with item %lld (%s)",
                    kind ? " " : "", kind ? kind : "", what, i0, cg_dtype_name(first->dtype), ik,
                    cg_dtype_name(t->dtype));
            return NULL;
        }
    }
    int64_t shape[CG_MAX_DIMS];
    shape[0] = n;
    memcpy(shape + 1, first->shape, (size_t)first->ndim * sizeof *shape);
    cg_scope_begin(); /* contiguous copies of strided items die at its end */
    cg_tensor *out = cg_empty(first->dtype, first->ndim + 1, shape);
    if (!out) {
        cg_scope_end();
        return NULL;
    }
    size_t item_bytes = (size_t)cg_numel(first) * cg_dtype_size(first->dtype);
    char *dst = cg_data(out);
    for (int64_t k = 0; k < n; k++) {
        cg_tensor *t = items[k];
        if (cg_is_contiguous(t)) {
            memcpy(dst + (size_t)k * item_bytes, cg_data(t), item_bytes);
        } else {
            cg_tensor *c = cg_contiguous(t);
            if (!c) {
                cg_scope_end();
                return NULL;
            }
            memcpy(dst + (size_t)k * item_bytes, cg_data(c), item_bytes);
        }
    }
    cg_keep(out);
    cg_scope_end();
    return out;
}

cg_tensor *cg_collate(cg_tensor *const *items, int64_t n, const char *what) {
    if (!items) {
        cg_fail(CG_ERR_VALUE, "collate: NULL item array");
        return NULL;
    }
    return collate_field(items, n, what ? what : "tensor", NULL, NULL);
}

/* Items one by one, then a stack of the x's and one of the y's. */
static cg_status batch_by_items(cg_dataset *ds, const int64_t *indices, int64_t n, cg_tensor **xb,
                                cg_tensor **yb) {
    cg_tensor **xs = calloc((size_t)n * 2, sizeof *xs);
    if (!xs) return cg_fail(CG_ERR_NOMEM, "dataset: out of memory for a batch of %lld", (long long)n);
    cg_tensor **ys = xs + n;
    cg_status st = CG_OK;
    for (int64_t got = 0; got < n && st == CG_OK; got++) {
        st = ds->ops.get(ds->ctx, indices[got], &xs[got], &ys[got]);
        if (st == CG_OK && !xs[got])
            st = cg_fail(CG_ERR_STATE, "dataset (%s): item %lld has no x", ds->kind,
                         (long long)indices[got]);
        if (st == CG_OK && (ys[got] == NULL) != (ys[0] == NULL))
            st = cg_fail(CG_ERR_VALUE, "dataset (%s): item %lld %s a y but item %lld %s",
                         ds->kind, (long long)indices[got], ys[got] ? "has" : "has no",
                         (long long)indices[0], ys[0] ? "has" : "has none");
    }
    if (st == CG_OK) {
        *xb = collate_field(xs, n, "x", indices, ds->kind);
        if (!*xb) st = cg_last_status();
    }
    if (st == CG_OK && ys[0]) {
        *yb = collate_field(ys, n, "y", indices, ds->kind);
        if (!*yb) st = cg_last_status();
    }
    /* The items belong to the scope cg_dataset_batch opened: they die there. */
    free(xs);
    return st;
}

cg_status cg_dataset_batch(cg_dataset *ds, const int64_t *indices, int64_t n, cg_tensor **xb,
                           cg_tensor **yb) {
    if (xb) *xb = NULL;
    if (yb) *yb = NULL;
    if (!ds || !indices || !xb || !yb)
        return cg_fail(CG_ERR_VALUE, "dataset: NULL argument to cg_dataset_batch");
    if (n < 1) return cg_fail(CG_ERR_VALUE, "dataset: a batch needs at least one item, got %lld",
                              (long long)n);
    int64_t len = ds->ops.len(ds->ctx);
    for (int64_t k = 0; k < n; k++) {
        cg_status st = check_index(ds, indices[k], len);
        if (st != CG_OK) return st;
    }
    cg_status st;
    cg_scope_begin(); /* temporaries of the batch die here; the batch is kept */
    if (ds->ops.get_batch) {
        st = ds->ops.get_batch(ds->ctx, indices, n, xb, yb);
        if (st == CG_OK && !*xb)
            st = cg_fail(CG_ERR_STATE, "dataset (%s): get_batch gave no x", ds->kind);
    } else {
        st = batch_by_items(ds, indices, n, xb, yb);
    }
    if (st == CG_OK) {
        cg_keep(*xb);
        cg_keep(*yb);
    } else {
        *xb = *yb = NULL; /* whatever was made belongs to the scope and dies with it */
    }
    cg_scope_end();
    return st;
}

/* ---- list(zip(x, y)) ------------------------------------------------------ */

typedef struct tensors_ctx {
    cg_tensor *x, *y; /* our own references; contiguous, no autograd */
    int64_t rows;
} tensors_ctx;

static int64_t tensors_len(void *ctx) { return ((tensors_ctx *)ctx)->rows; }

static cg_status tensors_get(void *ctx, int64_t i, cg_tensor **x, cg_tensor **y) {
    tensors_ctx *c = ctx;
    *x = cg_select(c->x, 0, i);
    if (!*x) return cg_last_status();
    *y = c->y ? cg_select(c->y, 0, i) : NULL;
    return c->y && !*y ? cg_last_status() : CG_OK;
}

/* Rows indices[0..n-1] of t (contiguous) copied into a new [n, ...] tensor. */
static cg_tensor *gather_rows(cg_tensor *t, const int64_t *indices, int64_t n) {
    int64_t shape[CG_MAX_DIMS];
    memcpy(shape, t->shape, (size_t)t->ndim * sizeof *shape);
    shape[0] = n;
    cg_tensor *out = cg_empty(t->dtype, t->ndim, shape);
    if (!out) return NULL;
    size_t row = (size_t)(t->shape[0] ? cg_numel(t) / t->shape[0] : 0) * cg_dtype_size(t->dtype);
    const char *src = cg_data(t);
    char *dst = cg_data(out);
    for (int64_t k = 0; k < n; k++) memcpy(dst + (size_t)k * row, src + (size_t)indices[k] * row, row);
    return out;
}

static cg_status tensors_get_batch(void *ctx, const int64_t *indices, int64_t n, cg_tensor **xb,
                                   cg_tensor **yb) {
    tensors_ctx *c = ctx;
    bool consecutive = true;
    for (int64_t k = 1; k < n && consecutive; k++) consecutive = indices[k] == indices[0] + k;
    if (consecutive) { /* unshuffled: a view, no copy (x[i0:i0+n]) */
        *xb = cg_slice(c->x, 0, indices[0], indices[0] + n, 1);
        *yb = c->y ? cg_slice(c->y, 0, indices[0], indices[0] + n, 1) : NULL;
    } else {
        *xb = gather_rows(c->x, indices, n);
        *yb = c->y ? gather_rows(c->y, indices, n) : NULL;
    }
    return !*xb || (c->y && !*yb) ? cg_last_status() : CG_OK;
}

static void tensors_free(void *ctx) {
    tensors_ctx *c = ctx;
    cg_release(c->x);
    cg_release(c->y);
    free(c);
}

/* A reference we own whatever scope is open: contiguous and detached. */
static cg_tensor *own_plain(cg_tensor *t) {
    if (cg_is_contiguous(t) && !t->requires_grad && !t->grad_fn) return cg_retain(t);
    cg_scope_begin();
    cg_tensor *d = cg_detach(cg_contiguous(t));
    cg_retain(d); /* the scope's reference dies at scope end; this one is ours */
    cg_scope_end();
    return d;
}

cg_dataset *cg_dataset_from_tensors(cg_tensor *x, cg_tensor *y) {
    if (!x) {
        if (cg_last_status() == CG_OK) cg_fail(CG_ERR_VALUE, "dataset: x is NULL");
        return NULL;
    }
    char a[128], b[128];
    if (x->ndim < 1 || (y && y->ndim < 1)) {
        cg_fail(CG_ERR_SHAPE, "dataset: x (shape %s) and y (shape %s) need at least one dim "
                "(the items)", cg_shape_str(x, a, sizeof a), y ? cg_shape_str(y, b, sizeof b) : "none");
        return NULL;
    }
    if (y && y->shape[0] != x->shape[0]) {
        cg_fail(CG_ERR_SHAPE, "dataset: x has %lld items (shape %s) but y has %lld (shape %s)",
                (long long)x->shape[0], cg_shape_str(x, a, sizeof a), (long long)y->shape[0],
                cg_shape_str(y, b, sizeof b));
        return NULL;
    }
    tensors_ctx *c = calloc(1, sizeof *c);
    if (!c) {
        cg_fail(CG_ERR_NOMEM, "dataset: out of memory");
        return NULL;
    }
    c->rows = x->shape[0];
    c->x = own_plain(x);
    c->y = y ? own_plain(y) : NULL;
    cg_dataset *ds = NULL;
    if (c->x && (!y || c->y)) {
        static const cg_dataset_ops ops = {tensors_len, tensors_get, tensors_get_batch, tensors_free, NULL};
        ds = cg_dataset_new("tensors", &ops, c);
    }
    if (ds)
        cg_dataset_set_nbytes(ds, (int64_t)(cg_numel(c->x) * cg_dtype_size(c->x->dtype)) +
                                      (c->y ? (int64_t)(cg_numel(c->y) * cg_dtype_size(c->y->dtype)) : 0));
    if (!ds) tensors_free(c);
    return ds;
}

cg_dataset *cg_dataset_range(int64_t n) {
    if (n < 0) {
        cg_fail(CG_ERR_VALUE, "dataset: range(%lld) has a negative length", (long long)n);
        return NULL;
    }
    cg_scope_begin();
    cg_dataset *ds = cg_dataset_from_tensors(cg_arange(CG_INT64, 0, (double)n, 1), NULL);
    cg_scope_end();
    return ds;
}
