#if canImport(Glibc)
import Glibc
#endif
import CShims

/// Idmapped mounts (mount_setattr(2) MOUNT_ATTR_IDMAP): a detached copy of a directory tree
/// whose owners are shown, and written, through a user namespace's maps.
public enum IDMappedMounts {
    /// A user namespace carrying these maps (uid_map lines: "inside outside count"), as an fd
    /// for MOUNT_ATTR_IDMAP. Made by a short-lived child in a new user namespace (C: no Swift
    /// runs in it); the namespace lives on through the fd.
    public static func userNamespace(uidMap: String, gidMap: String) throws(LinuxError) -> OwnedFD {
        var failed: UnsafePointer<CChar>?
        let fd = skiff_userns_with_maps(uidMap, gidMap, &failed)
        if fd < 0 {
            throw LinuxError(failed.map { String(cString: $0) } ?? "user namespace", errno: currentErrno())
        }
        return OwnedFD(fd)
    }

    /// A detached clone of `source` (open_tree OPEN_TREE_CLONE, with its submounts when
    /// `recursive`), idmapped through `userNamespace`: only the top mount, or every mount of
    /// the clone when `idmapSubmounts` (ridmap). The kernel refuses (EINVAL) a filesystem that
    /// cannot be idmapped.
    public static func clone(source: String, recursive: Bool, idmapSubmounts: Bool,
                             userNamespace: OwnedFD) throws(LinuxError) -> OwnedFD {
        let flags = SKIFF_OPEN_TREE_CLONE | UInt32(O_CLOEXEC) | (recursive ? SKIFF_AT_RECURSIVE : 0)
        let tree = OwnedFD(try sysCall("open_tree", path: source) { skiff_open_tree(AT_FDCWD, source, flags) })
        _ = try sysCall("mount_setattr MOUNT_ATTR_IDMAP", path: source) {
            skiff_mount_setattr_idmap(tree.raw, userNamespace.raw, idmapSubmounts ? 1 : 0)
        }
        return tree
    }

    /// Attaches a detached mount onto `target` (move_mount); `display` names the destination.
    public static func attach(_ mount: OwnedFD, onto target: OwnedFD, display: String) throws(LinuxError) {
        _ = try sysCall("move_mount", path: display) { skiff_move_mount_fd(mount.raw, target.raw) }
    }
}

/// linux.netDevices: host network interfaces handed to a container's network namespace.
public enum NetDevices {
    /// Sets the link `name` of the namespace `from` (nil: the caller's) down and moves it into
    /// `to` under `newName` in one request, then sets it up there when `up`.
    public static func move(_ name: String, from: OwnedFD?, to: OwnedFD, newName: String, up: Bool) throws(LinuxError) {
        var failed: UnsafePointer<CChar>?
        if skiff_netdev_move(from?.raw ?? -1, name, to.raw, newName, up ? 1 : 0, &failed) < 0 {
            throw LinuxError(failed.map { String(cString: $0) } ?? "move link", path: name, errno: currentErrno())
        }
    }
}
