#if canImport(Glibc)
import Glibc
#endif
import CShims

/// Writes to /proc go through a file whose filesystem is checked to be procfs with fstatfs, so
/// a fake /proc or a symlink in the image cannot redirect them (runc CVE-2019-16884,
/// CVE-2019-19921, CVE-2023-27561, CVE-2025-52881).
public enum Procfs {
    public static func open(_ path: String, flags: Int32) throws(LinuxError) -> OwnedFD {
        let fd = try Files.open(path, flags: flags | O_NOFOLLOW)
        var st = statfs()
        _ = try sysCall("fstatfs", path: path) { fstatfs(fd.raw, &st) }
        if st.f_type != PROC_SUPER_MAGIC {
            throw LinuxError("verify procfs", path: path, errno: EXDEV)
        }
        return fd
    }

    public static func write(_ path: String, _ value: String) throws(LinuxError) {
        let fd = try open(path, flags: O_WRONLY)
        try fd.writeAll(value, path: path)
    }

    public static func read(_ path: String) throws(LinuxError) -> String {
        String(decoding: try open(path, flags: O_RDONLY).readAll(path: path), as: UTF8.self)
    }

    /// Whether this process is in the initial user namespace: its uid_map is exactly
    /// `0 0 4294967295` (runc's `userns.RunningInUserNS`). Anything else (rootless podman's
    /// `podman unshare`, `unshare --user`) is a namespace in which mknod, sysfs and cgroup
    /// writes follow the rules of unprivileged users. An unreadable map counts as initial, as
    /// with runc.
    public static func isInitialUserNamespace() -> Bool {
        guard let map = try? Files.readString("/proc/self/uid_map") else { return true }
        return fields(map[...]) == ["0", "0", "4294967295"]
    }

    /// The blank-separated fields of a /proc file's line.
    static func fields(_ line: Substring) -> [Substring] {
        line.split(whereSeparator: \.isKernelBlank)
    }

    /// Whether `id` has a mapping in this process's user namespace (`map` is "uid_map" or
    /// "gid_map"): lines of `inside outside count`.
    public static func isMapped(_ id: UInt32, in map: String) -> Bool {
        guard let text = try? Files.readString("/proc/self/" + map) else { return false }
        return text.split(separator: "\n").contains { line in
            let numbers = fields(line).compactMap { UInt64($0) }
            return numbers.count == 3 && UInt64(id) >= numbers[0] && UInt64(id) < numbers[0] + numbers[2]
        }
    }

    /// Field 22 of /proc/PID/stat: the start time in clock ticks since boot. With the pid it
    /// identifies a process even after the pid is reused.
    public static func startTime(of pid: Int32) -> UInt64? { status(of: pid)?.startTime }

    /// Field 3 of /proc/PID/stat: R, S, D, Z, T…
    public static func processState(of pid: Int32) -> Character? { status(of: pid)?.state }

    /// Fields 3 (state) and 22 (start time) of /proc/PID/stat, from one read.
    public static func status(of pid: Int32) -> (state: Character, startTime: UInt64)? {
        guard let stat = try? Files.readString("/proc/\(pid)/stat") else { return nil }
        // Bytes, not Characters: every status check reads it (~200 K instructions as a String).
        let bytes = Array(stat.utf8)
        // The command name (field 2) may hold spaces and parentheses: parse after the last ')'.
        guard let close = bytes.lastIndex(of: UInt8(ascii: ")")) else { return nil }
        let fields = bytes[(close + 1)...].split(separator: UInt8(ascii: " "))
        // fields[0] is field 3 (state); field 22 is fields[19].
        guard fields.count > 19, let state = fields[0].first,
              let start = UInt64(String(decoding: fields[19], as: UTF8.self)) else { return nil }
        return (Character(Unicode.Scalar(state)), start)
    }
}

extension Character {
    /// A blank as the kernel writes them in /proc and cgroupfs files: space, tab, newline.
    /// `isWhitespace` looks every character up in the standard library's Unicode property
    /// tables, whose code and data a short-lived process then faults in (the runtime and each
    /// init read uid_map, cgroup and cpuset files).
    public var isKernelBlank: Bool { self == " " || self == "\t" || self == "\n" }
}
