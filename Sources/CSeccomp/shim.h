#include <seccomp.h>
#include <errno.h>
#include <stdint.h>
#include <linux/filter.h>
#include <sys/syscall.h>
#include <unistd.h>

// The raw seccomp(2) calls (loading a filter, probing flags) live in CShims, wrapped by
// SkiffLinux's `Seccomp`; this module is libseccomp, which the runtime compiles profiles with.

/// seccomp(SECCOMP_GET_ACTION_AVAIL): whether the kernel implements a SECCOMP_RET_* action.
static inline int skiff_seccomp_action_available(uint32_t action) {
    return syscall(SYS_seccomp, SECCOMP_GET_ACTION_AVAIL, 0, &action) == 0;
}

// Architecture tokens Swift cannot import (they expand through AUDIT_ARCH_* expressions).
static const uint32_t SKIFF_SCMP_ARCH_X86_64 = SCMP_ARCH_X86_64;
static const uint32_t SKIFF_SCMP_ARCH_X32 = SCMP_ARCH_X32;
