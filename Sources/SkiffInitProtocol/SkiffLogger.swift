#if canImport(Glibc)
import Glibc
#endif
import SkiffLinux
import SkiffOCI

/// Log lines as runc writes them: logrus text (`time="…" level=error msg="…"`) or JSON lines
/// (`{"level":"error","msg":"…","time":"…"}`), which containerd's shim and conmon read back
/// from `--log` to show why a command failed. Named `SkiffLogger` so that an embedder that also
/// imports swift-log (`Logging.Logger`) can name both without qualifying either.
public struct SkiffLogger: Sendable {
    public enum Format: String, Sendable { case text, json }
    public enum Level: Int, Sendable, Comparable {
        case debug = 0, info, warning, error
        public static func < (a: Level, b: Level) -> Bool { a.rawValue < b.rawValue }
        package var name: String { ["debug", "info", "warning", "error"][rawValue] }
    }

    public let fd: Int32
    public let format: Format
    public let minimum: Level

    public init(fd: Int32 = 2, format: Format = .text, minimum: Level = .info) {
        self.fd = fd
        self.format = format
        self.minimum = minimum
    }

    public func log(_ level: Level, _ message: String) {
        guard level >= minimum else { return }
        let line: String
        switch format {
        case .json:
            line = "{\"level\":\"\(level.name)\",\"msg\":\(jsonQuote(message)),\"time\":\"\(Self.timestamp())\"}\n"
        case .text:
            line = "time=\"\(Self.timestamp())\" level=\(level.name) msg=\(jsonQuote(message))\n"
        }
        writeRaw(line)
    }

    /// Writes `text` as it is (for the plain error line runc prints on stderr).
    public func writeRaw(_ text: String) {
        // A log line that cannot be written has nowhere else to go.
        try? BorrowedFD(fd).writeAll(Array(text.utf8))
    }

    public func debug(_ message: @autoclosure () -> String) {
        if minimum <= .debug { log(.debug, message()) }
    }
    public func info(_ message: String) { log(.info, message) }
    public func warning(_ message: String) { log(.warning, message) }
    public func error(_ message: String) { log(.error, message) }

    /// RFC 3339 UTC with nanoseconds, as Go's time.RFC3339Nano prints it.
    package static func timestamp() -> String {
        var now = timespec()
        clock_gettime(CLOCK_REALTIME, &now)
        var seconds = now.tv_sec
        var parts = tm()
        gmtime_r(&seconds, &parts)
        func pad(_ value: Int32, _ width: Int) -> String {
            let text = String(value)
            return String(repeating: "0", count: max(0, width - text.count)) + text
        }
        let nanos = String(now.tv_nsec)
        let fraction = String(repeating: "0", count: 9 - nanos.count) + nanos
        return "\(parts.tm_year + 1900)-\(pad(parts.tm_mon + 1, 2))-\(pad(parts.tm_mday, 2))T"
            + "\(pad(parts.tm_hour, 2)):\(pad(parts.tm_min, 2)):\(pad(parts.tm_sec, 2)).\(fraction)Z"
    }
}
