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

    /// Field 22 of /proc/PID/stat: the start time in clock ticks since boot. With the pid it
    /// identifies a process even after the pid is reused.
    public static func startTime(of pid: Int32) -> UInt64? { status(of: pid)?.startTime }

    /// Field 3 of /proc/PID/stat: R, S, D, Z, T…
    public static func processState(of pid: Int32) -> Character? { status(of: pid)?.state }

    /// Fields 3 (state) and 22 (start time) of /proc/PID/stat, from one read.
    public static func status(of pid: Int32) -> (state: Character, startTime: UInt64)? {
        guard let stat = try? Files.readString("/proc/\(pid)/stat") else { return nil }
        // The command name (field 2) may hold spaces and parentheses: parse after the last ')'.
        guard let close = stat.lastIndex(of: ")") else { return nil }
        let fields = stat[stat.index(after: close)...].split(separator: " ")
        // fields[0] is field 3 (state); field 22 is fields[19].
        guard fields.count > 19, let state = fields[0].first, let start = UInt64(fields[19]) else { return nil }
        return (state, start)
    }
}
