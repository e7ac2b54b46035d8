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

    /// mount_setattr(AT_RECURSIVE): sets and clears MOUNT_ATTR_* on the whole tree under the
    /// mount `fd` (rro, rnosuid...), which mount(2) cannot do.
    public static func setAttributesRecursive(_ fd: OwnedFD, set: UInt64, clear: UInt64, display: String) throws(LinuxError) {
        _ = try sysCall("mount_setattr", path: display) { skiff_mount_setattr_recursive(fd.raw, set, clear) }
    }

    /// A read-only, nodev, nosuid overlayfs over the `lowerdir` layers (already escaped and
    /// joined with ':'), made with the new mount API and never attached anywhere: it goes away
    /// with its last fd. `display` names what it is for in errors.
    public static func detachedReadOnlyOverlay(lowerdir: String, display: String) throws(LinuxError) -> OwnedFD {
        let (context, err) = sysCallErrno { skiff_fsopen("overlay") }
        if err != 0 { throw LinuxError("fsopen overlay", path: display, errno: err) }
        let contextFD = OwnedFD(context)
        let (_, lowerErr) = sysCallErrno { skiff_fsconfig_string(contextFD.raw, "lowerdir", lowerdir) }
        if lowerErr != 0 { throw LinuxError("fsconfig lowerdir=\(lowerdir)", path: display, errno: lowerErr) }
        // xino only matters for inode numbers we never look at; off avoids kernel log noise.
        _ = skiff_fsconfig_string(contextFD.raw, "xino", "off")
        let (_, createErr) = sysCallErrno { skiff_fsconfig_create(contextFD.raw) }
        if createErr != 0 { throw LinuxError("fsconfig create overlay", path: display, errno: createErr) }
        let (mount, mountErr) = sysCallErrno {
            skiff_fsmount(contextFD.raw, SKIFF_MOUNT_ATTR_RDONLY | SKIFF_MOUNT_ATTR_NODEV | SKIFF_MOUNT_ATTR_NOSUID)
        }
        if mountErr != 0 { throw LinuxError("fsmount overlay", path: display, errno: mountErr) }
        return OwnedFD(mount)
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
