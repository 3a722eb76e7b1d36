/* cg_dataset_get: fastai's untar_data in C.  Resolve where things go, remove
 * what dead processes left, check the cached copy (done if it is whole), take
 * the dataset's lock, build it in a temp folder (copy from a folder mirror, or
 * fetch files and unpack archives), verify it, write the file list and the
 * marker last, rename the folder into place.  See include/cgrad/datasets.h for
 * the contract; the pieces live in download.c, archive.c, checksum.c,
 * dataset_cache.c and dataset_leftovers.c. */
#define _GNU_SOURCE /* syncfs, renameat2 */
#include "data/fetch_internal.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

#include "cgrad/fileio.h"

#define PATH_CAP 4096

/* ---- options and places ------------------------------------------------------ */

static cg_get_options with_defaults(const cg_get_options *opt) {
    cg_get_options o = opt ? *opt : (cg_get_options){0};
    if (o.max_tries <= 0) o.max_tries = 4;
    if (o.retry_delay_ms <= 0) o.retry_delay_ms = 1000;
    if (o.connect_timeout_s <= 0) o.connect_timeout_s = 30;
    if (o.stall_timeout_s <= 0) o.stall_timeout_s = 60;
    if (!o.mirror) o.mirror = getenv("CGRAD_MIRROR");
    if (!o.mirror) o.mirror = "";
    return o;
}

cg_status cg_data_home(const cg_get_options *opt, char *path_out, size_t n) {
    if (!path_out || n == 0) return cg_fail(CG_ERR_VALUE, "data home: no output buffer");
    const char *home = opt && opt->home && *opt->home ? opt->home : NULL;
    const char *env = getenv("CGRAD_HOME");
    const char *user = getenv("HOME");
    int len;
    if (!home && env && *env) home = env;
    char cwd[PATH_CAP];
    if (home && home[0] != '/') { /* relative: anchor it, so path_out means the same after a chdir */
        if (!getcwd(cwd, sizeof cwd)) return cg_fail(CG_ERR_IO, "cannot read the current folder: %s", strerror(errno));
        len = snprintf(path_out, n, "%s/%s", cwd, home);
    } else if (home) {
        len = snprintf(path_out, n, "%s", home);
    } else if (user && *user) {
        len = snprintf(path_out, n, "%s/.cgrad", user);
    } else {
        return cg_fail(CG_ERR_VALUE, "no cgrad home: set CGRAD_HOME (or HOME)");
    }
    if (len < 0 || (size_t)len >= n) return cg_fail(CG_ERR_VALUE, "cgrad home path needs %d bytes, buffer has %zu", len, n);
    while (len > 1 && path_out[len - 1] == '/') path_out[--len] = '\0';
    return CG_OK;
}

static const char *base_name(const char *path) {
    const char *slash = strrchr(path, '/');
    return slash ? slash + 1 : path;
}

/* An ad-hoc dataset for an archive URL: named after the file, like fastai. */
typedef struct adhoc_dataset {
    char name[128];
    char cache_file[160]; /* its archive in <home>/archive: <name><extension> */
    cg_dataset_file file;
    cg_dataset_info info;
} adhoc_dataset;

/* A registered dataset's name or archive file, which an ad-hoc URL must not take. */
static bool is_registered(const char *dataset, const char *file) {
    for (int i = 0; i < cg_dataset_count_known(); i++) {
        const cg_dataset_info *info = cg_dataset_at(i);
        if (!strcmp(info->name, dataset)) return true;
        for (int j = 0; j < info->n_files; j++)
            if (!strcmp(base_name(info->files[j].url), file)) return true;
    }
    return false;
}

