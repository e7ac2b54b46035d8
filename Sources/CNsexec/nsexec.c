// The C stage of `skiff init`: namespace work that must happen before Swift starts threads.
// The process design and every wire format are in docs/nsexec.md; read it side by side with
// `strace -f` when a create hangs.
//
// Only async-signal-safe code runs after the first clone: no stdio, no malloc, no snprintf.
// Messages are built with the small formatter below in stack buffers.
#ifndef _GNU_SOURCE
#define _GNU_SOURCE 1
#endif
#include "nsexec.h"

#include <errno.h>
#include <fcntl.h>
#include <grp.h>
#include <limits.h>
#include <poll.h>
#include <sched.h>
#include <signal.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <net/if.h>
#include <netinet/in.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/types.h>
#include <sys/wait.h>
#include <unistd.h>

#ifndef CLONE_NEWTIME
#define CLONE_NEWTIME 0x00000080
#endif

// Messages between the stages, over two internal SOCK_SEQPACKET socketpairs (one per child),
// so a dead peer shows up as EOF and every message arrives whole.
enum sync_type {
    SYNC_USERMAP_PLS = 0x40, // 1 -> 0  write my setgroups/uid_map/gid_map
    SYNC_USERMAP_ACK = 0x41, // 0 -> 1  done
    SYNC_TIMENS_PLS = 0x42,  // 1 -> 0  write my timens_offsets
    SYNC_TIMENS_ACK = 0x43,  // 0 -> 1  done
    SYNC_STAGE2_PID = 0x44,  // 1 -> 0  value: stage 2's pid; stage 1 exits after this
    SYNC_GO = 0x45,          // 0 -> 2  the runtime has the pids, go on
    SYNC_FINISHED = 0x46,    // 2 -> 0  setsid/setuid done, returning to Swift
    SYNC_FAILED = 0x47,      // 1|2 -> 0  I wrote an error line and am exiting
    SYNC_MOUNTSRC_PLS = 0x48, // 1 -> 0  open the mount sources in my mount namespace
    SYNC_MOUNTSRC = 0x49,     // 0 -> 1  value: index; one O_PATH fd attached (SCM_RIGHTS)
};

struct sync_msg {
    uint32_t type;
    int32_t value;
};

// Process-wide state. Each stage is a copy of the address space, so each has its own.
static const char *stage = "stage-0";
static int log_fd = -1;
static int debug_enabled;
static int notify_fd = -1;          // stage 1/2: where to send SYNC_FAILED
static pid_t kill_on_failure[2];    // stage 0/1: children to take down before reporting
static uint8_t *message;            // the bootstrap message (mmap), freed by stage 2
static size_t message_size;

// --- Formatting without stdio -----------------------------------------------------------

struct text {
    char *p;
    size_t cap;
    size_t len;
};

static void text_putc(struct text *t, char c) {
    if (t->len + 1 < t->cap) {
        t->p[t->len++] = c;
        t->p[t->len] = '\0';
    }
}

static void text_puts(struct text *t, const char *s) {
    while (*s) text_putc(t, *s++);
}

static void text_putu(struct text *t, unsigned long v, unsigned base) {
    char digits[24];
    int n = 0;
    do {
        digits[n++] = "0123456789abcdef"[v % base];
        v /= base;
    } while (v);
    while (n) text_putc(t, digits[--n]);
}

// Understands %s, %d, %u, %x and %%: all the stages need.
static void text_vformat(struct text *t, const char *f, va_list ap) {
    for (; *f; f++) {
        if (*f != '%') {
            text_putc(t, *f);
            continue;
        }
        switch (*++f) {
        case 's': {
            const char *s = va_arg(ap, const char *);
            text_puts(t, s ? s : "(null)");
            break;
        }
        case 'd': {
            int v = va_arg(ap, int);
            if (v < 0) text_putc(t, '-');
            text_putu(t, v < 0 ? -(unsigned long)(long)v : (unsigned long)v, 10);
            break;
        }
        case 'u': text_putu(t, va_arg(ap, unsigned), 10); break;
        case 'x': text_putu(t, va_arg(ap, unsigned), 16); break;
        case '%': text_putc(t, '%'); break;
        case '\0': return;
        default: text_putc(t, '?'); break;
        }
    }
}

static void text_format(struct text *t, const char *f, ...) __attribute__((format(printf, 2, 3)));
static void text_format(struct text *t, const char *f, ...) {
    va_list ap;
    va_start(ap, f);
    text_vformat(t, f, ap);
    va_end(ap);
}

// Length of a valid UTF-8 sequence at s, or 0. JSON must be valid UTF-8, and paths are bytes.
static size_t utf8_length(const unsigned char *s) {
    unsigned c = s[0], cp, min;
    size_t n;
    if (c < 0x80) return 1;
    if ((c & 0xe0) == 0xc0) n = 2, cp = c & 0x1f, min = 0x80;
    else if ((c & 0xf0) == 0xe0) n = 3, cp = c & 0x0f, min = 0x800;
    else if ((c & 0xf8) == 0xf0) n = 4, cp = c & 0x07, min = 0x10000;
    else return 0;
    for (size_t i = 1; i < n; i++) {
        if ((s[i] & 0xc0) != 0x80) return 0; // also stops at the NUL terminator
        cp = cp << 6 | (s[i] & 0x3f);
    }
    if (cp < min || cp > 0x10ffff || (cp >= 0xd800 && cp <= 0xdfff)) return 0;
    return n;
}

static void write_all(int fd, const char *p, size_t len) {
    while (len > 0) {
        ssize_t n = write(fd, p, len);
        if (n < 0 && errno == EINTR) continue;
        if (n <= 0) return;
        p += n;
        len -= (size_t)n;
    }
}

