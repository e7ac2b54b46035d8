import Foundation
import SkiffOCI
import Testing

#if canImport(Glibc)
import Glibc
#endif

// Integration tests drive the real `skiff` binary against real containers, as containerd or a
// user would: a bundle on disk, a private --root, and the exit code, stdout and stderr of each
// command. They need root (namespaces, cgroups, mounts); without it they are skipped.

/// Where the binary and the busybox rootfs are; `make test` exports both.
enum Paths {
    /// The repository: this file is Tests/IntegrationTests/Harness.swift.
    static let repository: String = {
        var url = URL(fileURLWithPath: #filePath)
        for _ in 0..<3 { url.deleteLastPathComponent() }
        return url.path
    }()

    static let binary: String =
        ProcessInfo.processInfo.environment["SKIFF_BINARY"] ?? repository + "/.build/release/skiff"

    static let rootfs: String =
        ProcessInfo.processInfo.environment["SKIFF_BUNDLE_ROOTFS"] ?? repository + "/bundles/busybox/rootfs"

    /// The committed runc-style config the tests derive theirs from.
    static let baseConfig: String = repository + "/bundles/busybox/config.json"
}

/// The reason every integration suite gives when it is skipped.
let isRoot = getuid() == 0

/// What a finished command left behind.
struct Outcome: CustomStringConvertible {
    var status: Int32
    /// True when the command was killed by a signal (`status` is then the signal number).
    var signaled: Bool
    var stdout: String
    var stderr: String
    var timedOut: Bool

    var succeeded: Bool { !signaled && !timedOut && status == 0 }

    /// stderr without its final newline, split into lines.
    var stderrLines: [String] {
        stderr.split(separator: "\n", omittingEmptySubsequences: false).map(String.init)
            .reversed().drop(while: { $0.isEmpty }).reversed()
    }

    /// stdout lines, without the empty one after the final newline.
    var lines: [String] {
        var result = stdout.split(separator: "\n", omittingEmptySubsequences: false).map(String.init)
        if result.last == "" { result.removeLast() }
        return result
    }

    var description: String {
        "status \(signaled ? "signal " : "")\(status)\(timedOut ? " (timed out)" : "")\n"
            + "stdout: \(stdout.debugDescription)\nstderr: \(stderr.debugDescription)"
    }
}

/// A command started in the background whose output goes to files.
final class Spawned {
    let process: Foundation.Process
    let stdoutPath: String
    let stderrPath: String

    init(
        _ arguments: [String], stdoutPath: String, stderrPath: String, executable: String,
        currentDirectory: String? = nil
    ) throws {
        self.stdoutPath = stdoutPath
        self.stderrPath = stderrPath
        _ = FileManager.default.createFile(atPath: stdoutPath, contents: nil)
        _ = FileManager.default.createFile(atPath: stderrPath, contents: nil)
        process = Foundation.Process()
        process.executableURL = URL(fileURLWithPath: executable)
        process.arguments = arguments
        if let currentDirectory { process.currentDirectoryURL = URL(fileURLWithPath: currentDirectory) }
        process.standardInput = FileHandle(forReadingAtPath: "/dev/null")
        // Files, not pipes: a container started by create or run -d inherits these, and a pipe
        // would keep the reader waiting until the container exits.
        process.standardOutput = FileHandle(forWritingAtPath: stdoutPath)
        process.standardError = FileHandle(forWritingAtPath: stderrPath)
        try process.run()
    }

    var pid: Int32 { process.processIdentifier }

    var stdout: String { readFile(stdoutPath) ?? "" }

