#include "cshims.h"

// The commit `skiff --version` reports: the Makefile writes skiff_commit.h (git-ignored).
#if __has_include("skiff_commit.h")
#include "skiff_commit.h"
#endif
#ifndef SKIFF_COMMIT
#define SKIFF_COMMIT "unknown"
#endif

const char *skiff_build_commit(void) { return SKIFF_COMMIT; }

struct skiff_kernel_sigaction {
    void *handler;
    unsigned long flags;
    void *restorer;
    uint64_t mask;
};

void skiff_reset_signals(void) {
    struct skiff_kernel_sigaction action = { .handler = SIG_DFL };
    for (int signal = 1; signal <= 64; signal++) {
        if (signal == SIGKILL || signal == SIGSTOP) continue;
        syscall(SYS_rt_sigaction, signal, &action, NULL, sizeof(uint64_t));
    }
    uint64_t empty = 0;
    syscall(SYS_rt_sigprocmask, SIG_SETMASK, &empty, NULL, sizeof(uint64_t));
}

#include <sys/ioctl.h>
#include <termios.h>

int skiff_send_fd(int socket, int fd, const char *name) {
    char control[CMSG_SPACE(sizeof(int))];
    memset(control, 0, sizeof control);
    struct iovec iov = { .iov_base = (void *)name, .iov_len = strlen(name) };
    struct msghdr msg = { .msg_iov = &iov, .msg_iovlen = 1, .msg_control = control,
                          .msg_controllen = sizeof control };
    struct cmsghdr *cmsg = CMSG_FIRSTHDR(&msg);
    cmsg->cmsg_level = SOL_SOCKET;
    cmsg->cmsg_type = SCM_RIGHTS;
    cmsg->cmsg_len = CMSG_LEN(sizeof(int));
    memcpy(CMSG_DATA(cmsg), &fd, sizeof(int));
    ssize_t sent;
    do { sent = sendmsg(socket, &msg, MSG_NOSIGNAL); } while (sent < 0 && errno == EINTR);
    return sent < 0 ? -1 : 0;
}

int skiff_recv_fd(int socket, char *name, size_t name_size) {
    char control[CMSG_SPACE(sizeof(int))];
    struct iovec iov = { .iov_base = name, .iov_len = name_size > 0 ? name_size - 1 : 0 };
    struct msghdr msg = { .msg_iov = &iov, .msg_iovlen = 1, .msg_control = control,
                          .msg_controllen = sizeof control };
    ssize_t got;
    do { got = recvmsg(socket, &msg, MSG_CMSG_CLOEXEC); } while (got < 0 && errno == EINTR);
    if (got < 0) return -1;
    if (name_size > 0) name[got] = 0;
    for (struct cmsghdr *c = CMSG_FIRSTHDR(&msg); c; c = CMSG_NXTHDR(&msg, c)) {
        if (c->cmsg_level == SOL_SOCKET && c->cmsg_type == SCM_RIGHTS && c->cmsg_len == CMSG_LEN(sizeof(int))) {
            int fd;
            memcpy(&fd, CMSG_DATA(c), sizeof fd);
            return fd;
        }
    }
    errno = got == 0 ? ECONNRESET : EBADMSG;
    return -1;
}

int skiff_pty_peer(int master) {
    int unlock = 0;
    if (ioctl(master, TIOCSPTLCK, &unlock) < 0) return -1;
    return ioctl(master, TIOCGPTPEER, O_RDWR | O_NOCTTY | O_CLOEXEC);
}

int skiff_set_ctty(int fd) { return ioctl(fd, TIOCSCTTY, 0); }

int skiff_set_winsize(int fd, unsigned short rows, unsigned short cols) {
    struct winsize size = { .ws_row = rows, .ws_col = cols };
    return ioctl(fd, TIOCSWINSZ, &size);
}

int skiff_get_winsize(int fd, unsigned short *rows, unsigned short *cols) {
    struct winsize size;
    if (ioctl(fd, TIOCGWINSZ, &size) < 0) return -1;
    *rows = size.ws_row;
    *cols = size.ws_col;
    return 0;
}

