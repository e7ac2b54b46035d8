import SkiffLinux
import SkiffOCI

/// What the runtime tells the Swift init before it prepares the container: the options of
/// the command line and what the runtime resolved (the rootfs, the cgroup directories).
public struct InitOptions: Codable, Sendable, Equatable {
    public var containerID: String
    public var rootfs: String
    public var noPivot: Bool
    public var noNewKeyring: Bool
    public var preserveFds: Int
    /// Of the preserved fds, how many are systemd socket-activation fds (LISTEN_FDS).
    public var listenFds: Int = 0
    /// The container's cgroup directories on the host, for cgroup mounts inside.
    public var cgroups: [CgroupMountSource]
    public var debug: Bool
    /// The bundle's absolute path, for the state the createContainer and startContainer hooks
    /// read on stdin.
    public var bundle: String? = nil
}

/// What the runtime tells the Swift init of `skiff exec`: the process to run.
public struct ExecInitOptions: Codable, Sendable, Equatable {
    public var containerID: String
    public var process: Process
    public var preserveFds: Int
    public var listenFds: Int = 0
    /// `--user` naming a user or group, resolved in the container's /etc/passwd and /etc/group.
    public var userSpec: String?
}

public struct CgroupMountSource: Codable, Sendable, Equatable {
    /// "v1" or "v2".
    public var version: String
    /// v1 controllers of the hierarchy ("cpu", "name=systemd"…), empty for v2.
    public var controllers: [String]
    /// The hierarchy's mount point on the host (/sys/fs/cgroup/memory).
    public var mountPoint: String
    /// The container's cgroup directory on the host.
    public var directory: String
}

/// Why init failed, as it crosses the sync socket: the one-line message, and the failed
/// system call behind it as values (operation, path, errno), so that the runtime rebuilds a
/// `SkiffError` whose `cause` is that `LinuxError` rather than text to parse.
public struct InitFailure: Codable, Sendable, Equatable {
    public var message: String
    public var operation: String?
    public var path: String?
    public var errno: Int32?

    public init(message: String, operation: String? = nil, path: String? = nil, errno: Int32? = nil) {
        self.message = message
        self.operation = operation
        self.path = path
        self.errno = errno
    }

    /// `error` as init reports it.
    public init(_ error: any Error) {
        let cause = SkiffError.cause(of: error)
        self.init(message: "\(error)", operation: cause?.operation, path: cause?.path, errno: cause?.code)
    }

    /// The system call that failed, when init named one.
    public var cause: LinuxError? {
        guard let operation, let errno else { return nil }
        return LinuxError(operation, path: path, errno: errno)
    }
}

/// Messages on the sync socket (SOCK_SEQPACKET, one JSON object per packet), the only channel
/// between the runtime and the Swift init. docs/nsexec.md lists them.
public enum SyncMessage: Codable, Sendable, Equatable {
    case options(InitOptions)   // runtime → init, first, for a new container
    case exec(ExecInitOptions)  // runtime → init, first, for exec
    case hooks                  // init → runtime: namespaces and mounts made, before pivot_root: run prestart and createRuntime
    case hooksDone              // runtime → init: they ran; go on
    case ready                  // init → runtime: container prepared; waits for "committed"
    case committed              // runtime → init: state.json and the pid file are written: go on (exec.fifo, or execve)
    case error(InitFailure)     // init → runtime: preparation failed: the one-line reason, and the failed call's operation, path and errno

    private enum CodingKeys: String, CodingKey { case type, options, exec, message, operation, path, errno }

    public init(from decoder: any Decoder) throws {
        let container = try decoder.container(keyedBy: CodingKeys.self)
        switch try container.decode(String.self, forKey: .type) {
        case "options": self = .options(try container.decode(InitOptions.self, forKey: .options))
        case "exec": self = .exec(try container.decode(ExecInitOptions.self, forKey: .exec))
        case "hooks": self = .hooks
        case "hooksDone": self = .hooksDone
        case "ready": self = .ready
        case "committed": self = .committed
        case "error":
            self = .error(InitFailure(message: try container.decode(String.self, forKey: .message),
                                      operation: try container.decodeIfPresent(String.self, forKey: .operation),
                                      path: try container.decodeIfPresent(String.self, forKey: .path),
                                      errno: try container.decodeIfPresent(Int32.self, forKey: .errno)))
        case let other:
            throw DecodingError.dataCorruptedError(forKey: .type, in: container, debugDescription: "unknown sync message \"\(other)\"")
        }
    }

    public func encode(to encoder: any Encoder) throws {
        var container = encoder.container(keyedBy: CodingKeys.self)
        switch self {
        case .options(let options):
            try container.encode("options", forKey: .type)
            try container.encode(options, forKey: .options)
        case .exec(let options):
            try container.encode("exec", forKey: .type)
            try container.encode(options, forKey: .exec)
        case .hooks:
            try container.encode("hooks", forKey: .type)
        case .hooksDone:
            try container.encode("hooksDone", forKey: .type)
        case .ready:
            try container.encode("ready", forKey: .type)
        case .committed:
            try container.encode("committed", forKey: .type)
        case .error(let failure):
            try container.encode("error", forKey: .type)
            try container.encode(failure.message, forKey: .message)
            try container.encodeIfPresent(failure.operation, forKey: .operation)
            try container.encodeIfPresent(failure.path, forKey: .path)
            try container.encodeIfPresent(failure.errno, forKey: .errno)
        }
    }

    var name: String {
        switch self {
        case .options: return "options"
        case .exec: return "exec"
        case .hooks: return "hooks"
        case .hooksDone: return "hooksDone"
        case .ready: return "ready"
        case .committed: return "committed"
        case .error: return "error"
        }
    }
}

/// One end of the sync socket with typed send and receive.
public struct SyncChannel: Sendable {
    public let fd: OwnedFD

    public init(fd: OwnedFD) { self.fd = fd }

    public func send(_ message: SyncMessage) throws {
        try Sockets.send(fd, try SkiffJSON.encode(message), operation: "send \(message.name) on sync socket")
    }

    /// The next message, or nil when the peer closed without one.
    public func receive() throws -> SyncMessage? {
        let bytes = try Sockets.receive(fd, operation: "receive on sync socket")
        if bytes.isEmpty { return nil }
        do {
            return try SkiffJSON.decode(SyncMessage.self, from: bytes, document: "sync message")
        } catch {
            throw SkiffError(.system, "malformed sync message", error)
        }
    }
}
