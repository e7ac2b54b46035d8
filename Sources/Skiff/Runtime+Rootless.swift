#if canImport(Glibc)
import Glibc
#endif
import SkiffCgroups
import SkiffInitProtocol
import SkiffLinux
import SkiffOCI

/// A rootless container's cgroup, placed and tolerated as runc places and tolerates it
/// (libcontainer/cgroups/fs2: `_defaultDirPath` and `Apply`; fs: `Set`):
///
/// - Only cgroup2 can be handed to a user: a directory the user owns, with its `cgroup.procs`,
///   `cgroup.subtree_control` and `cgroup.threads` (systemd's `Delegate=yes`, or an admin's
///   chown), on a host whose controllers are all on cgroup2.
/// - No `linux.cgroupsPath`: `<parent of our own cgroup>/<id>`, as runc does. Our own cgroup
///   holds processes (ours, the caller's shell), and cgroup2's no-internal-process rule keeps
///   controllers from its children; its parent (the delegated `app.slice`, `user@.service`)
///   does not. Failing that, and when no limits are asked for, below our own cgroup: a cgroup
///   to track, freeze and kill the container.
/// - A relative `cgroupsPath` lies below the parent of our own cgroup, an absolute one below
///   the cgroup2 mount. An explicit path that cannot be made is an error, as with runc.
/// - Nothing writable: no cgroup (runc's `ErrRootless`), unless `linux.resources` asks for
///   a limit. runc then fails ("rootless needs no limits + no cgrouppath when no permission is
///   granted for cgroups" on v2, "cannot set <x> limit: container could not join or create
///   cgroup" on v1, tests/integration/cgroups.bats "rootless + limits + no cgrouppath + no
///   permission"): a container silently running without the limits it asked for is worse than
///   one that does not start. So does skiff. Without limits the container runs without a
///   cgroup, and skiff says so in a warning.
/// - With any cgroup v1 controller (pure v1, hybrid) every hierarchy is attempted at the path
///   root would use (runc's fs driver ignores a permission error there when rootless): none
///   is delegated to a user by design, but one may be writable (an admin's chown, root of a
///   user namespace that maps host root). Limits need all of them.
extension Runtime {
    /// Makes the rootless container's cgroup; nil when it runs without one, with the warning
    /// to give once the container exists (a create that fails later says only why).
    func createRootlessCgroup(spec: Spec, id: String) throws -> (manager: CgroupManager?, warning: String?) {
        let limits = spec.linux?.resources.map(Self.requestsLimits) ?? false
        let hierarchies: [CgroupHierarchy]
        do {
            hierarchies = try CgroupManager.hostHierarchies()
        } catch {
            throw SkiffError(.system, "cgroups", error)
        }
        let explicit = spec.linux?.cgroupsPath.map { !$0.isEmpty } ?? false
        let reason: String
        // Delegation is a cgroup2 idea: only a host whose controllers are all on cgroup2 gets
        // runc's fs2 placement; with any v1 controller (pure v1, hybrid) every hierarchy is
        // attempted as runc's fs driver does.
        let v1Controllers = hierarchies.contains { $0.version == .v1 && $0.controllers.contains { !$0.hasPrefix("name=") } }
        if !v1Controllers, let v2 = hierarchies.first(where: { $0.version == .v2 }) {
            var failure = ""
            var paths = Self.rootlessCgroupPaths(cgroupsPath: spec.linux?.cgroupsPath, id: id, ownPath: v2.ownPath)
            // Below our own cgroup no controller can be enabled (it has processes): no place
            // for limits.
            if limits && !explicit { paths = Array(paths.prefix(1)) }
            for path in paths {
                let manager: CgroupManager
                do {
                    manager = try CgroupManager(hierarchies: [v2], cgroupsPath: path)
                } catch {
                    throw SkiffError(.invalidArgument, error)
                }
                // The kernel moves a process between cgroups only for a writer of both
                // cgroup.procs files and of their common ancestor's: check before making
                // anything, so the init's join cannot fail half-way.
                let ancestor = v2.mountPoint + Self.commonAncestor(v2.ownPath, path) + "/cgroup.procs"
                do { try Files.checkAccess(ancestor, W_OK) } catch {
                    failure = SkiffError.text(of: error)
                    if explicit { throw SkiffError(.invalidArgument, "linux.cgroupsPath: \(failure)") }
                    continue
                }
                do throws(LinuxError) {
                    try manager.create()
                    logger.debug("rootless: cgroup \(manager.directories.first ?? path)")
                    return (manager, nil)
                } catch {
                    failure = "\(error)"
                    let denied = [EACCES, EPERM, EROFS].contains(error.errno.rawValue)
                    if explicit || !denied { throw SkiffError(denied ? .invalidArgument : .system, "linux.cgroupsPath: \(error)") }
                }
            }
            reason = "no cgroup v2 subtree is delegated to uid \(geteuid()) (\(failure))"
        } else {
            // cgroup v1 or hybrid: nothing is delegated to users there, but a hierarchy may
            // still be writable (an admin's chown, or root of a user namespace that maps host
            // root). Each is attempted, as runc's fs driver does, and the refused ones are
            // left out; an explicit cgroupsPath or limits need them all.
            let path = explicit ? spec.linux?.cgroupsPath ?? "" : "/skiff/\(id)"
            var kept: [CgroupHierarchy] = []
            var failure = ""
            for hierarchy in hierarchies {
                let one: CgroupManager
                do {
                    one = try CgroupManager(hierarchies: [hierarchy], cgroupsPath: path)
                } catch {
                    throw SkiffError(.invalidArgument, error)
                }
                if hierarchy.version == .v2 {
                    // Moving a process on cgroup2 needs the common ancestor's cgroup.procs too.
                    let ancestor = hierarchy.mountPoint + Self.commonAncestor(hierarchy.ownPath, one.path) + "/cgroup.procs"
                    do { try Files.checkAccess(ancestor, W_OK) } catch {
                        if failure.isEmpty { failure = SkiffError.text(of: error) }
                        continue
                    }
                }
                do throws(LinuxError) {
                    try one.create()
                    kept.append(hierarchy)
                } catch {
                    let denied = [EACCES, EPERM, EROFS].contains(error.errno.rawValue)
                    if !denied { throw SkiffError(.system, "linux.cgroupsPath", error) }
                    if failure.isEmpty { failure = "\(error)" }
                }
            }
            let complete = kept.count == hierarchies.count
            if !kept.isEmpty && (complete || !(limits || explicit)) {
                if !complete { logger.debug("rootless: cgroup \(path) in \(kept.count) of \(hierarchies.count) hierarchies (\(failure))") }
                do {
                    return (try CgroupManager(hierarchies: kept, cgroupsPath: path), nil)
                } catch {
                    throw SkiffError(.invalidArgument, error)
                }
            }
            // Limits in only some hierarchies would be limits silently not applied, and an
            // explicit path only partly made is not the path asked for: all or none.
            if let made = try? CgroupManager(hierarchies: kept, cgroupsPath: path) { try? made.destroy() }
            reason = "no cgroup hierarchy is writable by uid \(geteuid())" + (failure.isEmpty ? "" : " (\(failure))")
            if explicit { throw SkiffError(.invalidArgument, "linux.cgroupsPath: rootless: \(reason)") }
        }
        if limits {
            throw SkiffError(.invalidArgument, "linux.resources: rootless: limits need a cgroup and \(reason)")
        }
        let pidNamespace = (spec.linux?.namespaces ?? []).contains { $0.type == .pid && ($0.path ?? "").isEmpty }
        // runc adds a warning for the last case: without a cgroup or a pid namespace, nothing
        // finds every process of the container to kill it.
        return (nil, "rootless: container \(id) runs without a cgroup: \(reason)"
            + (pidNamespace ? "" : "; with no pid namespace either, its processes cannot all be killed"))
    }

