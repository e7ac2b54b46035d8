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

// What the child needs; it lives in the parent's frame, which vfork keeps still.
struct skiff_spawn_child {
    const char *path;
    char *const *argv;
    char *const *envp;
    const int *sources;
    const int *targets;
    int count;
    int close_from;
    const char *cwd;
    // Where the child reports why it could not exec: with CLONE_VM straight into `error`,
    // which the parent reads once vfork has let it go; without, through the pipe `report_fd`.
    volatile int error;
    int report_fd;
};

// The child, between clone3 and execve: only system calls, on its own stack.
static int skiff_spawn_child_main(void *opaque) {
    struct skiff_spawn_child *child = opaque;
    for (int i = 0; i < child->count; i++) {
        if (child->sources[i] == child->targets[i]) {
            if (fcntl(child->targets[i], F_SETFD, 0) < 0) goto fail;
        } else if (dup2(child->sources[i], child->targets[i]) < 0) {
            goto fail;
        }
    }
    // Everything from close_from up (the report pipe too) goes at exec.
    if (syscall(SYS_close_range, child->close_from, ~0U, CLOSE_RANGE_CLOEXEC) < 0) goto fail;
    if (child->cwd != NULL && chdir(child->cwd) < 0) goto fail;
    struct skiff_kernel_sigaction_cg action = { .handler = SIG_DFL };
    for (int signal = 1; signal <= 64; signal++) {
        if (signal == SIGKILL || signal == SIGSTOP) continue;
        syscall(SYS_rt_sigaction, signal, &action, NULL, sizeof(uint64_t));
    }
    uint64_t empty = 0;
    syscall(SYS_rt_sigprocmask, SIG_SETMASK, &empty, NULL, sizeof(uint64_t));
    execve(child->path, child->argv, child->envp);
fail:;
    int err = errno;
    child->error = err;
    if (child->report_fd >= 0) (void)!write(child->report_fd, &err, sizeof err);
    return 127;
}

// clone3 with CLONE_VM: the child shares the parent's memory and runs `fn(arg)` on the stack
// `args` names, then exits with its result. (A C function cannot go on after a clone that
// switched its stack, hence these few instructions, as glibc's posix_spawn and musl have.)
// The runtime's address space is not copied for a child that only calls execve: copying the
// page tables of the 33 MB binary and its heap, and the copy-on-write faults the runtime then
// took on every page it wrote, cost ~1-2 ms per create and per exec (docs/benchmarks.md).
#if defined(__x86_64__)
__attribute__((visibility("hidden"))) long skiff_clone3_vm(struct clone_args *args, size_t size,
                                                           int (*fn)(void *), void *arg);
__asm__(
    ".pushsection .text.skiff_clone3_vm,\"ax\",@progbits\n"
    ".globl skiff_clone3_vm\n"
    ".hidden skiff_clone3_vm\n"
    ".p2align 4\n"
    ".type skiff_clone3_vm,@function\n"
    "skiff_clone3_vm:\n"
    "    mov %rdx, %r8\n"          // fn and arg in registers the syscall keeps
    "    mov %rcx, %r9\n"
    "    mov $435, %eax\n"         // SYS_clone3 (args in rdi, rsi)
    "    syscall\n"
    "    test %rax, %rax\n"
    "    jnz 1f\n"
    "    xor %ebp, %ebp\n"         // the child, on the new stack (16-byte aligned)
    "    mov %r9, %rdi\n"
    "    call *%r8\n"
    "    mov %eax, %edi\n"
    "    mov $231, %eax\n"         // SYS_exit_group
    "    syscall\n"
    "    hlt\n"
    "1:  ret\n"
    ".size skiff_clone3_vm, .-skiff_clone3_vm\n"
    ".popsection\n");
#define SKIFF_HAVE_CLONE3_VM 1
#elif defined(__aarch64__)
__attribute__((visibility("hidden"))) long skiff_clone3_vm(struct clone_args *args, size_t size,
                                                           int (*fn)(void *), void *arg);
__asm__(
    ".pushsection .text.skiff_clone3_vm,\"ax\",%progbits\n"
    ".globl skiff_clone3_vm\n"
    ".hidden skiff_clone3_vm\n"
    ".p2align 2\n"
    ".type skiff_clone3_vm,%function\n"
    "skiff_clone3_vm:\n"
    "    mov x10, x2\n"
    "    mov x11, x3\n"
    "    mov x8, #435\n"
    "    svc #0\n"
    "    cbnz x0, 1f\n"
    "    mov x29, #0\n"
    "    mov x30, #0\n"
    "    mov x0, x11\n"
    "    blr x10\n"
    "    mov x8, #94\n"            // SYS_exit_group
    "    svc #0\n"
    "1:  ret\n"
    ".size skiff_clone3_vm, .-skiff_clone3_vm\n"
    ".popsection\n");
#define SKIFF_HAVE_CLONE3_VM 1
#endif

pid_t skiff_spawn_into_cgroup(const char *path, char *const argv[], char *const envp[], const int *sources,
                              const int *targets, int count, int close_from, const char *cwd, int cgroup_fd,
                              int *exec_errno) {
    *exec_errno = 0;
    struct skiff_spawn_child child = {
        .path = path, .argv = argv, .envp = envp, .sources = sources, .targets = targets, .count = count,
        .close_from = close_from, .cwd = cwd, .error = 0, .report_fd = -1,
    };

    // No signal handler of the parent may run in the child before the dispositions are reset.
    sigset_t all, old;
    sigfillset(&all);

    struct clone_args args;
    memset(&args, 0, sizeof args);
    args.exit_signal = SIGCHLD;
    args.cgroup = (uint64_t)cgroup_fd;
#ifdef SKIFF_HAVE_CLONE3_VM
    // CLONE_VFORK: the parent waits until the child has exec'd or exited, so the child may use
    // this frame's buffer as its stack and read and write `child`; it writes no other memory
    // the parent relies on (its errno aside, which the parent reads only when no child was made).
    _Alignas(16) char child_stack[16384];
    args.flags = CLONE_VM | CLONE_VFORK | CLONE_INTO_CGROUP;
    args.stack = (uint64_t)(uintptr_t)child_stack;
    args.stack_size = sizeof child_stack;
    pthread_sigmask(SIG_SETMASK, &all, &old);
    long pid = skiff_clone3_vm(&args, sizeof args, skiff_spawn_child_main, &child);
    pthread_sigmask(SIG_SETMASK, &old, NULL);
    if (pid < 0) {
        errno = (int)-pid;
        return -1;
    }
    int err = child.error;
#else
    // CLONE_VFORK: the parent goes on once the child has exec'd (or died); without CLONE_VM the
    // child has its own copy of memory, so this C code may use the stack as a forked child, and
    // reports an exec failure through a pipe.
    int report[2];
    if (pipe2(report, O_CLOEXEC) < 0) return -1;
    child.report_fd = report[1];
    args.flags = CLONE_VFORK | CLONE_INTO_CGROUP;
    pthread_sigmask(SIG_SETMASK, &all, &old);
    long pid = syscall(SYS_clone3, &args, sizeof args);
    if (pid == 0) _exit(skiff_spawn_child_main(&child));
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
    if (got != (ssize_t)sizeof err) err = 0;
#endif
    if (err != 0) {
        int status;
        while (waitpid((pid_t)pid, &status, 0) < 0 && errno == EINTR) {}
        *exec_errno = err;
        errno = err;
        return -1;
    }
    return (pid_t)pid;
}
