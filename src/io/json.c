/* io/json.c — a small recursive-descent JSON reader (see json.h). */
#include "io/json.h"

#include <errno.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

typedef struct parser {
    const char *s;
    size_t len, pos;
    char *err;
    size_t err_size;
    bool failed;
    size_t values; /* parsed so far, against CG_JSON_MAX_VALUES */
} parser;

static bool fail(parser *p, const char *fmt, ...)
#if defined(__GNUC__)
    __attribute__((format(printf, 2, 3)))
#endif
    ;

static bool fail(parser *p, const char *fmt, ...) {
    if (p->failed) return false;
    p->failed = true;
    if (p->err && p->err_size) {
        va_list ap;
        va_start(ap, fmt);
        int k = vsnprintf(p->err, p->err_size, fmt, ap);
        va_end(ap);
        if (k >= 0 && (size_t)k < p->err_size)
            snprintf(p->err + k, p->err_size - (size_t)k, " at byte %zu", p->pos);
    }
    return false;
}

static void skip_ws(parser *p) {
    while (p->pos < p->len) {
        char c = p->s[p->pos];
        if (c != ' ' && c != '\t' && c != '\n' && c != '\r') break;
        p->pos++;
    }
}

static bool literal(parser *p, const char *word) {
    size_t n = strlen(word);
    if (p->len - p->pos < n || memcmp(p->s + p->pos, word, n) != 0)
        return fail(p, "invalid literal (expected '%s')", word);
    p->pos += n;
    return true;
}

static int hex4(parser *p) {
    if (p->len - p->pos < 4) return -1;
    int v = 0;
    for (int i = 0; i < 4; i++) {
        char c = p->s[p->pos + (size_t)i];
        v <<= 4;
        if (c >= '0' && c <= '9') v |= c - '0';
        else if (c >= 'a' && c <= 'f') v |= c - 'a' + 10;
        else if (c >= 'A' && c <= 'F') v |= c - 'A' + 10;
        else return -1;
    }
    p->pos += 4;
    return v;
}

/* Appends code point cp as UTF-8 to out (which has room: every escape is at
 * least as long as its UTF-8 encoding). */
static size_t put_utf8(char *out, uint32_t cp) {
    if (cp < 0x80) {
        out[0] = (char)cp;
        return 1;
    }
    if (cp < 0x800) {
        out[0] = (char)(0xC0 | (cp >> 6));
        out[1] = (char)(0x80 | (cp & 0x3F));
        return 2;
    }
    if (cp < 0x10000) {
        out[0] = (char)(0xE0 | (cp >> 12));
        out[1] = (char)(0x80 | ((cp >> 6) & 0x3F));
        out[2] = (char)(0x80 | (cp & 0x3F));
        return 3;
    }
    out[0] = (char)(0xF0 | (cp >> 18));
    out[1] = (char)(0x80 | ((cp >> 12) & 0x3F));
    out[2] = (char)(0x80 | ((cp >> 6) & 0x3F));
    out[3] = (char)(0x80 | (cp & 0x3F));
    return 4;
}

