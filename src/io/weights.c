/* io/weights.c — modules to and from safetensors files (state_dict names), and
 * model files that carry their architecture in __metadata__ (see weights.h). */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cgrad/autograd.h"
#include "cgrad/weights.h"
#include "io/json.h"

cg_status cg_module_save(const cg_module *m, const char *path, const cg_metadata *md) {
    if (!m || !path) return cg_fail(CG_ERR_VALUE, "save: NULL module or path");
    cg_named_tensors sd;
    cg_status st = cg_module_state_dict(m, &sd);
    if (st) return st;
    st = cg_safetensors_save(path, sd.n, (const char *const *)sd.names, sd.tensors, md);
    cg_named_tensors_free(&sd);
    return st;
}

/* Appends ", name" (or "name") to a bounded list for messages. */
static void list_add(char *buf, size_t n, int *count, const char *name) {
    size_t len = strlen(buf);
    if (*count < 8 && len < n)
        snprintf(buf + len, n - len, "%s'%s'", *count ? ", " : "", name);
    else if (*count == 8 && len < n)
        snprintf(buf + len, n - len, ", ...");
    (*count)++;
}

cg_status cg_module_load_state(cg_module *m, const cg_safetensors *st, const char *what,
                               bool strict) {
    if (!what) what = "state_dict";
    if (!m || !st) return cg_fail(CG_ERR_VALUE, "%s: NULL module or state", what);
    cg_named_tensors sd;
    cg_status rc = cg_module_state_dict(m, &sd);
    if (rc) return rc;
    /* Check everything before changing anything. */
    char missing[512] = "", unexpected[512] = "";
    int n_missing = 0, n_unexpected = 0;
    for (int i = 0; !rc && i < sd.n; i++) {
        const cg_tensor *src = cg_safetensors_get(st, sd.names[i]);
        const cg_tensor *dst = sd.tensors[i];
        if (!src) {
            list_add(missing, sizeof missing, &n_missing, sd.names[i]);
            continue;
        }
        if (src->dtype != dst->dtype) {
            rc = cg_fail(CG_ERR_DTYPE, "%s: tensor '%s' is %s in the file but %s in the model", what,
                         sd.names[i], cg_dtype_name(src->dtype), cg_dtype_name(dst->dtype));
            break;
        }
        bool same = src->ndim == dst->ndim;
        for (int d = 0; same && d < src->ndim; d++) same = src->shape[d] == dst->shape[d];
        if (!same) {
            char a[96], b[96];
            rc = cg_fail(CG_ERR_SHAPE, "%s: tensor '%s' has shape %s in the file but %s in the model",
                         what, sd.names[i], cg_shape_str(src, a, sizeof a), cg_shape_str(dst, b, sizeof b));
        }
    }
    for (int i = 0; !rc && i < st->n; i++) {
        bool known = false;
        for (int j = 0; !known && j < sd.n; j++) known = !strcmp(st->names[i], sd.names[j]);
        if (!known) list_add(unexpected, sizeof unexpected, &n_unexpected, st->names[i]);
    }
    if (!rc && strict && (n_missing || n_unexpected)) {
        rc = cg_fail(CG_ERR_FORMAT, "%s: does not match the %s model: %d missing key(s)%s%s%s, %d unexpected key(s)%s%s%s",
                     what, m->vt->type_name ? m->vt->type_name : "", n_missing, n_missing ? " (" : "",
                     missing, n_missing ? ")" : "", n_unexpected, n_unexpected ? " (" : "", unexpected,
                     n_unexpected ? ")" : "");
    }
    /* Copy: parameters are leaves, so write their data under no-grad. */
    cg_no_grad_begin();
    for (int i = 0; !rc && i < sd.n; i++) {
        const cg_tensor *src = cg_safetensors_get(st, sd.names[i]);
        if (src) rc = cg_copy_(sd.tensors[i], src);
    }
    cg_no_grad_end();
    cg_named_tensors_free(&sd);
    return rc;
}