static cg_status adhoc_from_url(const char *url, adhoc_dataset *ad) {
    static const char *const extensions[] = {".tar.gz", ".tgz", ".tar.xz", ".txz", ".tar.bz2", ".tbz2",
                                             ".tbz", ".tar.zst", ".tar", ".zip"};
    const char *base = base_name(url);
    size_t len = strcspn(base, "?#");
    for (size_t i = 0; i < sizeof extensions / sizeof extensions[0]; i++) {
        size_t el = strlen(extensions[i]);
        if (len > el && !strncmp(base + len - el, extensions[i], el)) {
            len -= el;
            break;
        }
    }
    size_t ext_len = strcspn(base, "?#") - len;
    if (len == 0 || len >= sizeof ad->name || base[0] == '.')
        return cg_fail(CG_ERR_VALUE, "%s: cannot name a dataset after this URL's file name", url);
    for (size_t i = 0; i < len; i++) {
        char c = base[i];
        if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '_' || c == '-' || c == '.'))
            return cg_fail(CG_ERR_VALUE, "%s: the file name has a character ('%c') not allowed in a dataset name", url, c);
    }
    memcpy(ad->name, base, len);
    ad->name[len] = '\0';
    snprintf(ad->cache_file, sizeof ad->cache_file, "%s%.*s", ad->name, (int)ext_len, base + len);
    /* A registered name is filled only from its registered source: an
     * ad-hoc archive that happens to be called mnist_sample.tgz becomes
     * dataset mnist_sample-<first 8 hex of sha256(url)>, its own folder and
     * archive, and never replaces (or removes) the verified one. */
    if (is_registered(ad->name, ad->cache_file)) {
        char hex[65];
        cg_digest *d = cg_digest_new("sha256");
        if (!d) return cg_last_status();
        cg_digest_update(d, url, strlen(url));
        cg_status st = cg_digest_finish(d, hex, sizeof hex);
        if (st != CG_OK) return st;
        if (len + 9 >= sizeof ad->name) return cg_fail(CG_ERR_VALUE, "%s: the file name is too long for a dataset name", url);
        snprintf(ad->name + len, sizeof ad->name - len, "-%.8s", hex);
        snprintf(ad->cache_file, sizeof ad->cache_file, "%s%.*s", ad->name, (int)ext_len, base + len);
    }
    if (cg_is_temp_name(ad->name) || cg_is_temp_name(ad->cache_file))
        return cg_fail(CG_ERR_VALUE, "%s: a dataset cannot be named like a temp file (%s)", url, ad->name);
    ad->file = (cg_dataset_file){.url = url, .md5 = NULL, .is_archive = true};
    ad->info = (cg_dataset_info){.name = ad->name, .description = url, .files = &ad->file, .n_files = 1};
    return CG_OK;
}

/* ---- the mirror ------------------------------------------------------------------ */

typedef enum mirror_kind { MIRROR_NONE, MIRROR_LOCAL, MIRROR_URL } mirror_kind;

typedef struct mirror {
    mirror_kind kind;
    char dir[PATH_CAP]; /* MIRROR_LOCAL, and file:// URLs: the folder */
    char url[PATH_CAP]; /* MIRROR_URL: the prefix, without a trailing '/' */
} mirror;

static cg_status mirror_parse(const char *spec, mirror *m) {
    memset(m, 0, sizeof *m);
    if (!spec || !*spec) return CG_OK;
    size_t len = strlen(spec);
    while (len > 1 && spec[len - 1] == '/') len--;
    if (len >= PATH_CAP) return cg_fail(CG_ERR_VALUE, "mirror '%.64s...' is too long", spec);
    if (!strncmp(spec, "http://", 7) || !strncmp(spec, "https://", 8) || !strncmp(spec, "file://", 7)) {
        m->kind = MIRROR_URL;
        memcpy(m->url, spec, len);
        if (!strncmp(spec, "file://", 7)) {
            /* file:///srv/data (empty host) or file://localhost/srv/data: the folder
             * is also readable directly, which is what allows folder mirrors. */
            const char *p = spec + 7;
            if (!strncmp(p, "localhost/", 10)) p += 9;
            if (*p != '/') return cg_fail(CG_ERR_VALUE, "mirror '%s': a file:// URL needs an absolute path", spec);
            memcpy(m->dir, p, len - (size_t)(p - spec));
        }
        return CG_OK;
    }
    if (strstr(spec, "://")) return cg_fail(CG_ERR_VALUE, "mirror '%s': only folders and file, http, https URLs", spec);
    m->kind = MIRROR_LOCAL;
    memcpy(m->dir, spec, len);
    struct stat sb;
    if (stat(m->dir, &sb) != 0 || !S_ISDIR(sb.st_mode))
        return cg_fail(CG_ERR_IO, "mirror '%s' is not a folder (CGRAD_MIRROR / --mirror)", spec);
    return CG_OK;
}

