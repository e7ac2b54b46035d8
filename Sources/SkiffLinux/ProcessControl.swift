#if canImport(Glibc)
import Glibc
#endif
import CShims

/// prctl(2) and the other settings a process makes on itself: its root, working directory,
/// fds and signal dispositions before execve.
public enum ProcessControl {
    /// PR_SET_DUMPABLE 0: no ptrace and no /proc/<pid>/fd for processes of the same uid.
    public static func setNotDumpable() throws(LinuxError) {
        _ = try sysCall("prctl PR_SET_DUMPABLE") { skiff_prctl(PR_SET_DUMPABLE, 0, 0, 0, 0) }
    }

    /// PR_SET_NO_NEW_PRIVS 1: execve grants no privileges (setuid bits, file capabilities).
    public static func setNoNewPrivileges() throws(LinuxError) {
        _ = try sysCall("prctl PR_SET_NO_NEW_PRIVS") { skiff_prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) }
    }

    /// PR_SET_CHILD_SUBREAPER 1: orphaned descendants are reparented to us. Best effort.
    public static func trySetChildSubreaper() {
        _ = skiff_prctl(PR_SET_CHILD_SUBREAPER, 1, 0, 0, 0)
    }

    /// close_range(first, ~0, CLOSE_RANGE_CLOEXEC): every fd from `first` on is closed by
    /// execve, and stays usable until then. Best effort: a kernel without it (before 5.11)
    /// leaves the fds as they are.
    public static func markCloseOnExec(from first: Int32) {
        _ = skiff_close_range(UInt32(first), UInt32.max, UInt32(CLOSE_RANGE_CLOEXEC))
    }

    /// Every signal to SIG_DFL and an empty mask, including glibc's internal ones.
    public static func resetSignals() {
        skiff_reset_signals()
    }

    /// umask(2): the previous mask.
    public static func setUmask(_ mask: mode_t) -> mode_t {
        umask(mask)
    }

    /// execve(2) of `path` with C arrays the caller prepared (NULL-terminated), so that nothing
    /// is allocated here, after a seccomp filter that may deny the allocator's calls. Returns
    /// only when execve failed: its errno.
    public static func execute(_ path: String, arguments: [UnsafeMutablePointer<CChar>?],
                               environment: [UnsafeMutablePointer<CChar>?]) -> Int32 {
        execve(path, arguments, environment)
        return currentErrno()
    }

    /// chroot(2).
    public static func changeRoot(_ path: String, display: String? = nil) throws(LinuxError) {
        _ = try sysCall("chroot", path: display ?? path) { chroot(path) }
    }

    /// chdir(2).
    public static func changeDirectory(_ path: String, display: String? = nil) throws(LinuxError) {
        _ = try sysCall("chdir", path: display ?? path) { chdir(path) }
    }

    /// fchdir(2).
    public static func changeDirectory(to fd: OwnedFD, display: String) throws(LinuxError) {
        _ = try sysCall("fchdir", path: display) { fchdir(fd.raw) }
    }
}
