// bpf(2) for cgroup device programs. Thin wrappers over the syscall; no logic.
#ifndef SKIFF_CSHIMS_CGROUP_H
#define SKIFF_CSHIMS_CGROUP_H

#include <linux/bpf.h>
#include <stdint.h>
#include <string.h>
#include <sys/syscall.h>
#include <sys/types.h>
#include <unistd.h>

// BPF_PROG_LOAD of a BPF_PROG_TYPE_CGROUP_DEVICE program; `log` may be NULL.
static inline int skiff_bpf_load_device_program(const uint64_t *insns, uint32_t count, const char *license,
                                                char *log, uint32_t log_size) {
    union bpf_attr attr;
    memset(&attr, 0, sizeof attr);
    attr.prog_type = BPF_PROG_TYPE_CGROUP_DEVICE;
    attr.insns = (uint64_t)(uintptr_t)insns;
    attr.insn_cnt = count;
    attr.license = (uint64_t)(uintptr_t)license;
    if (log != NULL && log_size > 0) {
        attr.log_buf = (uint64_t)(uintptr_t)log;
        attr.log_size = log_size;
        attr.log_level = 1;
    }
    return (int)syscall(SYS_bpf, BPF_PROG_LOAD, &attr, sizeof attr);
}

// BPF_PROG_ATTACH to a cgroup as BPF_CGROUP_DEVICE; `replace_fd` is used with BPF_F_REPLACE.
static inline int skiff_bpf_attach_device_program(int prog_fd, int cgroup_fd, uint32_t flags, int replace_fd) {
    union bpf_attr attr;
    memset(&attr, 0, sizeof attr);
    attr.target_fd = (uint32_t)cgroup_fd;
    attr.attach_bpf_fd = (uint32_t)prog_fd;
    attr.attach_type = BPF_CGROUP_DEVICE;
    attr.attach_flags = flags;
    attr.replace_bpf_fd = (uint32_t)replace_fd;
    return (int)syscall(SYS_bpf, BPF_PROG_ATTACH, &attr, sizeof attr);
}

static inline int skiff_bpf_detach_device_program(int prog_fd, int cgroup_fd) {
    union bpf_attr attr;
    memset(&attr, 0, sizeof attr);
    attr.target_fd = (uint32_t)cgroup_fd;
    attr.attach_bpf_fd = (uint32_t)prog_fd;
    attr.attach_type = BPF_CGROUP_DEVICE;
    return (int)syscall(SYS_bpf, BPF_PROG_DETACH, &attr, sizeof attr);
}

// BPF_PROG_QUERY of the device programs attached to a cgroup itself; *count is in/out.
static inline int skiff_bpf_query_device_programs(int cgroup_fd, uint32_t *ids, uint32_t *count) {
    union bpf_attr attr;
    memset(&attr, 0, sizeof attr);
    attr.query.target_fd = (uint32_t)cgroup_fd;
    attr.query.attach_type = BPF_CGROUP_DEVICE;
    attr.query.prog_ids = (uint64_t)(uintptr_t)ids;
    attr.query.prog_cnt = *count;
    int result = (int)syscall(SYS_bpf, BPF_PROG_QUERY, &attr, sizeof attr);
    *count = attr.query.prog_cnt;
    return result;
}

static inline int skiff_bpf_program_fd(uint32_t id) {
    union bpf_attr attr;
    memset(&attr, 0, sizeof attr);
    attr.prog_id = id;
    return (int)syscall(SYS_bpf, BPF_PROG_GET_FD_BY_ID, &attr, sizeof attr);
}

// clone3(CLONE_VFORK | CLONE_INTO_CGROUP) into the cgroup2 directory `cgroup_fd`, then the
// fd moves (source -> target; equal ones lose FD_CLOEXEC), close-on-exec from `close_from` up,
// chdir(cwd) unless NULL, default signal dispositions and an empty mask, and execve. Returns
// the pid; -1 with errno when clone3 failed (*exec_errno 0: the kernel could not clone into
// the cgroup, the caller may spawn otherwise), or when the child failed before or in execve
// (*exec_errno set; the child is reaped).
pid_t skiff_spawn_into_cgroup(const char *path, char *const argv[], char *const envp[], const int *sources,
                              const int *targets, int count, int close_from, const char *cwd, int cgroup_fd,
                              int *exec_errno);

#define SKIFF_BPF_F_ALLOW_MULTI 2u
#define SKIFF_BPF_F_REPLACE 4u

#endif
