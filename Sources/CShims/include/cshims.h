// Declarations and tiny helpers that Glibc's Swift module lacks. No logic lives here.
#ifndef SKIFF_CSHIMS_H
#define SKIFF_CSHIMS_H

#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdint.h>
#include <string.h>
#include <sched.h>
#include <sys/mount.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/statfs.h>
#include <sys/statvfs.h>
#include <sys/syscall.h>
#include <sys/sysmacros.h>
#include <sys/types.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <unistd.h>
#include <linux/magic.h>
#include <linux/openat2.h>
#include <poll.h>
#include <spawn.h>
#include <sys/signalfd.h>

// GNU/Linux constants that Glibc's Swift module hides (it is built without _GNU_SOURCE).
#define SKIFF_O_PATH 010000000
#define SKIFF_ST_NOSUID 2
#define SKIFF_ST_NODEV 4
#define SKIFF_ST_NOEXEC 8
#define SKIFF_ST_NOATIME 1024
#define SKIFF_ST_NODIRATIME 2048
#define SKIFF_ST_RELATIME 4096
int pipe2(int pipefd[2], int flags);
int setresuid(uid_t ruid, uid_t euid, uid_t suid);
int setresgid(gid_t rgid, gid_t egid, gid_t sgid);
int sethostname(const char *name, size_t len);
int setdomainname(const char *name, size_t len);
#define SKIFF_CLONE_NEWNS     0x00020000
#define SKIFF_CLONE_NEWCGROUP 0x02000000
#define SKIFF_CLONE_NEWUTS    0x04000000
#define SKIFF_CLONE_NEWIPC    0x08000000
#define SKIFF_CLONE_NEWUSER   0x10000000
#define SKIFF_CLONE_NEWPID    0x20000000
#define SKIFF_CLONE_NEWNET    0x40000000
#define SKIFF_CLONE_NEWTIME   0x00000080

static inline int skiff_prctl(int option, unsigned long a2, unsigned long a3, unsigned long a4, unsigned long a5) {
    return prctl(option, a2, a3, a4, a5);
}

static inline int skiff_setrlimit(int resource, uint64_t soft, uint64_t hard) {
    struct rlimit limit = { .rlim_cur = soft, .rlim_max = hard };
    return setrlimit(resource, &limit);
}

#ifndef CLONE_NEWTIME
#define CLONE_NEWTIME 0x00000080
#endif
#ifndef CLOSE_RANGE_CLOEXEC
#define CLOSE_RANGE_CLOEXEC (1U << 2)
#endif

static inline long skiff_openat2(int dirfd, const char *path, uint64_t flags, uint64_t mode,
                                 uint64_t resolve) {
    struct open_how how;
    memset(&how, 0, sizeof how);
    how.flags = flags;
    how.mode = mode;
    how.resolve = resolve;
    return syscall(SYS_openat2, dirfd, path, &how, sizeof how);
}

struct skiff_mount_attr {
    uint64_t attr_set;
    uint64_t attr_clr;
    uint64_t propagation;
    uint64_t userns_fd;
};

/// mount_setattr(2) on the mount an fd refers to, recursively: rro, rnosuid and friends.
static inline int skiff_mount_setattr_recursive(int fd, uint64_t set, uint64_t clear) {
    struct skiff_mount_attr attr = { .attr_set = set, .attr_clr = clear };
    return (int)syscall(442 /* SYS_mount_setattr */, fd, "", 0x1000 /* AT_EMPTY_PATH */ | 0x8000 /* AT_RECURSIVE */,
                        &attr, sizeof attr);
}

/// keyctl(KEYCTL_JOIN_SESSION_KEYRING, name) and KEYCTL_SETPERM on the result.
static inline long skiff_join_session_keyring(const char *name) {
    return syscall(SYS_keyctl, 1 /* KEYCTL_JOIN_SESSION_KEYRING */, name);
}
static inline long skiff_keyring_setperm(long key, uint32_t perm) {
    return syscall(SYS_keyctl, 5 /* KEYCTL_SETPERM */, key, perm);
}

