/* What is in the cache: the completion marker each finished dataset carries,
 * the list of its files (the manifest) that every get checks the folder
 * against, and `cgrad data list` built on the markers.  Both are small text
 * files a person can read:
 *
 *   <dataset>/.cgrad-complete, the marker (written last, atomically):
 *     cgrad-dataset 2
 *     name=mnist_sample
 *     origin=registry              (or the archive URL of an ad-hoc dataset)
 *     source=/work/shared/data/mnist_sample
 *     sha256=                      (of the archive it came from, if any)
 *     files=14435
 *     bytes=3823497
 *     manifest=<sha256 of .cgrad-manifest>
 *     check=<sha256 of every byte of the marker above this line>
 *
 *   <dataset>/.cgrad-manifest, one line per regular file, sorted by path
 *   (byte order); a '\' or a newline in a name is written "\\" or "\n":
 *     cgrad-manifest 1
 *     57344 labels.csv
 *     245 train/3/10.png
 *     ...
 *
 * The check line makes a marker that was cut short or edited count as
 * damaged, i.e. not cached; the manifest's digest in the marker does the same
 * for the manifest.  A get compares every listed file's size with what is on
 * disk (one fstatat each): that finds deleted, truncated and replaced files,
 * not a same-sized edit inside one (hashing every file on every get would
 * read the whole dataset each time).  Files added beside them are ignored:
 * they are not the dataset's, and a check that failed on them would make the
 * re-get throw them away. */
#include "data/fetch_internal.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "cgrad/fileio.h"

#define PATH_CAP 4096
/* A marker is a few hundred bytes; a manifest ~25 bytes a file (mnist_png's
 * 70000 files: 1.8 MB).  Anything far beyond is not ours. */
#define MARKER_CAP (64u << 10)
#define MANIFEST_CAP (512u << 20)

/* ---- the listing of a dataset's files ------------------------------------------ */

typedef struct listed_file {
    char *path; /* relative to the dataset root: "train/3/10.png" */
    uint64_t size;
} listed_file;

typedef struct listing {
    listed_file *items;
    size_t n, cap;
} listing;

static void listing_free(listing *l) {
    for (size_t i = 0; i < l->n; i++) free(l->items[i].path);
    free(l->items);
    *l = (listing){0};
}

static cg_status listing_add(listing *l, const char *path, uint64_t size) {
    if (l->n == l->cap) {
        size_t cap = l->cap ? 2 * l->cap : 1024;
        listed_file *bigger = realloc(l->items, cap * sizeof *bigger);
        if (!bigger) return cg_fail(CG_ERR_NOMEM, "dataset file list: out of memory at %zu files", l->n);
        l->items = bigger;
        l->cap = cap;
    }
    if (!(l->items[l->n].path = strdup(path))) return cg_fail(CG_ERR_NOMEM, "dataset file list: out of memory");
    l->items[l->n++].size = size;
    return CG_OK;
}

/* Every regular file below root/rel (rel "" for the root itself), the marker
 * and the manifest excluded.  lstat: a link is not a dataset file. */
static cg_status walk(listing *l, const char *root, const char *rel) {
    char dir[PATH_CAP], path[PATH_CAP], child[PATH_CAP];
    if (snprintf(dir, sizeof dir, "%s%s%s", root, *rel ? "/" : "", rel) >= (int)sizeof dir)
        return cg_fail(CG_ERR_VALUE, "%s/%s: path too long", root, rel);
    DIR *d = opendir(dir);
    if (!d) return cg_fail(CG_ERR_IO, "%s: cannot open folder: %s", dir, strerror(errno));
    cg_status st = CG_OK;
    struct dirent *e;
    while (st == CG_OK && (e = readdir(d))) {
        if (!strcmp(e->d_name, ".") || !strcmp(e->d_name, "..")) continue;
        if (!*rel && (!strcmp(e->d_name, CG_MARKER_NAME) || !strcmp(e->d_name, CG_MANIFEST_NAME))) continue;
        if (snprintf(path, sizeof path, "%s/%s", dir, e->d_name) >= (int)sizeof path ||
            snprintf(child, sizeof child, "%s%s%s", rel, *rel ? "/" : "", e->d_name) >= (int)sizeof child) {
            st = cg_fail(CG_ERR_VALUE, "%s/%s: path too long", dir, e->d_name);
            break;
        }
        struct stat sb;
        if (lstat(path, &sb) != 0) st = cg_fail(CG_ERR_IO, "%s: cannot stat: %s", path, strerror(errno));
        else if (S_ISDIR(sb.st_mode)) st = walk(l, root, child);
        else if (S_ISREG(sb.st_mode)) st = listing_add(l, child, (uint64_t)sb.st_size);
    }
    closedir(d);
    return st;
}

