#if canImport(Glibc)
import Glibc
#endif
import CShims

public enum Sockets {
    /// A pair of connected AF_UNIX sockets, both close-on-exec.
    public static func pair(type: Int32) throws(LinuxError) -> (OwnedFD, OwnedFD) {
        var fds: [Int32] = [-1, -1]
        _ = try sysCall("socketpair") { socketpair(AF_UNIX, type | Int32(SOCK_CLOEXEC.rawValue), 0, &fds) }
        return (OwnedFD(fds[0]), OwnedFD(fds[1]))
    }

    /// A stream socket connected to the unix socket at `path` (a console socket, a seccomp
    /// listener). Paths too long for sockaddr_un fail with ENAMETOOLONG.
    public static func connect(_ path: String) throws(LinuxError) -> OwnedFD {
        let connection = OwnedFD(try sysCall("socket") {
            socket(AF_UNIX, Int32(SOCK_STREAM.rawValue) | Int32(SOCK_CLOEXEC.rawValue), 0)
        })
        var address = sockaddr_un()
        address.sun_family = sa_family_t(AF_UNIX)
        let bytes = Array(path.utf8)
        guard bytes.count < MemoryLayout.size(ofValue: address.sun_path) else {
            throw LinuxError("connect", path: path, errno: ENAMETOOLONG)
        }
        withUnsafeMutableBytes(of: &address.sun_path) { raw in
            raw.copyBytes(from: bytes)
            raw[bytes.count] = 0
        }
        let size = socklen_t(MemoryLayout<sockaddr_un>.size)
        _ = try sysCall("connect", path: path) {
            withUnsafePointer(to: &address) {
                $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { Glibc.connect(connection.raw, $0, size) }
            }
        }
        return connection
    }

    /// Sends `fd` with SCM_RIGHTS, with `name` as the message body (what runc's console
    /// socket receivers and seccomp agents expect). Every fd passed between processes goes
    /// through here or `receiveFD`.
    public static func sendFD(_ socket: OwnedFD, _ fd: OwnedFD, name: String, operation: String,
                              path: String? = nil) throws(LinuxError) {
        _ = try sysCall(operation, path: path) { skiff_send_fd(socket.raw, fd.raw, name) }
    }

    /// Receives one fd sent with SCM_RIGHTS (close-on-exec) and the message's body. A peer
    /// that closed without sending fails with ECONNRESET, a message without an fd with EBADMSG.
    public static func receiveFD(_ socket: OwnedFD, maxNameSize: Int = 256, operation: String) throws(LinuxError) -> (fd: OwnedFD, name: String) {
        var name = [CChar](repeating: 0, count: maxNameSize)
        let size = name.count
        let fd = try sysCall(operation) { skiff_recv_fd(socket.raw, &name, size) }
        return (OwnedFD(fd), String(decoding: name.prefix { $0 != 0 }.map { UInt8(bitPattern: $0) }, as: UTF8.self))
    }

    /// An AF_UNIX datagram socket bound at `path`, mode 0777 so that any user of a container
    /// (a user namespace maps it to another uid) can send: sd_notify's socket for the container.
    public static func bindDatagram(_ path: String) throws(LinuxError) -> OwnedFD {
        let fd = OwnedFD(try sysCall("socket") {
            socket(AF_UNIX, Int32(SOCK_DGRAM.rawValue) | Int32(SOCK_CLOEXEC.rawValue), 0)
        })
        var (address, size) = try unixAddress(path, operation: "bind")
        _ = try sysCall("bind", path: path) {
            withUnsafePointer(to: &address) { $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { bind(fd.raw, $0, size) } }
        }
        _ = try sysCall("chmod", path: path) { chmod(path, 0o777) }
        return fd
    }

    /// An AF_UNIX datagram socket connected to `path`; "@name" is in the abstract namespace, as
    /// systemd's NOTIFY_SOCKET may be.
    public static func connectDatagram(_ path: String) throws(LinuxError) -> OwnedFD {
        let fd = OwnedFD(try sysCall("socket") {
            socket(AF_UNIX, Int32(SOCK_DGRAM.rawValue) | Int32(SOCK_CLOEXEC.rawValue), 0)
        })
        var (address, size) = try unixAddress(path, operation: "connect")
        _ = try sysCall("connect", path: path) {
            withUnsafePointer(to: &address) { $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { Glibc.connect(fd.raw, $0, size) } }
        }
        return fd
    }

