/* Escaping file-derived text for the terminal (see cli_escape.h). */
#include "cli/cli_escape.h"

#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* The length of the valid UTF-8 sequence at s (2..4), or 0 when it is not one
 * (a stray continuation byte, an overlong form, a surrogate, past U+10FFFF,
 * or cut short).  ASCII is handled by the caller. */
static size_t utf8_len(const unsigned char *s) {
    unsigned c = s[0];
    size_t len;
    uint32_t cp;
    if (c >= 0xC2 && c <= 0xDF) len = 2, cp = c & 0x1F;
    else if (c >= 0xE0 && c <= 0xEF) len = 3, cp = c & 0x0F;
    else if (c >= 0xF0 && c <= 0xF4) len = 4, cp = c & 0x07;
    else return 0;
    for (size_t i = 1; i < len; i++) {
        if ((s[i] & 0xC0) != 0x80) return 0; /* also stops at the NUL */
        cp = cp << 6 | (s[i] & 0x3F);
    }
    if ((len == 3 && cp < 0x800) || (len == 4 && (cp < 0x10000 || cp > 0x10FFFF))) return 0;
    if (cp >= 0xD800 && cp <= 0xDFFF) return 0;
    if (cp >= 0x80 && cp <= 0x9F) return 0; /* C1 controls: 0x9B is a CSI on some terminals */
    return len;
}

size_t cli_escape(const char *in, char *out, size_t n) {
    const unsigned char *s = (const unsigned char *)(in ? in : "(null)");
    size_t total = 0;
    bool room = n > 0;
    while (*s) {
        char piece[8];
        size_t len, used; /* bytes written, bytes of in consumed */
        if (*s >= 0x20 && *s < 0x7F) {
            piece[0] = (char)*s, len = used = 1;
        } else if (*s >= 0x80 && (used = utf8_len(s)) > 0) {
            memcpy(piece, s, used), len = used;
        } else {
            snprintf(piece, sizeof piece, "\\x%02X", *s);
            len = 4, used = 1;
        }
        s += used;
        if (room && total + len < n) {
            memcpy(out + total, piece, len);
        } else if (room) {
            out[total] = '\0'; /* no half characters: stop at the last whole one */
            room = false;
        }
        total += len;
    }
    if (room) out[total] = '\0';
    return total;
}

const char *cli_esc(const char *s) {
    /* held until exit (reachable, so LeakSanitizer does not count them) */
    static char *bufs[8];
    static size_t caps[8];
    static int next;
    int k = next;
    next = (next + 1) % 8;
    size_t need = cli_escape(s, NULL, 0) + 1;
    if (need > caps[k]) {
        char *grown = realloc(bufs[k], need);
        if (!grown) return "(out of memory)";
        bufs[k] = grown;
        caps[k] = need;
    }
    cli_escape(s, bufs[k], caps[k]);
    return bufs[k];
}
