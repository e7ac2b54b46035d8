#if canImport(FoundationEssentials)
import FoundationEssentials
#else
import Foundation
#endif
#if canImport(Glibc)
import Glibc
#endif
import SkiffLinux
import SkiffOCI

/// What a seccomp agent receives on linux.seccomp.listenerPath (config-linux.md#seccomp,
/// runtime.md "containerProcessState"): this JSON as the message body, and the listener fd
/// named in `fds` as SCM_RIGHTS, in one sendmsg on a fresh connection.
package struct ContainerProcessState: OCIDocument, Equatable {
    package static let documentName = "containerProcessState"
    package static let seccompFdName = "seccompFd"

    package var ociVersion: String
    package var fds: [String]
    /// The process whose filter this is, as the runtime sees it.
    package var pid: Int32
    package var metadata: String?
    package var state: State

    package init(ociVersion: String, fds: [String], pid: Int32, metadata: String?, state: State) {
        self.ociVersion = ociVersion
        self.fds = fds
        self.pid = pid
        self.metadata = metadata
        self.state = state
    }
}

/// The listener fd's way out of the container: init loads the filter, hands the fd over a
/// socketpair made for it (`_SKIFF_SECCOMPSOCK`) and waits; the runtime, outside the
/// container's mount namespace, passes it to the agent and acknowledges.
///
/// Init cannot reach listenerPath itself (the path is the host's), and it must not go on
/// before the agent has the fd: a notified syscall made meanwhile would wait for an agent
/// that cannot answer.
package enum SeccompListener {

    /// Runtime side: waits for init's listener fd. nil when init closed the socket without
    /// one (it failed earlier; the sync socket carries the reason).
    package static func receive(_ channel: OwnedFD) throws(SkiffError) -> OwnedFD? {
        switch Result(catching: { () throws(LinuxError) in try Sockets.receiveFD(channel, maxNameSize: 64, operation: "receive seccomp listener fd") }) {
        case .success(let received): return received.fd
        case .failure(let error) where error.code == ECONNRESET || error.code == EBADMSG: return nil
        case .failure(let error): throw SkiffError(.system, error)
        }
    }

    /// Runtime side: sends the state and the fd to the agent, then lets init go on.
    package static func forward(_ listener: OwnedFD, to path: String, state: ContainerProcessState,
                        channel: OwnedFD) throws(SkiffError) {
        let socket = try connect(path)
        let body: String
        do {
            body = String(decoding: try state.jsonData(indent: nil), as: UTF8.self)
        } catch {
            throw SkiffError(.system, "encode container process state", error)
        }
        do {
            try Sockets.sendFD(socket, listener, name: body, operation: "send listener fd", path: path)
        } catch {
            throw SkiffError(.system, "linux.seccomp.listenerPath", error)
        }
        do {
            try channel.writeAll([1], operation: "acknowledge seccomp listener fd")
        } catch {
            throw SkiffError(.system, error)
        }
    }

    /// Init side: hands the fd over and waits until the agent has it.
    package static func handOver(_ listener: OwnedFD, channel: OwnedFD) throws(SkiffError) {
        do {
            try Sockets.sendFD(channel, listener, name: ContainerProcessState.seccompFdName,
                               operation: "send seccomp listener fd to the runtime")
        } catch {
            throw SkiffError(.system, error)
        }
        listener.close()
        let ack: [UInt8]
        do {
            ack = try channel.read(upTo: 1, operation: "wait for the seccomp agent")
        } catch {
            throw SkiffError(.system, error)
        }
        if ack != [1] { throw SkiffError(.system, "seccomp listener: the runtime did not reach the agent") }
        channel.close()
    }

    package static func connect(_ path: String) throws(SkiffError) -> OwnedFD {
        do {
            return try Sockets.connect(path)
        } catch {
            throw SkiffError(.invalidArgument, "linux.seccomp.listenerPath", error)
        }
    }
}
