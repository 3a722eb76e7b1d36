/* nn/resnet.c — torchvision's resnet18/resnet34 and fastai's vision model
 * (create_vision_model: the resnet's body and create_head's head).
 *
 * Topology, state_dict names and the initialisation follow torchvision:
 *
 *   conv1 7x7/2 (3->64) · bn1 · relu · maxpool 3x3/2 pad 1
 *   layer1..layer4: BasicBlocks at 64, 128, 256, 512 channels ([2,2,2,2] for
 *   resnet18, [3,4,6,3] for resnet34); the first block of layers 2-4 has
 *   stride 2 and a downsample = Sequential(conv1x1/2, BatchNorm2d)
 *   avgpool (adaptive, 1x1) · fc Linear(512, num_classes)
 *
 *   BasicBlock: relu(bn2(conv2(relu(bn1(conv1(x))))) + identity), identity =
 *   downsample(x) when the shape changes.
 *
 * The random stream is PyTorch's, step by step, so a seeded cgrad model starts
 * where a seeded torchvision/fastai one does: every module is constructed in
 * torchvision's order with its default init (Conv2d and Linear draw
 * kaiming_uniform; a block's downsample is built before the block's own
 * convs), then every Conv2d in modules() order is redrawn with
 * kaiming_normal_(mode='fan_out', nonlinearity='relu'); BatchNorm weight 1,
 * bias 0.  fastai then draws one uniform_(-1, 1) dummy batch [1, C, 32, 32]
 * (num_features_model's dummy_eval), builds the head (each Linear drawing its
 * default init) and redraws the head's Linear weights with kaiming_normal_
 * (fan_in). */
#include <stdlib.h>
#include <string.h>

#include "cgrad/autograd.h"
#include "cgrad/functional.h"
#include "cgrad/nn.h"
#include "cgrad/ops.h"
#include "cgrad/random.h"
#include "nn/layer_util.h"

/* ---- BasicBlock -------------------------------------------------------- */
/* children: conv1, bn1, relu, conv2, bn2[, downsample] */
static cg_tensor *block_forward(cg_module *m, cg_tensor *x) {
    cg_scope_begin();
    cg_tensor *y = x;
    /* bn1 and its relu as one op (cg_layer_bn_relu_forward), the relu over
     * the sum's buffer (add's rule reads neither input): one activation each */
    for (int i = 0; i < 5 && y; i++) {
        if (i < 4 && cg_layer_bn_then_relu(m->children[i], m->children[i + 1]))
            y = cg_layer_bn_relu_forward(m->children[i++], y);
        else
            y = cg_module_forward(m->children[i], y);
    }
    cg_tensor *identity = m->n_children > 5 ? cg_module_forward(m->children[5], x) : x;
    y = y && identity ? cg_relu_over(cg_add_over(y, identity)) : NULL; /* over bn2's buffer */
    if (y) cg_keep(y);
    cg_scope_end();
    return y;
}

static const cg_module_vtable block_vtable = {.type_name = "BasicBlock", .forward = block_forward};

static cg_module *conv(int64_t in, int64_t out, int64_t k, int64_t stride, int64_t pad) {
    return cg_nn_conv2d(in, out, (int64_t[]){k, k},
                        &(cg_conv2d_opts){.stride = {stride, stride}, .padding = {pad, pad}}, false);
}

