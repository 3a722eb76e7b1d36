/* bench_json — parsing a hostile safetensors header: 200,000 metadata keys.
 *
 *   parse 200k-key header (json)         cg_json_parse of the header alone
 *   parse 200k-key header (safetensors)  cg_safetensors_parse of the whole file
 *                                        (JSON, duplicate-key check, metadata)
 *
 * The header is {"__metadata__":{"k000000":"v000000", ...}} with 200,000
 * keys (about 3.6 MB), built in memory; a first argument changes the count.
 * Issue 7 measured the quadratic parser at over 2 minutes for this; a linear
 * one takes tens of milliseconds.  Method: one run; if it took under 2 s,
 * repeat until 2 s have passed (at most 20 runs) and print the median.
 * Prints RESULT<TAB>op<TAB>ms lines, as the other benches (bench/run.sh). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "cgrad.h"
#include "../src/io/json.h" /* internal: the benches get only include/ */

static double now_ms(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec * 1e3 + (double)ts.tv_nsec / 1e6;
}

static int compare_doubles(const void *a, const void *b) {
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

/* The 8-byte length, then the JSON padded to a multiple of 8; no tensors. */
static unsigned char *make_file(long n_keys, size_t *size) {
    size_t cap = 64 + (size_t)n_keys * 32;
    unsigned char *buf = malloc(cap);
    if (!buf) return NULL;
    char *json = (char *)buf + 8;
    size_t len = (size_t)sprintf(json, "{\"__metadata__\":{");
    for (long i = 0; i < n_keys; i++)
        len += (size_t)sprintf(json + len, "%s\"k%06ld\":\"v%06ld\"", i ? "," : "", i, i);
    len += (size_t)sprintf(json + len, "}}");
    while (len % 8) json[len++] = ' ';
    for (int b = 0; b < 8; b++) buf[b] = (unsigned char)((unsigned long long)len >> (8 * b));
    *size = 8 + len;
    return buf;
}

typedef int (*bench_fn)(const unsigned char *file, size_t size);

static int parse_json(const unsigned char *file, size_t size) {
    char err[160];
    cg_json *v = cg_json_parse((const char *)file + 8, size - 8, err, sizeof err);
    if (!v) {
        fprintf(stderr, "bench_json: %s\n", err);
        return -1;
    }
    cg_json_free(v);
    return 0;
}

static int parse_safetensors(const unsigned char *file, size_t size) {
    cg_safetensors st;
    if (cg_safetensors_parse(file, size, "bench", &st) != CG_OK) {
        fprintf(stderr, "bench_json: %s\n", cg_last_error());
        return -1;
    }
    int ok = st.metadata.n > 0 ? 0 : -1;
    cg_safetensors_free(&st);
    return ok;
}

static int run(const char *op, bench_fn fn, const unsigned char *file, size_t size) {
    double times[20];
    int n = 0;
    double start = now_ms();
    do {
        double t0 = now_ms();
        if (fn(file, size) != 0) return -1;
        times[n++] = now_ms() - t0;
    } while (n < 20 && now_ms() - start < 2000.0);
    qsort(times, (size_t)n, sizeof times[0], compare_doubles);
    printf("RESULT\t%s\t%.3f\n", op, times[n / 2]);
    fflush(stdout);
    return 0;
}

int main(int argc, char **argv) {
    long n_keys = argc > 1 ? strtol(argv[1], NULL, 10) : 200000;
    if (n_keys <= 0 || n_keys > 10000000) {
        fprintf(stderr, "usage: bench_json [KEYS]   (1 to 10000000, default 200000)\n");
        return 2;
    }
    size_t size;
    unsigned char *file = make_file(n_keys, &size);
    if (!file) return 1;
    printf("NOTE\theader of %ld metadata keys, %zu bytes\n", n_keys, size);
    char a[96], b[96];
    snprintf(a, sizeof a, "parse %ldk-key header (json)", n_keys / 1000);
    snprintf(b, sizeof b, "parse %ldk-key header (safetensors)", n_keys / 1000);
    int rc = run(a, parse_json, file, size) || run(b, parse_safetensors, file, size);
    free(file);
    return rc ? 1 : 0;
}
