// The bootstrap message parser. Pure: no I/O, no allocation, so Swift unit tests can feed it
// hostile input. Every length is checked against what is left of the message before it is
// used; runc's CVE-2021-43784 was an integer overflow in exactly this kind of loop.
#ifndef _GNU_SOURCE
#define _GNU_SOURCE 1
#endif
#include "nsexec.h"

#include <sched.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#ifndef CLONE_NEWTIME
#define CLONE_NEWTIME 0x00000080
#endif

#define HEADER_SIZE 16u
#define ATTR_HEADER_SIZE 8u

// The only clone flags stage 1 acts on. Anything else (CLONE_VM, CLONE_FILES, ...) would turn
// the stage's clone into something the design does not expect, so it is refused.
#define NS_FLAGS (CLONE_NEWNS | CLONE_NEWUTS | CLONE_NEWIPC | CLONE_NEWUSER | CLONE_NEWPID | \
                  CLONE_NEWNET | CLONE_NEWCGROUP | CLONE_NEWTIME)

static const struct {
    const char *name;
    int flag;
} ns_types[] = {
    {"user", CLONE_NEWUSER}, {"mnt", CLONE_NEWNS},       {"net", CLONE_NEWNET},
    {"ipc", CLONE_NEWIPC},   {"uts", CLONE_NEWUTS},      {"pid", CLONE_NEWPID},
    {"cgroup", CLONE_NEWCGROUP}, {"time", CLONE_NEWTIME},
};

// Per thread so that parallel Swift tests do not see each other's messages.
static _Thread_local char error_buffer[160];

static int fail(const char **error, const char *format, ...) __attribute__((format(printf, 2, 3)));
static int fail(const char **error, const char *format, ...) {
    va_list args;
    va_start(args, format);
    vsnprintf(error_buffer, sizeof(error_buffer), format, args);
    va_end(args);
    if (error) *error = error_buffer;
    return -1;
}

static uint32_t read_u32(const uint8_t *p) {
    uint32_t v;
    memcpy(&v, p, sizeof(v)); // the buffer may be unaligned (Swift arrays, stack buffers)
    return v;
}

static uint16_t read_u16(const uint8_t *p) {
    uint16_t v;
    memcpy(&v, p, sizeof(v));
    return v;
}

// A string payload must end in its only NUL, so C code can use it without a length.
static int read_string(uint16_t type, const uint8_t *payload, uint32_t len, const char **out,
                       size_t *out_len, const char **error) {
    if (*out) return fail(error, "attribute %u repeated", type);
    if (len < 2) return fail(error, "attribute %u is an empty string", type);
    if (len > SKIFF_MAX_STRING)
        return fail(error, "attribute %u length %u exceeds %u", type, len, SKIFF_MAX_STRING);
    const uint8_t *nul = memchr(payload, 0, len);
    if (nul == NULL) return fail(error, "attribute %u is not NUL-terminated", type);
    if ((size_t)(nul - payload) != (size_t)len - 1)
        return fail(error, "attribute %u has a NUL before its end", type);
    *out = (const char *)payload;
    if (out_len) *out_len = (size_t)len - 1;
    return 0;
}

static int read_flag(uint16_t type, const uint8_t *payload, uint32_t len, int *seen, int *out,
                     const char **error) {
    if (*seen) return fail(error, "attribute %u repeated", type);
    if (len != 1) return fail(error, "attribute %u length %u, want 1", type, len);
    if (payload[0] > 1) return fail(error, "attribute %u value %u, want 0 or 1", type, payload[0]);
    *seen = 1;
    *out = payload[0];
    return 0;
}

static int read_ns_path(const uint8_t *payload, uint32_t len, struct skiff_bootstrap *out,
                        const char **error) {
    const char *spec = NULL;
    if (read_string(SKIFF_ATTR_NS_PATH, payload, len, &spec, NULL, error) < 0) return -1;
    if (out->ns_path_count >= SKIFF_BOOTSTRAP_MAX_NS)
        return fail(error, "more than %d namespace paths", SKIFF_BOOTSTRAP_MAX_NS);
    const char *colon = strchr(spec, ':');
    if (colon == NULL) return fail(error, "namespace path without \"type:\"");
    size_t type_len = (size_t)(colon - spec);
    int flag = 0;
    for (size_t i = 0; i < sizeof(ns_types) / sizeof(ns_types[0]); i++) {
        if (strlen(ns_types[i].name) == type_len && memcmp(ns_types[i].name, spec, type_len) == 0)
            flag = ns_types[i].flag;
    }
    if (flag == 0) {
        // Bounded so a long bogus type cannot overflow the message either.
        return fail(error, "unknown namespace type \"%.*s\"", type_len > 16 ? 16 : (int)type_len,
                    spec);
    }
    if (colon[1] != '/') return fail(error, "namespace path for %.*s is not absolute",
                                     (int)type_len, spec);
    struct skiff_ns_path *ns = &out->ns_paths[out->ns_path_count++];
    memcpy(ns->type, spec, type_len); // type_len < sizeof(ns->type): it matched a known name
    ns->type[type_len] = '\0';
    ns->nstype = flag;
    ns->path = colon + 1;
    return 0;
}

