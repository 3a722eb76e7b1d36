/* The CLI's one parser for numeric flags (see cli_number.h).
 *
 * strtoll/strtod do the conversion; around them we check what they let
 * through: leading blanks (both skip them), a trailing remainder (end), an
 * empty string (end == text), overflow (errno == ERANGE), and for reals the
 * spellings strtod accepts that are not plain decimals (inf, nan, 0x1p3). */
#include "cli/cli_number.h"

#include <errno.h>
#include <float.h>
#include <inttypes.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* The value as the message shows it: at most 40 bytes, quoted, and anything
 * outside printable ASCII as \xNN, so a flag's value cannot drive a terminal. */
static void quote(const char *text, char *out, size_t size) {
    size_t o = 0, i = 0;
    if (size < 8) {
        if (size) out[0] = '\0';
        return;
    }
    out[o++] = '\'';
    for (; text[i] && i < 40 && o + 6 < size; i++) {
        unsigned char c = (unsigned char)text[i];
        if (c >= 0x20 && c < 0x7f) out[o++] = (char)c;
        else o += (size_t)snprintf(out + o, size - o, "\\x%02X", c);
    }
    if (text[i] && o + 4 < size) out[o++] = '.', out[o++] = '.', out[o++] = '.';
    out[o++] = '\'';
    out[o] = '\0';
}

void cli_int_range_str(int64_t min, int64_t max, char *out, size_t size) {
    if (max == INT64_MAX) snprintf(out, size, ">= %" PRId64, min);
    else snprintf(out, size, "%" PRId64 "..%" PRId64, min, max);
}

void cli_double_range_str(double min, double max, bool min_exclusive, char *out, size_t size) {
    if (!(max < DBL_MAX)) snprintf(out, size, "%s %g", min_exclusive ? ">" : ">=", min);
    else if (min_exclusive) snprintf(out, size, "> %g and <= %g", min, max);
    else snprintf(out, size, "%g..%g", min, max);
}

static int fail(char *msg, size_t msg_size, const char *flag, const char *text, const char *what,
                const char *range) {
    char q[64];
    quote(text ? text : "", q, sizeof q);
    if (msg && msg_size) snprintf(msg, msg_size, "%s: %s %s; expected %s", flag, q, what, range);
    return -1;
}

int cli_parse_int64(const char *flag, const char *text, int64_t min, int64_t max, int64_t *out, char *msg,
                    size_t msg_size) {
    char range[64];
    cli_int_range_str(min, max, range, sizeof range);
    if (!flag) flag = "value";
    if (!text) {
        if (msg && msg_size) snprintf(msg, msg_size, "%s needs a value (an integer, %s)", flag, range);
        return -1;
    }
    /* an optional sign, then at least one decimal digit: strtoll alone would
     * also take leading blanks */
    const char *p = text + (text[0] == '+' || text[0] == '-');
    if (*p < '0' || *p > '9') return fail(msg, msg_size, flag, text, "is not an integer", range);
    char *end;
    errno = 0;
    long long v = strtoll(text, &end, 10);
    if (*end) return fail(msg, msg_size, flag, text, "is not an integer", range);
    if (errno == ERANGE || v < min || v > max) return fail(msg, msg_size, flag, text, "is out of range", range);
    if (out) *out = (int64_t)v;
    return 0;
}

int cli_parse_double(const char *flag, const char *text, double min, double max, bool min_exclusive,
                     double *out, char *msg, size_t msg_size) {
    char range[96];
    cli_double_range_str(min, max, min_exclusive, range, sizeof range);
    if (!flag) flag = "value";
    if (!text) {
        if (msg && msg_size) snprintf(msg, msg_size, "%s needs a value (a number, %s)", flag, range);
        return -1;
    }
    /* [+-] digits [. digits] [e [+-] digits], with a digit before the exponent:
     * checked here, since strtod also reads " 1", "inf", "nan" and "0x1p3" */
    const char *p = text + (text[0] == '+' || text[0] == '-');
    size_t digits = strspn(p, "0123456789");
    p += digits;
    if (*p == '.') {
        size_t frac = strspn(p + 1, "0123456789");
        digits += frac;
        p += 1 + frac;
    }
    if (digits && (*p == 'e' || *p == 'E')) {
        const char *q = p + 1 + (p[1] == '+' || p[1] == '-');
        size_t exp_digits = strspn(q, "0123456789");
        if (exp_digits) p = q + exp_digits;
    }
    if (!digits || *p) return fail(msg, msg_size, flag, text, "is not a finite decimal number", range);
    char *end;
    errno = 0;
    double v = strtod(text, &end);
    if (*end) return fail(msg, msg_size, flag, text, "is not a finite decimal number", range);
    /* ERANGE on overflow (+-HUGE_VAL) is an error; on underflow the result is
     * 0 or a denormal, which the range check below judges like any value */
    if ((errno == ERANGE && fabs(v) > 1.0) || !isfinite(v))
        return fail(msg, msg_size, flag, text, "is out of range", range);
    if (v == 0) v = 0.0; /* -0 -> +0 */
    if (min_exclusive ? !(v > min) : !(v >= min)) return fail(msg, msg_size, flag, text, "is out of range", range);
    if (v > max) return fail(msg, msg_size, flag, text, "is out of range", range);
    if (out) *out = v;
    return 0;
}
