/* cgrad/weights.h — weights files in the safetensors format, and model files.
 *
 * A safetensors file is what PyTorch users exchange (safetensors.torch.save_file):
 *     8 bytes   N, the header length, little-endian uint64
 *     N bytes   a JSON object: for each tensor
 *                 "name": {"dtype": "F32", "shape": [30, 784], "data_offsets": [begin, end]}
 *               and optionally "__metadata__": {"key": "value", ...} (strings only)
 *     the rest  the tensors' bytes, row-major, little-endian; offsets count from here
 * cgrad reads and writes F32, U8, I64 and BOOL, with PyTorch's state_dict
 * names ("0.weight", "2.bias"), so a file goes both ways:
 *     cg_module_save(simple_net, "model.safetensors", NULL);
 *     >>> model.load_state_dict(safetensors.torch.load_file("model.safetensors"))
 * Files are written atomically (temp file, fsync, rename).  Loading checks
 * everything — header length against file size, JSON syntax, dtypes, shapes,
 * offsets inside the data and not overlapping, missing and unexpected names —
 * and fails with CG_ERR_FORMAT (a corrupt file), CG_ERR_SHAPE (a shape that
 * does not fit the model), CG_ERR_DTYPE or CG_ERR_IO, naming the file and the tensor.
 *
 * MODEL FILES (what `cgrad train --save` writes and `cgrad predict` reads) are
 * safetensors files whose __metadata__ says how to rebuild the model:
 *     "format"  "cgrad-model-1"
 *     "arch"    a cg_model_create name: "linear", "simple_net", "mlp:500", or
 *               an image model's (cg_model_create_image): "resnet18", "resnet34", "cnn"
 *     "n_in"    "784"          input features after flattening (C*H*W for an image model)
 *     "n_out"   "1"            outputs (1 for mnist_loss/bce, C for cross_entropy)
 *     "loss"    "mnist_loss"   its activation turns outputs into probabilities
 *     "classes" "[\"7\",\"3\"]"  class names by label index, a JSON array of
 *                              strings (any name round-trips; files from before
 *                              hold "7,3", comma separated, and still load):
 *                              with one output, sigmoid(out) is P(label 1) — in
 *                              the chapter label 1 is a "3", so classes is 7, 3
 *     "input"   "gray:28x28"   how to turn an image file into the model's input:
 *                              gray 28x28, bytes/255, flattened to n_in; an image
 *                              model keeps [1,C,H,W] ("rgb:28x28" for a resnet);
 *                              required for an image model: it gives C, H and W
 *     "size", "resize_method"  "28", "crop": the Resize the model was trained
 *                              with (--size), applied to a predicted image as
 *                              fastai's valid transform does (the centre box)
 * The state_dict holds parameters and buffers (BatchNorm's running_mean,
 * running_var and int64 num_batches_tracked), each checked against the
 * architecture's list (cg_model_param_shapes / cg_model_image_param_shapes)
 * with its dtype before the tensors are read.
 * Any other keys (epochs, lr, accuracy, ...) are kept and ignored. */
#ifndef CGRAD_WEIGHTS_H
#define CGRAD_WEIGHTS_H

#include "cgrad/nn.h"
#include "cgrad/tensor.h"

