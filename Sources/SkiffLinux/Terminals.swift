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
}
