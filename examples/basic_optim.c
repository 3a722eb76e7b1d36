/* fastbook chapter 4, "Creating an Optimizer": nn.Linear trained with the
 * chapter's BasicOptim, then with fastai's SGD, 20 epochs each on
 * MNIST_SAMPLE, printing the validation accuracy after every epoch (the book
 * ends at 0.9785; its numbers depend on its random init, ours are seeded).
 *
 * With the default seed 42 the accuracies are exactly PyTorch 1.13's after
 * torch.manual_seed(42) (checked against a Python replay):
 *     BasicOptim: 0.4932 0.6655 0.855 0.9165 ... 0.978 0.978 0.9785
 *     SGD:        0.4932 0.8247 0.8462 0.9141 ... 0.9785 0.9785 0.9785
 *
 * usage: basic_optim [seed]     (default seed 42)
 * The data comes from cg_untar_data("mnist_sample"), i.e. $CGRAD_MIRROR or the internet. */
#include <stdio.h>
#include <stdlib.h>

#include "cgrad.h"
#include "chapter4_mnist.h"

static cg_tensor *forward(void *model, cg_tensor *xb) { return cg_module_forward(model, xb); }

/* def train_epoch(model):
 *     for xb,yb in dl:
 *         calc_grad(xb, yb, model)      # mnist_loss(model(xb), yb).backward()
 *         opt.step()
 *         opt.zero_grad()
 * is cg_ch4_train_epoch_opt (cgrad/chapter4.h), which `cgrad chapter4` calls too. */

/* def train_model(model, epochs):
 *     for i in range(epochs):
 *         train_epoch(model)
 *         print(validate_epoch(model), end=' ') */
static cg_status train_model(cg_module *model, cg_optimizer *opt, int epochs, cg_dataloader *dl,
                             cg_dataloader *valid_dl) {
    for (int i = 0; i < epochs; i++) {
        cg_status st = cg_ch4_train_epoch_opt(model, opt, dl);
        if (st) return st;
        double acc = chapter4_validate_epoch(forward, model, valid_dl);
        if (acc < 0) return cg_last_status();
        chapter4_print_acc(acc, i < epochs - 1 ? " " : "\n");
    }
    return CG_OK;
}

static int failed(void) {
    fprintf(stderr, "basic_optim: %s\n", cg_last_error());
    return 1;
}

/* model.parameters() -> an optimizer over them */
static cg_optimizer *make_opt(cg_module *model, bool basic, double lr) {
    cg_named_tensors ps;
    if (cg_module_named_parameters(model, &ps) != CG_OK) return NULL;
    cg_optimizer *opt = basic ? cg_basic_optim(ps.tensors, ps.n, lr) : cg_sgd(ps.tensors, ps.n, lr, 0, 0);
    cg_named_tensors_free(&ps);
    return opt;
}

int main(int argc, char **argv) {
    uint64_t seed = argc > 1 ? strtoull(argv[1], NULL, 10) : 42;
    cg_manual_seed(seed);
    cg_scope_begin();
    chapter4_data d = {0};
    if (chapter4_load(&d) != CG_OK) return failed();
    cg_dataloaders *dls = cg_tensor_dataloaders(d.train_x, d.train_y, d.valid_x, d.valid_y, 256, false, 0);
    if (!dls) return failed();
    cg_dataloader *dl = dls->train, *valid_dl = dls->valid;
    const double lr = 1.0;

    /* linear_model = nn.Linear(28*28,1)
     * w,b = linear_model.parameters(); w.shape,b.shape */
    cg_module *linear_model = cg_nn_linear(28 * 28, 1, true);
    if (!linear_model) return failed();
    char s1[64], s2[64];
    printf("(torch.Size(%s), torch.Size(%s))\n",
           cg_shape_str(cg_module_find(linear_model, "weight"), s1, sizeof s1),
           cg_shape_str(cg_module_find(linear_model, "bias"), s2, sizeof s2));

    /* opt = BasicOptim(linear_model.parameters(), lr)
     * validate_epoch(linear_model) */
    cg_optimizer *opt = make_opt(linear_model, true, lr);
    if (!opt) return failed();
    double acc = chapter4_validate_epoch(forward, linear_model, valid_dl);
    if (acc < 0) return failed();
    chapter4_print_acc(acc, "\n");
    /* train_model(linear_model, 20) */
    printf("BasicOptim: ");
    if (train_model(linear_model, opt, 20, dl, valid_dl) != CG_OK) return failed();
    cg_optimizer_free(opt);
    cg_module_release(linear_model);

    /* linear_model = nn.Linear(28*28,1)
     * opt = SGD(linear_model.parameters(), lr)
     * train_model(linear_model, 20) */
    linear_model = cg_nn_linear(28 * 28, 1, true);
    opt = linear_model ? make_opt(linear_model, false, lr) : NULL;
    if (!opt) return failed();
    printf("SGD:        ");
    if (train_model(linear_model, opt, 20, dl, valid_dl) != CG_OK) return failed();
    cg_optimizer_free(opt);
    cg_module_release(linear_model);

    cg_dataloaders_free(dls);
    cg_scope_end();
    cg_pool_trim();
    return 0;
}
