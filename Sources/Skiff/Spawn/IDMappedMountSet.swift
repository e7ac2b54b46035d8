#if canImport(Glibc)
import Glibc
#endif
import SkiffInitProtocol
import SkiffLinux
import SkiffOCI

/// The idmapped mounts[] entries of a config (`uidMappings`/`gidMappings`, the `idmap` and
/// `ridmap` options), made by the runtime before init is spawned and handed to it as detached
/// mounts that it attaches (move_mount) where the entry says.
///
/// The runtime makes them because it is root in the host's user namespace: MOUNT_ATTR_IDMAP
/// needs CAP_SYS_ADMIN over the mapping's user namespace, and the maps name host ids that a
/// container's own user namespace could not write (runc 1.2 does the same in its parent).
struct IDMappedMountSet {
    /// The environment variable listing `index:fd` pairs, the mount's position in mounts[] and
    /// init's fd of its detached mount.

    /// mounts[] index and the detached, idmapped mount.
    private(set) var mounts: [(index: Int, fd: OwnedFD)] = []

    /// Whether a mounts[] entry is idmapped, and whether every submount is too (ridmap).
    static func idmapping(of mount: Mount) -> (submounts: Bool, explicit: Bool)? {
        let options = mount.options ?? []
        let explicit = mount.uidMappings?.isEmpty == false || mount.gidMappings?.isEmpty == false
        guard explicit || options.contains("idmap") || options.contains("ridmap") else { return nil }
        return (options.contains("ridmap"), explicit)
    }

    static func prepare(spec: Spec, bundle: String, rootless: Bool) throws -> IDMappedMountSet {
        var set = IDMappedMountSet()
        var namespaces: [String: OwnedFD] = [:]
        defer { namespaces.values.forEach { $0.close() } }
        for (index, mount) in (spec.mounts ?? []).enumerated() {
            guard let idmapping = idmapping(of: mount) else { continue }
            let field = "mounts[\(index)]." + (idmapping.explicit ? "uidMappings" : "options")
            if rootless {
                throw SkiffError(.invalidArgument, "\(field): idmapped mounts need root (CAP_SYS_ADMIN in the host's user namespace), as in runc")
            }
            let source = mount.source ?? ""
            let path = source.hasPrefix("/") ? source : bundle + "/" + source
            do {
                let userNamespace: OwnedFD
                if idmapping.explicit {
                    userNamespace = try namespace(uid: mount.uidMappings, gid: mount.gidMappings, cache: &namespaces)
                } else if let joined = spec.linux?.namespace(.user)?.path, !joined.isEmpty {
                    // The container joins this user namespace: its maps are the mount's (spec 1.2).
                    userNamespace = try Files.open(joined, flags: O_RDONLY)
                    namespaces["path:" + joined] = userNamespace
                } else {
                    userNamespace = try namespace(uid: spec.linux?.uidMappings, gid: spec.linux?.gidMappings, cache: &namespaces)
                }
                let detached = try IDMappedMounts.clone(
                    source: path, recursive: MountOptions(mount.options ?? []).isRecursive,
                    idmapSubmounts: idmapping.submounts, userNamespace: userNamespace)
                set.mounts.append((index, detached))
            } catch let error as LinuxError where error.errno.rawValue == EINVAL && error.operation.hasPrefix("mount_setattr") {
                throw SkiffError(.invalidArgument, "\(field): \(error) (its filesystem does not support idmapped mounts on this kernel)")
            } catch {
                throw SkiffError.wrap(error, field)
            }
        }
        return set
    }

    /// One user namespace per distinct pair of maps.
    private static func namespace(uid: [LinuxIDMapping]?, gid: [LinuxIDMapping]?, cache: inout [String: OwnedFD]) throws -> OwnedFD {
        let uidMap = LinuxIDMapping.mapFileText(uid ?? []), gidMap = LinuxIDMapping.mapFileText(gid ?? [])
        let key = uidMap + "|" + gidMap
        if let known = cache[key] { return known }
        let made = try IDMappedMounts.userNamespace(uidMap: uidMap, gidMap: gidMap)
        cache[key] = made
        return made
    }
}