/* Parses a string literal at p->pos (which is '"'); *out is malloc'd. */
static bool parse_string(parser *p, char **out, size_t *out_len) {
    p->pos++; /* opening quote */
    size_t start = p->pos;
    /* The decoded string is never longer than the literal. */
    size_t end = start;
    while (end < p->len && p->s[end] != '"') end += p->s[end] == '\\' ? 2 : 1;
    if (end >= p->len) return fail(p, "unterminated string");
    char *buf = malloc(end - start + 1);
    if (!buf) return fail(p, "out of memory");
    size_t n = 0;
    while (p->s[p->pos] != '"') {
        unsigned char c = (unsigned char)p->s[p->pos];
        if (c < 0x20) {
            free(buf);
            return fail(p, "control character 0x%02x in string", c);
        }
        if (c != '\\') {
            buf[n++] = (char)c;
            p->pos++;
            continue;
        }
        p->pos++;
        char e = p->s[p->pos++];
        switch (e) {
        case '"': buf[n++] = '"'; break;
        case '\\': buf[n++] = '\\'; break;
        case '/': buf[n++] = '/'; break;
        case 'b': buf[n++] = '\b'; break;
        case 'f': buf[n++] = '\f'; break;
        case 'n': buf[n++] = '\n'; break;
        case 'r': buf[n++] = '\r'; break;
        case 't': buf[n++] = '\t'; break;
        case 'u': {
            int hi = hex4(p);
            if (hi < 0) {
                free(buf);
                return fail(p, "invalid \\u escape");
            }
            uint32_t cp = (uint32_t)hi;
            if (hi >= 0xD800 && hi <= 0xDBFF) {
                int lo = -1;
                if (p->len - p->pos >= 6 && p->s[p->pos] == '\\' && p->s[p->pos + 1] == 'u') {
                    p->pos += 2;
                    lo = hex4(p);
                }
                if (lo < 0xDC00 || lo > 0xDFFF) {
                    free(buf);
                    return fail(p, "unpaired UTF-16 surrogate in \\u escape");
                }
                cp = 0x10000 + (((uint32_t)hi - 0xD800) << 10) + ((uint32_t)lo - 0xDC00);
            } else if (hi >= 0xDC00 && hi <= 0xDFFF) {
                free(buf);
                return fail(p, "unpaired UTF-16 surrogate in \\u escape");
            }
            n += put_utf8(buf + n, cp);
            break;
        }
        default:
            p->pos--;
            free(buf);
            return fail(p, "invalid escape '\\%c' in string", e);
        }
    }
    p->pos++; /* closing quote */
    buf[n] = '\0';
    *out = buf;
    *out_len = n;
    return true;
}

static bool is_digit(char c) { return c >= '0' && c <= '9'; }

static bool parse_number(parser *p, cg_json *v) {
    size_t start = p->pos, i = p->pos;
    bool integral = true;
    if (i < p->len && p->s[i] == '-') i++;
    if (i >= p->len || !is_digit(p->s[i])) return fail(p, "invalid number");
    if (p->s[i] == '0') i++;
    else
        while (i < p->len && is_digit(p->s[i])) i++;
    if (i < p->len && p->s[i] == '.') {
        integral = false;
        i++;
        if (i >= p->len || !is_digit(p->s[i])) return fail(p, "invalid number (digit expected after '.')");
        while (i < p->len && is_digit(p->s[i])) i++;
    }
    if (i < p->len && (p->s[i] == 'e' || p->s[i] == 'E')) {
        integral = false;
        i++;
        if (i < p->len && (p->s[i] == '+' || p->s[i] == '-')) i++;
        if (i >= p->len || !is_digit(p->s[i])) return fail(p, "invalid number (digit expected in exponent)");
        while (i < p->len && is_digit(p->s[i])) i++;
    }
    char tmp[64];
    size_t n = i - start;
    if (n >= sizeof tmp) {
        /* Long numbers: only their double value is kept. */
        char *big = malloc(n + 1);
        if (!big) return fail(p, "out of memory");
        memcpy(big, p->s + start, n);
        big[n] = '\0';
        v->number = strtod(big, NULL);
        free(big);
        integral = false;
    } else {
        memcpy(tmp, p->s + start, n);
        tmp[n] = '\0';
        v->number = strtod(tmp, NULL);
        if (integral) {
            errno = 0;
            long long ll = strtoll(tmp, NULL, 10);
            if (errno == ERANGE) integral = false;
            else v->integer = (int64_t)ll;
        }
    }
    v->type = CG_JSON_NUMBER;
    v->is_int = integral;
    p->pos = i;
    return true;
}

static bool parse_value(parser *p, cg_json *v, int depth);

static bool grow(parser *p, cg_json *v, int *cap, bool with_keys) {
    if (v->n < *cap) return true;
    int nc = *cap ? *cap * 2 : 4;
    cg_json *items = realloc(v->items, (size_t)nc * sizeof *items);
    if (!items) return fail(p, "out of memory");
    v->items = items;
    if (with_keys) {
        char **keys = realloc(v->keys, (size_t)nc * sizeof *keys);
        if (!keys) return fail(p, "out of memory");
        v->keys = keys;
    }
    *cap = nc;
    return true;
}