    /// Waits for the command to exit, killing it after `timeout` seconds. Bounded also then: a
    /// process that SIGKILL does not end within 10 s (stuck in the kernel) is reported as
    /// such, not waited for.
    func wait(timeout: Double = 20) -> Outcome {
        let exited = poll(timeout: timeout, interval: 0.002) { !process.isRunning }
        if !exited {
            kill(process.processIdentifier, SIGKILL)
            if !poll(timeout: 10, interval: 0.01, { !process.isRunning }) {
                let state = readFile("/proc/\(pid)/stat") ?? "gone"
                return Outcome(status: -1, signaled: false, stdout: readFile(stdoutPath) ?? "",
                               stderr: (readFile(stderrPath) ?? "") + "\n(pid \(pid) did not exit 10 s after SIGKILL: \(state))",
                               timedOut: true)
            }
        }
        process.waitUntilExit()
        return Outcome(
            status: process.terminationStatus,
            signaled: process.terminationReason == .uncaughtSignal,
            stdout: readFile(stdoutPath) ?? "",
            stderr: readFile(stderrPath) ?? "",
            timedOut: !exited)
    }
}

/// Runs `executable` to completion.
func execute(
    _ executable: String, _ arguments: [String], currentDirectory: String? = nil, timeout: Double = 20
) -> Outcome {
    let directory = NSTemporaryDirectory() + "skiff-it-out-\(UUID().uuidString)"
    try? FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
    defer { try? FileManager.default.removeItem(atPath: directory) }
    do {
        let spawned = try Spawned(
            arguments, stdoutPath: directory + "/stdout", stderrPath: directory + "/stderr",
            executable: executable, currentDirectory: currentDirectory)
        return spawned.wait(timeout: timeout)
    } catch {
        return Outcome(status: -1, signaled: false, stdout: "", stderr: "spawn failed: \(error)", timedOut: false)
    }
}

/// Runs a host tool (`ip`, `cp`) through PATH.
@discardableResult
func host(_ arguments: String...) -> Outcome {
    execute("/usr/bin/env", arguments)
}

/// Polls `condition` until it holds or `timeout` seconds pass; returns whether it held.
@discardableResult
func poll(timeout: Double = 5, interval: Double = 0.005, _ condition: () -> Bool) -> Bool {
    let deadline = Date().addingTimeInterval(timeout)
    while true {
        if condition() { return true }
        if Date() > deadline { return false }
        usleep(useconds_t(interval * 1_000_000))
    }
}

/// Whether `pid` is a live process: a zombie waiting for its (possibly slow) reaper counts as
/// gone.
func isAlive(_ pid: Int) -> Bool {
    guard let stat = readFile("/proc/\(pid)/stat"), let close = stat.lastIndex(of: ")") else { return false }
    let state = stat[stat.index(close, offsetBy: 2)...].prefix(1)
    return state != "Z" && state != "X"
}

/// A whole file read with read(2), which works for procfs files whose size reads as 0.
func readFile(_ path: String) -> String? {
    let fd = open(path, O_RDONLY | O_CLOEXEC)
    guard fd >= 0 else { return nil }
    defer { close(fd) }
    var data = [UInt8]()
    var buffer = [UInt8](repeating: 0, count: 65536)
    while true {
        let n = buffer.withUnsafeMutableBytes { read(fd, $0.baseAddress, $0.count) }
        if n < 0 {
            if errno == EINTR { continue }
            return nil
        }
        if n == 0 { break }
        data.append(contentsOf: buffer[0..<n])
    }
    return String(decoding: data, as: UTF8.self)
}

/// One line of /proc/<pid>/mountinfo.
struct MountInfo {
    var mountPoint: String
    var mountOptions: [String]
    var optionalFields: [String]
    var fsType: String
    var source: String
    var superOptions: [String]

    /// Parses mountinfo text, unescaping the octal escapes (`\040` for a space) the kernel writes.
    static func parse(_ text: String) -> [MountInfo] {
        text.split(separator: "\n").compactMap { line in
            let fields = line.split(separator: " ").map(String.init)
            guard let dash = fields.firstIndex(of: "-"), dash >= 6, fields.count >= dash + 4 else { return nil }
            return MountInfo(
                mountPoint: unescape(fields[4]),
                mountOptions: fields[5].split(separator: ",").map(String.init),
                optionalFields: Array(fields[6..<dash]),
                fsType: fields[dash + 1],
                source: unescape(fields[dash + 2]),
                superOptions: fields[dash + 3].split(separator: ",").map(String.init))
        }
    }

    static func host() -> [MountInfo] { parse(readFile("/proc/self/mountinfo") ?? "") }

