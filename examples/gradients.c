/* The chapter's "Calculating Gradients" cells in C.
 *
 *   def f(x): return x**2
 *   xt = tensor(3.).requires_grad_(); yt = f(xt); yt.backward(); xt.grad  -> tensor(6.)
 *   xt = tensor([3.,4.,10.]).requires_grad_()
 *   def f(x): return (x**2).sum()
 *   yt = f(xt); yt.backward(); xt.grad                                     -> tensor([ 6.,  8., 20.])
 */
#include <cgrad.h>

static cg_tensor *f_scalar(cg_tensor *x) { return cg_pow_s(x, 2); }
static cg_tensor *f_sum(cg_tensor *x) { return cg_sum(cg_pow_s(x, 2), NULL, 0, false); }

int main(void) {
    cg_scope_begin();
    cg_tensor *xt = cg_requires_grad_(cg_scalar(3.0), true);
    cg_tensor *yt = f_scalar(xt);
    cg_print(yt);                      /* tensor(9., grad_fn=<PowBackward0>) */
    if (cg_backward(yt, NULL) != CG_OK) goto fail;
    cg_print(xt->grad);                /* tensor(6.) */

    cg_tensor *xv = cg_requires_grad_(cg_from_floats(CG_SHAPE(3), (float[]){3, 4, 10}), true);
    cg_print(xv);                      /* tensor([ 3.,  4., 10.], requires_grad=True) */
    cg_tensor *yv = f_sum(xv);
    cg_print(yv);                      /* tensor(125., grad_fn=<SumBackward0>) */
    if (cg_backward(yv, NULL) != CG_OK) goto fail;
    cg_print(xv->grad);                /* tensor([ 6.,  8., 20.]) */
    cg_scope_end();
    cg_pool_trim();
    return 0;
fail:
    fprintf(stderr, "gradients: %s\n", cg_last_error());
    cg_scope_end();
    cg_pool_trim();
    return 1;
}
