/* cli_json.h: one JSON string from arbitrary bytes. */
#include "cli/cli_json.h"

#include <stddef.h>

/* The length of the valid UTF-8 sequence at s (1..4), or 0 if it is not one
 * (overlong forms, surrogates and code points past U+10FFFF are not). */
static int utf8_len(const unsigned char *s) {
    unsigned c = s[0];
    int n = c >= 0xF0 && c <= 0xF4 ? 4 : c >= 0xE0 ? 3 : c >= 0xC2 && c <= 0xDF ? 2 : 0;
    if (c >= 0xF8) n = 0;
    if (!n) return 0;
    for (int i = 1; i < n; i++)
        if ((s[i] & 0xC0) != 0x80) return 0;
    if (n == 3 && ((c == 0xE0 && s[1] < 0xA0) || (c == 0xED && s[1] >= 0xA0))) return 0;
    if (n == 4 && ((c == 0xF0 && s[1] < 0x90) || (c == 0xF4 && s[1] >= 0x90))) return 0;
    return n;
}

void cli_json_string(FILE *f, const char *s) {
    if (!s) {
        fputs("null", f);
        return;
    }
    fputc('"', f);
    for (const unsigned char *p = (const unsigned char *)s; *p;) {
        unsigned c = *p;
        if (c == '"' || c == '\\') fprintf(f, "\\%c", c), p++;
        else if (c == '\n') fputs("\\n", f), p++;
        else if (c == '\t') fputs("\\t", f), p++;
        else if (c == '\r') fputs("\\r", f), p++;
        else if (c < 0x20 || c == 0x7F) fprintf(f, "\\u%04x", c), p++;
        else if (c < 0x80) fputc((int)c, f), p++;
        else {
            int n = utf8_len(p);
            if (n) fwrite(p, 1, (size_t)n, f), p += n;
            else fputs("\\ufffd", f), p++;
        }
    }
    fputc('"', f);
}
