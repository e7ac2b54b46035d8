#if canImport(Glibc)
import Glibc
#endif
import SkiffLinux

/// A container's cgroup in every hierarchy of the host: made, joined, limited, frozen,
/// measured and removed.
///
/// The host decides the driver of each controller, as runc does: a controller mounted as a v1
/// hierarchy is driven through it (v1 files); one that cgroup2 offers and no v1 hierarchy has
/// taken is driven through cgroup2 (v2 files, conversions). So a pure v1 host, a pure v2 host
/// and a hybrid one (v1 controllers, with hugetlb left on cgroup2) are all the same code.
public struct CgroupManager: Sendable {
    public let hierarchies: [CgroupHierarchy]
    /// The container's path below each hierarchy's root, normalized, starting with "/".
    public let path: String
    /// Whether `path` lies below the runtime's own cgroup (a relative linux.cgroupsPath), as
    /// runc takes it. Decided once, when the manager is made (from the config at create, from
    /// the record after): every directory the manager names follows from it.
    public let relative: Bool
    /// The controllers driven through cgroup2: offered by its root's cgroup.controllers and not
    /// mounted as v1 hierarchies.
    public let v2Controllers: [String]
    /// The directories of this container, one per hierarchy; named once, since every
    /// operation walks them (a `run` asked for them ~100 times, ~60 K instructions of appends).
    public let directories: [String]

    /// `directories` of the hierarchies of one version, in the same order.
    public func directories(of version: CgroupHierarchy.Version) -> [String] {
        zip(hierarchies, directories).compactMap { $0.version == version ? $1 : nil }
    }

    public init(hierarchies: [CgroupHierarchy], cgroupsPath: String, relative: Bool = false) throws(CgroupError) {
        self.hierarchies = hierarchies
        let path = try Self.normalize(cgroupsPath)
        self.path = path
        self.relative = relative
        directories = hierarchies.map { Self.directory(in: $0, path: path, relative: relative) }
        let v1 = Set(hierarchies.filter { $0.version == .v1 }.flatMap(\.controllers))
        if let v2 = hierarchies.first(where: { $0.version == .v2 }),
           let text = try? Files.readString(v2.mountPoint + "/cgroup.controllers") {
            v2Controllers = text.split(whereSeparator: \.isKernelBlank).map(String.init).filter { !v1.contains($0) }
        } else {
            v2Controllers = []
        }
    }

    /// The manager of the host's hierarchies for a container's cgroupsPath.
    public static func host(cgroupsPath: String, relative: Bool) throws(CgroupError) -> CgroupManager {
        let hierarchies: [CgroupHierarchy]
        do {
            hierarchies = try hostHierarchies()
        } catch {
            throw CgroupError("cgroups: \(error)", cause: error)
        }
        return try CgroupManager(hierarchies: hierarchies, cgroupsPath: cgroupsPath, relative: relative)
    }

    /// Rejects a cgroupsPath that would climb out of the hierarchy (`/../../etc`): the
    /// runtime runs as root and would otherwise create or remove directories anywhere.
    public static func normalize(_ cgroupsPath: String) throws(CgroupError) -> String {
        // Appended part by part: `[Substring].joined` is an unspecialized generic whose first
        // call resolves its associated types by mangled name, ~210 K instructions in every
        // command that finds a container's cgroup (callgrind, `skiff exec`).
        var normalized = ""
        for component in cgroupsPath.split(separator: "/") {
            switch component {
            case ".": continue
            case "..": throw CgroupError("linux.cgroupsPath: \"\(cgroupsPath)\" must not contain \"..\"")
            default:
                normalized.append("/")
                normalized.append(contentsOf: component)
            }
        }
        if normalized.isEmpty { throw CgroupError("linux.cgroupsPath: \"\(cgroupsPath)\" names the root cgroup") }
        return normalized
    }

    // MARK: paths