    /// Where to try, in order, as paths below the cgroup2 mount.
    static func rootlessCgroupPaths(cgroupsPath: String?, id: String, ownPath: String) -> [String] {
        let parent = Self.parentCgroup(ownPath)
        func below(_ base: String, _ name: String) -> String { (base == "/" ? "" : base) + "/" + name }
        guard let cgroupsPath, !cgroupsPath.isEmpty else {
            let paths = [below(parent, id), below(ownPath, id)]
            return paths[0] == paths[1] ? [paths[0]] : paths
        }
        return [cgroupsPath.hasPrefix("/") ? cgroupsPath : below(parent, cgroupsPath)]
    }

    static func parentCgroup(_ path: String) -> String {
        guard let slash = path.lastIndex(of: "/"), slash != path.startIndex else { return "/" }
        return String(path[..<slash])
    }

    /// The deepest cgroup containing both paths; "" for the root, so it appends to a mount point.
    static func commonAncestor(_ a: String, _ b: String) -> String {
        let shared = zip(a.split(separator: "/"), b.split(separator: "/")).prefix { $0 == $1 }.map { $0.0 }
        return shared.isEmpty ? "" : "/" + shared.joined(separator: "/")
    }
}

extension Runtime {
    /// The processes of a container that has no cgroup (rootless, nothing delegated), for `ps`
    /// and `kill --all`: every process of its own pid namespace; sharing ours, its init and
    /// init's descendants (a process that daemonized away from init is then out of reach,
    /// which is why runc warns about this configuration).
    func processesWithoutCgroup(_ record: ContainerRecord) -> [Int32] {
        guard status(of: record) != .stopped else { return [] }
        let own = Self.pidNamespace(of: "self")
        let container = Self.pidNamespace(of: "\(record.pid)")
        let pids = ((try? Files.listDirectory("/proc")) ?? []).compactMap { Int32($0) }
        if let container, container != own {
            return pids.filter { Self.pidNamespace(of: "\($0)") == container }.sorted()
        }
        var parents: [Int32: [Int32]] = [:]
        for pid in pids {
            guard let stat = try? Procfs.read("/proc/\(pid)/stat"), let close = stat.lastIndex(of: ")") else { continue }
            let fields = stat[stat.index(after: close)...].split(separator: " ")
            if fields.count > 1, let ppid = Int32(fields[1]) { parents[ppid, default: []].append(pid) }
        }
        var result: [Int32] = []
        var queue = [record.pid]
        while let pid = queue.popLast(), result.count < 1 << 16 {
            result.append(pid)
            queue += parents[pid] ?? []
        }
        return result.sorted()
    }

    /// The pid namespace of /proc/<pid>, as device and inode; nil when it cannot be read.
    static func pidNamespace(of pid: String) -> [UInt64]? {
        guard let st = try? Files.status("/proc/\(pid)/ns/pid") else { return nil }
        return [UInt64(st.st_dev), UInt64(st.st_ino)]
    }
}
