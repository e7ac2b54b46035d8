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

    /// Receives one SOCK_SEQPACKET message; empty means the peer closed.
    public static func receive(_ fd: OwnedFD, maxSize: Int = 1 << 20, operation: String = "recv") throws(LinuxError) -> [UInt8] {
        var buffer = [UInt8](repeating: 0, count: maxSize)
        let (got, err) = buffer.withUnsafeMutableBytes { raw in
            sysCallErrno { recv(fd.raw, raw.baseAddress, maxSize, 0) }
        }
        if err != 0 { throw LinuxError(operation, errno: err) }
        buffer.removeLast(maxSize - got)
        return buffer
    }
}
