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
            try mountOne(v2, at: target, display: destination, flags: flags, cgroupNamespace: hasCgroupNamespace)
            return
        }
        try kernel.mount(source: "tmpfs", target: target.procPath, type: "tmpfs",
                         flags: flags & ~UInt(MS_RDONLY), data: "mode=755", display: destination)
        var sources = v1
        if let v2 { sources.append(v2) }
        for source in sources {
            // Name each directory as the host does (cpu,cpuacct → "cpu,cpuacct"; cgroup2 →
            // "unified"), from the host's mount point.
            let name = source.mountPoint.split(separator: "/").last.map(String.init) ?? source.controllers.joined(separator: ",")
            let path = destination + "/" + name
            let dir = try kernel.mkdirAll(path, in: root)
            try mountOne(source, at: dir, display: path, flags: flags, cgroupNamespace: hasCgroupNamespace)
        }
        if flags & UInt(MS_RDONLY) != 0 {
            let mounted = try kernel.open(destination, in: root, flags: SKIFF_O_PATH)
            try kernel.mount(source: nil, target: mounted.procPath, type: nil,
                             flags: UInt(MS_BIND) | UInt(MS_REMOUNT) | UInt(MS_RDONLY) | (flags & ~UInt(MS_RDONLY)),
                             display: destination)
        }
    }

    private func mountOne(_ source: CgroupMountSource, at target: OwnedFD, display: String, flags: UInt,
                          cgroupNamespace: Bool) throws {
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
        if flags != 0 {
            // The fd still names the directory under the new mount; reopen to reach the mount.
            let mounted = try kernel.open(display, in: root, flags: SKIFF_O_PATH)
            try kernel.mount(source: nil, target: mounted.procPath, type: nil,
                             flags: UInt(MS_BIND) | UInt(MS_REMOUNT) | flags, display: display)
        }
    }
}
