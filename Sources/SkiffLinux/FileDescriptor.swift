#if canImport(Glibc)
import Glibc
#endif
import CShims

/// A file descriptor this process uses but does not own: stdin, stdout and stderr (an `OwnedFD`
/// would close them, and the next open would take their number), or a log file held open for
/// the whole run.
public struct BorrowedFD: Sendable {
    public let raw: Int32

    public init(_ raw: Int32) { self.raw = raw }

    public static let standardOutput = BorrowedFD(1)
    public static let standardError = BorrowedFD(2)

    /// Writes all of `bytes`, retrying short writes (and EINTR).
    public func writeAll(_ bytes: [UInt8], operation: String = "write", path: String? = nil) throws(LinuxError) {
        try transferAll(bytes, operation: operation, path: path) { Glibc.write(raw, $0, $1) }
    }
}

/// Hands all of `bytes` to `transfer` (write, send), which returns how many it took or -1 with
/// errno: short transfers go again from where they stopped, EINTR is retried, a transfer of
/// nothing is EIO.
func transferAll(_ bytes: [UInt8], operation: String, path: String?,
                 _ transfer: (UnsafeRawPointer, Int) -> Int) throws(LinuxError) {
    var offset = 0
    while offset < bytes.count {
        let (done, err) = bytes.withUnsafeBytes { buffer in
            sysCallErrno { transfer(buffer.baseAddress! + offset, buffer.count - offset) }
        }
        if err != 0 { throw LinuxError(operation, path: path, errno: err) }
        if done == 0 { throw LinuxError(operation, path: path, errno: EIO) }
        offset += done
    }
}

/// A file descriptor that closes itself. Every fd skiff opens is O_CLOEXEC and owned by one of
/// these, so none can leak into a container by accident.
public final class OwnedFD: @unchecked Sendable {
    public private(set) var raw: Int32

    public init(_ raw: Int32) { self.raw = raw }

    deinit { if raw >= 0 { _ = Glibc.close(raw) } }

    /// Gives up ownership: the caller closes it (or hands it to a child).
    public func release() -> Int32 {
        let fd = raw
        raw = -1
        return fd
    }

    public func close() {
        if raw >= 0 { _ = Glibc.close(raw) }
        raw = -1
    }

    /// `/proc/self/fd/N`: how mount(2) and friends are pointed at an fd-resolved path.
    public var procPath: String { "/proc/self/fd/\(raw)" }

    public func duplicate(minimum: Int32 = 0, cloexec: Bool = true) throws(LinuxError) -> OwnedFD {
        let fd = try sysCall("fcntl F_DUPFD") {
            fcntl(raw, cloexec ? F_DUPFD_CLOEXEC : F_DUPFD, minimum)
        }
        return OwnedFD(fd)
    }

    public func setCloexec(_ on: Bool) throws(LinuxError) {
        _ = try sysCall("fcntl F_SETFD") { fcntl(raw, F_SETFD, on ? FD_CLOEXEC : 0) }
    }

    public func setNonBlocking(_ on: Bool) throws(LinuxError) {
        let flags = try sysCall("fcntl F_GETFL") { fcntl(raw, F_GETFL) }
        _ = try sysCall("fcntl F_SETFL") {
            fcntl(raw, F_SETFL, on ? flags | O_NONBLOCK : flags & ~O_NONBLOCK)
        }
    }

    /// dup2 onto `target` (which loses close-on-exec, as dup2 gives it).
    public func duplicate(onto target: Int32, operation: String = "dup2") throws(LinuxError) {
        _ = try sysCall(operation) { dup2(raw, target) }
    }

    /// The filesystem's magic number (fstatfs f_type): procfs, cgroup2, overlayfs...
    public func filesystemType(display: String? = nil) throws(LinuxError) -> UInt {
        var fs = statfs()
        _ = try sysCall("fstatfs", path: display ?? procPath) { fstatfs(raw, &fs) }
        return UInt(bitPattern: fs.f_type)
    }