    private static func unescape(_ field: String) -> String {
        var result = ""
        var chars = Array(field)[...]
        while let c = chars.popFirst() {
            if c == "\\", chars.count >= 3, let code = UInt8(String(chars.prefix(3)), radix: 8) {
                result.append(Character(UnicodeScalar(code)))
                chars = chars.dropFirst(3)
            } else {
                result.append(c)
            }
        }
        return result
    }
}

/// A JSON tree edited by path, for configs a `Spec` cannot express (wrong types, missing
/// required fields). Path elements are object keys or array indices.
func editJSON(_ value: Any, _ path: ArraySlice<String>, _ newValue: Any?) -> Any {
    guard let key = path.first else { return newValue as Any }
    let rest = path.dropFirst()
    if var array = value as? [Any], let index = Int(key) {
        if rest.isEmpty, newValue == nil {
            array.remove(at: index)
        } else {
            array[index] = editJSON(array[index], rest, newValue)
        }
        return array
    }
    var object = value as? [String: Any] ?? [:]
    if rest.isEmpty {
        object[key] = newValue
    } else {
        object[key] = editJSON(object[key] as Any, rest, newValue)
    }
    return object
}

/// A private world for one test: a temp dir holding bundles, a `--root` for skiff and scratch
/// files. `cleanup()` force-deletes every container the test named and removes the dir.
/// What runs skiff for a test: the root sandbox, or the rootless user's (RootlessTests).
protocol SkiffRunner {
    func skiffCommand(_ arguments: [String]) -> Outcome
}

extension SkiffRunner {
    /// `skiff state` decoded, or nil when it fails.
    func state(_ id: String) -> [String: Any]? {
        let outcome = skiffCommand(["state", id])
        guard outcome.succeeded else { return nil }
        return (try? JSONSerialization.jsonObject(with: Data(outcome.stdout.utf8))) as? [String: Any]
    }

    func status(_ id: String) -> String? { state(id)?["status"] as? String }

    /// Waits until the container reports `status`; returns whether it did.
    @discardableResult
    func waitFor(_ id: String, status: String, timeout: Double = 5) -> Bool {
        poll(timeout: timeout) { self.status(id) == status }
    }
}

extension Sandbox: SkiffRunner {
    func skiffCommand(_ arguments: [String]) -> Outcome { skiff(arguments) }

    /// A copy of the busybox rootfs the test may plant things in, and a host directory with
    /// a sentinel file that must stay alone.
    func hostileRootfs() throws -> (rootfs: String, hostDirectory: String) {
        let rootfs = path("rootfs")
        let copied = host("cp", "-a", Paths.rootfs, rootfs)
        try #require(copied.succeeded, "\(copied)")
        let target = path("hostdir")
        try FileManager.default.createDirectory(atPath: target, withIntermediateDirectories: true)
        try "host\n".write(toFile: target + "/sentinel", atomically: false, encoding: .utf8)
        return (rootfs, target)
    }
}

final class Sandbox {
    let directory: String
    let root: String
    private(set) var ids: [String] = []
    private var netns: [String] = []
    private var hostMounts: [String] = []