static bool parse_array(parser *p, cg_json *v, int depth) {
    v->type = CG_JSON_ARRAY;
    p->pos++; /* [ */
    skip_ws(p);
    if (p->pos < p->len && p->s[p->pos] == ']') {
        p->pos++;
        return true;
    }
    int cap = 0;
    for (;;) {
        if (!grow(p, v, &cap, false)) return false;
        memset(&v->items[v->n], 0, sizeof v->items[0]);
        v->n++;
        if (!parse_value(p, &v->items[v->n - 1], depth + 1)) return false;
        skip_ws(p);
        if (p->pos >= p->len) return fail(p, "unterminated array");
        char c = p->s[p->pos++];
        if (c == ']') return true;
        if (c != ',') {
            p->pos--;
            return fail(p, "expected ',' or ']' in array");
        }
    }
}

typedef struct key_ref {
    const char *key;
    int index;
} key_ref;

static int compare_keys(const void *a, const void *b) {
    const key_ref *x = a, *y = b;
    int c = strcmp(x->key, y->key);
    return c ? c : (x->index > y->index) - (x->index < y->index);
}

/* Duplicate keys make an object ambiguous (which value wins differs between
 * readers), so they are refused.  Sorting the key indices finds them in
 * O(n log n) whatever the keys are; comparing each new key with all earlier
 * ones (what safetensors.c did) took minutes for 200,000 keys. */
static bool check_duplicates(parser *p, const cg_json *v) {
    if (v->n < 2) return true;
    if (v->n <= 8) {
        for (int i = 1; i < v->n; i++)
            for (int j = 0; j < i; j++)
                if (!strcmp(v->keys[i], v->keys[j]))
                    return fail(p, "key '%.200s' appears twice in the object ending", v->keys[i]);
        return true;
    }
    key_ref *order = malloc((size_t)v->n * sizeof *order);
    if (!order) return fail(p, "out of memory");
    for (int i = 0; i < v->n; i++) order[i] = (key_ref){v->keys[i], i};
    qsort(order, (size_t)v->n, sizeof *order, compare_keys);
    bool ok = true;
    for (int i = 1; ok && i < v->n; i++)
        if (!strcmp(order[i].key, order[i - 1].key))
            ok = fail(p, "key '%.200s' appears twice in the object ending", order[i].key);
    free(order);
    return ok;
}

static bool parse_object(parser *p, cg_json *v, int depth) {
    v->type = CG_JSON_OBJECT;
    p->pos++; /* { */
    skip_ws(p);
    if (p->pos < p->len && p->s[p->pos] == '}') {
        p->pos++;
        return true;
    }
    int cap = 0;
    for (;;) {
        skip_ws(p);
        if (p->pos >= p->len || p->s[p->pos] != '"') return fail(p, "expected a string key in object");
        if (!grow(p, v, &cap, true)) return false;
        char *key;
        size_t key_len;
        if (!parse_string(p, &key, &key_len)) return false;
        memset(&v->items[v->n], 0, sizeof v->items[0]);
        v->keys[v->n] = key;
        v->n++;
        skip_ws(p);
        if (p->pos >= p->len || p->s[p->pos] != ':') return fail(p, "expected ':' after object key");
        p->pos++;
        if (!parse_value(p, &v->items[v->n - 1], depth + 1)) return false;
        skip_ws(p);
        if (p->pos >= p->len) return fail(p, "unterminated object");
        char c = p->s[p->pos++];
        if (c == '}') return check_duplicates(p, v);
        if (c != ',') {
            p->pos--;
            return fail(p, "expected ',' or '}' in object");
        }
    }
}

static bool parse_value(parser *p, cg_json *v, int depth) {
    if (depth > CG_JSON_MAX_DEPTH) return fail(p, "nesting deeper than %d", CG_JSON_MAX_DEPTH);
    /* Each value costs a cg_json (~80 bytes) for as little as 2 input bytes:
     * the count is capped so a 100 MB header cannot take gigabytes. */
    if (++p->values > CG_JSON_MAX_VALUES) return fail(p, "more than %d values", CG_JSON_MAX_VALUES);
    skip_ws(p);
    if (p->pos >= p->len) return fail(p, "unexpected end of input");
    char c = p->s[p->pos];
    switch (c) {
    case '{': return parse_object(p, v, depth);
    case '[': return parse_array(p, v, depth);
    case '"':
        v->type = CG_JSON_STRING;
        return parse_string(p, &v->string, &v->length);
    case 't':
        v->type = CG_JSON_BOOL;
        v->boolean = true;
        return literal(p, "true");
    case 'f':
        v->type = CG_JSON_BOOL;
        return literal(p, "false");
    case 'n':
        v->type = CG_JSON_NULL;
        return literal(p, "null");
    default:
        if (c == '-' || is_digit(c)) return parse_number(p, v);
        return fail(p, "unexpected character '%c'", c);
    }
}

