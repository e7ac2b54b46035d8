#if canImport(Glibc)
import Glibc
#endif

public enum Poll {
    /// poll(2) on `entries`, retried on EINTR; `timeout` in milliseconds, -1 for none.
    /// Returns how many entries have events.
    @discardableResult
    public static func wait(_ entries: inout [pollfd], timeout: Int32, operation: String = "poll",
                            path: String? = nil) throws(LinuxError) -> Int32 {
        let count = nfds_t(entries.count)
        return try sysCall(operation, path: path) { poll(&entries, count, timeout) }
    }
}