static inline int skiff_close_range(unsigned int first, unsigned int last, unsigned int flags) {
    return (int)syscall(SYS_close_range, first, last, flags);
}

static inline int skiff_pidfd_open(pid_t pid, unsigned int flags) {
    return (int)syscall(SYS_pidfd_open, pid, flags);
}

static inline int skiff_pidfd_send_signal(int pidfd, int sig) {
    return (int)syscall(SYS_pidfd_send_signal, pidfd, sig, NULL, 0);
}

static inline int skiff_pivot_root(const char *new_root, const char *put_old) {
    return (int)syscall(SYS_pivot_root, new_root, put_old);
}

/* renameat2(2) with RENAME_EXCHANGE (1 << 1): swaps two existing paths atomically. */
static inline int skiff_rename_exchange(const char *a, const char *b) {
    return (int)syscall(SYS_renameat2, AT_FDCWD, a, AT_FDCWD, b, 1U << 1);
}

static inline int skiff_errno(void) { return errno; }
static inline void skiff_set_errno(int value) { errno = value; }

static inline unsigned int skiff_makedev(unsigned int major, unsigned int minor) {
    return (unsigned int)makedev(major, minor);
}

static inline int skiff_wifexited(int status) { return WIFEXITED(status); }
static inline int skiff_wexitstatus(int status) { return WEXITSTATUS(status); }
static inline int skiff_wifsignaled(int status) { return WIFSIGNALED(status); }
static inline int skiff_wtermsig(int status) { return WTERMSIG(status); }

static inline int skiff_fd_isset_cloexec(int fd) {
    int flags = fcntl(fd, F_GETFD);
    return flags >= 0 && (flags & FD_CLOEXEC);
}

// posix_spawn_file_actions_addclosefrom_np needs _GNU_SOURCE visibility from Swift.
const char *skiff_build_commit(void);
int posix_spawn_file_actions_addclosefrom_np(posix_spawn_file_actions_t *, int);
int posix_spawn_file_actions_addchdir_np(posix_spawn_file_actions_t *, const char *);


// SCM_RIGHTS: send one fd with `name` as the message body (what runc's console socket
// receivers expect), or receive one. Return -1 with errno set on failure.
int skiff_send_fd(int socket, int fd, const char *name);
int skiff_recv_fd(int socket, char *name, size_t name_size);

// Terminal helpers: a new pty from a ptmx fd, and the ioctls Glibc hides behind variadics.
int skiff_pty_peer(int master);
int skiff_set_ctty(int fd);
int skiff_set_winsize(int fd, unsigned short rows, unsigned short cols);
int skiff_get_winsize(int fd, unsigned short *rows, unsigned short *cols);


// Every signal to SIG_DFL and an empty mask, through the raw syscall: glibc refuses to touch
// its internal signals 32 and 33, which posix_spawn leaves ignored and exec would keep.
void skiff_reset_signals(void);

