// Helpers that need a child process or a thread in another network namespace: kept in C so
// that no Swift code runs in a forked child, and so a thread's namespace switch is undone
// before control returns to Swift.
#include "cshims.h"

#include <net/if.h>
#include <stdio.h>
#include <stdlib.h>
#include <linux/netlink.h>
#include <linux/rtnetlink.h>

static int write_whole(const char *path, const char *text) {
    int fd = open(path, O_WRONLY | O_CLOEXEC);
    if (fd < 0) return -1;
    size_t len = strlen(text);
    // The kernel takes a map in one write only.
    ssize_t n = write(fd, text, len);
    int saved = errno;
    close(fd);
    if (n < 0) { errno = saved; return -1; }
    if ((size_t)n != len) { errno = EIO; return -1; }
    return 0;
}

int skiff_userns_with_maps(const char *uid_map, const char *gid_map, const char **failed) {
    int pipefd[2];
    if (pipe2(pipefd, O_CLOEXEC) < 0) { *failed = "pipe2"; return -1; }
    // A raw clone with no new stack is a fork: the child continues here on a copy of this
    // stack. It only reads the pipe until the parent closes it, then exits.
    pid_t pid = (pid_t)syscall(SYS_clone, SKIFF_CLONE_NEWUSER | SIGCHLD, NULL, NULL, NULL, NULL);
    if (pid < 0) {
        int saved = errno;
        close(pipefd[0]);
        close(pipefd[1]);
        *failed = "clone(CLONE_NEWUSER)";
        errno = saved;
        return -1;
    }
    if (pid == 0) {
        char byte;
        close(pipefd[1]);
        while (read(pipefd[0], &byte, 1) < 0 && errno == EINTR) {}
        _exit(0);
    }
    close(pipefd[0]);
    char path[64];
    int fd = -1, saved = 0;
    snprintf(path, sizeof path, "/proc/%d/uid_map", (int)pid);
    if (write_whole(path, uid_map) < 0) { saved = errno; *failed = "write uid_map"; goto out; }
    snprintf(path, sizeof path, "/proc/%d/gid_map", (int)pid);
    if (write_whole(path, gid_map) < 0) { saved = errno; *failed = "write gid_map"; goto out; }
    snprintf(path, sizeof path, "/proc/%d/ns/user", (int)pid);
    fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0) { saved = errno; *failed = "open user namespace"; }
out:
    close(pipefd[1]);
    while (waitpid(pid, NULL, 0) < 0 && errno == EINTR) {}
    if (fd < 0) errno = saved;
    return fd;
}

struct link_request {
    struct nlmsghdr header;
    struct ifinfomsg info;
    char attributes[128];
};

static void add_attribute(struct link_request *req, unsigned short type, const void *data, size_t len) {
    struct rtattr *attr = (struct rtattr *)((char *)req + NLMSG_ALIGN(req->header.nlmsg_len));
    attr->rta_type = type;
    attr->rta_len = (unsigned short)RTA_LENGTH(len);
    memcpy(RTA_DATA(attr), data, len);
    req->header.nlmsg_len = NLMSG_ALIGN(req->header.nlmsg_len) + RTA_ALIGN(attr->rta_len);
}

// One RTM_NEWLINK on an existing link, acknowledged: 0, or -1 with the kernel's errno.
static int set_link(int sock, int index, unsigned int flags, unsigned int change, const char *name, int ns_fd) {
    struct link_request req;
    memset(&req, 0, sizeof req);
    req.header.nlmsg_len = NLMSG_LENGTH(sizeof req.info);
    req.header.nlmsg_type = RTM_NEWLINK;
    req.header.nlmsg_flags = NLM_F_REQUEST | NLM_F_ACK;
    req.header.nlmsg_seq = 1;
    req.info.ifi_family = AF_UNSPEC;
    req.info.ifi_index = index;
    req.info.ifi_flags = flags;
    req.info.ifi_change = change;
    if (name) add_attribute(&req, IFLA_IFNAME, name, strlen(name) + 1);
    if (ns_fd >= 0) {
        uint32_t fd = (uint32_t)ns_fd;
        add_attribute(&req, IFLA_NET_NS_FD, &fd, sizeof fd);
    }
    struct sockaddr_nl kernel = { .nl_family = AF_NETLINK };
    if (sendto(sock, &req, req.header.nlmsg_len, 0, (struct sockaddr *)&kernel, sizeof kernel) < 0) return -1;
    char reply[1024];
    for (;;) {
        ssize_t n = recv(sock, reply, sizeof reply, 0);
        if (n < 0) {
            if (errno == EINTR) continue;
            return -1;
        }
        for (struct nlmsghdr *h = (struct nlmsghdr *)reply; NLMSG_OK(h, (unsigned int)n); h = NLMSG_NEXT(h, n)) {
            if (h->nlmsg_type != NLMSG_ERROR) continue;
            int error = ((struct nlmsgerr *)NLMSG_DATA(h))->error;
            if (error == 0) return 0;
            errno = -error;
            return -1;
        }
    }
}

static int route_socket(void) {
    return socket(AF_NETLINK, SOCK_RAW | SOCK_CLOEXEC, NETLINK_ROUTE);
}

int skiff_netdev_move(int from_ns, const char *name, int to_ns, const char *new_name, int up, const char **failed) {
    int own = open("/proc/thread-self/ns/net", O_RDONLY | O_CLOEXEC);
    if (own < 0) { *failed = "open /proc/thread-self/ns/net"; return -1; }
    int rc = -1, saved = 0, sock = -1;
    if (from_ns >= 0 && setns(from_ns, SKIFF_CLONE_NEWNET) < 0) { saved = errno; *failed = "setns"; goto out; }
    int index = (int)if_nametoindex(name);
    if (index == 0) { saved = errno; *failed = "find link"; goto out; }
    sock = route_socket();
    if (sock < 0) { saved = errno; *failed = "socket(NETLINK_ROUTE)"; goto out; }
    // Down first, as runc does: nothing on the host uses the link while it changes hands.
    if (set_link(sock, index, 0, IFF_UP, NULL, -1) < 0) { saved = errno; *failed = "set link down"; goto out; }
    if (set_link(sock, index, 0, 0, new_name, to_ns) < 0) { saved = errno; *failed = "move link"; goto out; }
    close(sock);
    sock = -1;
    if (up) {
        if (setns(to_ns, SKIFF_CLONE_NEWNET) < 0) { saved = errno; *failed = "setns"; goto out; }
        index = (int)if_nametoindex(new_name);
        if (index == 0) { saved = errno; *failed = "find moved link"; goto out; }
        sock = route_socket();
        if (sock < 0) { saved = errno; *failed = "socket(NETLINK_ROUTE)"; goto out; }
        if (set_link(sock, index, IFF_UP, IFF_UP, NULL, -1) < 0) { saved = errno; *failed = "set link up"; goto out; }
    }
    rc = 0;
out:
    if (sock >= 0) close(sock);
    // This thread goes on running Swift code: left in a container's network namespace, every
    // later socket it made would be the container's. Better to stop here.
    if (setns(own, SKIFF_CLONE_NEWNET) < 0) abort();
    close(own);
    if (rc < 0) errno = saved;
    return rc;
}
