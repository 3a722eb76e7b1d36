/* io/safetensors.c — reading and writing the safetensors format (see weights.h).
 *
 * Layout: [u64 little-endian N][N bytes of JSON header][data].  The header maps
 * each tensor name to {"dtype", "shape", "data_offsets": [begin, end]} with
 * offsets relative to the start of the data; "__metadata__" maps strings to
 * strings.  Like the reference implementation we require the tensors' byte
 * ranges to tile the data exactly (sorted by offset: no gap, no overlap, nothing
 * after the last one), and pad the header with spaces to a multiple of 8 so
 * the data is aligned. */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "cgrad/fileio.h"
#include "cgrad/weights.h"
#include "io/json.h"

/* The reference implementation refuses headers above 100 MB; so do we. */
#define MAX_HEADER_BYTES (100u * 1000u * 1000u)

typedef struct dtype_name {
    const char *name;
    int dtype; /* a cg_dtype, or -1: a valid safetensors dtype cgrad cannot hold */
} dtype_name;

static const dtype_name dtype_names[] = {
    {"F32", CG_FLOAT32}, {"U8", CG_UINT8}, {"I64", CG_INT64}, {"BOOL", CG_BOOL},
    {"F64", -1},         {"F16", -1},      {"BF16", -1},      {"I32", -1},
    {"I16", -1},         {"I8", -1},       {"U16", -1},       {"U32", -1},
    {"U64", -1},         {"F8_E4M3", -1},  {"F8_E5M2", -1},
};

static const char *safetensors_dtype(cg_dtype dt) {
    for (size_t i = 0; i < sizeof dtype_names / sizeof dtype_names[0]; i++)
        if (dtype_names[i].dtype == (int)dt) return dtype_names[i].name;
    return NULL;
}

static bool host_is_little_endian(void) {
    const uint16_t one = 1;
    unsigned char b;
    memcpy(&b, &one, 1);
    return b == 1;
}

/* Reverses the bytes of each element in place (big-endian hosts only). */
static void swap_elements(unsigned char *p, size_t count, size_t size) {
    if (size <= 1) return;
    for (size_t i = 0; i < count; i++, p += size)
        for (size_t a = 0, b = size - 1; a < b; a++, b--) {
            unsigned char t = p[a];
            p[a] = p[b];
            p[b] = t;
        }
}

/* ---- metadata ------------------------------------------------------------- */

cg_status cg_metadata_set(cg_metadata *md, const char *key, const char *value) {
    if (!md || !key || !value) return cg_fail(CG_ERR_VALUE, "metadata: NULL argument");
    for (int i = 0; i < md->n; i++)
        if (!strcmp(md->keys[i], key)) {
            char *v = strdup(value);
            if (!v) return cg_fail(CG_ERR_NOMEM, "metadata: out of memory");
            free(md->values[i]);
            md->values[i] = v;
            return CG_OK;
        }
    char **keys = realloc(md->keys, (size_t)(md->n + 1) * sizeof *keys);
    if (keys) md->keys = keys;
    char **values = realloc(md->values, (size_t)(md->n + 1) * sizeof *values);
    if (values) md->values = values;
    char *k = strdup(key), *v = strdup(value);
    if (!keys || !values || !k || !v) {
        free(k);
        free(v);
        return cg_fail(CG_ERR_NOMEM, "metadata: out of memory");
    }
    md->keys[md->n] = k;
    md->values[md->n] = v;
    md->n++;
    return CG_OK;
}

const char *cg_metadata_get(const cg_metadata *md, const char *key) {
    if (!md || !key) return NULL;
    for (int i = 0; i < md->n; i++)
        if (!strcmp(md->keys[i], key)) return md->values[i];
    return NULL;
}

void cg_metadata_free(cg_metadata *md) {
    if (!md) return;
    for (int i = 0; i < md->n; i++) {
        free(md->keys[i]);
        free(md->values[i]);
    }
    free(md->keys);
    free(md->values);
    memset(md, 0, sizeof *md);
}

/* ---- writing ---------------------------------------------------------------- */