    /// The directory below which the container's path starts in `hierarchy`: its root, or the
    /// runtime's own cgroup for a relative cgroupsPath, as runc takes it.
    func base(of hierarchy: CgroupHierarchy) -> String {
        Self.base(of: hierarchy, relative: relative)
    }

    private static func base(of hierarchy: CgroupHierarchy, relative: Bool) -> String {
        hierarchy.mountPoint + (relative && hierarchy.ownPath != "/" ? hierarchy.ownPath : "")
    }

    /// The container's directory in one hierarchy.
    public func directory(in hierarchy: CgroupHierarchy) -> String {
        Self.directory(in: hierarchy, path: path, relative: relative)
    }

    private static func directory(in hierarchy: CgroupHierarchy, path: String, relative: Bool) -> String {
        base(of: hierarchy, relative: relative) + path
    }

    /// The hierarchy that drives `controller` here, nil when none does. The v2 freezer
    /// (cgroup.freeze) and device filter (eBPF) are part of cgroup2 itself, not controllers
    /// it lists.
    public func hierarchy(for controller: String) -> CgroupHierarchy? {
        if let v1 = hierarchies.first(where: { $0.version == .v1 && $0.controllers.contains(controller) }) {
            return v1
        }
        guard let v2 = v2Hierarchy else { return nil }
        if controller == "freezer" || controller == "devices" || v2Controllers.contains(controller) { return v2 }
        return nil
    }

    var v2Hierarchy: CgroupHierarchy? { hierarchies.first { $0.version == .v2 } }

    /// The container's directory for `controller`, nil when the host has no such controller.
    func controlDirectory(for controller: String) -> ControlDirectory? {
        hierarchy(for: controller).map { ControlDirectory(path: directory(in: $0), version: $0.version) }
    }

    // MARK: create, join

    /// Creates the container's cgroup in every hierarchy (or, with `version`, in those of that
    /// version: create makes the cgroup2 one before stage 0, which is born in it, and the v1
    /// ones while stage 0 loads), parents as needed; on cgroup2 the parents delegate the
    /// controllers it drives. On failure, removes what this call created. Returns the
    /// directories it stands for.
    @discardableResult
    public func create(only version: CgroupHierarchy.Version? = nil) throws(LinuxError) -> [String] {
        var made: [String] = []
        var named: [String] = []
        do {
            for (hierarchy, directory) in zip(hierarchies, directories) where version == nil || hierarchy.version == version {
                named.append(directory)
                if hierarchy.version == .v2 {
                    enableControllers(base: base(of: hierarchy), directory: directory)
                }
                try Files.mkdirAll(directory)
                made.append(directory)
                if hierarchy.controllers.contains("cpuset") {
                    try inheritCpuset(from: hierarchy.mountPoint, to: directory)
                }
            }
        } catch {
            for directory in made.reversed() { try? Files.rmdir(directory) }
            throw error
        }
        return named
    }


    /// Enables the v2 controllers in cgroup.subtree_control of every level from `base` down
    /// to the container's parent, creating the levels. Errors are left to the resource
    /// writes (as runc does): a controller that could not be delegated shows as a missing
    /// file there, named with the field that needed it.
    func enableControllers(base: String, directory: String) {
        guard !v2Controllers.isEmpty else { return }
        var level = base
        let parents = directory.dropFirst(base.count).split(separator: "/").dropLast()
        var levels = [level]
        for component in parents {
            // Appended, not `"/" + component`: String + Substring is the generic
            // RangeReplaceableCollection `+`, whose Sequence types the runtime resolves by
            // mangled name on first use (~200 K instructions, a scan of every conformance).
            level.append("/")
            level.append(contentsOf: component)
            levels.append(level)
        }
        for level in levels {
            try? Files.mkdir(level)
            let dir = ControlDirectory(path: level, version: .v2)
            let available = Set((dir.readTrimmed("cgroup.controllers") ?? "").split(separator: " ").map(String.init))
            let enabled = Set((dir.readTrimmed("cgroup.subtree_control") ?? "").split(separator: " ").map(String.init))
            let wanted = v2Controllers.filter { available.contains($0) && !enabled.contains($0) }
            guard !wanted.isEmpty else { continue }
            if dir.writeErrno("cgroup.subtree_control", wanted.map { "+" + $0 }.joined(separator: " ")) != 0 {
                // One refused controller fails the whole write: try them one by one.
                for controller in wanted { _ = dir.writeErrno("cgroup.subtree_control", "+" + controller) }
            }
        }
    }

