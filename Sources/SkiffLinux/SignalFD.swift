#if canImport(Glibc)
import Glibc
#endif
import CShims

/// Signals taken as reads from a signalfd instead of by handlers.
public enum SignalFD {
    /// Blocks `mask` on the calling thread (sigprocmask SIG_BLOCK); returns the mask before.
    public static func block(_ mask: sigset_t) throws(LinuxError) -> sigset_t {
        var mask = mask
        var previous = sigset_t()
        _ = try sysCall("sigprocmask") { sigprocmask(SIG_BLOCK, &mask, &previous) }
        return previous
    }

    /// Restores a mask `block` returned.
    public static func restore(_ mask: sigset_t) {
        var mask = mask
        sigprocmask(SIG_SETMASK, &mask, nil)
    }

    /// A non-blocking, close-on-exec signalfd for `mask`.
    public static func open(_ mask: sigset_t) throws(LinuxError) -> OwnedFD {
        var mask = mask
        return OwnedFD(try sysCall("signalfd") { signalfd(-1, &mask, Int32(SFD_CLOEXEC | SFD_NONBLOCK)) })
    }

    /// The next signal number read from `fd`; nil when none is pending (EAGAIN) or the read
    /// came short.
    public static func next(_ fd: OwnedFD) throws(LinuxError) -> Int32? {
        var info = signalfd_siginfo()
        let size = MemoryLayout<signalfd_siginfo>.size
        let (got, err) = sysCallErrno { read(fd.raw, &info, size) }
        if err == EAGAIN { return nil }
        if err != 0 { throw LinuxError("read signalfd", errno: err) }
        guard got == size else { return nil }
        return Int32(info.ssi_signo)
    }
}
