/* matmul with torch.matmul's rules; every product is one backend GEMM per
 * batch entry.  2-d operands that are row-major or transposed views (W.T in
 * a Linear layer) go to the GEMM as they are, with the transpose flag set. */
#include <string.h>

#include "autograd/node.h"
#include "core/dispatch.h"

/* How a 2-d [rows, cols] view can be handed to BLAS without a copy. */
static bool blas_layout(const int64_t *shape, const int64_t *strides, bool *trans, int64_t *ld) {
    if (strides[1] == 1 && (strides[0] >= (shape[1] > 1 ? shape[1] : 1) || shape[0] == 1)) {
        *trans = false;
        *ld = shape[0] == 1 ? (shape[1] > 1 ? shape[1] : 1) : strides[0];
        return *ld >= (shape[1] > 1 ? shape[1] : 1);
    }
    if (strides[0] == 1 && (strides[1] >= (shape[0] > 1 ? shape[0] : 1) || shape[1] == 1)) {
        *trans = true;
        *ld = shape[1] == 1 ? (shape[0] > 1 ? shape[0] : 1) : strides[1];
        return *ld >= (shape[0] > 1 ? shape[0] : 1);
    }
    return false;
}

cg_tensor *cg_matmul(cg_tensor *a, cg_tensor *b) {
    CG_CHECK_NULL(a, b);
    char s1[128], s2[128];
    if (a->dtype != CG_FLOAT32 || b->dtype != CG_FLOAT32) {
        cg_fail(CG_ERR_DTYPE, "matmul: expects float32 operands, got %s and %s (call cg_float)",
                cg_dtype_name(a->dtype), cg_dtype_name(b->dtype));
        return NULL;
    }
    if (a->ndim == 0 || b->ndim == 0) {
        cg_fail(CG_ERR_SHAPE, "matmul: both arguments need at least 1 dim, got shapes %s and %s",
                cg_shape_str(a, s1, sizeof s1), cg_shape_str(b, s2, sizeof s2));
        return NULL;
    }
    /* Promote 1-d operands: [K] -> [1,K] on the left, [K] -> [K,1] on the right. */
    int an = a->ndim < 2 ? 2 : a->ndim, bn = b->ndim < 2 ? 2 : b->ndim;
    int64_t ash[CG_MAX_DIMS], ast[CG_MAX_DIMS], bsh[CG_MAX_DIMS], bst[CG_MAX_DIMS];
    if (a->ndim == 1) {
        ash[0] = 1, ash[1] = a->shape[0], ast[0] = a->shape[0] * a->strides[0], ast[1] = a->strides[0];
    } else {
        memcpy(ash, a->shape, sizeof ash), memcpy(ast, a->strides, sizeof ast);
    }
    if (b->ndim == 1) {
        bsh[0] = b->shape[0], bsh[1] = 1, bst[0] = b->strides[0], bst[1] = 1;
    } else {
        memcpy(bsh, b->shape, sizeof bsh), memcpy(bst, b->strides, sizeof bst);
    }
    int64_t M = ash[an - 2], K = ash[an - 1], K2 = bsh[bn - 2], N = bsh[bn - 1];
    if (K != K2) {
        cg_fail(CG_ERR_SHAPE, "matmul: shapes %s and %s cannot be multiplied (%lld != %lld)",
                cg_shape_str(a, s1, sizeof s1), cg_shape_str(b, s2, sizeof s2), (long long)K, (long long)K2);
        return NULL;
    }
    int nbatch;
    int64_t batch[CG_MAX_DIMS];
    if (cg_broadcast_shapes("matmul (batch dims)", an - 2, ash, bn - 2, bsh, &nbatch, batch) != CG_OK)
        return NULL;

    cg_scope_begin();
    /* Batched views of a and b expanded to the common batch shape. */
    int64_t full[CG_MAX_DIMS];
    memcpy(full, batch, (size_t)nbatch * sizeof *full);
    cg_tensor ah = *a, bh = *b; /* headers with the promoted layouts */
    ah.ndim = an, bh.ndim = bn;
    memcpy(ah.shape, ash, sizeof ash), memcpy(ah.strides, ast, sizeof ast);
    memcpy(bh.shape, bsh, sizeof bsh), memcpy(bh.strides, bst, sizeof bst);
    full[nbatch] = M, full[nbatch + 1] = K;
    cg_tensor *ea = cg_expand_raw(&ah, nbatch + 2, full);
    full[nbatch] = K, full[nbatch + 1] = N;
    cg_tensor *eb = cg_expand_raw(&bh, nbatch + 2, full);
    full[nbatch] = M, full[nbatch + 1] = N;
    cg_tensor *out = ea && eb ? cg_tensor_new(CG_FLOAT32, nbatch + 2, full) : NULL;
    if (!out) return cg_scope_return(NULL);

    bool ta = false, tb = false;
    int64_t lda = 0, ldb = 0;
    cg_tensor *ca = ea, *cb = eb;
    if (!blas_layout(&ea->shape[nbatch], &ea->strides[nbatch], &ta, &lda)) {
        ca = cg_tensor_new(CG_FLOAT32, ea->ndim, ea->shape);
        if (!ca) return cg_scope_return(NULL);
        cg_k_copy(ca, ea);
        blas_layout(&ca->shape[nbatch], &ca->strides[nbatch], &ta, &lda);
    }
    if (!blas_layout(&eb->shape[nbatch], &eb->strides[nbatch], &tb, &ldb)) {
        cb = cg_tensor_new(CG_FLOAT32, eb->ndim, eb->shape);
        if (!cb) return cg_scope_return(NULL);
        cg_k_copy(cb, eb);
        blas_layout(&cb->shape[nbatch], &cb->strides[nbatch], &tb, &ldb);
    }
    int64_t nb = cg_shape_numel(nbatch, batch);
    const float *pa = cg_data(ca), *pb = cg_data(cb);
    float *pc = cg_data(out);
    const cg_backend *be = cg_backend_of(out);
    for (int64_t i = 0; i < nb; i++) {
        int64_t oa = 0, ob = 0, rem = i;
        for (int d = nbatch - 1; d >= 0; d--) {
            int64_t idx = rem % batch[d];
            rem /= batch[d];
            oa += idx * ca->strides[d];
            ob += idx * cb->strides[d];
        }
        be->gemm(ta, tb, M, N, K, 1.0f, pa + oa, lda, pb + ob, ldb, 0.0f, pc + i * M * N, N);
    }
    /* Drop the promoted dims again. */
    int64_t oshape[CG_MAX_DIMS];
    int ond = nbatch;
    memcpy(oshape, batch, (size_t)nbatch * sizeof *oshape);
    if (a->ndim > 1) oshape[ond++] = M;
    if (b->ndim > 1) oshape[ond++] = N;
    out->ndim = ond;
    memcpy(out->shape, oshape, sizeof oshape);
    cg_contiguous_strides(ond, oshape, out->strides);
    cg_record(CG_OP_MATMUL, out, 2, (cg_tensor *[]){a, b});
    return cg_scope_return(out);
}
