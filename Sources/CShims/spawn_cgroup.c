// clone3(CLONE_INTO_CGROUP) + execve: a child born in a cgroup v2 directory, so it never has
// to be migrated there by a cgroup.procs write (which takes the cgroup threadgroup lock and
// can wait for an RCU grace period). Only C runs between clone3 and execve.
#include "cshims_cgroup.h"

#include <errno.h>
#include <fcntl.h>
#include <linux/sched.h>
#include <signal.h>
#include <stdint.h>
#include <string.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#ifndef CLOSE_RANGE_CLOEXEC
#define CLOSE_RANGE_CLOEXEC (1U << 2)
#endif

struct skiff_kernel_sigaction_cg {
    void *handler;
    unsigned long flags;
    void *restorer;
    uint64_t mask;
};

pid_t skiff_spawn_into_cgroup(const char *path, char *const argv[], char *const envp[], const int *sources,
                              const int *targets, int count, int close_from, const char *cwd, int cgroup_fd,
                              int *exec_errno) {
    *exec_errno = 0;
    int report[2];
    if (pipe2(report, O_CLOEXEC) < 0) return -1;

    // No signal handler of the parent may run in the child before the dispositions are reset.
    sigset_t all, old;
    sigfillset(&all);
    pthread_sigmask(SIG_SETMASK, &all, &old);

    struct clone_args args;
    memset(&args, 0, sizeof args);
    // CLONE_VFORK: the parent goes on once the child has exec'd (or died); without CLONE_VM the
    // child has its own copy of memory, so this C code may use the stack as a forked child.
    args.flags = CLONE_VFORK | CLONE_INTO_CGROUP;
    args.exit_signal = SIGCHLD;
    args.cgroup = (uint64_t)cgroup_fd;
    long pid = syscall(SYS_clone3, &args, sizeof args);
    if (pid == 0) {
        for (int i = 0; i < count; i++) {
            if (sources[i] == targets[i]) {
                if (fcntl(targets[i], F_SETFD, 0) < 0) goto fail;
            } else if (dup2(sources[i], targets[i]) < 0) {
                goto fail;
            }
        }
        // Everything from close_from up (the report pipe too) goes at exec.
        if (syscall(SYS_close_range, close_from, ~0U, CLOSE_RANGE_CLOEXEC) < 0) goto fail;
        if (cwd != NULL && chdir(cwd) < 0) goto fail;
        struct skiff_kernel_sigaction_cg action = { .handler = SIG_DFL };
        for (int signal = 1; signal <= 64; signal++) {
            if (signal == SIGKILL || signal == SIGSTOP) continue;
            syscall(SYS_rt_sigaction, signal, &action, NULL, sizeof(uint64_t));
        }
        uint64_t empty = 0;
        syscall(SYS_rt_sigprocmask, SIG_SETMASK, &empty, NULL, sizeof(uint64_t));
        execve(path, argv, envp);
    fail:;
        int err = errno;
        (void)!write(report[1], &err, sizeof err);
        _exit(127);
    }
    int saved = errno;
    pthread_sigmask(SIG_SETMASK, &old, NULL);
    close(report[1]);
    if (pid < 0) {
        close(report[0]);
        errno = saved;
        return -1;
    }
    int err = 0;
    ssize_t got;
    do { got = read(report[0], &err, sizeof err); } while (got < 0 && errno == EINTR);
    close(report[0]);
    if (got == (ssize_t)sizeof err) {
        int status;
        while (waitpid((pid_t)pid, &status, 0) < 0 && errno == EINTR) {}
        *exec_errno = err;
        errno = err;
        return -1;
    }
    return (pid_t)pid;
}