cg_status cg_module_load(cg_module *m, const char *path, bool strict) {
    cg_safetensors st;
    cg_status rc = cg_safetensors_load(path, &st);
    if (rc) return rc;
    rc = cg_module_load_state(m, &st, path, strict);
    cg_safetensors_free(&st);
    return rc;
}

cg_status cg_model_save(const cg_module *m, const char *path, const cg_metadata *md) {
    cg_metadata all = {0};
    cg_status st = cg_metadata_set(&all, "format", CG_MODEL_FORMAT);
    for (int i = 0; !st && md && i < md->n; i++)
        if (strcmp(md->keys[i], "format")) st = cg_metadata_set(&all, md->keys[i], md->values[i]);
    if (!st) st = cg_module_save(m, path, &all);
    cg_metadata_free(&all);
    return st;
}

static cg_status meta_int(const char *path, const cg_metadata *md, const char *key, int64_t *out) {
    const char *v = cg_metadata_get(md, key);
    if (!v) return cg_fail(CG_ERR_FORMAT, "%s: model file has no \"%s\" in its metadata", path, key);
    char *end;
    errno = 0;
    long long x = strtoll(v, &end, 10);
    if (errno || end == v || *end || x <= 0)
        return cg_fail(CG_ERR_FORMAT, "%s: metadata \"%s\" is \"%.64s\", expected a positive integer", path,
                       key, v);
    *out = x;
    return CG_OK;
}

/* "[30, 784]" */
static const char *dims_str(int ndim, const int64_t *shape, char *buf, size_t n) {
    size_t used = (size_t)snprintf(buf, n, "[");
    for (int d = 0; d < ndim && used < n; d++)
        used += (size_t)snprintf(buf + used, n - used, d ? ", %lld" : "%lld", (long long)shape[d]);
    if (used < n) snprintf(buf + used, n - used, "]");
    return buf;
}

cg_status cg_model_parse_input(const char *spec, int *channels, int64_t *h, int64_t *w) {
    if (!spec || !channels || !h || !w) return cg_fail(CG_ERR_VALUE, "model input: NULL argument");
    const char *rest;
    if (!strncmp(spec, "gray:", 5)) {
        *channels = 1;
        rest = spec + 5;
    } else if (!strncmp(spec, "rgb:", 4)) {
        *channels = 3;
        rest = spec + 4;
    } else {
        return cg_fail(CG_ERR_FORMAT, "model input \"%.64s\": expected gray:HxW or rgb:HxW", spec);
    }
    char *end;
    errno = 0;
    long long hh = strtoll(rest, &end, 10);
    bool ok = !errno && end != rest && *end == 'x' && hh > 0 && hh <= CG_MODEL_MAX_SIDE;
    long long ww = 0;
    if (ok) {
        const char *ws = end + 1;
        ww = strtoll(ws, &end, 10);
        ok = !errno && end != ws && !*end && ww > 0 && ww <= CG_MODEL_MAX_SIDE;
    }
    if (!ok)
        return cg_fail(CG_ERR_FORMAT, "model input \"%.64s\": expected gray:HxW or rgb:HxW, sides 1 to %d", spec,
                       CG_MODEL_MAX_SIDE);
    *h = hh;
    *w = ww;
    return CG_OK;
}

/* What a model file's metadata says to build. */
typedef struct model_spec {
    const char *arch;
    int64_t n_in, n_out;
    bool image;        /* an image architecture: built from input's [c, h, w] */
    int c;
    int64_t h, w;
} model_spec;

/* format, arch, n_in, n_out (and input, for an image architecture) of a model
 * file's metadata, checked. */
