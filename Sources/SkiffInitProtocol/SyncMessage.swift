#if canImport(Glibc)
import Glibc
#endif
import SkiffLinux
import SkiffOCI

/// What the runtime tells the Swift init before it prepares the container: the options of
/// the command line and what the runtime resolved (the rootfs, the cgroup directories).
package struct InitOptions: Sendable, Equatable {
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
package struct ExecInitOptions: Sendable, Equatable {
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

package struct CgroupMountSource: Sendable, Equatable {
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
package struct InitFailure: Sendable, Equatable {
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
///
/// Mapped to and from the JSON tree by hand, not through Codable: init decodes its options
/// first thing, and Codable's first use in a fresh process (its generic containers, their
/// metadata and witness tables) cost init ~0.1 ms of every create and exec (docs/benchmarks.md).
/// The spec's process inside `exec` is written and read by its own hand mapping
/// (SkiffOCI's SpecWriting.swift and SpecReading.swift, held to its Codable conformance).
package enum SyncMessage: Sendable, Equatable {
    case options(InitOptions)   // runtime → init, first, for a new container
    case exec(ExecInitOptions)  // runtime → init, first, for exec
    case hooks                  // init → runtime: namespaces and mounts made, before pivot_root: run prestart and createRuntime
    case hooksDone              // runtime → init: they ran; go on
    case ready                  // init → runtime: container prepared; waits for "committed"
    case committed              // runtime → init: state.json and the pid file are written: go on (exec.fifo, or execve)
    case error(InitFailure)     // init → runtime: preparation failed: the one-line reason, and the failed call's operation, path and errno

    /// The packet: `{"type":"options","options":{…}}`, `{"type":"ready"}`, `{"type":"error","message":…}`.
    package func encoded() -> [UInt8] {
        var members: [(key: String, value: JSONValue)] = [("type", .string(name))]
        switch self {
        case .options(let options):
            members.append(("options", .object([
                ("containerID", .string(options.containerID)),
                ("rootfs", .string(options.rootfs)),
                ("noPivot", .bool(options.noPivot)),
                ("noNewKeyring", .bool(options.noNewKeyring)),
                ("preserveFds", .number(String(options.preserveFds))),
                ("listenFds", .number(String(options.listenFds))),
                ("cgroups", .array(options.cgroups.map { source in
                    .object([
                        ("version", .string(source.version)),
                        ("controllers", .array(source.controllers.map(JSONValue.string))),
                        ("mountPoint", .string(source.mountPoint)),
                        ("directory", .string(source.directory)),
                    ])
                })),
                ("debug", .bool(options.debug)),
            ] + (options.bundle.map { [("bundle", JSONValue.string($0))] } ?? []))))
        case .exec(let options):
            members.append(("exec", .object([
                ("containerID", .string(options.containerID)),
                ("process", options.process.jsonTree),
                ("preserveFds", .number(String(options.preserveFds))),
                ("listenFds", .number(String(options.listenFds))),
            ] + (options.userSpec.map { [("userSpec", JSONValue.string($0))] } ?? []))))
        case .error(let failure):
            members.append(("message", .string(failure.message)))
            if let operation = failure.operation { members.append(("operation", .string(operation))) }
            if let path = failure.path { members.append(("path", .string(path))) }
            if let errno = failure.errno { members.append(("errno", .number(String(errno)))) }
        case .hooks, .hooksDone, .ready, .committed:
            break
        }
        return SkiffJSON.write(.object(members))
    }

    /// A packet read from the socket; a member missing or of the wrong type is an error naming it.
    package init(decoding bytes: [UInt8]) throws(SpecError) {
        let message = try JSONObjectReader(SkiffJSON.parse(bytes, document: "sync message"), document: "sync message")
        switch try message.required("type", as: String.self) {
        case "options":
            let options = try message.required("options", as: JSONObjectReader.self)
            var cgroups: [CgroupMountSource] = []
            for source in try options.array("cgroups", of: JSONObjectReader.self) {
                cgroups.append(CgroupMountSource(version: try source.required("version"), controllers: try source.array("controllers"),
                                                 mountPoint: try source.required("mountPoint"), directory: try source.required("directory")))
            }
            self = .options(InitOptions(
                containerID: try options.required("containerID"), rootfs: try options.required("rootfs"),
                noPivot: try options.required("noPivot"), noNewKeyring: try options.required("noNewKeyring"),
                preserveFds: try options.required("preserveFds"), listenFds: try options.optional("listenFds") ?? 0,
                cgroups: cgroups, debug: try options.required("debug"), bundle: try options.optional("bundle")))
        case "exec":
            let options = try message.required("exec", as: JSONObjectReader.self)
            guard let process = try options.optional("process", as: Process.self) else {
                throw SpecError(path: options.path(of: "process"), message: "missing required field")
            }
            self = .exec(ExecInitOptions(
                containerID: try options.required("containerID"), process: process,
                preserveFds: try options.required("preserveFds"), listenFds: try options.optional("listenFds") ?? 0,
                userSpec: try options.optional("userSpec")))
        case "hooks": self = .hooks
        case "hooksDone": self = .hooksDone
        case "ready": self = .ready
        case "committed": self = .committed
        case "error":
            self = .error(InitFailure(message: try message.required("message"), operation: try message.optional("operation"),
                                      path: try message.optional("path"), errno: try message.optional("errno")))
        case let other:
            throw SpecError(path: "type", message: "unknown sync message \"\(other)\"")
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

    /// Before init exits with an error it has sent: "committed" may already be waiting
    /// (InitSpawner.commitOnRecord), and leaving it unread would reset the runtime's end
    /// before the runtime reads the error.
    package func discardIncoming() {
        Sockets.discardIncoming(fd)
    }

    package func send(_ message: SyncMessage) throws {
        try Sockets.send(fd, message.encoded(), operation: "send \(message.name) on sync socket")
    }

    /// The next message, or nil when the peer closed without one (also when it closed with
    /// one of ours unread: the kernel then reports ECONNRESET).
    package func receive() throws -> SyncMessage? {
        let bytes: [UInt8]
        do {
            bytes = try Sockets.receive(fd, operation: "receive on sync socket")
        } catch where error.code == ECONNRESET {
            return nil
        }
        if bytes.isEmpty { return nil }
        do {
            return try SyncMessage(decoding: bytes)
        } catch {
            throw SkiffError(.system, "malformed sync message", error)
        }
    }
}

