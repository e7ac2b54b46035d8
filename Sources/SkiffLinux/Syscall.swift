#if canImport(Glibc)
import Glibc
#endif
import CShims

/// The thread's current errno.
@inline(__always)
public func currentErrno() -> Int32 { skiff_errno() }

/// Runs a raw syscall, retrying on EINTR, and throws a `LinuxError` naming the operation and
/// path when it returns -1. The name and path are built only then: many are interpolated
/// ("kill \(pid)", an fd's /proc/self/fd path), and the create path makes hundreds of calls.
@inline(__always)
@discardableResult
public func sysCall<T: BinaryInteger>(
    _ operation: @autoclosure () -> String, path: @autoclosure () -> String? = nil, _ body: () -> T
) throws(LinuxError) -> T {
    while true {
        let result = body()
        if result != -1 { return result }
        let code = skiff_errno()
        if code == EINTR { continue }
        throw LinuxError(operation(), path: path(), errno: code)
    }
}

/// Same as `sysCall` for calls whose failure is expected and handled by the caller: returns the
/// errno instead of throwing.
@inline(__always)
public func sysCallErrno<T: BinaryInteger>(_ body: () -> T) -> (value: T, errno: Int32) {
    while true {
        let result = body()
        if result != -1 { return (result, 0) }
        let code = skiff_errno()
        if code == EINTR { continue }
        return (result, code)
    }
}
