#if canImport(Glibc)
import Glibc
#endif
import CShims

public enum Mounts {
    /// mount(2). Targets are normally `/proc/self/fd/N` of an fd resolved inside the rootfs;
    /// `display` is the path the user wrote, for the error.
    public static func mount(source: String?, target: String, type: String?, flags: UInt,
                             data: String? = nil, display: String? = nil) throws(LinuxError) {
        _ = try sysCall("mount", path: display ?? target) {
            Glibc.mount(source, target, type, flags, data)
        }
    }

    public static func unmount(_ target: String, flags: Int32 = 0) throws(LinuxError) {
        _ = try sysCall("umount2", path: target) { umount2(target, flags) }
    }

    public static func pivotRoot(_ newRoot: String, _ putOld: String) throws(LinuxError) {
        _ = try sysCall("pivot_root", path: newRoot) { skiff_pivot_root(newRoot, putOld) }
    }
}

/// The mount flags of a path as statfs reports them (ST_* values), used to keep the locked
/// flags of a bind source on a read-only remount.
public func mountFlags(of fd: OwnedFD) throws(LinuxError) -> UInt {
    var st = statfs()
    _ = try sysCall("fstatfs", path: fd.procPath) { fstatfs(fd.raw, &st) }
    var flags: UInt = 0
    let f = UInt(st.f_flags)
    if f & UInt(SKIFF_ST_NOSUID) != 0 { flags |= UInt(MS_NOSUID) }
    if f & UInt(SKIFF_ST_NODEV) != 0 { flags |= UInt(MS_NODEV) }
    if f & UInt(SKIFF_ST_NOEXEC) != 0 { flags |= UInt(MS_NOEXEC) }
    if f & UInt(ST_RDONLY) != 0 { flags |= UInt(MS_RDONLY) }
    if f & UInt(SKIFF_ST_NOATIME) != 0 { flags |= UInt(MS_NOATIME) }
    if f & UInt(SKIFF_ST_NODIRATIME) != 0 { flags |= UInt(MS_NODIRATIME) }
    if f & UInt(SKIFF_ST_RELATIME) != 0 { flags |= UInt(MS_RELATIME) }
    return flags
}