// A v1 hierarchy's tasks file: absolute, and named "tasks" so nothing else can be written "0".
static int read_cgroup_tasks(const uint8_t *payload, uint32_t len, struct skiff_bootstrap *out,
                             const char **error) {
    const char *path = NULL;
    if (read_string(SKIFF_ATTR_CGROUP_TASKS, payload, len, &path, NULL, error) < 0) return -1;
    if (out->cgroup_tasks_count >= SKIFF_BOOTSTRAP_MAX_CGROUPS)
        return fail(error, "more than %d cgroups to join", SKIFF_BOOTSTRAP_MAX_CGROUPS);
    size_t n = strlen(path);
    if (path[0] != '/' || n < 7 || strcmp(path + n - 6, "/tasks") != 0)
        return fail(error, "cgroup to join is not an absolute path to a tasks file");
    out->cgroup_tasks[out->cgroup_tasks_count++] = path;
    return 0;
}

// A bind mount source: absolute, since stage 0 opens it after setns into the container's mount
// namespace, which also moves its working directory to that namespace's root.
static int read_mount_source(const uint8_t *payload, uint32_t len, struct skiff_bootstrap *out,
                             const char **error) {
    const char *path = NULL;
    if (read_string(SKIFF_ATTR_MOUNT_SOURCE, payload, len, &path, NULL, error) < 0) return -1;
    if (out->mount_source_count >= SKIFF_BOOTSTRAP_MAX_MOUNTS)
        return fail(error, "more than %d mount sources", SKIFF_BOOTSTRAP_MAX_MOUNTS);
    if (path[0] != '/') return fail(error, "mount source is not an absolute path");
    out->mount_sources[out->mount_source_count++] = path;
    return 0;
}

static int is_decimal(const char *s, size_t max_digits) {
    if (*s == '-') s++;
    size_t n = strlen(s);
    if (n == 0 || n > max_digits) return 0;
    return strspn(s, "0123456789") == n;
}

