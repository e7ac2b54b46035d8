import Foundation
import Testing

/// A fresh directory under /tmp, removed (without following symlinks) when the test ends.
/// Setup and inspection go through Foundation, so a test never relies on the code it checks.
final class TemporaryDirectory {
    let path: String

    init(_ label: String = "skiff-test") throws {
        var template = Array("/tmp/\(label)-XXXXXX".utf8CString)
        let made = template.withUnsafeMutableBufferPointer { mkdtemp($0.baseAddress!) }
        path = String(cString: try #require(made))
    }

    deinit { try? FileManager.default.removeItem(atPath: path) }

    func file(_ relative: String) -> String { path + "/" + relative }

    func makeDirectory(_ relative: String) throws {
        try FileManager.default.createDirectory(atPath: file(relative), withIntermediateDirectories: true)
    }

    func write(_ relative: String, _ contents: String) throws {
        try Data(contents.utf8).write(to: URL(fileURLWithPath: file(relative)))
    }

    func read(_ relative: String) throws -> String {
        try String(contentsOfFile: file(relative), encoding: .utf8)
    }

    func symlink(_ relative: String, to target: String) throws {
        try FileManager.default.createSymbolicLink(atPath: file(relative), withDestinationPath: target)
    }

    func exists(_ relative: String) -> Bool { lexists(file(relative)) }

    func isDirectory(_ relative: String) -> Bool { kind(file(relative)) == S_IFDIR }

    func isRegularFile(_ relative: String) -> Bool { kind(file(relative)) == S_IFREG }

    func entries(_ relative: String = "") throws -> [String] {
        try FileManager.default.contentsOfDirectory(atPath: relative.isEmpty ? path : file(relative)).sorted()
    }
}

/// Whether anything (a dangling symlink too) is at `path`.
func lexists(_ path: String) -> Bool {
    var st = stat()
    return lstat(path, &st) == 0
}

/// The file type bits of `path`, without following a final symlink; 0 if nothing is there.
func kind(_ path: String) -> mode_t {
    var st = stat()
    guard lstat(path, &st) == 0 else { return 0 }
    return st.st_mode & S_IFMT
}

/// Which file an fd or path refers to.
struct FileIdentity: Equatable {
    let device: UInt64
    let inode: UInt64
}

/// The identity of what `path` names, following symlinks.
func identity(_ path: String) -> FileIdentity? {
    var st = stat()
    guard stat(path, &st) == 0 else { return nil }
    return FileIdentity(device: UInt64(st.st_dev), inode: UInt64(st.st_ino))
}

/// The identity of what an fd refers to.
func identity(fd: Int32) -> FileIdentity? {
    var st = stat()
    guard fstat(fd, &st) == 0 else { return nil }
    return FileIdentity(device: UInt64(st.st_dev), inode: UInt64(st.st_ino))
}

/// This process's umask, read without changing it (umask(2) would race other tests).
func currentUmask() throws -> mode_t {
    let status = try String(contentsOfFile: "/proc/self/status", encoding: .utf8)
    let line = try #require(status.split(separator: "\n").first { $0.hasPrefix("Umask:") })
    return try #require(mode_t(line.dropFirst(6).trimmingCharacters(in: .whitespaces), radix: 8))
}
