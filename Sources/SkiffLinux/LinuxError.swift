import SystemPackage

/// The one error type of every syscall wrapper: the operation, the path or object it acted
/// on, and the errno. Its text is what a user greps for: `mount "/proc/self/fd/7": no such
/// file or directory` (lowercase, as runc's Go errors read, because podman matches on them).
public struct LinuxError: Error, CustomStringConvertible, Sendable, Equatable {
    public let operation: String
    public let path: String?
    public let errno: Errno

    public init(_ operation: String, path: String? = nil, errno: Int32) {
        self.operation = operation
        self.path = path
        self.errno = Errno(rawValue: errno)
    }

    /// The errno as the C constants spell it (EPERM), for comparisons with them.
    public var code: Int32 { errno.rawValue }

    public var description: String {
        if let path {
            return "\(operation) \"\(path)\": \(Self.text(errno.rawValue))"
        }
        return "\(operation): \(Self.text(errno.rawValue))"
    }

    /// strerror text with a lowercase first letter, like Go's syscall.Errno strings.
    public static func text(_ code: Int32) -> String {
        let message = Errno(rawValue: code).description
        guard let first = message.first else { return "errno \(code)" }
        // String + String: with the Substring `dropFirst()` gives, `+` is the generic
        // RangeReplaceableCollection one, whose first call resolves Sequence's associated
        // types by demangling (~200 K instructions in every failing command).
        return first.lowercased() + String(message.dropFirst())
    }
}

/// An error of a higher layer that keeps the failed system call behind it as a value: the
/// runtime's error and the cgroup module's. Lets the layer above either one find the
/// `LinuxError` without importing the module that defines the error.
public protocol LinuxErrorCarrier: Error {
    /// The failed system call (operation, path, errno), when there was one.
    var cause: LinuxError? { get }
}
