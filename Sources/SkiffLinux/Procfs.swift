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
        guard let stat = try? Files.read("/proc/\(pid)/stat", limit: 4096) else { return nil }
        return parseStat(stat)
    }

    /// Fields 3 and 22 of a /proc/PID/stat text, nil when it has fewer fields or field 22 is not
    /// a number. One pass over the bytes: splitting them into all ~50 fields (generic `split`
    /// into array slices) was ~16 K instructions a read, and every status check reads it.
    public static func parseStat(_ bytes: [UInt8]) -> (state: Character, startTime: UInt64)? {
        // The command name (field 2) may hold spaces and parentheses: the fields start after the last ')'.
        guard let close = bytes.lastIndex(of: UInt8(ascii: ")")) else { return nil }
        var field = 2
        var inField = false
        var state: UInt8?
        var start: UInt64 = 0
        for byte in bytes[(close + 1)...] {
            if byte == UInt8(ascii: " ") || byte == UInt8(ascii: "\n") {
                if inField && field == 22 { break }
                inField = false
                continue
            }
            if !inField {
                inField = true
                field += 1
            }
            if field == 3, state == nil {
                state = byte
            } else if field == 22 {
                guard (UInt8(ascii: "0")...UInt8(ascii: "9")).contains(byte) else { return nil }
                let (times10, overflow1) = start.multipliedReportingOverflow(by: 10)
                let (sum, overflow2) = times10.addingReportingOverflow(UInt64(byte - UInt8(ascii: "0")))
                guard !overflow1, !overflow2 else { return nil }
                start = sum
            }
        }
        guard field >= 22, let state else { return nil }
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
