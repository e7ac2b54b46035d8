#if canImport(Glibc)
import Glibc
#endif
import SkiffLinux
import Synchronization

/// A field of mountinfo compared with a literal (`field == "-"`).
private func == (field: ArraySlice<UInt8>, literal: StaticString) -> Bool {
    field.elementsEqual(UnsafeBufferPointer(start: literal.utf8Start, count: literal.utf8CodeUnitCount))
}

/// One mounted cgroup hierarchy: a v1 hierarchy with its controllers, or the cgroup2 one.
public struct CgroupHierarchy: Sendable, Equatable {
    public enum Version: Sendable, Equatable { case v1, v2 }
    public let version: Version
    public let mountPoint: String
    /// v1: the controllers (and `name=` labels) it carries; v2: empty (what cgroup2 offers is
    /// read from its cgroup.controllers when a manager is made).
    public let controllers: [String]
    /// Where this process's own cgroup lies within the hierarchy; relative cgroupsPaths start there.
    public let ownPath: String

    public init(version: Version, mountPoint: String, controllers: [String], ownPath: String = "/") {
        self.version = version
        self.mountPoint = mountPoint
        self.controllers = controllers
        self.ownPath = ownPath
    }
}

extension CgroupManager {
    /// Every hierarchy of this host, read from /proc/self/mountinfo and /proc/self/cgroup.
    public static func hostHierarchies() throws(LinuxError) -> [CgroupHierarchy] {
        let mountinfo = try Files.readString("/proc/self/mountinfo")
        let own = (try? Files.readString("/proc/self/cgroup")) ?? ""
        if let last = lastParsed.withLock({ $0 }), last.mountinfo == mountinfo, last.own == own {
            return last.hierarchies
        }
        let hierarchies = parse(mountinfo: mountinfo, ownCgroups: own)
        lastParsed.withLock { $0 = (mountinfo, own, hierarchies) }
        return hierarchies
    }

    /// The last files parsed and what they gave: a command reads them several times (a `run`
    /// four: create, the status checks of start and of the exit, delete), and the same text
    /// parses to the same hierarchies; reading and comparing costs a few µs, parsing ~0.25 M
    /// instructions. Text that changed in between is parsed again.
    private static let lastParsed = Mutex<(mountinfo: String, own: String, hierarchies: [CgroupHierarchy])?>(nil)

    /// The hierarchies described by the text of a mountinfo file and a /proc/PID/cgroup file.
    public static func parse(mountinfo: String, ownCgroups own: String) -> [CgroupHierarchy] {
        var ownPaths: [String: String] = [:]  // controller list (or "" for v2) -> path
        for line in Array(own.utf8).split(separator: UInt8(ascii: "\n")) {
            // hierarchy-id:controllers:path
            let fields = line.split(separator: UInt8(ascii: ":"), maxSplits: 2, omittingEmptySubsequences: false)
            if fields.count == 3 {
                ownPaths[String(decoding: fields[1], as: UTF8.self)] = String(decoding: fields[2], as: UTF8.self)
            }
        }
        // Every command reads mountinfo, several times in `run`: it is scanned as bytes, by
        // index, and only a cgroup line's fields become Strings. (Splitting it with the
        // standard library's generic `split` into Substrings cost ~1.1 M instructions, 12% of
        // a `skiff state`; docs/benchmarks.md.)
        let mounts = MountTable(mountinfo)
        var result: [CgroupHierarchy] = []
        var seen = Set<String>()
        for (index, fields) in mounts.lines.enumerated() {
            // mountinfo: id parent major:minor root mountpoint options [optional...] - fstype source superoptions
            guard let dash = fields.indices.dropFirst(6).first(where: { mounts.bytes(fields[$0]) == "-" }),
                  dash + 3 < fields.count, mounts.bytes(fields[dash + 1]).starts(with: "cgroup".utf8) else { continue }
            // A mount of a cgroup below the hierarchy's root (a container's view) is not the
            // hierarchy itself.
            guard mounts.bytes(fields[3]) == "/" else { continue }
            // Every mount point, in the order the kernel lists the mounts (the order they were
            // made): a cgroup entry is really mounted only if nothing later sits on its mount
            // point or above it. A tmpfs over /sys/fs/cgroup/unified (how crun is run on a
            // hybrid host with cgroup2 hidden) leaves the cgroup2 line in mountinfo, and the
            // path then leads to the tmpfs.
            let covered = mounts.lines[(index + 1)...].contains { later in
                later.count > 4 && Self.covers(mounts.bytes(later[4]), mounts.bytes(fields[4]))
            }
            if covered { continue }
            let mountPoint = Mountinfo.unescape(mounts.string(fields[4]))
            switch mounts.string(fields[dash + 1]) {
            case "cgroup2":
                guard !seen.contains("v2") else { continue }
                seen.insert("v2")
                result.append(CgroupHierarchy(version: .v2, mountPoint: mountPoint, controllers: [],
                                              ownPath: ownPaths[""] ?? "/"))
            case "cgroup":
                let controllers = mounts.bytes(fields[dash + 3]).split(separator: UInt8(ascii: ","))
                    .map { String(decoding: $0, as: UTF8.self) }
                    .filter { !mountOptions.contains($0) && !$0.hasPrefix("release_agent=") }
                // Not `joined(separator:)`: its generic path cost ~22 K instructions a call.
                var key = ""
                for controller in controllers { key += key.isEmpty ? controller : "," + controller }
                guard !controllers.isEmpty, !seen.contains(key) else { continue }
                seen.insert(key)
                result.append(CgroupHierarchy(version: .v1, mountPoint: mountPoint, controllers: controllers,
                                              ownPath: ownPaths[key] ?? "/"))
            default: continue
            }
        }
        return result
    }

    /// mountinfo as bytes, each line the ranges of its space-separated fields (empty fields
    /// dropped, as `split` does).
    private struct MountTable {
        let text: [UInt8]
        var lines: [[Range<Int>]] = []

        init(_ mountinfo: String) {
            text = Array(mountinfo.utf8)
            var fields: [Range<Int>] = []
            var start = 0
            for index in 0...text.count {
                let byte = index < text.count ? text[index] : UInt8(ascii: "\n")
                guard byte == UInt8(ascii: " ") || byte == UInt8(ascii: "\n") else { continue }
                if index > start { fields.append(start..<index) }
                start = index + 1
                if byte == UInt8(ascii: "\n"), !fields.isEmpty {
                    lines.append(fields)
                    fields.removeAll(keepingCapacity: true)
                }
            }
        }

        func bytes(_ field: Range<Int>) -> ArraySlice<UInt8> { text[field] }
        func string(_ field: Range<Int>) -> String { String(decoding: text[field], as: UTF8.self) }
    }

    /// Whether a mount at `upper` hides what is mounted at `lower` (the same path, or a
    /// directory above it); both as mountinfo writes them (escaped alike).
    static func covers(_ upper: ArraySlice<UInt8>, _ lower: ArraySlice<UInt8>) -> Bool {
        if upper == lower || upper == "/" { return true }
        guard lower.count > upper.count, lower.starts(with: upper) else { return false }
        return lower[lower.startIndex + upper.count] == UInt8(ascii: "/")
    }

    /// Super options the kernel lists beside a v1 hierarchy's controllers.
    private static let mountOptions: Set<String> = [
        "rw", "ro", "relatime", "noatime", "nosuid", "nodev", "noexec", "clone_children", "noprefix", "xattr",
        "cpuset_v2_mode", "favordynmods",
    ]
}
