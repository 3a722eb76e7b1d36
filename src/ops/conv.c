/* F.conv2d: one op, one node, the kernels of the tensors' backend.
 *
 * x [N,C,H,W] * weight [OC,C/groups,KH,KW] (+ bias [OC]) -> y [N,OC,OH,OW].
 * The node keeps x, weight and bias as its inputs (the data backward needs
 * the weight, the weight backward needs x) and the descriptor's arguments in
 * iv: stride (2), padding (2), dilation (2), groups. */
#include "autograd/node.h"
#include "core/dispatch_nn.h"
#include "ops/nn_ops.h"

/* The descriptor of x * w with the node's (or the caller's) arguments;
 * CG_OK or CG_ERR_SHAPE naming the shapes. */
cg_status cg_conv2d_describe(const cg_tensor *x, const cg_tensor *w, const int64_t *args, cg_conv2d_desc *d) {
    *d = (cg_conv2d_desc){.n = x->shape[0], .c = x->shape[1], .h = x->shape[2], .w = x->shape[3],
                          .oc = w->shape[0], .kh = w->shape[2], .kw = w->shape[3],
                          .stride_h = args[0], .stride_w = args[1], .pad_h = args[2], .pad_w = args[3],
                          .dil_h = args[4], .dil_w = args[5], .groups = args[6]};
    char msg[200] = "";
    if (w->shape[1] * args[6] != x->shape[1]) {
        char sx[64], sw[64];
        return cg_fail(CG_ERR_SHAPE,
                       "conv2d: input %s has %lld channels but weight %s expects %lld (C/groups %lld x groups %lld)",
                       cg_shape_str(x, sx, sizeof sx), (long long)x->shape[1], cg_shape_str(w, sw, sizeof sw),
                       (long long)(w->shape[1] * args[6]), (long long)w->shape[1], (long long)args[6]);
    }
    if (cg_conv2d_desc_init(d, msg, sizeof msg) != CG_NN_OK) {
        char sx[64], sw[64];
        return cg_fail(CG_ERR_SHAPE, "conv2d: input %s, weight %s: %s", cg_shape_str(x, sx, sizeof sx),
                       cg_shape_str(w, sw, sizeof sw), msg);
    }
    return CG_OK;
}

cg_tensor *cg_conv2d(cg_tensor *x, cg_tensor *weight, cg_tensor *bias, const cg_conv2d_opts *opts) {
    CG_CHECK_NULL(x, weight);
    cg_conv2d_opts o = opts ? *opts : (cg_conv2d_opts){0};
    int64_t args[7] = {o.stride[0] ? o.stride[0] : 1, o.stride[1] ? o.stride[1] : 1, o.padding[0], o.padding[1],
                       o.dilation[0] ? o.dilation[0] : 1, o.dilation[1] ? o.dilation[1] : 1,
                       o.groups ? o.groups : 1};
    if (cg_nn_check_input("conv2d", "input", x, 4) || cg_nn_check_input("conv2d", "weight", weight, 4) ||
        (bias && cg_nn_check_vector("conv2d", "bias", bias, weight->shape[0])) ||
        cg_nn_check_device("conv2d", x, weight, bias))
        return NULL;
    cg_conv2d_desc d;
    if (cg_conv2d_describe(x, weight, args, &d)) return NULL;
    cg_scope_begin();
    cg_no_grad_begin();
    cg_tensor *xc = cg_contiguous(x), *wc = cg_contiguous(weight), *bc = bias ? cg_contiguous(bias) : NULL;
    cg_no_grad_end();
    cg_tensor *y = xc && wc && (bc || !bias) ? cg_tensor_new(CG_FLOAT32, CG_SHAPE(d.n, d.oc, d.oh, d.ow)) : NULL;
    if (!y || cg_k_conv2d_forward(&d, xc, wc, bc, y)) return cg_scope_return(NULL);
    cg_tensor *in[3] = {x, weight, bias};
    cg_node *n = cg_record(CG_OP_CONV2D, y, bias ? 3 : 2, in);
    if (n) {
        for (int i = 0; i < 7; i++) n->iv[i] = args[i];
        n->n_iv = 7;
    }
    return cg_scope_return(y);
}
