#if canImport(Glibc)
import Glibc
#endif
import CShims

/// Pseudo-terminals: the ioctls Glibc hides behind variadics.
public enum Terminals {
    /// The peer of the pty master `master` (TIOCSPTLCK unlock, then TIOCGPTPEER): opened by
    /// fd, never by a /dev/pts path something could have replaced.
    public static func openPeer(_ master: OwnedFD, display: String) throws(LinuxError) -> OwnedFD {
        OwnedFD(try sysCall("ioctl TIOCGPTPEER", path: display) { skiff_pty_peer(master.raw) })
    }

    /// TIOCSWINSZ.
    public static func setWindowSize(_ fd: Int32, rows: UInt16, columns: UInt16) throws(LinuxError) {
        _ = try sysCall("ioctl TIOCSWINSZ") { skiff_set_winsize(fd, rows, columns) }
    }

    /// TIOCGWINSZ; nil when `fd` is no terminal.
    public static func windowSize(_ fd: Int32) -> (rows: UInt16, columns: UInt16)? {
        var rows: UInt16 = 0, columns: UInt16 = 0
        return skiff_get_winsize(fd, &rows, &columns) == 0 ? (rows, columns) : nil
    }

    /// TIOCSCTTY: `fd` becomes the calling session leader's controlling terminal.
    public static func makeControlling(_ fd: OwnedFD) throws(LinuxError) {
        _ = try sysCall("ioctl TIOCSCTTY") { skiff_set_ctty(fd.raw) }
    }

    /// Puts the terminal `fd` in raw mode (cfmakeraw): the settings to restore, nil when `fd`
    /// is no terminal. The corresponding C functions are `tcgetattr` and `tcsetattr`.
    public static func makeRaw(_ fd: Int32) -> termios? {
        guard isatty(fd) != 0 else { return nil }
        var settings = termios()
        guard tcgetattr(fd, &settings) == 0 else { return nil }
        var raw = settings
        cfmakeraw(&raw)
        tcsetattr(fd, TCSANOW, &raw)
        return settings
    }

    /// Gives the terminal `fd` back the settings `makeRaw` returned.
    public static func restore(_ fd: Int32, _ settings: termios) {
        var settings = settings
        tcsetattr(fd, TCSANOW, &settings)
    }

    /// One read of what is available on `from`, all of it written to `to`; false at end of
    /// file or on an error (EIO is a pty master's end of file once the last peer fd closed).
    public static func copyAvailable(from: Int32, to: Int32) -> Bool {
        var buffer = [UInt8](repeating: 0, count: 16384)
        let got = buffer.withUnsafeMutableBytes { read(from, $0.baseAddress, $0.count) }
        if got <= 0 { return got < 0 && currentErrno() == EINTR }
        var offset = 0
        while offset < got {
            let written = buffer.withUnsafeBytes { write(to, $0.baseAddress! + offset, got - offset) }
            if written < 0 { if currentErrno() == EINTR { continue }; return false }
            offset += written
        }
        return true
    }
}
