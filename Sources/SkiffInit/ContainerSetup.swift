#if canImport(Glibc)
import Glibc
#endif
import CShims
import SkiffInitProtocol
import SkiffLinux
import SkiffOCI

/// What a new container's init sets up besides its rootfs and its process: the loopback
/// interface, the session keyring, the host and domain names, the sysctls, and the root of a
/// container without a mount namespace. Its kernel calls go through `kernel`, so the unit
/// tests record them (Tests/SkiffInitTests).
struct ContainerSetup<Kernel: InitKernel> {
    let spec: Spec
    let kernel: Kernel

    private var namespaces: [LinuxNamespace] { spec.linux?.namespaces ?? [] }
    var hasUTS: Bool { namespaces.contains { $0.type == .uts } }

    /// A session keyring of the container's own, so keys of the host's session do not leak
    /// in (runc's default; --no-new-keyring keeps the caller's). Kernels or user namespaces
    /// without keyring support are skipped, as runc does.
    func joinSessionKeyring(_ id: String) throws {
        let key: Int
        switch Result(catching: { () throws(LinuxError) in try kernel.joinSessionKeyring(named: "_ses.\(id)") }) {
        case .success(let joined): key = joined
        case .failure(let error) where [ENOSYS, EACCES, EPERM].contains(error.code): return
        case .failure(let error): throw error
        }
        // The kernel's default for a new keyring (possessor: all; user: view, read, write,
        // search, link) with the bits runc adds (0x080d0000), so the process's uid may use it.
        kernel.trySetKeyringPermissions(key, 0x3f1f_0000 | 0x080d_0000)
    }

    /// hostname and domainname, in the container's own uts namespace only.
    func setNames() throws {
        guard hasUTS else { return }
        if let hostname = spec.hostname, !hostname.isEmpty {
            try kernel.setHostname(hostname)
        }
        if let domainname = spec.domainname, !domainname.isEmpty {
            try kernel.setDomainname(domainname)
        }
    }

    /// Each linux.sysctl entry written under /proc/sys through a verified procfs, in name order.
    func applySysctls() throws {
        for (name, value) in (spec.linux?.sysctl ?? [:]).sorted(by: { $0.key < $1.key }) {
            if name.contains("/") || name.split(separator: ".").contains("..") {
                throw SkiffError(.invalidArgument, "linux.sysctl: invalid name \"\(name)\"")
            }
            let path = "/proc/sys/" + String(name.map { $0 == "." ? "/" : $0 })
            do {
                try kernel.writeProcfs(path, value)
            } catch {
                throw SkiffError.wrap(error, "linux.sysctl \"\(name)\"")
            }
        }
    }

    /// No mount namespace: nothing is mounted (validation refused what would need it), but the
    /// process still gets root.path as its root, never the host's. Returns an fd of the host's
    /// /proc, the only way left to reach exec.fifo's fd after the chroot.
    func enterRootWithoutMountNamespace(_ rootfs: String) throws -> OwnedFD {
        let proc = try kernel.open("/proc", flags: SKIFF_O_PATH | O_DIRECTORY)
        try kernel.changeRoot(rootfs)
        try kernel.changeDirectory("/")
        return proc
    }
}
