#if canImport(Glibc)
import Glibc
#endif
import SkiffLinux
import Synchronization

/// A container's directory in one hierarchy, and the reads and writes of its control files.
/// Files are never created: a write to a file the kernel does not offer fails with ENOENT,
/// which is how a missing controller or feature shows (also on a fake cgroupfs in tests).
struct ControlDirectory: Sendable {
    let path: String
    let version: CgroupHierarchy.Version

    func file(_ name: String) -> String { path + "/" + name }

    func has(_ name: String) -> Bool { Files.exists(file(name)) }

    /// Writes `value` for the config field `field`; the error names both.
    func write(_ name: String, _ value: String, field: String) throws(CgroupError) {
        try check(writeErrno(name, value), name, value, field: field)
    }

    /// Throws the error for a write of `value` to `name` that failed with `err` (0: none).
    func check(_ err: Int32, _ name: String, _ value: String, field: String) throws(CgroupError) {
        if err == 0 { return }
        if err == ENOENT, !Files.exists(path) {
            throw CgroupError.wrap(field, LinuxError("open", path: path, errno: ENOENT))
        }
        if err == ENOENT {
            throw CgroupError.missing(field, file: file(name), reason: "the kernel does not offer it")
        }
        throw CgroupError.write(field, value: value, LinuxError("write", path: file(name), errno: err))
    }

    /// The errno of one write of `value`, 0 on success; a caller that retries or tolerates
    /// an error looks at it.
    func writeErrno(_ name: String, _ value: String) -> Int32 {
        let path = file(name)
        // O_TRUNC changes nothing on cgroupfs; on a fake one it keeps the file to the last value.
        let fd: OwnedFD
        switch Result(catching: { () throws(LinuxError) in try Files.open(path, flags: O_WRONLY | O_TRUNC) }) {
        case .success(let opened):
            fd = opened
            if let log = CgroupWriteLog.current { log.append(path, value, 0) }
        case .failure(let error):
            if let log = CgroupWriteLog.current { log.append(path, value, error.code) }
            return error.code
        }
        var bytes = Array(value.utf8)
        if bytes.isEmpty { bytes = [UInt8(ascii: "\n")] }
        switch Result(catching: { () throws(LinuxError) in try fd.writeOnce(bytes) }) {
        case .success(let written): return written == bytes.count ? 0 : EIO
        case .failure(let error): return error.code
        }
    }

    func read(_ name: String) throws(LinuxError) -> String {
        try Files.readString(file(name))
    }

    func readTrimmed(_ name: String) -> String? {
        (try? read(name)).map { $0.trimmingKernelBlanks() }
    }

    /// A file holding one number ("max" reads as UInt64.max).
    func readUInt(_ name: String) -> UInt64? {
        guard let text = readTrimmed(name) else { return nil }
        return text == "max" ? UInt64.max : UInt64(text)
    }

    /// `key value` lines (memory.stat, cpu.stat, memory.events, cgroup.events).
    func readKeyValues(_ name: String) -> [String: UInt64] {
        guard let text = try? read(name) else { return [:] }
        return Self.parseKeyValues(text)
    }

    static func parseKeyValues(_ text: String) -> [String: UInt64] {
        var result: [String: UInt64] = [:]
        for line in text.split(separator: "\n") {
            let parts = line.split(separator: " ")
            if parts.count == 2, let value = UInt64(parts[1]) { result[String(parts[0])] = value }
        }
        return result
    }
}

extension String {
    func trimmingKernelBlanks() -> String {
        var slice = Substring(self)
        while let first = slice.first, first.isKernelBlank { slice.removeFirst() }
        while let last = slice.last, last.isKernelBlank { slice.removeLast() }
        return String(slice)
    }
}

/// Every control-file write, in order, for tests: a fake cgroupfs keeps only the last value of
/// a file, but devices.allow or io.max take one rule per write.
final class CgroupWriteLog: @unchecked Sendable {
    @TaskLocal private static var installed: CgroupWriteLog?
    /// Whether any log was ever installed (by a test). Reading the task-local costs every
    /// process that writes a control file the Concurrency runtime: TaskLocal's metadata made
    /// and two 64 KB windows of its code faulted in; the runtime itself never installs one.
    private static let everInstalled = Atomic<Bool>(false)

    static var current: CgroupWriteLog? {
        everInstalled.load(ordering: .relaxed) ? installed : nil
    }

    /// Runs `body` with `log` recording its writes (tests running in parallel each see their own).
    static func recording<T>(into log: CgroupWriteLog, _ body: () throws -> T) rethrows -> T {
        everInstalled.store(true, ordering: .relaxed)
        return try $installed.withValue(log) { try body() }
    }

    struct Entry: Equatable, CustomStringConvertible {
        let path: String
        let value: String
        var description: String { "\(path) <- \(value)" }
    }

    private let lock = PthreadMutex()
    private var storage: [Entry] = []

    var entries: [Entry] { lock.locked { storage } }

    func append(_ path: String, _ value: String, _ err: Int32) {
        guard err == 0 else { return }
        lock.locked { storage.append(Entry(path: path, value: value)) }
    }
}

/// A pthread mutex (FoundationEssentials has no NSLock).
final class PthreadMutex: @unchecked Sendable {
    private var mutex = pthread_mutex_t()
    init() { pthread_mutex_init(&mutex, nil) }
    deinit { pthread_mutex_destroy(&mutex) }
    func locked<T>(_ body: () -> T) -> T {
        pthread_mutex_lock(&mutex)
        defer { pthread_mutex_unlock(&mutex) }
        return body()
    }
}
