/* Tensors to descriptors, and each call to the backend of their storage. */
#include <stdlib.h>
#include <string.h>

#include "core/dispatch.h"
#include "core/dispatch_nn.h"
#include "core/internal.h"

/* t's element 0, from the storage itself (as cg_data computes it) */
static inline char *data_of(const cg_tensor *t) {
    cg_storage_settle(t->storage);
    return (char *)t->storage->data + t->offset * (int64_t)cg_kdtype_size(t->dtype);
}

cg_kview cg_kview_of(const cg_tensor *t) {
    cg_kview v;
    v.data = data_of(t);
    v.dtype = t->dtype;
    v.ndim = t->ndim;
    memcpy(v.shape, t->shape, sizeof v.shape);
    memcpy(v.strides, t->strides, sizeof v.strides);
    return v;
}

const cg_backend *cg_backend_of(const cg_tensor *t) { return cg_backend_for(t->storage->device); }

void cg_k_fill(cg_tensor *t, double v) {
    cg_kview k = cg_kview_of(t);
    cg_backend_of(t)->fill(&k, v);
}

void cg_k_copy(cg_tensor *dst, const cg_tensor *src) {
    cg_kview d = cg_kview_of(dst), s = cg_kview_of(src);
    cg_backend_of(dst)->copy(&d, &s);
}

void cg_k_unary(cg_unary_op op, cg_tensor *out, const cg_tensor *in, double p0, double p1) {
    if (cg_k_unary_kept(op, out, in, p0, p1)) return;
    cg_kview o = cg_kview_of(out), i = cg_kview_of(in);
    cg_backend_of(out)->unary(op, &o, &i, p0, p1);
}

void cg_k_binary(cg_binary_op op, cg_tensor *out, const cg_tensor *a, const cg_tensor *b,
                 double p0, double p1) {
    if (cg_k_binary_kept(op, out, a, b, p0, p1)) return;
    cg_kview o = cg_kview_of(out), ka = cg_kview_of(a), kb = cg_kview_of(b);
    cg_backend_of(out)->binary(op, &o, &ka, &kb, p0, p1);
}

void cg_k_where(cg_tensor *out, const cg_tensor *cond, const cg_tensor *a, const cg_tensor *b) {
    cg_kview o = cg_kview_of(out), c = cg_kview_of(cond), ka = cg_kview_of(a), kb = cg_kview_of(b);
    cg_backend_of(out)->where(&o, &c, &ka, &kb);
}

void cg_k_reduce(cg_reduce_op op, cg_tensor *out, cg_tensor *index, const cg_tensor *in,
                 unsigned mask) {
    cg_kview o = cg_kview_of(out), i = cg_kview_of(in), x;
    if (index) x = cg_kview_of(index);
    cg_backend_of(out)->reduce(op, &o, index ? &x : NULL, &i, mask);
}

void cg_k_reduce_index_backward(cg_tensor *gx, const cg_tensor *g, const cg_tensor *index,
                                unsigned mask) {
    cg_kview o = cg_kview_of(gx), kg = cg_kview_of(g), x = cg_kview_of(index);
    cg_backend_of(gx)->reduce_index_backward(&o, &kg, &x, mask);
}

double cg_k_read(const cg_tensor *t, int64_t offset) {
    unsigned char buf[8];
    size_t es = cg_kdtype_size(t->dtype);
    cg_backend_of(t)->to_host(buf, data_of(t) + offset * (int64_t)es, es);
    return cg_kload(t->dtype, buf);
}

void cg_k_write(cg_tensor *t, int64_t offset, double v) {
    unsigned char buf[8];
    size_t es = cg_kdtype_size(t->dtype);
    cg_kstore(t->dtype, buf, v);
    cg_backend_of(t)->from_host(data_of(t) + offset * (int64_t)es, buf, es);
}

void *cg_host_begin(const cg_tensor *t) {
    if (t->storage->device == CG_CPU) return data_of(t);
    cg_storage *s = t->storage;
    cg_storage_settle(s);
    char *copy = malloc(s->nbytes ? s->nbytes : 1);
    if (!copy) {
        cg_fail(CG_ERR_NOMEM, "out of memory copying %zu bytes of a tensor to the host", s->nbytes);
        return NULL;
    }
    const cg_backend *be = cg_backend_of(t);
    be->synchronize();
    be->to_host(copy, s->data, s->nbytes);
    return copy + t->offset * (int64_t)cg_kdtype_size(t->dtype);
}

void cg_host_end(const cg_tensor *t, void *host, bool write_back) {
    if (!host || t->storage->device == CG_CPU) return;
    char *copy = (char *)host - t->offset * (int64_t)cg_kdtype_size(t->dtype);
    if (write_back) {
        cg_storage_settle(t->storage);
        cg_backend_of(t)->from_host(t->storage->data, copy, t->storage->nbytes);
    }
    free(copy);
}
