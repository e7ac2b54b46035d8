import SkiffLinux
import SkiffOCI

/// What the runtime tells the Swift init before it prepares the container: the options of
/// the command line and what the runtime resolved (the rootfs, the cgroup directories).
package struct InitOptions: Codable, Sendable, Equatable {
    package var containerID: String
    package var rootfs: String
    package var noPivot: Bool
    package var noNewKeyring: Bool
    package var preserveFds: Int
    /// Of the preserved fds, how many are systemd socket-activation fds (LISTEN_FDS).
    package var listenFds: Int = 0
    /// The container's cgroup directories on the host, for cgroup mounts inside.
    package var cgroups: [CgroupMountSource]
    package var debug: Bool
    /// The bundle's absolute path, for the state the createContainer and startContainer hooks
    /// read on stdin.
    package var bundle: String? = nil

    package init(containerID: String, rootfs: String, noPivot: Bool, noNewKeyring: Bool, preserveFds: Int,
                 listenFds: Int = 0, cgroups: [CgroupMountSource], debug: Bool, bundle: String? = nil) {
        self.containerID = containerID
        self.rootfs = rootfs
        self.noPivot = noPivot
        self.noNewKeyring = noNewKeyring
        self.preserveFds = preserveFds
        self.listenFds = listenFds
        self.cgroups = cgroups
        self.debug = debug
        self.bundle = bundle
    }
}

/// What the runtime tells the Swift init of `skiff exec`: the process to run.
package struct ExecInitOptions: Codable, Sendable, Equatable {
    package var containerID: String
    package var process: Process
    package var preserveFds: Int
    package var listenFds: Int = 0
    /// `--user` naming a user or group, resolved in the container's /etc/passwd and /etc/group.
    package var userSpec: String?

    package init(containerID: String, process: Process, preserveFds: Int, listenFds: Int = 0, userSpec: String? = nil) {
        self.containerID = containerID
        self.process = process
        self.preserveFds = preserveFds
        self.listenFds = listenFds
        self.userSpec = userSpec
    }
}

package struct CgroupMountSource: Codable, Sendable, Equatable {
    /// "v1" or "v2".
    package var version: String
    /// v1 controllers of the hierarchy ("cpu", "name=systemd"…), empty for v2.
    package var controllers: [String]
    /// The hierarchy's mount point on the host (/sys/fs/cgroup/memory).
    package var mountPoint: String
    /// The container's cgroup directory on the host.
    package var directory: String

    package init(version: String, controllers: [String], mountPoint: String, directory: String) {
        self.version = version
        self.controllers = controllers
        self.mountPoint = mountPoint
        self.directory = directory
    }
}

/// Why init failed, as it crosses the sync socket: the one-line message, and the failed
/// system call behind it as values (operation, path, errno), so that the runtime rebuilds a
/// `SkiffError` whose `cause` is that `LinuxError` rather than text to parse.
package struct InitFailure: Codable, Sendable, Equatable {
    package var message: String
    package var operation: String?
    package var path: String?
    package var errno: Int32?

    package init(message: String, operation: String? = nil, path: String? = nil, errno: Int32? = nil) {
        self.message = message
        self.operation = operation
        self.path = path
        self.errno = errno
    }

    /// `error` as init reports it.
    package init(_ error: any Error) {
        let cause = SkiffError.cause(of: error)
        self.init(message: SkiffError.text(of: error), operation: cause?.operation, path: cause?.path, errno: cause?.code)
    }

    /// The system call that failed, when init named one.
    package var cause: LinuxError? {
        guard let operation, let errno else { return nil }
        return LinuxError(operation, path: path, errno: errno)
    }
}

/// Messages on the sync socket (SOCK_SEQPACKET, one JSON object per packet), the only channel
/// between the runtime and the Swift init. docs/nsexec.md lists them.
package enum SyncMessage: Codable, Sendable, Equatable {
    case options(InitOptions)   // runtime → init, first, for a new container
    case exec(ExecInitOptions)  // runtime → init, first, for exec
    case hooks                  // init → runtime: namespaces and mounts made, before pivot_root: run prestart and createRuntime
    case hooksDone              // runtime → init: they ran; go on
    case ready                  // init → runtime: container prepared; waits for "committed"
    case committed              // runtime → init: state.json and the pid file are written: go on (exec.fifo, or execve)
    case error(InitFailure)     // init → runtime: preparation failed: the one-line reason, and the failed call's operation, path and errno

    private enum CodingKeys: String, CodingKey { case type, options, exec, message, operation, path, errno }

    package init(from decoder: any Decoder) throws {
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

    package func encode(to encoder: any Encoder) throws {
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

    package var name: String {
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
package struct SyncChannel: Sendable {
    package let fd: OwnedFD

    package init(fd: OwnedFD) { self.fd = fd }

    package func send(_ message: SyncMessage) throws {
        try Sockets.send(fd, try SkiffJSON.encode(message), operation: "send \(message.name) on sync socket")
    }

    /// The next message, or nil when the peer closed without one.
    package func receive() throws -> SyncMessage? {
        let bytes = try Sockets.receive(fd, operation: "receive on sync socket")
        if bytes.isEmpty { return nil }
        do {
            return try SkiffJSON.decode(SyncMessage.self, from: bytes, document: "sync message")
        } catch {
            throw SkiffError(.system, "malformed sync message", error)
        }
    }
}
