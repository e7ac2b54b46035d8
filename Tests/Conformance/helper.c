/*
 * conf-helper: the first program every probe container runs (process.args[0]).
 *
 * It prints, as KEY=VALUE lines, the attributes a shell cannot read for itself
 * (busybox has no sched_getattr, get_mempolicy or personality query), then execs
 * the rest of its arguments (the probe's shell script). It must be the process
 * itself, not a child of the shell: SCHED_FLAG_RESET_ON_FORK and SCHED_DEADLINE
 * do not survive a fork, and execCPUAffinity's `final` is set just before this
 * execve. Built with `gcc -static` into the probe's rootfs at test time.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <sched.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <sys/personality.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

struct sched_attr_k {
    uint32_t size, sched_policy;
    uint64_t sched_flags;
    int32_t sched_nice;
    uint32_t sched_priority;
    uint64_t sched_runtime, sched_deadline, sched_period;
    uint32_t sched_util_min, sched_util_max;
};

int main(int argc, char **argv) {
    struct sched_attr_k a;
    memset(&a, 0, sizeof a);
    if (syscall(SYS_sched_getattr, 0, &a, sizeof a, 0) == 0)
        printf("sched=policy:%u nice:%d priority:%u flags:%llu runtime:%llu deadline:%llu period:%llu\n",
               a.sched_policy, a.sched_nice, a.sched_priority, (unsigned long long)a.sched_flags,
               (unsigned long long)a.sched_runtime, (unsigned long long)a.sched_deadline,
               (unsigned long long)a.sched_period);
    else
        printf("sched=error:%s\n", strerror(errno));

    /* ioprio_get(IOPRIO_WHO_PROCESS, self): class in bits 13-15, level below. */
    long io = syscall(SYS_ioprio_get, 1, 0);
    if (io >= 0) printf("ioprio=class:%ld level:%ld\n", io >> 13, io & 0x1fff);
    else printf("ioprio=error:%s\n", strerror(errno));

    printf("personality=0x%x\n", (unsigned)personality(0xffffffff));

    int mode = -1;
    unsigned long mask[16];
    memset(mask, 0, sizeof mask);
    if (syscall(SYS_get_mempolicy, &mode, mask, sizeof mask * 8, 0, 0) == 0)
        printf("mempolicy=mode:%d flags:0x%x nodemask:0x%lx\n", mode & 0xff, mode & ~0xff, mask[0]);
    else
        printf("mempolicy=error:%s\n", strerror(errno));

    cpu_set_t set;
    CPU_ZERO(&set);
    if (sched_getaffinity(0, sizeof set, &set) == 0) {
        printf("affinity=");
        const char *sep = "";
        for (int i = 0; i < CPU_SETSIZE; i++)
            if (CPU_ISSET(i, &set)) { printf("%s%d", sep, i); sep = ","; }
        printf("\n");
    }

    /* seccomp's defaultAction/defaultErrnoRet: getppid is left out of the probe's allow list. */
    long r = syscall(SYS_getppid);
    printf("getppid=%s\n", r >= 0 ? "ok" : strerror(errno));
    if (r < 0) printf("getppid_errno=%d\n", errno);

    /* seccomp's architectures: getpid through the 32-bit entry (int 0x80, nr 20) in a
     * child, since a filter without SCMP_ARCH_X86 may kill the caller. */
    fflush(stdout);
    pid_t c = fork();
    if (c == 0) {
        long v;
        __asm__ volatile("int $0x80" : "=a"(v) : "a"(20L) : "memory");
        printf("ia32_getpid=%s\n", v >= 0 ? "ok" : strerror((int)-v));
        fflush(stdout);
        _exit(0);
    } else if (c > 0) {
        int st = 0;
        waitpid(c, &st, 0);
        if (WIFSIGNALED(st)) printf("ia32_getpid=killed by signal %d\n", WTERMSIG(st));
    } else {
        printf("ia32_getpid=fork failed: %s\n", strerror(errno));
    }
    printf("helper=done\n");
    fflush(stdout);
    if (argc > 1) {
        execv(argv[1], argv + 1);
        printf("helper=exec %s: %s\n", argv[1], strerror(errno));
        return 127;
    }
    return 0;
}