static cg_status read_spec(const char *path, const cg_metadata *md, model_spec *s) {
    memset(s, 0, sizeof *s);
    const char *format = cg_metadata_get(md, "format");
    s->arch = cg_metadata_get(md, "arch");
    if (!format || strcmp(format, CG_MODEL_FORMAT))
        return cg_fail(CG_ERR_FORMAT,
                       "%s: not a cgrad model file (metadata \"format\" is %s%.64s%s, expected \"%s\"); "
                       "plain weights load with cg_module_load into a model you build",
                       path, format ? "\"" : "", format ? format : "missing", format ? "\"" : "",
                       CG_MODEL_FORMAT);
    if (!s->arch) return cg_fail(CG_ERR_FORMAT, "%s: model file has no \"arch\" in its metadata", path);
    cg_status rc = meta_int(path, md, "n_in", &s->n_in);
    if (!rc) rc = meta_int(path, md, "n_out", &s->n_out);
    s->image = cg_model_takes_images(s->arch);
    if (!rc && s->image) {
        const char *input = cg_metadata_get(md, "input");
        if (!input)
            return cg_fail(CG_ERR_FORMAT, "%s: model '%s' takes images, but the file has no \"input\" "
                           "(e.g. \"rgb:28x28\") in its metadata", path, s->arch);
        if (cg_model_parse_input(input, &s->c, &s->h, &s->w)) {
            char cause[256];
            snprintf(cause, sizeof cause, "%s", cg_last_error());
            return cg_fail(CG_ERR_FORMAT, "%s: %s", path, cause);
        }
        if (s->n_in != s->c * s->h * s->w)
            return cg_fail(CG_ERR_FORMAT, "%s: metadata \"n_in\" is %lld but \"input\" %.64s is %lld values",
                           path, (long long)s->n_in, input, (long long)(s->c * s->h * s->w));
    }
    return rc;
}

/* The state_dict the spec's architecture holds (room for CG_MODEL_MAX_TENSORS). */
static cg_status spec_shapes(const char *path, const model_spec *s, cg_param_shape *want, int *n) {
    cg_status rc = s->image ? cg_model_image_param_shapes(s->arch, s->c, s->h, s->w, s->n_out, want, n)
                            : cg_model_param_shapes(s->arch, s->n_in, s->n_out, want, n);
    if (rc) {
        char cause[512];
        snprintf(cause, sizeof cause, "%s", cg_last_error());
        return cg_fail(CG_ERR_FORMAT, "%s: %s", path, cause);
    }
    return CG_OK;
}

/* The file holds every tensor the architecture needs, with its dtype and
 * shape (extra tensors are caught by the strict load afterwards). */
static cg_status check_against_arch(const char *path, const cg_safetensors *st, const model_spec *s,
                                    const cg_param_shape *want, int n) {
    for (int i = 0; i < n; i++) {
        const cg_tensor *t = cg_safetensors_get(st, want[i].name);
        char a[96], b[96];
        if (!t)
            return cg_fail(CG_ERR_FORMAT, "%s: model '%.64s' needs tensor '%s' %s, which the file does not have",
                           path, s->arch, want[i].name, dims_str(want[i].ndim, want[i].shape, b, sizeof b));
        if (t->dtype != want[i].dtype)
            return cg_fail(CG_ERR_DTYPE, "%s: tensor '%s' is %s in the file, model '%.64s' needs %s", path,
                           want[i].name, cg_dtype_name(t->dtype), s->arch, cg_dtype_name(want[i].dtype));
        bool same = t->ndim == want[i].ndim;
        for (int d = 0; same && d < t->ndim; d++) same = t->shape[d] == want[i].shape[d];
        if (!same)
            return cg_fail(CG_ERR_SHAPE, "%s: tensor '%s' has shape %s in the file, but model '%.64s' with n_in %lld "
                           "and n_out %lld needs %s",
                           path, want[i].name, cg_shape_str(t, a, sizeof a), s->arch, (long long)s->n_in,
                           (long long)s->n_out, dims_str(want[i].ndim, want[i].shape, b, sizeof b));
    }
    return CG_OK;
}

/* The data after the header must be exactly the architecture's tensors (the
 * load is strict), so a file whose size says otherwise is refused before its
 * tensors are read into memory. */
