#if canImport(Glibc)
import Glibc
#endif
import CShims
import SkiffInitProtocol
import SkiffLinux
import SkiffOCI

/// /dev inside the container: the default devices every container gets, linux.devices, and
/// the conventional links. Nodes are made with mknodat on a directory fd resolved inside the
/// rootfs; in a user namespace, where mknod is refused, the host's node is bind-mounted.
/// Resolving through the rootfs fd means a /dev symlink in the image cannot send device
/// creation to the host (runc CVE-2026-41579, crun CVE-2026-47766). Kernel calls go through
/// `kernel` (InitKernel), so tests can record them.
struct Devices<Kernel: InitKernel> {
    let spec: Spec
    let root: RootedPath
    let bindFromHost: Bool
    let kernel: Kernel
}

/// The devices every container gets (runc's list); linux.devices may replace one by its path.
/// (A generic type cannot hold a static stored property.)
private let defaultDevices: [LinuxDevice] = [
    LinuxDevice(path: "/dev/null", type: "c", major: 1, minor: 3, fileMode: 0o666, uid: 0, gid: 0),
    LinuxDevice(path: "/dev/zero", type: "c", major: 1, minor: 5, fileMode: 0o666, uid: 0, gid: 0),
    LinuxDevice(path: "/dev/full", type: "c", major: 1, minor: 7, fileMode: 0o666, uid: 0, gid: 0),
    LinuxDevice(path: "/dev/random", type: "c", major: 1, minor: 8, fileMode: 0o666, uid: 0, gid: 0),
    LinuxDevice(path: "/dev/urandom", type: "c", major: 1, minor: 9, fileMode: 0o666, uid: 0, gid: 0),
    LinuxDevice(path: "/dev/tty", type: "c", major: 5, minor: 0, fileMode: 0o666, uid: 0, gid: 0),
]

extension Devices {
    func create() throws {
        var devices = defaultDevices
        for device in spec.linux?.devices ?? [] {
            devices.removeAll { $0.path == device.path }
            devices.append(device)
        }
        // Modes as the config gives them, not cut by init's umask.
        let oldMask = kernel.setUmask(0)
        defer { _ = kernel.setUmask(oldMask) }
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
        let dir = try kernel.mkdirAll(parentPath, in: root)
        let rdev = Files.deviceNumber(major: UInt32(truncatingIfNeeded: device.major), minor: UInt32(truncatingIfNeeded: device.minor))
        let mode = kind | mode_t(device.fileMode ?? 0o666) & 0o7777
        let made = Result { () throws(LinuxError) in try kernel.mknodAt(dir, name, mode: mode, device: rdev, display: device.path) }
        if case .failure(let error) = made {
            guard error.code == EEXIST else { throw error }
            // Whatever the image had there (a file, a symlink) is replaced by the real node.
            kernel.tryUnlinkAt(dir, name)
            try kernel.mknodAt(dir, name, mode: mode, device: rdev, display: device.path)
        }
        try kernel.chownAt(dir, name, uid: device.uid ?? 0, gid: device.gid ?? 0, display: device.path)
    }

    private func bind(_ device: LinuxDevice) throws {
        let source = try kernel.open(device.path, flags: SKIFF_O_PATH)
        let target = try kernel.createFile(device.path, in: root, mode: 0o000)
        try kernel.mount(source: source.procPath, target: target.procPath, type: "bind", flags: UInt(MS_BIND), display: device.path)
    }

    /// /dev/fd, stdin/stdout/stderr, /dev/core and /dev/ptmx → pts/ptmx, as runc makes them,
    /// plus /dev/shm and /dev/pts directories when missing.
    func createSymlinks() throws {
        let dir = try kernel.mkdirAll("/dev", in: root)
        var links = [
            ("/proc/self/fd", "fd"), ("/proc/self/fd/0", "stdin"), ("/proc/self/fd/1", "stdout"),
            ("/proc/self/fd/2", "stderr"),
        ]
        // Only where the kernel has one (runc checks the same): a dangling /dev/core is an
        // entry the image never had.
        if kernel.access("/proc/kcore", F_OK) == 0 { links.append(("/proc/kcore", "core")) }
        for (target, name) in links {
            try Self.ignoringExisting { () throws(LinuxError) in try kernel.symlinkAt(target, dir, name, display: "/dev/\(name)") }
        }
        // /dev/ptmx must point at the container's devpts instance, not the host's.
        if kernel.exists("pts/ptmx", in: dir) {
            kernel.tryUnlinkAt(dir, "ptmx")
            try Self.ignoringExisting { () throws(LinuxError) in try kernel.symlinkAt("pts/ptmx", dir, "ptmx", display: "/dev/ptmx") }
        }
        for name in ["shm", "pts"] {
            try Self.ignoringExisting { () throws(LinuxError) in try kernel.mkdirAt(dir, name, mode: 0o755, display: "/dev/\(name)") }
        }
    }

    /// Runs `body`; what the image already has (EEXIST) is kept.
    private static func ignoringExisting(_ body: () throws(LinuxError) -> Void) throws(LinuxError) {
        if case .failure(let error) = Result(catching: body), error.code != EEXIST { throw error }
    }
}
