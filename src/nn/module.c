/* nn/module.c — the module abstraction: named parameters, buffers, children,
 * train/eval, state_dict order and PyTorch's repr. */
#include <stdlib.h>
#include <string.h>

#include "cgrad/autograd.h"
#include "cgrad/nn.h"

cg_module *cg_module_new(const cg_module_vtable *vt, void *state) {
    if (!vt || !vt->forward) {
        cg_fail(CG_ERR_VALUE, "module: a module type needs a vtable with a forward function");
        if (vt && vt->free_state) {
            cg_module tmp = {.vt = vt, .state = state};
            vt->free_state(&tmp);
        } else {
            free(state);
        }
        return NULL;
    }
    cg_module *m = calloc(1, sizeof *m);
    if (!m) {
        cg_module tmp = {.vt = vt, .state = state};
        if (vt->free_state) vt->free_state(&tmp);
        else free(state);
        cg_fail(CG_ERR_NOMEM, "%s: out of memory", vt->type_name);
        return NULL;
    }
    m->vt = vt;
    m->state = state;
    m->training = true;
    m->refcount = 1;
    return m;
}

cg_module *cg_module_retain(cg_module *m) {
    if (m) m->refcount++;
    return m;
}

void cg_module_release(cg_module *m) {
    if (!m || --m->refcount > 0) return;
    for (int i = 0; i < m->n_params; i++) {
        free(m->param_names[i]);
        cg_release(m->params[i]);
    }
    for (int i = 0; i < m->n_buffers; i++) {
        free(m->buffer_names[i]);
        cg_release(m->buffers[i]);
    }
    for (int i = 0; i < m->n_children; i++) {
        free(m->child_names[i]);
        cg_module_release(m->children[i]);
    }
    free(m->param_names);
    free(m->params);
    free(m->buffer_names);
    free(m->buffers);
    free(m->child_names);
    free(m->children);
    if (m->vt->free_state) m->vt->free_state(m);
    else free(m->state);
    free(m);
}

static const char *type_of(const cg_module *m) { return m && m->vt->type_name ? m->vt->type_name : "Module"; }

/* True if name is already used by a parameter, buffer or child of m. */
static bool name_taken(const cg_module *m, const char *name) {
    for (int i = 0; i < m->n_params; i++)
        if (!strcmp(m->param_names[i], name)) return true;
    for (int i = 0; i < m->n_buffers; i++)
        if (!strcmp(m->buffer_names[i], name)) return true;
    for (int i = 0; i < m->n_children; i++)
        if (!strcmp(m->child_names[i], name)) return true;
    return false;
}

/* Appends (name, item) to a pair of parallel arrays. */
static cg_status append(const cg_module *m, const char *name, char ***names, void ***items, int *n,
                        void *item) {
    if (!name || !name[0] || strchr(name, '.'))
        return cg_fail(CG_ERR_VALUE, "%s: invalid entry name '%s' (non-empty, without '.')", type_of(m),
                       name ? name : "(null)");
    if (name_taken(m, name))
        return cg_fail(CG_ERR_VALUE, "%s: the name '%s' is already used", type_of(m), name);
    char **nn = realloc(*names, (size_t)(*n + 1) * sizeof *nn);
    if (nn) *names = nn;
    void **ni = realloc(*items, (size_t)(*n + 1) * sizeof *ni);
    if (ni) *items = ni;
    char *copy = strdup(name);
    if (!nn || !ni || !copy) {
        free(copy);
        return cg_fail(CG_ERR_NOMEM, "%s: out of memory", type_of(m));
    }
    (*names)[*n] = copy;
    (*items)[*n] = item;
    (*n)++;
    return CG_OK;
}

cg_status cg_module_add_param(cg_module *m, const char *name, cg_tensor *t) {
    if (!m) return cg_fail(CG_ERR_VALUE, "module: NULL module");
    if (!t) return cg_last_status() ? cg_last_status() : cg_fail(CG_ERR_VALUE, "%s: parameter '%s' is NULL", type_of(m), name);
    if (t->dtype != CG_FLOAT32)
        return cg_fail(CG_ERR_DTYPE, "%s: parameter '%s' must be float32, not %s", type_of(m), name,
                       cg_dtype_name(t->dtype));
    cg_status st = append(m, name, &m->param_names, (void ***)&m->params, &m->n_params, t);
    if (!st) cg_retain(t);
    return st;
}