static cg_status check_data_size(const char *path, const model_spec *s, const cg_param_shape *want, int n,
                                 uint64_t data_bytes) {
    uint64_t need = 0; /* at most 2^28 parameters (and 8-byte scalars): no overflow */
    bool counters = false;
    for (int i = 0; i < n; i++) {
        uint64_t numel = 1;
        for (int d = 0; d < want[i].ndim; d++) numel *= (uint64_t)want[i].shape[d];
        need += numel * cg_dtype_size(want[i].dtype);
        counters |= want[i].dtype == CG_INT64;
    }
    if (need != data_bytes)
        return cg_fail(CG_ERR_FORMAT,
                       "%s: model '%.64s' with n_in %lld and n_out %lld holds %llu bytes of float32%s tensors, "
                       "but the file has %llu bytes of data",
                       path, s->arch, (long long)s->n_in, (long long)s->n_out, (unsigned long long)need,
                       counters ? " and int64" : "", (unsigned long long)data_bytes);
    return CG_OK;
}

cg_module *cg_model_load(const char *path, cg_metadata *md_out) {
    if (md_out) memset(md_out, 0, sizeof *md_out);
    cg_param_shape *want = malloc(CG_MODEL_MAX_TENSORS * sizeof *want); /* 26 KB: not on the stack */
    if (!want) {
        cg_fail(CG_ERR_NOMEM, "%s: out of memory", path ? path : "model");
        return NULL;
    }
    int n = 0;
    /* The metadata is untrusted.  First the header alone: the architecture it
     * names is bounded and the file's data size checked against it, before a
     * tensor is read or a model built. */
    cg_metadata header_md;
    uint64_t data_bytes = 0;
    if (cg_safetensors_read_metadata(path, &header_md, &data_bytes)) {
        free(want);
        return NULL;
    }
    model_spec spec;
    cg_status rc = read_spec(path, &header_md, &spec);
    if (!rc) rc = spec_shapes(path, &spec, want, &n);
    if (!rc) rc = check_data_size(path, &spec, want, n, data_bytes);
    cg_metadata_free(&header_md);
    if (rc) {
        free(want);
        return NULL;
    }

    /* Then the whole file, checked again as read (it may have changed): the
     * header's tensors against the architecture, then the model. */
    cg_safetensors st;
    if (cg_safetensors_load(path, &st)) {
        free(want);
        return NULL;
    }
    cg_module *m = NULL;
    rc = read_spec(path, &st.metadata, &spec);
    if (!rc) rc = spec_shapes(path, &spec, want, &n);
    if (!rc) rc = check_against_arch(path, &st, &spec, want, n);
    if (!rc) {
        m = spec.image ? cg_model_create_image(spec.arch, spec.c, spec.h, spec.w, spec.n_out)
                       : cg_model_create(spec.arch, spec.n_in, spec.n_out);
        if (!m) {
            char cause[256];
            snprintf(cause, sizeof cause, "%s", cg_last_error());
            rc = cg_fail(CG_ERR_FORMAT, "%s: %s", path, cause);
        }
    }
    if (!rc) rc = cg_module_load_state(m, &st, path, true);
    if (!rc && md_out) {
        *md_out = st.metadata; /* hand the metadata over */
        memset(&st.metadata, 0, sizeof st.metadata);
    }
    cg_safetensors_free(&st);
    free(want);
    if (rc) {
        cg_module_release(m);
        return NULL;
    }
    return m;
}

/* ---- class names ----------------------------------------------------------
 * "classes" is a JSON array of strings, written and read by io/json.c, so any
 * name (commas, quotes, newlines, any length) and any number of them
 * round-trips.  Files written before that hold the names comma-separated
 * ("7,3"); they still load. */

cg_status cg_model_set_classes(cg_metadata *md, int64_t n, const char *const *names) {
    if (!md || n < 0 || (n > 0 && !names)) return cg_fail(CG_ERR_VALUE, "model classes: NULL or negative argument");
    cg_strbuf b = {0};
    bool ok = cg_strbuf_append(&b, "[", 1);
    for (int64_t i = 0; ok && i < n; i++) {
        if (!names[i]) {
            free(b.data);
            return cg_fail(CG_ERR_VALUE, "model classes: name %lld is NULL", (long long)i);
        }
        ok = (i == 0 || cg_strbuf_append(&b, ",", 1)) && cg_json_write_string(&b, names[i]);
    }
    ok = ok && cg_strbuf_append(&b, "]", 1);
    cg_status st = ok ? cg_metadata_set(md, "classes", b.data)
                      : cg_fail(CG_ERR_NOMEM, "model classes: out of memory");
    free(b.data);
    return st;
}