/* The JSON header, padded with spaces to a multiple of 8 bytes. */
static cg_status build_header(const char *path, int n, const char *const *names,
                              cg_tensor *const *tensors, const cg_metadata *md, cg_strbuf *b) {
    bool ok = cg_strbuf_append(b, "{", 1);
    bool first = true;
    if (md && md->n > 0) {
        ok = ok && cg_strbuf_append(b, "\"__metadata__\":{", 16);
        for (int i = 0; i < md->n; i++) {
            ok = ok && (i == 0 || cg_strbuf_append(b, ",", 1)) && cg_json_write_string(b, md->keys[i]) &&
                 cg_strbuf_append(b, ":", 1) && cg_json_write_string(b, md->values[i]);
        }
        ok = ok && cg_strbuf_append(b, "}", 1);
        first = false;
    }
    uint64_t offset = 0;
    for (int i = 0; i < n; i++) {
        const cg_tensor *t = tensors[i];
        const char *dt = safetensors_dtype(t->dtype);
        if (!dt)
            return cg_fail(CG_ERR_DTYPE, "%s: tensor '%s' has dtype %s, which safetensors cannot hold",
                           path, names[i], cg_dtype_name(t->dtype));
        uint64_t bytes = (uint64_t)cg_numel(t) * cg_dtype_size(t->dtype);
        ok = ok && (first || cg_strbuf_append(b, ",", 1)) && cg_json_write_string(b, names[i]) &&
             cg_strbuf_printf(b, ":{\"dtype\":\"%s\",\"shape\":[", dt);
        for (int d = 0; d < t->ndim; d++)
            ok = ok && cg_strbuf_printf(b, d ? ",%lld" : "%lld", (long long)t->shape[d]);
        ok = ok && cg_strbuf_printf(b, "],\"data_offsets\":[%llu,%llu]}", (unsigned long long)offset,
                                    (unsigned long long)(offset + bytes));
        offset += bytes;
        first = false;
    }
    ok = ok && cg_strbuf_append(b, "}", 1);
    while (ok && b->len % 8 != 0) ok = cg_strbuf_append(b, " ", 1);
    return ok ? CG_OK : cg_fail(CG_ERR_NOMEM, "%s: out of memory building the header", path);
}

cg_status cg_safetensors_save(const char *path, int n, const char *const *names,
                              cg_tensor *const *tensors, const cg_metadata *md) {
    if (!path) return cg_fail(CG_ERR_VALUE, "safetensors: NULL path");
    if (n < 0 || (n > 0 && (!names || !tensors)))
        return cg_fail(CG_ERR_VALUE, "%s: invalid tensor list (n=%d)", path, n);
    for (int i = 0; i < n; i++) {
        if (!names[i] || !names[i][0] || !tensors[i])
            return cg_fail(CG_ERR_VALUE, "%s: tensor %d has no name or is NULL", path, i);
        if (!strcmp(names[i], "__metadata__"))
            return cg_fail(CG_ERR_VALUE, "%s: '__metadata__' cannot name a tensor", path);
        for (int j = 0; j < i; j++)
            if (!strcmp(names[i], names[j]))
                return cg_fail(CG_ERR_VALUE, "%s: tensor name '%s' appears twice", path, names[i]);
    }
    cg_strbuf header = {0};
    cg_status st = build_header(path, n, names, tensors, md, &header);
    if (st) {
        free(header.data);
        return st;
    }
    cg_atomic_file *f = cg_atomic_open(path);
    if (!f) {
        free(header.data);
        return cg_last_status();
    }
    unsigned char len8[8];
    for (int i = 0; i < 8; i++) len8[i] = (unsigned char)((uint64_t)header.len >> (8 * i));
    st = cg_atomic_write(f, len8, 8);
    if (!st) st = cg_atomic_write(f, header.data, header.len);
    free(header.data);
    bool little = host_is_little_endian();
    for (int i = 0; i < n && !st; i++) {
        /* Row-major bytes of any layout: a contiguous copy when needed. */
        cg_scope_begin();
        cg_tensor *c = cg_contiguous(tensors[i]);
        if (!c) st = cg_last_status();
        size_t size = cg_dtype_size(tensors[i]->dtype), count = (size_t)cg_numel(tensors[i]);
        if (!st && count > 0) {
            if (little) {
                st = cg_atomic_write(f, cg_data(c), count * size);
            } else {
                unsigned char *tmp = malloc(count * size);
                if (!tmp) st = cg_fail(CG_ERR_NOMEM, "%s: out of memory", path);
                else {
                    memcpy(tmp, cg_data(c), count * size);
                    swap_elements(tmp, count, size);
                    st = cg_atomic_write(f, tmp, count * size);
                    free(tmp);
                }
            }
        }
        cg_scope_end();
    }
    if (st) {
        cg_atomic_abort(f);
        return st;
    }
    return cg_atomic_commit(f);
}

