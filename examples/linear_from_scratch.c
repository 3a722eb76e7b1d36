/* fastbook chapter 4, "Putting It All Together": a linear model trained by
 * hand on MNIST_SAMPLE (3s vs 7s), cell by cell.  Each block starts with the
 * Python it reproduces.  Prints the validation accuracy before training,
 * after one epoch, then after each of 20 more (the book: 0.5219, 0.6883,
 * ... 0.9696 — its numbers depend on its random init; ours are seeded).
 *
 * With the default seed 42 it prints exactly what the chapter's cells print in
 * PyTorch 1.13 after torch.manual_seed(42) (checked against a Python replay):
 *     (torch.Size([12396, 784]), torch.Size([12396, 1]))
 *     0.5476
 *     0.7304
 *     0.8506 0.9009 0.9292 0.9389 0.9443 0.9526 ... 0.9672 0.9677 0.9682
 *
 * usage: linear_from_scratch [seed]     (default seed 42)
 * The data comes from cg_untar_data("mnist_sample"), i.e. $CGRAD_MIRROR or the internet. */
#include <stdio.h>
#include <stdlib.h>

#include "cgrad.h"
#include "chapter4_mnist.h"

static cg_tensor *weights, *bias;

/* def linear1(xb): return xb@weights + bias */
static cg_tensor *linear1(void *ctx, cg_tensor *xb) {
    (void)ctx;
    return cg_add(cg_matmul(xb, weights), bias);
}

/* def calc_grad(xb, yb, model):
 *     preds = model(xb)
 *     loss = mnist_loss(preds, yb)
 *     loss.backward()
 * def train_epoch(model, lr, params):
 *     for xb,yb in dl:
 *         calc_grad(xb, yb, model)
 *         for p in params:
 *             p.data -= p.grad*lr
 *             p.grad.zero_()
 * is cg_ch4_train_epoch (cgrad/chapter4.h), which `cgrad chapter4` calls too. */

static int failed(void) {
    fprintf(stderr, "linear_from_scratch: %s\n", cg_last_error());
    return 1;
}

int main(int argc, char **argv) {
    uint64_t seed = argc > 1 ? strtoull(argv[1], NULL, 10) : 42;
    cg_manual_seed(seed);

    /* weights = init_params((28*28,1)); bias = init_params(1)
     * (made before any scope: they live for the whole run) */
    weights = cg_init_params(CG_SHAPE(28 * 28, 1), 1.0);
    bias = cg_init_params(CG_SHAPE(1), 1.0);
    if (!weights || !bias) return failed();

    cg_scope_begin();
    chapter4_data d = {0};
    if (chapter4_load(&d) != CG_OK) return failed();
    char s1[64], s2[64];
    /* train_x.shape,train_y.shape */
    printf("(torch.Size(%s), torch.Size(%s))\n", cg_shape_str(d.train_x, s1, sizeof s1),
           cg_shape_str(d.train_y, s2, sizeof s2));

    /* dset = list(zip(train_x,train_y)); dl = DataLoader(dset, batch_size=256)
     * valid_dset = list(zip(valid_x,valid_y)); valid_dl = DataLoader(valid_dset, batch_size=256) */
    cg_dataloaders *dls = cg_tensor_dataloaders(d.train_x, d.train_y, d.valid_x, d.valid_y, 256, false, 0);
    if (!dls) return failed();
    cg_dataloader *dl = dls->train, *valid_dl = dls->valid;

    /* validate_epoch(linear1) */
    double acc = chapter4_validate_epoch(linear1, NULL, valid_dl);
    if (acc < 0) return failed();
    chapter4_print_acc(acc, "\n");

    /* lr = 1.; params = weights,bias
     * train_epoch(linear1, lr, params); validate_epoch(linear1) */
    const double lr = 1.0;
    cg_tensor *params[2] = {weights, bias};
    if (cg_ch4_train_epoch(linear1, NULL, dl, lr, params, 2) != CG_OK) return failed();
    acc = chapter4_validate_epoch(linear1, NULL, valid_dl);
    if (acc < 0) return failed();
    chapter4_print_acc(acc, "\n");

    /* for i in range(20):
     *     train_epoch(linear1, lr, params)
     *     print(validate_epoch(linear1), end=' ') */
    for (int i = 0; i < 20; i++) {
        if (cg_ch4_train_epoch(linear1, NULL, dl, lr, params, 2) != CG_OK) return failed();
        acc = chapter4_validate_epoch(linear1, NULL, valid_dl);
        if (acc < 0) return failed();
        chapter4_print_acc(acc, i < 19 ? " " : "\n");
    }

    cg_dataloaders_free(dls);
    cg_scope_end();
    cg_release(weights);
    cg_release(bias);
    cg_pool_trim();
    return 0;
}
