/* Moving a dataset's bytes into the cache: libcurl downloads (http, https,
 * file) with timeouts, retries and backoff, and plain copies from a local
 * mirror.  Either way the bytes stream through an atomic file (fileio.h) and
 * through md5 + sha256 on the fly, so a file is hashed once, while it arrives,
 * and a failed or cancelled transfer leaves nothing under the final name. */
#include "data/fetch_internal.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <curl/curl.h>

#include "cgrad/fileio.h"

/* ---- progress ------------------------------------------------------------ */

double cg_fetch_now_s(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}

cg_status cg_fetch_report(cg_fetch_ctx *ctx, cg_get_stage stage, const char *item,
                          uint64_t done, uint64_t total) {
    if (!ctx->opt->progress) return CG_OK;
    /* libcurl calls back many times with the same counts (it also polls while
     * waiting); the caller hears of each change once. */
    if (stage == ctx->last_stage && done == ctx->last_done && total == ctx->last_total && item == ctx->last_item)
        return CG_OK;
    double now = cg_fetch_now_s();
    bool edge = done == 0 || done == total || stage != ctx->last_stage || item != ctx->last_item;
    if (!edge && now - ctx->last_report_s < 0.05) return CG_OK;
    ctx->last_report_s = now;
    ctx->last_stage = stage;
    ctx->last_done = done;
    ctx->last_total = total;
    ctx->last_item = item;
    cg_get_progress p = {.dataset = ctx->dataset, .stage = stage, .item = item,
                         .done = done, .total = total, .attempt = ctx->attempt};
    if (ctx->opt->progress(&p, ctx->opt->progress_user) != 0)
        return cg_fail(CG_ERR_CANCELLED, "%s: cancelled by the progress callback while %s %s",
                       ctx->dataset, stage == CG_GET_DOWNLOAD ? "downloading"
                                     : stage == CG_GET_COPY   ? "copying"
                                     : stage == CG_GET_EXTRACT ? "extracting"
                                                               : "verifying",
                       item ? item : "");
    return CG_OK;
}

cg_status cg_fetch_report_message(cg_fetch_ctx *ctx, cg_get_stage stage, const char *item, const char *message) {
    if (!ctx->opt->progress) return CG_OK;
    cg_get_progress p = {.dataset = ctx->dataset, .stage = stage, .item = item,
                         .attempt = ctx->attempt, .message = message};
    if (ctx->opt->progress(&p, ctx->opt->progress_user) != 0)
        return cg_fail(CG_ERR_CANCELLED, "%s: cancelled by the progress callback %s %s", ctx->dataset,
                       stage == CG_GET_RETRY   ? "before retrying"
                       : stage == CG_GET_CLEAN ? "while removing leftovers:"
                                               : "before getting it again:",
                       item ? item : "");
    return CG_OK;
}

cg_status cg_fetch_report_retry(cg_fetch_ctx *ctx, const char *item, const char *message) {
    return cg_fetch_report_message(ctx, CG_GET_RETRY, item, message);
}

/* ---- the sink both paths write through ------------------------------------ */

typedef struct sink {
    cg_fetch_ctx *ctx;
    const char *item;      /* basename, for progress */
    cg_atomic_file *file;
    cg_digest *md5, *sha256;
    uint64_t bytes;
    cg_status status;      /* first failure inside a curl callback */
} sink;

static cg_status sink_open(sink *s, cg_fetch_ctx *ctx, const char *item, const char *dest) {
    memset(s, 0, sizeof *s);
    s->ctx = ctx;
    s->item = item;
    if (!(s->file = cg_atomic_open(dest))) return cg_last_status();
    s->md5 = cg_digest_new("md5");
    s->sha256 = cg_digest_new("sha256");
    if (!s->md5 || !s->sha256) {
        cg_digest_free(s->md5);
        cg_digest_free(s->sha256);
        cg_atomic_abort(s->file);
        return cg_last_status();
    }
    return CG_OK;
}