// One JSON line, at most PIPE_BUF bytes so that lines from different stages never interleave.
static void log_line(const char *level, const char *msg) {
    if (log_fd < 0) return;
    static const char suffix[] = "\"}\n";
    char line[PIPE_BUF];
    struct text t = {line, sizeof(line), 0};
    text_format(&t, "{\"level\":\"%s\",\"msg\":\"", level);
    size_t room = sizeof(line) - 1 - (sizeof(suffix) - 1);
    const unsigned char *s = (const unsigned char *)msg;
    while (*s) {
        char piece[8];
        const char *out = piece;
        size_t n, advance = 1;
        if (*s == '"' || *s == '\\') {
            piece[0] = '\\', piece[1] = (char)*s, n = 2;
        } else if (*s == '\n') {
            memcpy(piece, "\\n", 2), n = 2;
        } else if (*s == '\t') {
            memcpy(piece, "\\t", 2), n = 2;
        } else if (*s < 0x20) {
            memcpy(piece, "\\u00", 4);
            piece[4] = "0123456789abcdef"[*s >> 4], piece[5] = "0123456789abcdef"[*s & 15];
            n = 6;
        } else if ((advance = utf8_length(s)) > 0) {
            out = (const char *)s, n = advance;
        } else {
            memcpy(piece, "\\ufffd", 6), n = 6, advance = 1;
        }
        if (t.len + n > room) break; // truncate, but never inside an escape or a character
        memcpy(line + t.len, out, n);
        t.len += n;
        s += advance;
    }
    line[t.len] = '\0';
    text_puts(&t, suffix);
    write_all(log_fd, line, t.len);
}

static void log_message(const char *level, int err, const char *f, va_list ap) {
    char tail[80] = "";
    struct text tt = {tail, sizeof(tail), 0};
    if (err >= 0) {
        // strerrordesc_np: the untranslated text, without strerror's locale machinery.
        const char *desc = strerrordesc_np(err);
        if (desc) text_format(&tt, ": %s", desc);
        else text_format(&tt, ": errno %d", err);
    }
    // Smaller than a line, so that escaping rarely truncates; an overlong path is cut, never
    // the errno text after it.
    char msg[PIPE_BUF * 3 / 4];
    struct text t = {msg, sizeof(msg) - tt.len, 0};
    text_format(&t, "nsexec %s: ", stage);
    text_vformat(&t, f, ap);
    t.cap = sizeof(msg);
    text_puts(&t, tail);
    log_line(level, msg);
}

static void debug(const char *f, ...) __attribute__((format(printf, 1, 2)));
static void debug(const char *f, ...) {
    if (!debug_enabled) return;
    va_list ap;
    va_start(ap, f);
    log_message("debug", -1, f, ap);
    va_end(ap);
}

static void send_msg(int fd, uint32_t type, int32_t value, const char *peer);

static void die(void) __attribute__((noreturn));
static void die(void) {
    static int dying;
    if (!dying) {
        dying = 1;
        if (notify_fd >= 0) {
            struct sync_msg m = {SYNC_FAILED, 0};
            (void)!send(notify_fd, &m, sizeof(m), MSG_NOSIGNAL);
        }
    }
    _exit(1);
}

// Children are killed before the line is written: they would otherwise see EOF from us and
// log their own, less useful error after ours, and the runtime shows the last error line.
// They are the runtime's children (CLONE_PARENT), not ours to wait for, but a pidfd can be
// polled by anyone: wait (up to 1 s) until each has exited, so that when the runtime reports
// the failure nothing it started is still running.
static void kill_children(void) {
    for (int i = 0; i < 2; i++) {
        if (kill_on_failure[i] <= 0) continue;
        int pidfd = (int)syscall(SYS_pidfd_open, kill_on_failure[i], 0);
        kill(kill_on_failure[i], SIGKILL);
        if (pidfd < 0) continue;
        struct pollfd p = {pidfd, POLLIN, 0};
        while (poll(&p, 1, 1000) < 0 && errno == EINTR) {}
        close(pidfd);
    }
}

// Fails with the errno text appended.
static void bail(const char *f, ...) __attribute__((format(printf, 1, 2), noreturn));
static void bail(const char *f, ...) {
    int err = errno;
    kill_children();
    va_list ap;
    va_start(ap, f);
    log_message("error", err, f, ap);
    va_end(ap);
    die();
}

// Fails without an errno.
static void bailx(const char *f, ...) __attribute__((format(printf, 1, 2), noreturn));
static void bailx(const char *f, ...) {
    kill_children();
    va_list ap;
    va_start(ap, f);
    log_message("error", -1, f, ap);
    va_end(ap);
    die();
}

// --- I/O helpers -------------------------------------------------------------------------

static const char *sync_name(uint32_t type) {
    switch (type) {
    case SYNC_USERMAP_PLS: return "usermap-please";
    case SYNC_USERMAP_ACK: return "usermap-ack";
    case SYNC_TIMENS_PLS: return "timens-please";
    case SYNC_TIMENS_ACK: return "timens-ack";
    case SYNC_STAGE2_PID: return "stage2-pid";
    case SYNC_GO: return "go";
    case SYNC_FINISHED: return "finished";
    case SYNC_FAILED: return "failed";
    case SYNC_MOUNTSRC_PLS: return "mountsources-please";
    case SYNC_MOUNTSRC: return "mountsource";
    default: return "unknown";
    }
}

static void send_msg(int fd, uint32_t type, int32_t value, const char *peer) {
    struct sync_msg m = {type, value};
    ssize_t n;
    debug("send %s(%d) to %s", sync_name(type), value, peer);
    do n = send(fd, &m, sizeof(m), MSG_NOSIGNAL); // a dead peer is an error, not SIGPIPE
    while (n < 0 && errno == EINTR);
    if (n < 0) bail("send %s to %s", sync_name(type), peer);
    if (n != (ssize_t)sizeof(m)) bailx("send %s to %s: short write", sync_name(type), peer);
}

// Returns the message; a peer that reported its own failure makes us exit quietly, since its
// error line is the one the runtime should show.
static struct sync_msg recv_msg(int fd, const char *peer, const char *waiting_for) {
    struct sync_msg m;
    ssize_t n;
    do n = recv(fd, &m, sizeof(m), 0);
    while (n < 0 && errno == EINTR);
    if (n < 0) bail("receive from %s (waiting for %s)", peer, waiting_for);
    if (n == 0) bailx("%s exited while we waited for %s", peer, waiting_for);
    if (n != (ssize_t)sizeof(m)) bailx("short message from %s (waiting for %s)", peer, waiting_for);
    if (m.type == SYNC_FAILED) {
        debug("%s failed, exiting", peer); // it exits by itself, nothing to kill
        _exit(1);
    }
    debug("received %s(%d) from %s", sync_name(m.type), m.value, peer);
    return m;
}