static bool is_dir(const char *path) {
    struct stat sb;
    return stat(path, &sb) == 0 && S_ISDIR(sb.st_mode);
}

static bool is_file(const char *path) {
    struct stat sb;
    return stat(path, &sb) == 0 && S_ISREG(sb.st_mode);
}

/* ---- building the dataset in a temp folder ------------------------------------------ */

typedef struct build {
    cg_fetch_ctx ctx;
    const cg_dataset_info *info;
    mirror mirror;
    char archive_dir[PATH_CAP]; /* <home>/archive */
    char tmp[PATH_CAP];         /* <home>/data/.<name>.tmp.<pid>.<n> */
    char root[PATH_CAP];        /* tmp, or its single top folder */
    char source[PATH_CAP];      /* for the marker: where it came from */
    char sha256[65];            /* of the (last) archive, for the marker */
    char tofu_path[PATH_CAP];   /* <archive>.sha256 to record once verified, or "" */
    bool tofu_rewrite;          /* a published checksum vouched for it: replace any other record */
    const char *origin;         /* for the marker: CG_ORIGIN_REGISTRY or the ad-hoc URL */
    const char *cache_file;     /* an ad-hoc archive's name in <home>/archive, or NULL: the URL's */
} build;

static cg_status join(char *out, const char *a, const char *b) {
    if (snprintf(out, PATH_CAP, "%s/%s", a, b) >= PATH_CAP) return cg_fail(CG_ERR_VALUE, "%s/%s: path too long", a, b);
    return CG_OK;
}

/* Trust on first use: the sha256 of an archive that once gave a good dataset is
 * kept beside it; the same file name hashing differently later is refused. */
static cg_status check_recorded_sha256(build *b, const char *archive_name, const char *sha256, bool published) {
    char path[PATH_CAP], *recorded = NULL;
    size_t len;
    if (snprintf(path, sizeof path, "%s/%s.sha256", b->archive_dir, archive_name) >= (int)sizeof path)
        return cg_fail(CG_ERR_VALUE, "%s: path too long", b->archive_dir);
    snprintf(b->tofu_path, sizeof b->tofu_path, "%s", path);
    /* A published checksum outranks our own record, which an older cgrad may
     * have written for a look-alike archive of the same name. */
    b->tofu_rewrite = published;
    if (published || !is_file(path)) return CG_OK;
    if (cg_read_file(path, (void **)&recorded, &len) != CG_OK) return cg_last_status();
    cg_status st = CG_OK;
    if (len < 64 || strncmp(recorded, sha256, 64) != 0)
        st = cg_fail(CG_ERR_CHECKSUM, "%s: sha256 %s differs from %.64s recorded in %s when it was first fetched "
                     "(delete that file if the new archive is known to be good)", archive_name, sha256, recorded, path);
    free(recorded);
    return st;
}

/* Gets one file of the dataset: an archive is fetched into <home>/archive (or
 * read in place from a local mirror) and extracted into tmp; a plain file is
 * fetched straight into tmp. */
