// argv for the Swift standard library, from the process's own stack.
//
// The static Swift runtime (libswiftCore.a, CommandLine.cpp) finds argv on Linux with a global
// constructor that opens /proc/self/maps and parses every line with sscanf to locate the stack,
// then walks back from `environ`: in every process, before main, whether the program reads
// its arguments or not — ~110 K instructions of sscanf plus the kernel rendering the whole map
// (10% of a `skiff state`), in each command and again in each container's init. There it runs
// after the C stage's constructor, so in an exec's init it reads the container's /proc.
//
// glibc calls every ELF constructor with (argc, argv, envp); this one keeps them, and the
// runtime's hook below returns them. The stdlib (Swift.o) references the hook as an undefined
// symbol; with this object linked the hook is defined, so the linker never extracts
// CommandLine.cpp.o from the archive and its constructor is not in the binary. (Were that
// member extracted for another symbol, the link would fail on the duplicate definition — not
// silently keep both.) Where the runtime is a shared library (debug builds, `swift test`), its
// hook is internal to libswiftCore.so and this one is unused.
#include <stddef.h>

static int saved_argc;
static char **saved_argv;

__attribute__((constructor)) static void skiff_keep_argv(int argc, char **argv, char **envp) {
    (void)envp;
    saved_argc = argc;
    saved_argv = argv;
}

// The runtime's declaration (SWIFT_CC(swift), SWIFT_RUNTIME_STDLIB_INTERNAL):
// char **_swift_stdlib_getUnsafeArgvArgc(int *outArgLen). argv ends with NULL, as the
// runtime's callers expect.
__attribute__((swiftcall, visibility("hidden")))
char **_swift_stdlib_getUnsafeArgvArgc(int *outArgLen) {
    static char *empty[] = { NULL };
    if (saved_argv == NULL) {
        *outArgLen = 0;
        return empty;
    }
    *outArgLen = saved_argc;
    return saved_argv;
}
