#if canImport(FoundationEssentials)
import FoundationEssentials
#else
import Foundation
#endif

// The specs `skiff spec` writes: runc's libcontainer/specconv Example() and ToRootless(), so a
// bundle made for one runtime works with the other.

extension Spec {
    /// What `runc spec` (1.1) generates, with skiff's choices where they differ:
    /// - hostname `skiff`;
    /// - no ambient capabilities (runc 1.1 raised the three in the ambient set too, which
    ///   leaks them into every program the container runs; runc 1.2 dropped them as well);
    /// - a cgroup namespace always, as runc adds on a cgroup v2 host: this value must not
    ///   depend on the machine it is computed on;
    /// - `ociVersion` is the spec version skiff implements.
    public static func runcDefault() -> Spec {
        let capabilities = ["CAP_AUDIT_WRITE", "CAP_KILL", "CAP_NET_BIND_SERVICE"]
        return Spec(
            ociVersion: OCIVersion.current,
            process: Process(
                terminal: true,
                user: User(uid: 0, gid: 0),
                args: ["sh"],
                env: [
                    "PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin",
                    "TERM=xterm",
                ],
                cwd: "/",
                capabilities: LinuxCapabilities(
                    bounding: capabilities, effective: capabilities, permitted: capabilities),
                rlimits: [POSIXRlimit(type: "RLIMIT_NOFILE", hard: 1024, soft: 1024)],
                noNewPrivileges: true
            ),
            root: Root(path: "rootfs", readonly: true),
            hostname: "skiff",
            mounts: [
                Mount(destination: "/proc", type: "proc", source: "proc"),
                Mount(
                    destination: "/dev", type: "tmpfs", source: "tmpfs",
                    options: ["nosuid", "strictatime", "mode=755", "size=65536k"]),
                Mount(
                    destination: "/dev/pts", type: "devpts", source: "devpts",
                    options: ["nosuid", "noexec", "newinstance", "ptmxmode=0666", "mode=0620", "gid=5"]),
                Mount(
                    destination: "/dev/shm", type: "tmpfs", source: "shm",
                    options: ["nosuid", "noexec", "nodev", "mode=1777", "size=65536k"]),
                Mount(
                    destination: "/dev/mqueue", type: "mqueue", source: "mqueue",
                    options: ["nosuid", "noexec", "nodev"]),
                Mount(
                    destination: "/sys", type: "sysfs", source: "sysfs",
                    options: ["nosuid", "noexec", "nodev", "ro"]),
                Mount(
                    destination: "/sys/fs/cgroup", type: "cgroup", source: "cgroup",
                    options: ["nosuid", "noexec", "nodev", "relatime", "ro"]),
            ],
            linux: Linux(
                resources: LinuxResources(devices: [LinuxDeviceCgroup(allow: false, access: "rwm")]),
                namespaces: [
                    LinuxNamespace(type: .pid),
                    LinuxNamespace(type: .network),
                    LinuxNamespace(type: .ipc),
                    LinuxNamespace(type: .uts),
                    LinuxNamespace(type: .mount),
                    LinuxNamespace(type: .cgroup),
                ],
                maskedPaths: [
                    "/proc/acpi",
                    "/proc/asound",
                    "/proc/kcore",
                    "/proc/keys",
                    "/proc/latency_stats",
                    "/proc/timer_list",
                    "/proc/timer_stats",
                    "/proc/sched_debug",
                    "/sys/firmware",
                    "/proc/scsi",
                ],
                readonlyPaths: [
                    "/proc/bus",
                    "/proc/fs",
                    "/proc/irq",
                    "/proc/sys",
                    "/proc/sysrq-trigger",
                ]
            )
        )
    }

    /// What `runc spec --rootless` generates for a user with this uid and gid: `runcDefault()`
    /// run through runc's ToRootless().
    public static func rootlessDefault(uid: UInt32, gid: UInt32) -> Spec {
        var spec = runcDefault()
        var linux = spec.linux ?? Linux()

        // An unprivileged user cannot create a network namespace with working networking, and
        // everything else needs the new user namespace, which goes last.
        var namespaces = (linux.namespaces ?? []).filter { $0.type != .network && $0.type != .user }
        namespaces.append(LinuxNamespace(type: .user))
        linux.namespaces = namespaces

        // Only the user's own ids can be mapped without newuidmap/newgidmap.
        linux.uidMappings = [LinuxIDMapping(containerID: 0, hostID: uid, size: 1)]
        linux.gidMappings = [LinuxIDMapping(containerID: 0, hostID: gid, size: 1)]

        spec.mounts = spec.mounts?.map { mount in
            // sysfs can only be mounted by the owner of the network namespace; bind the host's.
            if mount.destination == "/sys" {
                return Mount(
                    destination: "/sys", type: "none", source: "/sys",
                    options: ["rbind", "nosuid", "noexec", "nodev", "ro"])
            }
            // gid=5 (tty) on devpts is not mapped in the new user namespace.
            var mount = mount
            let options = mount.options?.filter { !$0.hasPrefix("gid=") && !$0.hasPrefix("uid=") }
            mount.options = options?.isEmpty == true ? nil : options
            return mount
        }

        // An unprivileged user cannot write cgroup limits outside a delegated subtree.
        linux.resources = nil
        spec.linux = linux
        return spec
    }
}