static int by_path(const void *a, const void *b) {
    return strcmp(((const listed_file *)a)->path, ((const listed_file *)b)->path);
}

/* ---- a growable text buffer ------------------------------------------------------ */

typedef struct text {
    char *data;
    size_t len, cap;
} text;

static cg_status text_put(text *t, const char *s, size_t n) {
    if (t->len + n + 1 > t->cap) {
        size_t cap = t->cap ? t->cap : 4096;
        while (cap < t->len + n + 1) cap *= 2;
        char *bigger = realloc(t->data, cap);
        if (!bigger) return cg_fail(CG_ERR_NOMEM, "dataset file list: out of memory at %zu bytes", t->len);
        t->data = bigger;
        t->cap = cap;
    }
    memcpy(t->data + t->len, s, n);
    t->len += n;
    t->data[t->len] = '\0';
    return CG_OK;
}

static cg_status sha256_hex(const void *data, size_t len, char hex[65]) {
    cg_digest *d = cg_digest_new("sha256");
    if (!d) return cg_last_status();
    cg_digest_update(d, data, len);
    return cg_digest_finish(d, hex, 65);
}

/* ---- writing -------------------------------------------------------------------- */

static bool has_newline(const char *s) { return s && strchr(s, '\n'); }

cg_status cg_marker_write(cg_fetch_ctx *ctx, const char *root, const char *name, const char *origin,
                          const char *source, const char *sha256) {
    (void)ctx;
    if (has_newline(name) || has_newline(origin) || has_newline(source) || has_newline(sha256))
        return cg_fail(CG_ERR_VALUE, "%s: a dataset's name, origin or source cannot hold a newline", root);
    listing l = {0};
    text man = {0}, mark = {0};
    char path[PATH_CAP], man_sha[65], check[65], line[64];
    uint64_t bytes = 0;
    cg_status st = walk(&l, root, "");
    if (st == CG_OK && l.n > 1) qsort(l.items, l.n, sizeof *l.items, by_path);
    if (st == CG_OK) st = text_put(&man, "cgrad-manifest 1\n", 17);
    for (size_t i = 0; st == CG_OK && i < l.n; i++) {
        int n = snprintf(line, sizeof line, "%" PRIu64 " ", l.items[i].size);
        st = text_put(&man, line, (size_t)n);
        for (const char *c = l.items[i].path; st == CG_OK && *c; c++)
            st = *c == '\\' ? text_put(&man, "\\\\", 2) : *c == '\n' ? text_put(&man, "\\n", 2) : text_put(&man, c, 1);
        if (st == CG_OK) st = text_put(&man, "\n", 1);
        bytes += l.items[i].size; /* cannot wrap: these are real files' sizes */
    }
    if (st == CG_OK) st = sha256_hex(man.data, man.len, man_sha);
    if (st == CG_OK && snprintf(path, sizeof path, "%s/%s", root, CG_MANIFEST_NAME) >= (int)sizeof path)
        st = cg_fail(CG_ERR_VALUE, "%s: path too long", root);
    if (st == CG_OK) st = cg_atomic_write_file(path, man.data, man.len);

    /* The marker: every field, then the digest of all of them. */
    char head[PATH_CAP * 2 + 1024];
    int hl = snprintf(head, sizeof head,
                      "cgrad-dataset 2\nname=%s\norigin=%s\nsource=%s\nsha256=%s\nfiles=%zu\nbytes=%" PRIu64
                      "\nmanifest=%s\n",
                      name, origin ? origin : "", source ? source : "", sha256 ? sha256 : "", l.n, bytes, man_sha);
    if (st == CG_OK && (hl < 0 || hl >= (int)sizeof head)) st = cg_fail(CG_ERR_VALUE, "%s: marker too long", root);
    if (st == CG_OK) st = text_put(&mark, head, (size_t)hl);
    if (st == CG_OK) st = sha256_hex(mark.data, mark.len, check);
    if (st == CG_OK) {
        int n = snprintf(head, sizeof head, "check=%s\n", check);
        st = text_put(&mark, head, (size_t)n);
    }
    if (st == CG_OK && snprintf(path, sizeof path, "%s/%s", root, CG_MARKER_NAME) >= (int)sizeof path)
        st = cg_fail(CG_ERR_VALUE, "%s: path too long", root);
    if (st == CG_OK) st = cg_atomic_write_file(path, mark.data, mark.len);
    listing_free(&l);
    free(man.data);
    free(mark.data);
    return st;
}