#ifdef __cplusplus
extern "C" {
#endif

/* ---- string metadata (__metadata__) -------------------------------------- */
typedef struct cg_metadata {
    int n;
    char **keys;   /* owned copies, in insertion order */
    char **values;
} cg_metadata;
/* Sets key to value (replacing an earlier value). */
cg_status cg_metadata_set(cg_metadata *md, const char *key, const char *value);
/* The value, or NULL if absent (no message set). */
const char *cg_metadata_get(const cg_metadata *md, const char *key);
void cg_metadata_free(cg_metadata *md); /* leaves *md empty ({0}) */

#define CG_MODEL_FORMAT "cgrad-model-1"

/* ---- raw safetensors files ---------------------------------------------- */
/* Writes tensors[i] under names[i] (any layout; written row-major).  md may be NULL. */
cg_status cg_safetensors_save(const char *path, int n, const char *const *names,
                              cg_tensor *const *tensors, const cg_metadata *md);

/* Everything in a file: the tensors in the order of their data offsets. */
typedef struct cg_safetensors {
    int n;
    char **names;
    cg_tensor **tensors; /* owned (not in any scope) */
    cg_metadata metadata;
} cg_safetensors;
cg_status cg_safetensors_load(const char *path, cg_safetensors *out);
/* Same, from bytes in memory; `what` names the source in messages. */
cg_status cg_safetensors_parse(const unsigned char *bytes, size_t size, const char *what,
                               cg_safetensors *out);
cg_tensor *cg_safetensors_get(const cg_safetensors *st, const char *name); /* borrowed or NULL */
/* Only the header's __metadata__ (md, empty when there is none) and the byte
 * count of the data after the header, without reading or allocating the
 * tensors: what cg_model_load checks before anything else. */
cg_status cg_safetensors_read_metadata(const char *path, cg_metadata *md, uint64_t *data_bytes);
void cg_safetensors_free(cg_safetensors *st);

/* ---- modules -------------------------------------------------------------- */
/* torch.save(model.state_dict()) in safetensors form; md may be NULL. */
cg_status cg_module_save(const cg_module *m, const char *path, const cg_metadata *md);
/* model.load_state_dict(load_file(path), strict): copies each tensor into the
 * module's parameter/buffer of that name.  strict: missing or unexpected names
 * fail (CG_ERR_FORMAT, listing them); a shape mismatch always fails (CG_ERR_SHAPE),
 * a dtype mismatch too (CG_ERR_DTYPE).  Nothing is changed unless all checks pass. */
cg_status cg_module_load(cg_module *m, const char *path, bool strict);
cg_status cg_module_load_state(cg_module *m, const cg_safetensors *st, const char *what,
                               bool strict);

/* ---- model files ---------------------------------------------------------- */
/* Saves m with md (which should carry arch, n_in, n_out, loss, classes, input);
 * "format" is added. */
cg_status cg_model_save(const cg_module *m, const char *path, const cg_metadata *md);
/* Rebuilds the architecture named in the file's metadata with cg_model_create,
 * then loads the weights strictly.  md_out (may be NULL) receives the metadata. */
cg_module *cg_model_load(const char *path, cg_metadata *md_out);

/* Fills md with the model-file keys above (a NULL string leaves its key out):
 *     cg_model_metadata(&md, "simple_net", 784, 1, "mnist_loss", "7,3", "gray:28x28");
 * so `cgrad train --save` and `cgrad predict` agree on the spelling.  classes
 * here is a comma-separated shorthand (stored as the JSON array); names that
 * may hold a comma go through cg_model_set_classes. */
cg_status cg_model_metadata(cg_metadata *md, const char *arch, int64_t n_in, int64_t n_out,
                            const char *loss, const char *classes, const char *input);

/* Sets "classes" to names[0..n) as a JSON array of strings. */
cg_status cg_model_set_classes(cg_metadata *md, int64_t n, const char *const *names);
/* The class names of "classes" (the JSON array, or the older comma-separated
 * form) as n malloc'd strings; *n 0 and *names NULL when absent.  A JSON
 * entry that is not a string (or holds a NUL byte) is CG_ERR_FORMAT. */
cg_status cg_model_classes(const cg_metadata *md, int64_t *n, char ***names);
void cg_model_classes_free(int64_t n, char **names);

/* "gray:HxW" -> 1, H, W; "rgb:HxW" -> 3, H, W (sides 1..CG_MODEL_MAX_SIDE);
 * anything else is CG_ERR_FORMAT. */
cg_status cg_model_parse_input(const char *spec, int *channels, int64_t *h, int64_t *w);

/* ---- predicting (fastai's learn.predict) --------------------------------- */
/* An image file (PNG or JPEG) as the model's input batch of one, following
 * metadata "input" (opened as gray or RGB, as the model was trained):
 *   "gray:HxW"  gray [H,W] bytes/255, flattened to [1, H*W] (must equal n_in),
 *               or [1,1,H,W] for an image model ("arch" resnet18/34, cnn)
 *   "rgb:HxW"   RGB [1,3,H,W] bytes/255 (convolutional models)
 * With "size" (and "resize_method", default crop) the image is first resized
 * as the validation set was: fastai's Resize with the box at the centre.
 * Missing "input" means gray, flattened to [1, n_in].  An image of another size
 * is CG_ERR_SHAPE naming the file and both sizes. */
cg_tensor *cg_model_input_from_png(const cg_metadata *md, const char *png_path);
/* The same for an image already in memory (an IDX file's [H,W], a decoded
 * file): uint8 [H,W] or [C,H,W]; a gray image is copied to the three planes of
 * an RGB model.  name is used in messages. */
cg_tensor *cg_model_input_from_image(const cg_metadata *md, const cg_tensor *image, const char *name);

typedef struct cg_prediction {
    int64_t label;      /* the predicted class index */
    double probability; /* its probability */
    const char *name;   /* the class name from "classes" (points into pred->names), or the index as text */
    int64_t n_classes;  /* 2 for a single-output model (P(label 1) = sigmoid(out)) */
    double *probs;      /* [n_classes], malloc'd */
    char **names;       /* [n_classes], malloc'd */
} cg_prediction;
void cg_prediction_free(cg_prediction *p);

/* learn.predict(x) for a batch of one x: runs m in eval mode under no-grad,
 * turns the output into probabilities with the activation of metadata "loss"
 * (sigmoid for one output, softmax otherwise, when "loss" is absent), and
 * names the classes from "classes". */
cg_status cg_model_predict(cg_module *m, const cg_metadata *md, cg_tensor *x, cg_prediction *out);

#ifdef __cplusplus
}
#endif
#endif