static cg_module *basic_block(int64_t inplanes, int64_t planes, int64_t stride) {
    cg_module *downsample = NULL;
    if (stride != 1 || inplanes != planes) {
        downsample = CG_SEQUENTIAL(conv(inplanes, planes, 1, stride, 0), cg_nn_batch_norm2d(planes));
        if (!downsample) return NULL;
    }
    cg_module *m = cg_module_new(&block_vtable, NULL);
    cg_status st = m ? CG_OK : cg_last_status();
    if (!st) st = cg_module_add_child(m, "conv1", conv(inplanes, planes, 3, stride, 1));
    if (!st) st = cg_module_add_child(m, "bn1", cg_nn_batch_norm2d(planes));
    if (!st) st = cg_module_add_child(m, "relu", cg_nn_relu());
    if (!st) st = cg_module_add_child(m, "conv2", conv(planes, planes, 3, 1, 1));
    if (!st) st = cg_module_add_child(m, "bn2", cg_nn_batch_norm2d(planes));
    if (!st && downsample) {
        st = cg_module_add_child(m, "downsample", downsample); /* takes the reference */
        downsample = NULL;
    }
    cg_module_release(downsample);
    if (st) {
        cg_module_release(m);
        return NULL;
    }
    return m;
}

/* ---- ResNet ------------------------------------------------------------ */
/* children: conv1 bn1 relu maxpool layer1..layer4 avgpool fc; flatten before fc */
static cg_tensor *resnet_forward(cg_module *m, cg_tensor *x) {
    cg_scope_begin();
    cg_tensor *y = x;
    for (int i = 0; i < m->n_children && y; i++) {
        if (!strcmp(m->child_names[i], "fc")) y = cg_flatten(y, 1, -1);
        if (!y) break;
        if (i + 1 < m->n_children && cg_layer_bn_then_relu(m->children[i], m->children[i + 1]))
            y = cg_layer_bn_relu_forward(m->children[i++], y); /* the stem's bn1 and relu, as in the blocks */
        else
            y = cg_module_forward(m->children[i], y);
    }
    if (y) cg_keep(y);
    cg_scope_end();
    return y;
}

static const cg_module_vtable resnet_vtable = {.type_name = "ResNet", .forward = resnet_forward};

static cg_status redraw_convs(cg_module *m) {
    if (m->vt->type_name && !strcmp(m->vt->type_name, "Conv2d")) {
        cg_status st = cg_kaiming_normal_(m->params[0], 0.0, CG_FAN_OUT);
        if (st) return st;
    }
    for (int i = 0; i < m->n_children; i++) {
        cg_status st = redraw_convs(m->children[i]);
        if (st) return st;
    }
    return CG_OK;
}

cg_module *cg_nn_resnet(int depth, int64_t in_channels, int64_t num_classes) {
    static const int blocks18[4] = {2, 2, 2, 2}, blocks34[4] = {3, 4, 6, 3};
    const int *blocks = depth == 18 ? blocks18 : depth == 34 ? blocks34 : NULL;
    if (!blocks || in_channels < 1 || in_channels > 4096 || num_classes < 1 || num_classes > (1 << 20)) {
        cg_fail(CG_ERR_VALUE,
                "resnet: depth must be 18 or 34, in_channels in 1..4096 and num_classes in 1..%d, got %d, %lld, %lld",
                1 << 20, depth, (long long)in_channels, (long long)num_classes);
        return NULL;
    }
    cg_module *m = cg_module_new(&resnet_vtable, NULL);
    cg_status st = m ? CG_OK : cg_last_status();
    if (!st) st = cg_module_add_child(m, "conv1", conv(in_channels, 64, 7, 2, 3));
    if (!st) st = cg_module_add_child(m, "bn1", cg_nn_batch_norm2d(64));
    if (!st) st = cg_module_add_child(m, "relu", cg_nn_relu());
    if (!st)
        st = cg_module_add_child(m, "maxpool",
                                 cg_nn_max_pool2d((int64_t[]){3, 3}, (int64_t[]){2, 2}, (int64_t[]){1, 1}));
    int64_t inplanes = 64;
    for (int layer = 0; layer < 4 && !st; layer++) {
        int64_t planes = 64 << layer, stride = layer ? 2 : 1;
        cg_module *seq = cg_nn_sequential(0, NULL);
        st = seq ? CG_OK : cg_last_status();
        for (int b = 0; b < blocks[layer] && !st; b++) {
            st = cg_nn_sequential_append(seq, basic_block(inplanes, planes, b ? 1 : stride));
            inplanes = planes;
        }
        char name[8] = "layer1";
        name[5] = (char)('1' + layer);
        if (!st) st = cg_module_add_child(m, name, seq);
        else cg_module_release(seq);
    }
    if (!st) st = cg_module_add_child(m, "avgpool", cg_nn_adaptive_avg_pool2d(1, 1));
    if (!st) st = cg_module_add_child(m, "fc", cg_nn_linear(512, num_classes, true));
    if (!st) st = redraw_convs(m);
    if (st) {
        cg_module_release(m);
        return NULL;
    }
    return m;
}

