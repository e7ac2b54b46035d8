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