    /// A v1 cpuset cgroup starts with empty cpus and mems and refuses tasks ("no space left
    /// on device") until they are set: copy them down from the nearest parent, as runc does.
    func inheritCpuset(from mountPoint: String, to directory: String) throws(LinuxError) {
        var levels: [String] = []
        var current = directory
        while current.count > mountPoint.count {
            levels.append(current)
            current = String(current[..<(current.lastIndex(of: "/") ?? current.startIndex)])
        }
        for level in levels.reversed() {
            let parent = String(level[..<(level.lastIndex(of: "/") ?? level.startIndex)])
            for file in ["cpuset.cpus", "cpuset.mems"] {
                let own = (try? Files.readString(level + "/" + file)) ?? ""
                if own.allSatisfy(\.isKernelBlank) {
                    let inherited = try Files.readString(parent + "/" + file)
                    try Files.write(level + "/" + file, inherited, flags: O_WRONLY)
                }
            }
        }
    }

    /// Moves `pid` (and so its later children) into the container's cgroup everywhere.
    public func join(pid: Int32) throws(LinuxError) {
        for directory in directories {
            try Files.write(directory + "/cgroup.procs", "\(pid)", flags: O_WRONLY)
        }
    }

    // MARK: processes

    /// The pids in the container's cgroup and its sub-cgroups, from the first hierarchy that
    /// has the cgroup.
    public var pids: [Int32] {
        for directory in directories where Files.exists(directory + "/cgroup.procs") {
            var pids: [Int32] = []
            collectPids(directory, into: &pids, depth: 0)
            return pids
        }
        return []
    }

    private func collectPids(_ directory: String, into pids: inout [Int32], depth: Int) {
        if let text = try? Files.readString(directory + "/cgroup.procs") {
            pids += text.split(separator: "\n").compactMap { Int32($0) }
        }
        guard depth < 32 else { return }
        for child in subdirectories(directory) { collectPids(child, into: &pids, depth: depth + 1) }
    }

    func subdirectories(_ directory: String) -> [String] {
        guard let entries = try? Files.listEntries(directory) else { return [] }
        return entries.filter(\.isDirectory).map { directory + "/" + $0.name }.sorted()
    }

    /// Sends `signal` to every process in the cgroup. With a freezer the cgroup is frozen
    /// meanwhile, so a process forking in a loop cannot escape with a child born after the
    /// list was read (runc's signalAllProcesses). A frozen cgroup is thawed afterwards only
    /// for SIGKILL, which a frozen v1 task would otherwise never act on.
    /// `except` is a process the caller already signalled (the init, through its pidfd): a
    /// second signal could reach it after its handler ran for the first.
    public func signalAll(_ signal: Int32, except: Int32? = nil) {
        let wasFrozen = isFrozen
        let froze = !wasFrozen && (try? freeze()) != nil
        for pid in pids where pid != except { kill(pid, signal) }
        if froze || (wasFrozen && signal == SIGKILL) { try? thaw() }
    }

    // MARK: destroy

