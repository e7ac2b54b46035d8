#if canImport(Glibc)
import Glibc
#endif
import CShims
import SkiffInitProtocol
import SkiffLinux
import SkiffOCI

/// sd_notify through a container, as runc does it (notify_socket.go): when the runtime runs
/// with NOTIFY_SOCKET (a systemd `Type=notify` unit, podman's `--sdnotify=container`), the
/// container gets a socket of its own at /run/notify/notify.sock, a datagram socket in the
/// state directory whose directory is bind-mounted there. `start` binds it before it releases
/// the process, waits for the process's `READY=` and passes it on to the host's socket with
/// `MAINPID=` (the container's init, so systemd follows it rather than skiff) and a barrier.
struct NotifySocket {
    static let containerDirectory = "/run/notify"
    static let socketName = "notify.sock"

    /// The host's socket, when the runtime was given one.
    static var host: String? {
        guard let value = getenv("NOTIFY_SOCKET").map({ String(cString: $0) }), !value.isEmpty else { return nil }
        return value
    }

    static func directory(stateDirectory: String) -> String { stateDirectory + "/notify" }

    /// create: the bind mount of the socket's directory (read-only: the container sends, it
    /// makes nothing there) and NOTIFY_SOCKET in the process's environment.
    static func setupSpec(_ spec: inout Spec, stateDirectory: String) {
        var mounts = spec.mounts ?? []
        mounts.append(Mount(destination: containerDirectory, type: "bind", source: directory(stateDirectory: stateDirectory),
                            options: ["bind", "nosuid", "noexec", "nodev", "ro"]))
        spec.mounts = mounts
        var env = (spec.process?.env ?? []).filter { !$0.hasPrefix("NOTIFY_SOCKET=") }
        env.append("NOTIFY_SOCKET=\(containerDirectory)/\(socketName)")
        spec.process?.env = env
    }

    /// start: the container's socket, bound before the process runs so that no message is
    /// lost; the directory exists when create was given NOTIFY_SOCKET, else nil.
    static func bind(stateDirectory: String) throws -> OwnedFD? {
        let directory = directory(stateDirectory: stateDirectory)
        guard Files.exists(directory) else { return nil }
        let path = directory + "/" + socketName
        try? Files.unlink(path)
        do {
            return try Sockets.bindDatagram(path)
        } catch {
            throw SkiffError(.system, "NOTIFY_SOCKET: \(error)")
        }
    }

    /// Waits for the container's `READY=` (or for its init to exit) and forwards it: every
    /// line the container sent up to and with READY (but its own MAINPID, a pid of its
    /// namespace), then `MAINPID=<init>`, then BARRIER=1, waiting (up to 30 s) for the host to
    /// acknowledge by closing the pipe it was given, as sd_notify_barrier does.
    static func forward(_ socket: OwnedFD, host: String, pid: Int32, logger: SkiffLogger, isAlive: () -> Bool) throws {
        let client: OwnedFD
        do {
            client = try Sockets.connectDatagram(host)
        } catch {
            throw SkiffError(.system, "NOTIFY_SOCKET: \(error)")
        }
        var entries = [pollfd(fd: socket.raw, events: Int16(POLLIN), revents: 0)]
        while true {
            let ready: Int32
            do {
                ready = try Poll.wait(&entries, timeout: 100)
            } catch {
                throw SkiffError(.system, "NOTIFY_SOCKET", error)
            }
            if ready == 0 {
                if !isAlive() { return }
                continue
            }
            let datagram: [UInt8]
            do {
                datagram = try Sockets.receive(socket)
            } catch {
                throw SkiffError(.system, "NOTIFY_SOCKET", error)
            }
            let lines = datagram.split(separator: UInt8(ascii: "\n")).map { String(decoding: $0, as: UTF8.self) }
                .filter { !$0.hasPrefix("MAINPID=") }
            if lines.isEmpty { continue }
            let isReady = lines.contains { $0.hasPrefix("READY=") }
            var message = lines.joined(separator: "\n") + "\n"
            if isReady { message += "MAINPID=\(pid)\n" }
            try sendDatagram(client, message, host: host)
            if isReady {
                try barrier(client, host: host, logger: logger)
                return
            }
        }
    }

    private static func sendDatagram(_ client: OwnedFD, _ text: String, host: String) throws {
        do {
            try Sockets.send(client, Array(text.utf8))
        } catch {
            throw SkiffError(.system, "NOTIFY_SOCKET \"\(host)\"", error)
        }
    }

    private static func barrier(_ client: OwnedFD, host: String, logger: SkiffLogger) throws {
        let (read, write) = try Sockets.pipe()
        do {
            try Sockets.sendFD(client, write, name: "BARRIER=1", operation: "send BARRIER=1")
        } catch {
            throw SkiffError(.system, "NOTIFY_SOCKET \"\(host)\": \(error)")
        }
        write.close()
        var entries = [pollfd(fd: read.raw, events: Int16(POLLIN), revents: 0)]
        let ready = (try? Poll.wait(&entries, timeout: 30_000)) ?? 0
        if ready == 0 { logger.warning("NOTIFY_SOCKET \"\(host)\": no reply to BARRIER=1 in 30 s; going on") }
    }
}