static void expect_msg(int fd, uint32_t want, const char *peer) {
    struct sync_msg m = recv_msg(fd, peer, sync_name(want));
    if (m.type != want)
        bailx("unexpected message %s (0x%x) from %s, want %s", sync_name(m.type), m.type, peer,
              sync_name(want));
}

static ssize_t read_full(int fd, void *buf, size_t len) {
    size_t done = 0;
    while (done < len) {
        ssize_t n = read(fd, (char *)buf + done, len - done);
        if (n < 0 && errno == EINTR) continue;
        if (n < 0) return -1;
        if (n == 0) break;
        done += (size_t)n;
    }
    return (ssize_t)done;
}

static void write_proc_file(pid_t pid, const char *name, const char *data, size_t len) {
    char path[64];
    struct text t = {path, sizeof(path), 0};
    if (pid > 0) text_format(&t, "/proc/%d/%s", pid, name);
    else text_format(&t, "/proc/self/%s", name);
    debug("write \"%s\"", path);
    int fd = open(path, O_WRONLY | O_CLOEXEC);
    if (fd < 0) bail("open \"%s\"", path);
    // uid_map, gid_map and timens_offsets must be written in a single write(2).
    ssize_t n = write(fd, data, len);
    if (n < 0) bail("write \"%s\"", path);
    if ((size_t)n != len) bailx("write \"%s\": %d of %u bytes written", path, (int)n, (unsigned)len);
    close(fd);
}

// Strict: digits only, not stdio, and open. Returns -1 when unset and not required.
static int env_fd(const char *name, int required) {
    const char *value = getenv(name);
    if (value == NULL) {
        if (required) bailx("%s is not set", name);
        return -1;
    }
    size_t len = strlen(value);
    if (len == 0 || len > 9 || strspn(value, "0123456789") != len)
        bailx("%s=\"%s\" is not a descriptor number", name, value);
    int fd = 0;
    for (size_t i = 0; i < len; i++) fd = fd * 10 + (value[i] - '0');
    if (fd <= STDERR_FILENO) bailx("%s=%d is one of the container's stdio descriptors", name, fd);
    if (fcntl(fd, F_GETFD) < 0) bail("%s=%d", name, fd);
    return fd;
}

// The first descriptor number of the mount sources (SKIFF_ENV_MOUNTFDS): a plain number, not
// an open descriptor, above the runtime's channels.
static int env_number(const char *name) {
    const char *value = getenv(name);
    if (value == NULL) bailx("%s is not set", name);
    size_t len = strlen(value);
    if (len == 0 || len > 6 || strspn(value, "0123456789") != len)
        bailx("%s=\"%s\" is not a descriptor number", name, value);
    int n = 0;
    for (size_t i = 0; i < len; i++) n = n * 10 + (value[i] - '0');
    if (n <= STDERR_FILENO) bailx("%s=%d is one of the container's stdio descriptors", name, n);
    return n;
}

// One sync message with `count` fds attached (SCM_RIGHTS; none when 0). Returns sendmsg's
// result (EINTR retried), for the caller's own error.
static ssize_t send_with_fds(int sock, struct sync_msg m, const int *fds, int count) {
    struct iovec iov = {&m, sizeof(m)};
    char control[CMSG_SPACE(sizeof(int) * SKIFF_BOOTSTRAP_MAX_CGROUPS)];
    memset(control, 0, sizeof(control));
    struct msghdr hdr = {0};
    hdr.msg_iov = &iov;
    hdr.msg_iovlen = 1;
    if (count > 0) {
        hdr.msg_control = control;
        hdr.msg_controllen = CMSG_SPACE(sizeof(int) * (size_t)count);
        struct cmsghdr *c = CMSG_FIRSTHDR(&hdr);
        c->cmsg_level = SOL_SOCKET;
        c->cmsg_type = SCM_RIGHTS;
        c->cmsg_len = CMSG_LEN(sizeof(int) * (size_t)count);
        memcpy(CMSG_DATA(c), fds, sizeof(int) * (size_t)count);
    }
    ssize_t n;
    do n = sendmsg(sock, &hdr, MSG_NOSIGNAL);
    while (n < 0 && errno == EINTR);
    return n;
}

// One sync message and the fds attached to it (close-on-exec), at most
// SKIFF_BOOTSTRAP_MAX_CGROUPS; *count is -1 when anything but SCM_RIGHTS, or more than fit,
// came with it. Returns recvmsg's result (EINTR retried; 0: the peer exited).
static ssize_t recv_with_fds(int sock, struct sync_msg *m, int *fds, int *count) {
    struct iovec iov = {m, sizeof(*m)};
    char control[CMSG_SPACE(sizeof(int) * SKIFF_BOOTSTRAP_MAX_CGROUPS)];
    struct msghdr hdr = {0};
    hdr.msg_iov = &iov;
    hdr.msg_iovlen = 1;
    hdr.msg_control = control;
    hdr.msg_controllen = sizeof(control);
    ssize_t n;
    do n = recvmsg(sock, &hdr, MSG_CMSG_CLOEXEC);
    while (n < 0 && errno == EINTR);
    *count = 0;
    if (n <= 0) return n;
    struct cmsghdr *c = CMSG_FIRSTHDR(&hdr);
    if (hdr.msg_flags & MSG_CTRUNC) {
        *count = -1;
    } else if (c != NULL) {
        if (c->cmsg_level != SOL_SOCKET || c->cmsg_type != SCM_RIGHTS || c->cmsg_len < CMSG_LEN(0) ||
            CMSG_NXTHDR(&hdr, c) != NULL) {
            *count = -1;
        } else {
            *count = (int)((c->cmsg_len - CMSG_LEN(0)) / sizeof(int));
            memcpy(fds, CMSG_DATA(c), sizeof(int) * (size_t)*count);
        }
    }
    return n;
}

