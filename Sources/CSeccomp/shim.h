#include <seccomp.h>
#include <errno.h>
#include <stdint.h>
#include <linux/filter.h>
#include <sys/syscall.h>
#include <unistd.h>

// seccomp(2) has no glibc wrapper, and Swift cannot call the variadic syscall(2). skiff exports
// its programs with libseccomp and loads them itself (the runtime compiles, init only loads),
// so these are the only raw calls.

/// seccomp(SECCOMP_SET_MODE_FILTER, flags, program): the new listener fd with
/// SECCOMP_FILTER_FLAG_NEW_LISTENER, 0 otherwise, -1 with errno on failure.
static inline int skiff_seccomp_set_filter(unsigned int flags, const struct sock_filter *program,
                                           unsigned short count) {
    struct sock_fprog fprog = { .len = count, .filter = (struct sock_filter *)program };
    return (int)syscall(SYS_seccomp, SECCOMP_SET_MODE_FILTER, flags, &fprog);
}

/// Whether the kernel knows every bit of `flags`: it validates them before it reads the
/// program, so a NULL program fails with EFAULT exactly when the flags are accepted (the probe
/// libseccomp uses too).
static inline int skiff_seccomp_flags_supported(unsigned int flags) {
    long result = syscall(SYS_seccomp, SECCOMP_SET_MODE_FILTER, flags, NULL);
    return result < 0 && errno == EFAULT;
}

/// seccomp(SECCOMP_GET_ACTION_AVAIL): whether the kernel implements a SECCOMP_RET_* action.
static inline int skiff_seccomp_action_available(uint32_t action) {
    return syscall(SYS_seccomp, SECCOMP_GET_ACTION_AVAIL, 0, &action) == 0;
}

// Architecture tokens Swift cannot import (they expand through AUDIT_ARCH_* expressions).
static const uint32_t skiff_scmp_arch_x86_64 = SCMP_ARCH_X86_64;
static const uint32_t skiff_scmp_arch_x32 = SCMP_ARCH_X32;
