/* data/file_read.c — opening and reading files that may not be what they say.
 *
 * Every reader of a named file (PNG, IDX, labels.csv, safetensors, markers)
 * opens it here.  open() without O_NONBLOCK on a FIFO waits for a writer
 * forever, and reading /dev/zero never ends, so:
 *   1. open(path, O_RDONLY | O_NONBLOCK | O_CLOEXEC): returns at once for a FIFO;
 *   2. fstat the descriptor (not the name: no race with a rename) and refuse
 *      anything but a regular file, naming the path and what it is;
 *   3. clear O_NONBLOCK, so reads of the regular file behave as usual;
 *   4. read at most what the caller's format allows, and at most what fstat
 *      said the file holds — a file that claims more is a short read, never a
 *      bigger allocation.
 * This is the floor of file access: data/ is the lowest floor that opens
 * files, and io/ (above it) uses the same helper. */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "cgrad/fileio.h"

static const char *kind_of(mode_t mode) {
    if (S_ISDIR(mode)) return "a directory";
    if (S_ISFIFO(mode)) return "a FIFO (named pipe)";
    if (S_ISCHR(mode)) return "a character device";
    if (S_ISBLK(mode)) return "a block device";
    if (S_ISSOCK(mode)) return "a socket";
    return "not a regular file";
}

cg_status cg_open_regular_msg(const char *path, int *fd_out, uint64_t *size_out, char *msg,
                              size_t msg_size) {
    *fd_out = -1;
    if (size_out) *size_out = 0;
    if (msg && msg_size) msg[0] = '\0';
    int fd = open(path, O_RDONLY | O_NONBLOCK | O_CLOEXEC);
    if (fd < 0) {
        int e = errno;
        if (msg) snprintf(msg, msg_size, "cannot open: %s", strerror(e));
        return e == ENOMEM ? CG_ERR_NOMEM : CG_ERR_IO;
    }
    struct stat st;
    if (fstat(fd, &st) != 0) {
        int e = errno;
        close(fd);
        if (msg) snprintf(msg, msg_size, "cannot stat: %s", strerror(e));
        return CG_ERR_IO;
    }
    if (!S_ISREG(st.st_mode)) {
        close(fd);
        if (msg) snprintf(msg, msg_size, "is %s, not a regular file", kind_of(st.st_mode));
        return CG_ERR_IO;
    }
    int flags = fcntl(fd, F_GETFL);
    if (flags < 0 || fcntl(fd, F_SETFL, flags & ~O_NONBLOCK) != 0) {
        int e = errno;
        close(fd);
        if (msg) snprintf(msg, msg_size, "cannot clear O_NONBLOCK: %s", strerror(e));
        return CG_ERR_IO;
    }
    *fd_out = fd;
    if (size_out) *size_out = st.st_size > 0 ? (uint64_t)st.st_size : 0;
    return CG_OK;
}

cg_status cg_open_regular(const char *path, const char *what, int *fd, uint64_t *size) {
    if (fd) *fd = -1;
    if (!path || !fd) return cg_fail(CG_ERR_VALUE, "%s: NULL path or descriptor", what ? what : "open");
    char msg[256];
    cg_status st = cg_open_regular_msg(path, fd, size, msg, sizeof msg);
    if (st) return what ? cg_fail(st, "%s: %s: %s", what, path, msg) : cg_fail(st, "%s: %s", path, msg);
    return CG_OK;
}

cg_status cg_read_fd_msg(int fd, uint64_t file_size, size_t max_bytes, void **data, size_t *len,
                         char *msg, size_t msg_size) {
    *data = NULL;
    *len = 0;
    if (file_size > max_bytes) {
        if (msg) snprintf(msg, msg_size, "%llu bytes, more than the %zu this kind of file may have",
                          (unsigned long long)file_size, max_bytes);
        return CG_ERR_FORMAT;
    }
    size_t size = (size_t)file_size;
    char *buf = malloc(size + 1);
    if (!buf) {
        if (msg) snprintf(msg, msg_size, "out of memory reading %zu bytes", size);
        return CG_ERR_NOMEM;
    }
    size_t got = 0;
    int e = 0;
    while (got < size) {
        ssize_t n = read(fd, buf + got, size - got);
        if (n < 0 && errno == EINTR) continue;
        if (n < 0) e = errno;
        if (n <= 0) break;
        got += (size_t)n;
    }
    if (got != size) {
        free(buf);
        if (msg) {
            if (e) snprintf(msg, msg_size, "read error after %zu of %zu bytes: %s", got, size, strerror(e));
            else snprintf(msg, msg_size, "shrank while being read (%zu of %zu bytes)", got, size);
        }
        return CG_ERR_IO;
    }
    buf[size] = '\0';
    *data = buf;
    *len = size;
    return CG_OK;
}

cg_status cg_read_file_bounded_msg(const char *path, size_t max_bytes, void **data, size_t *len,
                                   char *msg, size_t msg_size) {
    *data = NULL;
    *len = 0;
    int fd;
    uint64_t size;
    cg_status st = cg_open_regular_msg(path, &fd, &size, msg, msg_size);
    if (st) return st;
    st = cg_read_fd_msg(fd, size, max_bytes, data, len, msg, msg_size);
    close(fd);
    return st;
}

cg_status cg_read_file_bounded(const char *path, const char *what, size_t max_bytes, void **data,
                               size_t *len) {
    if (data) *data = NULL;
    if (len) *len = 0;
    if (!path || !data || !len) return cg_fail(CG_ERR_VALUE, "%s: NULL argument", what ? what : "read file");
    char msg[256];
    cg_status st = cg_read_file_bounded_msg(path, max_bytes, data, len, msg, sizeof msg);
    if (st) return what ? cg_fail(st, "%s: %s: %s", what, path, msg) : cg_fail(st, "%s: %s", path, msg);
    return CG_OK;
}