cg_status cg_module_add_buffer(cg_module *m, const char *name, cg_tensor *t) {
    if (!m) return cg_fail(CG_ERR_VALUE, "module: NULL module");
    if (!t) return cg_last_status() ? cg_last_status() : cg_fail(CG_ERR_VALUE, "%s: buffer '%s' is NULL", type_of(m), name);
    cg_status st = append(m, name, &m->buffer_names, (void ***)&m->buffers, &m->n_buffers, t);
    if (!st) cg_retain(t);
    return st;
}

cg_status cg_module_add_child(cg_module *m, const char *name, cg_module *child) {
    if (!m || !child) {
        cg_module_release(child);
        if (!m) return cg_fail(CG_ERR_VALUE, "module: NULL module");
        return cg_last_status() ? cg_last_status()
                                : cg_fail(CG_ERR_VALUE, "%s: child '%s' is NULL", type_of(m), name);
    }
    cg_status st = append(m, name, &m->child_names, (void ***)&m->children, &m->n_children, child);
    if (st) cg_module_release(child);
    return st;
}

cg_tensor *cg_module_forward(cg_module *m, cg_tensor *x) {
    if (!m) {
        cg_fail(CG_ERR_VALUE, "module: forward on a NULL module");
        return NULL;
    }
    if (!x) return NULL; /* an earlier failure: keep its message */
    return m->vt->forward(m, x);
}

void cg_module_train(cg_module *m, bool mode) {
    if (!m) return;
    m->training = mode;
    for (int i = 0; i < m->n_children; i++) cg_module_train(m->children[i], mode);
}

void cg_module_eval(cg_module *m) { cg_module_train(m, false); }

void cg_module_zero_grad(cg_module *m) {
    if (!m) return;
    for (int i = 0; i < m->n_params; i++) cg_clear_grad(m->params[i]);
    for (int i = 0; i < m->n_children; i++) cg_module_zero_grad(m->children[i]);
}

/* ---- flat lists ------------------------------------------------------------ */

void cg_named_tensors_free(cg_named_tensors *list) {
    if (!list) return;
    for (int i = 0; i < list->n; i++) free(list->names[i]);
    free(list->names);
    free(list->tensors);
    memset(list, 0, sizeof *list);
}

typedef struct collector {
    cg_named_tensors *out;
    int cap;
} collector;

static cg_status collect_one(collector *c, const char *prefix, const char *name, cg_tensor *t) {
    cg_named_tensors *o = c->out;
    if (o->n == c->cap) {
        int cap = c->cap ? c->cap * 2 : 8;
        char **names = realloc(o->names, (size_t)cap * sizeof *names);
        if (names) o->names = names;
        cg_tensor **ts = realloc(o->tensors, (size_t)cap * sizeof *ts);
        if (ts) o->tensors = ts;
        if (!names || !ts) return cg_fail(CG_ERR_NOMEM, "state_dict: out of memory");
        c->cap = cap;
    }
    size_t len = strlen(prefix) + strlen(name) + 1;
    char *full = malloc(len);
    if (!full) return cg_fail(CG_ERR_NOMEM, "state_dict: out of memory");
    snprintf(full, len, "%s%s", prefix, name);
    o->names[o->n] = full;
    o->tensors[o->n] = t;
    o->n++;
    return CG_OK;
}

/* PyTorch's order: own parameters, own buffers (if wanted), then each child
 * under "<prefix><child>.". */
static cg_status collect(collector *c, const cg_module *m, const char *prefix, bool buffers) {
    cg_status st = CG_OK;
    for (int i = 0; !st && i < m->n_params; i++) st = collect_one(c, prefix, m->param_names[i], m->params[i]);
    for (int i = 0; buffers && !st && i < m->n_buffers; i++)
        st = collect_one(c, prefix, m->buffer_names[i], m->buffers[i]);
    for (int i = 0; !st && i < m->n_children; i++) {
        size_t len = strlen(prefix) + strlen(m->child_names[i]) + 2;
        char *sub = malloc(len);
        if (!sub) return cg_fail(CG_ERR_NOMEM, "state_dict: out of memory");
        snprintf(sub, len, "%s%s.", prefix, m->child_names[i]);
        st = collect(c, m->children[i], sub, buffers);
        free(sub);
    }
    return st;
}

