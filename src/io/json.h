/* io/json.h — a small, strict JSON reader and a string escaper (internal).
 *
 * Enough JSON for safetensors headers: RFC 8259 syntax (objects, arrays,
 * strings with every escape including \uXXXX surrogate pairs, numbers, true,
 * false, null), nesting limited to CG_JSON_MAX_DEPTH, at most CG_JSON_MAX_VALUES
 * values, no key twice in one object, nothing after the value but whitespace.
 * Linear time in the input's size (duplicate keys are found by sorting, so
 * O(n log n) in an object's key count).  Errors name the byte offset:
 * "expected ':' at byte 17". */
#ifndef CGRAD_IO_JSON_H
#define CGRAD_IO_JSON_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define CG_JSON_MAX_DEPTH 64
/* At most this many values in one document (objects, arrays, strings, numbers,
 * literals all count): 4M, about 320 MB of parsed values at worst. */
#define CG_JSON_MAX_VALUES (1 << 22)

typedef enum cg_json_type {
    CG_JSON_NULL,
    CG_JSON_BOOL,
    CG_JSON_NUMBER,
    CG_JSON_STRING,
    CG_JSON_ARRAY,
    CG_JSON_OBJECT
} cg_json_type;

typedef struct cg_json cg_json;
struct cg_json {
    cg_json_type type;
    bool boolean;
    double number;
    bool is_int;      /* a number written as an integer that fits int64 */
    int64_t integer;
    char *string;     /* STRING: NUL-terminated UTF-8 (may hold '\0' from \u0000: see length) */
    size_t length;    /* STRING: bytes, without the terminator */
    int n;            /* ARRAY / OBJECT: entries */
    char **keys;      /* OBJECT: the key of each entry, in file order */
    cg_json *items;   /* ARRAY / OBJECT: the values */
};

/* Parses text[0..len).  NULL on error, with the reason (and byte offset) in err. */
cg_json *cg_json_parse(const char *text, size_t len, char *err, size_t err_size);
void cg_json_free(cg_json *v);
/* The value of key in an object (the first one), or NULL. */
const cg_json *cg_json_get(const cg_json *obj, const char *key);
const char *cg_json_type_name(cg_json_type t);

/* Writes s as a JSON string literal (with quotes) into a growing buffer.
 * Returns false when out of memory. */
typedef struct cg_strbuf {
    char *data;
    size_t len, cap;
} cg_strbuf;
bool cg_strbuf_append(cg_strbuf *b, const char *s, size_t n);
bool cg_strbuf_printf(cg_strbuf *b, const char *fmt, ...)
#if defined(__GNUC__)
    __attribute__((format(printf, 2, 3)))
#endif
    ;
bool cg_json_write_string(cg_strbuf *b, const char *s);

#endif
