/* cgrad/nn.h — modules and losses, PyTorch's torch.nn in C.
 *
 * The chapter's models, in C:
 *
 *     // linear1 from scratch: weights (784,1) and bias (1), randn * std
 *     cg_tensor *weights = cg_init_params(CG_SHAPE(28*28, 1), 1.0);
 *     cg_tensor *bias    = cg_init_params(CG_SHAPE(1), 1.0);
 *     cg_tensor *preds   = cg_add(cg_matmul(xb, weights), bias);   // xb@weights + bias
 *
 *     // nn.Linear(28*28,1) and simple_net = nn.Sequential(Linear, ReLU, Linear)
 *     cg_module *linear_model = cg_nn_linear(28*28, 1, true);
 *     cg_module *simple_net = CG_SEQUENTIAL(cg_nn_linear(28*28, 30, true),
 *                                           cg_nn_relu(),
 *                                           cg_nn_linear(30, 1, true));
 *     cg_tensor *out = cg_module_forward(simple_net, xb);           // simple_net(xb)
 *     cg_tensor *loss = cg_mnist_loss(out, yb);
 *
 * A MODULE is a struct with a vtable (forward, free, extra_repr), its own named
 * parameters and buffers, and named children.  Names follow PyTorch's
 * state_dict exactly: a module's own parameters, then its own buffers, then
 * each child's under "<child name>." — so Sequential's are "0.weight",
 * "0.bias", "2.weight", "2.bias", and a later ResNet's are
 * "layer1.0.bn1.running_mean".  New layer types (Conv2d, BatchNorm2d, ...) are
 * added by writing a vtable and a constructor that calls cg_module_new and
 * cg_module_add_param / _add_buffer / _add_child; nothing here changes.
 *
 * OWNERSHIP: a module holds references to its parameters, buffers and
 * children.  Modules are reference counted (cg_module_retain /
 * cg_module_release), so a Learner can hold the model its caller also holds.
 * Functions that take modules (cg_nn_sequential, cg_module_add_child) take over
 * the caller's reference, and release them all if they fail — so
 * CG_SEQUENTIAL(cg_nn_linear(...), ...) never leaks, even when one of the
 * arguments is NULL.  Tensors given to cg_module_add_param/_add_buffer are
 * retained (the caller keeps its own reference, scoped or not), so a module
 * made inside a scope outlives it.
 *
 * cg_module_forward returns a new tensor reference (owned by the open scope, if
 * any), like every op. */
#ifndef CGRAD_NN_H
#define CGRAD_NN_H

#include "cgrad/tensor.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef struct cg_module cg_module;

/* What makes a layer type.  Only forward is required. */
typedef struct cg_module_vtable {
    const char *type_name; /* PyTorch's class name: "Linear", "ReLU", "Sequential" */
    /* x -> y; a new reference.  May read m->training (Dropout, BatchNorm). */
    cg_tensor *(*forward)(cg_module *m, cg_tensor *x);
    /* Frees m->state (not the params/buffers/children: the module does that). NULL = free(m->state). */
    void (*free_state)(cg_module *m);
    /* PyTorch's extra_repr: "in_features=784, out_features=1, bias=True".  NULL = "". */
    void (*extra_repr)(const cg_module *m, char *buf, size_t n);
} cg_module_vtable;

struct cg_module {
    const cg_module_vtable *vt;
    void *state;   /* type-specific data (Linear: its sizes), freed by vt->free_state */
    bool training; /* nn.Module.training; true after construction */
    int refcount;

    /* own entries, in registration order; the arrays are owned, names are copies */
    int n_params;
    char **param_names;     /* "weight", "bias" */
    cg_tensor **params;     /* requires_grad float32 leaves */
    int n_buffers;
    char **buffer_names;    /* "running_mean", ... */
    cg_tensor **buffers;
    int n_children;
    char **child_names;     /* "0", "1", ... for Sequential */
    cg_module **children;
};

/* ---- building a module type --------------------------------------------- */
/* A new module with no entries; state is handed over (freed with the module,
 * also when this fails). */
cg_module *cg_module_new(const cg_module_vtable *vt, void *state);
/* add_param / add_buffer retain t; add_child takes over the reference to child
 * (released on failure too).  Names must be unique within the module. */
cg_status cg_module_add_param(cg_module *m, const char *name, cg_tensor *t);
cg_status cg_module_add_buffer(cg_module *m, const char *name, cg_tensor *t);
cg_status cg_module_add_child(cg_module *m, const char *name, cg_module *child);