// One O_PATH fd per message, its index as the value.
static void send_fd_msg(int sock, int index, int fd) {
    struct sync_msg m = {SYNC_MOUNTSRC, index};
    if (send_with_fds(sock, m, &fd, 1) < 0) bail("send mount source %d to stage-1", index);
}

// Returns the fd attached to a SYNC_MOUNTSRC message with value `index`, close-on-exec.
static int recv_fd_msg(int sock, int index) {
    struct sync_msg m = {0, 0};
    int fds[SKIFF_BOOTSTRAP_MAX_CGROUPS];
    int count;
    ssize_t n = recv_with_fds(sock, &m, fds, &count);
    if (n < 0) bail("receive mount source %d from stage-0", index);
    if (n == 0) bailx("stage-0 exited while we waited for mount source %d", index);
    if (m.type == SYNC_FAILED) die();
    if (n != (ssize_t)sizeof(m) || m.type != SYNC_MOUNTSRC || m.value != index || count != 1)
        bailx("unexpected message %s (0x%x) from stage-0, want mount source %d",
              sync_name(m.type), m.type, index);
    return fds[0];
}

// --- Stage 0: the parent ------------------------------------------------------------------

// Runs newuidmap/newgidmap for a map: "<inside> <outside> <count>" lines become argv triples.
static void run_map_tool(const char *tool, const char *argv0, pid_t pid, const char *map,
                         size_t map_len) {
    char copy[SKIFF_MAX_STRING];
    char *argv[3 + SKIFF_MAX_STRING / 2];
    char pid_text[16];
    struct text pt = {pid_text, sizeof(pid_text), 0};
    text_format(&pt, "%d", pid);
    memcpy(copy, map, map_len + 1); // the parser bounds map_len below SKIFF_MAX_STRING
    int argc = 0;
    argv[argc++] = (char *)argv0;
    argv[argc++] = pid_text;
    for (char *p = copy; *p;) {
        p += strspn(p, " \t\n");
        if (!*p) break;
        char *field = p;
        size_t len = strcspn(p, " \t\n");
        p += len;
        if (*p) *p++ = '\0';
        if (strspn(field, "0123456789") != len)
            bailx("%s: map field \"%s\" is not a number", argv0, field);
        argv[argc++] = field;
    }
    argv[argc] = NULL;
    if (argc == 2 || (argc - 2) % 3 != 0)
        bailx("%s: map has %d numbers, want triples", argv0, argc - 2);

    int out[2];
    if (pipe2(out, O_CLOEXEC) < 0) bail("pipe for %s", argv0);
    debug("run \"%s\" for pid %d", tool, pid);
    pid_t child = fork();
    if (child < 0) bail("fork for %s", argv0);
    if (child == 0) {
        // fds 0-2 belong to the container: the tool gets /dev/null and our pipe instead, and
        // nothing else (the preserved fds must not reach a setuid binary).
        int null_fd = open("/dev/null", O_RDONLY | O_CLOEXEC);
        if (null_fd >= 0) dup2(null_fd, STDIN_FILENO);
        else close(STDIN_FILENO);
        dup2(out[1], STDOUT_FILENO);
        dup2(out[1], STDERR_FILENO);
        if (syscall(SYS_close_range, 3u, ~0u, 0u) < 0) {
            for (int fd = 3; fd < 1024; fd++) close(fd);
        }
        char *envp[] = {NULL};
        execve(tool, argv, envp);
        char msg[256];
        struct text t = {msg, sizeof(msg), 0};
        text_format(&t, "exec: %s", strerrordesc_np(errno));
        write_all(STDERR_FILENO, msg, t.len);
        _exit(127);
    }
    close(out[1]);
    char output[1024];
    ssize_t got = read_full(out[0], output, sizeof(output) - 1);
    close(out[0]);
    if (got < 0) got = 0;
    while (got > 0 && (output[got - 1] == '\n' || output[got - 1] == ' ')) got--;
    output[got] = '\0';
    int status;
    pid_t r;
    do r = waitpid(child, &status, 0);
    while (r < 0 && errno == EINTR);
    if (r < 0) bail("wait for %s", argv0);
    if (WIFEXITED(status) && WEXITSTATUS(status) == 0) return;
    char how[32];
    struct text ht = {how, sizeof(how), 0};
    if (WIFEXITED(status)) text_format(&ht, "exit status %d", WEXITSTATUS(status));
    else text_format(&ht, "signal %d", WTERMSIG(status));
    bailx("run \"%s\" for pid %d: %s: %s", tool, pid, how, got ? output : "no output");
}

static void write_maps(const struct skiff_bootstrap *cfg, pid_t pid) {
    // setgroups must be "deny" before gid_map is written for an unprivileged mapping
    // (kernel >= 3.19, CVE-2014-8989); it cannot change after the map exists.
    if (cfg->setgroups_deny) write_proc_file(pid, "setgroups", "deny", 4);
    if (cfg->newuidmap_path)
        run_map_tool(cfg->newuidmap_path, "newuidmap", pid, cfg->uid_map, cfg->uid_map_len);
    else
        write_proc_file(pid, "uid_map", cfg->uid_map, cfg->uid_map_len);
    if (cfg->newgidmap_path)
        run_map_tool(cfg->newgidmap_path, "newgidmap", pid, cfg->gid_map, cfg->gid_map_len);
    else
        write_proc_file(pid, "gid_map", cfg->gid_map, cfg->gid_map_len);
}

// A real fork of the address space, as runc's clone_parent(): no CLONE_VM, and a NULL stack
// keeps the caller's (copied) stack, so the child returns here like fork(). CLONE_PARENT
// makes the runtime, not stage 0, the parent, so stage 0 can exit and the runtime reaps all.
// As with runc's clone(), glibc's thread descriptor keeps the parent's tid; gettid() and
// raise() ask the kernel, and nothing on our path reads the stale value.
static pid_t clone_parent(void) {
#if defined(__s390__) || defined(__CRIS__)
    return (pid_t)syscall(SYS_clone, 0, CLONE_PARENT | SIGCHLD);
#else
    return (pid_t)syscall(SYS_clone, CLONE_PARENT | SIGCHLD, 0, NULL, NULL, 0);
#endif
}

