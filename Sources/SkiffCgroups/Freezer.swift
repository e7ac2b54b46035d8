#if canImport(Glibc)
import Glibc
#endif
import SkiffLinux

/// pause and resume: the v1 freezer (freezer.state) or cgroup2's cgroup.freeze, waiting until
/// the kernel reports the state reached.
extension CgroupManager {
    /// Whether the cgroup is frozen (or freezing) now; false when there is no freezer.
    public var isFrozen: Bool {
        guard let dir = controlDirectory(for: "freezer") else { return false }
        return Self.isFrozen(dir) ?? false
    }

    /// `isFrozen` of a saved container from the directories create recorded for it (one per
    /// hierarchy, in the manager's order), without rebuilding its manager from mountinfo and
    /// /proc/self/cgroup, which was a fifth of a `skiff state` (~300 K instructions,
    /// callgrind). The same choice as `controlDirectory(for: "freezer")`: the v1 freezer's
    /// directory (the one with a freezer.state) first, else cgroup2's.
    public static func isFrozen(recorded directories: [String]) -> Bool {
        for path in directories {
            if let frozen = isFrozen(ControlDirectory(path: path, version: .v1)) { return frozen }
        }
        for path in directories {
            if let frozen = isFrozen(ControlDirectory(path: path, version: .v2)) { return frozen }
        }
        return false
    }

    /// The state `dir`'s freezer file reports; nil when the file cannot be read there.
    private static func isFrozen(_ dir: ControlDirectory) -> Bool? {
        switch dir.version {
        case .v1:
            guard let state = dir.readTrimmed("freezer.state") else { return nil }
            return state == "FROZEN" || state == "FREEZING"
        case .v2:
            return dir.readTrimmed("cgroup.freeze").map { $0 == "1" }
        }
    }

    /// Whether the cgroup at `directory` (any hierarchy) is frozen or freezing, by itself or
    /// through an ancestor: v1 freezer.state and cgroup2's cgroup.events report the effective
    /// state; other hierarchies have no freezer.
    public static func isFrozen(directory: String) -> Bool {
        if let frozen = isFrozen(ControlDirectory(path: directory, version: .v1)) { return frozen }
        guard let events = try? Files.readString(directory + "/cgroup.events") else { return false }
        return events.split(separator: "\n").contains("frozen 1")
            || ((try? Files.readString(directory + "/cgroup.freeze")) ?? "").hasPrefix("1")
    }

    public func freeze() throws(CgroupError) {
        let dir = try freezerDirectory()
        switch dir.version {
        case .v1: try freezeV1(dir)
        case .v2: try setV2Frozen(dir, true)
        }
    }

    public func thaw() throws(CgroupError) {
        let dir = try freezerDirectory()
        switch dir.version {
        case .v1:
            try dir.write("freezer.state", "THAWED", field: "freezer")
            for _ in 0..<1000 where dir.readTrimmed("freezer.state") != "THAWED" { usleep(1000) }
        case .v2:
            try setV2Frozen(dir, false)
        }
    }

    private func freezerDirectory() throws(CgroupError) -> ControlDirectory {
        guard let dir = controlDirectory(for: "freezer") else {
            throw CgroupError("cgroups: no freezer on this host (neither a v1 freezer hierarchy nor cgroup2)")
        }
        guard Files.exists(dir.path) else {
            throw CgroupError.wrap("cgroups", LinuxError("open", path: dir.path, errno: ENOENT))
        }
        return dir
    }

    /// A v1 cgroup reads FREEZING while some task has not stopped yet, and may stay there while
    /// new tasks keep arriving: write FROZEN again, thaw now and then to let a forking task
    /// settle (runc's loop, tuned on real kernels), and give up thawed rather than half frozen.
    private func freezeV1(_ dir: ControlDirectory) throws(CgroupError) {
        for attempt in 0..<1000 {
            if attempt % 50 == 49 {
                _ = dir.writeErrno("freezer.state", "THAWED")
                usleep(10_000)
            }
            try dir.write("freezer.state", "FROZEN", field: "freezer")
            if attempt % 25 == 24 { usleep(10) }
            switch dir.readTrimmed("freezer.state") {
            case "FREEZING": continue
            case "FROZEN": return
            case let other: throw CgroupError("freeze \(CgroupError.quoted(dir.path)): unexpected state \(other ?? "(unreadable)")")
            }
        }
        _ = dir.writeErrno("freezer.state", "THAWED")
        throw CgroupError("freeze \(CgroupError.quoted(dir.path)): still FREEZING after 1000 attempts; thawed again")
    }

    /// cgroup.freeze asks; cgroup.events says `frozen 1` once every task has stopped.
    private func setV2Frozen(_ dir: ControlDirectory, _ frozen: Bool) throws(CgroupError) {
        try dir.write("cgroup.freeze", frozen ? "1" : "0", field: "freezer")
        let want: UInt64 = frozen ? 1 : 0
        // Up to 10 s: an emulated machine is slow to stop many tasks.
        for attempt in 0..<2000 {
            if dir.readKeyValues("cgroup.events")["frozen"] == want { return }
            usleep(attempt < 100 ? 500 : 5000)
        }
        if frozen { _ = dir.writeErrno("cgroup.freeze", "0") }
        throw CgroupError("\(frozen ? "freeze" : "thaw") \(CgroupError.quoted(dir.path)): cgroup.events does not report frozen \(want) after 10s")
    }
}