    init() throws {
        try #require(
            FileManager.default.isExecutableFile(atPath: Paths.binary),
            "no skiff binary at \(Paths.binary): run `make build` or set SKIFF_BINARY")
        try #require(
            FileManager.default.fileExists(atPath: Paths.rootfs + "/bin/busybox"),
            "no busybox rootfs at \(Paths.rootfs): run `make bundle` or set SKIFF_BUNDLE_ROOTFS")
        let template = NSTemporaryDirectory() + "skiff-it-XXXXXX"
        var bytes = Array(template.utf8CString)
        let made = bytes.withUnsafeMutableBufferPointer { buffer -> String? in
            mkdtemp(buffer.baseAddress!).map { String(cString: $0) }
        }
        directory = try #require(made, "mkdtemp: \(String(cString: strerror(errno)))")
        root = directory + "/root"
        try FileManager.default.createDirectory(atPath: root, withIntermediateDirectories: true)
    }

    /// Runs `body` with a fresh sandbox and always cleans up, also when an expectation throws.
    static func with<T>(_ body: (Sandbox) throws -> T) throws -> T {
        let sandbox = try Sandbox()
        defer { sandbox.cleanup() }
        return try body(sandbox)
    }

    /// A container id unique to this run, remembered for cleanup.
    func id(_ name: String) -> String {
        let id = "it-\(name)-\(UUID().uuidString.prefix(8).lowercased())"
        ids.append(id)
        return id
    }

    /// A named network namespace (`ip netns add`), removed on cleanup; returns its path.
    func networkNamespace() throws -> String {
        let name = "skiff-test-\(UUID().uuidString.prefix(8).lowercased())"
        let added = host("ip", "netns", "add", name)
        try #require(added.succeeded, "ip netns add: \(added)")
        netns.append(name)
        return "/run/netns/" + name
    }

    /// Runs `mount arguments… target` on the host; the mount is undone by `unmountHost()` or
    /// on cleanup.
    func mountOnHost(_ arguments: [String], target: String) throws {
        let outcome = execute("/usr/bin/env", ["mount"] + arguments + [target])
        try #require(outcome.succeeded, "mount \(arguments) \(target): \(outcome)")
        if !hostMounts.contains(target) { hostMounts.append(target) }
    }

    /// Undoes the test's own host mounts (so `leftovers` sees only what skiff left).
    func unmountHost() {
        for target in hostMounts.reversed() { host("umount", "-R", target) }
        hostMounts = []
    }

    func cleanup() {
        for id in ids { _ = skiff("delete", "--force", id) }
        if let runcBinary = Sandbox.runcBinary, FileManager.default.fileExists(atPath: runcRoot) {
            for id in execute(runcBinary, ["--root", runcRoot, "list", "-q"]).lines {
                _ = execute(runcBinary, ["--root", runcRoot, "delete", "--force", id])
            }
        }
        unmountHost()
        for name in netns { host("ip", "netns", "delete", name) }
        // --one-file-system: if skiff leaked a mount into the host, do not delete through it.
        host("rm", "-rf", "--one-file-system", directory)
    }

    /// A path in the sandbox for a scratch file or dir.
    func path(_ name: String) -> String { directory + "/" + name }

    /// The committed busybox config with the rootfs made absolute and the process's stdio-only
    /// defaults kept: read-only root, tmpfs /tmp, pid/net/ipc/uts/mount/cgroup namespaces.
    static func baseSpec() throws -> Spec {
        let data = try Data(contentsOf: URL(fileURLWithPath: Paths.baseConfig))
        var spec = try Spec.decode(data)
        spec.root = Root(path: Paths.rootfs, readonly: true)
        return spec
    }

    /// Writes a bundle whose config is the base spec running `args`, changed by `configure`.
    func bundle(
        _ name: String = "bundle", args: [String], configure: (inout Spec) throws -> Void = { _ in }
    ) throws -> String {
        var spec = try Sandbox.baseSpec()
        spec.process?.args = args
        try configure(&spec)
        return try bundle(name, config: try spec.jsonData())
    }

    /// Writes a bundle whose config.json is the base spec as a JSON tree, edited by `edits`
    /// (path → new value; nil removes the key).
    func bundle(_ name: String = "bundle", args: [String], edits: [([String], Any?)]) throws -> String {
        var spec = try Sandbox.baseSpec()
        spec.process?.args = args
        var tree = try JSONSerialization.jsonObject(with: try spec.jsonData())
        for (path, value) in edits { tree = editJSON(tree, path[...], value) }
        return try bundle(name, config: try JSONSerialization.data(withJSONObject: tree))
    }

    /// Writes a bundle with exactly this config.json.
    func bundle(_ name: String = "bundle", config: Data) throws -> String {
        let path = directory + "/" + name
        try FileManager.default.createDirectory(atPath: path, withIntermediateDirectories: true)
        try config.write(to: URL(fileURLWithPath: path + "/config.json"))
        return path
    }

    /// Runs `skiff --root <root> arguments…` to completion.
    func skiff(_ arguments: String..., timeout: Double = 20) -> Outcome {
        skiff(arguments, timeout: timeout)
    }

    func skiff(_ arguments: [String], in currentDirectory: String? = nil, timeout: Double = 20) -> Outcome {
        execute(Paths.binary, ["--root", root] + arguments, currentDirectory: currentDirectory, timeout: timeout)
    }

    /// runc, the reference runtime (`make test` installs Debian's), or nil where it is absent.
    static let runcBinary: String? = ["/usr/sbin/runc", "/usr/bin/runc"].first { FileManager.default.isExecutableFile(atPath: $0) }

    var runcRoot: String { directory + "/runc-root" }

    /// Runs `runc --root <sandbox's runc root> arguments…` to completion, nil without runc: the
    /// same bundle under the reference, for tests that compare behaviour.
    func runc(_ arguments: [String], timeout: Double = 20) -> Outcome? {
        guard let binary = Sandbox.runcBinary else { return nil }
        return execute(binary, ["--root", runcRoot] + arguments, timeout: timeout)
    }

    /// Runs skiff from a host shell that first opens `file` as fds 3 and 4, the way a caller
    /// hands over sockets or files for --preserve-fds.
    func skiffWithExtraFDs(_ file: String, _ arguments: [String]) -> Outcome {
        execute("/bin/sh", ["-c", #"f=$1; shift; exec 3<"$f" 4<"$f"; exec "$@""#, "sh", file, Paths.binary, "--root", root]
            + arguments)
    }

    /// Starts `skiff --root <root> arguments…` in the background, its output in sandbox files.
    func spawn(_ arguments: [String]) throws -> Spawned {
        let name = UUID().uuidString
        return try Spawned(
            ["--root", root] + arguments, stdoutPath: path("\(name).out"), stderrPath: path("\(name).err"),
            executable: Paths.binary)
    }

    /// Everything container `id` may have left on the host; empty when it left nothing.
    /// `cgroup` is the container's cgroup when the config sets linux.cgroupsPath.
    func leftovers(id: String, cgroup: String? = nil, bundles: [String] = []) -> [String] {
        var found: [String] = []
        if !id.isEmpty, FileManager.default.fileExists(atPath: root + "/" + id) {
            found.append("state dir \(root)/\(id)")
        }
        let mounts = MountInfo.host()
        if !id.isEmpty {
            for mount in mounts where mount.fsType == "cgroup" || mount.fsType == "cgroup2" {
                let path = mount.mountPoint + (cgroup ?? "/skiff/" + id)
                if FileManager.default.fileExists(atPath: path) { found.append("cgroup dir \(path)") }
            }
            let cgroup = cgroup ?? "/skiff/" + id
            for entry in (try? FileManager.default.contentsOfDirectory(atPath: "/proc")) ?? [] {
                guard Int32(entry) != nil, let text = readFile("/proc/\(entry)/cgroup") else { continue }
                for line in text.split(separator: "\n") {
                    let path = line.split(separator: ":", maxSplits: 2, omittingEmptySubsequences: false).last ?? ""
                    if path == cgroup || path.hasPrefix(cgroup + "/") {
                        found.append("process \(entry) in cgroup \(line)")
                        break
                    }
                }
            }
        }
        for mount in mounts {
            for prefix in [directory, Paths.rootfs] + bundles
            where mount.mountPoint == prefix || mount.mountPoint.hasPrefix(prefix + "/") {
                found.append("host mount \(mount.mountPoint) (\(mount.fsType))")
            }
        }
        return found
    }

    /// The root dir's entries: nothing a failed create may keep.
    var rootEntries: [String] {
        ((try? FileManager.default.contentsOfDirectory(atPath: root)) ?? []).sorted()
    }
}

/// A shell command for a container: `sh -c script`.
func sh(_ script: String) -> [String] { ["sh", "-c", script] }

extension Spec {
    /// Makes the container join the namespace at `path` instead of creating a new one of `type`.
    mutating func join(_ type: LinuxNamespaceType, at path: String) {
        let namespaces = linux?.namespaces ?? []
        linux?.namespaces = namespaces.map { $0.type == type ? LinuxNamespace(type: type, path: path) : $0 }
    }
}