static void stage1(const struct skiff_bootstrap *cfg, int sock, int grandchild_sock);
static void stage2(const struct skiff_bootstrap *cfg, int sock);

// Opens every bind mount source as host root but inside stage 1's new mount namespace (runc
// 1.1's mountFds): the container's user namespace may not reach a root-only source, and a
// bind mount's source must lie in the caller's mount namespace, so neither the runtime nor
// init can do it alone. setns into a mount namespace moves our root and cwd to its root,
// hence absolute paths; we go back to our own namespace afterwards.
static void send_mount_sources(const struct skiff_bootstrap *cfg, int sock, pid_t pid) {
    char path[64];
    struct text t = {path, sizeof(path), 0};
    text_format(&t, "/proc/%d/ns/mnt", pid);
    int own = open("/proc/self/ns/mnt", O_RDONLY | O_CLOEXEC);
    if (own < 0) bail("open \"/proc/self/ns/mnt\"");
    int target = open(path, O_RDONLY | O_CLOEXEC);
    if (target < 0) bail("open \"%s\"", path);
    if (setns(target, CLONE_NEWNS) < 0) bail("setns mnt \"%s\"", path);
    close(target);
    for (int i = 0; i < cfg->mount_source_count; i++) {
        // Followed like mount(2) follows a bind source; O_PATH needs no read permission.
        int fd = open(cfg->mount_sources[i], O_PATH | O_CLOEXEC);
        if (fd < 0) bail("open mount source \"%s\"", cfg->mount_sources[i]);
        send_fd_msg(sock, i, fd);
        close(fd);
    }
    if (setns(own, CLONE_NEWNS) < 0) bail("setns mnt \"/proc/self/ns/mnt\" (back)");
    close(own);
    debug("sent %d mount sources", cfg->mount_source_count);
}

// The container's cgroup v1 hierarchies, opened by stage 0 and joined by stage 2 (the
// container's init, or the exec'd process) as soon as stage 0 lets it go on. Stages 0 and 1
// stay outside: what they make — the namespaces, the copies of the address space that each
// clone makes, stage 2's task and kernel stack — is charged to the runtime's memory cgroup, as
// when crun clones the container before moving it; the container pays only for what its init
// does once it is inside, before any of the container's code runs (a smaller memory floor). The
// cgroup namespace is unshared after the join (stage 2), so that its root is the container's
// cgroup. Writing "0" to a v1 tasks file moves the calling thread, and stage 2 is
// single-threaded: the kernel lets a thread move itself without the global cgroup threadgroup
// lock, whose first taker waits for an RCU grace period (5-15 ms) when the runtime writes a pid
// to cgroup.procs instead.
//
// On create the directories do not exist yet when the bootstrap data arrives: the runtime makes
// them (~30 us of kernel time each) and writes their limits while stages 0 and 1 make the
// namespaces, then sends one byte, SKIFF_CGROUPS_READY, on the init socket. Stage 0 reads it
// after its pid report, opens the tasks files in the runtime's mount namespace (stage 2 may no
// longer see them) and hands them to stage 2 with the go-ahead (SCM_RIGHTS), so no stage 2
// joins a directory before its limits are written. Stage 2 closes them right after the join,
// before any Swift runs (close-on-exec would close them only at the container's execve).
static int cgroup_task_fds[SKIFF_BOOTSTRAP_MAX_CGROUPS];
static int cgroup_task_fd_count;

static void open_cgroups(int init_fd, const struct skiff_bootstrap *cfg) {
    if (cfg->cgroup_tasks_count == 0) return;
    char ready = 0;
    ssize_t n;
    do n = read(init_fd, &ready, 1);
    while (n < 0 && errno == EINTR);
    if (n < 0) bail("read cgroups-ready from the runtime");
    if (n == 0) bailx("the runtime closed %s before the cgroups were ready", SKIFF_ENV_INITPIPE);
    if (ready != SKIFF_CGROUPS_READY) bailx("unexpected byte 0x%x from the runtime, want cgroups-ready", (unsigned char)ready);
    for (int i = 0; i < cfg->cgroup_tasks_count; i++) {
        const char *path = cfg->cgroup_tasks[i];
        int fd = open(path, O_WRONLY | O_CLOEXEC | O_NOFOLLOW);
        if (fd < 0) bail("join cgroup: open \"%s\"", path);
        cgroup_task_fds[cgroup_task_fd_count++] = fd;
    }
}

// The go-ahead, with the tasks files attached (SCM_RIGHTS; none without cgroup v1); stage 0
// closes its copies once they are sent.
static void send_go(int sock) {
    struct sync_msg m = {SYNC_GO, cgroup_task_fd_count};
    debug("send go(%d) to stage-2", cgroup_task_fd_count);
    ssize_t n = send_with_fds(sock, m, cgroup_task_fds, cgroup_task_fd_count);
    if (n < 0) bail("send go to stage-2");
    if (n != (ssize_t)sizeof(m)) bailx("send go to stage-2: short write");
    for (int i = 0; i < cgroup_task_fd_count; i++) close(cgroup_task_fds[i]);
    cgroup_task_fd_count = 0;
}

// Stage 2's side: the go-ahead and exactly the tasks files the bootstrap data names.
static void receive_go(int sock, const struct skiff_bootstrap *cfg) {
    struct sync_msg m = {0, 0};
    int count;
    ssize_t n = recv_with_fds(sock, &m, cgroup_task_fds, &count);
    if (n < 0) bail("receive go from stage-0");
    if (n == 0) bailx("stage-0 exited while we waited for go");
    if (m.type == SYNC_FAILED) die();
    if (n != (ssize_t)sizeof(m) || m.type != SYNC_GO)
        bailx("unexpected message %s (0x%x) from stage-0, want go", sync_name(m.type), m.type);
    if (count != cfg->cgroup_tasks_count || m.value != count)
        bailx("go from stage-0 carries %d cgroup files, want %d", count, cfg->cgroup_tasks_count);
    cgroup_task_fd_count = count;
    debug("received go(%d) from stage-0", count);
}