static void free_contents(cg_json *v) {
    free(v->string);
    for (int i = 0; i < v->n; i++) {
        free_contents(&v->items[i]);
        if (v->keys) free(v->keys[i]);
    }
    free(v->items);
    free(v->keys);
}

cg_json *cg_json_parse(const char *text, size_t len, char *err, size_t err_size) {
    parser p = {.s = text, .len = len, .err = err, .err_size = err_size};
    if (err && err_size) err[0] = '\0';
    cg_json *v = calloc(1, sizeof *v);
    if (!v) {
        fail(&p, "out of memory");
        return NULL;
    }
    bool ok = parse_value(&p, v, 0);
    if (ok) {
        skip_ws(&p);
        if (p.pos != p.len) ok = fail(&p, "unexpected data after the JSON value");
    }
    if (!ok) {
        cg_json_free(v);
        return NULL;
    }
    return v;
}

void cg_json_free(cg_json *v) {
    if (!v) return;
    free_contents(v);
    free(v);
}

const cg_json *cg_json_get(const cg_json *obj, const char *key) {
    if (!obj || obj->type != CG_JSON_OBJECT) return NULL;
    for (int i = 0; i < obj->n; i++)
        if (!strcmp(obj->keys[i], key)) return &obj->items[i];
    return NULL;
}

const char *cg_json_type_name(cg_json_type t) {
    static const char *const names[] = {"null", "bool", "number", "string", "array", "object"};
    return (unsigned)t < sizeof names / sizeof names[0] ? names[t] : "?";
}

/* ---- writing ------------------------------------------------------------ */

bool cg_strbuf_append(cg_strbuf *b, const char *s, size_t n) {
    if (b->len + n + 1 > b->cap) {
        size_t cap = b->cap ? b->cap : 256;
        while (cap < b->len + n + 1) cap *= 2;
        char *d = realloc(b->data, cap);
        if (!d) return false;
        b->data = d;
        b->cap = cap;
    }
    memcpy(b->data + b->len, s, n);
    b->len += n;
    b->data[b->len] = '\0';
    return true;
}

bool cg_strbuf_printf(cg_strbuf *b, const char *fmt, ...) {
    char small[256];
    va_list ap;
    va_start(ap, fmt);
    int k = vsnprintf(small, sizeof small, fmt, ap);
    va_end(ap);
    if (k < 0) return false;
    if ((size_t)k < sizeof small) return cg_strbuf_append(b, small, (size_t)k);
    char *big = malloc((size_t)k + 1);
    if (!big) return false;
    va_start(ap, fmt);
    vsnprintf(big, (size_t)k + 1, fmt, ap);
    va_end(ap);
    bool ok = cg_strbuf_append(b, big, (size_t)k);
    free(big);
    return ok;
}

bool cg_json_write_string(cg_strbuf *b, const char *s) {
    if (!cg_strbuf_append(b, "\"", 1)) return false;
    for (const unsigned char *c = (const unsigned char *)s; *c; c++) {
        char esc[8];
        const char *out = NULL;
        switch (*c) {
        case '"': out = "\\\""; break;
        case '\\': out = "\\\\"; break;
        case '\n': out = "\\n"; break;
        case '\r': out = "\\r"; break;
        case '\t': out = "\\t"; break;
        case '\b': out = "\\b"; break;
        case '\f': out = "\\f"; break;
        default:
            if (*c < 0x20) {
                snprintf(esc, sizeof esc, "\\u%04x", *c);
                out = esc;
            }
        }
        bool ok = out ? cg_strbuf_append(b, out, strlen(out)) : cg_strbuf_append(b, (const char *)c, 1);
        if (!ok) return false;
    }
    return cg_strbuf_append(b, "\"", 1);
}
