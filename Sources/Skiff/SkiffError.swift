import SkiffLinux
import SkiffOCI

/// The runtime's error: one line that names the operation, the path or field, and the cause.
/// Lower layers' errors (LinuxError, SpecError, CgroupError) are wrapped with the step that
/// failed, so the user reads `create "web": mount "/proc": no such file or directory`.
public struct SkiffError: Error, CustomStringConvertible, Sendable {
    public enum Kind: Sendable, Equatable {
        case invalidArgument
        case notFound
        case exists
        case invalidState
        case system
        case containerInit
    }

    public let kind: Kind
    public let message: String

    public init(_ kind: Kind, _ message: String) {
        self.kind = kind
        self.message = message
    }

    public var description: String { message }

    /// Wraps any error with a context prefix, keeping a SkiffError's kind.
    public static func wrap(_ error: any Error, _ context: String) -> SkiffError {
        if let skiff = error as? SkiffError { return SkiffError(skiff.kind, "\(context): \(skiff.message)") }
        return SkiffError(.system, "\(context): \(error)")
    }
}