    /// flock(2): an exclusive or shared lock, waiting for it unless `wait` is false (then
    /// EWOULDBLOCK says another holder has it).
    public func lock(exclusive: Bool, wait: Bool = true, display: String? = nil) throws(LinuxError) {
        let operation = (exclusive ? LOCK_EX : LOCK_SH) | (wait ? 0 : LOCK_NB)
        _ = try sysCall("flock", path: display ?? procPath) { flock(raw, operation) }
    }

    /// One write(2) of `bytes` (retried on EINTR only): how many were written. For files
    /// whose every write is a message, like cgroupfs control files, where a short write is
    /// the kernel's answer rather than something to continue.
    public func writeOnce(_ bytes: [UInt8], operation: String = "write", path: String? = nil) throws(LinuxError) -> Int {
        let (written, err) = bytes.withUnsafeBytes { buffer in
            sysCallErrno { Glibc.write(raw, buffer.baseAddress, buffer.count) }
        }
        if err != 0 { throw LinuxError(operation, path: path, errno: err) }
        return written
    }

    public func stat() throws(LinuxError) -> Glibc.stat {
        var st = Glibc.stat()
        _ = try sysCall("fstat", path: procPath) { fstat(raw, &st) }
        return st
    }

    /// Writes all of `bytes`, retrying short writes.
    public func writeAll(_ bytes: [UInt8], operation: String = "write", path: String? = nil) throws(LinuxError) {
        try BorrowedFD(raw).writeAll(bytes, operation: operation, path: path)
    }

    public func writeAll(_ string: String, operation: String = "write", path: String? = nil) throws(LinuxError) {
        try writeAll(Array(string.utf8), operation: operation, path: path)
    }

    /// Reads up to `count` bytes; an empty result is end of file.
    public func read(upTo count: Int, operation: String = "read", path: String? = nil) throws(LinuxError) -> [UInt8] {
        // Uninitialised: zeroing the buffer first would touch (and, in init, charge to the
        // container) every page of it however little the read returns.
        var err: Int32 = 0
        let buffer = [UInt8](unsafeUninitializedCapacity: count) { raw, initialized in
            let (got, readErr) = sysCallErrno { Glibc.read(self.raw, raw.baseAddress!, count) }
            err = readErr
            initialized = readErr == 0 ? got : 0
        }
        if err != 0 { throw LinuxError(operation, path: path, errno: err) }
        return buffer
    }

    /// The whole file from offset 0 with pread, leaving the shared file offset alone (an fd
    /// another process also holds, such as a memfd the runtime wrote), at most `limit` bytes.
    public func preadAll(limit: Int = 64 << 20, operation: String = "pread", path: String? = nil) throws(LinuxError) -> [UInt8] {
        try readChunks(limit: limit, operation: operation, path: path, positional: true)
    }

    /// Reads until end of file, at most `limit` bytes.
    public func readAll(limit: Int = 64 << 20, operation: String = "read", path: String? = nil) throws(LinuxError) -> [UInt8] {
        try readChunks(limit: limit, operation: operation, path: path, positional: false)
    }

    /// Reads start at 4 KiB and double: most of what skiff reads (procfs, cgroup files,
    /// config.json, state.json) fits the first. Buffers are not zeroed first (see read(upTo:)).
    private func readChunks(limit: Int, operation: String, path: String?, positional: Bool) throws(LinuxError) -> [UInt8] {
        var result: [UInt8] = []
        var chunkSize = 4096
        while result.count < limit {
            let want = min(chunkSize, limit - result.count)
            let offset = off_t(result.count)
            var err: Int32 = 0
            let chunk = [UInt8](unsafeUninitializedCapacity: want) { raw, initialized in
                let (got, readErr) = sysCallErrno {
                    positional ? Glibc.pread(self.raw, raw.baseAddress!, want, offset) : Glibc.read(self.raw, raw.baseAddress!, want)
                }
                err = readErr
                initialized = readErr == 0 ? got : 0
            }
            if err != 0 { throw LinuxError(operation, path: path, errno: err) }
            if chunk.isEmpty { break }
            result += chunk
            chunkSize = min(chunkSize * 2, 1 << 20)
        }
        return result
    }
}