/* ---- reading -------------------------------------------------------------------- */

bool cg_marker_exists(const char *dir) {
    char path[PATH_CAP];
    if (snprintf(path, sizeof path, "%s/%s", dir, CG_MARKER_NAME) >= (int)sizeof path) return false;
    struct stat sb;
    return stat(path, &sb) == 0 && S_ISREG(sb.st_mode);
}

/* Reads a small regular file whole, refusing one larger than cap before
 * allocating.  *data is NUL-terminated; a NUL inside is CG_ERR_FORMAT. */
static cg_status read_capped(const char *path, size_t cap, char **data, size_t *len) {
    struct stat sb;
    if (lstat(path, &sb) != 0) return cg_fail(CG_ERR_IO, "%s: cannot stat: %s", path, strerror(errno));
    if (!S_ISREG(sb.st_mode)) return cg_fail(CG_ERR_FORMAT, "%s: not a regular file", path);
    if ((uint64_t)sb.st_size > cap)
        return cg_fail(CG_ERR_FORMAT, "%s: %lld bytes, more than the %zu a cgrad file of this kind can have", path,
                       (long long)sb.st_size, cap);
    cg_status st = cg_read_file(path, (void **)data, len);
    if (st != CG_OK) return st;
    if (*len > cap || strlen(*data) != *len) {
        free(*data);
        *data = NULL;
        return cg_fail(CG_ERR_FORMAT, "%s: holds a NUL byte or grew while read", path);
    }
    return CG_OK;
}

static bool copy_value(char *dst, size_t cap, const char *v, size_t len) {
    if (len >= cap) return false;
    memcpy(dst, v, len);
    dst[len] = '\0';
    return true;
}

/* Digits only, no sign, no overflow. */
static bool parse_u64(const char *v, size_t len, uint64_t *out) {
    if (len == 0 || len > 20) return false;
    uint64_t x = 0;
    for (size_t i = 0; i < len; i++) {
        if (v[i] < '0' || v[i] > '9') return false;
        uint64_t d = (uint64_t)(v[i] - '0');
        if (x > (UINT64_MAX - d) / 10) return false;
        x = x * 10 + d;
    }
    *out = x;
    return true;
}

static bool is_hex64(const char *s) {
    if (strlen(s) != 64) return false;
    for (int i = 0; i < 64; i++)
        if (!((s[i] >= '0' && s[i] <= '9') || (s[i] >= 'a' && s[i] <= 'f'))) return false;
    return true;
}

