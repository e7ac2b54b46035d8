#if canImport(Glibc)
import Glibc
#endif
import CShims
import SkiffInitProtocol
import SkiffLinux

/// A `cgroup` entry of mounts[]: the container sees its own cgroups. On cgroup v1 that is a
/// tmpfs with one directory per hierarchy; on a pure v2 host a single cgroup2 mount. With a
/// cgroup namespace the kernel scopes a fresh mount to the container's subtree; without one
/// the container's directories are bind-mounted from the host, as runc does. Kernel calls go
/// through `kernel` (InitKernel), so tests can record them.
struct CgroupMount<Kernel: InitKernel> {
    let options: InitOptions
    let root: RootedPath
    let inUserNamespace: Bool
    let kernel: Kernel

    func detectCgroupNamespace() -> Bool {
        // Compared against the host's: a namespace of our own means a different inode.
        guard let own = try? kernel.status(of: kernel.open("/proc/self/ns/cgroup", flags: O_RDONLY)),
              let host = try? kernel.status(of: kernel.open("/proc/1/ns/cgroup", flags: O_RDONLY)) else { return false }
        return own.st_ino != host.st_ino
    }

    func mount(destination: String, flags: UInt, type: String) throws {
        let flags = flags & ~(UInt(MS_BIND) | UInt(MS_REC) | UInt(MS_REMOUNT))
        // Probed once per cgroup entry, not once per hierarchy mounted below it.
        let hasCgroupNamespace = detectCgroupNamespace()
        let v1 = options.cgroups.filter { $0.version == "v1" }
        let v2 = options.cgroups.first { $0.version == "v2" }
        let target = try kernel.mkdirAll(destination, in: root)
        if v1.isEmpty {
            guard let v2 else { return }
            try mountOne(v2, at: target, display: destination, flags: flags, cgroupNamespace: hasCgroupNamespace, remount: true)
            return
        }
        try kernel.mount(source: "tmpfs", target: target.procPath, type: "tmpfs",
                         flags: flags & ~UInt(MS_RDONLY), data: "mode=755", display: destination)
        // The tmpfs just mounted, which nothing else can have touched: its directories are
        // made and opened by name in it, not walked to from the rootfs' root.
        let tmpfs = try kernel.open(destination, in: root, flags: SKIFF_O_PATH | O_DIRECTORY, noFollow: true)
        // Without a user namespace (whose locked flags a remount must keep), the entry's flags
        // go on every mount below in one mount_setattr once all are in place, rather than in a
        // remount of each bind and of the tmpfs (and a reopen before each).
        let attributes = inUserNamespace ? nil : Self.mountAttributes(flags)
        var sources = v1
        if let v2 { sources.append(v2) }
        for source in sources {
            // Name each directory as the host does (cpu,cpuacct → "cpu,cpuacct"; cgroup2 →
            // "unified"), from the host's mount point.
            let name = source.mountPoint.split(separator: "/").last.map(String.init) ?? source.controllers.joined(separator: ",")
            let path = destination + "/" + name
            let dir: OwnedFD
            if name.isEmpty || name == "." || name == ".." {
                dir = try kernel.mkdirAll(path, in: root)
            } else {
                switch Result(catching: { () throws(LinuxError) in try kernel.mkdirAt(tmpfs, name, mode: 0o755, display: path) }) {
                case .success: break
                case .failure(let error) where error.code == EEXIST: break
                case .failure(let error): throw error
                }
                dir = try kernel.openAt(tmpfs, name, flags: SKIFF_O_PATH | O_DIRECTORY | O_NOFOLLOW, display: path)
            }
            try mountOne(source, at: dir, display: path, flags: flags, cgroupNamespace: hasCgroupNamespace,
                         remount: attributes == nil)
        }
        if let attributes {
            if flags != 0 { try kernel.setMountAttributes(tmpfs, set: attributes.set, clear: attributes.clear, display: destination) }
        } else if flags & UInt(MS_RDONLY) != 0 {
            let mounted = try kernel.open(destination, in: root, flags: SKIFF_O_PATH)
            try kernel.mount(source: nil, target: mounted.procPath, type: nil,
                             flags: UInt(MS_BIND) | UInt(MS_REMOUNT) | UInt(MS_RDONLY) | (flags & ~UInt(MS_RDONLY)),
                             display: destination)
        }
    }

    /// `flags` as mount_setattr sets them (MOUNT_ATTR_*, linux/mount.h), each per-mount flag a
    /// remount would set or clear, the atime mode relatime unless said otherwise as with a
    /// remount; nil when a flag has no such attribute.
    static func mountAttributes(_ flags: UInt) -> (set: UInt64, clear: UInt64)? {
        typealias A = MountOptions.MountAttribute
        var rest = flags & ~UInt(MS_RELATIME)
        var set: UInt64 = 0
        let clear = A.readOnly | A.noSUID | A.noDev | A.noExec | A.noDirATime | A.atime
        for (flag, attribute) in [(UInt(MS_RDONLY), A.readOnly), (UInt(MS_NOSUID), A.noSUID), (UInt(MS_NODEV), A.noDev),
                                  (UInt(MS_NOEXEC), A.noExec), (UInt(MS_NODIRATIME), A.noDirATime),
                                  (UInt(MS_NOATIME), A.noATime), (UInt(MS_STRICTATIME), A.strictATime)] where rest & flag != 0 {
            set |= attribute
            rest &= ~flag
        }
        // noatime and strictatime together: a remount's error.
        if set & (A.noATime | A.strictATime) == A.noATime | A.strictATime { return nil }
        return rest == 0 ? (set, clear) : nil
    }

    private func mountOne(_ source: CgroupMountSource, at target: OwnedFD, display: String, flags: UInt,
                          cgroupNamespace: Bool, remount: Bool) throws {
        if cgroupNamespace {
            let fstype = source.version == "v2" ? "cgroup2" : "cgroup"
            let data = source.version == "v2" ? nil : source.controllers.joined(separator: ",")
            let mounted = Result { () throws(LinuxError) in
                try kernel.mount(source: fstype, target: target.procPath, type: fstype, flags: flags, data: data, display: display)
            }
            switch mounted {
            case .success: return
            case .failure(let error) where error.code != EPERM && error.code != EBUSY: throw error
            case .failure: break
            }
            // Fall back to a bind of the container's directory (a v1 hierarchy may refuse a
            // second superblock with other options).
        }
        try kernel.mount(source: source.directory, target: target.procPath, type: "bind",
                         flags: UInt(MS_BIND) | UInt(MS_REC), display: display)
        if flags != 0 && remount {
            // The fd still names the directory under the new mount; reopen to reach the mount.
            let mounted = try kernel.open(display, in: root, flags: SKIFF_O_PATH)
            try kernel.mount(source: nil, target: mounted.procPath, type: nil,
                             flags: UInt(MS_BIND) | UInt(MS_REMOUNT) | flags, display: display)
        }
    }
}
