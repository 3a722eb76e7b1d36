/* Fuzz target: the CLI's numeric flag parser (src/cli/cli_number.c).
 *
 * Input: one control byte, then the flag's text (NUL-terminated here).
 *   bit 0      0: cli_parse_int64, 1: cli_parse_double
 *   bits 1-2   which range (the table below: the ranges the CLI's flags use,
 *              and the widest ones)
 *   bit 3      the message buffer: 256 bytes, or a tight 12 that must truncate
 * Properties:
 *   - success: the value is within the range (above min when min is exclusive),
 *     not NaN, and printing it ("%lld", "%.17g") and parsing that again gives
 *     the same value, also successfully;
 *   - failure: -1, and msg is a non-empty, NUL-terminated string inside its
 *     buffer (ASan catches a write past it: the buffer is exactly its size). */
#include "fuzz_support.h" /* first: it defines _GNU_SOURCE */

#include <float.h>
#include <inttypes.h>
#include <math.h>
#include <stdbool.h>

#include "cli/cli_number.h"

typedef struct int_range { int64_t min, max; } int_range;
typedef struct double_range { double min, max; bool min_exclusive; } double_range;
static const int_range int_ranges[4] = {
    {1, INT64_MAX}, {0, 1000}, {1, 1 << 20}, {INT64_MIN, INT64_MAX},
};
static const double_range double_ranges[4] = {
    {0.0, DBL_MAX, true},      /* --lr: any positive finite value */
    {-DBL_MAX, DBL_MAX, false}, /* any finite value */
    {0.0, 1.0, false},
    {1.0, 100.0, true},
};

static void check_message(int rc, const char *msg, size_t msg_size, const char *text) {
    FUZZ_CHECK(rc == -1, "returned %d for '%s'", rc, text);
    FUZZ_CHECK(memchr(msg, '\0', msg_size), "msg is not NUL-terminated for '%s'", text);
    FUZZ_CHECK(msg[0], "empty msg for '%s'", text);
}

int fuzz_run(const uint8_t *data, size_t size) {
    if (size < 1) return 0;
    uint8_t control = data[0];
    char *text = malloc(size); /* data[1..] and a NUL */
    FUZZ_CHECK(text, "out of memory");
    memcpy(text, data + 1, size - 1);
    text[size - 1] = '\0';
    size_t msg_size = control & 8 ? 12 : 256;
    char *msg = malloc(msg_size);
    FUZZ_CHECK(msg, "out of memory");
    memset(msg, 'x', msg_size); /* not terminated: the parser must terminate it */
    int accepted;

    if (!(control & 1)) {
        const int_range r = int_ranges[(control >> 1) & 3];
        int64_t v = 12345;
        int rc = cli_parse_int64("--n", text, r.min, r.max, &v, msg, msg_size);
        accepted = rc == 0;
        if (rc == 0) {
            FUZZ_CHECK(v >= r.min && v <= r.max, "'%s' gave %" PRId64 " outside [%" PRId64 ", %" PRId64 "]",
                       text, v, r.min, r.max);
            char printed[32];
            snprintf(printed, sizeof printed, "%" PRId64, v);
            int64_t again = 0;
            FUZZ_CHECK(cli_parse_int64("--n", printed, r.min, r.max, &again, msg, msg_size) == 0 && again == v,
                       "'%s' gave %" PRId64 ", but '%s' does not parse back to it", text, v, printed);
        } else {
            check_message(rc, msg, msg_size, text);
        }
    } else {
        const double_range r = double_ranges[(control >> 1) & 3];
        double v = 12345;
        int rc = cli_parse_double("--x", text, r.min, r.max, r.min_exclusive, &v, msg, msg_size);
        accepted = rc == 0;
        if (rc == 0) {
            FUZZ_CHECK(!isnan(v) && v <= r.max && (r.min_exclusive ? v > r.min : v >= r.min),
                       "'%s' gave %.17g outside %c%.17g, %.17g]", text, v, r.min_exclusive ? '(' : '[',
                       r.min, r.max);
            char printed[40];
            snprintf(printed, sizeof printed, "%.17g", v);
            double again = 0;
            FUZZ_CHECK(cli_parse_double("--x", printed, r.min, r.max, r.min_exclusive, &again, msg,
                                        msg_size) == 0 &&
                           again == v,
                       "'%s' gave %.17g, but '%s' does not parse back to it", text, v, printed);
        } else {
            check_message(rc, msg, msg_size, text);
        }
    }
    free(msg);
    free(text);
    return accepted;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    fuzz_run(data, size);
    return 0;
}