static cg_status sink_put(sink *s, const void *data, size_t len) {
    cg_status st = cg_atomic_write(s->file, data, len);
    if (st != CG_OK) return st;
    cg_digest_update(s->md5, data, len);
    cg_digest_update(s->sha256, data, len);
    s->bytes += len;
    return CG_OK;
}

static void sink_abort(sink *s) {
    cg_digest_free(s->md5);
    cg_digest_free(s->sha256);
    cg_atomic_abort(s->file);
}

static cg_status sink_commit(sink *s, cg_fetched *out) {
    cg_fetched result = {.bytes = s->bytes};
    cg_status st = cg_digest_finish(s->md5, result.md5, sizeof result.md5);
    cg_status st2 = cg_digest_finish(s->sha256, result.sha256, sizeof result.sha256);
    if (st != CG_OK || st2 != CG_OK) {
        cg_atomic_abort(s->file);
        return cg_last_status();
    }
    if ((st = cg_atomic_commit(s->file)) != CG_OK) return st;
    if (out) *out = result;
    return CG_OK;
}

static const char *base_name(const char *path) {
    const char *slash = strrchr(path, '/');
    return slash ? slash + 1 : path;
}

/* ---- local copies ---------------------------------------------------------- */

cg_status cg_fetch_copy_file(cg_fetch_ctx *ctx, const char *src, const char *dest, cg_fetched *out) {
    /* The readers' shared open: a FIFO or a device as the source is refused, not waited on. */
    int fd;
    if (cg_open_regular(src, NULL, &fd, NULL) != CG_OK) return cg_last_status();
    FILE *fp = fdopen(fd, "rb");
    if (!fp) {
        close(fd);
        return cg_fail(CG_ERR_IO, "%s: cannot open: %s", src, strerror(errno));
    }
    sink s;
    cg_status st = sink_open(&s, ctx, base_name(src), dest);
    if (st != CG_OK) {
        fclose(fp);
        return st;
    }
    unsigned char *buf = malloc(1 << 16);
    if (!buf) st = cg_fail(CG_ERR_NOMEM, "%s: out of memory", src);
    size_t got;
    while (st == CG_OK && (got = fread(buf, 1, 1 << 16, fp)) > 0) st = sink_put(&s, buf, got);
    if (st == CG_OK && ferror(fp))
        st = cg_fail(CG_ERR_IO, "%s: read failed after %llu bytes", src, (unsigned long long)s.bytes);
    free(buf);
    fclose(fp);
    if (st != CG_OK) {
        sink_abort(&s);
        return st;
    }
    return sink_commit(&s, out);
}

/* A plain copy, no fsync: for the thousands of files of a folder mirror,
 * which are made durable together (syncfs) before the dataset is published. */
static cg_status copy_plain(const char *src, const char *dest, unsigned char *buf, size_t cap) {
    int in;
    if (cg_open_regular(src, NULL, &in, NULL) != CG_OK) return cg_last_status();
    int out = open(dest, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0666);
    if (out < 0) {
        close(in);
        return cg_fail(CG_ERR_IO, "%s: cannot create: %s", dest, strerror(errno));
    }
    cg_status st = CG_OK;
    for (;;) {
        ssize_t got = read(in, buf, cap);
        if (got < 0 && errno == EINTR) continue;
        if (got < 0) {
            st = cg_fail(CG_ERR_IO, "%s: read failed: %s", src, strerror(errno));
            break;
        }
        if (got == 0) break;
        for (ssize_t off = 0; off < got;) {
            ssize_t put = write(out, buf + off, (size_t)(got - off));
            if (put < 0 && errno == EINTR) continue;
            if (put < 0) {
                st = cg_fail(CG_ERR_IO, "%s: write failed: %s", dest, strerror(errno));
                break;
            }
            off += put;
        }
        if (st != CG_OK) break;
    }
    close(in);
    if (close(out) != 0 && st == CG_OK) st = cg_fail(CG_ERR_IO, "%s: close failed: %s", dest, strerror(errno));
    return st;
}