// The paths are still mapped here (stage 2 unmaps the bootstrap message only when it leaves),
// so a failure names the file.
static void join_cgroups(const struct skiff_bootstrap *cfg) {
    for (int i = 0; i < cgroup_task_fd_count; i++) {
        if (write(cgroup_task_fds[i], "0", 1) != 1) bail("join cgroup: write \"%s\"", cfg->cgroup_tasks[i]);
        close(cgroup_task_fds[i]);
    }
    if (cgroup_task_fd_count > 0) debug("joined %d cgroup v1 hierarchies", cgroup_task_fd_count);
    cgroup_task_fd_count = 0;
}

static void stage0(int init_fd, const struct skiff_bootstrap *cfg) {
    // Named for ps: init is exec'd through /proc/<pid>/fd/N (the sealed binary), which would
    // otherwise show as "N".
    prctl(PR_SET_NAME, "skiff:0:parent", 0, 0, 0);
    // oom_score_adj first: once we are non-dumpable, /proc/self/oom_score_adj belongs to root
    // and an unprivileged runtime could no longer write it. Children inherit the value.
    if (cfg->oom_score_adj)
        write_proc_file(0, "oom_score_adj", cfg->oom_score_adj, strlen(cfg->oom_score_adj));

    // CVE-2016-9962: a process that joins a running container's namespaces must not be
    // ptrace-able by the container's processes while it still holds the runtime's fds. As in
    // runc, only when joining: a fresh container has no other process, and a non-dumpable
    // process's /proc files belong to root, which breaks unprivileged (rootless) runtimes.
    if (cfg->ns_path_count > 0) {
        debug("set non-dumpable");
        if (prctl(PR_SET_DUMPABLE, 0, 0, 0, 0) < 0) bail("prctl PR_SET_DUMPABLE 0");
    }

    int child_pair[2], grandchild_pair[2];
    if (socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0, child_pair) < 0)
        bail("socketpair for stage-1");
    if (socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0, grandchild_pair) < 0)
        bail("socketpair for stage-2");

    debug("clone stage-1");
    pid_t stage1_pid = clone_parent();
    if (stage1_pid < 0) bail("clone stage-1");
    if (stage1_pid == 0) {
        stage = "stage-1";
        notify_fd = child_pair[1];
        close(child_pair[0]);
        close(grandchild_pair[0]);
        close(init_fd); // only stage 0 reports to the runtime
        stage1(cfg, child_pair[1], grandchild_pair[1]);
        return; // in stage 2, on its way back to Swift
    }
    kill_on_failure[0] = stage1_pid;
    close(child_pair[1]); // so that stage 1's death reads as EOF
    close(grandchild_pair[1]);
    int sock = child_pair[0];

    pid_t stage2_pid = 0;
    while (stage2_pid == 0) {
        struct sync_msg m = recv_msg(sock, "stage-1", "a request or stage-2's pid");
        switch (m.type) {
        case SYNC_USERMAP_PLS:
            write_maps(cfg, stage1_pid);
            send_msg(sock, SYNC_USERMAP_ACK, 0, "stage-1");
            break;
        case SYNC_TIMENS_PLS:
            write_proc_file(stage1_pid, "timens_offsets", cfg->time_offsets,
                            cfg->time_offsets_len);
            send_msg(sock, SYNC_TIMENS_ACK, 0, "stage-1");
            break;
        case SYNC_MOUNTSRC_PLS:
            if (cfg->mount_source_count == 0) bailx("stage-1 asked for mount sources there are none of");
            send_mount_sources(cfg, sock, stage1_pid);
            break;
        case SYNC_STAGE2_PID:
            if (m.value <= 0) bailx("stage-1 reported stage-2 pid %d", m.value);
            stage2_pid = m.value;
            // Stage 1 exits now and the runtime may reap it at any time: its pid could be
            // reused, so it is no longer ours to kill.
            kill_on_failure[0] = 0;
            kill_on_failure[1] = stage2_pid;
            break;
        default:
            bailx("unexpected message %s (0x%x) from stage-1", sync_name(m.type), m.type);
        }
    }
    close(sock);

    char report[96];
    struct text t = {report, sizeof(report), 0};
    text_format(&t, "{\"stage1_pid\":%d,\"pid\":%d}\n", stage1_pid, stage2_pid);
    debug("report pids to the runtime: stage-1 %d, stage-2 %d", stage1_pid, stage2_pid);
    for (size_t done = 0; done < t.len;) {
        ssize_t n = send(init_fd, report + done, t.len - done, MSG_NOSIGNAL);
        if (n < 0 && errno == EINTR) continue;
        if (n < 0) bail("send pid report on %s", SKIFF_ENV_INITPIPE);
        done += (size_t)n;
    }
    open_cgroups(init_fd, cfg);
    close(init_fd);

    send_go(grandchild_pair[0]);
    expect_msg(grandchild_pair[0], SYNC_FINISHED, "stage-2");
    debug("done");
    _exit(0);
}

// --- Stage 1: the child -------------------------------------------------------------------

static void ask_stage0(int sock, uint32_t request, uint32_t ack) {
    // A non-dumpable process's /proc/<pid> files belong to root: an unprivileged stage 0 (or
    // newuidmap, which checks the owner) could not write ours. Dumpable only for the request.
    int was_dumpable = prctl(PR_GET_DUMPABLE, 0, 0, 0, 0);
    if (was_dumpable == 0 && prctl(PR_SET_DUMPABLE, 1, 0, 0, 0) < 0)
        bail("prctl PR_SET_DUMPABLE 1");
    send_msg(sock, request, 0, "stage-0");
    expect_msg(sock, ack, "stage-0");
    if (was_dumpable == 0 && prctl(PR_SET_DUMPABLE, 0, 0, 0, 0) < 0)
        bail("prctl PR_SET_DUMPABLE 0");
}

static void become_root(const char *why) {
    if (setresgid(0, 0, 0) < 0) bail("setresgid 0 after %s", why);
    if (setresuid(0, 0, 0) < 0) bail("setresuid 0 after %s", why);
}

static int same_namespace(int fd, const char *self_path) {
    struct stat a, b;
    return fstat(fd, &a) == 0 && stat(self_path, &b) == 0 && a.st_dev == b.st_dev &&
           a.st_ino == b.st_ino;
}