static cg_status get_file(build *b, const cg_dataset_file *file, bool force) {
    const char *fname = base_name(file->url);                       /* its name in a mirror */
    const char *cname = b->cache_file ? b->cache_file : fname;      /* its name in <home>/archive */
    char src[PATH_CAP], dest[PATH_CAP];
    cg_fetched got = {0};
    cg_status st;
    bool local = b->mirror.kind == MIRROR_LOCAL;
    if (local) {
        if ((st = join(src, b->mirror.dir, fname)) != CG_OK) return st;
        if (!is_file(src))
            return cg_fail(CG_ERR_IO, "mirror %s holds neither %s/ nor %s (it must hold one of them for '%s')",
                           b->mirror.dir, b->info->name, fname, b->info->name);
    } else if (b->mirror.kind == MIRROR_URL) {
        if (snprintf(src, sizeof src, "%s/%s", b->mirror.url, fname) >= (int)sizeof src)
            return cg_fail(CG_ERR_VALUE, "%s: URL too long", b->mirror.url);
    } else {
        snprintf(src, sizeof src, "%s", file->url);
    }
    /* The marker's source: the file, or for several files (mnist's four) the
     * folder or URL prefix they came from. */
    snprintf(b->source, sizeof b->source, "%s", src);
    if (b->info->n_files > 1 && strrchr(b->source, '/')) *strrchr(b->source, '/') = '\0';

    if (!file->is_archive) {
        if ((st = join(dest, b->tmp, fname)) != CG_OK) return st;
        return local ? cg_fetch_copy_file(&b->ctx, src, dest, &got) : cg_fetch_url(&b->ctx, src, dest, &got);
    }

    /* An archive: downloaded into <home>/archive, or read in place from a local mirror. */
    const char *archive = src;
    bool downloaded_now = false;
    if (!local) {
        if ((st = join(dest, b->archive_dir, cname)) != CG_OK) return st;
        if (force || !is_file(dest)) { /* else fetched before: re-extracting needs no download */
            if ((st = cg_fetch_url(&b->ctx, src, dest, &got)) != CG_OK) return st;
            downloaded_now = true;
        }
        archive = dest;
    }
    if (!downloaded_now) {
        struct stat sb;
        if (stat(archive, &sb) != 0) return cg_fail(CG_ERR_IO, "%s: cannot stat: %s", archive, strerror(errno));
        got.bytes = (uint64_t)sb.st_size;
        if ((st = cg_file_digest(archive, "sha256", got.sha256, sizeof got.sha256)) != CG_OK ||
            (st = cg_file_digest(archive, "md5", got.md5, sizeof got.md5)) != CG_OK)
            return st;
    }
    if (file->bytes && got.bytes != (uint64_t)file->bytes)
        st = cg_fail(CG_ERR_CHECKSUM, "%s: %llu bytes, expected %lld (a truncated or different file)", src,
                     (unsigned long long)got.bytes, (long long)file->bytes);
    else if (file->md5 && strcmp(got.md5, file->md5) != 0)
        st = cg_fail(CG_ERR_CHECKSUM, "%s: md5 %s, expected %s", src, got.md5, file->md5);
    else
        st = check_recorded_sha256(b, cname, got.sha256, file->md5 != NULL);
    if (st == CG_OK) {
        snprintf(b->sha256, sizeof b->sha256, "%s", got.sha256);
        st = cg_extract_archive(&b->ctx, archive, b->tmp);
    }
    /* A downloaded archive that is wrong or does not extract is deleted, so the
     * next get fetches it again instead of failing on it forever.  A mirror's
     * own file is never touched. */
    if (st != CG_OK && st != CG_ERR_CANCELLED && !local) unlink(dest);
    return st;
}

/* After extraction: an archive with one top folder (mnist_sample.tgz holds
 * mnist_sample/) has that folder as the dataset root. */
static cg_status find_root(build *b) {
    snprintf(b->root, sizeof b->root, "%s", b->tmp);
    DIR *d = opendir(b->tmp);
    if (!d) return cg_fail(CG_ERR_IO, "%s: cannot open folder: %s", b->tmp, strerror(errno));
    struct dirent *e;
    char only[256] = "";
    int entries = 0;
    while ((e = readdir(d))) {
        if (!strcmp(e->d_name, ".") || !strcmp(e->d_name, "..")) continue;
        if (++entries == 1) snprintf(only, sizeof only, "%s", e->d_name);
    }
    closedir(d);
    char candidate[PATH_CAP];
    if (entries == 1 && join(candidate, b->tmp, only) == CG_OK && is_dir(candidate))
        snprintf(b->root, sizeof b->root, "%s", candidate);
    return CG_OK;
}