// The runtime binary's protection (CVE-2019-5736, Skiff/Security/SealedExecutable.swift): a
// detached read-only overlayfs through the new mount API, or a sealed memfd copy.
static inline int skiff_fsopen(const char *fs_name) {
    return (int)syscall(430 /* SYS_fsopen */, fs_name, 0x1 /* FSOPEN_CLOEXEC */);
}
static inline int skiff_fsconfig_string(int fs_fd, const char *key, const char *value) {
    return (int)syscall(431 /* SYS_fsconfig */, fs_fd, 1 /* FSCONFIG_SET_STRING */, key, value, 0);
}
static inline int skiff_fsconfig_create(int fs_fd) {
    return (int)syscall(431 /* SYS_fsconfig */, fs_fd, 6 /* FSCONFIG_CMD_CREATE */, NULL, NULL, 0);
}
static inline int skiff_fsmount(int fs_fd, unsigned int attributes) {
    return (int)syscall(432 /* SYS_fsmount */, fs_fd, 0x1 /* FSMOUNT_CLOEXEC */, attributes);
}
static inline int skiff_memfd_create(const char *name, unsigned int flags) {
    return (int)syscall(SYS_memfd_create, name, flags);
}
#define SKIFF_MFD_CLOEXEC 0x1U
#define SKIFF_MFD_ALLOW_SEALING 0x2U
#define SKIFF_MFD_NOEXEC_SEAL 0x8U
#define SKIFF_MFD_EXEC 0x10U
#define SKIFF_F_ADD_SEALS 1033
#define SKIFF_F_GET_SEALS 1034
#define SKIFF_F_SEAL_SEAL 0x1
#define SKIFF_F_SEAL_SHRINK 0x2
#define SKIFF_F_SEAL_GROW 0x4
#define SKIFF_F_SEAL_WRITE 0x8
#define SKIFF_F_SEAL_EXEC 0x20
#define SKIFF_MOUNT_ATTR_RDONLY 0x1U
#define SKIFF_MOUNT_ATTR_NOSUID 0x2U
#define SKIFF_MOUNT_ATTR_NODEV 0x4U

// Process attributes from process.scheduler, process.ioPriority, linux.personality,
// process.execCPUAffinity and linux.memoryPolicy (SkiffLinux/ProcessAttributes.swift). Raw
// syscalls: glibc wraps neither sched_setattr nor ioprio_set nor set_mempolicy.
struct skiff_sched_attr {
    uint32_t size;
    uint32_t sched_policy;
    uint64_t sched_flags;
    int32_t sched_nice;
    uint32_t sched_priority;
    uint64_t sched_runtime;
    uint64_t sched_deadline;
    uint64_t sched_period;
    uint32_t sched_util_min;
    uint32_t sched_util_max;
};
static inline int skiff_sched_setattr(uint32_t policy, uint64_t flags, int32_t nice, uint32_t priority,
                                      uint64_t runtime, uint64_t deadline, uint64_t period) {
    struct skiff_sched_attr attr;
    memset(&attr, 0, sizeof attr);
    attr.size = sizeof attr;
    attr.sched_policy = policy;
    attr.sched_flags = flags;
    attr.sched_nice = nice;
    attr.sched_priority = priority;
    attr.sched_runtime = runtime;
    attr.sched_deadline = deadline;
    attr.sched_period = period;
    return (int)syscall(SYS_sched_setattr, 0, &attr, 0);
}
/// ioprio_set(IOPRIO_WHO_PROCESS, 0, class << 13 | level) for the calling process.
static inline int skiff_ioprio_set_self(int ioclass, int level) {
    return (int)syscall(SYS_ioprio_set, 1 /* IOPRIO_WHO_PROCESS */, 0, (ioclass << 13) | level);
}
static inline int skiff_ioprio_get_self(void) {
    return (int)syscall(SYS_ioprio_get, 1 /* IOPRIO_WHO_PROCESS */, 0);
}
static inline int skiff_personality(unsigned long persona) {
    return (int)syscall(SYS_personality, persona);
}
/// sched_{set,get}affinity for thread `tid` (0: the calling thread) with a raw byte mask.
static inline int skiff_sched_setaffinity(pid_t tid, const uint8_t *mask, size_t size) {
    return (int)syscall(SYS_sched_setaffinity, tid, size, mask);
}
static inline int skiff_sched_getaffinity(pid_t tid, uint8_t *mask, size_t size) {
    return (int)syscall(SYS_sched_getaffinity, tid, size, mask);
}
static inline int skiff_set_mempolicy(int mode, const unsigned long *nodemask, unsigned long maxnode) {
    return (int)syscall(SYS_set_mempolicy, mode, nodemask, maxnode);
}
static inline int skiff_get_mempolicy(int *mode, unsigned long *nodemask, unsigned long maxnode) {
    return (int)syscall(SYS_get_mempolicy, mode, nodemask, maxnode, NULL, 0);
}

