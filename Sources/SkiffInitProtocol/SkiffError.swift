import SkiffLinux
import SkiffOCI

/// The runtime's error: one line that names the operation, the path or field, and the cause.
/// Lower layers' errors (LinuxError, SpecError, CgroupError) are wrapped with the step that
/// failed, so the user reads `create "web": mount "/proc": no such file or directory`, and the
/// kernel's refusal behind it, when there is one, stays a value in `cause`: an embedder tests
/// `error.cause?.errno == .notPermitted` instead of parsing the text.
public struct SkiffError: LinuxErrorCarrier, CustomStringConvertible, Sendable {
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
    /// The failed system call (operation, path, errno) this error comes from, if any: kept
    /// through every `wrap`, and across init's sync socket for `.containerInit` errors.
    public let cause: LinuxError?

    public init(_ kind: Kind, _ message: String, cause: LinuxError? = nil) {
        self.kind = kind
        self.message = message
        self.cause = cause
    }

    /// `error`'s text as the message, its LinuxError (or the one it carries) as the cause.
    public init(_ kind: Kind, _ error: any Error) {
        self.init(kind, Self.text(of: error), cause: Self.cause(of: error))
    }

    /// `context: error`, with `error`'s LinuxError (or the one it carries) as the cause.
    public init(_ kind: Kind, _ context: String, _ error: any Error) {
        self.init(kind, context + ": " + Self.text(of: error), cause: Self.cause(of: error))
    }

    /// An error's one line. Interpolating an `any Error` makes the standard library look up
    /// three protocols (TextOutputStreamable, CustomStringConvertible, CustomDebugStringConvertible)
    /// for its concrete type, each the first time a scan of every conformance record in the
    /// binary: ~430 K instructions in a failing command. Casts to the concrete error types of
    /// the runtime compare metadata only; any other error is asked for one protocol, not three.
    public static func text(of error: any Error) -> String {
        if let error = error as? LinuxError { return error.description }
        if let error = error as? SkiffError { return error.message }
        if let error = error as? SpecError { return error.description }
        if let error = error as? any CustomStringConvertible { return error.description }
        return "\(error)"
    }

    public var description: String { message }

    /// Wraps any error with a context prefix, keeping a SkiffError's kind and any cause.
    public static func wrap(_ error: any Error, _ context: String) -> SkiffError {
        if let skiff = error as? SkiffError { return SkiffError(skiff.kind, "\(context): \(skiff.message)", cause: skiff.cause) }
        return SkiffError(.system, context, error)
    }

    /// Any error as a SkiffError: itself when it is one, else a `.system` error with its text
    /// and, when it is or carries a LinuxError, that as the cause. What every public call
    /// (blocking or async) throws.
    package static func converting(_ error: any Error) -> SkiffError {
        (error as? SkiffError) ?? SkiffError(.system, error)
    }

    /// The LinuxError an error is or carries.
    package static func cause(of error: any Error) -> LinuxError? {
        switch error {
        case let linux as LinuxError: return linux
        case let carrier as any LinuxErrorCarrier: return carrier.cause
        default: return nil
        }
    }
}
