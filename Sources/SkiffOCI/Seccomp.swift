#if canImport(FoundationEssentials)
import FoundationEssentials
#else
import Foundation
#endif

// config-linux.md#seccomp. Actions, operators, architectures and flags stay strings: libseccomp
// is the authority on which it knows, and `Spec.validate()` checks the stable ones by path.

/// A seccomp filter for the container process.
public struct LinuxSeccomp: Codable, Sendable, Equatable {
    /// `SCMP_ACT_*`.
    public var defaultAction: String
    public var defaultErrnoRet: UInt?
    /// `SCMP_ARCH_*`.
    public var architectures: [String]?
    /// `SECCOMP_FILTER_FLAG_*`.
    public var flags: [String]?
    /// The seccomp agent's socket for `SCMP_ACT_NOTIFY`.
    public var listenerPath: String?
    public var listenerMetadata: String?
    public var syscalls: [LinuxSyscall]?

    public init(
        defaultAction: String, defaultErrnoRet: UInt? = nil, architectures: [String]? = nil,
        flags: [String]? = nil, listenerPath: String? = nil, listenerMetadata: String? = nil,
        syscalls: [LinuxSyscall]? = nil
    ) {
        self.defaultAction = defaultAction
        self.defaultErrnoRet = defaultErrnoRet
        self.architectures = architectures
        self.flags = flags
        self.listenerPath = listenerPath
        self.listenerMetadata = listenerMetadata
        self.syscalls = syscalls
    }
}

/// A rule: these syscalls, when the arguments match, get `action`.
public struct LinuxSyscall: Codable, Sendable, Equatable {
    public var names: [String]
    public var action: String
    public var errnoRet: UInt?
    public var args: [LinuxSeccompArg]?

    public init(names: [String], action: String, errnoRet: UInt? = nil, args: [LinuxSeccompArg]? = nil) {
        self.names = names
        self.action = action
        self.errnoRet = errnoRet
        self.args = args
    }
}

/// A comparison of one syscall argument.
public struct LinuxSeccompArg: Codable, Sendable, Equatable {
    public var index: UInt
    public var value: UInt64
    /// The second operand of `SCMP_CMP_MASKED_EQ`.
    public var valueTwo: UInt64?
    /// `SCMP_CMP_*`.
    public var op: String

    public init(index: UInt, value: UInt64, valueTwo: UInt64? = nil, op: String) {
        self.index = index
        self.value = value
        self.valueTwo = valueTwo
        self.op = op
    }
}