/* ---- reading ---------------------------------------------------------------- */

void cg_safetensors_free(cg_safetensors *st) {
    if (!st) return;
    for (int i = 0; i < st->n; i++) {
        free(st->names[i]);
        cg_release(st->tensors[i]);
    }
    free(st->names);
    free(st->tensors);
    cg_metadata_free(&st->metadata);
    memset(st, 0, sizeof *st);
}

cg_tensor *cg_safetensors_get(const cg_safetensors *st, const char *name) {
    if (!st || !name) return NULL;
    for (int i = 0; i < st->n; i++)
        if (!strcmp(st->names[i], name)) return st->tensors[i];
    return NULL;
}

/* One header entry, checked. */
typedef struct entry {
    const char *name;
    cg_dtype dtype;
    int ndim;
    int64_t shape[CG_MAX_DIMS];
    uint64_t begin, end;
} entry;

static int by_offset(const void *a, const void *b) {
    const entry *x = a, *y = b;
    if (x->begin != y->begin) return x->begin < y->begin ? -1 : 1;
    return x->end < y->end ? -1 : x->end > y->end;
}

static cg_status check_entry(const char *what, const char *name, const cg_json *v, entry *e) {
    e->name = name;
    if (v->type != CG_JSON_OBJECT)
        return cg_fail(CG_ERR_FORMAT, "%s: tensor '%s': header entry is a %s, expected an object",
                       what, name, cg_json_type_name(v->type));
    for (int i = 0; i < v->n; i++)
        if (strcmp(v->keys[i], "dtype") && strcmp(v->keys[i], "shape") && strcmp(v->keys[i], "data_offsets"))
            return cg_fail(CG_ERR_FORMAT, "%s: tensor '%s': unknown header field '%s'", what, name,
                           v->keys[i]);
    const cg_json *dt = cg_json_get(v, "dtype"), *shape = cg_json_get(v, "shape"),
                  *off = cg_json_get(v, "data_offsets");
    if (!dt || dt->type != CG_JSON_STRING)
        return cg_fail(CG_ERR_FORMAT, "%s: tensor '%s': missing or non-string \"dtype\"", what, name);
    int dtype = -2;
    for (size_t i = 0; i < sizeof dtype_names / sizeof dtype_names[0]; i++)
        if (!strcmp(dt->string, dtype_names[i].name)) dtype = dtype_names[i].dtype;
    if (dtype == -2)
        return cg_fail(CG_ERR_FORMAT, "%s: tensor '%s': unknown dtype \"%s\"", what, name, dt->string);
    if (dtype == -1)
        return cg_fail(CG_ERR_DTYPE,
                       "%s: tensor '%s': dtype %s is not supported (cgrad reads F32, U8, I64, BOOL)",
                       what, name, dt->string);
    e->dtype = (cg_dtype)dtype;
    if (!shape || shape->type != CG_JSON_ARRAY)
        return cg_fail(CG_ERR_FORMAT, "%s: tensor '%s': missing or non-array \"shape\"", what, name);
    if (shape->n > CG_MAX_DIMS)
        return cg_fail(CG_ERR_FORMAT, "%s: tensor '%s': %d dims, at most %d are supported", what, name,
                       shape->n, CG_MAX_DIMS);
    e->ndim = shape->n;
    uint64_t numel = 1;
    for (int d = 0; d < shape->n; d++) {
        const cg_json *s = &shape->items[d];
        if (s->type != CG_JSON_NUMBER || !s->is_int || s->integer < 0)
            return cg_fail(CG_ERR_FORMAT, "%s: tensor '%s': shape entry %d is not a non-negative integer",
                           what, name, d);
        e->shape[d] = s->integer;
        if (s->integer > 0 && numel > UINT64_MAX / 16 / (uint64_t)s->integer)
            return cg_fail(CG_ERR_FORMAT, "%s: tensor '%s': shape is too large", what, name);
        numel *= (uint64_t)s->integer;
    }
    if (!off || off->type != CG_JSON_ARRAY || off->n != 2)
        return cg_fail(CG_ERR_FORMAT, "%s: tensor '%s': \"data_offsets\" must be an array [begin, end]",
                       what, name);
    for (int k = 0; k < 2; k++)
        if (off->items[k].type != CG_JSON_NUMBER || !off->items[k].is_int || off->items[k].integer < 0)
            return cg_fail(CG_ERR_FORMAT, "%s: tensor '%s': data_offsets must be non-negative integers",
                           what, name);
    e->begin = (uint64_t)off->items[0].integer;
    e->end = (uint64_t)off->items[1].integer;
    if (e->end < e->begin)
        return cg_fail(CG_ERR_FORMAT, "%s: tensor '%s': data_offsets [%llu, %llu] end before they begin",
                       what, name, (unsigned long long)e->begin, (unsigned long long)e->end);
    uint64_t bytes = numel * cg_dtype_size(e->dtype);
    if (e->end - e->begin != bytes)
        return cg_fail(CG_ERR_FORMAT,
                       "%s: tensor '%s': %s with %llu elements needs %llu bytes, but data_offsets "
                       "[%llu, %llu] span %llu",
                       what, name, dt->string, (unsigned long long)numel,
                       (unsigned long long)bytes, (unsigned long long)e->begin,
                       (unsigned long long)e->end, (unsigned long long)(e->end - e->begin));
    return CG_OK;
}