/* ---- using a module ----------------------------------------------------- */
cg_module *cg_module_retain(cg_module *m);
void cg_module_release(cg_module *m); /* NULL is fine */
/* model(x).  NULL (message set) on failure. */
cg_tensor *cg_module_forward(cg_module *m, cg_tensor *x);
/* model.train(mode) / model.eval(): sets the flag on m and every descendant. */
void cg_module_train(cg_module *m, bool mode);
void cg_module_eval(cg_module *m);
/* model.zero_grad(): sets every parameter's grad to None (PyTorch >= 2.0's default). */
void cg_module_zero_grad(cg_module *m);

/* A flat list of (name, tensor) pairs; tensors are BORROWED from the module
 * (valid while the module lives), names are owned by the list. */
typedef struct cg_named_tensors {
    int n;
    char **names;
    cg_tensor **tensors;
} cg_named_tensors;
void cg_named_tensors_free(cg_named_tensors *list); /* frees the names and arrays, not the tensors */

/* model.named_parameters(): "0.weight", "0.bias", "2.weight", ... */
cg_status cg_module_named_parameters(const cg_module *m, cg_named_tensors *out);
/* model.state_dict(): parameters and buffers, in PyTorch's order. */
cg_status cg_module_state_dict(const cg_module *m, cg_named_tensors *out);
/* Number of parameter tensors, and of scalar parameters (sum of numel). */
int cg_module_num_parameters(const cg_module *m);
int64_t cg_module_count_elements(const cg_module *m);
/* A parameter or buffer by its state_dict name ("2.weight"); borrowed; NULL if absent (no message). */
cg_tensor *cg_module_find(const cg_module *m, const char *name);
/* print(model) as PyTorch prints it; malloc'd, caller frees:
 *   Sequential(
 *     (0): Linear(in_features=784, out_features=30, bias=True)
 *     (1): ReLU()
 *     (2): Linear(in_features=30, out_features=1, bias=True)
 *   ) */
char *cg_module_repr(const cg_module *m);

/* ---- layers ------------------------------------------------------------- */
/* nn.Linear(in, out, bias): weight [out,in] and bias [out], both drawn from
 * U(-1/sqrt(in), 1/sqrt(in)) with the default generator (PyTorch's
 * kaiming_uniform_(a=sqrt(5)) works out to that bound).  y = x @ W.T + b. */
cg_module *cg_nn_linear(int64_t in_features, int64_t out_features, bool bias);
cg_module *cg_nn_relu(void);
cg_module *cg_nn_sigmoid(void);
/* nn.Flatten(start_dim=1, end_dim=-1) */
cg_module *cg_nn_flatten(int start_dim, int end_dim);
/* nn.Sequential(*mods): takes over the n references; children named "0".."n-1". */
cg_module *cg_nn_sequential(int n, cg_module *const *mods);
#define CG_SEQUENTIAL(...)                                                      \
    cg_nn_sequential((int)(sizeof((cg_module *[]){__VA_ARGS__}) / sizeof(cg_module *)), \
                     (cg_module *[]){__VA_ARGS__})
/* Appends one more child named after its index; takes over the reference. */
cg_status cg_nn_sequential_append(cg_module *seq, cg_module *m);

/* ---- vision layers (their ops are in cgrad/functional.h) ----------------- */
/* nn.Conv2d(in, out, kernel_size=(kH,kW), stride, padding, dilation, groups, bias):
 * opts NULL (or zero fields) take PyTorch's defaults.  weight
 * [out, in/groups, kH, kW] and bias [out] drawn from U(-1/sqrt(fan_in),
 * 1/sqrt(fan_in)), fan_in = in/groups*kH*kW, as reset_parameters() does. */
struct cg_conv2d_opts;
cg_module *cg_nn_conv2d(int64_t in_channels, int64_t out_channels, const int64_t *kernel_size,
                        const struct cg_conv2d_opts *opts, bool bias);
/* nn.BatchNorm1d / nn.BatchNorm2d(num_features): eps 1e-5, momentum 0.1; state_dict
 * weight, bias, running_mean, running_var, num_batches_tracked (int64). */
cg_module *cg_nn_batch_norm1d(int64_t num_features);
cg_module *cg_nn_batch_norm2d(int64_t num_features);
/* nn.MaxPool2d / nn.AvgPool2d(kernel (kH,kW), stride (NULL = kernel), padding (NULL = 0)). */
cg_module *cg_nn_max_pool2d(const int64_t *kernel, const int64_t *stride, const int64_t *padding);
cg_module *cg_nn_avg_pool2d(const int64_t *kernel, const int64_t *stride, const int64_t *padding);
cg_module *cg_nn_adaptive_avg_pool2d(int64_t out_h, int64_t out_w);
cg_module *cg_nn_adaptive_max_pool2d(int64_t out_h, int64_t out_w);
/* fastai's AdaptiveConcatPool2d(size): cat([max_pool, avg_pool], dim 1), children "ap", "mp". */
cg_module *cg_nn_adaptive_concat_pool2d(int64_t size);
/* nn.Dropout(p): active only in training mode. */
cg_module *cg_nn_dropout(double p);