static cg_status count_suffix(const char *dir, const char *suffix, int64_t *count) {
    DIR *d = opendir(dir);
    if (!d) return cg_fail(CG_ERR_FORMAT, "%s: missing folder (%s)", dir, strerror(errno));
    size_t sl = strlen(suffix);
    struct dirent *e;
    *count = 0;
    while ((e = readdir(d))) {
        size_t nl = strlen(e->d_name);
        if (e->d_name[0] != '.' && nl > sl && !strcmp(e->d_name + nl - sl, suffix)) (*count)++;
    }
    closedir(d);
    return CG_OK;
}

/* The checks of "WHAT IS VERIFIED" in datasets.h. */
static cg_status verify(build *b) {
    const cg_dataset_info *info = b->info;
    char path[PATH_CAP];
    cg_status st;
    int total = info->n_counts + (info->csv ? 1 : 0), done = 0;
    for (int i = 0; i < info->n_files; i++) total += !info->files[i].is_archive && info->files[i].md5;
    for (int i = 0; i < info->n_files; i++) {
        const cg_dataset_file *f = &info->files[i];
        if (f->is_archive || !f->md5) continue;
        if ((st = join(path, b->root, base_name(f->url))) != CG_OK) return st;
        if (!is_file(path)) return cg_fail(CG_ERR_FORMAT, "%s: missing %s (from %s)", info->name, base_name(f->url), b->source);
        char md5[33];
        if ((st = cg_file_digest(path, "md5", md5, sizeof md5)) != CG_OK) return st;
        if (strcmp(md5, f->md5) != 0)
            return cg_fail(CG_ERR_CHECKSUM, "%s: %s has md5 %s, expected %s (source %s)", info->name,
                           base_name(f->url), md5, f->md5, b->source);
        if ((st = cg_fetch_report(&b->ctx, CG_GET_VERIFY, base_name(f->url), (uint64_t)++done, (uint64_t)total)) != CG_OK)
            return st;
    }
    for (int i = 0; i < info->n_counts; i++) {
        const cg_dataset_count *c = &info->counts[i];
        int64_t count = 0;
        if ((st = join(path, b->root, c->folder)) != CG_OK) return st;
        if ((st = count_suffix(path, c->suffix, &count)) != CG_OK) return st;
        if (count != c->count)
            return cg_fail(CG_ERR_FORMAT, "%s: %s holds %lld %s files, expected %lld (source %s)", info->name, c->folder,
                           (long long)count, c->suffix, (long long)c->count, b->source);
        if ((st = cg_fetch_report(&b->ctx, CG_GET_VERIFY, c->folder, (uint64_t)++done, (uint64_t)total)) != CG_OK)
            return st;
    }
    if (info->csv) {
        char *text;
        size_t len;
        if ((st = join(path, b->root, info->csv)) != CG_OK) return st;
        if (!is_file(path)) return cg_fail(CG_ERR_FORMAT, "%s: missing %s (source %s)", info->name, info->csv, b->source);
        if ((st = cg_read_file(path, (void **)&text, &len)) != CG_OK) return st;
        int64_t lines = 0;
        for (size_t i = 0; i < len; i++) lines += text[i] == '\n';
        if (len > 0 && text[len - 1] != '\n') lines++; /* a last line without its newline */
        free(text);
        if (lines - 1 != info->csv_rows)
            return cg_fail(CG_ERR_FORMAT, "%s: %s has %lld data rows, expected %lld", info->name, info->csv,
                           (long long)(lines - 1), (long long)info->csv_rows);
        if ((st = cg_fetch_report(&b->ctx, CG_GET_VERIFY, info->csv, (uint64_t)++done, (uint64_t)total)) != CG_OK)
            return st;
    }
    return CG_OK;
}