static cg_status read_metadata(const char *what, cg_json *v, cg_metadata *md) {
    if (v->type != CG_JSON_OBJECT)
        return cg_fail(CG_ERR_FORMAT, "%s: __metadata__ is a %s, expected an object of strings", what,
                       cg_json_type_name(v->type));
    /* The parser refused duplicate keys, so the entries go in as they are:
     * cg_metadata_set would look each key up first, n^2 for n keys. */
    for (int i = 0; i < v->n; i++)
        if (v->items[i].type != CG_JSON_STRING)
            return cg_fail(CG_ERR_FORMAT, "%s: __metadata__ value of '%.200s' is a %s, expected a string",
                           what, v->keys[i], cg_json_type_name(v->items[i].type));
    if (v->n <= 0) return CG_OK;
    md->keys = calloc((size_t)v->n, sizeof *md->keys);
    md->values = calloc((size_t)v->n, sizeof *md->values);
    if (!md->keys || !md->values) return cg_fail(CG_ERR_NOMEM, "%s: out of memory", what);
    for (int i = 0; i < v->n; i++) {
        /* Taken over from the parsed tree, which then frees NULLs. */
        md->keys[i] = v->keys[i];
        md->values[i] = v->items[i].string;
        v->keys[i] = NULL;
        v->items[i].string = NULL;
        md->n++;
    }
    return CG_OK;
}

