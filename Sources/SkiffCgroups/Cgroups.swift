#if canImport(Glibc)
import Glibc
#endif
import SkiffLinux

/// One mounted cgroup hierarchy: a v1 hierarchy with its controllers, or the cgroup2 one.
public struct CgroupHierarchy: Sendable, Equatable {
    public enum Version: Sendable, Equatable { case v1, v2 }
    public let version: Version
    public let mountPoint: String
    /// v1: the controllers (and `name=` labels) it carries; v2: empty.
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

public struct CgroupError: Error, CustomStringConvertible, Sendable {
    public let description: String
    public init(_ description: String) { self.description = description }
}

/// Finds, creates, joins and removes a container's cgroup in every mounted hierarchy. Resource
/// limits come later; this keeps the container's processes together so they can be found and
/// killed, and so nothing is left behind on delete.
public struct CgroupManager: Sendable {
    public let hierarchies: [CgroupHierarchy]
    /// The container's path below each hierarchy's root, normalized, starting with "/".
    public let path: String

    public init(hierarchies: [CgroupHierarchy], cgroupsPath: String) throws(CgroupError) {
        self.hierarchies = hierarchies
        self.path = try Self.normalize(cgroupsPath)
    }

    /// Rejects a cgroupsPath that would climb out of the hierarchy (`/../../etc`): the
    /// runtime runs as root and would otherwise create or remove directories anywhere.
    public static func normalize(_ cgroupsPath: String) throws(CgroupError) -> String {
        var parts: [Substring] = []
        for component in cgroupsPath.split(separator: "/") {
            switch component {
            case ".": continue
            case "..": throw CgroupError("linux.cgroupsPath: \"\(cgroupsPath)\" must not contain \"..\"")
            default: parts.append(component)
            }
        }
        if parts.isEmpty { throw CgroupError("linux.cgroupsPath: \"\(cgroupsPath)\" names the root cgroup") }
        return "/" + parts.joined(separator: "/")
    }

    /// The container's directory in one hierarchy. A relative cgroupsPath is taken below the
    /// runtime's own cgroup, as runc does.
    public func directory(in hierarchy: CgroupHierarchy, relative: Bool) -> String {
        let base = relative && hierarchy.ownPath != "/" ? hierarchy.ownPath : ""
        return hierarchy.mountPoint + base + path
    }

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
        for line in mountinfo.split(separator: "\n") {
            // mountinfo: id parent major:minor root mountpoint options ... - fstype source superoptions
            let halves = line.split(separator: " - ", maxSplits: 1)
            guard halves.count == 2 else { continue }
            let left = halves[0].split(separator: " ")
            let right = halves[1].split(separator: " ")
            guard left.count >= 5, right.count >= 3, left[3] == "/" else { continue }
            let mountPoint = unescape(String(left[4]))
            switch right[0] {
            case "cgroup2":
                guard !seen.contains("v2") else { continue }
                seen.insert("v2")
                result.append(CgroupHierarchy(version: .v2, mountPoint: mountPoint, controllers: [],
                                              ownPath: ownPaths[""] ?? "/"))
            case "cgroup":
                let controllers = right[2].split(separator: ",").map(String.init).filter {
                    !["rw", "ro", "relatime", "noatime", "nosuid", "nodev", "noexec", "clone_children",
                      "noprefix", "xattr", "cpuset_v2_mode", "favordynmods"].contains($0) && !$0.hasPrefix("release_agent=")
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

    /// The directories of this container, one per hierarchy.
    public func directories(relative: Bool) -> [String] {
        hierarchies.map { directory(in: $0, relative: relative) }
    }

    /// Creates the container's cgroup in every hierarchy (parents as needed). On failure,
    /// removes what it created.
    public func create(relative: Bool) throws(LinuxError) {
        var made: [String] = []
        do {
            for hierarchy in hierarchies {
                let directory = directory(in: hierarchy, relative: relative)
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
                if own.allSatisfy({ $0.isWhitespace }) {
                    let inherited = try Files.readString(parent + "/" + file)
                    try Files.write(level + "/" + file, inherited, flags: O_WRONLY)
                }
            }
        }
    }

    /// Moves `pid` (and so its later children) into the container's cgroup everywhere.
    public func join(pid: Int32, relative: Bool) throws(LinuxError) {
        for directory in directories(relative: relative) {
            try Files.write(directory + "/cgroup.procs", "\(pid)", flags: O_WRONLY)
        }
    }

    /// The pids in the container's cgroup (from the first hierarchy that has the cgroup).
    public func pids(relative: Bool) -> [Int32] {
        for directory in directories(relative: relative) {
            if let text = try? Files.readString(directory + "/cgroup.procs") {
                return text.split(separator: "\n").compactMap { Int32($0) }
            }
        }
        return []
    }

    /// Removes the container's cgroup in every hierarchy, waiting briefly for exiting
    /// processes to leave (rmdir fails with EBUSY while any remain).
    public func destroy(relative: Bool) throws(LinuxError) {
        var failure: LinuxError?
        for directory in directories(relative: relative) {
            var attempt = 0
            while true {
                let (_, err) = sysCallErrno { rmdir(directory) }
                if err == 0 || err == ENOENT { break }
                if err == EBUSY && attempt < 200 {
                    attempt += 1
                    usleep(attempt < 20 ? 1000 : 10000)
                    continue
                }
                failure = LinuxError("rmdir", path: directory, errno: err)
                break
            }
        }
        if let failure { throw failure }
    }
}