/* torch.nn.init.kaiming_normal_(t, a, mode, nonlinearity='leaky_relu'):
 * normal_(0, sqrt(2/(1+a^2))/sqrt(fan)); a = 0 is nonlinearity='relu'. */
typedef enum cg_fan_mode { CG_FAN_IN, CG_FAN_OUT } cg_fan_mode;
cg_status cg_kaiming_normal_(cg_tensor *t, double a, cg_fan_mode mode);

/* torchvision.models.resnet18 / resnet34 (depth 18 or 34), weights=None:
 * topology, state_dict names ("layer1.0.conv1.weight") and init as
 * torchvision's (see src/nn/resnet.c), drawing PyTorch's random stream. */
cg_module *cg_nn_resnet(int depth, int64_t in_channels, int64_t num_classes);
/* fastai's create_vision_model(arch, n_out, pretrained=False), the model of
 * vision_learner(dls, resnet18): Sequential(body, head) where body is the
 * resnet without avgpool and fc ("0.0.weight" is conv1's) and head is
 * AdaptiveConcatPool2d, Flatten, BatchNorm1d(1024), Dropout(0.25),
 * Linear(1024,512,bias=False), ReLU, BatchNorm1d(512), Dropout(0.5),
 * Linear(512,n_out,bias=False), its Linear weights kaiming_normal_.
 * arch: "resnet18" or "resnet34". */
cg_module *cg_vision_model(const char *arch, int64_t in_channels, int64_t n_out);

/* The CNN of `--model cnn` for full MNIST (src/nn/cnn.c): four conv_bn blocks
 * (3x3 convs to 32, 64/2, 128/2, 256/2 channels, BatchNorm2d, ReLU), adaptive
 * average pool, Flatten, Linear(256, n_out). */
cg_module *cg_nn_mnist_cnn(int64_t in_channels, int64_t n_out);
/* `--model cnn-wide`: cnn with a stride-1 conv_bn after the 64- and 128-channel
 * downsamplings (64 at 14x14, 128 at 7x7) and Dropout(0.25) before the Linear. */
cg_module *cg_nn_mnist_cnn_wide(int64_t in_channels, int64_t n_out);

/* The chapter's linear1 as a module: params "weights" [n_in, n_out] and "bias"
 * [n_out], both init_params(size, std) (randn * std); forward xb@weights + bias. */
cg_module *cg_nn_linear1(int64_t n_in, int64_t n_out, double std);

/* ---- functional forms --------------------------------------------------- */
/* F.linear(x, weight [out,in], bias [out] or NULL) = x @ weight.T + bias */
cg_tensor *cg_linear(cg_tensor *x, cg_tensor *weight, cg_tensor *bias);
/* The chapter's init_params(size, std=1.0): (torch.randn(size)*std).requires_grad_().
 * Like every tensor it belongs to the open scope if one is open: make
 * parameters before cg_scope_begin() (or cg_keep them). */
cg_tensor *cg_init_params(int ndim, const int64_t *shape, double std);
/* uniform_(-bound, bound) on a float32 tensor with the default generator. */
cg_status cg_init_uniform_(cg_tensor *t, double bound);

/* ---- losses ------------------------------------------------------------- */
/* The chapter's mnist_loss(predictions, targets):
 *     predictions = predictions.sigmoid()
 *     return torch.where(targets==1, 1-predictions, predictions).mean()
 * predictions [N,1] float; targets [N,1] (int64 or float, 1 = positive). */
cg_tensor *cg_mnist_loss(cg_tensor *pred, cg_tensor *target);
/* F.binary_cross_entropy_with_logits(pred, target.float()); target may be int64. */
cg_tensor *cg_bce_loss(cg_tensor *pred, cg_tensor *target);
/* F.cross_entropy(pred [N,C], target [N] int64); a target [N,1] is flattened first. */
cg_tensor *cg_cross_entropy_loss(cg_tensor *pred, cg_tensor *target);
/* fastai's LabelSmoothingCrossEntropy(eps): eps/C * -sum_c(log_softmax(pred))
 * averaged over the rows + (1-eps) * F.cross_entropy(pred, target), which is
 * F.cross_entropy(pred, target, label_smoothing=eps); pred [N,C], target [N]
 * or [N,1] class indices, 0 <= eps <= 1.  "label_smoothing" in the table below
 * is it with fastai's default eps, CG_LABEL_SMOOTHING_EPS. */
#define CG_LABEL_SMOOTHING_EPS 0.1
cg_tensor *cg_label_smoothing_cross_entropy(cg_tensor *pred, cg_tensor *target, double eps);
/* "mse" and "l1" in the table below are F.mse_loss / F.l1_loss (ops.h) with
 * the target cast to float32. */

