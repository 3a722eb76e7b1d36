/* F.max_pool2d, F.avg_pool2d, F.adaptive_avg_pool2d, F.adaptive_max_pool2d.
 *
 * x [N,C,H,W] -> y [N,C,OH,OW], each (n, c) plane alone.  Window pools keep
 * kernel, stride and padding in the node's iv (6 values), adaptive pools the
 * output size (2); the max pools save their int64 argmax indices (PyTorch's
 * flat h*W + w within the plane), which is all their backward needs. */
#include "autograd/node.h"
#include "core/dispatch_nn.h"
#include "ops/nn_ops.h"

cg_pool2d_desc cg_pool2d_describe(const cg_tensor *x, bool adaptive, const int64_t *iv) {
    cg_pool2d_desc d = {.n = x->shape[0], .c = x->shape[1], .h = x->shape[2], .w = x->shape[3]};
    if (adaptive) {
        d.oh = iv[0];
        d.ow = iv[1];
    } else {
        d.kh = iv[0], d.kw = iv[1], d.stride_h = iv[2], d.stride_w = iv[3], d.pad_h = iv[4], d.pad_w = iv[5];
    }
    return d;
}

static const char *const pool_names[] = {"max_pool2d", "avg_pool2d", "adaptive_max_pool2d",
                                         "adaptive_avg_pool2d"};
static const cg_op pool_ops[] = {CG_OP_MAX_POOL2D, CG_OP_AVG_POOL2D, CG_OP_ADAPTIVE_MAX_POOL2D,
                                 CG_OP_ADAPTIVE_AVG_POOL2D};

static cg_tensor *pool(cg_pool2d_kind kind, cg_tensor *x, const int64_t *iv, int n_iv) {
    CG_CHECK_NULL(x);
    const char *name = pool_names[kind];
    if (cg_nn_check_input(name, "input", x, 4)) return NULL;
    bool adaptive = kind == CG_POOL_ADAPTIVE_MAX || kind == CG_POOL_ADAPTIVE_AVG;
    cg_pool2d_desc d = cg_pool2d_describe(x, adaptive, iv);
    char msg[200] = "";
    cg_nn_status st = adaptive ? cg_adaptive_pool2d_desc_init(&d, msg, sizeof msg)
                               : cg_pool2d_desc_init(&d, msg, sizeof msg);
    if (st != CG_NN_OK) {
        char s[64];
        cg_fail(CG_ERR_SHAPE, "%s: input %s: %s", name, cg_shape_str(x, s, sizeof s), msg);
        return NULL;
    }
    bool is_max = kind == CG_POOL_MAX || kind == CG_POOL_ADAPTIVE_MAX;
    cg_scope_begin();
    cg_no_grad_begin();
    cg_tensor *xc = cg_contiguous(x);
    cg_no_grad_end();
    cg_tensor *y = cg_tensor_new(CG_FLOAT32, CG_SHAPE(d.n, d.c, d.oh, d.ow));
    cg_tensor *idx = is_max ? cg_tensor_new(CG_INT64, CG_SHAPE(d.n, d.c, d.oh, d.ow)) : NULL;
    if (!xc || !y || (is_max && !idx)) return cg_scope_return(NULL);
    cg_k_pool2d_forward(kind, &d, xc, y, idx);
    cg_node *n = cg_record(pool_ops[kind], y, 1, &x);
    if (n) {
        for (int i = 0; i < n_iv; i++) n->iv[i] = iv[i];
        n->n_iv = n_iv;
        if (idx) cg_node_save(n, idx);
    }
    return cg_scope_return(y);
}

/* kernel, stride (NULL = kernel), padding (NULL = 0) into the node's 6 values. */
static void window_args(const int64_t *kernel, const int64_t *stride, const int64_t *padding, int64_t *iv) {
    for (int i = 0; i < 2; i++) {
        iv[i] = kernel[i];
        iv[2 + i] = stride ? stride[i] : kernel[i];
        iv[4 + i] = padding ? padding[i] : 0;
    }
}

cg_tensor *cg_max_pool2d(cg_tensor *x, const int64_t *kernel, const int64_t *stride, const int64_t *padding) {
    if (!kernel) {
        cg_fail(CG_ERR_VALUE, "max_pool2d: no kernel size");
        return NULL;
    }
    int64_t iv[6];
    window_args(kernel, stride, padding, iv);
    return pool(CG_POOL_MAX, x, iv, 6);
}

cg_tensor *cg_avg_pool2d(cg_tensor *x, const int64_t *kernel, const int64_t *stride, const int64_t *padding) {
    if (!kernel) {
        cg_fail(CG_ERR_VALUE, "avg_pool2d: no kernel size");
        return NULL;
    }
    int64_t iv[6];
    window_args(kernel, stride, padding, iv);
    return pool(CG_POOL_AVG, x, iv, 6);
}

cg_tensor *cg_adaptive_avg_pool2d(cg_tensor *x, int64_t out_h, int64_t out_w) {
    return pool(CG_POOL_ADAPTIVE_AVG, x, (int64_t[]){out_h, out_w}, 2);
}

cg_tensor *cg_adaptive_max_pool2d(cg_tensor *x, int64_t out_h, int64_t out_w) {
    return pool(CG_POOL_ADAPTIVE_MAX, x, (int64_t[]){out_h, out_w}, 2);
}