/* Counts the regular files below dir (symlinks to files count: a mirror may be a farm of links). */
static cg_status count_files(const char *dir, uint64_t *count) {
    DIR *d = opendir(dir);
    if (!d) return cg_fail(CG_ERR_IO, "%s: cannot open folder: %s", dir, strerror(errno));
    cg_status st = CG_OK;
    struct dirent *e;
    char path[4096];
    while (st == CG_OK && (e = readdir(d))) {
        if (e->d_name[0] == '.' && (!e->d_name[1] || (e->d_name[1] == '.' && !e->d_name[2]))) continue;
        if (snprintf(path, sizeof path, "%s/%s", dir, e->d_name) >= (int)sizeof path) {
            st = cg_fail(CG_ERR_VALUE, "%s/%s: path too long", dir, e->d_name);
            break;
        }
        struct stat sb;
        if (stat(path, &sb) != 0) st = cg_fail(CG_ERR_IO, "%s: cannot stat: %s", path, strerror(errno));
        else if (S_ISDIR(sb.st_mode)) st = count_files(path, count);
        else if (S_ISREG(sb.st_mode)) (*count)++;
    }
    closedir(d);
    return st;
}

typedef struct tree_copy {
    cg_fetch_ctx *ctx;
    uint64_t done, total;
    unsigned char *buf;
    size_t cap;
    size_t src_root_len;
} tree_copy;

static cg_status copy_tree_rec(tree_copy *tc, const char *src, const char *dest) {
    if (mkdir(dest, 0777) != 0 && errno != EEXIST)
        return cg_fail(CG_ERR_IO, "%s: cannot create folder: %s", dest, strerror(errno));
    DIR *d = opendir(src);
    if (!d) return cg_fail(CG_ERR_IO, "%s: cannot open folder: %s", src, strerror(errno));
    cg_status st = CG_OK;
    struct dirent *e;
    char from[4096], to[4096];
    while (st == CG_OK && (e = readdir(d))) {
        if (e->d_name[0] == '.' && (!e->d_name[1] || (e->d_name[1] == '.' && !e->d_name[2]))) continue;
        if (snprintf(from, sizeof from, "%s/%s", src, e->d_name) >= (int)sizeof from ||
            snprintf(to, sizeof to, "%s/%s", dest, e->d_name) >= (int)sizeof to) {
            st = cg_fail(CG_ERR_VALUE, "%s/%s: path too long", src, e->d_name);
            break;
        }
        struct stat sb;
        if (stat(from, &sb) != 0) {
            st = cg_fail(CG_ERR_IO, "%s: cannot stat: %s", from, strerror(errno));
        } else if (S_ISDIR(sb.st_mode)) {
            st = copy_tree_rec(tc, from, to);
        } else if (S_ISREG(sb.st_mode)) {
            st = copy_plain(from, to, tc->buf, tc->cap);
            if (st == CG_OK)
                st = cg_fetch_report(tc->ctx, CG_GET_COPY, from + tc->src_root_len, ++tc->done, tc->total);
        }
        /* Sockets, fifos, dangling links: not data; skipped. */
    }
    closedir(d);
    return st;
}

cg_status cg_fetch_copy_tree(cg_fetch_ctx *ctx, const char *src_dir, const char *dest_dir) {
    tree_copy tc = {.ctx = ctx, .cap = 1 << 16, .src_root_len = strlen(src_dir) + 1};
    cg_status st = count_files(src_dir, &tc.total);
    if (st != CG_OK) return st;
    if (!(tc.buf = malloc(tc.cap))) return cg_fail(CG_ERR_NOMEM, "%s: out of memory", src_dir);
    st = cg_fetch_report(ctx, CG_GET_COPY, NULL, 0, tc.total);
    if (st == CG_OK) st = copy_tree_rec(&tc, src_dir, dest_dir);
    free(tc.buf);
    return st;
}

/* ---- downloads --------------------------------------------------------------- */