cg_status cg_marker_load(const char *dir, cg_marker *m) {
    char path[PATH_CAP], *data = NULL;
    size_t len;
    if (snprintf(path, sizeof path, "%s/%s", dir, CG_MARKER_NAME) >= (int)sizeof path)
        return cg_fail(CG_ERR_VALUE, "%s: path too long", dir);
    cg_status st = read_capped(path, MARKER_CAP, &data, &len);
    if (st != CG_OK) return st;
    memset(m, 0, sizeof *m);
    size_t body = len; /* the bytes holding fields */
    if (!strncmp(data, "cgrad-dataset 1\n", 16)) {
        m->version = 1; /* before manifests: no check line, nothing to check against */
    } else if (!strncmp(data, "cgrad-dataset 2\n", 16)) {
        m->version = 2;
        char *check = strstr(data, "\ncheck=");
        char want[65];
        if (!check || strlen(check) != 7 + 64 + 1 || check[7 + 64] != '\n') {
            free(data);
            return cg_fail(CG_ERR_FORMAT, "%s: cut short or edited (no check line at its end)", path);
        }
        body = (size_t)(check - data) + 1;
        if ((st = sha256_hex(data, body, want)) != CG_OK) {
            free(data);
            return st;
        }
        if (strncmp(check + 7, want, 64) != 0) {
            free(data);
            return cg_fail(CG_ERR_FORMAT, "%s: its contents do not match its check line (edited or damaged)", path);
        }
    } else {
        free(data);
        return cg_fail(CG_ERR_FORMAT, "%s: not a cgrad dataset marker", path);
    }
    bool ok = true, have_files = false, have_bytes = false;
    for (size_t at = 16; ok && at < body;) {
        const char *line = data + at;
        size_t ll = strcspn(line, "\n");
        const char *eq = memchr(line, '=', ll);
        if (eq) {
            size_t kl = (size_t)(eq - line), vl = ll - kl - 1;
            const char *v = eq + 1;
            if (kl == 4 && !strncmp(line, "name", 4)) ok = copy_value(m->name, sizeof m->name, v, vl);
            else if (kl == 6 && !strncmp(line, "origin", 6)) ok = copy_value(m->origin, sizeof m->origin, v, vl);
            else if (kl == 6 && !strncmp(line, "source", 6)) ok = copy_value(m->source, sizeof m->source, v, vl);
            else if (kl == 6 && !strncmp(line, "sha256", 6)) ok = copy_value(m->sha256, sizeof m->sha256, v, vl);
            else if (kl == 8 && !strncmp(line, "manifest", 8))
                ok = copy_value(m->manifest_sha256, sizeof m->manifest_sha256, v, vl);
            else if (kl == 5 && !strncmp(line, "files", 5)) ok = have_files = parse_u64(v, vl, &m->files);
            else if (kl == 5 && !strncmp(line, "bytes", 5)) ok = have_bytes = parse_u64(v, vl, &m->bytes);
        }
        at += ll + 1;
    }
    free(data);
    if (!ok || !have_files || !have_bytes || !m->name[0] || (m->version == 2 && !is_hex64(m->manifest_sha256)))
        return cg_fail(CG_ERR_FORMAT, "%s: a field is missing or malformed", path);
    return CG_OK;
}

cg_status cg_marker_read(const char *dir, cg_cached_dataset *out) {
    cg_marker *m = malloc(sizeof *m);
    if (!m) return cg_fail(CG_ERR_NOMEM, "%s: out of memory", dir);
    cg_status st = cg_marker_load(dir, m);
    if (st == CG_OK) {
        memset(out, 0, sizeof *out);
        snprintf(out->path, sizeof out->path, "%s", dir);
        snprintf(out->name, sizeof out->name, "%s", m->name);
        snprintf(out->source, sizeof out->source, "%s", m->source);
        snprintf(out->sha256, sizeof out->sha256, "%s", m->sha256);
        out->files = m->files;
        out->bytes = m->bytes;
    }
    free(m);
    return st;
}

/* ---- checking a cached copy ----------------------------------------------------- */

/* A path from a file, safe to print: control bytes and '\' as \xNN. */
static void printable(char *out, size_t cap, const char *s) {
    size_t o = 0;
    for (; *s && o + 5 < cap; s++) {
        unsigned char c = (unsigned char)*s;
        if (c < 0x20 || c == 0x7f || c == '\\') o += (size_t)snprintf(out + o, cap - o, "\\x%02x", c);
        else out[o++] = (char)c;
    }
    out[o] = '\0';
}

/* Unescapes one manifest path in place ("\\" and "\n"); false if malformed. */
static bool unescape(char *s) {
    char *w = s;
    for (const char *r = s; *r; r++) {
        if (*r != '\\') {
            *w++ = *r;
            continue;
        }
        r++;
        if (*r == '\\') *w++ = '\\';
        else if (*r == 'n') *w++ = '\n';
        else return false;
    }
    *w = '\0';
    return w != s;
}

