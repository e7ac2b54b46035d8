#if canImport(Glibc)
import Glibc
#endif
import CShims

public enum Network {
    /// Sets IFF_UP on interface `name` of this process's network namespace (for `lo` in a new
    /// one, which the kernel creates down: runc and crun bring it up, and programs expect
    /// 127.0.0.1 to answer). Nothing is written when it is already up.
    public static func bringUp(_ name: String) throws(LinuxError) {
        let fd = OwnedFD(try sysCall("socket", path: name) {
            socket(AF_INET, Int32(SOCK_DGRAM.rawValue) | Int32(SOCK_CLOEXEC.rawValue), 0)
        })
        var flags: Int16 = 0
        _ = try sysCall("ioctl SIOCGIFFLAGS", path: name) { skiff_get_ifflags(fd.raw, name, &flags) }
        let up = Int16(truncatingIfNeeded: IFF_UP)
        if flags & up != 0 { return }
        _ = try sysCall("ioctl SIOCSIFFLAGS", path: name) { skiff_set_ifflags(fd.raw, name, flags | up) }
    }
}
