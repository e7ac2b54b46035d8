// The Swift runtime's crash backtracer, off in every skiff process unless the caller asks for
// it (SWIFT_BACKTRACE set in the environment is left alone).
//
// Its constructor looks for the swift-backtrace helper beside "the runtime library", which in
// skiff's static binary (Makefile: glibc linked in too) it finds through /proc/self/exe, then
// stats nine places relative to it. The helper is never installed beside skiff, so the search
// only costs time, and where /proc is not procfs (a chroot, an initramfs, a container that
// mounted over it) the runtime aborted before main: "Unable to obtain Swift runtime path".
// Priority 101 runs this before the runtime's C++ constructors (default priority); the
// runtime reads its environment variables lazily, after them. Stage 0 and init get the same
// setting from InitSpawner's environment.
#include <stdlib.h>

__attribute__((constructor(101))) static void skiff_backtracer_off(void) {
    setenv("SWIFT_BACKTRACE", "enable=no,swift-backtrace=/nonexistent", 0);
}
