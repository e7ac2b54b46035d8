#if canImport(Glibc)
import Glibc
#endif
import SkiffLinux

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
        return parse(mountinfo: mountinfo, ownCgroups: own)
    }

    /// The hierarchies described by the text of a mountinfo file and a /proc/PID/cgroup file.
    public static func parse(mountinfo: String, ownCgroups own: String) -> [CgroupHierarchy] {
        var ownPaths: [String: String] = [:]  // controller list (or "" for v2) -> path
        for line in own.split(separator: "\n") {
            let fields = line.split(separator: ":", maxSplits: 2, omittingEmptySubsequences: false)
            if fields.count == 3 { ownPaths[String(fields[1])] = String(fields[2]) }
        }
        var result: [CgroupHierarchy] = []
        var seen = Set<String>()
        // Split on bytes, not Characters: mountinfo has dozens of lines and every command
        // reads it, so grapheme-aware splitting was a measurable part of a command's time.
        let space = UInt8(ascii: " ")
        let lines = mountinfo.utf8.split(separator: UInt8(ascii: "\n"))
        // Every mount point, in the order the kernel lists the mounts (the order they were
        // made): a cgroup entry is really mounted only if nothing later sits on its mount
        // point or above it. A tmpfs over /sys/fs/cgroup/unified (how crun is run on a hybrid
        // host with cgroup2 hidden) leaves the cgroup2 line in mountinfo, and the path then
        // leads to the tmpfs.
        let mountPoints: [Substring.UTF8View?] = lines.map { line in
            var fields = line.split(separator: space, maxSplits: 5).dropFirst(4).makeIterator()
            return fields.next().map { Substring($0).utf8 }
        }
        for (index, line) in lines.enumerated() {
            // mountinfo: id parent major:minor root mountpoint options [optional...] - fstype source superoptions
            let fields = line.split(separator: space)
            guard let dash = fields.indices.dropFirst(6).first(where: { fields[$0].elementsEqual("-".utf8) }),
                  dash + 3 < fields.count, fields[dash + 1].starts(with: "cgroup".utf8) else { continue }
            let left = fields[..<dash].map { Substring($0) }
            let right = fields[(dash + 1)...].map { Substring($0) }
            // A mount of a cgroup below the hierarchy's root (a container's view) is not the
            // hierarchy itself.
            guard left[3] == "/" else { continue }
            let covered = mountPoints[(index + 1)...].contains { later in
                guard let later else { return false }
                return Self.covers(later, left[4].utf8)
            }
            if covered { continue }
            let mountPoint = unescape(String(left[4]))
            switch right[0] {
            case "cgroup2":
                guard !seen.contains("v2") else { continue }
                seen.insert("v2")
                result.append(CgroupHierarchy(version: .v2, mountPoint: mountPoint, controllers: [],
                                              ownPath: ownPaths[""] ?? "/"))
            case "cgroup":
                let controllers = right[2].split(separator: ",").map(String.init).filter {
                    !mountOptions.contains($0) && !$0.hasPrefix("release_agent=")
                }
                let key = controllers.joined(separator: ",")
                guard !controllers.isEmpty, !seen.contains(key) else { continue }
                seen.insert(key)
                result.append(CgroupHierarchy(version: .v1, mountPoint: mountPoint, controllers: controllers,
                                              ownPath: ownPaths[key] ?? "/"))
            default: continue
            }
        }
        return result
    }

    /// Whether a mount at `upper` hides what is mounted at `lower` (the same path, or a
    /// directory above it); both as mountinfo writes them (escaped alike).
    static func covers(_ upper: Substring.UTF8View, _ lower: Substring.UTF8View) -> Bool {
        if upper.elementsEqual(lower) || upper.elementsEqual("/".utf8) { return true }
        guard lower.count > upper.count, lower.starts(with: upper) else { return false }
        return lower[lower.index(lower.startIndex, offsetBy: upper.count)] == UInt8(ascii: "/")
    }

    /// Super options the kernel lists beside a v1 hierarchy's controllers.
    private static let mountOptions: Set<String> = [
        "rw", "ro", "relatime", "noatime", "nosuid", "nodev", "noexec", "clone_children", "noprefix", "xattr",
        "cpuset_v2_mode", "favordynmods",
    ]

    /// mountinfo escapes space, tab, newline and backslash as three octal digits.
    private static func unescape(_ field: String) -> String {
        guard field.contains("\\") else { return field }
        var bytes: [UInt8] = []
        var iterator = Array(field.utf8)[...]
        while let byte = iterator.popFirst() {
            if byte == UInt8(ascii: "\\"), iterator.count >= 3,
               let value = UInt8(String(decoding: iterator.prefix(3), as: UTF8.self), radix: 8) {
                bytes.append(value)
                iterator = iterator.dropFirst(3)
            } else {
                bytes.append(byte)
            }
        }
        return String(decoding: bytes, as: UTF8.self)
    }
}
