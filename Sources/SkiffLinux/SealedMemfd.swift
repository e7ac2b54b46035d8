#if canImport(Glibc)
import Glibc
#endif
import CShims

/// A memfd written once and sealed against every change: what init gets when it must read
/// bytes the runtime checked (config.json, the seccomp program) or run the runtime's binary,
/// with no host file behind it that anyone could rewrite.
public enum SealedMemfd {
    static let seals = SKIFF_F_SEAL_SEAL | SKIFF_F_SEAL_SHRINK | SKIFF_F_SEAL_GROW | SKIFF_F_SEAL_WRITE

    public static func make(name: String, contents: [UInt8], executable: Bool = false) throws(LinuxError) -> OwnedFD {
        let fd = try create(name: name, executable: executable)
        try fd.writeAll(contents, operation: "write memfd", path: name)
        try seal(fd, name: name)
        return fd
    }

    /// A new close-on-exec memfd that accepts seals; not yet sealed.
    public static func create(name: String, executable: Bool) throws(LinuxError) -> OwnedFD {
        let base = SKIFF_MFD_CLOEXEC | SKIFF_MFD_ALLOW_SEALING
        // Say whether the memfd is executable (Linux 6.3 logs a warning otherwise); older
        // kernels reject the flag with EINVAL.
        var (fd, err) = sysCallErrno { skiff_memfd_create(name, base | (executable ? SKIFF_MFD_EXEC : SKIFF_MFD_NOEXEC_SEAL)) }
        if err == EINVAL { (fd, err) = sysCallErrno { skiff_memfd_create(name, base) } }
        if err != 0 { throw LinuxError("memfd_create", path: name, errno: err) }
        return OwnedFD(fd)
    }

    /// Seals against writing, growing, shrinking and further seals.
    public static func seal(_ fd: OwnedFD, name: String) throws(LinuxError) {
        _ = try sysCall("seal memfd", path: name) { fcntl(fd.raw, SKIFF_F_ADD_SEALS, Int32(seals)) }
    }

    /// F_SEAL_EXEC (Linux 6.3): not even chmod can change it. Older kernels lack it, which is
    /// why it is only tried.
    public static func trySealExec(_ fd: OwnedFD) {
        _ = fcntl(fd.raw, SKIFF_F_ADD_SEALS, Int32(SKIFF_F_SEAL_EXEC))
    }

    /// Whether `fd` carries every seal `seal` adds.
    public static func isSealed(_ fd: OwnedFD) -> Bool {
        let current = fcntl(fd.raw, SKIFF_F_GET_SEALS)
        return current >= 0 && current & Int32(seals) == Int32(seals)
    }
}