void cg_model_classes_free(int64_t n, char **names) {
    for (int64_t i = 0; names && i < n; i++) free(names[i]);
    free(names);
}

/* The older form: names separated by commas (a name could not hold one). */
static cg_status split_commas(const char *s, int64_t *n, char ***names) {
    int64_t count = 1;
    for (const char *c = s; *c; c++) count += *c == ',';
    char **out = calloc((size_t)count, sizeof *out);
    if (!out) return cg_fail(CG_ERR_NOMEM, "model classes: out of memory");
    for (int64_t k = 0; k < count; k++) {
        const char *comma = strchr(s, ',');
        size_t len = comma ? (size_t)(comma - s) : strlen(s);
        if (!(out[k] = strndup(s, len))) {
            cg_model_classes_free(count, out);
            return cg_fail(CG_ERR_NOMEM, "model classes: out of memory");
        }
        s = comma ? comma + 1 : s + len;
    }
    *n = count;
    *names = out;
    return CG_OK;
}

cg_status cg_model_classes(const cg_metadata *md, int64_t *n, char ***names) {
    if (!n || !names) return cg_fail(CG_ERR_VALUE, "model classes: NULL output");
    *n = 0;
    *names = NULL;
    const char *v = cg_metadata_get(md, "classes");
    if (!v) return CG_OK;
    if (v[0] != '[') return split_commas(v, n, names);
    char err[160];
    cg_json *arr = cg_json_parse(v, strlen(v), err, sizeof err);
    if (!arr) /* "[a,b": an old comma list whose first name starts with '[' */
        return split_commas(v, n, names);
    cg_status st = CG_OK;
    if (arr->type != CG_JSON_ARRAY) st = cg_fail(CG_ERR_FORMAT, "model metadata \"classes\" is not an array of strings");
    for (int i = 0; !st && i < arr->n; i++)
        if (arr->items[i].type != CG_JSON_STRING || strlen(arr->items[i].string) != arr->items[i].length)
            st = cg_fail(CG_ERR_FORMAT, "model metadata \"classes\": entry %d is not a string without NUL bytes", i);
    char **out = NULL;
    if (!st && arr->n > 0 && !(out = calloc((size_t)arr->n, sizeof *out)))
        st = cg_fail(CG_ERR_NOMEM, "model classes: out of memory");
    for (int i = 0; !st && i < arr->n; i++) { /* taken over from the parsed tree */
        out[i] = arr->items[i].string;
        arr->items[i].string = NULL;
    }
    if (!st) {
        *n = arr->n;
        *names = out;
    }
    cg_json_free(arr);
    return st;
}

cg_status cg_model_metadata(cg_metadata *md, const char *arch, int64_t n_in, int64_t n_out,
                            const char *loss, const char *classes, const char *input) {
    if (!md) return cg_fail(CG_ERR_VALUE, "model metadata: NULL output");
    char n_in_s[24], n_out_s[24];
    snprintf(n_in_s, sizeof n_in_s, "%lld", (long long)n_in);
    snprintf(n_out_s, sizeof n_out_s, "%lld", (long long)n_out);
    cg_status st = cg_metadata_set(md, "format", CG_MODEL_FORMAT);
    if (!st && arch) st = cg_metadata_set(md, "arch", arch);
    if (!st) st = cg_metadata_set(md, "n_in", n_in_s);
    if (!st) st = cg_metadata_set(md, "n_out", n_out_s);
    if (!st && loss) st = cg_metadata_set(md, "loss", loss);
    if (!st && classes) { /* "7,3" -> ["7","3"] */
        int64_t n = 0;
        char **names = NULL;
        st = split_commas(classes, &n, &names);
        if (!st) st = cg_model_set_classes(md, n, (const char *const *)names);
        cg_model_classes_free(n, names);
    }
    if (!st && input) st = cg_metadata_set(md, "input", input);
    return st;
}
