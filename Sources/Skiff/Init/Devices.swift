#if canImport(Glibc)
import Glibc
#endif
import CShims
import SkiffLinux
import SkiffOCI

/// /dev inside the container: the default devices every container gets, linux.devices, and
/// the conventional links. Nodes are made with mknodat on a directory fd resolved inside the
/// rootfs; in a user namespace, where mknod is refused, the host's node is bind-mounted.
/// Resolving through the rootfs fd means a /dev symlink in the image cannot send device
/// creation to the host (runc CVE-2026-41579, crun CVE-2026-47766).
struct Devices {
    let spec: Spec
    let root: RootedPath
    let bindFromHost: Bool

    static let defaults: [LinuxDevice] = [
        LinuxDevice(path: "/dev/null", type: "c", major: 1, minor: 3, fileMode: 0o666, uid: 0, gid: 0),
        LinuxDevice(path: "/dev/zero", type: "c", major: 1, minor: 5, fileMode: 0o666, uid: 0, gid: 0),
        LinuxDevice(path: "/dev/full", type: "c", major: 1, minor: 7, fileMode: 0o666, uid: 0, gid: 0),
        LinuxDevice(path: "/dev/random", type: "c", major: 1, minor: 8, fileMode: 0o666, uid: 0, gid: 0),
        LinuxDevice(path: "/dev/urandom", type: "c", major: 1, minor: 9, fileMode: 0o666, uid: 0, gid: 0),
        LinuxDevice(path: "/dev/tty", type: "c", major: 5, minor: 0, fileMode: 0o666, uid: 0, gid: 0),
    ]

    func create() throws {
        var devices = Self.defaults
        for device in spec.linux?.devices ?? [] {
            devices.removeAll { $0.path == device.path }
            devices.append(device)
        }
        let oldMask = umask(0)
        defer { umask(oldMask) }
        for device in devices {
            do {
                if bindFromHost {
                    try bind(device)
                } else {
                    try make(device)
                }
            } catch {
                throw SkiffError.wrap(error, "device \(device.path)")
            }
        }
    }

    private func make(_ device: LinuxDevice) throws {
        let kind: mode_t
        switch device.type {
        case "c", "u": kind = S_IFCHR
        case "b": kind = S_IFBLK
        case "p": kind = S_IFIFO
        default: throw SkiffError(.invalidArgument, "unknown device type \"\(device.type)\"")
        }
        let (parentPath, name) = root.split(device.path)
        // An O_PATH fd of the directory serves as dirfd for the *at calls: one lookup.
        let dir = try root.mkdirAll(parentPath)
        let rdev = Files.deviceNumber(major: UInt32(truncatingIfNeeded: device.major), minor: UInt32(truncatingIfNeeded: device.minor))
        let mode = kind | mode_t(device.fileMode ?? 0o666) & 0o7777
        let made = Result { () throws(LinuxError) in try Files.mknodAt(dir, name, mode: mode, device: rdev, display: device.path) }
        if case .failure(let error) = made {
            guard error.code == EEXIST else { throw error }
            // Whatever the image had there (a file, a symlink) is replaced by the real node.
            Files.tryUnlinkAt(dir, name)
            try Files.mknodAt(dir, name, mode: mode, device: rdev, display: device.path)
        }
        try Files.chownAt(dir, name, uid: device.uid ?? 0, gid: device.gid ?? 0, display: device.path)
    }

    private func bind(_ device: LinuxDevice) throws {
        let source = try Files.open(device.path, flags: SKIFF_O_PATH)
        let target = try root.createFile(device.path, mode: 0o000)
        try Mounts.mount(source: source.procPath, target: target.procPath, type: "bind", flags: UInt(MS_BIND), display: device.path)
    }

    /// /dev/fd, stdin/stdout/stderr, /dev/core and /dev/ptmx → pts/ptmx, as runc makes them,
    /// plus /dev/shm and /dev/pts directories when missing.
    static func createSymlinks(root: RootedPath) throws {
        let dir = try root.mkdirAll("/dev")
        var links = [
            ("/proc/self/fd", "fd"), ("/proc/self/fd/0", "stdin"), ("/proc/self/fd/1", "stdout"),
            ("/proc/self/fd/2", "stderr"),
        ]
        // Only where the kernel has one (runc checks the same): a dangling /dev/core is an
        // entry the image never had.
        if access("/proc/kcore", F_OK) == 0 { links.append(("/proc/kcore", "core")) }
        for (target, name) in links {
            try ignoringExisting { () throws(LinuxError) in try Files.symlinkAt(target, dir, name, display: "/dev/\(name)") }
        }
        // /dev/ptmx must point at the container's devpts instance, not the host's.
        var st = Glibc.stat()
        if fstatat(dir.raw, "pts/ptmx", &st, Int32(AT_SYMLINK_NOFOLLOW)) == 0 {
            Files.tryUnlinkAt(dir, "ptmx")
            try ignoringExisting { () throws(LinuxError) in try Files.symlinkAt("pts/ptmx", dir, "ptmx", display: "/dev/ptmx") }
        }
        for name in ["shm", "pts"] {
            try ignoringExisting { () throws(LinuxError) in try Files.mkdirAt(dir, name, mode: 0o755, display: "/dev/\(name)") }
        }
    }

    /// Runs `body`; what the image already has (EEXIST) is kept.
    private static func ignoringExisting(_ body: () throws(LinuxError) -> Void) throws(LinuxError) {
        if case .failure(let error) = Result(catching: body), error.code != EEXIST { throw error }
    }
}
