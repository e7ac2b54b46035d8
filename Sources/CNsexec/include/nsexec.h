// The C stage of skiff: constants and entry points shared with the Swift runtime.
// The wire formats are documented in docs/nsexec.md; keep both in step.
#ifndef SKIFF_NSEXEC_H
#define SKIFF_NSEXEC_H

#include <stddef.h>
#include <stdint.h>

// Environment variables the runtime sets on `skiff init`. Without SKIFF_ENV_INITPIPE the
// constructor returns at once and the binary is the ordinary CLI. Swift reads these names
// through InitEnvironment (Sources/SkiffInitProtocol); docs/nsexec.md lists them in one table.
#define SKIFF_ENV_INITPIPE "_SKIFF_INITPIPE"   // fd: SOCK_STREAM, bootstrap in, pid report out
#define SKIFF_ENV_SYNCPIPE "_SKIFF_SYNCPIPE"   // fd: SOCK_SEQPACKET, Swift init <-> runtime
#define SKIFF_ENV_LOGPIPE  "_SKIFF_LOGPIPE"    // fd: pipe, JSON log lines from every stage
#define SKIFF_ENV_FIFOFD   "_SKIFF_FIFOFD"     // fd: O_PATH of exec.fifo (create only)
#define SKIFF_ENV_LOGLEVEL "_SKIFF_LOGLEVEL"   // "debug" enables debug lines from the C stage
#define SKIFF_ENV_MOUNTFDS "_SKIFF_MOUNTFDS"   // decimal: where the MOUNT_SOURCE fds land, the
                                               // i-th at this number + i (with MOUNT_SOURCE)
// Read only by the Swift init (the C stage passes them through): the other fds it inherits.
#define SKIFF_ENV_CONFIGFD    "_SKIFF_CONFIGFD"    // fd: sealed memfd, the validated config.json (create)
#define SKIFF_ENV_CONSOLEFD   "_SKIFF_CONSOLEFD"   // fd: connected console socket (process.terminal)
#define SKIFF_ENV_SECCOMPFD   "_SKIFF_SECCOMPFD"   // fd: sealed memfd, the compiled seccomp program
#define SKIFF_ENV_SECCOMPSOCK "_SKIFF_SECCOMPSOCK" // fd: socket for the seccomp notify fd (listenerPath)
#define SKIFF_ENV_SELINUX     "_SKIFF_SELINUX"     // "1": the host has SELinux; apply the labels
#define SKIFF_ENV_IDMAPFDS    "_SKIFF_IDMAPFDS"    // "index:fd,...": idmapped mount trees by mounts[] index

// Bootstrap message: a 16-byte header then attributes, every field native-endian.
//   header:    u32 magic (SKIFF_BOOTSTRAP_MAGIC), u32 version (1), u32 total length
//              (header included), u32 reserved (0)
//   attribute: u16 type, u16 reserved (0), u32 payload length, payload, zero padding to 4 bytes
#define SKIFF_BOOTSTRAP_MAGIC   0x464b5353u /* "SSKF" */
#define SKIFF_BOOTSTRAP_VERSION 1u
#define SKIFF_BOOTSTRAP_MAX     (1u << 20) /* whole message; anything longer is refused */
#define SKIFF_BOOTSTRAP_MAX_NS  16         /* namespace paths to join */
#define SKIFF_BOOTSTRAP_MAX_CGROUPS 32     /* cgroup v1 tasks files to join */
/* The byte the runtime writes on the init socket once the cgroup v1 directories the bootstrap
   data names exist and their limits are written; stage 0 opens them only then. */
#define SKIFF_CGROUPS_READY 0x43 /* 'C' */
#define SKIFF_BOOTSTRAP_MAX_MOUNTS 256     /* bind mount sources to open */

enum skiff_attr_type {
    SKIFF_ATTR_CLONE_FLAGS    = 1,  // u32: CLONE_NEW* to unshare (CLONE_NEWUSER first)
    SKIFF_ATTR_NS_PATH        = 2,  // string "type:path", repeated, in join order
    SKIFF_ATTR_UID_MAP        = 3,  // string: uid_map contents ("0 100000 65536\n...")
    SKIFF_ATTR_GID_MAP        = 4,  // string: gid_map contents
    SKIFF_ATTR_SETGROUPS_DENY = 5,  // u8: 1 writes "deny" to setgroups before gid_map
    SKIFF_ATTR_NEWUIDMAP_PATH = 6,  // string: absolute path of newuidmap (use the tool)
    SKIFF_ATTR_NEWGIDMAP_PATH = 7,  // string: absolute path of newgidmap (use the tool)
    SKIFF_ATTR_OOM_SCORE_ADJ  = 8,  // string: decimal, written to /proc/self/oom_score_adj
    SKIFF_ATTR_TIME_OFFSETS   = 9,  // string: timens_offsets contents ("monotonic 10 0\n...")
    SKIFF_ATTR_IS_EXEC        = 10, // u8: 1 for `exec` into a running container
    SKIFF_ATTR_CGROUP_TASKS   = 11, // string: absolute path of a cgroup v1 "tasks" file,
                                    // repeated; stage 0 opens each, stage 2 moves itself in
    SKIFF_ATTR_MOUNT_SOURCE   = 12, // string: absolute path of a bind mount source, repeated;
                                    // stage 0 opens it (O_PATH) inside the container's new
                                    // mount namespace and hands the fd to stage 1
};

#define SKIFF_MAX_STRING 4096 /* any single string attribute's payload, NUL included */

struct skiff_ns_path {
    char type[16]; // "user", "mnt", "net", "ipc", "uts", "pid", "cgroup", "time"
    int nstype;    // CLONE_NEW* for setns
    const char *path;
};

// A parsed bootstrap message. Strings point into the buffer that was parsed and are
// NUL-terminated (the parser checks the terminator is inside the payload).
struct skiff_bootstrap {
    uint32_t clone_flags;
    struct skiff_ns_path ns_paths[SKIFF_BOOTSTRAP_MAX_NS];
    int ns_path_count;
    const char *uid_map; size_t uid_map_len;
    const char *gid_map; size_t gid_map_len;
    int setgroups_deny;
    const char *newuidmap_path;
    const char *newgidmap_path;
    const char *oom_score_adj;
    const char *time_offsets; size_t time_offsets_len;
    int is_exec;
    const char *cgroup_tasks[SKIFF_BOOTSTRAP_MAX_CGROUPS];
    int cgroup_tasks_count;
    const char *mount_sources[SKIFF_BOOTSTRAP_MAX_MOUNTS];
    int mount_source_count;
};

// Parses `len` bytes at `buf` (which the result points into). Returns 0, or -1 with a message
// in *error naming what was wrong ("attribute 3 length 9000 exceeds message"); the message is
// in a per-thread buffer, valid until the next call on the same thread. Pure: no I/O.
int skiff_bootstrap_parse(const uint8_t *buf, size_t len, struct skiff_bootstrap *out,
                          const char **error);

// Called from Swift so the linker keeps the constructor's object file.
int skiff_nsexec_linked(void);

// 1 in the container's init: the C stage ran and returned in stage 2 (nsexec.c).
int skiff_nsexec_is_container_init(void);

#endif