/* A loss by name, for the Learner and the CLI (fastai's loss_func).
 * activation is fastai's loss_func.activation: what turns the model's output
 * into probabilities (sigmoid for mnist_loss/bce, softmax(-1) for
 * cross_entropy and label_smoothing, NULL = identity for mse/l1). */
typedef cg_tensor *(*cg_loss_fn)(cg_tensor *pred, cg_tensor *target);
typedef struct cg_loss {
    const char *name;                       /* "mnist_loss", "cross_entropy", "label_smoothing", "bce", "mse", "l1" */
    cg_loss_fn fn;
    cg_tensor *(*activation)(cg_tensor *pred);
} cg_loss;
/* NULL (CG_ERR_VALUE, listing the known names) if unknown. */
const cg_loss *cg_loss_by_name(const char *name);
/* The table, for --help texts: *n receives the count. */
const cg_loss *cg_losses(int *n);

/* ---- model zoo: one name -> one architecture, shared by train and predict --
 *   "linear"      nn.Linear(n_in, n_out)
 *   "simple_net"  nn.Sequential(nn.Linear(n_in,30), nn.ReLU(), nn.Linear(30,n_out))
 *   "mlp"         same as simple_net; "mlp:500" uses 500 hidden units
 * and, taking images [C,H,W] (cg_model_create_image):
 *   "resnet18", "resnet34"  cg_vision_model: vision_learner's model
 *   "cnn"                   cg_nn_mnist_cnn
 *   "cnn-wide"              cg_nn_mnist_cnn_wide
 * Weights are initialised as PyTorch does (default generator). */
cg_module *cg_model_create(const char *arch, int64_t n_in, int64_t n_out);
/* The builder that knows the input's shape: images [c,h,w] (c 1..4, h and w
 * 1..CG_MODEL_MAX_SIDE).  The flat architectures get n_in = c*h*w (their input
 * is the flattened image); the image ones keep [N,c,h,w]. */
cg_module *cg_model_create_image(const char *arch, int64_t c, int64_t h, int64_t w, int64_t n_out);
/* Whether arch takes images [N,C,H,W] (resnet18, resnet34, cnn, cnn-wide) rather than rows. */
bool cg_model_takes_images(const char *arch);

/* Bounds on what an architecture name may ask for (a model file's metadata is
 * untrusted): n_in, n_out and hidden widths at most CG_MODEL_MAX_FEATURES
 * (2^24), at most CG_MODEL_MAX_PARAMS parameters in all (2^28, 1 GiB of
 * float32), a name of at most CG_MODEL_MAX_ARCH_LEN printable bytes.
 * cg_model_create fails (CG_ERR_VALUE) before allocating anything above them.
 * CG_MODEL_MAX_TENSORS is resnet34's vision model with room to spare: 228
 * state_dict entries (36 convs, 38 BatchNorms of 5 entries, 2 Linears). */
#define CG_MODEL_MAX_FEATURES (1 << 24)
#define CG_MODEL_MAX_PARAMS ((int64_t)1 << 28)
#define CG_MODEL_MAX_ARCH_LEN 64
#define CG_MODEL_MAX_TENSORS 256
#define CG_MODEL_MAX_CHANNELS 4      /* gray, RGB, RGBA */
#define CG_MODEL_MAX_SIDE 16384      /* an image's height or width (CG_RESIZE_MAX) */
#define CG_MODEL_MAX_NAME 64         /* "0.7.1.downsample.1.num_batches_tracked" is 38 */

/* One tensor of an architecture's state_dict: name, dtype and shape. */
typedef struct cg_param_shape {
    char name[CG_MODEL_MAX_NAME];
    cg_dtype dtype; /* float32, or int64 for BatchNorm's num_batches_tracked */
    int ndim;       /* 0..4 */
    int64_t shape[4];
} cg_param_shape;
/* The state_dict cg_model_create(arch, n_in, n_out) would hold, without
 * building it: out[0..*n) (room for CG_MODEL_MAX_TENSORS), checked against
 * the bounds above.  cg_model_load compares a file's header with it first.
 * An image architecture is CG_ERR_VALUE here: it needs cg_model_image_param_shapes. */
cg_status cg_model_param_shapes(const char *arch, int64_t n_in, int64_t n_out, cg_param_shape *out,
                                int *n);
/* The same for cg_model_create_image(arch, c, h, w, n_out): the resnets' and
 * the cnn's lists are worked out from their topology (what resnet.c and
 * cnn.c build), in state_dict order, without allocating a weight. */
cg_status cg_model_image_param_shapes(const char *arch, int64_t c, int64_t h, int64_t w, int64_t n_out,
                                      cg_param_shape *out, int *n);

#ifdef __cplusplus
}
#endif
#endif