cg_status cg_safetensors_parse(const unsigned char *bytes, size_t size, const char *what,
                               cg_safetensors *out) {
    if (!what) what = "safetensors";
    if (!out) return cg_fail(CG_ERR_VALUE, "%s: NULL output", what);
    memset(out, 0, sizeof *out);
    if (!bytes && size) return cg_fail(CG_ERR_VALUE, "%s: NULL data", what);
    if (size < 8)
        return cg_fail(CG_ERR_FORMAT, "%s: %zu bytes is too short for a safetensors file (8-byte header length)",
                       what, size);
    uint64_t n_header = 0;
    for (int i = 7; i >= 0; i--) n_header = (n_header << 8) | bytes[i];
    if (n_header > size - 8)
        return cg_fail(CG_ERR_FORMAT,
                       "%s: header length %llu is larger than the %zu bytes after it (truncated or "
                       "not a safetensors file)",
                       what, (unsigned long long)n_header, size - 8);
    if (n_header > MAX_HEADER_BYTES)
        return cg_fail(CG_ERR_FORMAT, "%s: header length %llu exceeds the %u-byte limit", what,
                       (unsigned long long)n_header, MAX_HEADER_BYTES);
    if (n_header < 2 || bytes[8] != '{')
        return cg_fail(CG_ERR_FORMAT, "%s: the header does not start with '{' (not a safetensors file)",
                       what);
    char jerr[160];
    cg_json *root = cg_json_parse((const char *)bytes + 8, (size_t)n_header, jerr, sizeof jerr);
    if (!root) return cg_fail(CG_ERR_FORMAT, "%s: invalid JSON header: %s", what, jerr);
    const unsigned char *data = bytes + 8 + n_header;
    uint64_t data_size = size - 8 - n_header;

    cg_status st = CG_OK;
    entry *entries = calloc((size_t)(root->n ? root->n : 1), sizeof *entries);
    int n = 0;
    if (!entries) st = cg_fail(CG_ERR_NOMEM, "%s: out of memory", what);
    if (!st && root->type != CG_JSON_OBJECT)
        st = cg_fail(CG_ERR_FORMAT, "%s: the header is a JSON %s, expected an object", what,
                     cg_json_type_name(root->type));
    /* (cg_json_parse refused a key appearing twice.) */
    for (int i = 0; !st && i < root->n; i++) {
        if (!strcmp(root->keys[i], "__metadata__"))
            st = read_metadata(what, &root->items[i], &out->metadata);
        else
            st = check_entry(what, root->keys[i], &root->items[i], &entries[n++]);
    }
    /* The byte ranges must tile the data: sorted, contiguous, ending at its end. */
    if (!st) {
        qsort(entries, (size_t)n, sizeof *entries, by_offset);
        uint64_t expect = 0;
        for (int i = 0; !st && i < n; i++) {
            if (entries[i].end > data_size)
                st = cg_fail(CG_ERR_FORMAT,
                             "%s: tensor '%s': data_offsets [%llu, %llu] run past the end of the %llu "
                             "data bytes (truncated file?)",
                             what, entries[i].name, (unsigned long long)entries[i].begin,
                             (unsigned long long)entries[i].end, (unsigned long long)data_size);
            else if (entries[i].begin != expect)
                st = cg_fail(CG_ERR_FORMAT,
                             "%s: tensor '%s': data_offsets begin at %llu, expected %llu (tensors "
                             "overlap or leave a gap)",
                             what, entries[i].name, (unsigned long long)entries[i].begin,
                             (unsigned long long)expect);
            expect = entries[i].end;
        }
        if (!st && expect != data_size)
            st = cg_fail(CG_ERR_FORMAT, "%s: %llu data bytes but the tensors account for %llu", what,
                         (unsigned long long)data_size, (unsigned long long)expect);
    }
    if (!st && n > 0) {
        out->names = calloc((size_t)n, sizeof *out->names);
        out->tensors = calloc((size_t)n, sizeof *out->tensors);
        if (!out->names || !out->tensors) st = cg_fail(CG_ERR_NOMEM, "%s: out of memory", what);
    }
    bool little = host_is_little_endian();
    for (int i = 0; !st && i < n; i++) {
        const entry *e = &entries[i];
        /* Made in a scope of our own and retained, so the tensors belong to
         * `out` whatever scopes the caller has open. */
        cg_scope_begin();
        cg_tensor *t = cg_empty(e->dtype, e->ndim, e->shape);
        if (t) t = cg_retain(t);
        cg_scope_end();
        char *name = strdup(e->name);
        if (!t || !name) {
            cg_release(t);
            free(name);
            st = t ? cg_fail(CG_ERR_NOMEM, "%s: out of memory", what) : cg_last_status();
            break;
        }
        size_t nbytes = (size_t)(e->end - e->begin);
        if (nbytes) {
            memcpy(cg_data(t), data + e->begin, nbytes);
            if (!little) swap_elements(cg_data(t), (size_t)cg_numel(t), cg_dtype_size(e->dtype));
            if (e->dtype == CG_BOOL) { /* normalise to 0/1 */
                unsigned char *b = cg_data(t);
                for (size_t k = 0; k < nbytes; k++) b[k] = b[k] != 0;
            }
        }
        out->names[out->n] = name;
        out->tensors[out->n] = t;
        out->n++;
    }
    free(entries);
    cg_json_free(root);
    if (st) cg_safetensors_free(out);
    return st;
}

/* Opens path (a regular file only: a FIFO or /dev/zero is refused without
 * blocking) and checks its 8-byte header length against the file's size and
 * the header limit, before anything else is read or allocated. */