static cg_status build_dataset(build *b, bool force) {
    cg_status st;
    char folder[PATH_CAP];
    bool have_folder = b->mirror.dir[0] && join(folder, b->mirror.dir, b->info->name) == CG_OK && is_dir(folder);
    if (have_folder) {
        snprintf(b->source, sizeof b->source, "%s", folder);
        if ((st = cg_fetch_copy_tree(&b->ctx, folder, b->tmp)) != CG_OK) return st;
        snprintf(b->root, sizeof b->root, "%s", b->tmp);
    } else {
        bool any_plain = false;
        for (int i = 0; i < b->info->n_files; i++) {
            if ((st = get_file(b, &b->info->files[i], force)) != CG_OK) return st;
            any_plain |= !b->info->files[i].is_archive;
        }
        if (any_plain) snprintf(b->root, sizeof b->root, "%s", b->tmp);
        else if ((st = find_root(b)) != CG_OK) return st;
    }
    if ((st = verify(b)) != CG_OK) return st;
    if ((st = cg_marker_write(&b->ctx, b->root, b->info->name, b->origin, b->source, b->sha256)) != CG_OK) return st;
    /* Everything written so far without its own fsync (thousands of extracted
     * or copied files) reaches the disk before the rename publishes it. */
    int fd = open(b->root, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (fd >= 0) {
        int rc = syncfs(fd);
        int err = errno;
        close(fd);
        if (rc != 0) return cg_fail(CG_ERR_IO, "%s: syncfs failed: %s", b->root, strerror(err));
    }
    return CG_OK;
}

/* ---- publishing, locking, cleaning up ------------------------------------------------ */

static atomic_uint tmp_counter;

/* Swaps `root` in as `final`.  An older complete copy is moved aside first
 * and deleted only once the new one is in place. */
static cg_status publish(const char *data_dir, const char *name, const char *root, const char *final) {
    char old[PATH_CAP];
    bool had_old = false;
    if (snprintf(old, sizeof old, "%s/.%s.old.%ld.%u", data_dir, name, (long)getpid(),
                 atomic_fetch_add(&tmp_counter, 1u)) >= (int)sizeof old)
        return cg_fail(CG_ERR_VALUE, "%s: path too long", data_dir);
    /* Where the kernel can, swap the two folders in one step (no moment without
     * a complete copy at `final`); `root` then holds the old copy to delete. */
    if (renameat2(AT_FDCWD, root, AT_FDCWD, final, RENAME_EXCHANGE) == 0) {
        cg_status st = cg_fsync_dir(data_dir);
        cg_remove_tree(root); /* best effort: a leftover is cleaned by the next get */
        return st;
    }
    if (rename(final, old) == 0) had_old = true;
    else if (errno != ENOENT) return cg_fail(CG_ERR_IO, "%s: cannot move the old copy aside: %s", final, strerror(errno));
    if (rename(root, final) != 0) {
        cg_status st = cg_fail(CG_ERR_IO, "%s: cannot rename %s into place: %s", final, root, strerror(errno));
        if (had_old) rename(old, final);
        return st;
    }
    cg_status st = cg_fsync_dir(data_dir);
    if (had_old) cg_remove_tree(old); /* best effort: a leftover is cleaned by the next get */
    return st;
}

/* ---- the public calls ------------------------------------------------------------------ */

/* Where dataset `name` goes, and what its marker must say it came from. */
typedef struct resolved {
    adhoc_dataset ad;
    const cg_dataset_info *info;
    const char *origin;     /* CG_ORIGIN_REGISTRY, or the URL */
    const char *cache_file; /* the ad-hoc archive's name in <home>/archive, or NULL */
    char home[PATH_CAP], data_dir[PATH_CAP], archive_dir[PATH_CAP], final[PATH_CAP];
} resolved;

static cg_status resolve(const char *name, const cg_get_options *opt, resolved *r) {
    if (!name || !*name) return cg_fail(CG_ERR_VALUE, "dataset: empty name");
    cg_status st;
    if (strstr(name, "://")) {
        if ((st = adhoc_from_url(name, &r->ad)) != CG_OK) return st;
        r->info = &r->ad.info;
        r->origin = name;
        r->cache_file = r->ad.cache_file;
    } else if ((r->info = cg_dataset_find(name))) {
        r->origin = CG_ORIGIN_REGISTRY;
        r->cache_file = NULL;
    } else {
        return cg_last_status();
    }
    if ((st = cg_data_home(opt, r->home, PATH_CAP)) != CG_OK || (st = join(r->data_dir, r->home, "data")) != CG_OK ||
        (st = join(r->archive_dir, r->home, "archive")) != CG_OK)
        return st;
    return join(r->final, r->data_dir, r->info->name);
}

/* The names of the dataset's archives in <home>/archive. */
static int archive_names(const resolved *r, const char **names, int cap) {
    int n = 0;
    for (int i = 0; i < r->info->n_files && n < cap; i++)
        if (r->info->files[i].is_archive) names[n++] = r->cache_file ? r->cache_file : base_name(r->info->files[i].url);
    return n;
}

/* Builds the dataset into a temp folder and swaps it in; the lock is held. */
static cg_status get_locked(build *b, const resolved *r, bool force) {
    cg_status st;
    const char *archives[8];
    int n_archives = archive_names(r, archives, 8);
    if ((st = cg_leftovers_remove_own(&b->ctx, r->data_dir, r->info->name, r->archive_dir, archives, n_archives)) != CG_OK)
        return st;
    if (snprintf(b->tmp, sizeof b->tmp, "%s/.%s.tmp.%ld.%u", r->data_dir, r->info->name, (long)getpid(),
                 atomic_fetch_add(&tmp_counter, 1u)) >= (int)sizeof b->tmp)
        return cg_fail(CG_ERR_VALUE, "%s: path too long", r->data_dir);
    if (mkdir(b->tmp, 0777) != 0) return cg_fail(CG_ERR_IO, "%s: cannot create temp folder: %s", b->tmp, strerror(errno));
    st = build_dataset(b, force);
    if (st == CG_OK) st = publish(r->data_dir, r->info->name, b->root, r->final);
    if (st == CG_OK && b->sha256[0] && b->tofu_path[0] && (b->tofu_rewrite || !is_file(b->tofu_path))) {
        char line[80];
        int len = snprintf(line, sizeof line, "%s\n", b->sha256);
        cg_atomic_write_file(b->tofu_path, line, (size_t)len); /* best effort: the dataset is in place */
    }
    /* Whatever is left of the temp folder goes: all of it on failure, the
     * empty wrapper of an archive's top folder on success. */
    cg_status keep = cg_last_status();
    char keep_msg[1024];
    snprintf(keep_msg, sizeof keep_msg, "%s", cg_last_error());
    cg_remove_tree(b->tmp);
    if (st != CG_OK) cg_fail(keep, "%s", keep_msg);
    return st;
}

cg_status cg_dataset_get(const char *name, const cg_get_options *opt_in, char *path_out, size_t n) {
    if (!path_out || n == 0) return cg_fail(CG_ERR_VALUE, "dataset get: no output buffer");
    path_out[0] = '\0';
    cg_get_options opt = with_defaults(opt_in);
    build *b = calloc(1, sizeof *b);
    resolved *r = calloc(1, sizeof *r);
    char *why = malloc(PATH_CAP);
    cg_status st = b && r && why ? CG_OK : cg_fail(CG_ERR_NOMEM, "dataset %s: out of memory", name ? name : "");
    if (st == CG_OK) st = resolve(name, &opt, r);
    if (st == CG_OK && strlen(r->final) >= n)
        st = cg_fail(CG_ERR_VALUE, "%s: path needs %zu bytes, buffer has %zu", r->final, strlen(r->final) + 1, n);
    if (st != CG_OK) goto done;
    b->ctx = (cg_fetch_ctx){.opt = &opt, .dataset = r->info->name, .last_stage = CG_GET_STAGE_COUNT};
    b->info = r->info;
    b->origin = r->origin;
    b->cache_file = r->cache_file;
    snprintf(b->archive_dir, sizeof b->archive_dir, "%s", r->archive_dir);

    /* What killed processes left goes first, whichever dataset it was for. */
    if ((st = cg_leftovers_sweep(&b->ctx, r->data_dir, r->archive_dir)) != CG_OK) goto done;

    /* The fast path: the marker is intact and every file it lists is there
     * with its size (a stat each: mnist_sample's 14435 in a few ms). */
    cg_cache_state state = opt.force ? CG_CACHE_BROKEN : cg_cache_check(r->final, r->info->name, r->origin, why, PATH_CAP);
    if (state == CG_CACHE_GOOD) goto done;

    if ((st = mirror_parse(opt.mirror, &b->mirror)) != CG_OK || (st = cg_mkdirs(r->data_dir)) != CG_OK ||
        (st = cg_mkdirs(r->archive_dir)) != CG_OK)
        goto done;
    cg_dataset_lock lock;
    if ((st = cg_dataset_lock_take(r->data_dir, r->info->name, &lock)) != CG_OK) goto done;
    /* Someone else may have finished (or repaired) it while we waited. */
    if (!opt.force) state = cg_cache_check(r->final, r->info->name, r->origin, why, PATH_CAP);
    if (!opt.force && state == CG_CACHE_BROKEN) {
        size_t len = strlen(why);
        snprintf(why + len, PATH_CAP - len, "; re-getting");
        st = cg_fetch_report_message(&b->ctx, CG_GET_REPAIR, r->final, why);
    }
    if (st == CG_OK && (opt.force || state != CG_CACHE_GOOD)) st = get_locked(b, r, opt.force);
    cg_dataset_unlock(&lock);
done:
    if (st == CG_OK) snprintf(path_out, n, "%s", r->final);
    free(b);
    free(r);
    free(why);
    return st;
}

cg_status cg_untar_data(const char *name, char *path_out, size_t n) {
    return cg_dataset_get(name, NULL, path_out, n);
}

cg_status cg_dataset_remove(const char *name, const cg_get_options *opt_in) {
    cg_get_options opt = with_defaults(opt_in);
    resolved *r = calloc(1, sizeof *r);
    if (!r) return cg_fail(CG_ERR_NOMEM, "dataset %s: out of memory", name ? name : "");
    char aside[PATH_CAP], archive[PATH_CAP];
    cg_status st = resolve(name, &opt, r);
    if (st != CG_OK || !is_dir(r->data_dir)) {
        free(r);
        return st;
    }
    cg_fetch_ctx ctx = {.opt = &opt, .dataset = r->info->name, .last_stage = CG_GET_STAGE_COUNT};
    cg_dataset_lock lock;
    if ((st = cg_leftovers_sweep(&ctx, r->data_dir, r->archive_dir)) != CG_OK ||
        (st = cg_dataset_lock_take(r->data_dir, r->info->name, &lock)) != CG_OK) {
        free(r);
        return st;
    }
    /* Rename first: the marker disappears from <name> in one step, then the
     * slow delete happens out of sight. */
    if (snprintf(aside, sizeof aside, "%s/.%s.old.%ld.%u", r->data_dir, r->info->name, (long)getpid(),
                 atomic_fetch_add(&tmp_counter, 1u)) >= (int)sizeof aside)
        st = cg_fail(CG_ERR_VALUE, "%s: path too long", r->data_dir);
    else if (rename(r->final, aside) == 0) st = cg_remove_tree(aside);
    else if (errno != ENOENT) st = cg_fail(CG_ERR_IO, "%s: cannot remove: %s", r->final, strerror(errno));
    const char *archives[8];
    int n_archives = archive_names(r, archives, 8);
    for (int i = 0; st == CG_OK && i < n_archives; i++) {
        if (join(archive, r->archive_dir, archives[i]) != CG_OK) continue;
        unlink(archive);
        strncat(archive, ".sha256", sizeof archive - strlen(archive) - 1);
        unlink(archive);
    }
    cg_dataset_unlock(&lock);
    free(r);
    return st;
}