static void join_namespaces(const struct skiff_bootstrap *cfg) {
    int fds[SKIFF_BOOTSTRAP_MAX_NS];
    int user = -1;
    // Open them all first: joining a mount namespace changes what later paths resolve to.
    for (int i = 0; i < cfg->ns_path_count; i++) {
        const struct skiff_ns_path *ns = &cfg->ns_paths[i];
        fds[i] = open(ns->path, O_RDONLY | O_CLOEXEC);
        if (fds[i] < 0) bail("open %s namespace \"%s\"", ns->type, ns->path);
        if (ns->nstype == CLONE_NEWUSER) user = i;
    }
    // Two passes, as runc since #4492 and nsenter(1): a privileged runtime may be asked for
    // namespaces not owned by the user namespace it joins, which only host privileges can
    // enter; an unprivileged one can enter the container's only after joining its user
    // namespace. So join what we can, then the user namespace, then the rest.
    int pending[SKIFF_BOOTSTRAP_MAX_NS] = {0};
    for (int i = 0; i < cfg->ns_path_count; i++) {
        const struct skiff_ns_path *ns = &cfg->ns_paths[i];
        if (i == user) continue;
        debug("setns %s \"%s\"", ns->type, ns->path);
        if (setns(fds[i], ns->nstype) == 0) {
            close(fds[i]);
        } else if (errno == EPERM && user >= 0) {
            debug("setns %s: not permitted yet, retrying after the user namespace", ns->type);
            pending[i] = 1;
        } else {
            bail("setns %s \"%s\"", ns->type, ns->path);
        }
    }
    if (user >= 0) {
        const struct skiff_ns_path *ns = &cfg->ns_paths[user];
        // setns into the user namespace we are already in fails with EINVAL.
        if (same_namespace(fds[user], "/proc/self/ns/user")) {
            debug("already in user namespace \"%s\"", ns->path);
        } else {
            debug("setns %s \"%s\"", ns->type, ns->path);
            if (setns(fds[user], CLONE_NEWUSER) < 0) bail("setns %s \"%s\"", ns->type, ns->path);
            // Our host uid means nothing in there; be its root so that files and namespaces
            // created from now on get sane owners (runc #4473).
            become_root("joining the user namespace");
        }
        close(fds[user]);
        for (int i = 0; i < cfg->ns_path_count; i++) {
            if (!pending[i]) continue;
            const struct skiff_ns_path *p = &cfg->ns_paths[i];
            debug("setns %s \"%s\"", p->type, p->path);
            if (setns(fds[i], p->nstype) < 0) bail("setns %s \"%s\"", p->type, p->path);
            close(fds[i]);
        }
    }
}

// The fds stage 0 opened in our mount namespace, each put at SKIFF_ENV_MOUNTFDS + its index
// for the Swift init (which mounts from /proc/self/fd/N). A number already in use is an error,
// never silently replaced.
static void receive_mount_sources(const struct skiff_bootstrap *cfg, int sock) {
    int base = env_number(SKIFF_ENV_MOUNTFDS);
    int was_dumpable = prctl(PR_GET_DUMPABLE, 0, 0, 0, 0);
    if (was_dumpable == 0 && prctl(PR_SET_DUMPABLE, 1, 0, 0, 0) < 0)
        bail("prctl PR_SET_DUMPABLE 1");
    send_msg(sock, SYNC_MOUNTSRC_PLS, 0, "stage-0");
    for (int i = 0; i < cfg->mount_source_count; i++) {
        int fd = recv_fd_msg(sock, i);
        int want = base + i;
        if (fcntl(want, F_GETFD) >= 0) bailx("mount source %d: descriptor %d is in use", i, want);
        int placed = fcntl(fd, F_DUPFD_CLOEXEC, want);
        if (placed < 0) bail("mount source %d: dup to %d", i, want);
        if (placed != want) bailx("mount source %d: got descriptor %d, want %d", i, placed, want);
        close(fd);
    }
    if (was_dumpable == 0 && prctl(PR_SET_DUMPABLE, 0, 0, 0, 0) < 0)
        bail("prctl PR_SET_DUMPABLE 0");
    debug("received %d mount sources at %d", cfg->mount_source_count, base);
}

// A new network namespace starts with lo down; runc and crun bring it up (a joined one is
// left as its owner set it), and programs expect 127.0.0.1 to answer. Stage 1 made the
// namespace, and does this after stage 2 is on its way, while stage 2 and the Swift init
// set the rest up on the other core (~0.06 ms, most of it the kernel's notifiers). The
// runtime reads stage 1's exit status before it lets the container's process run.
static void bring_up_loopback(void) {
    int fd = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
    if (fd < 0) bail("bring up lo: socket");
    struct ifreq req;
    memset(&req, 0, sizeof(req));
    memcpy(req.ifr_name, "lo", 3);
    if (ioctl(fd, SIOCGIFFLAGS, &req) < 0) bail("bring up lo: ioctl SIOCGIFFLAGS");
    if (!(req.ifr_flags & IFF_UP)) {
        req.ifr_flags |= IFF_UP;
        if (ioctl(fd, SIOCSIFFLAGS, &req) < 0) bail("bring up lo: ioctl SIOCSIFFLAGS");
    }
    close(fd);
    debug("lo is up");
}

