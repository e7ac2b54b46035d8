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

/// Messages on the sync socket (SOCK_SEQPACKET, one JSON object per packet), the only channel
/// between the runtime and the Swift init. docs/nsexec.md lists them.
public enum SyncMessage: Codable, Sendable, Equatable {
    case options(InitOptions)   // runtime → init, first, for a new container
    case exec(ExecInitOptions)  // runtime → init, first, for exec
    case hooks                  // init → runtime: namespaces and mounts made, before pivot_root: run prestart and createRuntime
    case hooksDone              // runtime → init: they ran; go on
    case ready                  // init → runtime: container prepared; waits for "committed"
    case committed              // runtime → init: state.json and the pid file are written: go on (exec.fifo, or execve)
    case error(String)          // init → runtime: preparation failed, with the one-line reason

    private enum CodingKeys: String, CodingKey { case type, options, exec, message }

    public init(from decoder: any Decoder) throws {
        let container = try decoder.container(keyedBy: CodingKeys.self)
        switch try container.decode(String.self, forKey: .type) {
        case "options": self = .options(try container.decode(InitOptions.self, forKey: .options))
        case "exec": self = .exec(try container.decode(ExecInitOptions.self, forKey: .exec))
        case "hooks": self = .hooks
        case "hooksDone": self = .hooksDone
        case "ready": self = .ready
        case "committed": self = .committed
        case "error": self = .error(try container.decode(String.self, forKey: .message))
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
        case .error(let message):
            try container.encode("error", forKey: .type)
            try container.encode(message, forKey: .message)
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
            throw SkiffError(.system, "malformed sync message: \(error)")
        }
    }
}