static cg_status collect_all(const cg_module *m, cg_named_tensors *out, bool buffers) {
    if (!out) return cg_fail(CG_ERR_VALUE, "state_dict: NULL output");
    memset(out, 0, sizeof *out);
    if (!m) return cg_fail(CG_ERR_VALUE, "state_dict: NULL module");
    collector c = {.out = out};
    cg_status st = collect(&c, m, "", buffers);
    if (st) cg_named_tensors_free(out);
    return st;
}

cg_status cg_module_named_parameters(const cg_module *m, cg_named_tensors *out) {
    return collect_all(m, out, false);
}

cg_status cg_module_state_dict(const cg_module *m, cg_named_tensors *out) {
    return collect_all(m, out, true);
}

int cg_module_num_parameters(const cg_module *m) {
    if (!m) return 0;
    int n = m->n_params;
    for (int i = 0; i < m->n_children; i++) n += cg_module_num_parameters(m->children[i]);
    return n;
}

int64_t cg_module_count_elements(const cg_module *m) {
    if (!m) return 0;
    int64_t n = 0;
    for (int i = 0; i < m->n_params; i++) n += cg_numel(m->params[i]);
    for (int i = 0; i < m->n_children; i++) n += cg_module_count_elements(m->children[i]);
    return n;
}

cg_tensor *cg_module_find(const cg_module *m, const char *name) {
    if (!m || !name) return NULL;
    const char *dot = strchr(name, '.');
    if (!dot) {
        for (int i = 0; i < m->n_params; i++)
            if (!strcmp(m->param_names[i], name)) return m->params[i];
        for (int i = 0; i < m->n_buffers; i++)
            if (!strcmp(m->buffer_names[i], name)) return m->buffers[i];
        return NULL;
    }
    size_t len = (size_t)(dot - name);
    for (int i = 0; i < m->n_children; i++)
        if (strlen(m->child_names[i]) == len && !strncmp(m->child_names[i], name, len))
            return cg_module_find(m->children[i], dot + 1);
    return NULL;
}

/* ---- repr ------------------------------------------------------------------- */

typedef struct text {
    char *s;
    size_t len, cap;
    bool oom;
} text;

static void put(text *t, const char *s) {
    size_t n = strlen(s);
    if (t->oom) return;
    if (t->len + n + 1 > t->cap) {
        size_t cap = t->cap ? t->cap : 128;
        while (cap < t->len + n + 1) cap *= 2;
        char *d = realloc(t->s, cap);
        if (!d) {
            t->oom = true;
            return;
        }
        t->s = d;
        t->cap = cap;
    }
    memcpy(t->s + t->len, s, n + 1);
    t->len += n;
}

/* Writes m's repr; every line after the first is indented by `indent` spaces. */
static void repr(text *t, const cg_module *m, int indent) {
    char extra[256] = "";
    if (m->vt->extra_repr) m->vt->extra_repr(m, extra, sizeof extra);
    put(t, type_of(m));
    put(t, "(");
    char pad[128];
    int w = indent + 2 < (int)sizeof pad - 1 ? indent + 2 : (int)sizeof pad - 1;
    memset(pad, ' ', (size_t)w);
    pad[w] = '\0';
    if (m->n_children == 0) {
        put(t, extra);
        put(t, ")");
        return;
    }
    if (extra[0]) {
        put(t, "\n");
        put(t, pad);
        put(t, extra);
    }
    for (int i = 0; i < m->n_children; i++) {
        put(t, "\n");
        put(t, pad);
        put(t, "(");
        put(t, m->child_names[i]);
        put(t, "): ");
        repr(t, m->children[i], indent + 2);
    }
    put(t, "\n");
    pad[indent] = '\0';
    put(t, pad);
    put(t, ")");
}

char *cg_module_repr(const cg_module *m) {
    if (!m) {
        cg_fail(CG_ERR_VALUE, "module: repr of a NULL module");
        return NULL;
    }
    text t = {0};
    repr(&t, m, 0);
    if (t.oom) {
        free(t.s);
        cg_fail(CG_ERR_NOMEM, "module: out of memory formatting a repr");
        return NULL;
    }
    return t.s;
}