    /// sockaddr_un for `path` and its length; a leading "@" means the abstract namespace.
    static func unixAddress(_ path: String, operation: String) throws(LinuxError) -> (sockaddr_un, socklen_t) {
        var address = sockaddr_un()
        address.sun_family = sa_family_t(AF_UNIX)
        var bytes = Array(path.utf8)
        let abstract = bytes.first == UInt8(ascii: "@")
        if abstract { bytes[0] = 0 }
        guard bytes.count < MemoryLayout.size(ofValue: address.sun_path) else {
            throw LinuxError(operation, path: path, errno: ENAMETOOLONG)
        }
        withUnsafeMutableBytes(of: &address.sun_path) { raw in
            raw.copyBytes(from: bytes)
            raw[bytes.count] = 0
        }
        let base = MemoryLayout<sockaddr_un>.offset(of: \.sun_path)!
        return (address, socklen_t(abstract ? base + bytes.count : MemoryLayout<sockaddr_un>.size))
    }

    public static func pipe() throws(LinuxError) -> (read: OwnedFD, write: OwnedFD) {
        var fds: [Int32] = [-1, -1]
        _ = try sysCall("pipe2") { pipe2(&fds, O_CLOEXEC) }
        return (OwnedFD(fds[0]), OwnedFD(fds[1]))
    }

    /// Sends one SOCK_SEQPACKET message.
    public static func send(_ fd: OwnedFD, _ bytes: [UInt8], operation: String = "send") throws(LinuxError) {
        let (_, err) = bytes.withUnsafeBytes { buffer in
            sysCallErrno { Glibc.send(fd.raw, buffer.baseAddress, buffer.count, Int32(MSG_NOSIGNAL)) }
        }
        if err != 0 { throw LinuxError(operation, errno: err) }
    }

    /// Sends all of `bytes` on a stream socket, retrying short sends (and EINTR). MSG_NOSIGNAL:
    /// a peer that is gone fails the send with EPIPE instead of killing the sender with
    /// SIGPIPE, as write(2) would (the runtime, sending a C stage that already exited its
    /// bootstrap data, would die and leave its records and cgroups behind).
    public static func sendAll(_ fd: OwnedFD, _ bytes: [UInt8], operation: String = "send") throws(LinuxError) {
        try transferAll(bytes, operation: operation, path: nil) { Glibc.send(fd.raw, $0, $1, Int32(MSG_NOSIGNAL)) }
    }

    /// Stops receiving on `fd` and drops what arrived unread, before a process exits with it
    /// open: a unix socket closed with unread data resets its peer, whose next receive then
    /// fails with ECONNRESET before it has read what was sent to it (the message saying
    /// why). After this the peer's sends fail with EPIPE instead of queueing.
    public static func discardIncoming(_ fd: OwnedFD) {
        _ = shutdown(fd.raw, Int32(SHUT_RD))
        var byte: UInt8 = 0
        while recv(fd.raw, &byte, 1, Int32(MSG_DONTWAIT)) > 0 {}
    }

    /// Receives one SOCK_SEQPACKET message; empty means the peer closed. The message's length
    /// is peeked first (MSG_PEEK | MSG_TRUNC returns it whole), so the buffer is exactly that
    /// big: a fixed large buffer would be faulted in by every receive, and in the container's
    /// init those pages are charged to the container's memory limit.
    public static func receive(_ fd: OwnedFD, maxSize: Int = 1 << 20, operation: String = "recv") throws(LinuxError) -> [UInt8] {
        let (length, peekErr) = sysCallErrno { recv(fd.raw, nil, 0, Int32(MSG_PEEK | MSG_TRUNC)) }
        if peekErr != 0 { throw LinuxError(operation, errno: peekErr) }
        guard length <= maxSize else { throw LinuxError(operation, errno: EMSGSIZE) }
        if length == 0 {
            // The peer closed (or sent an empty message): consume it so the next receive moves on.
            let (_, err) = sysCallErrno { recv(fd.raw, nil, 0, 0) }
            if err != 0 { throw LinuxError(operation, errno: err) }
            return []
        }
        var err: Int32 = 0
        let buffer = [UInt8](unsafeUninitializedCapacity: length) { raw, count in
            let (got, recvErr) = sysCallErrno { recv(fd.raw, raw.baseAddress, length, 0) }
            err = recvErr
            count = recvErr == 0 ? got : 0
        }
        if err != 0 { throw LinuxError(operation, errno: err) }
        return buffer
    }
}
