#if canImport(Glibc)
import Glibc
#endif
import SkiffLinux

/// The one error of the cgroup module: one line naming the config field (when there is one),
/// the file and the cause, as a user greps for it:
/// `linux.resources.cpu.cpus = "0-1000": write "/sys/fs/cgroup/cpuset/skiff/web/cpuset.cpus": invalid argument`.
public struct CgroupError: LinuxErrorCarrier, CustomStringConvertible, Sendable, Equatable {
    public let description: String
    /// The errno behind it, when a syscall failed.
    public let errno: Int32?
    /// The failed system call itself (operation, path, errno), when there was one.
    public let cause: LinuxError?

    public init(_ description: String, errno: Int32? = nil) {
        self.description = description
        self.errno = errno
        self.cause = nil
    }

    /// `description`, caused by the system call `cause`.
    public init(_ description: String, cause: LinuxError) {
        self.description = description
        self.errno = cause.code
        self.cause = cause
    }

    /// A control file write that the kernel refused.
    static func write(_ field: String, value: String, _ error: LinuxError) -> CgroupError {
        CgroupError("\(field) = \(quoted(value)): \(error)", cause: error)
    }

    /// A field this host cannot apply: the file it needs is not there.
    static func missing(_ field: String, file: String, reason: String) -> CgroupError {
        CgroupError("\(field): cannot apply: \(quoted(file)) does not exist (\(reason))", errno: ENOENT)
    }

    static func wrap(_ field: String, _ error: LinuxError) -> CgroupError {
        CgroupError("\(field): \(error)", cause: error)
    }

    static func quoted(_ value: String) -> String {
        "\"" + value.replacingNewlines() + "\""
    }
}

extension String {
    fileprivate func replacingNewlines() -> String {
        split(separator: "\n", omittingEmptySubsequences: false).joined(separator: "\\n")
    }
}