/* ---- fastai's create_vision_model -------------------------------------- */
static cg_status redraw_head(cg_module *head) {
    for (int i = 0; i < head->n_children; i++) {
        cg_module *c = head->children[i];
        if (!strcmp(c->vt->type_name, "Linear")) {
            cg_status st = cg_kaiming_normal_(c->params[0], 0.0, CG_FAN_IN);
            if (st) return st;
        }
    }
    return CG_OK;
}

cg_module *cg_vision_model(const char *arch, int64_t in_channels, int64_t n_out) {
    int depth = arch && !strcmp(arch, "resnet18") ? 18 : arch && !strcmp(arch, "resnet34") ? 34 : 0;
    if (!depth) {
        cg_fail(CG_ERR_VALUE, "vision_learner: unknown architecture '%s' (known: resnet18, resnet34)",
                arch ? arch : "(null)");
        return NULL;
    }
    if (n_out < 1 || n_out > (1 << 20)) {
        cg_fail(CG_ERR_VALUE, "vision_learner: n_out must be in 1..%d, got %lld", 1 << 20, (long long)n_out);
        return NULL;
    }
    /* arch(pretrained=False) draws with 1000 classes; create_body keeps the
     * first 8 children (cut=-2).  A first layer for n_in != 3 is a fresh
     * Conv2d with its default init, as fastai's _update_first_layer does. */
    cg_module *full = cg_nn_resnet(depth, 3, 1000);
    if (!full) return NULL;
    cg_module *body = cg_nn_sequential(0, NULL);
    cg_status st = body ? CG_OK : cg_last_status();
    for (int i = 0; i < 8 && !st; i++) {
        cg_module *child = cg_module_retain(full->children[i]);
        if (i == 0 && in_channels != 3) {
            cg_module_release(child);
            child = conv(in_channels, 64, 7, 2, 3);
        }
        st = cg_nn_sequential_append(body, child);
    }
    cg_module_release(full);
    /* num_features_model: dummy_eval's x = uniform_(-1, 1) of [1, C, 32, 32]. */
    if (!st) {
        cg_scope_begin();
        cg_tensor *dummy = cg_empty(CG_FLOAT32, CG_SHAPE(1, in_channels, 32, 32));
        st = dummy ? cg_uniform_(dummy, NULL, -1.0, 1.0) : cg_last_status();
        cg_scope_end();
    }
    /* create_head(1024, n_out): lin_ftrs [1024, 512, n_out], ps [0.25, 0.5], first_bn. */
    cg_module *head = NULL;
    if (!st) {
        head = CG_SEQUENTIAL(cg_nn_adaptive_concat_pool2d(1), cg_nn_flatten(1, -1), cg_nn_batch_norm1d(1024),
                             cg_nn_dropout(0.25), cg_nn_linear(1024, 512, false), cg_nn_relu(),
                             cg_nn_batch_norm1d(512), cg_nn_dropout(0.5), cg_nn_linear(512, n_out, false));
        st = head ? redraw_head(head) : cg_last_status();
    }
    cg_module *model = NULL;
    if (!st) {
        model = CG_SEQUENTIAL(body, head); /* takes both references */
        body = head = NULL;
        st = model ? CG_OK : cg_last_status();
    }
    cg_module_release(body);
    cg_module_release(head);
    if (st) {
        cg_module_release(model);
        return NULL;
    }
    return model;
}
