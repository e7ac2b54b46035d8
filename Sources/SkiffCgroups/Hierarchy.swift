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
        // hierarchy-id:controllers:path, one line each; a handful, searched (the last of a
        // repeated one wins).
        var ownPaths: [(controllers: ArraySlice<UInt8>, path: String)] = []
        let ownText = Array(own.utf8)
        forEachLine(ownText) { line in
            guard let first = line.firstIndex(of: UInt8(ascii: ":")),
                  let second = line[(first + 1)...].firstIndex(of: UInt8(ascii: ":")) else { return }
            ownPaths.append((line[(first + 1)..<second], String(decoding: line[(second + 1)...], as: UTF8.self)))
        }
        let ownPath = { (key: String) in
            ownPaths.last { $0.controllers.elementsEqual(key.utf8) }?.path ?? "/"
        }

        // Every command reads mountinfo, several times in `run`, and a host with many
        // containers has hundreds of lines: one pass over its bytes, each line's fields
        // found in a reused buffer, only the mount point of each line kept, and only a
        // cgroup line's fields becoming Strings. (Splitting it with the standard library's
        // generic `split` into Substrings cost ~1.1 M instructions, 12% of a `skiff state`;
        // a table of every line's fields ~0.2 M in every create and delete; docs/benchmarks.md.)
        let text = Array(mountinfo.utf8)
        var mountPoints: [Range<Int>] = []
        var candidates: [(line: Int, mountPoint: Range<Int>, fstype: Range<Int>, superOptions: Range<Int>)] = []
        var fields: [Range<Int>] = []
        fields.reserveCapacity(16)
        forEachLine(text) { line in
            fields.removeAll(keepingCapacity: true)
            var start = line.startIndex
            for index in line.startIndex...line.endIndex {
                guard index == line.endIndex || text[index] == UInt8(ascii: " ") else { continue }
                if index > start { fields.append(start..<index) }
                start = index + 1
            }
            guard !fields.isEmpty else { return }
            // id parent major:minor root mountpoint options [optional...] - fstype source superoptions
            mountPoints.append(fields.count > 4 ? fields[4] : 0..<0)
            guard fields.count > 7, let dash = fields[6...].firstIndex(where: { text[$0] == "-" }), dash + 3 < fields.count,
                  text[fields[dash + 1]].starts(with: "cgroup".utf8),
                  // A mount of a cgroup below the hierarchy's root (a container's view) is not
                  // the hierarchy itself.
                  text[fields[3]] == "/" else { return }
            candidates.append((mountPoints.count - 1, fields[4], fields[dash + 1], fields[dash + 3]))
        }

        var result: [CgroupHierarchy] = []
        var seen: [String] = []
        for candidate in candidates {
            // Every mount point, in the order the kernel lists the mounts (the order they were
            // made): a cgroup entry is really mounted only if nothing later sits on its mount
            // point or above it. A tmpfs over /sys/fs/cgroup/unified (how crun is run on a
            // hybrid host with cgroup2 hidden) leaves the cgroup2 line in mountinfo, and the
            // path then leads to the tmpfs.
            let covered = mountPoints[(candidate.line + 1)...].contains { later in
                !later.isEmpty && Self.covers(text[later], text[candidate.mountPoint])
            }
            if covered { continue }
            let mountPoint = Mountinfo.unescape(String(decoding: text[candidate.mountPoint], as: UTF8.self))
            let fstype = text[candidate.fstype]
            if fstype == "cgroup2" {
                guard !seen.contains("v2") else { continue }
                seen.append("v2")
                result.append(CgroupHierarchy(version: .v2, mountPoint: mountPoint, controllers: [], ownPath: ownPath("")))
            } else if fstype == "cgroup" {
                var controllers: [String] = []
                var key = ""
                forEachItem(text[candidate.superOptions], separator: UInt8(ascii: ",")) { item in
                    let option = String(decoding: item, as: UTF8.self)
                    guard !Self.mountOptions.contains(option), !option.hasPrefix("release_agent=") else { return }
                    controllers.append(option)
                    // Not `joined(separator:)`: its generic path cost ~22 K instructions a call.
                    key += key.isEmpty ? option : "," + option
                }
                guard !controllers.isEmpty, !seen.contains(key) else { continue }
                seen.append(key)
                result.append(CgroupHierarchy(version: .v1, mountPoint: mountPoint, controllers: controllers,
                                              ownPath: ownPath(key)))
            }
        }
        return result
    }

    /// Calls `body` with each non-empty line of `text`.
    private static func forEachLine(_ text: [UInt8], _ body: (ArraySlice<UInt8>) -> Void) {
        forEachItem(text[...], separator: UInt8(ascii: "\n"), body)
    }

    /// Calls `body` with each non-empty run of `bytes` between `separator`s.
    private static func forEachItem(_ bytes: ArraySlice<UInt8>, separator: UInt8, _ body: (ArraySlice<UInt8>) -> Void) {
        var start = bytes.startIndex
        for index in bytes.startIndex...bytes.endIndex {
            guard index == bytes.endIndex || bytes[index] == separator else { continue }
            if index > start { body(bytes[start..<index]) }
            start = index + 1
        }
    }

    /// Whether a mount at `upper` hides what is mounted at `lower` (the same path, or a
    /// directory above it); both as mountinfo writes them (escaped alike).
    static func covers(_ upper: ArraySlice<UInt8>, _ lower: ArraySlice<UInt8>) -> Bool {
        if upper == lower || upper == "/" { return true }
        guard lower.count > upper.count, lower.starts(with: upper) else { return false }
        return lower[lower.startIndex + upper.count] == UInt8(ascii: "/")
    }

    /// Super options the kernel lists beside a v1 hierarchy's controllers (searched in order:
    /// a dozen short strings compare faster than they hash).
    private static let mountOptions: [String] = [
        "rw", "ro", "relatime", "noatime", "nosuid", "nodev", "noexec", "clone_children", "noprefix", "xattr",
        "cpuset_v2_mode", "favordynmods",
    ]
}