int skiff_bootstrap_parse(const uint8_t *buf, size_t len, struct skiff_bootstrap *out,
                          const char **error) {
    memset(out, 0, sizeof(*out));
    if (buf == NULL || len < HEADER_SIZE)
        return fail(error, "message of %zu bytes is shorter than its header", len);
    uint32_t magic = read_u32(buf), version = read_u32(buf + 4), total = read_u32(buf + 8);
    uint32_t reserved = read_u32(buf + 12);
    if (magic != SKIFF_BOOTSTRAP_MAGIC) return fail(error, "bad magic 0x%08x", magic);
    if (version != SKIFF_BOOTSTRAP_VERSION) return fail(error, "unsupported version %u", version);
    if (total > SKIFF_BOOTSTRAP_MAX) return fail(error, "total length %u exceeds %u", total,
                                                 SKIFF_BOOTSTRAP_MAX);
    if ((size_t)total != len)
        return fail(error, "total length %u does not match %zu bytes received", total, len);
    if (reserved != 0) return fail(error, "reserved header field is %u", reserved);

    int seen_flags = 0, seen_setgroups = 0, seen_exec = 0;
    size_t offset = HEADER_SIZE;
    while (offset < len) {
        size_t remaining = len - offset;
        if (remaining < ATTR_HEADER_SIZE)
            return fail(error, "%zu trailing bytes at offset %zu", remaining, offset);
        uint16_t type = read_u16(buf + offset);
        uint16_t attr_reserved = read_u16(buf + offset + 2);
        uint32_t attr_len = read_u32(buf + offset + 4);
        remaining -= ATTR_HEADER_SIZE;
        // Compare before adding: attr_len comes from the sender and may be near UINT32_MAX.
        if (attr_len > remaining)
            return fail(error, "attribute %u length %u exceeds message", type, attr_len);
        size_t padding = (4 - (attr_len & 3u)) & 3u;
        if (padding > remaining - attr_len)
            return fail(error, "attribute %u padding exceeds message", type);
        if (attr_reserved != 0) return fail(error, "attribute %u reserved field is %u", type,
                                            attr_reserved);
        const uint8_t *payload = buf + offset + ATTR_HEADER_SIZE;
        for (size_t i = 0; i < padding; i++) {
            if (payload[attr_len + i] != 0) return fail(error, "attribute %u padding not zero", type);
        }

        int rc = 0;
        switch (type) {
        case SKIFF_ATTR_CLONE_FLAGS:
            if (seen_flags) return fail(error, "attribute %u repeated", type);
            if (attr_len != 4) return fail(error, "attribute %u length %u, want 4", type, attr_len);
            out->clone_flags = read_u32(payload);
            seen_flags = 1;
            if (out->clone_flags & ~(uint32_t)NS_FLAGS)
                return fail(error, "clone flags 0x%x are not all CLONE_NEW*", out->clone_flags);
            break;
        case SKIFF_ATTR_NS_PATH:
            rc = read_ns_path(payload, attr_len, out, error);
            break;
        case SKIFF_ATTR_UID_MAP:
            rc = read_string(type, payload, attr_len, &out->uid_map, &out->uid_map_len, error);
            break;
        case SKIFF_ATTR_GID_MAP:
            rc = read_string(type, payload, attr_len, &out->gid_map, &out->gid_map_len, error);
            break;
        case SKIFF_ATTR_SETGROUPS_DENY:
            rc = read_flag(type, payload, attr_len, &seen_setgroups, &out->setgroups_deny, error);
            break;
        case SKIFF_ATTR_NEWUIDMAP_PATH:
            rc = read_string(type, payload, attr_len, &out->newuidmap_path, NULL, error);
            break;
        case SKIFF_ATTR_NEWGIDMAP_PATH:
            rc = read_string(type, payload, attr_len, &out->newgidmap_path, NULL, error);
            break;
        case SKIFF_ATTR_OOM_SCORE_ADJ:
            rc = read_string(type, payload, attr_len, &out->oom_score_adj, NULL, error);
            if (rc == 0 && !is_decimal(out->oom_score_adj, 5))
                return fail(error, "oom_score_adj is not a decimal number");
            break;
        case SKIFF_ATTR_TIME_OFFSETS:
            rc = read_string(type, payload, attr_len, &out->time_offsets, &out->time_offsets_len,
                             error);
            break;
        case SKIFF_ATTR_IS_EXEC:
            rc = read_flag(type, payload, attr_len, &seen_exec, &out->is_exec, error);
            break;
        case SKIFF_ATTR_CGROUP_TASKS:
            rc = read_cgroup_tasks(payload, attr_len, out, error);
            break;
        case SKIFF_ATTR_MOUNT_SOURCE:
            rc = read_mount_source(payload, attr_len, out, error);
            break;
        default:
            return fail(error, "unknown attribute type %u", type);
        }
        if (rc < 0) return -1;
        offset += ATTR_HEADER_SIZE + attr_len + padding;
    }

    // Combinations the stages could only fail on later, with a less helpful message.
    if (!seen_flags) return fail(error, "clone flags missing");
    int new_user = (out->clone_flags & CLONE_NEWUSER) != 0;
    if (new_user && (out->uid_map == NULL || out->gid_map == NULL))
        return fail(error, "new user namespace without uid and gid maps");
    if (!new_user && (out->uid_map || out->gid_map))
        return fail(error, "uid or gid map without a new user namespace");
    if (out->newuidmap_path && (out->newuidmap_path[0] != '/' || !out->uid_map))
        return fail(error, "newuidmap path must be absolute and come with a uid map");
    if (out->newgidmap_path && (out->newgidmap_path[0] != '/' || !out->gid_map))
        return fail(error, "newgidmap path must be absolute and come with a gid map");
    if (out->time_offsets && !(out->clone_flags & CLONE_NEWTIME))
        return fail(error, "time offsets without a new time namespace");
    if (out->mount_source_count > 0 && !(out->clone_flags & CLONE_NEWNS))
        return fail(error, "mount sources without a new mount namespace");
    for (int i = 0; i < out->ns_path_count; i++) {
        if (out->clone_flags & (uint32_t)out->ns_paths[i].nstype)
            return fail(error, "namespace %s both joined and created", out->ns_paths[i].type);
    }
    return 0;
}