// Idmapped mounts (mounts[].uidMappings, the idmap/ridmap options; SkiffLinux/IDMappedMount.swift).
#define SKIFF_OPEN_TREE_CLONE 1U
#define SKIFF_AT_RECURSIVE 0x8000U
#define SKIFF_MOUNT_ATTR_IDMAP 0x00100000U
static inline int skiff_open_tree(int dirfd, const char *path, unsigned int flags) {
    return (int)syscall(428 /* SYS_open_tree */, dirfd, path, flags);
}
/// mount_setattr(fd, "", AT_EMPTY_PATH [| AT_RECURSIVE], {MOUNT_ATTR_IDMAP, userns_fd}).
static inline int skiff_mount_setattr_idmap(int fd, int userns_fd, int recursive) {
    struct skiff_mount_attr attr = { .attr_set = SKIFF_MOUNT_ATTR_IDMAP, .userns_fd = (uint64_t)userns_fd };
    return (int)syscall(442 /* SYS_mount_setattr */, fd, "", 0x1000 /* AT_EMPTY_PATH */ | (recursive ? 0x8000 : 0),
                        &attr, sizeof attr);
}
/// move_mount(from_fd, "", to_fd, "", MOVE_MOUNT_F_EMPTY_PATH | MOVE_MOUNT_T_EMPTY_PATH).
static inline int skiff_move_mount_fd(int from_fd, int to_fd) {
    return (int)syscall(429 /* SYS_move_mount */, from_fd, "", to_fd, "", 0x4 | 0x40);
}
/// A user namespace carrying `uid_map` and `gid_map` (uid_map file lines), as an O_RDONLY fd:
/// a child cloned into a new user namespace waits on a pipe while the maps are written and the
/// namespace opened, then exits. The child runs no more than read and _exit. Returns -1 with
/// errno set and *failed naming the step.
int skiff_userns_with_maps(const char *uid_map, const char *gid_map, const char **failed);

// linux.netDevices (SkiffLinux/NetDevices.swift): the link `name` of the network namespace
// `from_ns` (-1: the caller's) is set down and moved into `to_ns` as `new_name` with one
// RTM_NEWLINK (IFLA_NET_NS_FD + IFLA_IFNAME, so the name never clashes in between), then set
// up there when `up`. Only the calling thread enters the namespaces, and it returns to its
// own before this returns. -1 with errno set and *failed naming the step.
int skiff_netdev_move(int from_ns, const char *name, int to_ns, const char *new_name, int up, const char **failed);

// seccomp(2) has no glibc wrapper, and Swift cannot call the variadic syscall(2). The runtime
// compiles profiles with libseccomp (CSeccomp) and init only loads the exported program, so
// these are the only raw calls; SkiffLinux's `Seccomp` wraps them. The kernel's sock_fprog is
// spelled out (a length, then a pointer to 8-byte sock_filter instructions) so that this header
// need not include <linux/seccomp.h>, which CSeccomp's libseccomp header brings to Swift too.
struct skiff_sock_fprog {
    unsigned short len;
    const void *filter;
};

/// seccomp(SECCOMP_SET_MODE_FILTER, flags, program): the new listener fd with
/// SECCOMP_FILTER_FLAG_NEW_LISTENER, 0 otherwise, -1 with errno on failure.
static inline int skiff_seccomp_set_filter(unsigned int flags, const void *program, unsigned short count) {
    struct skiff_sock_fprog fprog = { .len = count, .filter = program };
    return (int)syscall(SYS_seccomp, 1 /* SECCOMP_SET_MODE_FILTER */, flags, &fprog);
}

/// Whether the kernel knows every bit of `flags`: it validates them before it reads the
/// program, so a NULL program fails with EFAULT exactly when the flags are accepted (the probe
/// libseccomp uses too).
static inline int skiff_seccomp_flags_supported(unsigned int flags) {
    long result = syscall(SYS_seccomp, 1 /* SECCOMP_SET_MODE_FILTER */, flags, NULL);
    return result < 0 && errno == EFAULT;
}

#endif
