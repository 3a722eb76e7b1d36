/* The chapter's "An End-to-End SGD Example": fit a*t^2 + b*t + c to noisy
 * roller-coaster speeds with plain gradient descent.
 *
 *   time = torch.arange(0,20).float()
 *   speed = torch.randn(20)*3 + 0.75*(time-9.5)**2 + 1
 *   params = torch.randn(3).requires_grad_()
 *   for i in range(10): apply_step(params)     # prints the loss, falling
 *
 * Usage: sgd_quadratic [seed]   (default 42; same seed => the same numbers as
 * torch.manual_seed(seed) followed by the chapter's calls)
 */
#include <stdlib.h>

#include <cgrad.h>

static cg_tensor *f(cg_tensor *t, cg_tensor *params) {
    cg_tensor *a = cg_select(params, 0, 0), *b = cg_select(params, 0, 1), *c = cg_select(params, 0, 2);
    return cg_add(cg_add(cg_mul(a, cg_pow_s(t, 2)), cg_mul(b, t)), c);
}

static cg_tensor *mse(cg_tensor *preds, cg_tensor *targets) {
    return cg_mean(cg_pow_s(cg_sub(preds, targets), 2), NULL, 0, false);
}

/* One step: predict, loss, backward, params.data -= lr * params.grad, grad = None. */
static cg_status apply_step(cg_tensor *params, cg_tensor *time, cg_tensor *speed, double lr, double *loss_out) {
    cg_scope_begin();
    cg_tensor *loss = mse(f(time, params), speed);
    cg_status st = cg_backward(loss, NULL);
    if (st == CG_OK) st = cg_item(loss, loss_out);
    if (st == CG_OK) {
        cg_no_grad_begin();
        st = cg_axpy_(params, -lr, params->grad);
        cg_no_grad_end();
        cg_clear_grad(params);
    }
    cg_scope_end();
    return st;
}

int main(int argc, char **argv) {
    cg_manual_seed(argc > 1 ? strtoull(argv[1], NULL, 10) : 42);
    cg_tensor *time = cg_arange(CG_FLOAT32, 0, 20, 1);
    cg_scope_begin();
    cg_tensor *noise = cg_mul_s(cg_randn(NULL, CG_SHAPE(20)), 3);
    cg_tensor *curve = cg_add_s(cg_mul_s(cg_pow_s(cg_sub_s(time, 9.5), 2), 0.75), 1);
    cg_tensor *speed = cg_keep(cg_add(noise, curve));
    cg_scope_end();
    cg_tensor *params = cg_requires_grad_(cg_randn(NULL, CG_SHAPE(3)), true);
    if (!speed || !params) {
        fprintf(stderr, "sgd_quadratic: %s\n", cg_last_error());
        return 1;
    }
    printf("speed = ");
    cg_print(speed);
    printf("params = ");
    cg_print(params);
    const double lr = 1e-5;
    for (int i = 0; i < 10; i++) {
        double loss;
        if (apply_step(params, time, speed, lr, &loss) != CG_OK) {
            fprintf(stderr, "sgd_quadratic: %s\n", cg_last_error());
            return 1;
        }
        printf("%.4f\n", loss);
    }
    printf("params = ");
    cg_print(params);
    cg_release(time), cg_release(speed), cg_release(params);
    cg_pool_trim();
    return 0;
}
