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
#include <cgrad/chapter4.h>

/* def f(t, params): a,b,c = params; return a*(t**2) + (b*t) + c   -> cg_ch4_quadratic
 * def mse(preds, targets): return ((preds-targets)**2).mean()
 * def apply_step(params): preds = f(time, params); loss = mse(preds, speed); loss.backward()
 *     params.data -= lr * params.grad.data; params.grad = None      -> cg_ch4_apply_step
 * (cgrad/chapter4.h: the calls `cgrad chapter4` makes too) */

int main(int argc, char **argv) {
    cg_manual_seed(argc > 1 ? strtoull(argv[1], NULL, 10) : 42);
    cg_tensor *time = NULL, *speed = NULL;
    cg_scope_begin();
    /* time = torch.arange(0,20).float(); speed = torch.randn(20)*3 + 0.75*(time-9.5)**2 + 1 */
    if (cg_ch4_speed_data(&time, &speed) == CG_OK) cg_keep(time), cg_keep(speed);
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
        if (cg_ch4_apply_step(params, time, speed, lr, &loss, NULL) != CG_OK) {
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