static cg_status open_checked(const char *path, int *fd, uint64_t *size, uint64_t *n_header) {
    cg_status st = cg_open_regular(path, NULL, fd, size);
    if (st) return st;
    *n_header = 0;
    unsigned char len8[8];
    if (*size < 8 || pread(*fd, len8, 8, 0) != 8)
        st = cg_fail(CG_ERR_FORMAT, "%s: %llu bytes is too short for a safetensors file (8-byte header length)",
                     path, (unsigned long long)*size);
    for (int i = 7; !st && i >= 0; i--) *n_header = (*n_header << 8) | len8[i];
    if (!st && *n_header > *size - 8)
        st = cg_fail(CG_ERR_FORMAT,
                     "%s: header length %llu is larger than the %llu bytes after it (truncated or "
                     "not a safetensors file)",
                     path, (unsigned long long)*n_header, (unsigned long long)(*size - 8));
    if (!st && *n_header > MAX_HEADER_BYTES)
        st = cg_fail(CG_ERR_FORMAT, "%s: header length %llu exceeds the %u-byte limit", path,
                     (unsigned long long)*n_header, MAX_HEADER_BYTES);
    if (st) {
        close(*fd);
        *fd = -1;
    }
    return st;
}

cg_status cg_safetensors_load(const char *path, cg_safetensors *out) {
    if (out) memset(out, 0, sizeof *out);
    if (!path) return cg_fail(CG_ERR_VALUE, "safetensors: NULL path");
    if (!out) return cg_fail(CG_ERR_VALUE, "%s: NULL output", path);
    int fd;
    uint64_t size, n_header;
    cg_status st = open_checked(path, &fd, &size, &n_header);
    if (st) return st;
    void *bytes = NULL;
    size_t len = 0;
    char msg[256];
    st = cg_read_fd_msg(fd, size, (size_t)PTRDIFF_MAX - 1, &bytes, &len, msg, sizeof msg);
    close(fd);
    if (st) return cg_fail(st, "%s: %s", path, msg);
    st = cg_safetensors_parse(bytes, len, path, out);
    free(bytes);
    return st;
}

cg_status cg_safetensors_read_metadata(const char *path, cg_metadata *md, uint64_t *data_bytes) {
    if (md) memset(md, 0, sizeof *md);
    if (data_bytes) *data_bytes = 0;
    if (!path || !md) return cg_fail(CG_ERR_VALUE, "safetensors: NULL path or output");
    int fd;
    uint64_t size, n_header;
    cg_status st = open_checked(path, &fd, &size, &n_header);
    if (st) return st;
    char *header = malloc((size_t)n_header + 1);
    if (!header) {
        close(fd);
        return cg_fail(CG_ERR_NOMEM, "%s: out of memory for a %llu-byte header", path, (unsigned long long)n_header);
    }
    size_t got = 0;
    while (got < n_header) {
        ssize_t k = pread(fd, header + got, (size_t)n_header - got, (off_t)(8 + got));
        if (k < 0 && errno == EINTR) continue;
        if (k <= 0) break;
        got += (size_t)k;
    }
    close(fd);
    if (got != n_header) {
        free(header);
        return cg_fail(CG_ERR_IO, "%s: read %zu of the %llu header bytes", path, got, (unsigned long long)n_header);
    }
    if (n_header < 2 || header[0] != '{') {
        free(header);
        return cg_fail(CG_ERR_FORMAT, "%s: the header does not start with '{' (not a safetensors file)", path);
    }
    char jerr[160];
    cg_json *root = cg_json_parse(header, (size_t)n_header, jerr, sizeof jerr);
    free(header);
    if (!root) return cg_fail(CG_ERR_FORMAT, "%s: invalid JSON header: %s", path, jerr);
    if (root->type != CG_JSON_OBJECT)
        st = cg_fail(CG_ERR_FORMAT, "%s: the header is a JSON %s, expected an object", path,
                     cg_json_type_name(root->type));
    for (int i = 0; !st && i < root->n; i++)
        if (!strcmp(root->keys[i], "__metadata__")) st = read_metadata(path, &root->items[i], md);
    cg_json_free(root);
    if (st) cg_metadata_free(md);
    else if (data_bytes) *data_bytes = size - 8 - n_header;
    return st;
}