/* What the manifest lists against what is in `dir`.  Returns false with `why`
 * set when they differ or the manifest is damaged. */
static bool manifest_matches(const char *dir, const cg_marker *m, char *why, size_t n) {
    char path[PATH_CAP], *data = NULL, sha[65];
    size_t len;
    if (snprintf(path, sizeof path, "%s/%s", dir, CG_MANIFEST_NAME) >= (int)sizeof path) {
        snprintf(why, n, "%s: path too long", dir);
        return false;
    }
    if (read_capped(path, MANIFEST_CAP, &data, &len) != CG_OK) {
        snprintf(why, n, "%s: its file list is missing or unreadable (%s)", m->name, cg_last_error());
        return false;
    }
    if (sha256_hex(data, len, sha) != CG_OK || strcmp(sha, m->manifest_sha256) != 0 ||
        strncmp(data, "cgrad-manifest 1\n", 17) != 0) {
        snprintf(why, n, "%s: its file list %s is damaged (its sha256 is not the one the marker recorded)", m->name,
                 path);
        free(data);
        return false;
    }
    int dfd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (dfd < 0) {
        snprintf(why, n, "%s: cannot open %s: %s", m->name, dir, strerror(errno));
        free(data);
        return false;
    }
    uint64_t listed = 0, bytes = 0, missing = 0, changed = 0, got_size = 0, want_size = 0;
    char first_missing[512] = "", first_changed[512] = "";
    bool well_formed = true;
    for (char *line = data + 17; well_formed && *line;) {
        char *end = strchr(line, '\n');
        if (!end) {
            well_formed = false;
            break;
        }
        *end = '\0';
        char *space = strchr(line, ' ');
        uint64_t size;
        if (!space || !parse_u64(line, (size_t)(space - line), &size) || !unescape(space + 1) || space[1] == '/' ||
            size > UINT64_MAX - bytes) {
            well_formed = false;
            break;
        }
        const char *rel = space + 1;
        listed++;
        bytes += size;
        struct stat sb;
        if (fstatat(dfd, rel, &sb, AT_SYMLINK_NOFOLLOW) != 0) {
            if (missing++ == 0) printable(first_missing, sizeof first_missing, rel);
        } else if (!S_ISREG(sb.st_mode) || (uint64_t)sb.st_size != size) {
            if (changed++ == 0) {
                printable(first_changed, sizeof first_changed, rel);
                got_size = S_ISREG(sb.st_mode) ? (uint64_t)sb.st_size : 0;
                want_size = size;
            }
        }
        line = end + 1;
    }
    close(dfd);
    free(data);
    if (!well_formed || listed != m->files || bytes != m->bytes) {
        snprintf(why, n, "%s: its file list %s is malformed or disagrees with the marker (%" PRIu64 " files, %" PRIu64
                 " bytes recorded)", m->name, path, m->files, m->bytes);
        return false;
    }
    if (missing && changed)
        snprintf(why, n, "%s: %" PRIu64 " of %" PRIu64 " files missing (first: %s), %" PRIu64
                 " changed size (first: %s, %" PRIu64 " bytes, recorded %" PRIu64 ")",
                 m->name, missing, listed, first_missing, changed, first_changed, got_size, want_size);
    else if (missing)
        snprintf(why, n, "%s: %" PRIu64 " of %" PRIu64 " files missing (first: %s)", m->name, missing, listed,
                 first_missing);
    else if (changed)
        snprintf(why, n, "%s: %" PRIu64 " of %" PRIu64 " files changed size (first: %s, %" PRIu64
                 " bytes, recorded %" PRIu64 ")", m->name, changed, listed, first_changed, got_size, want_size);
    return !missing && !changed;
}