static pthread_once_t curl_once = PTHREAD_ONCE_INIT;
static CURLcode curl_init_result;
/* libcurl's global state lives for the whole process: curl_global_cleanup is
 * not safe to call while another thread may use curl, so it is never called. */
static void curl_init(void) { curl_init_result = curl_global_init(CURL_GLOBAL_DEFAULT); }

static size_t on_body(char *data, size_t size, size_t nmemb, void *user) {
    sink *s = user;
    size_t len = size * nmemb;
    if (sink_put(s, data, len) != CG_OK) {
        s->status = cg_last_status();
        return 0; /* tells curl to stop: CURLE_WRITE_ERROR */
    }
    return len;
}

static int on_progress(void *user, curl_off_t dltotal, curl_off_t dlnow, curl_off_t ultotal, curl_off_t ulnow) {
    (void)ultotal, (void)ulnow;
    sink *s = user;
    if (cg_fetch_report(s->ctx, CG_GET_DOWNLOAD, s->item, (uint64_t)dlnow, (uint64_t)dltotal) != CG_OK) {
        s->status = CG_ERR_CANCELLED;
        return 1; /* CURLE_ABORTED_BY_CALLBACK */
    }
    return 0;
}

/* Transient failures worth another try; everything else (404, a missing
 * file:// path, a bad URL, a full disk) would fail the same way again. */
static bool is_transient(CURLcode rc, long http_code) {
    switch (rc) {
    case CURLE_COULDNT_RESOLVE_HOST: case CURLE_COULDNT_RESOLVE_PROXY:
    case CURLE_COULDNT_CONNECT: case CURLE_OPERATION_TIMEDOUT:
    case CURLE_RECV_ERROR: case CURLE_SEND_ERROR: case CURLE_PARTIAL_FILE:
    case CURLE_GOT_NOTHING: case CURLE_SSL_CONNECT_ERROR: case CURLE_HTTP2:
    case CURLE_HTTP2_STREAM:
        return true;
    case CURLE_HTTP_RETURNED_ERROR:
        return http_code >= 500 || http_code == 408 || http_code == 429;
    default:
        return false;
    }
}