    /// Removes the container's cgroup (and any sub-cgroups made inside it) in every
    /// hierarchy. Processes still inside are killed and waited for: a frozen cgroup is thawed
    /// first, since frozen v1 tasks never act on SIGKILL. Every hierarchy is tried; the first
    /// failure is reported.
    public func destroy() throws(LinuxError) {
        // The common case first: every process gone (a container's init has exited, and with
        // it, in a pid namespace of its own, every process in it), one rmdir per directory and
        // nothing read. A directory that refuses (processes left behind without a pid
        // namespace, a frozen cgroup, sub-cgroups) takes the long way: kill, thaw, retry.
        var left: [String] = []
        for directory in directories {
            switch Result(catching: { () throws(LinuxError) in try Files.rmdir(directory) }) {
            case .success: continue
            case .failure(let error) where error.code == ENOENT: continue
            case .failure: left.append(directory)
            }
        }
        if left.isEmpty { return }
        if pids.count > 0 || isFrozen {
            killAll()
        }
        var failure: LinuxError?
        for directory in left {
            do {
                try removeTree(directory, depth: 0)
            } catch {
                if failure == nil { failure = error }
            }
        }
        if let failure { throw failure }
    }

    /// SIGKILL to everything inside, through cgroup.kill where cgroup2 has it.
    func killAll() {
        if let v2 = v2Hierarchy {
            let dir = ControlDirectory(path: directory(in: v2), version: .v2)
            if dir.has("cgroup.kill") { _ = dir.writeErrno("cgroup.kill", "1") }
        }
        for pid in pids { kill(pid, SIGKILL) }
        if isFrozen { try? thaw() }
    }

    /// rmdir leaf-first. rmdir fails with EBUSY while processes remain (they may still be
    /// exiting, or may have been forked after a kill) or sub-cgroups exist: remove those,
    /// kill again and retry for a while. The common case, an empty cgroup without children,
    /// is one rmdir and no directory listing.
    private func removeTree(_ directory: String, depth: Int) throws(LinuxError) {
        var attempt = 0
        while true {
            let err: Int32
            switch Result(catching: { () throws(LinuxError) in try Files.rmdir(directory) }) {
            case .success: return
            case .failure(let error): err = error.code
            }
            if err == ENOENT { return }
            // About 10 s in all: a process that is freeing much memory, or a slow (emulated)
            // machine, can take seconds to leave.
            // cgroupfs says EBUSY for sub-cgroups and processes alike (a plain directory,
            // as in the unit tests' fake cgroupfs, says ENOTEMPTY for sub-directories).
            let childrenMayRemain = err == EBUSY || (err == ENOTEMPTY && attempt == 0)
            guard childrenMayRemain, attempt < 520 else { throw LinuxError("rmdir", path: directory, errno: err) }
            if attempt % 50 == 0, depth < 32 {  // again later: a process may have made one since
                for child in subdirectories(directory) { try removeTree(child, depth: depth + 1) }
            }
            attempt += 1
            if attempt % 50 == 0 { killAll() }
            if attempt > 1 { usleep(attempt < 20 ? 1000 : 20_000) }
        }
    }
}

extension CgroupManager {
    /// `directories` by the filesystem they lie on, one statfs each: cgroup v1
    /// (CGROUP_SUPER_MAGIC), where a single-threaded process can move itself by writing "0"
    /// to the tasks file, and cgroup2; a directory statfs cannot tell goes with neither.
    public static func byVersion(_ directories: [String]) -> (v1: [String], v2: [String], unknown: [String]) {
        var split: (v1: [String], v2: [String], unknown: [String]) = ([], [], [])
        for directory in directories {
            let type = try? Files.filesystemType(directory)
            if type == nil {
                split.unknown.append(directory)
            } else if type == 0x0027_E0EB {
                split.v1.append(directory)
            } else if type == 0x6367_7270 {  // CGROUP2_SUPER_MAGIC
                split.v2.append(directory)
            } else {
                split.unknown.append(directory)
            }
        }
        return split
    }

    /// A cgroup2 directory opened for clone3 CLONE_INTO_CGROUP; nil unless the open fd is on
    /// cgroup2 (checked on the fd, so a path swapped meanwhile cannot pass).
    public static func openCgroup2(_ directory: String) -> OwnedFD? {
        guard let fd = try? Files.open(directory, flags: O_RDONLY | O_DIRECTORY) else { return nil }
        return (try? fd.filesystemType()) == 0x6367_7270 ? fd : nil
    }
}