cg_cache_state cg_cache_check(const char *dir, const char *name, const char *origin, char *why, size_t n) {
    struct stat sb;
    char marker[PATH_CAP];
    why[0] = '\0';
    if (lstat(dir, &sb) != 0) {
        if (errno == ENOENT) return CG_CACHE_ABSENT;
        snprintf(why, n, "%s: cannot stat %s: %s", name, dir, strerror(errno));
        return CG_CACHE_BROKEN;
    }
    if (!S_ISDIR(sb.st_mode)) {
        snprintf(why, n, "%s: %s is not a folder", name, dir);
        return CG_CACHE_BROKEN;
    }
    if (snprintf(marker, sizeof marker, "%s/%s", dir, CG_MARKER_NAME) >= (int)sizeof marker) {
        snprintf(why, n, "%s: path too long", dir);
        return CG_CACHE_BROKEN;
    }
    if (lstat(marker, &sb) != 0 && errno == ENOENT) {
        snprintf(why, n, "%s: %s has no completion marker (an interrupted get, or not made by cgrad)", name, dir);
        return CG_CACHE_BROKEN;
    }
    cg_marker *m = malloc(sizeof *m);
    if (!m) {
        snprintf(why, n, "%s: out of memory", name);
        return CG_CACHE_BROKEN;
    }
    cg_cache_state state = CG_CACHE_BROKEN;
    if (cg_marker_load(dir, m) != CG_OK)
        snprintf(why, n, "%s: its marker is damaged: %s", name, cg_last_error());
    else if (m->version < 2)
        snprintf(why, n, "%s: cached by an older cgrad, whose marker lists no files to check against", name);
    else if (strcmp(m->name, name) != 0)
        snprintf(why, n, "%s: the marker in %s is for dataset '%.128s'", name, dir, m->name);
    else if (origin && strcmp(m->origin, origin) != 0)
        snprintf(why, n, "%s: the cached copy came from '%.1024s', not from %s", name, m->origin,
                 !strcmp(origin, CG_ORIGIN_REGISTRY) ? "its registered source" : origin);
    else if (manifest_matches(dir, m, why, n))
        state = CG_CACHE_GOOD;
    free(m);
    return state;
}

/* ---- `cgrad data list` ------------------------------------------------------------ */

static int by_name(const void *a, const void *b) {
    return strcmp(((const cg_cached_dataset *)a)->name, ((const cg_cached_dataset *)b)->name);
}

cg_status cg_dataset_list_cached(const cg_get_options *opt, cg_cached_dataset **out, int *n) {
    if (!out || !n) return cg_fail(CG_ERR_VALUE, "list cached datasets: NULL output");
    *out = NULL;
    *n = 0;
    char home[PATH_CAP], data_dir[PATH_CAP];
    cg_status st = cg_data_home(opt, home, sizeof home);
    if (st != CG_OK) return st;
    if (snprintf(data_dir, sizeof data_dir, "%s/data", home) >= (int)sizeof data_dir)
        return cg_fail(CG_ERR_VALUE, "%s: path too long", home);
    DIR *d = opendir(data_dir);
    if (!d) {
        if (errno == ENOENT) return CG_OK; /* nothing fetched yet */
        return cg_fail(CG_ERR_IO, "%s: cannot open folder: %s", data_dir, strerror(errno));
    }
    int cap = 0;
    cg_cached_dataset *list = NULL;
    struct dirent *e;
    char dir[PATH_CAP];
    while ((e = readdir(d))) {
        if (e->d_name[0] == '.') continue; /* temp folders, locks */
        if (snprintf(dir, sizeof dir, "%s/%s", data_dir, e->d_name) >= (int)sizeof dir) continue;
        if (!cg_marker_exists(dir)) continue;
        if (*n == cap) {
            cap = cap ? 2 * cap : 8;
            cg_cached_dataset *bigger = realloc(list, (size_t)cap * sizeof *list);
            if (!bigger) {
                free(list);
                closedir(d);
                return cg_fail(CG_ERR_NOMEM, "%s: out of memory listing", data_dir);
            }
            list = bigger;
        }
        if (cg_marker_read(dir, &list[*n]) != CG_OK) continue; /* damaged: not complete */
        if (snprintf(list[*n].name, sizeof list[*n].name, "%s", e->d_name) >= (int)sizeof list[*n].name)
            continue; /* a name this long was not made by cgrad */
        (*n)++;
    }
    closedir(d);
    if (*n > 1) qsort(list, (size_t)*n, sizeof *list, by_name);
    *out = list;
    return CG_OK;
}