/* One attempt.  *transient tells the caller whether retrying may help. */
static cg_status fetch_once(cg_fetch_ctx *ctx, const char *url, const char *dest, cg_fetched *out,
                            bool *transient) {
    *transient = false;
    sink s;
    cg_status st = sink_open(&s, ctx, base_name(url), dest);
    if (st != CG_OK) return st;
    CURL *curl = curl_easy_init();
    if (!curl) {
        sink_abort(&s);
        return cg_fail(CG_ERR_NOMEM, "%s: cannot start libcurl", url);
    }
    const cg_get_options *o = ctx->opt;
    char errbuf[CURL_ERROR_SIZE] = "";
    curl_easy_setopt(curl, CURLOPT_URL, url);
    curl_easy_setopt(curl, CURLOPT_ERRORBUFFER, errbuf);
#if LIBCURL_VERSION_NUM >= 0x075500
    curl_easy_setopt(curl, CURLOPT_PROTOCOLS_STR, "http,https,file");
    curl_easy_setopt(curl, CURLOPT_REDIR_PROTOCOLS_STR, "http,https");
#else
    curl_easy_setopt(curl, CURLOPT_PROTOCOLS, (long)(CURLPROTO_HTTP | CURLPROTO_HTTPS | CURLPROTO_FILE));
    curl_easy_setopt(curl, CURLOPT_REDIR_PROTOCOLS, (long)(CURLPROTO_HTTP | CURLPROTO_HTTPS));
#endif
    curl_easy_setopt(curl, CURLOPT_FOLLOWLOCATION, 1L);
    curl_easy_setopt(curl, CURLOPT_MAXREDIRS, 10L);
    curl_easy_setopt(curl, CURLOPT_FAILONERROR, 1L);
    curl_easy_setopt(curl, CURLOPT_NOSIGNAL, 1L); /* no SIGALRM: we may be one thread of many */
    curl_easy_setopt(curl, CURLOPT_USERAGENT, "cgrad/0.1 (libcurl)");
    curl_easy_setopt(curl, CURLOPT_CONNECTTIMEOUT, o->connect_timeout_s);
    /* A stall, not a total, timeout: a 100 MB archive on a slow link is fine
     * as long as bytes keep coming. */
    curl_easy_setopt(curl, CURLOPT_LOW_SPEED_LIMIT, 1024L);
    curl_easy_setopt(curl, CURLOPT_LOW_SPEED_TIME, o->stall_timeout_s);
    curl_easy_setopt(curl, CURLOPT_WRITEFUNCTION, on_body);
    curl_easy_setopt(curl, CURLOPT_WRITEDATA, &s);
    curl_easy_setopt(curl, CURLOPT_XFERINFOFUNCTION, on_progress);
    curl_easy_setopt(curl, CURLOPT_XFERINFODATA, &s);
    curl_easy_setopt(curl, CURLOPT_NOPROGRESS, 0L);

    CURLcode rc = curl_easy_perform(curl);
    long http_code = 0;
    curl_easy_getinfo(curl, CURLINFO_RESPONSE_CODE, &http_code);
    curl_easy_cleanup(curl);

    if (rc == CURLE_OK) {
        cg_fetch_report(ctx, CG_GET_DOWNLOAD, s.item, s.bytes, s.bytes); /* the final 100% */
        return sink_commit(&s, out);
    }
    sink_abort(&s);
    if (rc == CURLE_ABORTED_BY_CALLBACK || s.status == CG_ERR_CANCELLED)
        return CG_ERR_CANCELLED; /* the message is already set */
    if (rc == CURLE_WRITE_ERROR && s.status != CG_OK) return s.status;
    *transient = is_transient(rc, http_code);
    bool is_file = !strncmp(url, "file:", 5);
    if (rc == CURLE_HTTP_RETURNED_ERROR)
        return cg_fail(CG_ERR_NETWORK, "%s: HTTP %ld", url, http_code);
    return cg_fail(is_file ? CG_ERR_IO : CG_ERR_NETWORK, "%s: %s (after %llu bytes)", url,
                   errbuf[0] ? errbuf : curl_easy_strerror(rc), (unsigned long long)s.bytes);
}

static void sleep_ms(long ms) {
    struct timespec ts = {.tv_sec = ms / 1000, .tv_nsec = (ms % 1000) * 1000000L};
    while (nanosleep(&ts, &ts) != 0 && errno == EINTR) {
    }
}

cg_status cg_fetch_url(cg_fetch_ctx *ctx, const char *url, const char *dest, cg_fetched *out) {
    pthread_once(&curl_once, curl_init);
    if (curl_init_result != CURLE_OK)
        return cg_fail(CG_ERR_NETWORK, "libcurl failed to initialise: %s", curl_easy_strerror(curl_init_result));
    long delay_ms = ctx->opt->retry_delay_ms;
    cg_status st = CG_OK;
    for (int attempt = 1; attempt <= ctx->opt->max_tries; attempt++) {
        ctx->attempt = attempt;
        bool transient = false;
        st = fetch_once(ctx, url, dest, out, &transient);
        if (st == CG_OK || !transient) break;
        if (attempt == ctx->opt->max_tries) {
            char last[768];
            snprintf(last, sizeof last, "%s", cg_last_error());
            return cg_fail(st, "%s (gave up after %d tries)", last, attempt);
        }
        char why[900];
        snprintf(why, sizeof why, "try %d of %d failed (%s); next in %.1f s", attempt,
                 ctx->opt->max_tries, cg_last_error(), (double)delay_ms / 1000.0);
        if (cg_fetch_report_retry(ctx, base_name(url), why) != CG_OK) return CG_ERR_CANCELLED;
        sleep_ms(delay_ms);
        delay_ms *= 2;
    }
    ctx->attempt = 0;
    return st;
}