static void stage1(const struct skiff_bootstrap *cfg, int sock, int grandchild_sock) {
    prctl(PR_SET_NAME, "skiff:1:child", 0, 0, 0);
    debug("started");
    join_namespaces(cfg);

    // The cgroup namespace is stage 2's to unshare, once it is in the container's cgroups.
    uint32_t flags = cfg->clone_flags & ~(uint32_t)CLONE_NEWCGROUP;
    if (flags & CLONE_NEWUSER) {
        // The user namespace alone and first: the others must be owned by it, and some kernel
        // objects (the mqueue mount's label, for one) get wrong owners when created together.
        debug("unshare user namespace");
        if (unshare(CLONE_NEWUSER) < 0) bail("unshare user namespace");
        // Writing our maps needs privilege over the parent namespace, which we just left.
        ask_stage0(sock, SYNC_USERMAP_PLS, SYNC_USERMAP_ACK);
        become_root("mapping the user namespace");
        flags &= ~(uint32_t)CLONE_NEWUSER;
    }
    if (flags) {
        debug("unshare 0x%x", flags);
        if (unshare((int)flags) < 0) bail("unshare namespaces 0x%x", flags);
    }
    // Offsets can only be set before any process lives in the time namespace: now, before
    // stage 2 (its first member) exists.
    if ((flags & CLONE_NEWTIME) && cfg->time_offsets)
        ask_stage0(sock, SYNC_TIMENS_PLS, SYNC_TIMENS_ACK);
    if (cfg->mount_source_count > 0) receive_mount_sources(cfg, sock);

    // A process does not enter the pid (or time) namespace it unshares; its children do.
    debug("clone stage-2");
    pid_t pid = clone_parent();
    if (pid < 0) bail("clone stage-2");
    if (pid == 0) {
        stage = "stage-2";
        close(sock);
        stage2(cfg, grandchild_sock);
        return;
    }
    kill_on_failure[0] = pid;
    close(grandchild_sock); // so that stage 2's death reads as EOF in stage 0
    send_msg(sock, SYNC_STAGE2_PID, pid, "stage-0");
    // A failure from here on kills stage 2 (kill_on_failure) and exits 1 with the error line.
    if (cfg->clone_flags & CLONE_NEWNET) bring_up_loopback();
    _exit(0);
}

// --- Stage 2: the container's init ---------------------------------------------------------

static void stage2(const struct skiff_bootstrap *cfg, int sock) {
    prctl(PR_SET_NAME, "skiff:2:init", 0, 0, 0);
    notify_fd = sock;
    kill_on_failure[0] = kill_on_failure[1] = 0;
    debug("started");
    receive_go(sock, cfg);
    join_cgroups(cfg);
    if ((cfg->clone_flags & CLONE_NEWCGROUP) && unshare(CLONE_NEWCGROUP) < 0) bail("unshare cgroup namespace");

    // A new session: the container must not share the runtime's controlling terminal; the
    // Swift init makes the console its controlling terminal later, if there is one.
    if (setsid() < 0) bail("setsid");
    if (setgid(0) < 0) bail("setgid 0");
    if (setuid(0) < 0) bail("setuid 0");
    // The supplementary groups are still the runtime's. When setgroups is denied (an
    // unprivileged mapping) they cannot be changed, and the kernel hides them anyway.
    if (!cfg->setgroups_deny && setgroups(0, NULL) < 0) bail("setgroups 0");

    send_msg(sock, SYNC_FINISHED, 0, "stage-0");
    close(sock);
    notify_fd = -1;
    unsetenv(SKIFF_ENV_INITPIPE);
    debug("returning to Swift");
    munmap(message, message_size);
    message = NULL;
}

// --- Entry --------------------------------------------------------------------------------

static void read_bootstrap(int init_fd, struct skiff_bootstrap *cfg) {
    uint8_t header[16];
    ssize_t n = read_full(init_fd, header, sizeof(header));
    if (n < 0) bail("read bootstrap header");
    if (n != (ssize_t)sizeof(header))
        bailx("read bootstrap header: got %d of %u bytes", (int)n, (unsigned)sizeof(header));
    uint32_t magic, version, total;
    memcpy(&magic, header, 4);
    memcpy(&version, header + 4, 4);
    memcpy(&total, header + 8, 4);
    if (magic != SKIFF_BOOTSTRAP_MAGIC) bailx("bootstrap: bad magic 0x%x", magic);
    if (version != SKIFF_BOOTSTRAP_VERSION) bailx("bootstrap: unsupported version %u", version);
    if (total < sizeof(header) || total > SKIFF_BOOTSTRAP_MAX)
        bailx("bootstrap: total length %u outside %u..%u", total, (unsigned)sizeof(header),
              SKIFF_BOOTSTRAP_MAX);
    debug("read bootstrap message of %u bytes", total);

    // mmap, not malloc: stage 2 must give it back after clone, where malloc is off limits.
    void *buf = mmap(NULL, total, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    if (buf == MAP_FAILED) bail("mmap %u bytes for the bootstrap message", total);
    message = buf;
    message_size = total;
    memcpy(message, header, sizeof(header));
    n = read_full(init_fd, message + sizeof(header), total - sizeof(header));
    if (n < 0) bail("read bootstrap message");
    if ((size_t)n != total - sizeof(header))
        bailx("read bootstrap message: got %d of %u bytes", (int)n + 16, total);

    const char *error = NULL;
    if (skiff_bootstrap_parse(message, total, cfg, &error) < 0) bailx("bootstrap: %s", error);
}

// Set once stage 2 has returned from the C stage: this process is the container's init. Swift's
// main asks this rather than reading its own arguments, which on Linux come from
// /proc/self/cmdline: stage 2 has joined the container's mount namespace by then, so that
// file is the container's to provide (no /proc mounted, or a plain file planted at the path).
static int returned_in_stage2;

__attribute__((constructor)) static void skiff_nsexec(void) {
    // The common case, the ordinary CLI: one environment lookup and back.
    if (getenv(SKIFF_ENV_INITPIPE) == NULL) return;

    log_fd = env_fd(SKIFF_ENV_LOGPIPE, 1); // errors before this point go nowhere
    const char *level = getenv(SKIFF_ENV_LOGLEVEL);
    debug_enabled = level != NULL && strcmp(level, "debug") == 0;
    int init_fd = env_fd(SKIFF_ENV_INITPIPE, 1);
    (void)env_fd(SKIFF_ENV_SYNCPIPE, 1); // the Swift init's; checked here to fail early
    (void)env_fd(SKIFF_ENV_FIFOFD, 0);
    debug("started");

    static struct skiff_bootstrap cfg;
    read_bootstrap(init_fd, &cfg);
    stage0(init_fd, &cfg); // returns only in stage 2
    returned_in_stage2 = 1;
}

int skiff_nsexec_linked(void) {
    return 1;
}

int skiff_nsexec_is_container_init(void) {
    return returned_in_stage2;
}
